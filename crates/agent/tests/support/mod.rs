//! A real agent on a fresh emulated host, per test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
pub use zoneweaver_testkit::{client, free_port, target_dir, EmulatedHost, TempDir};
use zoneweaver_testkit::{AgentConfig, Wait};

pub mod guest;
pub mod openapi;
pub mod ops;
pub mod rawtls;
pub mod sweep;

/// The agent binary, from [`bin_dir`].
pub fn agent_bin() -> PathBuf {
    bin_dir().join("zoneweaver-agent")
}

/// The emulator, from [`bin_dir`]: an emulated host's tool links point at it.
pub fn sim_bin() -> PathBuf {
    bin_dir().join("illumos-sim")
}

/// Whether `dir`'s file system ignores setuid bits.
fn nosuid(dir: &Path) -> bool {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: an all-zero statvfs is a valid out-parameter; `c` is NUL-terminated.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut s) == 0 && (s.f_flag & libc::ST_NOSUID) != 0
    }
}

/// Where the tests make their directories: the system temp dir, unless setuid programs cannot
/// run there (an emulated host's pfexec is one), then /var/tmp.
pub fn sandbox_base() -> &'static Path {
    static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let tmp = std::env::temp_dir();
        if agent_user().is_none() || !nosuid(&tmp) {
            return tmp;
        }
        let var = PathBuf::from("/var/tmp");
        assert!(
            !nosuid(&var),
            "{} and /var/tmp are nosuid: an emulated host's pfexec cannot raise privilege",
            tmp.display()
        );
        var
    })
}

/// The binaries the tests run, linked (or copied) into a directory every user can reach: the
/// agent runs as an unprivileged user, which may not traverse the checkout's path. Beside the
/// emulator, `illumos-sim-pfexec` is its setuid-root copy, which `illumos-sim init` links as
/// each host's `bin/pfexec` instead of copying 25 MB per host.
pub fn bin_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = sandbox_base();
        // Directories of earlier runs whose process is gone.
        if let Ok(rd) = std::fs::read_dir(base) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("zw-it-bin-") {
                    let gone = pid
                        .parse::<i32>()
                        // SAFETY: signal 0 only checks that the process exists.
                        .is_ok_and(|p| unsafe { libc::kill(p, 0) } != 0);
                    if gone {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = base.join(format!("zw-it-bin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let target = target_dir();
        let sim = zoneweaver_testkit::binary("illumos-sim");
        let mut bins = vec![
            (
                "zoneweaver-agent",
                PathBuf::from(env!("CARGO_BIN_EXE_zoneweaver-agent")),
            ),
            ("illumos-sim", sim.clone()),
        ];
        let helper = target.join("zoneweaver-install");
        if helper.is_file() {
            bins.push(("zoneweaver-install", helper));
        }
        for (name, src) in bins {
            let dest = dir.join(name);
            if std::fs::hard_link(&src, &dest).is_err() {
                std::fs::copy(&src, &dest).unwrap();
            }
        }
        if agent_user().is_some() {
            let suid = dir.join("illumos-sim-pfexec");
            std::fs::copy(&sim, &suid).unwrap();
            std::os::unix::fs::chown(&suid, Some(0), Some(0)).unwrap();
            std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755))
                .unwrap();
        }
        dir
    })
}

