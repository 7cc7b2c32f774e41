//! The consoles in a real browser, with the clients the Zoneweaver UI uses: headless Chromium
//! (Debian's) runs noVNC against a zone's `/vnc/websockify` and xterm.js against its serial
//! console `/zlogin/{id}`, each through the agent's HTTPS port with a single-use ticket, as a
//! browser must (it cannot set an `Authorization` header on a WebSocket). The browser side is
//! `tests/browser/console.mjs` (playwright-core drives Chromium); scripts/install-test-deps
//! installs Chromium and the npm packages. Where they are missing the tests fail, saying what
//! to install: CI always has them.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use zoneweaver_agent::zones::vnc::png;

use crate::support::guest::create_zone;
use crate::support::{host, TestAgent};

/// The emulated screen's title bar, rows 0..48, shows the zone's name and nothing that changes
/// (crates/illumos-sim/src/vnc/screen.rs).
const TITLE_ROWS: usize = 48;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs the browser driver; its one JSON line.
fn in_browser(args: &[&str]) -> Value {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/@novnc/novnc").is_dir()
            && dir.join("node_modules/playwright-core").is_dir(),
        "the browser clients are not installed: run scripts/install-test-deps"
    );
    let out = Command::new("node")
        .arg(dir.join("console.mjs"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node (scripts/install-test-deps installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let short = |s: &str| s.chars().take(2000).collect::<String>();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "driver output {e}: {}\nstderr: {}",
            short(&stdout),
            short(&stderr)
        )
    });
    assert_eq!(
        v["ok"],
        true,
        "browser: {}\nstderr: {}",
        v["error"],
        short(&stderr)
    );
    v
}

fn ticket(agent: &TestAgent, path: &str) -> String {
    let r = agent.post("/ws-tickets", json!({"path": path}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["ticket"].as_str().unwrap().to_owned()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn novnc_in_chromium_shows_the_zones_screen_through_the_agent() {
    let agent = TestAgent::start();
    let zone = "vm1";
    let cfg = format!(
        "create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/{zone}; \
         add attr; set name=vnc; set type=string; set value=on; end"
    );
    host(&agent, "zonecfg", &["-z", zone, &cfg]);
    host(&agent, "zoneadm", &["-z", zone, "install"]);
    host(&agent, "zoneadm", &["-z", zone, "boot"]);
    let info = agent.eventually(
        "the zone's VNC answers",
        || {
            let r = agent.get(&format!("/zones/{zone}/vnc/info"));
            (r.status, r.body)
        },
        |(status, body)| *status == 200 && body["reachable"] == true,
    );
    assert_eq!(info.1["vnc_enabled"], true, "{:?}", info.1);

    // What the agent's own RFB client sees: the reference for the browser's canvas.
    let (status, _, shot) = agent.get_raw_with(&format!("/zones/{zone}/vnc/screenshot"), &[]);
    assert_eq!(status, 200);
    let (w, _, rgb) = png::decode_rgb(&shot).unwrap();

    let path = format!("/zones/{zone}/vnc/websockify");
    let url = format!(
        "wss://localhost:{}{path}?ticket={}",
        agent.port,
        ticket(&agent, &path)
    );
    let seen = in_browser(&["vnc", &url, &TITLE_ROWS.to_string()]);
    assert_eq!(seen["state"], "connected");
    assert_eq!(seen["name"], zone, "the desktop name noVNC shows");
    assert_eq!(seen["width"].as_u64(), Some(u64::from(w)));
    let rgba = hex(seen["rgba"].as_str().unwrap());
    let canvas_rgb: Vec<u8> = rgba.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
    let title_rgb = &rgb[..TITLE_ROWS * w as usize * 3];
    assert_eq!(canvas_rgb.len(), title_rgb.len(), "the canvas's title rows");
    let differ = canvas_rgb
        .iter()
        .zip(title_rgb)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differ, 0,
        "the browser's title bar differs from the emulated framebuffer in {differ} bytes"
    );
    // The ticket was used up by the browser.
    let again = agent.request("GET", &format!("{path}?ticket=x"), None, None);
    assert_eq!(again.status, 401);
}

#[test]
fn xterm_in_chromium_logs_into_the_serial_console_through_the_agent() {
    let agent = TestAgent::start();
    let zone = "vm2";
    create_zone(&agent, zone, "s3cret-pw");
    let r = agent.post(&format!("/zones/{zone}/start"), json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap());
    let r = agent.post(&format!("/zones/{zone}/zlogin/start"), json!({}));
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("session id").to_owned();
    let path = format!("/zlogin/{id}");
    let url = format!(
        "wss://localhost:{}{path}?ticket={}",
        agent.port,
        ticket(&agent, &path)
    );
    // The console may still be printing its boot banner: the driver types once the socket is
    // open and waits for the command's output, whatever came before it.
    let seen = in_browser(&[
        "serial",
        &url,
        "\nroot\ns3cret-pw\necho typed-in-\"xterm\"-ok",
        // Only the command's output has it whole: the echoed line has the quotes.
        "typed-in-xterm-ok",
    ]);
    let text = seen["text"].as_str().unwrap();
    assert!(text.contains(&format!("{zone} login:")), "{text}");
    assert!(
        !text.contains("s3cret-pw"),
        "the password was echoed: {text}"
    );
}
