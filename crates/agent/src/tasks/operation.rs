//! What the engine knows of an operation: a name, a way to run it, and a way to undo what its
//! journal says it made. Areas (zones, network, provisioning) implement [`Operation`].

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::log::TaskLog;
use super::model::Task;
use super::store;
use crate::db::{Db, DbError};
use crate::error::{FieldError, HostFailure};

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

/// An operation as an area writes it: typed parameters (read once from the task's metadata),
/// a typed journal entry, and a named outcome for roll-forward. [`op`] adapts it to the engine.
///
/// `run` journals each thing before it makes it (`cx.will_make(&entry)`); `undo` receives the
/// entries newest first, and an entry that cannot be read fails the undo instead of being
/// skipped. Each undo step must treat "already gone" as success: after a crash it may run twice.
pub trait TaskOp: Send + Sync + 'static {
    type Params: DeserializeOwned + Send + Sync;
    type Entry: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync;

    /// The `operation` name stored on tasks.
    fn name(&self) -> &'static str;

    /// Does the work. The returned value becomes the task's `result`.
    fn run(
        &self,
        cx: &Cx<'_, Self::Entry>,
        params: Self::Params,
    ) -> impl Future<Output = Result<Option<Value>, OpError>> + Send;

    /// Undoes what the journal says was made (newest first; may be empty: it also runs for a
    /// task that failed before it made anything, so it can drop its intent).
    fn undo(
        &self,
        _cx: &Cx<'_, Self::Entry>,
        _params: Self::Params,
        _journal: Vec<Self::Entry>,
    ) -> impl Future<Output = Result<(), OpError>> + Send {
        async { Ok(()) }
    }

    /// Called before [`TaskOp::undo`] when the operation failed, was cancelled or was
    /// interrupted by a restart: an operation whose journal shows it passed its commit point
    /// finishes its remaining steps here and answers [`RollForward::Completed`].
    fn roll_forward(
        &self,
        _cx: &Cx<'_, Self::Entry>,
        _params: Self::Params,
        _journal: &[Self::Entry],
    ) -> impl Future<Output = Result<RollForward, OpError>> + Send {
        async { Ok(RollForward::Undo) }
    }
}

/// What roll-forward decided.
#[derive(Debug)]
pub enum RollForward {
    /// Not past the commit point: undo what the journal says was made.
    Undo,
    /// The change took effect: the task completes with this result and nothing is undone.
    Completed(Option<Value>),
}

/// An operation's view of its task: everything [`OpCx`] offers, and a journal that takes only
/// the operation's own entry type.
pub struct Cx<'a, E> {
    inner: &'a OpCx,
    entry: PhantomData<fn(&E)>,
}

impl<'a, E: Serialize> Cx<'a, E> {
    pub fn new(inner: &'a OpCx) -> Self {
        Cx {
            inner,
            entry: PhantomData,
        }
    }

    /// Journals what the next step is about to make, before it makes it, so an undo after a
    /// failure, a cancel or a crash knows to remove it.
    pub async fn will_make(&self, entry: &E) -> Result<(), OpError> {
        self.inner.journal(std::slice::from_ref(entry)).await
    }

    /// Journals what the next steps are about to make, in one transaction, before the first
    /// of them runs. Only for steps whose undo treats "never made" as done (each undo must
    /// already treat "already gone" so): if an earlier step fails, the later entries are
    /// undone without ever having run. One commit instead of one per step.
    pub async fn will_make_all(&self, entries: &[E]) -> Result<(), OpError> {
        self.inner.journal(entries).await
    }
}

impl<E> std::ops::Deref for Cx<'_, E> {
    type Target = OpCx;
    fn deref(&self) -> &OpCx {
        self.inner
    }
}

/// The engine's side of a [`TaskOp`].
pub fn op<T: TaskOp>(t: T) -> Arc<dyn Operation> {
    Arc::new(Typed(t))
}

struct Typed<T>(T);

impl<T: TaskOp> Typed<T> {
    fn entries(journal: Vec<Value>) -> Result<Vec<T::Entry>, OpError> {
        journal
            .into_iter()
            .map(|v| {
                serde_json::from_value(v.clone()).map_err(|error| OpError::Journal {
                    entry: v.to_string(),
                    error,
                })
            })
            .collect()
    }
}

