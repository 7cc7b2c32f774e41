//! The one runner every host tool call goes through.
//!
//! It owns what every call needs: where the tools and `pfexec` live, a cleared and then explicit
//! environment, a process group per child (so cancellation and timeouts reach grandchildren), a
//! timeout, stdout and stderr read together and streamed line by line to whoever is listening
//! (the running task's output log), and a trace span with argv, duration and exit code.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cmd::{Cmd, Tool};
use crate::lines::{End, Keep, Line};
use crate::process::{read_lines, Ended, Group, Leftovers, LineSink, Supervisor};

tokio::task_local! {
    static ORIGIN: Arc<str>;
}

/// The environment variable that tells a child which request or task it runs for. The tools
/// ignore it; it lets a trace (or the emulator's invocation log) charge each command to its
/// cause, and tell those apart from background reads, which carry none.
pub const ORIGIN_ENV: &str = "ZONEWEAVER_ORIGIN";

/// Runs `work` with every host command it starts (on this task, not on tasks it spawns) marked
/// as caused by `origin`, e.g. `request:<id>` or `task:<id>`.
pub async fn with_origin<F: std::future::Future>(
    origin: impl Into<Arc<str>>,
    work: F,
) -> F::Output {
    ORIGIN.scope(origin.into(), work).await
}

/// As [`with_origin`], for synchronous work (a program started on a pty, which then outlives
/// the request that started it and runs for its session).
pub fn with_origin_sync<R>(origin: impl Into<Arc<str>>, work: impl FnOnce() -> R) -> R {
    ORIGIN.sync_scope(origin.into(), work)
}

/// The origin the current task runs under, if any.
pub fn current_origin() -> Option<Arc<str>> {
    ORIGIN.try_with(Arc::clone).ok()
}

/// Which of a child's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Receives what the runner sees, as it happens: the command line before it starts, each output
/// line, and the outcome. The agent's task engine implements it to fill a task's output log and
/// the metrics; this crate knows nothing of either.
pub trait OutputSink: Send + Sync {
    fn started(&self, _cmd: &Cmd) {}
    fn line(&self, stream: Stream, line: &str);
    fn finished(&self, _cmd: &Cmd, _elapsed: Duration, _exit_code: Option<i32>) {}
}

/// Where the tools live and how they are run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The privilege prefix (`/usr/bin/pfexec`); `None` runs tools directly.
    pub pfexec: Option<PathBuf>,
    /// When set, every tool is `<tool_dir>/<name>` instead of its OmniOS path.
    pub tool_dir: Option<PathBuf>,
    /// Per-tool overrides, taking precedence over `tool_dir`.
    pub tool_paths: HashMap<Tool, PathBuf>,
    /// Default time a command may take before it is killed.
    pub timeout: Duration,
    /// How long a child gets between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Most stdout bytes of one command kept for parsing; a command that prints more (or a
    /// line longer than [`MAX_LINE_BYTES`]) fails with [`CommandError::OutputTooLarge`] rather
    /// than costing the agent its memory or being parsed cut.
    pub max_stdout_bytes: usize,
}

/// Longest line of a tool's output kept; the rest of a longer line is read and dropped.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How much of a tool's stderr is kept for its error (the last bytes: the reason is at the end).
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            pfexec: Some(PathBuf::from("/usr/bin/pfexec")),
            tool_dir: None,
            tool_paths: HashMap::new(),
            timeout: Duration::from_secs(300),
            kill_grace: Duration::from_secs(5),
            max_stdout_bytes: 64 * 1024 * 1024,
        }
    }
}

impl RunnerConfig {
    pub fn tool_path(&self, tool: Tool) -> PathBuf {
        if let Some(p) = self.tool_paths.get(&tool) {
            return p.clone();
        }
        match &self.tool_dir {
            Some(dir) => dir.join(tool.name()),
            None => PathBuf::from(tool.default_path()),
        }
    }
}

