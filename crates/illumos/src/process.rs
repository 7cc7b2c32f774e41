//! The one process supervisor: a child leads a process group of its own, its stdout and stderr
//! are read line by line as they come, and a timeout or a cancellation stops the whole group
//! (SIGTERM, SIGKILL after a grace period) and reaps the child.
//!
//! The runner (host tools, `zlogin` on a pty) and the agent's provisioning programs (`ssh`,
//! `rsync`, `ansible-playbook`) all start children through [`Group::spawn`] and stop them
//! through [`Group::stop`], so "cancel reaches grandchildren" is written once. A child that
//! runs as another account cannot be signalled by an unprivileged agent (EPERM): a
//! [`SignalHook`] then sends the signal another way (the agent's `pfexec kill`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::lines::{Line, LineReader};

/// The signals the supervisor sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

impl Signal {
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }

    /// The name `kill -s` takes.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Signals a group the agent may not signal itself: `kill(2)` said EPERM because the group's
/// processes run as another account (the Ansible controller's, started through pfexec).
pub trait SignalHook: Send + Sync {
    fn signal_group(&self, pgid: u32, signal: Signal) -> BoxFuture<'_, ()>;
}

/// What becomes of the rest of a child's group when the child exits by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Left alone: a host tool may start a daemon that must outlive it.
    Leave,
    /// Killed: whatever a guest-facing program (ssh, ansible) left behind goes with it.
    Kill,
}

/// A child leading a process group of its own (its pgid is its pid). Dropping it kills the
/// child (not the group: [`Group::stop`] is the way to end a group).
pub struct Group {
    child: Child,
    pgid: Option<u32>,
}

impl Group {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> io::Result<Group> {
        command.process_group(0).kill_on_drop(true);
        let child = command.spawn()?;
        let pgid = child.id();
        Ok(Group { child, pgid })
    }

    /// The child, to take its pipes.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn pgid(&self) -> Option<u32> {
        self.pgid
    }

    /// Waits for the child to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Sends `signal` to the whole group at once; false when that is not permitted (EPERM).
    /// A group that is gone counts as signalled.
    pub fn signal_now(&self, signal: Signal) -> bool {
        let Some(pgid) = self.pgid.and_then(|p| libc::pid_t::try_from(p).ok()) else {
            return true;
        };
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child; it touches no memory of ours.
        let rc = unsafe { libc::kill(-pgid, signal.number()) };
        rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EPERM)
    }

    /// Sends `signal` to the group, through `hook` when the agent may not.
    pub async fn signal(&self, signal: Signal, hook: Option<&dyn SignalHook>) {
        if self.signal_now(signal) {
            return;
        }
        if let (Some(hook), Some(pgid)) = (hook, self.pgid) {
            hook.signal_group(pgid, signal).await;
        }
    }

    /// Ends the group: SIGTERM, then SIGKILL once the child has exited or `grace` has passed
    /// (whatever the leader left in its group goes too), and reaps the child. The reap is
    /// bounded by another `grace`: a child the SIGKILL did not reach (the hook failed) is left
    /// to `kill_on_drop` rather than hanging the caller.
    pub async fn stop(&mut self, grace: Duration, hook: Option<&dyn SignalHook>) {
        self.signal(Signal::Term, hook).await;
        let exited = tokio::time::timeout(grace, self.child.wait()).await.is_ok();
        self.signal(Signal::Kill, hook).await;
        if !exited
            && tokio::time::timeout(grace, self.child.wait())
                .await
                .is_err()
        {
            tracing::warn!(pgid = ?self.pgid, "a stopped child did not exit after SIGKILL");
        }
    }
}

/// How a supervised piece of work ended.
#[derive(Debug)]
pub enum Ended<T> {
    Done(T),
    TimedOut,
    Cancelled,
}

/// Where one output stream's lines go: each line (of at most `max_line_bytes`; the rest of a
/// longer one is counted in [`Line::dropped`]) is handed to `each` as it is read.
pub struct LineSink<'a> {
    pub max_line_bytes: usize,
    pub each: &'a mut (dyn FnMut(Line) + Send),
}

impl<'a> LineSink<'a> {
    pub fn new(max_line_bytes: usize, each: &'a mut (dyn FnMut(Line) + Send)) -> Self {
        LineSink {
            max_line_bytes,
            each,
        }
    }
}

