//! A task's output log: host command lines and the operation's notes, appended in batches by
//! one writer per task so a chatty command costs one transaction per batch, not per line. The
//! task's progress rides along: the latest percentage and stage of a batch are written in the
//! same transaction (progress is for watching; what must be durable first, the undo journal,
//! is written directly).

use std::sync::Arc;
use std::time::Duration;

use illumos::{Cmd, OutputSink, Stream};
use tokio::sync::{broadcast, mpsc, oneshot};

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
}

/// How long a batch may wait for more lines before it is written.
const WINDOW: Duration = Duration::from_millis(20);

/// Longest line kept; a runaway command cannot fill the database with one line.
const MAX_LINE: usize = 8192;

impl TaskLog {
    /// `parent`: the task's group, whose progress rolls up from it.
    pub fn start(
        db: Db,
        task_id: String,
        parent: Option<String>,
        events: broadcast::Sender<TaskEvent>,
    ) -> Arc<TaskLog> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            let id = task_id.clone();
            let mut seq = db
                .read(move |c| store::next_output_seq(c, &id))
                .await
                .unwrap_or(0);
            while let Some(first) = rx.recv().await {
                let mut batch = Vec::new();
                let mut progress = None;
                let mut flushes = Vec::new();
                // Lines and progress arriving within a short window share one transaction; a
                // flush (the task is ending) writes at once.
                let deadline = tokio::time::Instant::now() + WINDOW;
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        Msg::Line(stream, line, ts) => {
                            seq += 1;
                            batch.push((seq, stream, line, ts));
                        }
                        Msg::Progress(percent, stage) => progress = Some((percent, stage)),
                        Msg::Flush(done) => flushes.push(done),
                    }
                    if batch.len() >= 512 || !flushes.is_empty() {
                        break;
                    }
                    next = match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(_) => tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .ok()
                            .flatten(),
                    };
                }
                if !batch.is_empty() || progress.is_some() {
                    let (id, parent) = (task_id.clone(), parent.clone());
                    let written = db
                        .write(move |c| {
                            let tx = c.transaction()?;
                            store::append_output(&tx, &id, &batch)?;
                            let mut changed = Vec::new();
                            if let Some((percent, stage)) = progress {
                                changed.extend(store::set_progress(
                                    &tx,
                                    &id,
                                    percent,
                                    Some(&stage),
                                )?);
                                if let Some(p) = parent {
                                    changed.extend(store::roll_up(&tx, &p)?);
                                }
                            }
                            tx.commit()?;
                            Ok(changed)
                        })
                        .await;
                    match written {
                        Ok(changed) => {
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
        Arc::new(TaskLog { tx })
    }

    fn push(&self, stream: &'static str, line: &str) {
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

    /// Returns once every line sent before the call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
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