/// The user the agent runs as, as the package runs it: `zoneweaver` (made here if missing,
/// a member of the Ansible account's group) whenever the tests run as root, as in CI; the
/// emulated host then holds it to the package's RBAC profile. Not root: the agent runs as
/// the tests' own user and nothing is enforced. `ZW_TEST_AGENT_AS_ROOT=1` keeps a root agent
/// (for debugging only; CI never sets it).
pub struct AgentUser {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

pub fn agent_user() -> Option<&'static AgentUser> {
    static USER: std::sync::OnceLock<Option<AgentUser>> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root || std::env::var("ZW_TEST_AGENT_AS_ROOT").is_ok_and(|v| v == "1") {
            return None;
        }
        // With no_new_privs (a container run with no-new-privileges) setuid bits are ignored:
        // the emulated pfexec could raise nothing and every change would fail obscurely.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        assert!(
            !status
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["NoNewPrivs:", "1"]),
            "the tests run with no_new_privs set: the emulated host's setuid pfexec cannot raise \
             privilege, so the unprivileged agent cannot be tested (run without no-new-privileges)"
        );
        const NAME: &str = "zoneweaver";
        let ansible_gid = {
            guest::ansible_account();
            id_of(&["-g", guest::ANSIBLE_ACCOUNT]).unwrap()
        };
        let (uid, gid) =
            system_account(NAME, "/var/lib/zoneweaver-agent", &[guest::ANSIBLE_ACCOUNT]);
        let groups: Vec<u32> = Command::new("id")
            .args(["-G", NAME])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            groups.contains(&ansible_gid),
            "{NAME} is not in the group {}: {groups:?}",
            guest::ANSIBLE_ACCOUNT
        );
        let home = PathBuf::from("/var/lib/zoneweaver-agent");
        Some(AgentUser {
            name: NAME,
            uid,
            gid,
            groups,
            home,
        })
    })
    .as_ref()
}