/// The rules one child runs under.
#[derive(Clone, Copy)]
pub struct Supervisor<'a> {
    pub timeout: Duration,
    pub cancel: Option<&'a CancellationToken>,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    pub hook: Option<&'a dyn SignalHook>,
    pub leftovers: Leftovers,
}

impl Supervisor<'_> {
    /// Runs `work` until it finishes, the timeout passes or the cancellation fires. The caller
    /// stops its groups ([`Supervisor::stop`]) when it did not finish.
    pub async fn watch<F: Future>(&self, work: F) -> Ended<F::Output> {
        let cancelled = async {
            match self.cancel {
                Some(c) => c.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = work => Ended::Done(out),
            _ = tokio::time::sleep(self.timeout) => Ended::TimedOut,
            _ = cancelled => Ended::Cancelled,
        }
    }

    /// [`Group::stop`] with this supervisor's grace and hook.
    pub async fn stop(&self, group: &mut Group) {
        group.stop(self.kill_grace, self.hook).await;
    }

    /// After the child exited by itself: applies [`Supervisor::leftovers`].
    pub async fn exited(&self, group: &Group) {
        if self.leftovers == Leftovers::Kill {
            group.signal(Signal::Kill, self.hook).await;
        }
    }

    /// The whole life of one child: spawns `command` in its own group with stdout and stderr
    /// piped (stdin too when `stdin` is given, else /dev/null), writes `stdin`, streams both
    /// outputs to their sinks until they close, reaps the child; on timeout or cancellation
    /// stops the group. An error is a failure to spawn or to wait.
    pub async fn run(
        &self,
        command: &mut Command,
        stdin: Option<Vec<u8>>,
        stdout: LineSink<'_>,
        stderr: LineSink<'_>,
    ) -> io::Result<Ended<ExitStatus>> {
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut group = Group::spawn(command)?;
        let writer = match (stdin, group.child().stdin.take()) {
            (Some(bytes), Some(mut pipe)) => Some(tokio::spawn(async move {
                // A program that exits without reading its input is not our error to report.
                let _ = pipe.write_all(&bytes).await;
                let _ = pipe.shutdown().await;
            })),
            _ => None,
        };
        let out = group.child().stdout.take().expect("stdout is piped");
        let err = group.child().stderr.take().expect("stderr is piped");
        let outcome = self
            .watch(async {
                tokio::join!(read_lines(out, stdout), read_lines(err, stderr));
                group.wait().await
            })
            .await;
        if let Some(w) = writer {
            w.abort();
        }
        Ok(match outcome {
            Ended::Done(status) => {
                let status = status?;
                self.exited(&group).await;
                Ended::Done(status)
            }
            Ended::TimedOut => {
                self.stop(&mut group).await;
                Ended::TimedOut
            }
            Ended::Cancelled => {
                self.stop(&mut group).await;
                Ended::Cancelled
            }
        })
    }
}

