//! A task's output log: host command lines and the operation's notes, appended in batches so
//! a chatty command costs one transaction per batch, not per line. The task's progress rides
//! along: the latest percentage and stage of a batch are written in the same transaction
//! (progress is for watching; what must be durable first, the undo journal, is written
//! directly).
//!
//! Lines wait in memory shared by three writers, one at a time and in order: the log's own
//! writer task, which wakes once a window; a flush, which writes what waits where it is called;
//! and the task's end, which takes what waits into its own transaction. A task's last lines so
//! cost neither a commit of their own nor a hand-off to another thread. Handed to the writer
//! task, they waited behind the settle's host command whenever the worker holding that task
//! was held in the command's spawn (the kernel runs a `vfork` child until it has exec'd, and
//! on a busy core the new program often runs on before the parent resumes: measured up to the
//! whole command). Handed to the blocking pool instead, the write was often run on the same
//! core as the worker that handed it over, which then waited for it.
//!
//! What a task keeps is bounded (`tasks.max_output_bytes`): a guest being provisioned decides
//! how much its programs print, and neither the database nor the memory may grow with it.
//! Lines past the budget are counted, not kept, and the count is written when the task's log
//! is flushed or ends ("N bytes ... dropped").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use illumos::{Cmd, OutputSink, Stream};
use tokio::sync::{broadcast, Notify};

use super::model::{Task, TaskEvent};
use super::store::{self, OutputBatch};
use crate::db::Db;
use crate::time::now_rfc3339;

pub struct TaskLog {
    shared: Arc<Shared>,
    budget: Mutex<Budget>,
}

struct Shared {
    db: Db,
    task_id: String,
    /// The task's group, whose progress rolls up from it.
    parent: Option<String>,
    events: broadcast::Sender<TaskEvent>,
    on_lines: broadcast::Sender<String>,
    pending: Mutex<Pending>,
    /// Something arrived while nothing waited: the writer task starts a window.
    work: Notify,
    /// Cuts the writer task's window short (the log is closing, or a host command starts with
    /// lines waiting).
    urgent: Notify,
    /// A write is over: whoever waits for the pen tries again.
    idle: Notify,
    /// How many times the writer task woke up (tests count them).
    woke: AtomicUsize,
}

/// What waits to be written, and who is writing.
#[derive(Default)]
struct Pending {
    lines: Vec<(&'static str, String, String)>,
    progress: Option<(i64, String)>,
    /// A batch was taken and is being written: the next taker waits, so lines land in order.
    writing: bool,
    /// The seq of the task's last line in the database, once a write has read or set it.
    last_seq: Option<i64>,
    /// The log was dropped: the writer task writes what is left and stops.
    closed: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.progress.is_none()
    }
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

/// How long a batch may wait for more lines before the writer task writes it.
pub const WINDOW: Duration = Duration::from_millis(20);

/// Most lines in one transaction of the writer task; the rest wait for its next one.
const MAX_BATCH: usize = 512;

/// Batches of at most this many lines are written on the caller's worker (see
/// `Db::write_small`); bigger ones go through the blocking pool.
const SMALL_BATCH: usize = 64;

/// Longest line kept; a runaway command cannot fill the database with one line.
const MAX_LINE: usize = 8192;

/// At a host command's start, at least this many waiting lines are written without waiting
/// for the window's end (see [`TaskLog::started`]).
const EARLY_LINES: usize = 6;

/// A batch taken for writing: it holds the pen until written. Dropped before it was written
/// (its transaction failed), it puts its lines back in front of any that came since. Dropped
/// during its write (only a runtime shutting down drops a flush or an end midway), it frees
/// the pen without knowing whether the write committed.
pub struct Taken {
    shared: Arc<Shared>,
    batch: Option<OutputBatch>,
    done: bool,
}

impl Taken {
    /// What to write, in the caller's transaction: [`store::write_output`], or (the task's
    /// end) [`store::write_lines`] with the progress passed to [`store::finish_in`].
    pub fn batch(&self) -> &OutputBatch {
        self.batch
            .as_ref()
            .expect("a taken batch is kept until written")
    }