/// A system account as the package makes it, made if missing: its own group, `groups` as
/// supplementary groups, a private home (0700). Safe to call from many tests and test
/// processes at once, and again on the next run. Returns its uid and gid.
pub fn system_account(name: &str, home: &str, groups: &[&str]) -> (u32, u32) {
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if id_of(&["-u", name]).is_none() {
        // Another process may make it meanwhile: whoever wins, the account is there after.
        let mut args = vec!["--system", "--user-group", "--home-dir", home];
        let list = groups.join(",");
        if !groups.is_empty() {
            args.extend(["--groups", list.as_str()]);
        }
        args.extend(["--shell", "/usr/sbin/nologin", name]);
        let useradd = guest::which("useradd").expect("useradd");
        let out = Command::new(useradd).args(&args).output().unwrap();
        assert!(
            id_of(&["-u", name]).is_some(),
            "cannot make the account {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (uid, gid) = (id_of(&["-u", name]).unwrap(), id_of(&["-g", name]).unwrap());
    let home = Path::new(home);
    let _ = std::fs::create_dir(home);
    std::os::unix::fs::chown(home, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    (uid, gid)
}

fn id_of(args: &[&str]) -> Option<u32> {
    Command::new("id")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
}

/// Makes `command` run as [`agent_user`] (when there is one), with its groups and home.
pub fn as_agent_user(command: &mut Command) -> &mut Command {
    let Some(u) = agent_user() else {
        return command;
    };
    command
        .env("HOME", &u.home)
        .env("USER", u.name)
        .env("LOGNAME", u.name);
    let (uid, gid, groups) = (u.uid, u.gid, u.groups.clone());
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only makes system calls on data prepared
    // before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// Gives `path` to the agent's user (a directory the agent must own, such as its data dir).
pub fn give_to_agent(path: &Path) {
    if let Some(u) = agent_user() {
        std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)).unwrap();
    }
}

/// `illumos-sim init HOST`: a fresh emulated host (with the package's files installed), made
/// by the emulator in [`bin_dir`] so that the agent's user can reach its tools.
pub fn init_host(host: &Path) -> EmulatedHost {
    EmulatedHost::init_with(&sim_bin(), host, None)
}

/// A fresh directory under [`sandbox_base`], removed on drop unless the test failed.
pub fn temp_dir(label: &str) -> TempDir {
    TempDir::new_in(sandbox_base(), label)
}

pub struct Response {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestAgent {
    pub dir: TempDir,
    pub host: PathBuf,
    pub config_path: PathBuf,
    pub port: u16,
    pub key: String,
    child: Option<Child>,
    http: ureq::Agent,
    /// The soft open-file limit the agent starts with, when not this process's own.
    fd_soft_limit: Option<libc::rlim_t>,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        TestAgent::start_with("")
    }

    /// Starts an agent whose config.yaml has `extra` appended (top-level keys not set here).
    pub fn start_with(extra: &str) -> TestAgent {
        TestAgent::start_configured("", extra)
    }

    /// As `start_with`, with `server` lines (indented) added to the `server:` section too.
    pub fn start_configured(server: &str, extra: &str) -> TestAgent {
        TestAgent::start_limited(server, extra, None)
    }

    /// As `start_configured`, the agent started with a soft open-file limit of `fds`.
    pub fn start_limited(server: &str, extra: &str, fds: Option<libc::rlim_t>) -> TestAgent {
        let dir = temp_dir("agent");
        let host = dir.0.join("host");
        let emulated = init_host(&host);
        let data = dir.0.join("data");
        std::fs::create_dir(&data).unwrap();
        give_to_agent(&data);
        let port = free_port();
        let config_path = dir.0.join("config.yaml");
        let mut config = AgentConfig::new(&data, port, &emulated);
        config.server = server.to_owned();
        config.extra = through_emulated_paths(&host, extra);
        // The monitoring sampler's host commands would land among a test's own (the crash
        // and fault sweeps count every command): off unless the test sets it up itself.
        if !extra.contains("monitoring:") {
            if !config.extra.is_empty() && !config.extra.ends_with('\n') {
                config.extra.push('\n');
            }
            config.extra.push_str("monitoring:\n  enabled: false\n");
        }
        config.write(&config_path);
        let http = client(Duration::from_secs(60));
        let mut agent = TestAgent {
            dir,
            host,
            config_path,
            port,
            key: String::new(),
            child: None,
            http,
            fd_soft_limit: fds,
        };
        agent.launch();
        agent.key = zoneweaver_testkit::bootstrap_key(&agent.data_dir());
        agent
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Starts the binary and waits for `/health` to answer. Many agents start at once, so the
    /// port from [`free_port`] may be taken before the agent binds it: then it moves to another.
    pub fn launch(&mut self) {
        for _ in 0..5 {
            if self.try_launch() {
                return;
            }
            let config = std::fs::read_to_string(&self.config_path).unwrap();
            let old = format!("https_port: {}\n", self.port);
            self.port = free_port();
            let new = format!("https_port: {}\n", self.port);
            std::fs::write(&self.config_path, config.replacen(&old, &new, 1)).unwrap();
        }
        panic!("no free port for the agent: {}", self.log());
    }

    /// False when the agent could not bind its port. Waits for its "listening" line before
    /// asking `/health`: until then another test's agent on the same port could answer.
    fn try_launch(&mut self) -> bool {
        let log_path = self.dir.0.join("agent.log");
        let start = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let log = zoneweaver_testkit::append_log(&log_path);
        let mut command = zoneweaver_testkit::serve_command(&agent_bin(), &self.config_path, log);
        command.current_dir(&self.dir.0);
        if let Some(soft) = self.fd_soft_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the closure only makes two system calls.
            unsafe {
                command.pre_exec(move || {
                    let mut lim = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                    lim.rlim_cur = soft.min(lim.rlim_max);
                    libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                    Ok(())
                });
            }
        }
        as_agent_user(&mut command);
        let child = self.child.insert(command.spawn().unwrap());
        let up = zoneweaver_testkit::wait_healthy(
            child,
            &self.http,
            self.port,
            &log_path,
            start,
            &Wait::default(),
        );
        match up {
            Ok(()) => true,
            Err(exited) => {
                self.child = None;
                if exited.port_taken() {
                    return false;
                }
                panic!("{exited}");
            }
        }
    }

    /// Waits for the agent process to exit on its own (killed by a test fault); false if it is
    /// still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(_))) | None => {
                    self.child = None;
                    return true;
                }
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        false
    }

    /// The agent process's state as /proc shows it (`R (running)`, `Z (zombie)`, ...), to tell
    /// a dropped connection from a dead agent.
    pub fn process_state(&self) -> String {
        let Some(pid) = self.pid() else {
            return "not started".into();
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("State:").map(|v| v.trim().to_owned()))
            })
            .unwrap_or_else(|| "gone".into())
    }

    /// The agent process's id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("agent.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill(&mut self) {
        zoneweaver_testkit::kill(&mut self.child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{}", self.port, path)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        self.request_with(method, path, key, &[], body)
    }

    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let send = || {
            let mut req = ureq::http::Request::builder()
                .method(method)
                .uri(self.url(path));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(k) = key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            match body {
                Some(b) => self.http.run(
                    req.header("Content-Type", "application/json")
                        .body(b.to_string())
                        .unwrap(),
                ),
                None => self.http.run(req.body(()).unwrap()),
            }
        };
        let mut resp = send().unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {e} (agent process: {})",
                self.process_state()
            )
        });
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Response {
            status,
            body,
            headers,
        }
    }

    /// An authenticated GET with extra headers: the status, the headers and the raw body
    /// (for an answer that is not text, e.g. gzip-encoded).
    pub fn get_raw_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut req = ureq::http::Request::builder()
            .method("GET")
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = self
            .http
            .run(req.body(()).unwrap())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = resp.body_mut().read_to_vec().unwrap();
        (resp.status().as_u16(), headers, body)
    }

    /// Whether the agent process is still running (false once it exited, even unreaped).
    pub fn is_running(&self) -> bool {
        match &self.child {
            Some(c) => {
                // SAFETY: kill(2) with signal 0 only checks the process; the pid is our child,
                // not yet reaped, so it cannot have been reused.
                let alive = unsafe { libc::kill(c.id() as i32, 0) } == 0;
                alive
                    && !std::fs::read_to_string(format!("/proc/{}/stat", c.id()))
                        .unwrap_or_default()
                        .contains(") Z ")
            }
            None => false,
        }
    }

    /// A request whose connection may die with the agent: `None` when no answer came back.
    pub fn request_raw(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key));
        let resp = match body {
            Some(b) => {
                req = req.header("Content-Type", "application/json");
                self.http.run(req.body(b.to_string()).unwrap())
            }
            None => self.http.run(req.body(()).unwrap()),
        };
        let mut resp = resp.ok()?;
        let text = resp.body_mut().read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }

    /// A request with a raw body of the given content type (multipart uploads).
    pub fn request_bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("Content-Type", content_type)
            .body(body)
            .unwrap();
        let mut resp = self
            .http
            .run(req)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Response {
            status,
            body,
            headers,
        }
    }

    /// Only the status: the body is not read (so an event stream does not block).
    pub fn status(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> u16 {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = match body {
            Some(b) => self.http.run(
                req.header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            ),
            None => self.http.run(req.body(()).unwrap()),
        };
        resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            .status()
            .as_u16()
    }

    pub fn status_with_header(&self, method: &str, path: &str, name: &str, value: &str) -> u16 {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header(name, value)
            .body(())
            .unwrap();
        self.http.run(req).unwrap().status().as_u16()
    }

    /// Opens `/events` and returns a reader of its lines.
    pub fn events(&self, query: &str) -> Box<dyn BufRead + Send> {
        let req = ureq::http::Request::builder()
            .method("GET")
            .uri(self.url(&format!("/events{query}")))
            .header("Authorization", format!("Bearer {}", self.key))
            .body(())
            .unwrap();
        let resp = self.http.run(req).unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        Box::new(BufReader::new(resp.into_body().into_reader()))
    }

    /// The body of an authenticated GET as text, exactly as sent.
    pub fn get_text(&self, path: &str) -> String {
        let req = ureq::http::Request::builder()
            .method("GET")
            .uri(self.url(path))
            .header("Authorization", format!("Bearer {}", self.key))
            .body(())
            .unwrap();
        let mut resp = self.http.run(req).unwrap();
        resp.body_mut().read_to_string().unwrap()
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, Some(&self.key), None)
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.request("POST", path, Some(&self.key), Some(&body))
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, Some(&self.key), None)
    }

    /// Queues a noop task and returns its id.
    pub fn noop(&self, body: Value) -> String {
        let mut body = body;
        body["operation"] = "noop".into();
        let r = self.post("/tasks", body);
        assert_eq!(r.status, 202, "{:?}", r.body);
        r.body["task_id"].as_str().unwrap().to_owned()
    }

    /// Waits for the task to end and returns it.
    pub fn wait(&self, id: &str) -> Value {
        let r = self.get(&format!("/tasks/{id}/wait?timeout=60"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            matches!(
                r.body["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ),
            "task {id} did not end: {:?}",
            r.body
        );
        r.body
    }

    /// Like [`TestAgent::wait`], but `None` when the agent dies before the task ends.
    pub fn wait_raw(&self, id: &str) -> Option<Value> {
        let path = format!("/tasks/{id}/wait?timeout=60");
        let t = match self.request_raw("GET", &path, None) {
            Some(t) => t,
            // The connection failed but the agent lives (a stale pooled connection): again.
            None if self.is_running() => self.request_raw("GET", &path, None)?,
            None => return None,
        };
        assert!(
            matches!(
                t["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ),
            "task {id} did not end: {t:?}"
        );
        Some(t)
    }

    /// Polls `cond` until it holds, failing with the last value seen.
    pub fn eventually<T: std::fmt::Debug>(
        &self,
        what: &str,
        mut probe: impl FnMut() -> T,
        cond: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = probe();
            if cond(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: last seen {v:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The agent binary, run as the agent's user (as an admin runs `keys` and the like).
    pub fn command(&self) -> Command {
        let mut c = Command::new(agent_bin());
        c.current_dir(&self.dir.0);
        as_agent_user(&mut c);
        c
    }

    pub fn key_cmd(&self, args: &[&str]) -> std::process::Output {
        self.command()
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .output()
            .unwrap()
    }

    pub fn host_path(&self, p: &str) -> PathBuf {
        self.host.join(p)
    }

    pub fn invocations(&self) -> Vec<Value> {
        read_jsonl(&self.host.join("invocations.log"))
    }
}

/// Runs an emulated host tool by hand (as an admin would), asserting success; returns stdout.
pub fn host(agent: &TestAgent, tool: &str, args: &[&str]) -> String {
    let out = Command::new(agent.host.join("bin").join(tool))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `illumos-sim dump`: the canonical host state (zones, datasets, links, addresses, services,
/// routeadm, active NAT rules, `ipnat.conf` and `dhcpd.conf`).
pub fn dump(agent: &TestAgent) -> Value {
    let out = Command::new(sim_bin())
        .arg("dump")
        .arg(&agent.host)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    match std::fs::File::open(path) {
        Ok(f) => BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Programs outside the emulator that the agent runs through pfexec (Ansible) are reached, as
/// on OmniOS, at the paths the package's profile names (`/opt/ooce/bin/ansible-playbook`): a
/// link in the emulated root to this machine's copy, and the configuration pointed at it.
fn through_emulated_paths(host: &Path, extra: &str) -> String {
    if agent_user().is_none() {
        return extra.to_string();
    }
    let mut extra = extra.to_string();
    for (key, name) in [
        ("ansible_playbook", "ansible-playbook"),
        ("ansible_galaxy", "ansible-galaxy"),
    ] {
        let Some(real) = guest::which(name) else {
            continue;
        };
        let link = host.join("root/opt/ooce/bin").join(name);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        extra = extra.replace(
            &format!("{key}: {}\n", real.display()),
            &format!("{key}: {}\n", link.display()),
        );
    }
    extra
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.kill();
    }
}