impl<T: TaskOp> Operation for Typed<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move { self.0.run(&Cx::new(cx), cx.params()?).await })
    }

    fn undo<'a>(&'a self, cx: &'a OpCx, journal: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async move {
            let params = match cx.params() {
                Ok(p) => p,
                // The run refused these parameters before it made anything.
                Err(_) if journal.is_empty() => return Ok(()),
                Err(e) => return Err(e),
            };
            let entries = Self::entries(journal)?;
            self.0.undo(&Cx::new(cx), params, entries).await
        })
    }

    fn roll_forward<'a>(
        &'a self,
        cx: &'a OpCx,
        journal: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Option<Value>>, OpError>> {
        Box::pin(async move {
            if journal.is_empty() {
                return Ok(None);
            }
            let entries = Self::entries(journal.to_vec())?;
            let outcome = self
                .0
                .roll_forward(&Cx::new(cx), cx.params()?, &entries)
                .await?;
            Ok(match outcome {
                RollForward::Undo => None,
                RollForward::Completed(result) => Some(result),
            })
        })
    }
}

/// Why an operation failed. Host failures and refused values are kept whole (see
/// `crate::error`), so a task's error reads as the same failure does in an answer.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Host(HostFailure),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("invalid task parameters: {0}")]
    Params(#[from] serde_json::Error),
    /// A journal entry the operation cannot read: its undo stops here rather than skip what
    /// the entry says was made.
    #[error("journal entry {entry} cannot be read: {error}")]
    Journal {
        entry: String,
        error: serde_json::Error,
    },
}

impl OpError {
    pub fn failed(message: impl Into<String>) -> Self {
        OpError::Failed(message.into())
    }
}

/// A command killed because the task was cancelled is the cancellation, not a host failure.
impl From<HostFailure> for OpError {
    fn from(e: HostFailure) -> Self {
        if e.is_cancelled() {
            OpError::Cancelled
        } else {
            OpError::Host(e)
        }
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
    /// Writes to commit with the task's completed end ([`OpCx::at_completion`]).
    pub(super) at_end: std::sync::Mutex<Vec<store::EndWrite>>,
}

impl OpCx {
    /// The task's parameters, typed.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, OpError> {
        Ok(serde_json::from_str(self.task.metadata.get())?)
    }

    /// Secrets queued with the task (never in metadata or logs).
    pub async fn secrets(&self) -> Result<Option<Value>, OpError> {
        let id = self.task.id.clone();
        Ok(self.db.read_small(move |c| store::secrets(c, &id)).await?)
    }

    /// Records progress and a stage text, visible in `GET /tasks/{id}` and on `/events`.
    pub async fn progress(&self, percent: i64, stage: &str) -> Result<(), OpError> {
        self.note(&format!("[{percent}%] {stage}"));
        self.log.progress(percent, stage);
        Ok(())
    }

    async fn journal<T: Serialize>(&self, entries: &[T]) -> Result<(), OpError> {
        let entries = entries
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<String>, _>>()?;
        let id = self.task.id.clone();
        self.db
            .write_small(move |c| {
                let tx = c.transaction()?;
                for entry in &entries {
                    store::journal_append(&tx, &id, entry)?;
                }
                Ok(tx.commit()?)
            })
            .await?;
        Ok(())
    }

    /// Records `write` to be committed in the same transaction as the task's end, and only if
    /// the task ends completed: a record of the operation's outcome (a zone row now `ready`)
    /// then never exists without the completed task, e.g. after a crash between the two,
    /// whose restart undoes the operation. It also saves the write a commit of its own on
    /// the task's path. If it fails, the task fails and is undone.
    pub fn at_completion(
        &self,
        write: impl FnOnce(&rusqlite::Connection) -> Result<(), DbError> + Send + 'static,
    ) {
        self.at_end
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(write));
    }

    /// The writes [`OpCx::at_completion`] collected.
    pub(super) fn take_end_writes(&self) -> Vec<store::EndWrite> {
        std::mem::take(&mut *self.at_end.lock().unwrap_or_else(|p| p.into_inner()))
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
pub struct NoopParams {
    #[serde(default)]
    duration_ms: u64,
}

impl TaskOp for Noop {
    type Params = NoopParams;
    type Entry = ();

    fn name(&self) -> &'static str {
        "noop"
    }

    async fn run(&self, cx: &Cx<'_, ()>, p: NoopParams) -> Result<Option<Value>, OpError> {
        if p.duration_ms > 0 {
            cx.progress(0, "waiting").await?;
            cx.sleep(Duration::from_millis(p.duration_ms)).await?;
        }
        Ok(None)
    }
}
