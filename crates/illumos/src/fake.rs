//! A scripted host for unit tests (feature `testing`): a [`Runner`] that runs nothing and answers
//! an expected sequence of commands with canned output.
//!
//! It is a test of the *sequence* an operation runs (which commands, in which order, and what
//! it does with each answer), not a model of the host: it keeps no state, and an answer is
//! whatever the test wrote. Tests of what the host does with a command belong to the emulator
//! (`illumos-sim`) and the integration tests; this is for the many small paths in between (a
//! zone that is already running, a `zoneadm` failure and the error text a user then reads, an
//! undo after step two) that would otherwise need a script on disk or a whole agent.
//!
//! ```ignore
//! let host = FakeHost::new();
//! host.expect(["zoneadm", "-z", "web01", "list", "-p"], Reply::stdout("-:web01:installed:/z/web01:u:bhyve:excl\n"))
//!     .expect(["zoneadm", "-z", "web01", "boot"], Reply::fails(1, "zoneadm: zone 'web01': boot failed"));
//! let runner = host.runner();
//! // ... run the code under test with `runner` ...
//! host.verify(); // every expectation consumed, no unexpected command
//! ```
//!
//! Commands are compared by [`Cmd::argv`]: the tool's name and its arguments (no pfexec, no
//! path). A command that is not the next expected one does not run: it fails with
//! [`CommandError::Spawn`] naming what was expected, and [`FakeHost::verify`] panics with it
//! even if the code under test swallowed the error.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cmd::Cmd;
use crate::lines::{End, Keep};
use crate::runner::{finish, CommandError, Output, Runner, RunnerConfig, Stream};

/// What a command prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Reply {
    /// Exits 0 and prints nothing.
    pub fn ok() -> Reply {
        Reply::stdout("")
    }

    /// Exits 0 after printing `text` on stdout.
    pub fn stdout(text: impl Into<String>) -> Reply {
        Reply {
            stdout: text.into(),
            stderr: String::new(),
            code: 0,
        }
    }

    /// Exits `code` after printing `stderr` (the tool's own words: callers classify them).
    pub fn fails(code: i32, stderr: impl Into<String>) -> Reply {
        Reply {
            stdout: String::new(),
            stderr: stderr.into(),
            code,
        }
    }
}

struct Expected {
    argv: Vec<String>,
    reply: Reply,
}

#[derive(Default)]
struct State {
    expected: VecDeque<Expected>,
    ran: Vec<Vec<String>>,
    unexpected: Vec<String>,
}

/// See the module's documentation.
#[derive(Default)]
pub struct FakeHost {
    state: Mutex<State>,
}

fn show(argv: &[String]) -> String {
    argv.join(" ")
}