/// Runs [`Cmd`]s. Cheap to clone; [`Runner::scoped`] derives a runner bound to one task's
/// cancellation token and output sink, so operations pass one value around.
#[derive(Clone)]
pub struct Runner {
    config: Arc<RunnerConfig>,
    cancel: Option<CancellationToken>,
    sinks: Vec<Arc<dyn OutputSink>>,
    /// Commands are answered by a scripted host instead of being run (unit tests).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fake: Option<Arc<crate::fake::FakeHost>>,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .field("scoped", &self.cancel.is_some())
            .finish()
    }
}

/// Captured output of a command that exited 0.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A command that ran and exited non-zero (or was killed by a signal). Keeps what a caller needs
/// to classify the failure: the argv and the tool's own words (classify on `stderr`, never on
/// the message, which may carry a `hint`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{argv} exited with {}: {}{}", code.map(|c| c.to_string()).unwrap_or_else(|| "a signal".into()), stderr.trim(), hint.as_deref().map(|h| format!(" {h}")).unwrap_or_default())]
pub struct CommandFailed {
    pub argv: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// What the operator must change, when the failure looks like a missing privilege
    /// ([`privilege_hint`]).
    pub hint: Option<String>,
}

/// Phrases the tools print when they lack a privilege (`dladm: permission denied`, `zfs`'s
/// `cannot create 'x': permission denied`, `svcadm`'s `Permission denied.`, zonecfg's
/// `insufficient privileges`), matched case-insensitively.
const PRIVILEGE_PHRASES: [&str; 2] = ["permission denied", "insufficient privileges"];

/// The hint a failed tool's error carries when its stderr says it lacked a privilege and the
/// agent is not root: then the likely cause is the RBAC profile, which must name the path
/// pfexec matches (the resolved one). An agent running as root lacks no grant: no hint.
pub fn privilege_hint(tool: Tool, stderr: &str, euid: u32, user: &str) -> Option<String> {
    let lower = stderr.to_ascii_lowercase();
    if euid == 0 || !PRIVILEGE_PHRASES.iter().any(|p| lower.contains(p)) {
        return None;
    }
    Some(format!(
        "(the agent runs as {user}; the profile must grant euid=0 to {})",
        tool.resolved_path()
    ))
}

/// The login name of the agent's effective user (`uid N` when it has none), looked up once.
pub fn agent_user() -> &'static str {
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        // SAFETY: geteuid cannot fail.
        let uid = unsafe { libc::geteuid() };
        let mut buf = vec![0 as libc::c_char; 4096];
        // SAFETY: passwd is plain old data, filled by getpwuid_r.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: getpwuid_r writes only into `pw` and `buf` (whose length it is told) and
        // sets `found` to `&pw` or null; the reentrant form is safe with other threads.
        let r = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
        if r != 0 || found.is_null() || pw.pw_name.is_null() {
            return format!("uid {uid}");
        }
        // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
        unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run {argv}: {source}")]
    Spawn {
        argv: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Failed(#[from] CommandFailed),
    #[error("{argv} did not finish within {}s and was killed", timeout.as_secs_f64())]
    TimedOut { argv: String, timeout: Duration },
    #[error("{argv} was cancelled")]
    Cancelled { argv: String },
    #[error("{argv} printed more than {limit} bytes of output or a line longer than {} bytes; its output was dropped, not used", MAX_LINE_BYTES)]
    OutputTooLarge { argv: String, limit: usize },
}

/// A copy for a second caller of the same failure (an I/O error is copied as its kind and
/// message).
impl Clone for CommandError {
    fn clone(&self) -> Self {
        match self {
            CommandError::Spawn { argv, source } => CommandError::Spawn {
                argv: argv.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            CommandError::Failed(f) => CommandError::Failed(f.clone()),
            CommandError::TimedOut { argv, timeout } => CommandError::TimedOut {
                argv: argv.clone(),
                timeout: *timeout,
            },
            CommandError::Cancelled { argv } => CommandError::Cancelled { argv: argv.clone() },
            CommandError::OutputTooLarge { argv, limit } => CommandError::OutputTooLarge {
                argv: argv.clone(),
                limit: *limit,
            },
        }
    }
}

impl CommandError {
    /// The tool's stderr, when it ran to an exit.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            CommandError::Failed(f) => Some(&f.stderr),
            _ => None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, CommandError::Cancelled { .. })
    }
}

