//! A real agent process on a fresh emulated host, for measuring.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use zoneweaver_testkit::{AgentConfig, EmulatedHost, Wait};

pub struct Agent {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    pub key: String,
    pub child: Option<Child>,
    pub http: ureq::Agent,
}

/// The release binaries beside this one (`cargo build --release --workspace`).
pub fn binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let p = me.parent().expect("bin dir").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --release --workspace` first",
        p.display()
    );
    p
}

pub fn client(connect_timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(true)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(Some(connect_timeout))
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Agent {
    /// Creates the emulated host and config; does not start the agent.
    pub fn prepare(root: &Path, extra_config: &str) -> Agent {
        let dir = root.to_path_buf();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let host = EmulatedHost::init(&dir.join("host"));
        let port = free_port();
        let config = dir.join("config.yaml");
        let mut yaml = AgentConfig::new(&dir.join("data"), port, &host);
        yaml.log_level = "warn".into();
        yaml.extra = extra_config.into();
        yaml.write(&config);
        Agent {
            dir,
            config,
            port,
            key: String::new(),
            child: None,
            http: client(Duration::from_millis(200)),
        }
    }

    /// Another handle on the same agent for a client thread (it does not own the process).
    pub fn handle(&self) -> Agent {
        Agent {
            dir: self.dir.clone(),
            config: self.config.clone(),
            port: self.port,
            key: self.key.clone(),
            child: None,
            http: client(Duration::from_millis(200)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Starts the agent; returns the time from spawning it to `/health` answering 200.
    pub fn start(&mut self) -> Duration {
        let log_path = self.dir.join("agent.log");
        // A fresh log per start: the bench reads none of it, and restarts are many.
        let log = std::fs::File::create(&log_path).expect("log");
        let agent = binary("zoneweaver-agent");
        let mut command = zoneweaver_testkit::serve_command(&agent, &self.config, log);
        let started = Instant::now();
        let child = self.child.insert(command.spawn().expect("agent starts"));
        // Polled often: the time to the first 200 is a figure. The log is at warn, without
        // the "listening" line, and no other agent runs meanwhile.
        let wait = Wait {
            poll: Duration::from_micros(500),
            after_listening: false,
            ..Wait::default()
        };
        let up =
            zoneweaver_testkit::wait_healthy(child, &self.http, self.port, &log_path, 0, &wait);
        if let Err(exited) = up {
            self.child = None;
            panic!("{exited}");
        }
        let elapsed = started.elapsed();
        self.key = zoneweaver_testkit::bootstrap_key(&self.dir.join("data"));
        elapsed
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: sending SIGTERM to our own child.
            unsafe_term(c.id());
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Resident set size in KiB, from /proc (the bench runs on Linux beside the emulator).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Private (anonymous) resident memory in KiB: the heap and stacks, without the pages of
    /// the mapped executable that RSS also counts.
    pub fn rss_anon_kib(&self) -> u64 {
        self.status_kib("RssAnon:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("a /proc status field")
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        let mut r = self
            .http
            .post(&self.url(path))
            .header("Authorization", &format!("Bearer {}", self.key))
            .send_json(body)
            .expect("POST");
        r.body_mut().read_json().expect("JSON answer")
    }

    /// Any request; the status and the JSON answer (`null` when it is not JSON).
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Content-Type", "application/json");
        let req = req
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("request");
        match self.http.run(req) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                (status, r.body_mut().read_json().unwrap_or(Value::Null))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    pub fn get_raw(&self, path: &str) -> Vec<u8> {
        let mut r = self
            .http
            .get(&self.url(path))
            .header("Authorization", &format!("Bearer {}", self.key))
            .call()
            .expect("GET");
        r.body_mut().read_to_vec().expect("body")
    }

    pub fn get(&self, path: &str) -> Value {
        let mut r = self
            .http
            .get(&self.url(path))
            .header("Authorization", &format!("Bearer {}", self.key))
            .call()
            .expect("GET");
        r.body_mut().read_json().expect("JSON answer")
    }
}

fn unsafe_term(pid: u32) {
    // The bench is a Linux test tool; `kill` keeps it free of a libc dependency.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
