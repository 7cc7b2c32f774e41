//! Consoles over WebSockets, with a real WebSocket client (tungstenite over the agent's TLS):
//! a zone's serial console logs in and runs a command, watchers see the same output and
//! cannot type, a halt closes the session saying why; upgrades without a valid key or ticket
//! get no 101; a task's output streams live; the host terminal is admin-only and reaches only
//! the emulated host.
//!
//! No timing is asserted: each wait is for an event (a frame, a close), with a generous read
//! timeout as the failure bound.

use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::{Message, WebSocket};

use crate::support::guest::create_zone;
use crate::support::rawtls::{self, Tls};
use crate::support::TestAgent;

type Ws = WebSocket<Tls>;

/// A key of `role`: its token.
fn key(agent: &TestAgent, name: &str, role: &str) -> (String, String) {
    let r = agent.post("/api-keys", json!({"name": name, "role": role}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["api_key"].as_str().unwrap().to_owned(),
    )
}

/// Opens a WebSocket at `path` (with its query), with `key` as a Bearer header if given.
/// `Err(status)` when the agent answered without upgrading.
fn open(agent: &TestAgent, path: &str, key: Option<&str>) -> Result<Ws, u16> {
    // The read timeout is only a failure bound: every read waits for a frame that must come.
    let tls = rawtls::connect(agent.port, Duration::from_secs(60)).unwrap();
    let mut req = format!("wss://127.0.0.1:{}{path}", agent.port)
        .into_client_request()
        .unwrap();
    if let Some(k) = key {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {k}").parse().unwrap());
    }
    match tungstenite::client::client(req, tls) {
        Ok((ws, resp)) => {
            assert_eq!(resp.status().as_u16(), 101);
            Ok(ws)
        }
        Err(HandshakeError::Failure(tungstenite::Error::Http(resp))) => Err(resp.status().as_u16()),
        Err(e) => panic!("WebSocket {path}: {e}"),
    }
}

/// What a console socket received: its output, its text notices, and how it closed.
#[derive(Default)]
struct Screen {
    output: String,
    notices: Vec<Value>,
}

impl Screen {
    /// Reads frames until the output contains `needle` (after `from`); panics naming what it
    /// saw if the socket closes first.
    fn until(&mut self, ws: &mut Ws, needle: &str) {
        let from = self.output.len();
        while !self.output[from..].contains(needle) {
            match ws.read() {
                Ok(Message::Binary(b)) => self.output.push_str(&String::from_utf8_lossy(&b)),
                Ok(Message::Text(t)) => self.notices.push(serde_json::from_str(&t).unwrap()),
                Ok(Message::Close(c)) => {
                    panic!(
                        "closed ({c:?}) waiting for {needle:?}; saw {:?}",
                        self.output
                    )
                }
                Ok(_) => {}
                Err(e) => panic!("{e} waiting for {needle:?}; saw {:?}", self.output),
            }
        }
    }

    /// Reads frames until a text notice comes.
    fn notice(&mut self, ws: &mut Ws) -> Value {
        let seen = self.notices.len();
        while self.notices.len() == seen {
            match ws.read() {
                Ok(Message::Binary(b)) => self.output.push_str(&String::from_utf8_lossy(&b)),
                Ok(Message::Text(t)) => self.notices.push(serde_json::from_str(&t).unwrap()),
                other => panic!("waiting for a notice: {other:?}"),
            }
        }
        self.notices.last().unwrap().clone()
    }

    /// Reads frames until the close frame; returns its code and reason.
    fn closed(&mut self, ws: &mut Ws) -> (u16, String) {
        loop {
            match ws.read() {
                Ok(Message::Binary(b)) => self.output.push_str(&String::from_utf8_lossy(&b)),
                Ok(Message::Text(t)) => self.notices.push(serde_json::from_str(&t).unwrap()),
                Ok(Message::Close(Some(c))) => return (c.code.into(), c.reason.to_string()),
                Ok(Message::Close(None)) => return (1005, String::new()),
                Ok(_) => {}
                Err(e) => panic!("{e} waiting for the close; saw {:?}", self.output),
            }
        }
    }
}

fn type_in(ws: &mut Ws, text: &str) {
    ws.send(Message::Binary(text.as_bytes().to_vec().into()))
        .unwrap();
}

fn running_zone(agent: &TestAgent, name: &str, password: &str) {
    create_zone(agent, name, password);
    let r = agent.post(&format!("/zones/{name}/start"), json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
}

fn ticket(agent: &TestAgent, key: &str, path: &str) -> String {
    let r = agent.request(
        "POST",
        "/ws-tickets",
        Some(key),
        Some(&json!({"path": path})),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["ticket"].as_str().unwrap().to_owned()
}

fn console_records(agent: &TestAgent) -> Vec<Value> {
    let r = agent.get("/tasks?operation=console_session&limit=100");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let tasks = r.body["tasks"].as_array().cloned().unwrap_or_default();
    tasks
        .into_iter()
        .map(|t| {
            let m = &t["metadata"];
            let m: Value = match m {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            json!({"created_by": t["created_by"], "event": m["event"], "writer": m["writer"],
                   "reason": m["reason"], "session_id": m["session_id"]})
        })
        .collect()
}

#[test]
fn a_serial_console_logs_in_watchers_see_it_and_a_halt_closes_it() {
    let agent = TestAgent::start();
    running_zone(&agent, "con1", "s3cret-pw");
    let (_, operator) = key(&agent, "ops", "operator");
    let (_, viewer) = key(&agent, "watcher", "viewer");

    // A viewer cannot open a console; an operator can, and a second start returns it.
    let path = "/zones/con1/zlogin/start";
    assert_eq!(agent.request("POST", path, Some(&viewer), None).status, 403);
    let r = agent.request("POST", path, Some(&operator), None);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["zone_name"], "con1");
    assert_eq!(r.body["status"], "active");
    assert!(r.body["created_at"].is_string(), "{:?}", r.body);
    let url = r.body["websocket_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/zlogin/{id}"));
    let again = agent.request("POST", path, Some(&operator), None);
    assert_eq!(again.body["id"].as_str(), Some(id.as_str()));
    let listed = agent.get("/zlogin/sessions");
    assert_eq!(
        listed.body[0]["id"].as_str(),
        Some(id.as_str()),
        "{:?}",
        listed.body
    );

    // The writer by its key header; one watcher by its header, one by a ticket.
    let mut writer = open(&agent, &url, Some(&operator)).unwrap();
    let mut w1 = open(&agent, &url, Some(&viewer)).unwrap();
    let t = ticket(&agent, &viewer, &url);
    let mut w2 = open(&agent, &format!("{url}?ticket={t}"), None).unwrap();
    let (mut sw, mut s1, mut s2) = (Screen::default(), Screen::default(), Screen::default());

    sw.until(&mut writer, "con1 login: ");
    type_in(&mut writer, "root\r");
    sw.until(&mut writer, "Password: ");
    type_in(&mut writer, "s3cret-pw\r");
    sw.until(&mut writer, "root@con1:~# ");
    type_in(&mut writer, "echo console-works\r");
    sw.until(&mut writer, "\r\nconsole-works\r\n");
    // Both watchers see the same console, the password never (it is not echoed).
    for (s, ws) in [(&mut s1, &mut w1), (&mut s2, &mut w2)] {
        s.until(ws, "\r\nconsole-works\r\n");
        assert!(s.output.contains("con1 login: root"), "{:?}", s.output);
        assert!(!s.output.contains("s3cret-pw"), "{:?}", s.output);
    }

    // A watcher's keys are refused with a notice and never reach the console: the writer's
    // next command's output follows its own echo with nothing typed by the watcher between.
    type_in(&mut w1, "echo hacked\r");
    let n = s1.notice(&mut w1);
    assert_eq!(n["type"], "error", "{n}");
    assert!(n["message"].as_str().unwrap().contains("operator"), "{n}");
    type_in(&mut writer, "echo after-watcher\r");
    sw.until(&mut writer, "\r\nafter-watcher\r\n");
    assert!(!sw.output.contains("hacked"), "{:?}", sw.output);

    // A halt ends the session for everyone with a close frame saying why.
    let r = agent.post("/zones/con1/halt", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap());
    for (s, ws) in [
        (&mut sw, &mut writer),
        (&mut s1, &mut w1),
        (&mut s2, &mut w2),
    ] {
        let (code, reason) = s.closed(ws);
        assert_eq!(code, 1000);
        assert_eq!(reason, "the zone halted");
    }
    let s = agent.get(&format!("/zlogin/sessions/{id}"));
    assert_eq!(s.body["status"], "closed", "{:?}", s.body);
    assert_eq!(s.body["close_reason"], "the zone halted");
    // An ended session cannot be joined.
    assert_eq!(open(&agent, &url, Some(&operator)).err(), Some(409));

    // The task log says who opened it, who attached (and whether they could type), and why
    // it ended.
    let records = agent.eventually(
        "the console's records",
        || console_records(&agent),
        |r| r.iter().any(|x| x["event"] == "closed"),
    );
    let of = |event: &str, by: &str| {
        records
            .iter()
            .filter(|x| {
                x["event"] == event && x["created_by"] == by && x["session_id"] == id.as_str()
            })
            .count()
    };
    assert_eq!(of("opened", "ops"), 1, "{records:?}");
    assert_eq!(of("attached", "ops"), 1, "{records:?}");
    assert_eq!(of("attached", "watcher"), 2, "{records:?}");
    assert!(
        records
            .iter()
            .any(|x| x["event"] == "closed" && x["reason"] == "the zone halted"),
        "{records:?}"
    );
    assert!(records
        .iter()
        .any(|x| x["event"] == "attached" && x["created_by"] == "watcher" && x["writer"] == false));
}

#[test]
fn a_console_upgrade_needs_a_valid_key_or_an_unused_ticket() {
    let agent = TestAgent::start();
    running_zone(&agent, "con2", "pw-two");
    let r = agent.post("/zones/con2/zlogin/start", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let url = r.body["websocket_url"].as_str().unwrap().to_owned();

    // No key, a bad key: 401, no 101.
    assert_eq!(open(&agent, &url, None).err(), Some(401));
    assert_eq!(open(&agent, &url, Some("hw_not-a-key")).err(), Some(401));
    // A revoked key, and a ticket issued before its key was revoked.
    let (id, revoked) = key(&agent, "gone", "operator");
    let t = ticket(&agent, &revoked, &url);
    assert_eq!(agent.delete(&format!("/api-keys/{id}")).status, 200);
    assert_eq!(open(&agent, &url, Some(&revoked)).err(), Some(401));
    assert_eq!(
        open(&agent, &format!("{url}?ticket={t}"), None).err(),
        Some(401)
    );
    // A ticket opens its own path once.
    let (_, viewer) = key(&agent, "v", "viewer");
    let t = ticket(&agent, &viewer, &url);
    let ws = open(&agent, &format!("{url}?ticket={t}"), None).unwrap();
    drop(ws);
    assert_eq!(
        open(&agent, &format!("{url}?ticket={t}"), None).err(),
        Some(401)
    );
    // A ticket for another path is refused (and used up).
    let t = ticket(&agent, &viewer, "/zlogin/elsewhere");
    assert_eq!(
        open(&agent, &format!("{url}?ticket={t}"), None).err(),
        Some(401)
    );
    assert_eq!(
        open(&agent, &format!("/zlogin/elsewhere?ticket={t}"), None).err(),
        Some(401)
    );
    // Not a ticket's business: the REST API still wants a key.
    let t = ticket(&agent, &viewer, "/zlogin/sessions");
    assert_eq!(
        agent
            .request("GET", &format!("/zlogin/sessions?ticket={t}"), None, None)
            .status,
        401
    );
    // An unknown session: 404 before any upgrade.
    assert_eq!(
        open(
            &agent,
            "/zlogin/00000000-0000-0000-0000-000000000000",
            Some(&agent.key)
        )
        .err(),
        Some(404)
    );
    // Stopping is an operator's; the close frame names who stopped it.
    let (_, operator) = key(&agent, "stopper", "operator");
    let mut ws = open(&agent, &url, Some(&viewer)).unwrap();
    let id = url.rsplit('/').next().unwrap();
    let stop = format!("/zlogin/sessions/{id}/stop");
    assert_eq!(
        agent.request("DELETE", &stop, Some(&viewer), None).status,
        403
    );
    assert_eq!(
        agent.request("DELETE", &stop, Some(&operator), None).status,
        200
    );
    let (code, reason) = Screen::default().closed(&mut ws);
    assert_eq!((code, reason.as_str()), (1000, "stopped by stopper"));
}

#[test]
fn a_task_streams_its_output_live_then_its_end() {
    let agent = TestAgent::start();
    let id = agent.noop(json!({"duration_ms": 600_000}));
    let (_, viewer) = key(&agent, "reader", "viewer");
    let path = format!("/tasks/{id}/stream");
    assert_eq!(open(&agent, &path, None).err(), Some(401));
    let t = ticket(&agent, &viewer, &path);
    let mut ws = open(&agent, &format!("{path}?ticket={t}"), None).unwrap();
    let next = |ws: &mut Ws| -> Value {
        loop {
            match ws.read().unwrap() {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Close(c) => panic!("closed early: {c:?}"),
                _ => {}
            }
        }
    };
    // The noop notes its progress while it runs: that line arrives while the task runs.
    let first = next(&mut ws);
    assert_eq!(first["type"], "output", "{first}");
    assert_eq!(first["task_id"], id.as_str());
    assert_eq!(first["stream"], "agent");
    assert_eq!(first["data"], "[0%] waiting");
    assert_eq!(agent.get(&format!("/tasks/{id}")).body["status"], "running");
    // Cancelling it ends the stream with its end status.
    assert_eq!(agent.delete(&format!("/tasks/{id}")).status, 202);
    let end = loop {
        let f = next(&mut ws);
        if f["type"] == "status" {
            break f;
        }
        assert_eq!(f["type"], "output", "{f}");
    };
    assert_eq!(end["status"], "cancelled", "{end}");
    match ws.read().unwrap() {
        Message::Close(Some(c)) => assert_eq!(c.reason.as_str(), "task cancelled"),
        other => panic!("expected the close frame, got {other:?}"),
    }

    // A finished task replays its log, then its end.
    let done = agent.noop(json!({"duration_ms": 1}));
    agent.wait(&done);
    let mut ws = open(&agent, &format!("/tasks/{done}/stream"), Some(&viewer)).unwrap();
    let mut frames = Vec::new();
    loop {
        let f = next(&mut ws);
        frames.push(f.clone());
        if f["type"] == "status" {
            break;
        }
    }
    assert_eq!(frames[0]["data"], "[0%] waiting", "{frames:?}");
    assert_eq!(frames.last().unwrap()["status"], "completed", "{frames:?}");
}

#[test]
fn the_host_terminal_is_for_admins_when_enabled_and_reaches_only_the_emulated_host() {
    let off = TestAgent::start();
    let r = off.post("/terminal/start", json!({"terminal_cookie": "c1"}));
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(r.body["code"], "terminal-disabled");
    drop(off);

    let agent = TestAgent::start_with("terminal:\n  enabled: true\n");
    running_zone(&agent, "con3", "pw-three");
    let (_, operator) = key(&agent, "op", "operator");
    let body = json!({"terminal_cookie": "browser-1"});
    assert_eq!(
        agent
            .request("POST", "/terminal/start", Some(&operator), Some(&body))
            .status,
        403
    );

    // The host shell: the emulator's profile shell, which runs the host's tools through
    // pfexec and nothing of the machine the tests run on.
    let r = agent.post("/terminal/start", body.clone());
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["reused"], false);
    assert_eq!(r.body["status"], "active");
    let url = r.body["websocket_url"].as_str().unwrap().to_owned();
    assert_eq!(r.body["data"]["websocket_url"], url.as_str());
    let again = agent.post("/terminal/start", body);
    assert_eq!(again.body["reused"], true);
    assert_eq!(again.body["id"], r.body["id"]);
    assert_eq!(open(&agent, &url, Some(&operator)).err(), Some(403));
    let mut ws = open(&agent, &url, Some(&agent.key)).unwrap();
    let mut s = Screen::default();
    s.until(&mut ws, "pfsh$ ");
    type_in(&mut ws, "zoneadm list\r");
    s.until(&mut ws, "con3\r\n");
    type_in(&mut ws, "ls /\r");
    s.until(&mut ws, "pfsh: ls: not found");
    type_in(&mut ws, "exit\r");
    let (code, reason) = s.closed(&mut ws);
    assert_eq!((code, reason.as_str()), (1000, "the shell exited"));

    // A zone's shell.
    let r = agent.post(
        "/terminal/start",
        json!({"terminal_cookie": "browser-2", "zone_name": "con3"}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut ws = open(
        &agent,
        r.body["websocket_url"].as_str().unwrap(),
        Some(&agent.key),
    )
    .unwrap();
    let mut s = Screen::default();
    s.until(&mut ws, "root@con3:~# ");
    type_in(&mut ws, "echo in-the-zone\r");
    s.until(&mut ws, "\r\nin-the-zone\r\n");
    let stop = format!("/terminal/sessions/{}/stop", r.body["id"].as_str().unwrap());
    assert_eq!(agent.delete(&stop).status, 200);
    let (_, reason) = s.closed(&mut ws);
    assert!(reason.starts_with("stopped by "), "{reason}");
}

#[test]
fn a_quiet_console_outlives_the_connection_idle_deadline_but_not_its_own() {
    // The HTTP layer closes a connection with no request in flight after
    // server.idle_timeout_seconds; a WebSocket holds its connection busy, so only the
    // console's own idle timeout ends it.
    let agent = TestAgent::start_configured("  idle_timeout_seconds: 1\n", "");
    running_zone(&agent, "con4", "pw-four");
    let r = agent.post("/zones/con4/zlogin/start", json!({}));
    let url = r.body["websocket_url"].as_str().unwrap().to_owned();
    let mut ws = open(&agent, &url, Some(&agent.key)).unwrap();
    let mut s = Screen::default();
    s.until(&mut ws, "con4 login: ");
    // Not a wait for an event: a quiet spell longer than the connection's idle deadline.
    std::thread::sleep(Duration::from_millis(2500));
    type_in(&mut ws, "\r");
    s.until(&mut ws, "\r\ncon4 login: ");
    drop(ws);
    drop(agent);

    let agent = TestAgent::start_with("consoles:\n  idle_timeout_secs: 1\n");
    running_zone(&agent, "con5", "pw-five");
    let r = agent.post("/zones/con5/zlogin/start", json!({}));
    let url = r.body["websocket_url"].as_str().unwrap().to_owned();
    let mut ws = open(&agent, &url, Some(&agent.key)).unwrap();
    let (code, reason) = Screen::default().closed(&mut ws);
    assert_eq!(code, 1000);
    assert_eq!(reason, "idle for 1 seconds (consoles.idle_timeout_secs)");
}