impl Runner {
    pub fn new(config: RunnerConfig) -> Self {
        Runner {
            config: Arc::new(config),
            cancel: None,
            sinks: Vec::new(),
            #[cfg(any(test, feature = "testing"))]
            fake: None,
        }
    }

    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// A runner whose commands are killed when `cancel` fires and whose output also goes to
    /// `sink`. Sinks accumulate, so a runner scoped to a task keeps the process-wide observers.
    pub fn scoped(&self, cancel: CancellationToken, sink: Option<Arc<dyn OutputSink>>) -> Runner {
        let mut sinks = self.sinks.clone();
        sinks.extend(sink);
        Runner {
            config: self.config.clone(),
            cancel: Some(cancel),
            sinks,
            #[cfg(any(test, feature = "testing"))]
            fake: self.fake.clone(),
        }
    }

    /// Adds an observer of every command (metrics, for instance).
    pub fn with_sink(mut self, sink: Arc<dyn OutputSink>) -> Runner {
        self.sinks.push(sink);
        self
    }

    pub(crate) fn sinks(&self) -> &[Arc<dyn OutputSink>] {
        &self.sinks
    }

    pub fn cancel_token(&self) -> Option<&CancellationToken> {
        self.cancel.as_ref()
    }

    /// The command that runs `cmd`: `pfexec /abs/tool args...` in a cleared environment
    /// ([`Runner::base_command`]), its arguments taken straight from the `Cmd`.
    pub(crate) fn command(&self, cmd: &Cmd) -> Command {
        let tool = self.config.tool_path(cmd.tool());
        let mut c = match &self.config.pfexec {
            Some(pfexec) => {
                let mut c = self.base_command(pfexec);
                c.arg(tool);
                c
            }
            None => self.base_command(&tool),
        };
        c.args(cmd.get_args());
        c
    }

