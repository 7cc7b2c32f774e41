//! One invocation's context: the host, the loaded state (held under the host lock), and the
//! tool's buffered stdout/stderr.

use std::io::Write;
use std::time::Duration;

use crate::host::Host;
use crate::lock::HostLock;
use crate::simconf::SimConf;
use crate::state::State;

pub struct Ctx {
    pub host: Host,
    /// The tool's name (basename of argv[0]).
    pub tool: String,
    /// argv[0] exactly as given (routeadm prefixes its errors with it).
    pub argv0: String,
    pub st: State,
    dirty: bool,
    lock: Option<HostLock>,
    out: Vec<u8>,
    err: Vec<u8>,
    conf: Option<SimConf>,
    /// The fault action applied to this invocation, for the invocation log.
    pub fault: Option<String>,
    /// Whether this invocation may change the host: its effective uid owns the host's state
    /// (root on a host made by root, where only what pfexec raised to euid 0 may).
    privileged: bool,
    /// A change was refused for lack of privilege.
    denied: bool,
    /// What `/etc/zones` said when the state was read, to rewrite only what changed.
    zone_files: crate::zonefiles::Snapshot,
}

impl Ctx {
    pub fn open(host: &Host, tool: &str, argv0: &str) -> std::io::Result<Ctx> {
        if !host.state_path().exists() {
            return Err(std::io::Error::other(format!(
                "{} is not an emulated host (run `illumos-sim init {}`)",
                host.dir.display(),
                host.dir.display()
            )));
        }
        let lock = HostLock::acquire(&host.lock_path())?;
        let st = State::load(&host.state_path())?;
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(host.state_path())?.uid();
        // SAFETY: geteuid cannot fail.
        let privileged = unsafe { libc::geteuid() } == owner;
        Ok(Ctx {
            host: host.clone(),
            tool: tool.to_string(),
            argv0: argv0.to_string(),
            dirty: false,
            lock: Some(lock),
            out: Vec::new(),
            err: Vec::new(),
            conf: None,
            fault: None,
            privileged,
            denied: false,
            zone_files: crate::zonefiles::snapshot(&st),
            st,
        })
    }

    /// Marks the state as changed: it is written back before the lock is released.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    pub fn conf(&mut self) -> SimConf {
        if self.conf.is_none() {
            self.conf = Some(SimConf::load(&self.host));
        }
        self.conf.clone().unwrap_or_default()
    }

    pub fn out(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }
    pub fn outln(&mut self, s: &str) {
        self.out(s);
        self.out.push(b'\n');
    }
    pub fn err(&mut self, s: &str) {
        self.err.extend_from_slice(s.as_bytes());
    }
    pub fn errln(&mut self, s: &str) {
        self.err(s);
        self.err.push(b'\n');
    }

    fn save(&mut self) {
        if self.dirty && !self.privileged {
            self.denied = true;
            self.dirty = false;
            self.st = State::load(&self.host.state_path()).unwrap_or_default();
            return;
        }
        if self.dirty {
            if let Err(e) = self.st.save(&self.host.state_path()) {
                self.errln(&format!("illumos-sim: cannot write state: {e}"));
            } else {
                let now = crate::zonefiles::snapshot(&self.st);
                crate::zonefiles::sync(&self.host, &self.zone_files, &now);
                self.zone_files = now;
            }
            self.dirty = false;
        }
    }

    pub fn flush_output(&mut self) {
        let _ = std::io::stdout().write_all(&self.out);
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(&self.err);
        self.out.clear();
        self.err.clear();
    }

    /// Commits the state and releases the lock for `ms` (a long-running operation such as a
    /// zone install must not block every other tool), then re-locks and re-reads the state:
    /// the caller must re-check whatever it relies on.
    pub fn pause(&mut self, ms: u64) {
        self.unlock();
        self.flush_output();
        if ms > 0 {
            std::thread::sleep(Duration::from_millis(ms));
        }
        self.relock();
    }

    pub fn unlock(&mut self) {
        self.save();
        self.lock = None;
    }

    pub fn relock(&mut self) {
        if self.lock.is_some() {
            return;
        }
        match HostLock::acquire(&self.host.lock_path()) {
            Ok(l) => self.lock = Some(l),
            Err(e) => self.errln(&format!("illumos-sim: cannot lock host: {e}")),
        }
        match State::load(&self.host.state_path()) {
            Ok(st) => {
                self.zone_files = crate::zonefiles::snapshot(&st);
                self.st = st;
            }
            Err(e) => self.errln(&format!("illumos-sim: cannot read state: {e}")),
        }
    }

    /// Writes the state if changed, releases the lock, then emits the buffered output and
    /// returns the exit status. A change made without privilege is not written: the tool's own
    /// output is replaced by a permission error, as the real tool fails before changing
    /// anything.
    pub fn finish(mut self, code: i32, args: &[String]) -> i32 {
        self.unlock();
        if self.denied {
            self.out.clear();
            self.err.clear();
            let msg = denied_message(&self.tool, args);
            self.errln(&msg);
            self.flush_output();
            return 1;
        }
        self.flush_output();
        code
    }
}

/// What a tool says when the caller lacks the privilege for a change. zfs and zpool name the
/// object the libzfs way (`cannot create 'rpool/x': permission denied`); the others prefix
/// their name. The exact wording of each tool is not in the reference; every one says
/// "permission denied", which is what the agent recognises.
pub fn denied_message(tool: &str, args: &[String]) -> String {
    let operands: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let verb = operands.first().map(|s| s.as_str()).unwrap_or("");
    match tool {
        "zfs" | "zpool" => {
            let object = operands.last().map(|s| s.as_str()).unwrap_or("");
            format!("cannot {verb} '{object}': permission denied")
        }
        _ if verb.is_empty() => format!("{tool}: permission denied"),
        _ => format!("{tool}: {verb}: permission denied"),
    }
}