    /// The batch's lines are committed (`last_seq` as [`store::write_lines`] returned it), its
    /// progress with them: the pen is free, and watchers of the lines hear of it.
    pub fn written(mut self, last_seq: i64) {
        let has_lines = self.batch.take().is_some_and(|b| !b.lines.is_empty());
        self.done = true;
        self.shared.wrote(Some(last_seq), has_lines, &[]);
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match self.batch.take() {
            Some(batch) => {
                {
                    let mut p = self.shared.lock();
                    let later = std::mem::replace(&mut p.lines, batch.lines);
                    p.lines.extend(later);
                    if p.progress.is_none() {
                        p.progress = batch.progress;
                    }
                    p.writing = false;
                }
                self.shared.idle.notify_waiters();
                self.shared.work.notify_one();
            }
            // Handed to a write that was abandoned: whether it committed is unknown.
            None => self.shared.wrote(None, false, &[]),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes up to `max` waiting lines (and the progress) once nobody else writes; `None`
    /// when nothing waits.
    async fn take(self: &Arc<Self>, max: usize) -> Option<Taken> {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            {
                let mut p = self.lock();
                if !p.writing {
                    if p.is_empty() {
                        return None;
                    }
                    let lines = if p.lines.len() > max {
                        let rest = p.lines.split_off(max);
                        std::mem::replace(&mut p.lines, rest)
                    } else {
                        std::mem::take(&mut p.lines)
                    };
                    let progress = p.progress.take();
                    p.writing = true;
                    let batch = OutputBatch {
                        lines,
                        progress,
                        after: p.last_seq,
                    };
                    return Some(Taken {
                        shared: self.clone(),
                        batch: Some(batch),
                        done: false,
                    });
                }
                // Registered before the lock is let go: the writer's end cannot be missed.
                idle.as_mut().enable();
            }
            idle.await;
        }
    }

    /// The pen is free again; `last_seq` is the task's last line in the database when known.
    fn wrote(&self, last_seq: Option<i64>, has_lines: bool, changed: &[Task]) {
        let closed = {
            let mut p = self.lock();
            p.last_seq = last_seq;
            p.writing = false;
            p.closed
        };
        self.idle.notify_waiters();
        if closed {
            // The writer task of a dropped log waits for this pen to end before it stops.
            self.work.notify_one();
        }
        if has_lines {
            let _ = self.on_lines.send(self.task_id.clone());
        }
        for t in changed {
            let _ = self.events.send(TaskEvent::of("task_progress", t));
        }
    }

    /// Writes a taken batch in a transaction of its own. One that fails is given up (logged):
    /// a log must not hold its task back.
    async fn write(&self, mut taken: Taken) {
        let batch = taken.batch.take().expect("a taken batch is written once");
        let has_lines = !batch.lines.is_empty();
        let small = batch.lines.len() <= SMALL_BATCH;
        let (id, parent) = (self.task_id.clone(), self.parent.clone());
        let write = move |c: &mut rusqlite::Connection| {
            let tx = c.transaction()?;
            let written = store::write_output(&tx, &id, parent.as_deref(), &batch)?;
            tx.commit()?;
            Ok(written)
        };
        // A task's usual batch (a few command lines and a progress step) is written where it
        // is, without two hand-offs to and from the blocking pool.
        let written = if small {
            self.db.write_small(write).await
        } else {
            self.db.write(write).await
        };
        taken.done = true;
        match written {
            Ok((last_seq, changed)) => self.wrote(Some(last_seq), has_lines, &changed),
            Err(e) => {
                tracing::warn!(task_id = %self.task_id, error = %e, "cannot append task output");
                self.wrote(None, false, &[]);
            }
        }
    }
}

impl TaskLog {
    /// `parent`: the task's group, whose progress rolls up from it. `on_lines` hears the
    /// task's id after each batch of lines is committed. `max_output_bytes`: what the log
    /// keeps of this run (see the module's doc). `window`: how long the writer task lets lines
    /// gather ([`WINDOW`] but in tests).
    pub fn start(
        db: Db,
        task_id: String,
        parent: Option<String>,
        events: broadcast::Sender<TaskEvent>,
        on_lines: broadcast::Sender<String>,
        max_output_bytes: u64,
        window: Duration,
    ) -> Arc<TaskLog> {
        let shared = Arc::new(Shared {
            db,
            task_id,
            parent,
            events,
            on_lines,
            pending: Mutex::default(),
            work: Notify::new(),
            urgent: Notify::new(),
            idle: Notify::new(),
            woke: AtomicUsize::new(0),
        });
        let writer = shared.clone();
        tokio::spawn(async move {
            loop {
                writer.work.notified().await;
                writer.woke.fetch_add(1, Ordering::Relaxed);
                // Lines and progress arriving within a short window share one transaction.
                // The writer sleeps through the window rather than waking for each line (a
                // command's every line, each progress step): on a small machine those wake-ups
                // competed for a core with the task's own next step.
                if !writer.lock().closed {
                    tokio::select! {
                        () = tokio::time::sleep(window) => {}
                        () = writer.urgent.notified() => {}
                    }
                    writer.woke.fetch_add(1, Ordering::Relaxed);
                }
                while let Some(taken) = writer.take(MAX_BATCH).await {
                    let more = taken.batch().lines.len() == MAX_BATCH;
                    writer.write(taken).await;
                    if !more {
                        break;
                    }
                }
                let p = writer.lock();
                if p.closed && p.is_empty() && !p.writing {
                    return;
                }
            }
        });
        Arc::new(TaskLog {
            shared,
            budget: Mutex::new(Budget {
                max: max_output_bytes,
                kept: 0,
                dropped_bytes: 0,
                dropped_lines: 0,
            }),
        })
    }