    pub(crate) fn base_command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        // The tools' output is parsed: fix the locale; nothing of the agent's own environment
        // (API keys in tests, proxies) leaks into a root-run child.
        c.env_clear()
            .env("PATH", "/usr/bin:/usr/sbin:/sbin:/bin")
            .env("LANG", "C")
            .env("LC_ALL", "C");
        if let Some(origin) = current_origin() {
            c.env(ORIGIN_ENV, &*origin);
        }
        c
    }

    /// Runs the command to completion. A non-zero exit is [`CommandError::Failed`] with the
    /// tool's stderr.
    pub async fn output(&self, cmd: &Cmd) -> Result<Output, CommandError> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(host) = &self.fake {
            return host.output(self, cmd);
        }
        let mut command = self.command(cmd);
        for s in &self.sinks {
            s.started(cmd);
        }
        let started = Instant::now();
        // The command's text is made only where it is used: a disabled span and a command
        // that succeeds never need it.
        let span = tracing::debug_span!("host_command", cmd = %cmd);
        let mut supervisor = self.supervisor();
        if let Some(t) = cmd.get_timeout() {
            supervisor.timeout = t;
        }
        let out_sinks: &[Arc<dyn OutputSink>] = if cmd.is_quiet() { &[] } else { &self.sinks };
        let (mut stdout, mut stderr) = (self.stdout_keep(), stderr_keep());
        let outcome = supervisor
            .run(
                &mut command,
                cmd.get_stdin().map(<[u8]>::to_vec),
                LineSink::new(MAX_LINE_BYTES, &mut |line| {
                    keep_line(&mut stdout, Stream::Stdout, out_sinks, line)
                }),
                LineSink::new(MAX_LINE_BYTES, &mut |line| {
                    keep_line(&mut stderr, Stream::Stderr, &self.sinks, line)
                }),
            )
            .instrument(span)
            .await;
        let elapsed = started.elapsed();
        let result = match outcome {
            Err(source) => Err(CommandError::Spawn {
                argv: cmd.to_string(),
                source,
            }),
            Ok(Ended::Done(status)) => finish(cmd.tool(), cmd, status, stdout, stderr, elapsed),
            Ok(Ended::TimedOut) => Err(CommandError::TimedOut {
                argv: cmd.to_string(),
                timeout: supervisor.timeout,
            }),
            Ok(Ended::Cancelled) => Err(CommandError::Cancelled {
                argv: cmd.to_string(),
            }),
        };
        self.finished(cmd, elapsed, &result);
        result
    }

    /// Tells the sinks (and the trace) how a command ended.
    pub(crate) fn finished(
        &self,
        cmd: &Cmd,
        elapsed: Duration,
        result: &Result<Output, CommandError>,
    ) {
        let code = match result {
            Ok(_) => Some(0),
            Err(CommandError::Failed(f)) => f.code,
            Err(_) => None,
        };
        tracing::debug!(cmd = %cmd, elapsed_ms = elapsed.as_secs_f64() * 1e3, exit_code = ?code, "host command finished");
        for s in &self.sinks {
            s.finished(cmd, elapsed, code);
        }
    }

    /// The supervision every child of this runner gets: the default timeout, this runner's
    /// cancellation, the kill grace; a tool's leftovers are left alone (it may have started a
    /// daemon that must outlive it).
    pub(crate) fn supervisor(&self) -> Supervisor<'_> {
        Supervisor {
            timeout: self.config.timeout,
            cancel: self.cancel.as_ref(),
            kill_grace: self.config.kill_grace,
            hook: None,
            leftovers: Leftovers::Leave,
        }
    }

    /// Runs `producer | consumer` with a real pipe between the two processes (`zfs send | zfs
    /// recv`). Both run in their own process groups and both are killed on cancel or timeout;
    /// the pipeline fails if either side does.
    pub async fn pipe(&self, producer: &Cmd, consumer: &Cmd) -> Result<Output, CommandError> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(host) = &self.fake {
            return host.pipe(self, producer, consumer);
        }
        let argv = format!("{producer} | {consumer}");
        for s in &self.sinks {
            s.started(producer);
            s.started(consumer);
        }
        let started = Instant::now();
        let mut supervisor = self.supervisor();
        supervisor.timeout = consumer
            .get_timeout()
            .or(producer.get_timeout())
            .unwrap_or(self.config.timeout);
        let mut first = self.command(producer);
        first
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut p_group = Group::spawn(&mut first).map_err(|source| CommandError::Spawn {
            argv: producer.to_string(),
            source,
        })?;
        let p_out = p_group.child().stdout.take().expect("stdout is piped");
        let p_err = p_group.child().stderr.take().expect("stderr is piped");
        let p_out: Stdio = p_out.try_into().map_err(|source| CommandError::Spawn {
            argv: argv.clone(),
            source,
        })?;
        let mut second = self.command(consumer);
        second
            .stdin(p_out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut c_group = match Group::spawn(&mut second) {
            Ok(c) => c,
            Err(source) => {
                supervisor.stop(&mut p_group).await;
                return Err(CommandError::Spawn {
                    argv: consumer.to_string(),
                    source,
                });
            }
        };
        let c_out = c_group.child().stdout.take().expect("stdout is piped");
        let c_err = c_group.child().stderr.take().expect("stderr is piped");
        let (mut p_stderr, mut c_stdout, mut c_stderr) =
            (stderr_keep(), self.stdout_keep(), stderr_keep());
        let sinks = &self.sinks;
        let mut p_err_each = |l: Line| keep_line(&mut p_stderr, Stream::Stderr, sinks, l);
        let mut c_out_each = |l: Line| keep_line(&mut c_stdout, Stream::Stdout, sinks, l);
        let mut c_err_each = |l: Line| keep_line(&mut c_stderr, Stream::Stderr, sinks, l);
        let outcome = supervisor
            .watch(async {
                tokio::join!(
                    read_lines(p_err, LineSink::new(MAX_LINE_BYTES, &mut p_err_each)),
                    read_lines(c_out, LineSink::new(MAX_LINE_BYTES, &mut c_out_each)),
                    read_lines(c_err, LineSink::new(MAX_LINE_BYTES, &mut c_err_each)),
                );
                let p_status = p_group.wait().await;
                let c_status = c_group.wait().await;
                (p_status, c_status)
            })
            .await;
        let elapsed = started.elapsed();
        let result = match outcome {
            Ended::Done((p_status, c_status)) => {
                let io = |source| CommandError::Spawn {
                    argv: argv.clone(),
                    source,
                };
                match (p_status.map_err(io), c_status.map_err(io)) {
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    // The consumer's failure says more (the producer usually dies of SIGPIPE
                    // after it).
                    (_, Ok(c_status)) if !c_status.success() => finish(
                        consumer.tool(),
                        consumer,
                        c_status,
                        c_stdout,
                        c_stderr,
                        elapsed,
                    ),
                    (Ok(p_status), _) if !p_status.success() => finish(
                        producer.tool(),
                        producer,
                        p_status,
                        Keep::new(0, End::Head),
                        p_stderr,
                        elapsed,
                    ),
                    (_, Ok(c_status)) => finish(
                        consumer.tool(),
                        &argv,
                        c_status,
                        c_stdout,
                        merged(p_stderr, c_stderr),
                        elapsed,
                    ),
                }
            }
            Ended::TimedOut | Ended::Cancelled => {
                supervisor.stop(&mut p_group).await;
                supervisor.stop(&mut c_group).await;
                if matches!(outcome, Ended::TimedOut) {
                    Err(CommandError::TimedOut {
                        argv,
                        timeout: supervisor.timeout,
                    })
                } else {
                    Err(CommandError::Cancelled { argv })
                }
            }
        };
        let code = match &result {
            Ok(_) => Some(0),
            Err(CommandError::Failed(f)) => f.code,
            Err(_) => None,
        };
        for s in &self.sinks {
            s.finished(producer, elapsed, code);
            s.finished(consumer, elapsed, code);
        }
        result
    }

    fn stdout_keep(&self) -> Keep {
        Keep::new(self.config.max_stdout_bytes, End::Head)
    }
}

