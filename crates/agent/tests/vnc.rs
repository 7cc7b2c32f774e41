//! A zone's screen through the agent: `vnc/info`, `start`/`stop`, the `websockify` WebSocket
//! (RFB bridged to the emulated bhyve VNC server through the privileged helper) and the PNG
//! `screenshot` from the agent's own RFB client.

use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};
use zoneweaver_agent::zones::vnc::png;

use crate::support::rawtls::{self, Tls};
use crate::support::{host, TestAgent};

const W: usize = 640;
const H: usize = 480;
/// The emulated screen's title bar (rows 0..48) shows the zone's name; the typed keys line
/// starts at row 220 (crates/illumos-sim/src/vnc/screen.rs).
const TITLE_ROWS: usize = 48;
const KEYS_ROWS: std::ops::Range<usize> = 220..262;

/// A running bhyve zone made with the host's own tools; `vnc` None leaves the attribute out.
fn running_zone(agent: &TestAgent, name: &str, vnc: Option<&str>) {
    let mut cfg = format!(
        "create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/{name}"
    );
    if let Some(v) = vnc {
        cfg.push_str(&format!(
            "; add attr; set name=vnc; set type=string; set value={v}; end"
        ));
    }
    host(agent, "zonecfg", &["-z", name, &cfg]);
    host(agent, "zoneadm", &["-z", name, "install"]);
    host(agent, "zoneadm", &["-z", name, "boot"]);
}

/// `vnc/info` once the agent lists the zone (its listing may be up to 2 s old).
fn info(agent: &TestAgent, zone: &str) -> Value {
    agent
        .eventually(
            "vnc/info answers",
            || {
                let r = agent.get(&format!("/zones/{zone}/vnc/info?_t=1"));
                (r.status, r.body)
            },
            |(status, _)| *status == 200,
        )
        .1
}

type Ws = WebSocket<Tls>;

/// Opens the console WebSocket with `key`: the socket, or the refusal's status and body.
fn open(agent: &TestAgent, zone: &str, key: Option<&str>) -> Result<Ws, (u16, Value)> {
    open_path(agent, &format!("/zones/{zone}/vnc/websockify"), key)
}