impl FakeHost {
    pub fn new() -> Arc<FakeHost> {
        Arc::new(FakeHost::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A test that panicked while holding the lock still gets its report from verify().
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a command to the expected sequence, with its answer.
    pub fn expect<I, S>(&self, argv: I, reply: Reply) -> &Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state().expected.push_back(Expected {
            argv: argv.into_iter().map(Into::into).collect(),
            reply,
        });
        self
    }

    /// A runner whose commands this host answers (no pfexec, the default timeouts; scope it
    /// with [`Runner::scoped`] as usual).
    pub fn runner(self: &Arc<Self>) -> Runner {
        let mut runner = Runner::new(RunnerConfig {
            pfexec: None,
            ..Default::default()
        });
        runner.fake = Some(self.clone());
        runner
    }

    /// The commands answered so far, in order.
    pub fn ran(&self) -> Vec<Vec<String>> {
        self.state().ran.clone()
    }

    /// Panics unless every expected command ran and no other command was asked for.
    #[track_caller]
    pub fn verify(&self) {
        let s = self.state();
        let mut report = String::new();
        if !s.unexpected.is_empty() {
            report.push_str("unexpected commands:\n");
            for u in &s.unexpected {
                report.push_str(&format!("  {u}\n"));
            }
        }
        if !s.expected.is_empty() {
            report.push_str("expected commands that never ran:\n");
            for e in &s.expected {
                report.push_str(&format!("  {}\n", show(&e.argv)));
            }
        }
        if !report.is_empty() {
            let ran: Vec<String> = s.ran.iter().map(|a| format!("  {}", show(a))).collect();
            panic!(
                "fake host: {report}commands answered:\n{}",
                if ran.is_empty() {
                    "  (none)".to_owned()
                } else {
                    ran.join("\n")
                }
            );
        }
    }

    /// The next expectation's reply if `cmd` is it; otherwise the error the command fails with.
    fn answer(&self, cmd: &Cmd) -> Result<Reply, CommandError> {
        let argv = cmd.argv();
        let mut s = self.state();
        if s.expected.front().is_some_and(|e| e.argv == argv) {
            let e = s.expected.pop_front().expect("checked");
            s.ran.push(argv);
            return Ok(e.reply);
        }
        let next = s.expected.front().map_or("nothing more".to_owned(), |e| {
            format!("`{}`", show(&e.argv))
        });
        let why = format!("`{}` (expected {next})", show(&argv));
        s.unexpected.push(why.clone());
        Err(CommandError::Spawn {
            argv: cmd.to_string(),
            source: std::io::Error::other(format!("fake host: unexpected command {why}")),
        })
    }

    /// [`Runner::output`] on this host: the sinks see the command start, its lines and its end
    /// as they would from a real process.
    pub(crate) fn output(&self, runner: &Runner, cmd: &Cmd) -> Result<Output, CommandError> {
        if runner.cancel_token().is_some_and(|c| c.is_cancelled()) {
            return Err(CommandError::Cancelled {
                argv: cmd.to_string(),
            });
        }
        for s in runner.sinks() {
            s.started(cmd);
        }
        let started = Instant::now();
        let result = self.answer(cmd).and_then(|reply| {
            let stdout = lines(runner, Stream::Stdout, !cmd.is_quiet(), &reply.stdout);
            let stderr = lines(runner, Stream::Stderr, true, &reply.stderr);
            finish(
                cmd.tool(),
                cmd,
                ExitStatus::from_raw(reply.code << 8),
                stdout,
                stderr,
                Duration::ZERO,
            )
        });
        runner.finished(cmd, started.elapsed(), &result);
        result
    }

    /// [`Runner::pipe`] on this host: the producer, then the consumer, each expected in turn;
    /// the consumer's answer is the pipeline's.
    pub(crate) fn pipe(
        &self,
        runner: &Runner,
        producer: &Cmd,
        consumer: &Cmd,
    ) -> Result<Output, CommandError> {
        self.output(runner, producer)?;
        self.output(runner, consumer)
    }
}

/// A canned text as the runner keeps it, each line also shown to the sinks.
fn lines(runner: &Runner, stream: Stream, show: bool, text: &str) -> Keep {
    let mut keep = match stream {
        Stream::Stdout => Keep::new(runner.config().max_stdout_bytes, End::Head),
        Stream::Stderr => Keep::new(crate::runner::STDERR_TAIL_BYTES, End::Tail),
    };
    for line in text.lines() {
        if show {
            for s in runner.sinks() {
                s.line(stream, line);
            }
        }
        keep.push_line(line);
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Tool;

    fn zoneadm(args: &[&str]) -> Cmd {
        Cmd::new(Tool::Zoneadm).args(args)
    }

    #[tokio::test]
    async fn answers_the_expected_sequence_with_canned_output() {
        let host = FakeHost::new();
        host.expect(["zoneadm", "list", "-cp"], Reply::stdout("0:global\n"))
            .expect(
                ["zoneadm", "-z", "w", "boot"],
                Reply::fails(1, "zoneadm: zone 'w': boot failed\n"),
            );
        let run = host.runner();
        let out = run.output(&zoneadm(&["list", "-cp"])).await.unwrap();
        assert_eq!(out.stdout, "0:global\n");
        match run.output(&zoneadm(&["-z", "w", "boot"])).await {
            Err(CommandError::Failed(f)) => {
                assert_eq!(f.code, Some(1));
                assert_eq!(f.stderr, "zoneadm: zone 'w': boot failed\n");
                assert_eq!(f.argv, "zoneadm -z w boot");
            }
            other => panic!("{other:?}"),
        }
        host.verify();
        assert_eq!(host.ran().len(), 2);
    }

    #[tokio::test]
    async fn an_unexpected_command_fails_and_verify_names_it_and_what_was_expected() {
        let host = FakeHost::new();
        host.expect(["zoneadm", "-z", "w", "boot"], Reply::ok());
        let run = host.runner();
        // Swallowed by the code under test: verify still reports it.
        let err = run
            .output(&zoneadm(&["-z", "w", "halt"]))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("`zoneadm -z w halt` (expected `zoneadm -z w boot`)"),
            "{err}"
        );
        let report = std::panic::catch_unwind(|| host.verify())
            .unwrap_err()
            .downcast::<String>()
            .unwrap();
        assert!(
            report.contains(
                "unexpected commands:\n  `zoneadm -z w halt` (expected `zoneadm -z w boot`)"
            ),
            "{report}"
        );
        assert!(
            report.contains("expected commands that never ran:\n  zoneadm -z w boot"),
            "{report}"
        );
    }

    #[test]
    fn verify_reports_expectations_left_over() {
        let host = FakeHost::new();
        host.expect(["zfs", "list"], Reply::ok());
        let report = std::panic::catch_unwind(|| host.verify())
            .unwrap_err()
            .downcast::<String>()
            .unwrap();
        assert!(report.contains("never ran:\n  zfs list"), "{report}");
        assert!(report.contains("commands answered:\n  (none)"), "{report}");
    }
}
