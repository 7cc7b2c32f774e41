//! A task's output log: host command lines and the operation's notes, appended in batches by
//! one writer per task so a chatty command costs one transaction per batch, not per line. The
//! task's progress rides along: the latest percentage and stage of a batch are written in the
//! same transaction (progress is for watching; what must be durable first, the undo journal,
//! is written directly).
//!
//! What a task keeps is bounded (`tasks.max_output_bytes`): a guest being provisioned decides
//! how much its programs print, and neither the database nor the queue to the writer may grow
//! with it. Lines past the budget are counted, not queued, and the count is written when the
//! task's log is flushed at its end ("N bytes ... dropped").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use illumos::{Cmd, OutputSink, Stream};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

use super::model::TaskEvent;
use super::store;
use crate::db::Db;
use crate::time::now_rfc3339;

enum Msg {
    Line(&'static str, String, String),
    Progress(i64, String),
    Flush(oneshot::Sender<()>),
}

pub struct TaskLog {
    tx: mpsc::UnboundedSender<Msg>,
    /// Wakes the writer before its window ends (a flush).
    urgent: Arc<Notify>,
    /// How many times the writer woke up (tests count them).
    #[cfg_attr(not(test), allow(dead_code))]
    woke: Arc<AtomicUsize>,
    budget: Mutex<Budget>,
}

/// The output bytes a task may still keep, and what it dropped since the last summary.
struct Budget {
    max: u64,
    kept: u64,
    dropped_bytes: u64,
    dropped_lines: u64,
}

impl Budget {
    /// Whether a line of `len` bytes is kept; a dropped one is counted.
    fn admit(&mut self, len: u64) -> bool {
        if self.dropped_lines == 0 && self.kept + len <= self.max {
            self.kept += len;
            true
        } else {
            self.dropped_bytes += len;
            self.dropped_lines += 1;
            false
        }
    }