/// Opens the WebSocket at `path` (with its query) with `key`, or without one.
fn open_path(agent: &TestAgent, path: &str, key: Option<&str>) -> Result<Ws, (u16, Value)> {
    let tls = rawtls::connect(agent.port, Duration::from_secs(30)).unwrap();
    let mut req = format!("wss://localhost:{}{path}", agent.port)
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("Sec-WebSocket-Protocol", "binary".parse().unwrap());
    if let Some(k) = key {
        h.insert("Authorization", format!("Bearer {k}").parse().unwrap());
    }
    match tungstenite::client(req, tls) {
        Ok((ws, resp)) => {
            assert_eq!(resp.status(), 101);
            assert_eq!(resp.headers()["sec-websocket-protocol"], "binary");
            Ok(ws)
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            let body = resp.body().clone().unwrap_or_default();
            Err((
                resp.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            ))
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

/// The refusal of a console that must not open (no 101).
fn refused(agent: &TestAgent, zone: &str, key: Option<&str>, why: &str) -> (u16, Value) {
    match open(agent, zone, key) {
        Ok(_) => panic!("a 101 where none was due: {why}"),
        Err(refusal) => refusal,
    }
}

/// RFB over the WebSocket: binary messages are a byte stream.
struct Rfb {
    ws: Ws,
    buf: Vec<u8>,
}

impl Rfb {
    fn read(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.ws.read().unwrap() {
                Message::Binary(b) => self.buf.extend_from_slice(&b),
                Message::Close(c) => panic!("closed while reading RFB: {c:?}"),
                _ => {}
            }
        }
        self.buf.drain(..n).collect()
    }

    fn send(&mut self, b: &[u8]) {
        self.ws.send(Message::Binary(b.to_vec().into())).unwrap();
    }

    /// Version, security None, ClientInit; returns the desktop name.
    fn handshake(&mut self) -> String {
        assert_eq!(self.read(12), b"RFB 003.008\n");
        self.send(b"RFB 003.008\n");
        assert_eq!(self.read(2), [1, 1], "security None offered");
        self.send(&[1]);
        assert_eq!(self.read(4), [0, 0, 0, 0]);
        self.send(&[1]);
        let init = self.read(24);
        assert_eq!(&init[..4], &[2, 128, 1, 224], "640x480");
        let n = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
        String::from_utf8(self.read(n)).unwrap()
    }

    /// The whole screen (one Raw rectangle, the server's BGRX) as RGB.
    fn screen(&mut self) -> Vec<u8> {
        self.send(&[3, 0, 0, 0, 0, 0, 2, 128, 1, 224]);
        let head = self.read(16);
        assert_eq!(&head[..4], &[0, 0, 0, 1], "one rectangle");
        assert_eq!(&head[4..16], &[0, 0, 0, 0, 2, 128, 1, 224, 0, 0, 0, 0]);
        self.read(W * H * 4)
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect()
    }

    fn key(&mut self, c: char) {
        let mut m = vec![4, 1, 0, 0];
        m.extend_from_slice(&(c as u32).to_be_bytes());
        self.send(&m);
    }

    /// Reads until the server's close frame; returns its reason.
    fn closed(&mut self) -> String {
        loop {
            match self.ws.read() {
                Ok(Message::Close(Some(f))) => return f.reason.to_string(),
                Ok(Message::Close(None)) => return String::new(),
                Ok(_) => {}
                Err(e) => panic!("no close frame: {e}"),
            }
        }
    }
}

fn rows(rgb: &[u8], r: std::ops::Range<usize>) -> &[u8] {
    &rgb[r.start * W * 3..r.end * W * 3]
}

fn screenshot(agent: &TestAgent, zone: &str) -> (u16, Vec<u8>) {
    let (status, headers, body) = agent.get_raw_with(&format!("/zones/{zone}/vnc/screenshot"), &[]);
    if status == 200 {
        let ct = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        assert_eq!(ct.map(|(_, v)| v.as_str()), Some("image/png"));
    }
    (status, body)
}

#[test]
fn rfb_through_websockify_and_a_screenshot_show_the_zones_screen() {
    let agent = TestAgent::start();
    running_zone(&agent, "vm1", Some("on"));
    let i = info(&agent, "vm1");
    assert_eq!(i["vnc_enabled"], true, "{i}");
    assert_eq!(i["reachable"], true, "{i}");
    assert_eq!(i["active_vnc_session"], false);
    assert_eq!(i["status"], "available");
    assert_eq!(i["websocket_path"], "/zones/vm1/vnc/websockify");

    let started = agent.post("/zones/vm1/vnc/start", json!({}));
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["status"], "active");
    assert_eq!(started.body["web_port"], agent.port);
    assert_eq!(started.body["console_url"], "/zones/vm1/vnc/websockify");
    let i = info(&agent, "vm1");
    assert_eq!(i["active_vnc_session"], true, "{i}");
    assert_eq!(i["vnc_session_info"]["status"], "active");

    let mut rfb = Rfb {
        ws: open(&agent, "vm1", Some(&agent.key)).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "vm1");
    let live = rfb.screen();
    // The name's first stroke is white on the title bar's blue.
    assert_eq!(&live[..3], &[0x30, 0x60, 0xa0]);
    assert_eq!(&live[(10 * W + 16) * 3..(10 * W + 16) * 3 + 3], &[0xff; 3]);

    // A key typed through the bridge reaches the guest: the screenshot shows it.
    rfb.key('Q');
    let (status, body) = screenshot(&agent, "vm1");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (w, h, shot) = png::decode_rgb(&body).unwrap();
    assert_eq!((w, h), (640, 480));
    assert_eq!(
        rows(&shot, 0..TITLE_ROWS),
        rows(&live, 0..TITLE_ROWS),
        "the name bar matches what the emulator drew"
    );
    assert_ne!(
        rows(&shot, KEYS_ROWS),
        rows(&live, KEYS_ROWS),
        "the typed key shows in the screenshot"
    );

    // Stopping the session closes its console.
    let stopped = agent.delete("/zones/vm1/vnc/stop");
    assert_eq!(stopped.status, 200, "{:?}", stopped.body);
    assert_eq!(rfb.closed(), "session stopped");
    assert_eq!(agent.delete("/zones/vm1/vnc/stop").status, 404);
    assert_eq!(info(&agent, "vm1")["active_vnc_session"], false);
}

#[test]
fn a_zone_without_vnc_says_so_and_its_console_is_a_json_409() {
    let agent = TestAgent::start();
    running_zone(&agent, "plain", None);
    let i = info(&agent, "plain");
    assert_eq!(i["vnc_enabled"], false, "{i}");
    assert_eq!(i["reachable"], false);
    assert!(i["reason"].as_str().unwrap().contains("no VNC"), "{i}");
    let (status, body) = refused(&agent, "plain", Some(&agent.key), "no 101");
    assert_eq!(status, 409);
    assert_eq!(body["code"], "vnc-unavailable", "{body}");
    assert_eq!(screenshot(&agent, "plain").0, 409);
    assert_eq!(agent.post("/zones/plain/vnc/start", json!({})).status, 409);
    let (status, _) = refused(&agent, "nosuchzone", Some(&agent.key), "no 101");
    assert_eq!(status, 404);
}

#[test]
fn a_halted_zone_is_unreachable_and_its_open_console_closes() {
    let agent = TestAgent::start();
    running_zone(&agent, "vm2", Some("wait"));
    assert_eq!(info(&agent, "vm2")["reachable"], true);
    let mut rfb = Rfb {
        ws: open(&agent, "vm2", Some(&agent.key)).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "vm2");
    host(&agent, "zoneadm", &["-z", "vm2", "halt"]);
    assert_eq!(rfb.closed(), "the zone's VNC server closed the connection");
    let i = info(&agent, "vm2");
    assert_eq!(i["reachable"], false, "{i}");
    assert_eq!(i["status"], "unavailable");
    let (status, body) = refused(&agent, "vm2", Some(&agent.key), "no 101");
    assert_eq!(status, 409, "{body}");
}

#[test]
fn no_key_or_a_viewer_key_gets_no_101() {
    let agent = TestAgent::start();
    running_zone(&agent, "vm3", Some("on"));
    let (status, body) = refused(&agent, "vm3", None, "no 101 without a key");
    assert_eq!(status, 401);
    assert!(body["code"].as_str().is_some(), "a JSON error: {body}");
    let viewer = agent.post("/api-keys", json!({"name": "watcher", "role": "viewer"}));
    assert_eq!(viewer.status, 201, "{:?}", viewer.body);
    let key = viewer.body["api_key"].as_str().unwrap().to_owned();
    let (status, _) = refused(&agent, "vm3", Some(&key), "no 101 for a viewer");
    assert_eq!(status, 403);
    // A viewer may look: info and the screenshot.
    assert_eq!(
        agent
            .request("GET", "/zones/vm3/vnc/info", Some(&key), None)
            .status,
        200
    );
}

#[test]
fn revoking_the_key_closes_its_open_console() {
    let agent = TestAgent::start();
    running_zone(&agent, "vm4", Some("on"));
    let made = agent.post("/api-keys", json!({"name": "ops", "role": "operator"}));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let key = made.body["api_key"].as_str().unwrap().to_owned();
    info(&agent, "vm4");
    let mut rfb = Rfb {
        ws: open(&agent, "vm4", Some(&key)).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "vm4");
    let id = made.body["id"].as_str().unwrap();
    assert_eq!(agent.delete(&format!("/api-keys/{id}")).status, 200);
    assert_eq!(rfb.closed(), "API key revoked");
    assert_eq!(refused(&agent, "vm4", Some(&key), "revoked").0, 401);
}

/// The connection's header and idle deadlines (1 s here) are for requests; an open console
/// outlives both, busy or quiet.
#[test]
fn a_console_outlives_the_connections_request_deadlines() {
    let agent = TestAgent::start_configured(
        "  header_read_timeout_seconds: 1\n  idle_timeout_seconds: 1\n",
        "",
    );
    running_zone(&agent, "vm5", Some("on"));
    info(&agent, "vm5");
    let mut rfb = Rfb {
        ws: open(&agent, "vm5", Some(&agent.key)).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "vm5");
    // Busy past the header deadline: each frame the client sends is not a request head.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        rfb.screen();
    }
    // Quiet past the idle deadline.
    std::thread::sleep(Duration::from_millis(2500));
    rfb.key('z');
    rfb.screen();
}