    /// Adds a line within the budget; returns how many lines then wait (none when the line
    /// was dropped).
    fn push(&self, stream: &'static str, line: impl AsRef<str> + Into<String>) -> usize {
        // The budget counts what the line had (newline included), before any cut below.
        let admitted = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(line.as_ref().len() as u64 + 1);
        if admitted {
            self.send(stream, line.into())
        } else {
            0
        }
    }

    /// Adds a line; returns how many lines then wait.
    fn send(&self, stream: &'static str, mut line: String) -> usize {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [truncated]");
        }
        let ts = now_rfc3339();
        let (first, waiting) = {
            let mut p = self.shared.lock();
            let first = p.is_empty();
            p.lines.push((stream, line, ts));
            (first, p.lines.len())
        };
        if first {
            self.shared.work.notify_one();
        }
        waiting
    }

    pub fn note(&self, line: &str) {
        self.push("agent", line);
    }

    /// Records the task's progress with the next batch.
    pub fn progress(&self, percent: i64, stage: &str) {
        let first = {
            let mut p = self.shared.lock();
            let first = p.is_empty();
            p.progress = Some((percent, stage.to_owned()));
            first
        };
        if first {
            self.shared.work.notify_one();
        }
    }

    /// The summary of dropped output, if any, as the log's next line.
    fn summarise(&self) {
        let summary = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .summary();
        if let Some(s) = summary {
            self.send("agent", s);
        }
    }

    /// Returns once every line sent before the call is in the database, the summary of any
    /// dropped output included. What still waits is written here, not handed to the writer
    /// task.
    pub async fn flush(&self) {
        self.summarise();
        while let Some(taken) = self.shared.take(MAX_BATCH).await {
            self.shared.write(taken).await;
        }
    }

    /// For the task's end: what waits (the summary of dropped output included), taken to be
    /// written in the end's own transaction. The pen is held until it is written or dropped.
    /// Only a small batch rides with the end: a chatty last command's lines are written
    /// first, in batches of their own (big ones on the blocking pool).
    pub async fn take_for_end(&self) -> Option<Taken> {
        self.summarise();
        loop {
            let taken = self.shared.take(MAX_BATCH).await?;
            if taken.batch().lines.len() <= SMALL_BATCH {
                return Some(taken);
            }
            self.shared.write(taken).await;
        }
    }
}

impl Drop for TaskLog {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        self.shared.urgent.notify_one();
    }
}

