//! The agent process: `serve`, the wait for `/health`, and stopping it.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The line the agent logs once its HTTPS listener is bound (`server.rs`).
const LISTENING: &str = "listening (HTTPS)";

/// How many lines of the agent's log a failure shows at most: enough for the reason and the
/// backtrace anyhow prints after it (with RUST_BACKTRACE set), not a long run's whole log.
const TAIL_LINES: usize = 200;

/// `AGENT serve --config CONFIG`, stdout discarded, stderr (the log) to `log`. The caller adds
/// what is its own (working directory, user, limits) and spawns it.
pub fn serve_command(agent: &Path, config: &Path, log: std::fs::File) -> Command {
    let mut command = Command::new(agent);
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log);
    command
}

/// `path` opened for appending (created if missing): one log across an agent's restarts.
pub fn append_log(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

/// How [`wait_healthy`] waits.
#[derive(Debug, Clone)]
pub struct Wait {
    /// Give up (and panic) after this long.
    pub timeout: Duration,
    /// Between two probes.
    pub poll: Duration,
    /// Ask `/health` only once the log (from the offset given) says the agent listens: when
    /// many agents start at once, another test's agent could answer on a reused port before.
    /// Needs `logging.level` info or finer.
    pub after_listening: bool,
}

impl Default for Wait {
    fn default() -> Wait {
        Wait {
            timeout: Duration::from_secs(30),
            poll: Duration::from_millis(20),
            after_listening: true,
        }
    }
}

/// The agent exited before it answered.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    /// What it logged during this start.
    pub log: String,
}

impl Exited {
    /// Its port was taken between [`crate::free_port`] and its bind: start it on another.
    pub fn port_taken(&self) -> bool {
        self.log.contains("Address already in use")
    }
}

impl std::fmt::Display for Exited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the agent exited with {} before answering /health; its log ends:\n{}",
            self.status,
            log_tail(&self.log)
        )
    }
}

/// Waits until `GET https://127.0.0.1:PORT/health` answers 200. `log` is the agent's log file
/// and `log_from` its length before this start, so only this start's lines count. An exit
/// is returned (a port taken is the caller's to retry); the deadline panics with the log's end.
pub fn wait_healthy(
    child: &mut Child,
    http: &ureq::Agent,
    port: u16,
    log: &Path,
    log_from: u64,
    wait: &Wait,
) -> Result<(), Exited> {
    let url = format!("https://127.0.0.1:{port}/health");
    let deadline = Instant::now() + wait.timeout;
    loop {
        if let Some(status) = child.try_wait().expect("the agent's status") {
            return Err(Exited {
                status,
                log: read_from(log, log_from),
            });
        }
        if !wait.after_listening || read_from(log, log_from).contains(LISTENING) {
            if let Ok(r) = http.get(&url).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            panic!(
                "the agent did not answer {url} within {:?}; its log ends:\n{}",
                wait.timeout,
                log_tail(&read_from(log, log_from))
            );
        }
        std::thread::sleep(wait.poll);
    }
}

/// The file's text from byte `from` on (empty when it cannot be read).
fn read_from(path: &Path, from: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        use std::io::Seek;
        if f.seek(std::io::SeekFrom::Start(from)).is_ok() {
            let _ = f.read_to_end(&mut bytes);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last lines of a log, for a failure message; says how many were left out.
pub fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.trim_end().lines().collect();
    let cut = lines.len().saturating_sub(TAIL_LINES);
    let mut tail = if cut > 0 {
        format!("[{cut} earlier lines left out]\n")
    } else {
        String::new()
    };
    for line in &lines[cut..] {
        tail.push_str(line);
        tail.push('\n');
    }
    tail
}

/// The bootstrap API key the agent writes into its data directory on its first start.
pub fn bootstrap_key(data_dir: &Path) -> String {
    let path = data_dir.join("bootstrap-api-key");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// SIGTERM, then SIGKILL if the agent has not exited within `grace`; reaps it.
pub fn terminate(child: &mut Option<Child>, grace: Duration) {
    let Some(mut c) = child.take() else {
        return;
    };
    // SAFETY: kill(2) on our own child, not yet reaped, so the pid cannot have been reused.
    unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// SIGKILL and reap: no chance to clean up, as in a crash.
pub fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_tail_keeps_the_last_lines_whole() {
        let log: String = (1..=300).map(|i| format!("line {i}\n")).collect();
        let tail = log_tail(&log);
        assert!(
            tail.starts_with("[100 earlier lines left out]\nline 101\n"),
            "{tail}"
        );
        assert!(tail.ends_with("\nline 300\n"));
        assert_eq!(log_tail("short\n"), "short\n");
    }

    /// The bench's shutdown figures rely on the agent getting SIGTERM first (it then stops
    /// cleanly); a program that ignores it is still gone after the grace.
    #[test]
    fn terminate_sends_sigterm_then_kills() {
        let dir = crate::TempDir::new("terminate");
        let (ready, marker) = (dir.0.join("ready"), dir.0.join("termed"));
        let script = format!(
            "trap 'touch {}; exit 0' TERM; touch {}; while :; do sleep 0.01; done",
            marker.display(),
            ready.display()
        );
        let mut child = Some(Command::new("sh").args(["-c", &script]).spawn().unwrap());
        // Signalled before its trap is set, the shell would just die: wait for it.
        while !ready.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        terminate(&mut child, Duration::from_secs(30));
        assert!(child.is_none());
        assert!(marker.exists(), "the program never saw SIGTERM");

        let mut stubborn = Some(
            Command::new("sh")
                .args(["-c", "trap '' TERM; while :; do sleep 0.01; done"])
                .spawn()
                .unwrap(),
        );
        terminate(&mut stubborn, Duration::from_millis(100));
        assert!(stubborn.is_none());
    }
}