/// The emulated screen's title bar: blue (its first pixel), with the zone's name in white
/// on it (crates/illumos-sim/src/vnc/screen.rs).
fn shows_the_emulated_title_bar(rgb: &[u8]) -> bool {
    rgb[..3] == [0x30, 0x60, 0xa0]
        && rows(rgb, 0..TITLE_ROWS)
            .chunks_exact(3)
            .any(|p| p == [0xff; 3])
}

fn decoded_screenshot(agent: &TestAgent, zone: &str) -> Vec<u8> {
    let (status, body) = screenshot(agent, zone);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (w, h, rgb) = png::decode_rgb(&body).unwrap();
    assert_eq!((w, h), (W as u32, H as u32));
    rgb
}

/// VNC Authentication (RFC 6143 §7.2.2) with the password of the zone's own `vnc` attr; the
/// password never shows in `vnc/info` or the zone's detail.
#[test]
fn a_password_protected_screen_is_read_with_the_zones_own_password() {
    let mut agent = TestAgent::start();
    running_zone(&agent, "locked", Some("unix=/tmp/vm.vnc,password=zonepass"));
    let i = info(&agent, "locked");
    assert_eq!(i["password_required"], true, "{i}");
    assert_eq!(i["reachable"], true, "{i}");
    assert!(!i.to_string().contains("zonepass"), "{i}");
    let rgb = decoded_screenshot(&agent, "locked");
    assert!(shows_the_emulated_title_bar(&rgb), "the zone's own screen");
    let detail = agent.get("/zones/locked");
    assert_eq!(detail.status, 200);
    let shown = detail.body.to_string();
    assert!(!shown.contains("zonepass"), "{shown}");
    assert!(shown.contains("password=********"), "{shown}");

    // noVNC still brings its own password through the byte pipe: the bridge offers what the
    // server offers, VNC Authentication only.
    let mut rfb = Rfb {
        ws: open(&agent, "locked", Some(&agent.key)).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.read(12), b"RFB 003.008\n");
    rfb.send(b"RFB 003.008\n");
    assert_eq!(rfb.read(2), [1, 2], "only VNC Authentication offered");

    // The agent's database keeps the zone's configuration without the password; after a
    // restart the screenshot reads it afresh from the host.
    agent.kill();
    for f in std::fs::read_dir(agent.data_dir()).unwrap().flatten() {
        let bytes = std::fs::read(f.path()).unwrap_or_default();
        assert!(
            !bytes.windows(8).any(|w| w == b"zonepass"),
            "{} holds the password",
            f.path().display()
        );
    }
    agent.launch();
    let rgb = agent.eventually(
        "the restarted agent lists the zone",
        || screenshot(&agent, "locked"),
        |(status, _)| *status == 200,
    );
    let (_, _, rgb) = png::decode_rgb(&rgb.1).unwrap();
    assert!(shows_the_emulated_title_bar(&rgb));

    // A password the server does not take is a 409 naming the refusal.
    let cfg = "select attr name=vnc; set value=unix=/tmp/vm.vnc,password=wrongone; end";
    host(&agent, "zonecfg", &["-z", "locked", cfg]);
    let (status, body) = agent.eventually(
        "the agent reads the changed password",
        || screenshot(&agent, "locked"),
        |(status, _)| *status != 200,
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("refused the zone's password"));
}