impl OutputSink for TaskLog {
    fn started(&self, cmd: &Cmd) {
        let waiting = self.push("agent", format!("$ pfexec {cmd}"));
        // The task now waits for the command: lines that gathered are written meanwhile, on a
        // core the command leaves free, rather than with the task's end, where their write
        // holds back whoever waits for it. A few at a time, so a task of many quick commands
        // does not pay a commit for each.
        if waiting >= EARLY_LINES {
            self.shared.urgent.notify_one();
        }
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
                format!(
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
    /// works, wake the writer task once for its window, and land in one transaction (an older
    /// writer woke for every line). The flush that ends them writes them where it is called.
    #[tokio::test]
    async fn lines_within_a_window_wake_the_writer_once() {
        let (_dir, db, task) = with_a_task("log-wakes");
        let log = quiet_log(&db, &task.id);
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
        assert_eq!(log.shared.woke.load(Ordering::Relaxed), 1, "woken per line");
        assert_eq!(db.epoch(), writes_before + 1, "one transaction");
        let id = task.id.clone();
        let kept = db
            .read_blocking(move |c| store::next_output_seq(c, &id))
            .unwrap();
        assert_eq!(kept, 51);
    }

    /// A host command that starts with lines waiting has them written while it runs, long
    /// before the window would end; with only a line or two waiting, it leaves them to the
    /// window.
    #[tokio::test]
    async fn a_command_starting_with_lines_waiting_has_them_written_meanwhile() {
        let (_dir, db, task) = with_a_task("log-early");
        let (events, _) = broadcast::channel(16);
        let (on_lines, mut written) = broadcast::channel(16);
        let log = TaskLog::start(
            db.clone(),
            task.id.clone(),
            None,
            events,
            on_lines,
            1 << 20,
            Duration::from_secs(3600),
        );
        let cmd = Cmd::new(illumos::Tool::Zfs).arg("list");
        log.note("one");
        log.started(&cmd);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            lines_of(&db, &task.id).is_empty(),
            "written before enough waited"
        );
        for i in 0..EARLY_LINES {
            log.note(&format!("line {i}"));
        }
        log.started(&cmd);
        // The window is an hour long: only the command's start can have cut it short.
        tokio::time::timeout(Duration::from_secs(30), written.recv())
            .await
            .expect("written while the command runs")
            .unwrap();
        assert_eq!(lines_of(&db, &task.id).len(), EARLY_LINES + 3);
    }

    fn lines_of(db: &Db, id: &str) -> Vec<(i64, String)> {
        let id = id.to_owned();
        db.read_blocking(move |c| {
            Ok(store::output(c, &id, 0, 1000)?
                .into_iter()
                .map(|l| (l.seq, l.line))
                .collect())
        })
        .unwrap()
    }

    fn with_a_task(label: &str) -> (crate::tasks::testing::TempDir, Db, Task) {
        let dir = crate::tasks::testing::TempDir::new(label);
        let db = Db::open(&dir.0.join("t.db")).unwrap();
        let task = db
            .write_blocking(|c| store::insert(c, &super::super::NewTask::new("noop", "system")))
            .unwrap();
        (dir, db, task)
    }

    /// A log whose writer task's window no test run outlasts: only lines and flushes wake it.
    fn quiet_log(db: &Db, id: &str) -> Arc<TaskLog> {
        let (events, _) = broadcast::channel(16);
        let (lines, _) = broadcast::channel(16);
        TaskLog::start(
            db.clone(),
            id.to_owned(),
            None,
            events,
            lines,
            1 << 20,
            Duration::from_secs(3600),
        )
    }

    /// The task's end takes what waits into its own transaction, numbered after what the log
    /// wrote before; a flush meanwhile waits for it, so lines land in the order they were
    /// sent. An end whose transaction failed gives its lines back, in front of later ones.
    #[tokio::test]
    async fn the_end_writes_the_last_lines_in_order_or_gives_them_back() {
        let (_dir, db, task) = with_a_task("log-end");
        let log = quiet_log(&db, &task.id);
        log.note("one");
        log.flush().await;
        log.note("two");
        let failed = log.take_for_end().await.expect("a line waits");
        assert_eq!(failed.batch().after, Some(1));
        log.note("three");
        // Nothing of the end's transaction was committed: its line goes back first.
        drop(failed);
        let end = log.take_for_end().await.expect("lines wait");
        let texts: Vec<&str> = end.batch().lines.iter().map(|l| l.1.as_str()).collect();
        assert_eq!(texts, ["two", "three"]);
        log.note("four");
        let flushed = {
            let log = log.clone();
            tokio::spawn(async move { log.flush().await })
        };
        tokio::task::yield_now().await;
        assert!(!flushed.is_finished(), "a flush waits for the end's pen");
        let (id, batch) = (task.id.clone(), end.batch().clone());
        let last = db
            .write_blocking(move |c| {
                let tx = c.transaction()?;
                let w = store::write_lines(&tx, &id, &batch)?;
                tx.commit()?;
                Ok(w)
            })
            .unwrap();
        end.written(last);
        flushed.await.unwrap();
        assert_eq!(
            lines_of(&db, &task.id),
            [
                (1, "one".to_owned()),
                (2, "two".to_owned()),
                (3, "three".to_owned()),
                (4, "four".to_owned())
            ]
        );
    }

    /// Dropped, the log's writer task writes what still waits and stops, also when the end
    /// held the pen at the time and gave its lines back.
    #[tokio::test]
    async fn a_dropped_log_writes_what_waits_and_its_writer_stops() {
        let (_dir, db, task) = with_a_task("log-drop");
        let log = quiet_log(&db, &task.id);
        log.note("one");
        let end = log.take_for_end().await.expect("a line waits");
        log.note("two");
        let shared = Arc::downgrade(&log.shared);
        drop(log);
        drop(end);
        for _ in 0..500 {
            if shared.upgrade().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(shared.upgrade().is_none(), "the writer task still runs");
        assert_eq!(
            lines_of(&db, &task.id),
            [(1, "one".to_owned()), (2, "two".to_owned())]
        );
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
