//! A real agent on a fresh emulated host, and `zw` run against it with its own config dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
pub use zoneweaver_testkit::TempDir;
use zoneweaver_testkit::{AgentConfig, EmulatedHost, Wait};

pub fn zw_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zw"))
}

/// The agent and the emulator are built beside `zw` by `cargo test --workspace` (or by
/// building `-p zoneweaver-agent -p illumos-sim` first).
pub struct TestAgent {
    pub dir: TempDir,
    pub host: PathBuf,
    pub config_path: PathBuf,
    pub port: u16,
    pub key: String,
    child: Option<Child>,
    http: ureq::Agent,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        let dir = TempDir::new("agent");
        let host = dir.0.join("host");
        let emulated = EmulatedHost::init(&host);
        let port = zoneweaver_testkit::free_port();
        let config_path = dir.0.join("config.yaml");
        AgentConfig::new(&dir.0.join("data"), port, &emulated).write(&config_path);
        // The test's own view of the API: no pinning, just the bytes.
        let http = zoneweaver_testkit::client(Duration::from_secs(60));
        let mut agent = TestAgent {
            dir,
            host,
            config_path,
            port,
            key: String::new(),
            child: None,
            http,
        };
        agent.launch();
        agent.key = zoneweaver_testkit::bootstrap_key(&agent.data_dir());
        agent
    }

    /// Starts the binary and waits for `/health` to answer.
    pub fn launch(&mut self) {
        let log_path = self.dir.0.join("agent.log");
        let start = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let log = zoneweaver_testkit::append_log(&log_path);
        let agent = zoneweaver_testkit::binary("zoneweaver-agent");
        let command = zoneweaver_testkit::serve_command(&agent, &self.config_path, log).spawn();
        let child = self.child.insert(command.unwrap());
        let wait = Wait {
            after_listening: false,
            ..Wait::default()
        };
        let up =
            zoneweaver_testkit::wait_healthy(child, &self.http, self.port, &log_path, start, &wait);
        if let Err(exited) = up {
            self.child = None;
            panic!("{exited}");
        }
    }

    pub fn stop(&mut self) {
        zoneweaver_testkit::kill(&mut self.child);
    }

    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// GET with the bootstrap key: the status and the body's exact text.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut r = self
            .http
            .get(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, text) = self.get_text(path);
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let mut r = self
            .http
            .post(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Queues a noop task and returns its id.
    pub fn noop(&self, duration_ms: u64) -> String {
        let (status, body) = self.post(
            "/tasks",
            serde_json::json!({"operation": "noop", "duration_ms": duration_ms}),
        );
        assert_eq!(status, 202, "{body}");
        body["task_id"].as_str().unwrap().to_owned()
    }

    /// Writes the emulator's fault rules.
    pub fn faults(&self, rules: &[Value]) {
        let text: String = rules.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(self.host.join("faults"), text).unwrap();
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What one run of `zw` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "zw failed: {self:#?}");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }
}

/// `zw` with a private config dir and none of the caller's ZW_* variables.
pub struct Zw {
    pub home: TempDir,
    pub env: Vec<(String, String)>,
}

impl Zw {
    pub fn new() -> Zw {
        Zw {
            home: TempDir::new("home"),
            env: Vec::new(),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.home.0.join("config/zw/config.toml")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(zw_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home.0)
            .env("XDG_CONFIG_HOME", self.home.0.join("config"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            // A command may refuse and exit before it reads its input (login without a
            // terminal to confirm on does): the pipe is then closed, and that is no failure.
            let written = child.stdin.take().unwrap().write_all(text.as_bytes());
            if let Err(e) = written {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
        let out: Output = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Logs in to `agent` with --yes.
    pub fn login(&self, agent: &TestAgent) {
        self.run_with_stdin(
            &["login", &agent.base(), "--yes"],
            Some(&format!("{}\n", agent.key)),
        )
        .ok();
    }
}

/// The DER of the first certificate in a PEM file (a small base64 decoder: one use, no crate).
pub fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = b64.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}