/// `unix=` names another socket inside the zone, `tcp=` a loopback listener: both are
/// reached, by the bridge and by the screenshot.
#[test]
fn a_socket_elsewhere_in_the_zone_and_a_loopback_tcp_listener_are_reached() {
    let agent = TestAgent::start();
    running_zone(&agent, "other", Some("unix=/var/run/other.vnc"));
    let port = port_no_one_else_is_given();
    running_zone(&agent, "ontcp", Some(&format!("tcp=127.0.0.1:{port}")));
    for zone in ["other", "ontcp"] {
        let i = info(&agent, zone);
        assert_eq!(i["reachable"], true, "{zone}: {i}");
        let mut rfb = Rfb {
            ws: open(&agent, zone, Some(&agent.key)).unwrap(),
            buf: Vec::new(),
        };
        assert_eq!(rfb.handshake(), zone);
        let live = rfb.screen();
        assert!(shows_the_emulated_title_bar(&live));
        assert_eq!(
            rows(&decoded_screenshot(&agent, zone), 0..TITLE_ROWS),
            rows(&live, 0..TITLE_ROWS),
            "{zone}: the screenshot shows the zone's name bar"
        );
    }
}

/// A loopback port that is free now and that no other test can be handed before the emulated
/// zone binds it: below Linux's ephemeral range (32768 and up by default), from which every
/// `bind(0)` of the harness (agents, sshd, listeners) draws, so only an explicit bind could
/// take it, and no other test binds one there.
fn port_no_one_else_is_given() -> u16 {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    (start..32_768)
        .chain(20_000..start)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free loopback port below the ephemeral range")
}

