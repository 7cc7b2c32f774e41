//! zlogin: the zone console (`zlogin -C ZONE`), driven on a pseudo-terminal.
//!
//! The console is interactive: on a terminal zlogin switches its stdin to raw mode and the guest
//! expects a serial line, so it must run on a pty, not on pipes. [`Runner::spawn_pty`] starts it
//! with the runner's conventions (pfexec prefix, tool path, cleared environment, its own process
//! group) and hands back a [`PtySession`] to read the console's bytes from and type into.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::cmd::{Cmd, Tool};
use crate::names::ZoneName;
use crate::process::{Group, Signal};
use crate::runner::{CommandError, Runner};

/// What zlogin's console understands as "disconnect" at the start of a line (reference §1.4).
pub const DISCONNECT: &str = "~.";

/// `zlogin -C ZONE`: attach to the zone's serial console (works before boot; persists across
/// reboots).
pub fn console_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zlogin).arg("-C").arg(zone)
}

/// `zlogin -C -d ZONE`: as [`console_cmd`], but zlogin disconnects when the zone halts
/// (reference §1.4), so a console bridge ends with the zone instead of waiting for its next
/// boot.
pub fn console_until_halt_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zlogin).arg("-C").arg("-d").arg(zone)
}

/// `zlogin ZONE`: an interactive login shell in the zone (on a pty).
pub fn shell_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zlogin).arg(zone)
}

/// A command running on a pseudo-terminal. Reading gives what it prints (terminal escapes
/// included); writing types into it. The child leads its own process group; [`close`] signals
/// the whole group, and dropping the session kills it.
///
/// [`close`]: PtySession::close
pub struct PtySession {
    master: AsyncFd<OwnedFd>,
    group: Group,
    argv: String,
    kill_grace: Duration,
}

fn os_err<T>(what: &str, r: libc::c_int, ok: T) -> io::Result<T> {
    if r < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(ok)
    }
}

/// A pty pair: the master (ours, non-blocking) and the slave (the child's terminal), in raw
/// mode so the line discipline neither echoes nor rewrites what we type before the program
/// sets its own mode.
fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let mut size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the ints we pass; name and termios are null
    // (allowed), the window size points at a live local.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            // A raw pointer: illumos declares this parameter `*mut`, Linux `*const`.
            std::ptr::addr_of_mut!(size),
        )
    };
    os_err("openpty", r, ())?;
    // SAFETY: openpty succeeded, so both are open descriptors that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: termios is plain data filled by tcgetattr on a descriptor we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        os_err("tcgetattr", libc::tcgetattr(slave.as_raw_fd(), &mut t), ())?;
        libc::cfmakeraw(&mut t);
        os_err(
            "tcsetattr",
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t),
            (),
        )?;
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        os_err("fcntl", flags, ())?;
        os_err(
            "fcntl",
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            (),
        )?;
        let fd_flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFD);
        os_err(
            "fcntl",
            libc::fcntl(
                master.as_raw_fd(),
                libc::F_SETFD,
                fd_flags | libc::FD_CLOEXEC,
            ),
            (),
        )?;
    }
    Ok((master, slave))
}

impl Runner {
    /// Starts `cmd` on a new pseudo-terminal (stdin, stdout and stderr all on it). The runner's
    /// timeout does not apply (a console session lasts as long as its driver wants); the
    /// driver must [`PtySession::close`] it, and should watch [`Runner::cancel_token`].
    pub fn spawn_pty(&self, cmd: &Cmd) -> Result<PtySession, CommandError> {
        let argv = cmd.to_string();
        let spawn_err = |source: io::Error| CommandError::Spawn {
            argv: argv.clone(),
            source,
        };
        #[cfg(any(test, feature = "testing"))]
        if self.fake.is_some() {
            return Err(spawn_err(io::Error::other(
                "the fake host answers commands, it cannot start a terminal",
            )));
        }
        let (master, slave) = open_pty().map_err(spawn_err)?;
        let mut command = self.command(cmd);
        let stdin = slave.try_clone().map_err(spawn_err)?;
        let stdout = slave.try_clone().map_err(spawn_err)?;
        command
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(slave));
        for s in self.sinks() {
            s.started(cmd);
        }
        let group = Group::spawn(&mut command).map_err(spawn_err)?;
        // `command` still holds the slave copies handed to the child; drop them so a read of
        // the master ends (EIO) once the child and its descendants are gone.
        drop(command);
        // SAFETY: `master` is an open descriptor owned by the OwnedFd the AsyncFd takes; it
        // stays open and unchanged until the AsyncFd is dropped.
        let master =
            unsafe { AsyncFd::register(master) }.map_err(|e| spawn_err(io::Error::from(e)))?;
        tracing::debug!(cmd = %argv, "started on a pty");
        Ok(PtySession {
            master,
            group,
            argv,
            kill_grace: self.config().kill_grace,
        })
    }
}

