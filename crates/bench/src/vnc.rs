//! The VNC console through the agent: full-screen RFB updates (640x480 at 32 bpp, Raw: 1.2 MB
//! each) over the `websockify` WebSocket, that is TLS, the agent, the privileged helper's
//! pipe and the emulated bhyve server; and the PNG screenshot (a whole RFB session per call).

use std::path::Path;
use std::time::{Duration, Instant};

use tungstenite::Message;

use crate::agent::Agent;
use crate::consoles::Ws;
use crate::{percentile, Row};

const FRAME_BYTES: usize = 640 * 480 * 4;

fn open(agent: &Agent) -> Ws {
    crate::consoles::open(agent, "/zones/vm1/vnc/websockify", Some("binary"))
}

/// RFB bytes from binary messages.
struct Rfb {
    ws: Ws,
    buf: Vec<u8>,
}

impl Rfb {
    fn read(&mut self, n: usize) {
        while self.buf.len() < n {
            match self.ws.read().expect("RFB over the WebSocket") {
                Message::Binary(b) => self.buf.extend_from_slice(&b),
                Message::Close(c) => panic!("console closed: {c:?}"),
                _ => {}
            }
        }
        self.buf.drain(..n);
    }

    fn send(&mut self, b: &[u8]) {
        self.ws
            .send(Message::Binary(b.to_vec().into()))
            .expect("send");
    }
}

pub fn run(root: &Path, frames: usize, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("vnc"), "");
    agent.start();
    crate::consoles::running_zone(
        &agent,
        "vm1",
        "; add attr; set name=vnc; set type=string; set value=on; end",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.send("GET", "/zones/vm1/vnc/info", None).1["reachable"] != true {
        assert!(
            Instant::now() < deadline,
            "the console never became reachable"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut rfb = Rfb {
        ws: open(&agent),
        buf: Vec::new(),
    };
    rfb.read(12);
    rfb.send(b"RFB 003.008\n");
    rfb.read(2);
    rfb.send(&[1]);
    rfb.read(4);
    rfb.send(&[1]);
    rfb.read(24 + 3);
    let mut times = Vec::with_capacity(frames);
    let started = Instant::now();
    for _ in 0..frames {
        let t = Instant::now();
        rfb.send(&[3, 0, 0, 0, 0, 0, 2, 128, 1, 224]);
        rfb.read(16 + FRAME_BYTES);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    rows.push(Row {
        what: "VNC through websockify: full 640x480x32 Raw frames (1.2 MB), one console".into(),
        value: format!(
            "{:.1} MiB/s, {:.0} frames/s (p50 {:.1} ms, p99 {:.1} ms)",
            (frames * FRAME_BYTES) as f64 / secs / (1024.0 * 1024.0),
            frames as f64 / secs,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        ),
        target: String::new(),
    });
    drop(rfb);

    let mut shots = Vec::new();
    for _ in 0..frames.min(20) {
        let t = Instant::now();
        let png = agent.get_raw("/zones/vm1/vnc/screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        shots.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    shots.sort_by(f64::total_cmp);
    rows.push(Row {
        what: "GET /zones/{name}/vnc/screenshot (helper, RFB session, PNG of 640x480): p50 / p99"
            .into(),
        value: format!(
            "{:.1} ms / {:.1} ms",
            percentile(&shots, 0.5),
            percentile(&shots, 0.99)
        ),
        target: String::new(),
    });
    agent.stop();
}