/// A socket path that would leave the zone's root is refused: through the API as a 400
/// naming the field; set on the host, the agent will not reach it (409 saying why).
#[test]
fn a_vnc_socket_outside_the_zone_root_is_refused() {
    let agent = TestAgent::start();
    running_zone(&agent, "escape", Some("on"));
    info(&agent, "escape");
    for bad in ["unix=/../../../etc/shadow", "unix=/tmp/../../x.vnc"] {
        let r = agent.request(
            "PUT",
            "/zones/escape",
            Some(&agent.key),
            Some(&json!({ "vnc": bad })),
        );
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["field"], "vnc", "{:?}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains(".."),
            "{:?}",
            r.body
        );
    }
    let r = agent.request(
        "PUT",
        "/zones/escape",
        Some(&agent.key),
        Some(&json!({ "vnc": "password=x" })),
    );
    assert_eq!(
        (r.status, &r.body["field"]),
        (400, &json!("vnc")),
        "{:?}",
        r.body
    );
    let cfg = "select attr name=vnc; set value=unix=/../../etc/x.vnc; end";
    host(&agent, "zonecfg", &["-z", "escape", cfg]);
    let i = agent.eventually(
        "the agent reads the changed attr",
        || info(&agent, "escape"),
        |i| i["reachable"] == false,
    );
    assert!(i["reason"].as_str().unwrap().contains(".."), "{i}");
    assert_eq!(screenshot(&agent, "escape").0, 409);
}

