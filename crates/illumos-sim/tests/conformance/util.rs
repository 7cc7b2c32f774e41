//! A fresh emulated host per test, and helpers to run its tools as real processes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub const SIM: &str = env!("CARGO_BIN_EXE_illumos-sim");

pub struct Host {
    pub dir: PathBuf,
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "expected success, got {self:?}");
        self.stdout
    }
    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "unexpected exit: {self:?}");
        self.stderr
    }
}

impl Host {
    pub fn new() -> Host {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("illumos-sim-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let o = Command::new(SIM)
            .arg("init")
            .arg(&dir)
            .output()
            .expect("run illumos-sim init");
        assert!(o.status.success(), "init failed: {o:?}");
        Host { dir }
    }

    pub fn bin(&self, tool: &str) -> PathBuf {
        self.dir.join("bin").join(tool)
    }

    pub fn cmd(&self, tool: &str, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin(tool));
        c.args(args).env_clear().stdin(Stdio::null());
        c
    }

    pub fn run(&self, tool: &str, args: &[&str]) -> Out {
        Out::from(self.cmd(tool, args).output().expect("spawn tool"))
    }

    pub fn run_in(&self, tool: &str, args: &[&str], input: &[u8]) -> Out {
        let mut child = self
            .cmd(tool, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        Out::from(child.wait_with_output().expect("wait"))
    }

    /// Runs a zonecfg session given as one string.
    pub fn zonecfg(&self, zone: &str, cmds: &str) -> Out {
        self.run("zonecfg", &["-z", zone, cmds])
    }

    pub fn root(&self, p: &str) -> PathBuf {
        self.dir.join("root").join(p.trim_start_matches('/'))
    }

    pub fn write(&self, p: &str, text: &str) {
        let path = self.root(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    pub fn dump(&self) -> String {
        let o = Command::new(SIM)
            .arg("dump")
            .arg(&self.dir)
            .output()
            .expect("dump");
        assert!(o.status.success());
        String::from_utf8(o.stdout).expect("utf8")
    }

    pub fn dump_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.dump()).expect("dump is JSON")
    }

    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("state")).expect("state"))
            .expect("state JSON")
    }

    pub fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("invocations.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }

    pub fn log_argvs(&self) -> Vec<String> {
        self.log()
            .iter()
            .map(|e| {
                e["argv"]
                    .as_array()
                    .expect("argv")
                    .iter()
                    .map(|a| a.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    pub fn set_faults(&self, rules: &str) {
        std::fs::write(self.dir.join("faults"), rules).expect("write faults");
    }

    pub fn config(&self, kv: &str) {
        let o = Command::new(SIM)
            .args(["config"])
            .arg(&self.dir)
            .arg(kv)
            .output()
            .expect("config");
        assert!(o.status.success(), "{o:?}");
    }

    /// A bhyve zone configured with the portable recipe, zonepath under rpool/zones.
    pub fn bhyve_zone(&self, name: &str, extra: &str) {
        let cmds = format!("create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/{name}{extra}");
        self.zonecfg(name, &cmds).ok();
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
