//! The serial console through the agent: keystroke-to-echo latency through a `zlogin -C`
//! session (the WebSocket, the agent's pty hub, the emulated guest's echo, and back), and the
//! agent's memory with 50 open console sessions (a zone each, a WebSocket attached to each)
//! against the same agent idle.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

use crate::agent::Agent;
use crate::{percentile, Row};

pub type Ws =
    tungstenite::WebSocket<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>;

/// Runs one of the emulated host's tools (as an admin on the host would).
fn host_tool(agent: &Agent, tool: &str, args: &[&str]) {
    let out = Command::new(agent.dir.join("host/bin").join(tool))
        .args(args)
        .output()
        .expect("host tool");
    assert!(out.status.success(), "{tool} {args:?}: {out:?}");
}

/// A running bhyve zone made with the host's tools; `attrs` are extra zonecfg commands.
pub fn running_zone(agent: &Agent, name: &str, attrs: &str) {
    let cfg = format!(
        "create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/{name}{attrs}"
    );
    host_tool(agent, "zonecfg", &["-z", name, &cfg]);
    host_tool(agent, "zoneadm", &["-z", name, "install"]);
    host_tool(agent, "zoneadm", &["-z", name, "boot"]);
}

/// Opens the WebSocket at `path` with the agent's key, asking for `protocol` if given (VNC's
/// `binary`; a console asks for none).
pub fn open(agent: &Agent, path: &str, protocol: Option<&str>) -> Ws {
    let tcp = std::net::TcpStream::connect(("127.0.0.1", agent.port)).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("an IP name");
    let conn =
        rustls::ClientConnection::new(crate::load::client_config(agent), name).expect("TLS client");
    let tls = rustls::StreamOwned::new(conn, tcp);
    let mut req = format!("wss://127.0.0.1:{}{path}", agent.port)
        .into_client_request()
        .expect("request");
    let h = req.headers_mut();
    if let Some(p) = protocol {
        h.insert("Sec-WebSocket-Protocol", p.parse().expect("header"));
    }
    h.insert(
        "Authorization",
        format!("Bearer {}", agent.key).parse().expect("header"),
    );
    tungstenite::client(req, tls).expect("websocket").0
}

/// Console output until it ends with `tail`.
fn until(ws: &mut Ws, seen: &mut Vec<u8>, tail: &[u8]) {
    seen.clear();
    while !seen.ends_with(tail) {
        match ws.read().expect("console output") {
            Message::Binary(b) => seen.extend_from_slice(&b),
            Message::Close(c) => panic!("console closed: {c:?}"),
            _ => {}
        }
    }
}

/// Starts the zone's serial console session; its WebSocket path. Retried until the agent's
/// zone listing (refreshed every few seconds) shows the zone running.
fn zlogin(agent: &Agent, zone: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = agent.send("POST", &format!("/zones/{zone}/zlogin/start"), None);
        if status == 200 {
            return body["websocket_url"]
                .as_str()
                .expect("websocket_url")
                .to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "zlogin/start {zone}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn run(root: &Path, keys: usize, rows: &mut Vec<Row>) {
    const SESSIONS: usize = 50;
    let mut agent = Agent::prepare(&root.join("consoles"), "");
    agent.start();
    for i in 0..SESSIONS {
        running_zone(&agent, &format!("con{i}"), "");
    }
    // The idle figure once the agent has listed the zones (its listing is refreshed).
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.send("GET", "/zones/con49", None).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the agent never listed the zones"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle = agent.rss_kib();

    // Keystroke to echo: at the login prompt each printable key is echoed at once; a
    // backspace after it keeps the line short (its echo, "\b \b", is waited for too).
    let mut ws = open(&agent, &zlogin(&agent, "con0"), None);
    let mut seen = Vec::new();
    until(&mut ws, &mut seen, b"con0 login: ");
    let mut times = Vec::with_capacity(keys);
    for _ in 0..keys {
        let t = Instant::now();
        ws.send(Message::Binary(b"x".to_vec().into())).expect("key");
        until(&mut ws, &mut seen, b"x");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        ws.send(Message::Binary(b"\x7f".to_vec().into()))
            .expect("backspace");
        until(&mut ws, &mut seen, b"\x08 \x08");
    }
    times.sort_by(f64::total_cmp);
    rows.push(Row {
        what: format!(
            "serial console keystroke to echo (WebSocket, zlogin -C pty, guest echo), {keys} keys"
        ),
        value: format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        ),
        target: String::new(),
    });

    // 50 sessions, each with its zlogin process's pty and a WebSocket attached.
    let mut open_sockets = vec![ws];
    for i in 1..SESSIONS {
        let zone = format!("con{i}");
        let mut ws = open(&agent, &zlogin(&agent, &zone), None);
        until(&mut ws, &mut seen, format!("{zone} login: ").as_bytes());
        open_sockets.push(ws);
    }
    let (_, listed) = agent.send("GET", "/zlogin/sessions", None);
    let active = listed
        .as_array()
        .or_else(|| listed["sessions"].as_array())
        .map(|s| s.iter().filter(|s| s["status"] == "active").count())
        .unwrap_or(0);
    assert_eq!(active, SESSIONS, "{listed}");
    let busy = agent.rss_kib();
    rows.push(Row {
        what: format!("agent RSS: idle with {SESSIONS} running zones / {SESSIONS} open consoles"),
        value: format!(
            "{:.1} MiB / {:.1} MiB ({:.0} KiB a console)",
            idle as f64 / 1024.0,
            busy as f64 / 1024.0,
            busy.saturating_sub(idle) as f64 / SESSIONS as f64
        ),
        target: String::new(),
    });
    for mut ws in open_sockets {
        let _ = ws.close(None);
    }
    agent.stop();
}