fn stderr_keep() -> Keep {
    Keep::new(STDERR_TAIL_BYTES, End::Tail)
}

/// Both sides' stderr of a pipe, each already bounded.
fn merged(first: Keep, second: Keep) -> Keep {
    let mut k = stderr_keep();
    for part in [first.into_marked(), second.into_marked()] {
        for line in part.lines() {
            k.push_line(line);
        }
    }
    k
}

pub(crate) fn finish(
    tool: Tool,
    argv: &dyn fmt::Display,
    status: ExitStatus,
    stdout: Keep,
    stderr: Keep,
    elapsed: Duration,
) -> Result<Output, CommandError> {
    let stderr = stderr.into_marked();
    if !status.success() {
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        let hint = privilege_hint(tool, &stderr, euid, agent_user());
        return Err(CommandError::Failed(CommandFailed {
            argv: argv.to_string(),
            code: status.code(),
            stdout: stdout.into_marked(),
            stderr,
            hint,
        }));
    }
    if stdout.dropped() > 0 {
        return Err(CommandError::OutputTooLarge {
            argv: argv.to_string(),
            limit: stdout.max(),
        });
    }
    Ok(Output {
        stdout: stdout.into_text(),
        stderr,
        elapsed,
    })
}

/// Hands one line of a child's output to the sinks and keeps what `keep` allows.
fn keep_line(keep: &mut Keep, stream: Stream, sinks: &[Arc<dyn OutputSink>], line: Line) {
    let text = line.text();
    for s in sinks {
        s.line(stream, &text);
    }
    keep.count_dropped(line.dropped);
    keep.push_line(&String::from_utf8_lossy(&line.bytes));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A runner whose `zfs` is `/bin/sh`, and the command that runs `script` with it
    /// (`sh -c SCRIPT zfs ARGS...`): the runner's process handling is tested on real
    /// processes, with no script written to disk (a file being written while another test
    /// forks is the ETXTBSY flake) and no emulator.
    fn sh(script: &str) -> (Cmd, RunnerConfig) {
        let config = RunnerConfig {
            pfexec: None,
            tool_paths: HashMap::from([(Tool::Zfs, PathBuf::from("/bin/sh"))]),
            timeout: Duration::from_secs(10),
            kill_grace: Duration::from_millis(200),
            ..Default::default()
        };
        (Cmd::new(Tool::Zfs).args(["-c", script, "zfs"]), config)
    }

    fn temp_file(label: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        std::env::temp_dir().join(format!(
            "illumos-runner-{}-{label}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ))
    }

    #[derive(Default)]
    struct Lines(Mutex<Vec<(Stream, String)>>);
    impl OutputSink for Lines {
        fn line(&self, stream: Stream, line: &str) {
            self.0.lock().unwrap().push((stream, line.to_owned()));
        }
    }

    #[tokio::test]
    async fn arguments_reach_the_tool_unsplit_and_uninterpreted() {
        let (cmd, config) = sh(r#"for a in "$@"; do printf '[%s]\n' "$a"; done"#);
        let out = Runner::new(config)
            .output(&cmd.args(["a b", "$(id)", "x;y"]))
            .await
            .unwrap();
        assert_eq!(out.stdout, "[a b]\n[$(id)]\n[x;y]\n");
    }

    #[tokio::test]
    async fn the_environment_is_cleared() {
        std::env::set_var("ZW_SECRET_FOR_TEST", "leak");
        let (cmd, config) = sh("env");
        let out = Runner::new(config).output(&cmd).await.unwrap();
        assert!(!out.stdout.contains("ZW_SECRET_FOR_TEST"));
        assert!(out.stdout.contains("LC_ALL=C"));
    }

    #[tokio::test]
    async fn non_zero_exit_keeps_stderr_and_code() {
        let host = crate::fake::FakeHost::new();
        host.expect(
            ["zfs", "list"],
            crate::fake::Reply::fails(1, "cannot open 'x': dataset does not exist\n"),
        );
        let err = host
            .runner()
            .output(&Cmd::new(Tool::Zfs).arg("list"))
            .await
            .unwrap_err();
        host.verify();
        match err {
            CommandError::Failed(f) => {
                assert_eq!(f.code, Some(1));
                assert_eq!(f.stderr.trim(), "cannot open 'x': dataset does not exist");
                assert_eq!(f.argv, "zfs list");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn output_lines_stream_to_the_sink() {
        let (cmd, config) = sh("echo one; echo two >&2; echo three");
        let lines = Arc::new(Lines::default());
        let runner = Runner::new(config).scoped(CancellationToken::new(), Some(lines.clone()));
        runner.output(&cmd).await.unwrap();
        let mut seen = lines.0.lock().unwrap().clone();
        seen.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            seen,
            vec![
                (Stream::Stdout, "one".to_owned()),
                (Stream::Stdout, "three".to_owned()),
                (Stream::Stderr, "two".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn stdin_is_fed() {
        let (cmd, config) = sh("cat");
        let out = Runner::new(config)
            .output(&cmd.stdin("hello\n"))
            .await
            .unwrap();
        assert_eq!(out.stdout, "hello\n");
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let pidfile = temp_file("grandchild.pid");
        let (cmd, config) = sh(&format!("sleep 60 & echo $! > {}; wait", pidfile.display()));
        let err = Runner::new(config)
            .output(&cmd.timeout(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(matches!(err, CommandError::TimedOut { .. }), "{err:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&pidfile);
        // The grandchild was signalled with the group; give the kernel a moment to reap it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(pid), "grandchild {pid} survived the timeout");
    }

    #[tokio::test]
    async fn cancellation_kills_a_running_command() {
        let (cmd, config) = sh("trap '' TERM; sleep 60");
        let cancel = CancellationToken::new();
        let runner = Runner::new(config).scoped(cancel.clone(), None);
        let task = tokio::spawn(async move { runner.output(&cmd).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
        let err = task.await.unwrap().unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
    }

    #[tokio::test]
    async fn pipe_connects_two_processes() {
        let (cmd, config) =
            sh("if [ \"$1\" = send ]; then echo stream-of-$2; else read x; echo got $x; fi");
        let out = Runner::new(config)
            .pipe(&cmd.clone().args(["send", "a@s"]), &cmd.args(["recv", "b"]))
            .await
            .unwrap();
        assert_eq!(out.stdout, "got stream-of-a@s\n");
    }

    /// A tool that prints far more than the agent keeps, with and without newlines, costs a
    /// bounded amount: stdout over the limit fails the command instead of being parsed, the
    /// sink sees cut lines, stderr keeps its tail.
    #[tokio::test]
    async fn a_flood_of_output_is_bounded_and_refused() {
        let (cmd, mut config) =
            sh("head -c 20000000 /dev/zero | tr '\\0' x; echo; yes line | head -n 300000");
        config.max_stdout_bytes = 1024 * 1024;
        let lines = Arc::new(Lines::default());
        let runner =
            Runner::new(config.clone()).scoped(CancellationToken::new(), Some(lines.clone()));
        let err = runner.output(&cmd).await.unwrap_err();
        assert!(
            matches!(err, CommandError::OutputTooLarge { limit, .. } if limit == 1024 * 1024),
            "{err:?}"
        );
        let seen = lines.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 300_001);
        assert!(
            seen[0].1.len() < MAX_LINE_BYTES + 64
                && seen[0].1.ends_with(&format!(
                    "[line cut: {} more bytes dropped]",
                    20_000_000 - MAX_LINE_BYTES
                )),
            "{}",
            &seen[0].1[seen[0].1.len() - 60..]
        );

        let (cmd, config) = sh(
            "head -c 20000000 /dev/zero | tr '\\0' e >&2; echo >&2; echo the reason >&2; exit 3",
        );
        match Runner::new(config).output(&cmd).await {
            Err(CommandError::Failed(f)) => {
                assert_eq!(f.code, Some(3));
                assert!(
                    f.stderr.len() <= STDERR_TAIL_BYTES + 64,
                    "{}",
                    f.stderr.len()
                );
                assert!(
                    f.stderr.starts_with(&format!(
                        "[{} earlier bytes dropped]\n",
                        20_000_000 - MAX_LINE_BYTES + 12
                    )),
                    "{}",
                    &f.stderr[..80]
                );
                assert!(
                    f.stderr.ends_with("the reason\n"),
                    "{}",
                    &f.stderr[f.stderr.len() - 40..]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_permission_error_of_an_unprivileged_agent_names_the_grant_it_lacks() {
        let hint = privilege_hint(
            Tool::Zfs,
            "cannot create 'rpool/x': Permission denied\n",
            100,
            "zoneweaver",
        );
        assert_eq!(
            hint.as_deref(),
            Some("(the agent runs as zoneweaver; the profile must grant euid=0 to /sbin/zfs)")
        );
        let hint = privilege_hint(
            Tool::Zonecfg,
            "zonecfg: Insufficient privileges\n",
            100,
            "zw",
        );
        assert!(hint.unwrap().ends_with("to /usr/sbin/zonecfg)"));
        // Root lacks no grant; other failures are not about privileges.
        assert_eq!(
            privilege_hint(Tool::Zfs, "permission denied", 0, "root"),
            None
        );
        assert_eq!(
            privilege_hint(Tool::Zfs, "dataset does not exist", 100, "zw"),
            None
        );
        let failed = CommandFailed {
            argv: "zfs create rpool/x".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: "cannot create 'rpool/x': permission denied\n".into(),
            hint: privilege_hint(Tool::Zfs, "permission denied", 100, "zoneweaver"),
        };
        assert_eq!(
            failed.to_string(),
            "zfs create rpool/x exited with 1: cannot create 'rpool/x': permission denied \
             (the agent runs as zoneweaver; the profile must grant euid=0 to /sbin/zfs)"
        );
    }

    #[test]
    fn pfexec_prefixes_the_absolute_tool_path() {
        let runner = Runner::new(RunnerConfig::default());
        let command = runner.command(&Cmd::new(Tool::Dladm).arg("show-link"));
        let command = command.as_std();
        assert_eq!(command.get_program(), "/usr/bin/pfexec");
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args, ["/usr/sbin/dladm", "show-link"]);
        let direct = Runner::new(RunnerConfig {
            pfexec: None,
            ..Default::default()
        });
        let command = direct.command(&Cmd::new(Tool::Dladm).arg("show-link"));
        assert_eq!(command.as_std().get_program(), "/usr/sbin/dladm");
    }
}