impl PtySession {
    pub fn argv(&self) -> &str {
        &self.argv
    }

    /// Sets the terminal's size (TIOCSWINSZ on the master); the program gets SIGWINCH.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which points at a live local;
        // the descriptor is the open master this session owns.
        let r = unsafe {
            libc::ioctl(
                self.master.get_ref().as_raw_fd(),
                libc::TIOCSWINSZ as _,
                std::ptr::addr_of!(size),
            )
        };
        os_err("ioctl(TIOCSWINSZ)", r, ())
    }

    /// The child's exit status if it has ended.
    pub fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.group.child().try_wait()
    }

    /// Waits up to `grace` for the child to exit by itself, then stops its process group
    /// (SIGTERM, SIGKILL after the runner's kill grace). Either way nothing of the group is
    /// left.
    pub async fn close(mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.group.wait()).await.is_ok() {
            self.group.signal_now(Signal::Kill);
            return;
        }
        self.group.stop(self.kill_grace, None).await;
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        // A session dropped mid-way (a cancelled task) must not leave zlogin attached.
        self.group.signal_now(Signal::Kill);
    }
}

impl AsyncRead for PtySession {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = match this.master.poll_read_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return Poll::Pending,
            };
            let unfilled = buf.initialize_unfilled();
            let r = guard.try_io(|fd| {
                // SAFETY: reads into the initialised, unfilled part of the caller's buffer.
                let n = unsafe {
                    libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Linux reports a hung-up pty (the child is gone) as EIO: that is the end.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtySession {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = match this.master.poll_write_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return Poll::Pending,
            };
            let r = guard.try_io(|fd| {
                // SAFETY: writes from the caller's live slice.
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunnerConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn console_is_zlogin_dash_c() {
        let z: ZoneName = "web01".parse().unwrap();
        assert_eq!(console_cmd(&z).argv(), ["zlogin", "-C", "web01"]);
    }

    /// A `zlogin` that is `/bin/sh -c SCRIPT` (no script on disk): proves the child sees a
    /// terminal on stdin, that what we type reaches it and what it prints reaches us.
    #[tokio::test]
    async fn a_pty_child_sees_a_terminal_and_talks_both_ways() {
        let runner = Runner::new(RunnerConfig {
            pfexec: None,
            tool_paths: [(Tool::Zlogin, "/bin/sh".into())].into(),
            ..Default::default()
        });
        let script = "if [ -t 0 ]; then echo tty; else echo notty; fi\nread x\necho \"got $x\"";
        let mut s = runner
            .spawn_pty(&Cmd::new(Tool::Zlogin).args(["-c", script]))
            .unwrap();
        s.write_all(b"hello\n").await.unwrap();
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut all)).await;
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("tty"), "{text:?}");
        assert!(!text.contains("notty"), "{text:?}");
        assert!(text.contains("got hello"), "{text:?}");
        s.close(Duration::from_millis(100)).await;
    }

    #[test]
    fn the_console_bridge_disconnects_at_halt() {
        let z: ZoneName = "web01".parse().unwrap();
        assert_eq!(
            console_until_halt_cmd(&z).argv(),
            ["zlogin", "-C", "-d", "web01"]
        );
        assert_eq!(shell_cmd(&z).argv(), ["zlogin", "web01"]);
    }

    /// The size set on the master is what the child's terminal reports.
    #[tokio::test]
    async fn a_resize_reaches_the_childs_terminal() {
        let runner = Runner::new(RunnerConfig {
            pfexec: None,
            tool_paths: [(Tool::Zlogin, "/bin/sh".into())].into(),
            ..Default::default()
        });
        let mut s = runner
            .spawn_pty(&Cmd::new(Tool::Zlogin).args(["-c", "read x\nstty size"]))
            .unwrap();
        s.resize(132, 43).unwrap();
        s.write_all(b"go\n").await.unwrap();
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut all)).await;
        let text = String::from_utf8_lossy(&all);
        assert!(text.contains("43 132"), "{text:?}");
        s.close(Duration::from_millis(100)).await;
    }

    #[test]
    fn the_fake_host_refuses_a_terminal_rather_than_pretending() {
        let host = crate::fake::FakeHost::new();
        let err = host
            .runner()
            .spawn_pty(&console_cmd(&"z1".parse().unwrap()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot start a terminal"), "{err}");
        host.verify();
    }
}
