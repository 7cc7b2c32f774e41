//! What the engine knows of an operation: a name, a way to run it, and a way to undo what its
//! journal says it made. Areas (zones, network, provisioning) implement [`Operation`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::log::TaskLog;
use super::model::Task;
use super::store;
use crate::db::{Db, DbError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Operation: Send + Sync + 'static {
    /// The `operation` name stored on tasks.
    fn name(&self) -> &'static str;

    /// Does the work. The returned value becomes the task's `result`.
    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>>;

    /// Undoes what the journal says was made (`journal` arrives newest first, and may be empty:
    /// the undo also runs for a task that failed before it made anything, so it can drop its
    /// intent). Each undo step must treat "already gone" as success: after a crash it may run
    /// twice.
    fn undo<'a>(
        &'a self,
        _cx: &'a OpCx,
        _journal: Vec<Value>,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async { Ok(()) })
    }

    /// Called before [`Operation::undo`] when the operation failed, was cancelled or was
    /// interrupted by a restart. An operation whose journal shows it passed its commit point
    /// (the change took effect on the host and cannot be taken back cleanly) finishes its
    /// remaining steps here and returns `Some(result)`: the task then ends `completed` and no
    /// undo runs. `None`, the default, means "not past the commit point: undo".
    fn roll_forward<'a>(
        &'a self,
        _cx: &'a OpCx,
        _journal: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Option<Value>>, OpError>> {
        Box::pin(async { Ok(None) })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Command(#[from] illumos::CommandError),
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("invalid task parameters: {0}")]
    Params(#[from] serde_json::Error),
}

impl OpError {
    pub fn failed(message: impl Into<String>) -> Self {
        OpError::Failed(message.into())
    }
}

/// The privileged helper refused or failed: the task says what could not be done, as which
/// user, and the helper's reason (see `illumos::install`).
impl From<illumos::install::InstallError> for OpError {
    fn from(e: illumos::install::InstallError) -> Self {
        if e.source.is_cancelled() {
            return OpError::Cancelled;
        }
        OpError::Failed(e.describe(illumos::runner::agent_user()))
    }
}

/// Everything a running operation may touch: its task, a runner bound to its cancellation and
/// output log, the database, and ways to report progress and journal what it makes.
pub struct OpCx {
    pub task: Task,
    pub runner: illumos::Runner,
    pub db: Db,
    pub cancel: CancellationToken,
    pub(super) log: Arc<TaskLog>,
}

impl OpCx {
    /// The task's parameters, typed.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, OpError> {
        Ok(serde_json::from_str(self.task.metadata.get())?)
    }

    /// Secrets queued with the task (never in metadata or logs).
    pub async fn secrets(&self) -> Result<Option<Value>, OpError> {
        let id = self.task.id.clone();
        Ok(self.db.read(move |c| store::secrets(c, &id)).await?)
    }

    /// Records progress and a stage text, visible in `GET /tasks/{id}` and on `/events`.
    pub async fn progress(&self, percent: i64, stage: &str) -> Result<(), OpError> {
        self.note(&format!("[{percent}%] {stage}"));
        self.log.progress(percent, stage);
        Ok(())
    }

    /// Journals what the next step is about to make, before it makes it, so an undo after a
    /// failure, a cancel or a crash knows to remove it.
    pub async fn will_make(&self, entry: &impl Serialize) -> Result<(), OpError> {
        let entry = serde_json::to_value(entry)?;
        let id = self.task.id.clone();
        self.db
            .write_small(move |c| store::journal_append(c, &id, &entry))
            .await?;
        Ok(())
    }

    /// A line of the operation's own in the task's output log.
    pub fn note(&self, line: &str) {
        self.log.note(line);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Fails with [`OpError::Cancelled`] once the task is cancelled.
    pub fn check_cancelled(&self) -> Result<(), OpError> {
        if self.cancel.is_cancelled() {
            Err(OpError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Sleeps, waking early with [`OpError::Cancelled`] if the task is cancelled.
    pub async fn sleep(&self, d: Duration) -> Result<(), OpError> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(OpError::Cancelled),
        }
    }
}

/// A task that does no host work: it waits `duration_ms` (cancellably) and completes. It lets an
/// admin check the queue end to end and is what the benchmark chains.
pub struct Noop;

#[derive(serde::Deserialize)]
struct NoopParams {
    #[serde(default)]
    duration_ms: u64,
}

impl Operation for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: NoopParams = cx.params()?;
            if p.duration_ms > 0 {
                cx.progress(0, "waiting").await?;
                cx.sleep(Duration::from_millis(p.duration_ms)).await?;
            }
            Ok(None)
        })
    }
}
