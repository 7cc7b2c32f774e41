//! A long-lived command whose stdin and stdout are one byte stream (the privileged helper's
//! `vnc-connect`). The runner's timeout does not apply: the stream lasts as long as its user
//! keeps it; dropping it kills the child's process group.

use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::cmd::Cmd;
use crate::process::{Group, Signal};
use crate::runner::{CommandError, Runner};

pub struct ByteStream {
    group: Group,
    argv: String,
    stderr: Option<ChildStderr>,
}

impl Runner {
    /// Starts `cmd` with piped stdin, stdout and stderr: returns the running child (its
    /// stderr kept for [`ByteStream::ended`]) with the stream's two ends, what the child
    /// reads and what it writes.
    pub fn spawn_stream(
        &self,
        cmd: &Cmd,
    ) -> Result<(ByteStream, ChildStdin, ChildStdout), CommandError> {
        let argv = cmd.to_string();
        let spawn_err = |source: std::io::Error| CommandError::Spawn {
            argv: argv.clone(),
            source,
        };
        #[cfg(any(test, feature = "testing"))]
        if self.fake.is_some() {
            return Err(spawn_err(std::io::Error::other(
                "the fake host answers commands, it cannot stream",
            )));
        }
        let mut command = self.command(cmd);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for s in self.sinks() {
            s.started(cmd);
        }
        let mut group = Group::spawn(&mut command).map_err(spawn_err)?;
        let child = group.child();
        let (Some(stdin), Some(stdout), stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(spawn_err(std::io::Error::other("no pipes")));
        };
        Ok((
            ByteStream {
                group,
                argv,
                stderr,
            },
            stdin,
            stdout,
        ))
    }
}

impl ByteStream {
    pub fn argv(&self) -> &str {
        &self.argv
    }

    /// What the child said on stderr, once it has ended (its refusal, for a stream that ended
    /// before it began). Waits for the child; at most 4 KiB.
    pub async fn ended(&mut self) -> String {
        let _ = self.group.wait().await;
        let mut text = Vec::new();
        if let Some(e) = self.stderr.take() {
            let _ = e.take(4096).read_to_end(&mut text).await;
        }
        String::from_utf8_lossy(&text).trim().to_string()
    }
}

impl Drop for ByteStream {
    fn drop(&mut self) {
        self.group.signal_now(Signal::Kill);
    }
}