    /// The summary of what was dropped since the last one, if anything was.
    fn summary(&mut self) -> Option<String> {
        if self.dropped_lines == 0 {
            return None;
        }
        let s = format!(
            "{} bytes of output ({} lines) dropped: the task keeps at most {} bytes (tasks.max_output_bytes)",
            self.dropped_bytes, self.dropped_lines, self.max
        );
        self.dropped_bytes = 0;
        self.dropped_lines = 0;
        // Once over, the task stays over: a summary does not reopen the log.
        self.kept = self.max;
        Some(s)
    }
}

/// How long a batch may wait for more lines before it is written.
pub const WINDOW: Duration = Duration::from_millis(20);

/// What one transaction writes, and the flushes waiting for it.
#[derive(Default)]
struct Batch {
    lines: Vec<(i64, &'static str, String, String)>,
    progress: Option<(i64, String)>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, msg: Msg, seq: &mut i64) {
        match msg {
            Msg::Line(stream, line, ts) => {
                *seq += 1;
                self.lines.push((*seq, stream, line, ts));
            }
            Msg::Progress(percent, stage) => self.progress = Some((percent, stage)),
            Msg::Flush(done) => self.flushes.push(done),
        }
    }
}

/// Most messages in one transaction.
const MAX_BATCH: usize = 512;

/// Batches of at most this many lines are written on the task's own worker (see
/// `Db::write_small`); bigger ones go through the blocking pool.
const SMALL_BATCH: usize = 64;

/// Longest line kept; a runaway command cannot fill the database with one line.
const MAX_LINE: usize = 8192;

impl TaskLog {
    /// `parent`: the task's group, whose progress rolls up from it. `on_lines` hears the
    /// task's id after each batch of lines is committed. `max_output_bytes`: what the log
    /// keeps of this run (see the module's doc). `window`: how long a batch collects lines
    /// ([`WINDOW`] but in tests).
    pub fn start(
        db: Db,
        task_id: String,
        parent: Option<String>,
        events: broadcast::Sender<TaskEvent>,
        on_lines: broadcast::Sender<String>,
        max_output_bytes: u64,
        window: Duration,
    ) -> Arc<TaskLog> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let urgent = Arc::new(Notify::new());
        let woke = Arc::new(AtomicUsize::new(0));
        let (wake, woken) = (urgent.clone(), woke.clone());
        tokio::spawn(async move {
            let id = task_id.clone();
            let mut seq = db
                .read_small(move |c| store::next_output_seq(c, &id))
                .await
                .unwrap_or(0);
            // A batch that stopped at MAX_BATCH leaves more waiting: the next one starts at once.
            let mut backlog = false;
            while let Some(first) = rx.recv().await {
                woken.fetch_add(1, Ordering::Relaxed);
                let mut b = Batch::default();
                b.take(first, &mut seq);
                // Lines and progress arriving within a short window share one transaction.
                // The writer sleeps through the window rather than waking for each line (a
                // command's every line, each progress step): on a small machine those wake-ups
                // competed for a core with the task's own next step. A flush (the task is
                // ending) cuts the window short.
                if !backlog && b.flushes.is_empty() {
                    tokio::select! {
                        () = tokio::time::sleep(window) => {}
                        () = wake.notified() => {}
                    }
                    woken.fetch_add(1, Ordering::Relaxed);
                }
                let mut taken = 1;
                backlog = false;
                while let Ok(msg) = rx.try_recv() {
                    b.take(msg, &mut seq);
                    taken += 1;
                    if taken >= MAX_BATCH {
                        backlog = true;
                        break;
                    }
                }
                let Batch {
                    lines: batch,
                    progress,
                    flushes,
                } = b;
                if !batch.is_empty() || progress.is_some() {
                    let has_lines = !batch.is_empty();
                    let small = batch.len() <= SMALL_BATCH;
                    let (id, parent) = (task_id.clone(), parent.clone());
                    let write = move |c: &mut rusqlite::Connection| {
                        let tx = c.transaction()?;
                        store::append_output(&tx, &id, &batch)?;
                        let mut changed = Vec::new();
                        if let Some((percent, stage)) = progress {
                            changed.extend(store::set_progress(&tx, &id, percent, Some(&stage))?);
                            if let Some(p) = parent {
                                changed.extend(store::roll_up(&tx, &p)?);
                            }
                        }
                        tx.commit()?;
                        Ok(changed)
                    };
                    // A task's usual batch (a few command lines and a progress step) is written
                    // where it is, without two hand-offs to and from the blocking pool.
                    let written = if small {
                        db.write_small(write).await
                    } else {
                        db.write(write).await
                    };
                    match written {
                        Ok(changed) => {
                            if has_lines {
                                let _ = on_lines.send(task_id.clone());
                            }
                            for t in &changed {
                                let _ = events.send(TaskEvent::of("task_progress", t));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(task_id = %task_id, error = %e, "cannot append task output")
                        }
                    }
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        Arc::new(TaskLog {
            tx,
            urgent,
            woke,
            budget: Mutex::new(Budget {
                max: max_output_bytes,
                kept: 0,
                dropped_bytes: 0,
                dropped_lines: 0,
            }),
        })
    }

    fn push(&self, stream: &'static str, line: &str) {
        // The budget counts what the line had (newline included), before any cut below.
        let admitted = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(line.len() as u64 + 1);
        if admitted {
            self.send(stream, line);
        }
    }

    fn send(&self, stream: &'static str, line: &str) {
        let mut line = line.to_owned();
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [truncated]");
        }
        let _ = self.tx.send(Msg::Line(stream, line, now_rfc3339()));
    }

    pub fn note(&self, line: &str) {
        self.push("agent", line);
    }

    /// Records the task's progress with the next batch.
    pub fn progress(&self, percent: i64, stage: &str) {
        let _ = self.tx.send(Msg::Progress(percent, stage.to_owned()));
    }

    /// Returns once every line sent before the call is in the database, the summary of any
    /// dropped output included.
    pub async fn flush(&self) {
        let summary = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .summary();
        if let Some(s) = summary {
            self.send("agent", &s);
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            self.urgent.notify_one();
            let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
        }
    }
}

impl OutputSink for TaskLog {
    fn started(&self, cmd: &Cmd) {
        self.push("agent", &format!("$ pfexec {cmd}"));
    }

    fn line(&self, stream: Stream, line: &str) {
        self.push(stream.as_str(), line);
    }

    fn finished(&self, cmd: &Cmd, elapsed: Duration, exit_code: Option<i32>) {
        if exit_code != Some(0) {
            let how = match exit_code {
                Some(c) => format!("exited {c}"),
                None => "was stopped".to_owned(),
            };
            self.push(
                "agent",
                &format!(
                    "{} {how} after {:.0} ms",
                    cmd.tool(),
                    elapsed.as_secs_f64() * 1e3
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command's lines and an operation's progress steps, sent one by one while the task
    /// works, wake the writer once for the window and once for the flush that ends it, and
    /// land in one transaction (the old writer woke for every line).
    #[tokio::test]
    async fn lines_within_a_window_wake_the_writer_once() {
        let dir = crate::tasks::testing::TempDir::new("log-wakes");
        let db = Db::open(&dir.0.join("t.db")).unwrap();
        let task = db
            .write_blocking(|c| store::insert(c, &super::super::NewTask::new("noop", "system")))
            .unwrap();
        let (events, _) = broadcast::channel(16);
        let (lines, _) = broadcast::channel(16);
        // A window no test run outlasts: only the lines and the flush can wake the writer.
        let log = TaskLog::start(
            db.clone(),
            task.id.clone(),
            None,
            events,
            lines,
            1 << 20,
            Duration::from_secs(3600),
        );
        // The writer takes its first line and starts its window.
        log.note("first");
        tokio::task::yield_now().await;
        let writes_before = db.epoch();
        for i in 0..50 {
            log.note(&format!("line {i}"));
            log.progress(i, "working");
            tokio::task::yield_now().await;
        }
        log.flush().await;
        assert_eq!(log.woke.load(Ordering::Relaxed), 2, "woken per line");
        assert_eq!(db.epoch(), writes_before + 1, "one transaction");
        let id = task.id.clone();
        let kept = db
            .read_blocking(move |c| store::next_output_seq(c, &id))
            .unwrap();
        assert_eq!(kept, 51);
    }

    #[test]
    fn the_budget_keeps_a_prefix_and_counts_the_rest_once() {
        let mut b = Budget {
            max: 10,
            kept: 0,
            dropped_bytes: 0,
            dropped_lines: 0,
        };
        assert!(b.admit(4));
        assert!(b.admit(6));
        assert!(!b.admit(5));
        // Past the budget, even a line that would fit is dropped: the log has no holes.
        assert!(!b.admit(1));
        assert_eq!(
            b.summary().as_deref(),
            Some("6 bytes of output (2 lines) dropped: the task keeps at most 10 bytes (tasks.max_output_bytes)")
        );
        assert_eq!(b.summary(), None);
        assert!(!b.admit(1));
        assert!(b
            .summary()
            .unwrap()
            .starts_with("1 bytes of output (1 lines)"));
    }
}