fn vnc_records(agent: &TestAgent) -> Vec<Value> {
    let r = agent.get("/tasks?operation=console_session&limit=100");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let tasks = r.body["tasks"].as_array().cloned().unwrap_or_default();
    tasks
        .into_iter()
        .filter_map(|t| {
            let m: Value = match &t["metadata"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            (m["console"] == "vnc").then(|| {
                let mut m = m;
                m["created_by"] = t["created_by"].clone();
                m["created_at"] = t["created_at"].clone();
                m
            })
        })
        .collect()
}

/// A websockify bridge is in the task log like a console session: who opened it, when, and
/// on its close how long it lasted and the bytes it carried each way.
#[test]
fn a_vnc_bridge_is_recorded_with_its_duration_and_bytes() {
    let agent = TestAgent::start();
    running_zone(&agent, "seen", Some("on"));
    info(&agent, "seen");
    let made = agent.post("/api-keys", json!({"name": "vnc-user", "role": "operator"}));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let key = made.body["api_key"].as_str().unwrap().to_owned();
    let mut rfb = Rfb {
        ws: open(&agent, "seen", Some(&key)).unwrap(),
        buf: Vec::new(),
    };
    rfb.handshake();
    rfb.screen();
    rfb.ws.close(None).unwrap();
    let records = agent.eventually(
        "the bridge's close is recorded",
        || vnc_records(&agent),
        |r| r.iter().any(|m| m["event"] == "closed"),
    );
    let opened = records.iter().find(|m| m["event"] == "opened").unwrap();
    let closed = records.iter().find(|m| m["event"] == "closed").unwrap();
    for m in [opened, closed] {
        assert_eq!(m["created_by"], "vnc-user", "{m}");
        assert_eq!(m["zone_name"], "seen", "{m}");
        assert!(m["created_at"].as_str().is_some(), "{m}");
    }
    assert_eq!(opened["session_id"], closed["session_id"]);
    assert_eq!(closed["reason"], "client closed", "{closed}");
    assert!(closed["duration_ms"].as_u64().is_some(), "{closed}");
    // The client sent its version, security choice, ClientInit and one request (36 bytes);
    // the server at least the whole 640x480 screen.
    assert_eq!(closed["bytes_to_server"], 12 + 1 + 1 + 10, "{closed}");
    assert!(
        closed["bytes_from_server"].as_u64().unwrap() > (W * H * 4) as u64,
        "{closed}"
    );
}

fn zone_ticket(agent: &TestAgent, query: &str) -> String {
    let r = agent.get(&format!("/ws-ticket{query}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["ticket"].as_str().unwrap().to_owned()
}

/// hyperweaver's form: `GET /ws-ticket?machine=NAME` gives `{ticket}` for that zone's
/// WebSockets only; without `machine`, for any.
#[test]
fn a_ticket_from_get_ws_ticket_opens_its_zones_console() {
    let agent = TestAgent::start();
    running_zone(&agent, "tk1", Some("on"));
    running_zone(&agent, "tk2", Some("on"));
    info(&agent, "tk1");
    info(&agent, "tk2");
    let path = |z: &str, t: &str| format!("/zones/{z}/vnc/websockify?ticket={t}");
    let t = zone_ticket(&agent, "?machine=tk1");
    let mut rfb = Rfb {
        ws: open_path(&agent, &path("tk1", &t), None).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "tk1");
    assert_eq!(
        open_path(&agent, &path("tk1", &t), None).err().unwrap().0,
        401,
        "used up"
    );
    let t = zone_ticket(&agent, "?machine=tk1");
    assert_eq!(
        open_path(&agent, &path("tk2", &t), None).err().unwrap().0,
        401,
        "tk2 is not tk1"
    );
    let t = zone_ticket(&agent, "");
    let mut rfb = Rfb {
        ws: open_path(&agent, &path("tk2", &t), None).unwrap(),
        buf: Vec::new(),
    };
    assert_eq!(rfb.handshake(), "tk2");
    assert_eq!(agent.get("/ws-ticket?machine=../x").status, 400);
    assert_eq!(agent.request("GET", "/ws-ticket", None, None).status, 401);
}
