//! One program on a pty shared by any number of WebSockets: its output fanned out to all of
//! them (with a little scrollback for late joiners), its keyboard held by one of them at a
//! time, and one end for everyone with a reason (the program exited, the session was
//! stopped, it sat idle too long).
//!
//! One task owns the pty: it reads the output, writes what the keyboard's holder types, applies
//! resizes, and watches the idle deadline. Everything else talks to it through channels, so no
//! lock is held across an await and a slow watcher never slows the console (a lagging
//! broadcast receiver skips ahead; it does not hold the sender back).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use illumos::{Cmd, PtySession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

/// What a connection sends to the console.
pub enum Input {
    Keys(Bytes),
    Resize { cols: u16, rows: u16 },
}

/// Says how a hub's end is worded from its output when the program exits by itself.
pub type ExitReason = Box<dyn Fn(&[u8]) -> String + Send + Sync>;

pub struct Hub {
    output: broadcast::Sender<Bytes>,
    scrollback: Mutex<Scrollback>,
    input: mpsc::Sender<Input>,
    stop: mpsc::Sender<String>,
    end: watch::Receiver<Option<String>>,
    keyboard: Mutex<Option<u64>>,
    next_conn: AtomicU64,
}

struct Scrollback {
    bytes: VecDeque<u8>,
    max: usize,
}

impl Scrollback {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend(data);
        let over = self.bytes.len().saturating_sub(self.max);
        self.bytes.drain(..over);
    }
}

impl Hub {
    /// Starts `cmd` on a pty through the runner (tool path, pfexec, own process group),
    /// marked as run for `origin` (`console:<session id>`): it outlives the request that
    /// started it.
    pub fn start(
        runner: &illumos::Runner,
        origin: String,
        cmd: &Cmd,
        idle: Duration,
        scrollback: usize,
        exit_reason: ExitReason,
    ) -> Result<Arc<Hub>, illumos::runner::CommandError> {
        let pty = illumos::runner::with_origin_sync(origin, || runner.spawn_pty(cmd))?;
        let (input_tx, input_rx) = mpsc::channel(64);
        let (stop_tx, stop_rx) = mpsc::channel(1);
        let (end_tx, end_rx) = watch::channel(None);
        let hub = Arc::new(Hub {
            output: broadcast::channel(256).0,
            scrollback: Mutex::new(Scrollback {
                bytes: VecDeque::new(),
                max: scrollback,
            }),
            input: input_tx,
            stop: stop_tx,
            end: end_rx,
            keyboard: Mutex::new(None),
            next_conn: AtomicU64::new(1),
        });
        tokio::spawn(drive(
            hub.clone(),
            pty,
            input_rx,
            stop_rx,
            end_tx,
            idle,
            exit_reason,
        ));
        Ok(hub)
    }

    /// Joins the console: the scrollback so far, and the live output from the same instant
    /// (taken under the scrollback's lock, which the driver holds while it publishes).
    pub fn join(&self) -> (Vec<u8>, broadcast::Receiver<Bytes>) {
        let sb = self.scrollback.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.output.subscribe();
        (sb.bytes.iter().copied().collect(), rx)
    }

    /// A number for a new connection (to hold the keyboard with).
    pub fn connection(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Takes the keyboard for `conn` if nobody holds it (or `conn` already does).
    pub fn take_keyboard(&self, conn: u64) -> bool {
        let mut k = self.keyboard.lock().unwrap_or_else(|p| p.into_inner());
        match *k {
            Some(holder) => holder == conn,
            None => {
                *k = Some(conn);
                true
            }
        }
    }

    /// Gives the keyboard back if `conn` holds it.
    pub fn release_keyboard(&self, conn: u64) {
        let mut k = self.keyboard.lock().unwrap_or_else(|p| p.into_inner());
        if *k == Some(conn) {
            *k = None;
        }
    }

    pub async fn send(&self, input: Input) {
        let _ = self.input.send(input).await;
    }

    /// Ends the session with `reason` (no-op once it has ended).
    pub fn stop(&self, reason: &str) {
        let _ = self.stop.try_send(reason.to_owned());
    }

    /// Why it ended, once it has.
    pub fn ended(&self) -> Option<String> {
        self.end.borrow().clone()
    }

    /// Resolves with the reason when the session ends.
    pub async fn until_ended(&self) -> String {
        let mut end = self.end.clone();
        loop {
            if let Some(r) = end.borrow_and_update().clone() {
                return r;
            }
            if end.changed().await.is_err() {
                return "the console closed".into();
            }
        }
    }
}

async fn drive(
    hub: Arc<Hub>,
    mut pty: PtySession,
    mut input: mpsc::Receiver<Input>,
    mut stop: mpsc::Receiver<String>,
    end: watch::Sender<Option<String>>,
    idle: Duration,
    exit_reason: ExitReason,
) {
    let mut buf = vec![0u8; 8192];
    let mut deadline = Instant::now() + idle;
    let reason = loop {
        tokio::select! {
            read = pty.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let tail = hub.join().0;
                    break exit_reason(&tail);
                }
                Ok(n) => {
                    deadline = Instant::now() + idle;
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    let mut sb = hub.scrollback.lock().unwrap_or_else(|p| p.into_inner());
                    sb.push(&data);
                    let _ = hub.output.send(data);
                }
            },
            got = input.recv() => match got {
                Some(Input::Keys(keys)) => {
                    deadline = Instant::now() + idle;
                    if pty.write_all(&keys).await.is_err() {
                        break "the console stopped taking input".to_owned();
                    }
                }
                Some(Input::Resize { cols, rows }) => {
                    if let Err(e) = pty.resize(cols, rows) {
                        tracing::debug!(error = %e, "cannot resize a console");
                    }
                }
                None => break "the console closed".to_owned(),
            },
            reason = stop.recv() => break reason.unwrap_or_else(|| "stopped".into()),
            () = tokio::time::sleep_until(deadline) => {
                break format!("idle for {} seconds (consoles.idle_timeout_secs)", idle.as_secs());
            }
        }
    };
    tracing::info!(cmd = %pty.argv(), %reason, "console session ended");
    let _ = end.send(Some(reason));
    pty.close(Duration::ZERO).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrollback_keeps_the_newest_bytes() {
        let mut s = Scrollback {
            bytes: VecDeque::new(),
            max: 4,
        };
        s.push(b"abc");
        s.push(b"def");
        assert_eq!(s.bytes.iter().copied().collect::<Vec<_>>(), b"cdef");
    }
}