/// Reads `reader` to its end, handing each bounded line to the sink; never holds more than one
/// such line, whatever the child prints.
pub async fn read_lines<R: AsyncRead + Unpin>(reader: R, sink: LineSink<'_>) {
    let mut lines = LineReader::new(reader, sink.max_line_bytes);
    while let Some(line) = lines.next_line().await {
        (sink.each)(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    fn supervisor(timeout: Duration, cancel: Option<&CancellationToken>) -> Supervisor<'_> {
        Supervisor {
            timeout,
            cancel,
            kill_grace: Duration::from_millis(200),
            hook: None,
            leftovers: Leftovers::Leave,
        }
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    /// Waits (bounded) for a process the test expects to be gone; reaping by init is not
    /// instantaneous.
    async fn gone(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        !alive(pid)
    }

    async fn run(
        sup: &Supervisor<'_>,
        script: &str,
        stdin: Option<&str>,
    ) -> (io::Result<Ended<ExitStatus>>, Vec<String>, Vec<String>) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = sup
            .run(
                &mut sh(script),
                stdin.map(|s| s.as_bytes().to_vec()),
                LineSink::new(64, &mut |l: Line| out.push(l.text())),
                LineSink::new(64, &mut |l: Line| err.push(l.text())),
            )
            .await;
        (r, out, err)
    }

    #[tokio::test]
    async fn lines_of_both_streams_reach_their_sinks_and_stdin_is_fed() {
        let sup = supervisor(Duration::from_secs(30), None);
        let (r, out, err) = run(
            &sup,
            "read x; echo got $x; echo oops >&2; exit 3",
            Some("hi\n"),
        )
        .await;
        match r.unwrap() {
            Ended::Done(s) => assert_eq!(s.code(), Some(3)),
            other => panic!("{other:?}"),
        }
        assert_eq!(out, ["got hi"]);
        assert_eq!(err, ["oops"]);
    }

    /// The child's background job holds no pipe (its output goes to a file), so the child's own
    /// exit ends the run; the pid file lets the test look for the job afterwards.
    fn leaves_a_job(pidfile: &std::path::Path) -> String {
        format!(
            "sleep 600 >/dev/null 2>&1 & echo $! > {}; exit 0",
            pidfile.display()
        )
    }

    fn temp_path(label: &str) -> std::path::PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        std::env::temp_dir().join(format!(
            "illumos-process-{}-{label}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ))
    }

    fn read_pid(path: &std::path::Path) -> i32 {
        let pid = std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(path);
        pid
    }

    #[tokio::test]
    async fn a_child_that_exits_keeps_or_loses_its_group_as_asked() {
        let pidfile = temp_path("leave");
        let sup = supervisor(Duration::from_secs(30), None);
        let (r, ..) = run(&sup, &leaves_a_job(&pidfile), None).await;
        assert!(matches!(r.unwrap(), Ended::Done(s) if s.success()));
        let job = read_pid(&pidfile);
        assert!(alive(job), "Leftovers::Leave killed the group");
        // SAFETY: the test's own background job.
        unsafe { libc::kill(job, libc::SIGKILL) };

        let pidfile = temp_path("kill");
        let sup = Supervisor {
            leftovers: Leftovers::Kill,
            ..supervisor(Duration::from_secs(30), None)
        };
        let (r, ..) = run(&sup, &leaves_a_job(&pidfile), None).await;
        assert!(matches!(r.unwrap(), Ended::Done(_)));
        assert!(
            gone(read_pid(&pidfile)).await,
            "Leftovers::Kill left the job"
        );
    }

    #[tokio::test]
    async fn a_timeout_stops_the_whole_group_even_when_the_child_ignores_sigterm() {
        let pidfile = temp_path("timeout");
        let sup = supervisor(Duration::from_millis(300), None);
        let script = format!(
            "trap '' TERM; sleep 600 & echo $! > {}; wait",
            pidfile.display()
        );
        let (r, ..) = run(&sup, &script, None).await;
        assert!(matches!(r.unwrap(), Ended::TimedOut));
        assert!(gone(read_pid(&pidfile)).await, "the grandchild survived");
    }

    #[tokio::test]
    async fn a_cancel_stops_the_group() {
        let pidfile = temp_path("cancel");
        let cancel = CancellationToken::new();
        let sup = supervisor(Duration::from_secs(600), Some(&cancel));
        let script = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let watcher = {
            let (cancel, pidfile) = (cancel.clone(), pidfile.clone());
            tokio::spawn(async move {
                // Cancel once the grandchild exists: the event the test is about.
                while std::fs::read_to_string(&pidfile).map_or(true, |s| s.trim().is_empty()) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                cancel.cancel();
            })
        };
        let (r, ..) = run(&sup, &script, None).await;
        watcher.await.unwrap();
        assert!(matches!(r.unwrap(), Ended::Cancelled));
        assert!(gone(read_pid(&pidfile)).await, "the grandchild survived");
    }

    /// Records what the hook was asked to do.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(u32, Signal)>>);
    impl SignalHook for Recorded {
        fn signal_group(&self, pgid: u32, signal: Signal) -> BoxFuture<'_, ()> {
            self.0.lock().unwrap().push((pgid, signal));
            Box::pin(async {})
        }
    }

    /// The hook is for EPERM only: a group the agent may signal never reaches it.
    #[tokio::test]
    async fn the_hook_is_not_asked_when_the_agent_may_signal_the_group() {
        let hook = Arc::new(Recorded::default());
        let sup = Supervisor {
            hook: Some(&*hook),
            leftovers: Leftovers::Kill,
            ..supervisor(Duration::from_millis(200), None)
        };
        let (r, ..) = run(&sup, "sleep 600", None).await;
        assert!(matches!(r.unwrap(), Ended::TimedOut));
        assert!(hook.0.lock().unwrap().is_empty());
    }
}
