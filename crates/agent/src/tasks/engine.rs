//! The scheduler: durable, event-driven, with per-zone exclusivity, named locks, priorities,
//! dependencies, groups and cancellation that reaches the child process group.
//!
//! A task is a row before it is work. One actor owns the in-memory picture of live tasks and is
//! the only one that claims work; it wakes on messages (a task queued, finished or cancelled),
//! never on a timer, so a runnable task starts as soon as its turn comes. Tasks that cannot run
//! yet (a lock held, the concurrency limit reached) are skipped, not waited on, so one blocked
//! task never holds back unrelated work.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::log::TaskLog;
use super::model::{NewTask, Task, TaskEvent, TaskStatus, Updated};
use super::operation::{OpCx, OpError, Operation};
use super::store;
use crate::db::{Db, DbError};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub max_concurrent: usize,
    pub operation_timeout: Duration,
    /// How long a cancelled operation gets to stop on its own before it is abandoned.
    pub cancel_grace: Duration,
    /// Output bytes a task keeps in its log (`tasks.max_output_bytes`).
    pub max_output_bytes: u64,
}

/// Observes finished tasks (metrics), and may hold a task's end back until what it changed
/// is visible (the zones area's host view).
pub trait TaskObserver: Send + Sync {
    fn finished(&self, task: &Task);

    /// Runs when the operation is over, before its end is recorded and announced, in the
    /// task's origin scope (`illumos::runner::current_origin`).
    fn settle<'a>(&'a self, _task: &'a Task) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }

    /// After [`TaskObserver::settle`]: writes of what it read and keeps only to save host
    /// reads later, committed together once the task is over (whatever its end, and whether
    /// or not the end could be recorded), not between the task's commands nor in the end's
    /// own commit.
    fn end_writes(&self) -> Vec<store::EndWrite> {
        Vec::new()
    }
}

/// Several observers, in order.
pub struct Observers(pub Vec<Arc<dyn TaskObserver>>);

impl TaskObserver for Observers {
    fn finished(&self, task: &Task) {
        for o in &self.0 {
            o.finished(task);
        }
    }

    fn settle<'a>(&'a self, task: &'a Task) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            for o in &self.0 {
                o.settle(task).await;
            }
        })
    }

    fn end_writes(&self) -> Vec<store::EndWrite> {
        self.0.iter().flat_map(|o| o.end_writes()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("depends_on: no task {0}")]
    NoSuchDependency(String),
    #[error("parent_task_id: no task {0}")]
    NoSuchParent(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The result of asking to cancel a task.
#[derive(Debug)]
pub enum CancelOutcome {
    NotFound,
    /// It had already ended; nothing changed.
    AlreadyFinished(Task),
    /// It was pending (or a group with nothing running) and is now cancelled.
    Cancelled(Task),
    /// It is running: its process group has been signalled and its undo will run.
    Cancelling(Task),
}

/// A handle on the engine. Cheap to clone.
#[derive(Clone)]
pub struct TaskQueue {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    tx: mpsc::UnboundedSender<Msg>,
    events: broadcast::Sender<TaskEvent>,
    /// The id of a task whose log just had lines written (`/tasks/{id}/stream` reads them).
    output: broadcast::Sender<String>,
    ops: HashMap<&'static str, Arc<dyn Operation>>,
    runner: illumos::Runner,
    config: EngineConfig,
    observer: Option<Arc<dyn TaskObserver>>,
}

enum Msg {
    /// New tasks, and the caller that queued them, told once the first of them has taken its
    /// first step or could not start (see [`TaskQueue::enqueue_with`]).
    Queued(Vec<Task>, Option<Started>),
    /// The task's operation is over: it no longer runs host work, only waits for what it
    /// changed to show in reads and records its end. Its slot goes to the next task; its
    /// locks stay held until it has finished.
    Released(String),
    Finished(String, TaskStatus),
    Cancel(
        String,
        String,
        oneshot::Sender<Result<CancelOutcome, DbError>>,
    ),
}

impl TaskQueue {
    /// Recovers from a previous run (undoing what interrupted operations made), then starts the
    /// scheduler with the pending tasks.
    pub async fn start(
        db: Db,
        runner: illumos::Runner,
        ops: Vec<Arc<dyn Operation>>,
        config: EngineConfig,
        observer: Option<Arc<dyn TaskObserver>>,
    ) -> Result<TaskQueue, DbError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            db,
            tx,
            events,
            output: broadcast::channel(1024).0,
            ops: ops.into_iter().map(|op| (op.name(), op)).collect(),
            runner,
            config,
            observer,
        });
        recover(&inner).await?;
        let pending = inner
            .db
            .read(|c| store::with_status(c, TaskStatus::Pending))
            .await?;
        let running_groups = inner
            .db
            .read(|c| store::with_status(c, TaskStatus::Running))
            .await?;
        let mut scheduler = Scheduler::new(inner.clone());
        scheduler
            .queued(running_groups.into_iter().chain(pending).collect())
            .await;
        tokio::spawn(scheduler.run(rx));
        Ok(TaskQueue { inner })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TaskEvent> {
        self.inner.events.subscribe()
    }

    /// Ids of tasks as lines are written to their logs (a lagging receiver should re-read).
    pub fn subscribe_output(&self) -> broadcast::Receiver<String> {
        self.inner.output.subscribe()
    }

    pub fn knows(&self, operation: &str) -> bool {
        self.inner.ops.contains_key(operation)
    }

    /// Records the task and wakes the scheduler.
    pub async fn enqueue(&self, new: NewTask) -> Result<Task, EnqueueError> {
        let mut tasks = self.enqueue_with(vec![new], |_| Ok(())).await?;
        Ok(tasks.remove(0))
    }

    /// Records the tasks, and whatever `intent` writes, in one transaction, then wakes the
    /// scheduler. Tasks may name each other (`depends_on`, `parent`) by preset ids.
    pub async fn enqueue_with<F>(
        &self,
        new: Vec<NewTask>,
        intent: F,
    ) -> Result<Vec<Task>, EnqueueError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<(), DbError> + Send + 'static,
    {
        let tasks = self
            .inner
            .db
            .write_small(move |c| {
                let tx = c.transaction()?;
                let mut made: Vec<Task> = Vec::with_capacity(new.len());
                for n in &new {
                    for (dep, missing) in [
                        (
                            &n.depends_on,
                            EnqueueError::NoSuchDependency as fn(String) -> _,
                        ),
                        (
                            &n.parent_task_id,
                            EnqueueError::NoSuchParent as fn(String) -> _,
                        ),
                    ] {
                        if let Some(d) = dep {
                            if store::status_of(&tx, d)?.is_none() {
                                return Ok(Err(missing(d.clone())));
                            }
                        }
                    }
                    made.push(store::insert(&tx, n)?);
                }
                intent(&tx)?;
                tx.commit()?;
                Ok(Ok(made))
            })
            .await??;
        for t in &tasks {
            let _ = self.inner.events.send(TaskEvent::of("task_created", t));
        }
        // The caller answers once the first task has run up to its first wait (its first host
        // command, typically) or could not start now. All of that happens on this worker, in
        // turn: the scheduler, woken here, claims the task and spawns it; the task runs to its
        // first wait; the caller, woken by it, answers while the host works. Answered at once
        // instead, the task would start only once the answer was written, or on another
        // worker woken for it; on a small machine both cost more than the answer's wait.
        // The tasks are returned as queued (pending), which is what the API's answers to a
        // queued change say, whether or not the first has started by then.
        let (started, first_step) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Msg::Queued(tasks.clone(), Some(started)))
            .is_ok()
        {
            // An error only says the first task did not start now (or the scheduler is gone).
            let _ = first_step.await;
        }
        Ok(tasks)
    }

    /// Cancels a task: a pending one at once, a running one by signalling its process group and
    /// undoing what it made; a group by cancelling its children.
    pub async fn cancel(&self, id: &str, reason: &str) -> Result<CancelOutcome, DbError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Cancel(id.to_owned(), reason.to_owned(), reply))
            .map_err(|_| DbError::Join("scheduler stopped".into()))?;
        answer
            .await
            .map_err(|_| DbError::Join("scheduler stopped".into()))?
    }

    pub async fn get(&self, id: &str) -> Result<Option<Task>, DbError> {
        let id = id.to_owned();
        self.inner.db.read_small(move |c| store::get(c, &id)).await
    }

    /// Waits until the task has ended or `timeout` passes; returns its latest state.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Option<Task>, DbError> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let task = self.get(id).await?;
            match &task {
                None => return Ok(None),
                Some(t) if t.status.is_terminal() => return Ok(task),
                _ => {}
            }
            loop {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Err(_) => return Ok(task),
                    Ok(Ok(ev)) if ev.task_id == id && ev.status.is_terminal() => match ev.ended {
                        Some(t) => return Ok(Some(Arc::unwrap_or_clone(t))),
                        None => break,
                    },
                    Ok(Ok(_)) => {}
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => return Ok(task),
                }
            }
        }
    }
}

/// Settles every task that was running when the agent stopped: rolled forward to `completed`
/// if it had passed its commit point, otherwise undone and `failed`.
async fn recover(inner: &Arc<Inner>) -> Result<(), DbError> {
    let interrupted = inner
        .db
        .read(|c| store::with_status(c, TaskStatus::Running))
        .await?;
    for task in interrupted.into_iter().filter(|t| !t.is_group) {
        tracing::warn!(task_id = %task.id, operation = %task.operation, "settling a task interrupted by a restart");
        let log = TaskLog::start(
            inner.db.clone(),
            task.id.clone(),
            task.parent_task_id.clone(),
            inner.events.clone(),
            inner.output.clone(),
            inner.config.max_output_bytes,
            super::log::WINDOW,
        );
        log.note("agent restarted during the operation");
        let mut message = "agent restarted during the operation".to_owned();
        let mut status = TaskStatus::Failed;
        let mut result = None;
        let mut writes = Vec::new();
        if let Some(op) = inner.ops.get(task.operation.as_str()) {
            match settle(inner, op.as_ref(), &task, &log).await {
                Ok(Some((v, w))) => {
                    status = TaskStatus::Completed;
                    result = v;
                    writes = w;
                }
                Ok(None) => {}
                Err(e) => message.push_str(&format!("; undo failed: {e}")),
            }
        }
        log.flush().await;
        let id = task.id.clone();
        let error = (status != TaskStatus::Completed).then_some(message);
        let done = inner
            .db
            .write(move |c| {
                store::finish_with(c, &id, status, error.as_deref(), result.as_ref(), writes)
            })
            .await?;
        if let Some(t) = done {
            let _ = inner.events.send(TaskEvent::of("task_finished", &t));
            if let Some(parent) = t.parent_task_id {
                inner.db.write(move |c| store::roll_up(c, &parent)).await?;
            }
        }
    }
    Ok(())
}

/// After a failure, a cancel or a restart: rolls the operation forward if its journal shows it
/// passed its commit point (`Ok(Some((result, writes)))`: the task completes, with the writes
/// the roll-forward asked to commit with its end), otherwise undoes what the journal says it
/// made (`Ok(None)`).
async fn settle(
    inner: &Arc<Inner>,
    op: &dyn Operation,
    task: &Task,
    log: &Arc<TaskLog>,
) -> Result<Option<(Option<Value>, Vec<store::EndWrite>)>, OpError> {
    let id = task.id.clone();
    let mut journal = inner.db.read(move |c| store::journal(c, &id)).await?;
    // A token of its own: the task's token may be the very cancel that got us here.
    let cancel = CancellationToken::new();
    let cx = OpCx {
        task: task.clone(),
        runner: inner.runner.scoped(
            cancel.clone(),
            Some(log.clone() as Arc<dyn illumos::OutputSink>),
        ),
        db: inner.db.clone(),
        cancel,
        log: log.clone(),
        at_end: Default::default(),
    };
    if let Some(result) = op.roll_forward(&cx, &journal).await? {
        cx.note("the change had taken effect on the host: finished it instead of undoing it");
        return Ok(Some((result, cx.take_end_writes())));
    }
    journal.reverse();
    if !journal.is_empty() {
        cx.note(&format!("undoing {} step(s)", journal.len()));
    }
    op.undo(&cx, journal).await.map(|()| None)
}

/// A live task as the scheduler sees it.
struct Entry {
    task: Task,
}

enum Live {
    Ready(i64, i64),
    Waiting(String),
    Running(CancellationToken),
    Group,
}

struct Scheduler {
    inner: Arc<Inner>,
    ready: BTreeMap<(Reverse<i64>, i64), Entry>,
    waiting: HashMap<String, Vec<Entry>>,
    live: HashMap<String, Live>,
    locks_of: HashMap<String, Vec<String>>,
    parent_of: HashMap<String, String>,
    children: HashMap<String, Vec<String>>,
    held: HashSet<String>,
    running: usize,
    /// Running tasks that gave their slot back (see [`Msg::Released`]).
    released: HashSet<String>,
    /// Callers of [`TaskQueue::enqueue_with`] waiting, by the first task they queued.
    waiting_callers: HashMap<String, Started>,
}

impl Scheduler {
    fn new(inner: Arc<Inner>) -> Self {
        Scheduler {
            inner,
            ready: BTreeMap::new(),
            waiting: HashMap::new(),
            live: HashMap::new(),
            locks_of: HashMap::new(),
            parent_of: HashMap::new(),
            children: HashMap::new(),
            held: HashSet::new(),
            running: 0,
            released: HashSet::new(),
            waiting_callers: HashMap::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        // Work recovered from the database may be runnable before any message arrives.
        self.schedule().await;
        while let Some(msg) = rx.recv().await {
            self.handle(msg).await;
            // Take whatever else arrived before scheduling once for all of it.
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg).await;
            }
            self.schedule().await;
            // Their tasks could not start now (every slot taken, a lock held, a dependency
            // running, or the queue refused them).
            self.waiting_callers.clear();
        }
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Queued(tasks, started) => {
                if let (Some(s), Some(first)) = (started, tasks.first()) {
                    self.waiting_callers.insert(first.id.clone(), s);
                }
                self.queued(tasks).await;
            }
            Msg::Released(id) => {
                if matches!(self.live.get(&id), Some(Live::Running(_))) && self.released.insert(id)
                {
                    self.running -= 1;
                }
            }
            Msg::Finished(id, status) => self.finished(&id, status).await,
            Msg::Cancel(id, reason, reply) => {
                let outcome = self.cancel(&id, &reason).await;
                let _ = reply.send(outcome);
            }
        }
    }

    async fn queued(&mut self, tasks: Vec<Task>) {
        // Groups first, so children queued in the same batch find their parent live.
        let (groups, work): (Vec<Task>, Vec<Task>) = tasks.into_iter().partition(|t| t.is_group);
        for g in groups {
            if !g.status.is_terminal() {
                self.live.insert(g.id.clone(), Live::Group);
                self.children.entry(g.id.clone()).or_default();
            }
        }
        for task in work {
            if let Some(p) = &task.parent_task_id {
                self.parent_of.insert(task.id.clone(), p.clone());
                self.children
                    .entry(p.clone())
                    .or_default()
                    .push(task.id.clone());
            }
            self.locks_of.insert(task.id.clone(), task.locks.clone());
            match task.depends_on.clone() {
                Some(dep) if self.live.contains_key(&dep) => {
                    self.live
                        .insert(task.id.clone(), Live::Waiting(dep.clone()));
                    self.waiting.entry(dep).or_default().push(Entry { task });
                }
                Some(dep) => {
                    let dep_id = dep.clone();
                    let status = self
                        .inner
                        .db
                        .read(move |c| store::status_of(c, &dep_id))
                        .await
                        .ok()
                        .flatten();
                    match status {
                        Some(TaskStatus::Completed) => self.make_ready(task),
                        other => {
                            let what = other.map(|s| s.as_str()).unwrap_or("gone");
                            let reason = format!("dependency {dep} {what}");
                            self.live.insert(task.id.clone(), Live::Waiting(dep));
                            self.end_unstarted(task.id.clone(), &reason).await;
                        }
                    }
                }
                None => self.make_ready(task),
            }
        }
    }

    fn make_ready(&mut self, task: Task) {
        let key = (Reverse(task.priority), task.seq);
        self.live
            .insert(task.id.clone(), Live::Ready(task.priority, task.seq));
        self.ready.insert(key, Entry { task });
    }

    /// Starts every ready task that may run now, in priority then queue order.
    async fn schedule(&mut self) {
        loop {
            if self.running >= self.inner.config.max_concurrent {
                return;
            }
            let next = self
                .ready
                .iter()
                .find(|(_, e)| e.task.locks.iter().all(|l| !self.held.contains(l)))
                .map(|(k, _)| *k);
            let Some(key) = next else { return };
            let Entry { task } = self.ready.remove(&key).expect("key was just found");
            let id = task.id.clone();
            let claimed = self
                .inner
                .db
                .write_small(move |c| store::claim(c, &id))
                .await;
            let mut task = task;
            match claimed {
                Ok(Some(at)) => {
                    task.status = TaskStatus::Running;
                    task.started_at = Some(at.clone());
                    task.updated = Updated::new(at);
                }
                Ok(None) => {
                    self.forget(&task.id);
                    continue;
                }
                Err(e) => {
                    tracing::error!(task_id = %task.id, error = %e, "cannot claim task");
                    self.forget(&task.id);
                    continue;
                }
            }
            let cancel = CancellationToken::new();
            self.held.extend(task.locks.iter().cloned());
            self.running += 1;
            self.live
                .insert(task.id.clone(), Live::Running(cancel.clone()));
            let inner = self.inner.clone();
            let origin = format!("task:{}", task.id);
            let caller = self.waiting_callers.remove(&task.id);
            tokio::spawn(illumos::runner::with_origin(
                origin,
                execute(inner, task, cancel, caller),
            ));
        }
    }

    fn forget(&mut self, id: &str) {
        self.live.remove(id);
        self.locks_of.remove(id);
    }

    async fn finished(&mut self, id: &str, status: TaskStatus) {
        if let Some(Live::Running(_)) = self.live.remove(id) {
            if !self.released.remove(id) {
                self.running -= 1;
            }
            if let Some(locks) = self.locks_of.remove(id) {
                for l in locks {
                    self.held.remove(&l);
                }
            }
        }
        self.settle(id.to_owned(), status).await;
    }

    /// After a task ended: release its dependents and roll its group up.
    async fn settle(&mut self, id: String, status: TaskStatus) {
        let mut queue = vec![(id, status)];
        while let Some((id, status)) = queue.pop() {
            if let Some(dependents) = self.waiting.remove(&id) {
                for Entry { task } in dependents {
                    if status == TaskStatus::Completed {
                        self.make_ready(task);
                    } else {
                        let reason = format!("dependency {id} {}", status.as_str());
                        if let Some(ended) = self.end_now(&task.id, &reason).await {
                            queue.push(ended);
                        }
                    }
                }
            }
            if let Some(parent) = self.parent_of.remove(&id) {
                if let Some(ended) = self.roll_up(&parent).await {
                    queue.push(ended);
                }
            }
            self.children.remove(&id);
        }
    }

    async fn roll_up(&mut self, group: &str) -> Option<(String, TaskStatus)> {
        let gid = group.to_owned();
        match self.inner.db.write(move |c| store::roll_up(c, &gid)).await {
            Ok(Some(t)) => {
                let kind = if t.status.is_terminal() {
                    "task_finished"
                } else {
                    "task_progress"
                };
                let _ = self.inner.events.send(TaskEvent::of(kind, &t));
                if t.status.is_terminal() {
                    self.live.remove(group);
                    if let Some(o) = &self.inner.observer {
                        o.finished(&t);
                    }
                    return Some((t.id, t.status));
                }
                None
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(group, error = %e, "cannot roll a group up");
                None
            }
        }
    }

    /// Cancels a task that has not started; returns it for settling.
    async fn end_now(&mut self, id: &str, reason: &str) -> Option<(String, TaskStatus)> {
        match self.live.remove(id) {
            Some(Live::Ready(p, s)) => {
                self.ready.remove(&(Reverse(p), s));
            }
            Some(Live::Waiting(dep)) => {
                if let Some(v) = self.waiting.get_mut(&dep) {
                    v.retain(|e| e.task.id != id);
                }
            }
            Some(other) => {
                self.live.insert(id.to_owned(), other);
                return None;
            }
            None => return None,
        }
        self.locks_of.remove(id);
        let (tid, why) = (id.to_owned(), reason.to_owned());
        match self
            .inner
            .db
            .write(move |c| store::finish(c, &tid, TaskStatus::Cancelled, Some(&why), None))
            .await
        {
            Ok(Some(t)) => {
                let _ = self.inner.events.send(TaskEvent::of("task_finished", &t));
                if let Some(o) = &self.inner.observer {
                    o.finished(&t);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(task_id = id, error = %e, "cannot cancel task"),
        }
        Some((id.to_owned(), TaskStatus::Cancelled))
    }

    async fn end_unstarted(&mut self, id: String, reason: &str) {
        if let Some(ended) = self.end_now(&id, reason).await {
            self.settle(ended.0, ended.1).await;
        }
    }

    async fn cancel(&mut self, id: &str, reason: &str) -> Result<CancelOutcome, DbError> {
        let db = self.inner.db.clone();
        let get = |id: String| {
            let db = db.clone();
            async move { db.read(move |c| store::get(c, &id)).await }
        };
        match self.live.get(id) {
            None => Ok(match get(id.to_owned()).await? {
                None => CancelOutcome::NotFound,
                Some(t) => CancelOutcome::AlreadyFinished(t),
            }),
            Some(Live::Running(token)) => {
                token.cancel();
                let t = get(id.to_owned()).await?;
                Ok(t.map_or(CancelOutcome::NotFound, CancelOutcome::Cancelling))
            }
            Some(Live::Ready(..)) | Some(Live::Waiting(_)) => {
                self.end_unstarted(id.to_owned(), reason).await;
                let t = get(id.to_owned()).await?;
                Ok(t.map_or(CancelOutcome::NotFound, CancelOutcome::Cancelled))
            }
            Some(Live::Group) => {
                let children = self.children.get(id).cloned().unwrap_or_default();
                let mut any_running = false;
                for child in children {
                    match self.live.get(&child) {
                        Some(Live::Running(token)) => {
                            token.cancel();
                            any_running = true;
                        }
                        Some(Live::Ready(..)) | Some(Live::Waiting(_)) => {
                            self.end_unstarted(child, reason).await;
                        }
                        _ => {}
                    }
                }
                if !any_running && self.live.contains_key(id) {
                    // Nothing ran or remains: the roll-up has nothing to end it with.
                    if let Some(ended) = self.roll_up(id).await {
                        self.settle(ended.0, ended.1).await;
                    }
                }
                let t = get(id.to_owned()).await?;
                Ok(t.map_or(CancelOutcome::NotFound, |t| {
                    if t.status.is_terminal() {
                        CancelOutcome::Cancelled(t)
                    } else {
                        CancelOutcome::Cancelling(t)
                    }
                }))
            }
        }
    }
}

/// Runs one task (as claimed: running) to its end: the operation, its undo on failure or
/// cancel, the final row. `caller`, whoever queued it and waits to answer, is told once the
/// operation has taken its first step.
async fn execute(
    inner: Arc<Inner>,
    task: Task,
    cancel: CancellationToken,
    caller: Option<Started>,
) {
    let _ = inner.events.send(TaskEvent::of("task_started", &task));
    if let Some(parent) = task.parent_task_id.clone() {
        if let Ok(Some(g)) = inner.db.write(move |c| store::roll_up(c, &parent)).await {
            let _ = inner.events.send(TaskEvent::of("task_progress", &g));
        }
    }
    let log = TaskLog::start(
        inner.db.clone(),
        task.id.clone(),
        task.parent_task_id.clone(),
        inner.events.clone(),
        inner.output.clone(),
        inner.config.max_output_bytes,
        super::log::WINDOW,
    );
    let op = inner.ops.get(task.operation.as_str()).cloned();
    let (status, error, result, writes) = match &op {
        None => {
            drop(caller);
            (
                TaskStatus::Failed,
                Some(format!("unknown operation {}", task.operation)),
                None,
                Vec::new(),
            )
        }
        Some(op) => run_operation(&inner, op.as_ref(), &task, &cancel, &log, caller).await,
    };
    // The host work is over: the slot is free for the next task while this one waits for
    // its change to show in reads (a listing shared by every settling task, one refresh at a
    // time, so what runs beyond the limit is bounded).
    let _ = inner.tx.send(Msg::Released(task.id.clone()));
    if let Some(o) = &inner.observer {
        o.settle(&task).await;
    }
    // The log's last lines are written with the end, in its transaction (see `tasks::log`).
    let mut last_lines = log.take_for_end().await;
    let kept = inner
        .observer
        .as_ref()
        .map(|o| o.end_writes())
        .unwrap_or_default();
    let id = task.id.clone();
    let err = error.clone();
    let rides = !writes.is_empty();
    // Shared, not copied: a second attempt needs it only when the first fails.
    let result = Arc::new(result);
    let again = (!rides).then(|| result.clone());
    let lines = last_lines.as_ref().map(|t| t.batch().clone());
    let mut finished = inner
        .db
        .write_small(move |c| {
            let tx = c.transaction()?;
            // The lines only: their progress rides in the end's own update, and the group
            // rolls up once the scheduler hears of the end.
            let written = match &lines {
                Some(b) => Some(store::write_lines(&tx, &id, b)?),
                None => None,
            };
            let progress = lines.as_ref().and_then(|b| b.progress.as_ref());
            let t = store::finish_in(
                &tx,
                &id,
                status,
                err.as_deref(),
                (*result).as_ref(),
                progress,
                writes,
            )?;
            tx.commit()?;
            Ok((t, written))
        })
        .await
        .map(|(t, written)| {
            if let (Some(taken), Some(last)) = (last_lines.take(), written) {
                taken.written(last);
            }
            t
        });
    // Not written (nothing of the end's transaction was): the lines go back to the log.
    drop(last_lines);
    if let (Err(e), Some(result)) = (&finished, again) {
        // Nothing of it was written (a busy database, a `keys` command holding the lock): an
        // end without records of its own is tried once more, on the pool, its lines first.
        tracing::warn!(task_id = %task.id, error = %e, "cannot record the end of a task; trying again");
        log.flush().await;
        let (id, err) = (task.id.clone(), error.clone());
        finished = inner
            .db
            .write(move |c| {
                store::finish_with(
                    c,
                    &id,
                    status,
                    err.as_deref(),
                    (*result).as_ref(),
                    Vec::new(),
                )
            })
            .await;
    }
    let mut status = status;
    if let (Err(e), true, Some(op)) = (&finished, rides, &op) {
        // The records of the outcome could not be written (nothing of that transaction was):
        // the task fails and its change is undone, as for any other failed step.
        let mut error = format!("cannot record the outcome: {e}");
        log.note(&error);
        status = TaskStatus::Failed;
        let (mut result, mut writes) = (None, Vec::new());
        match settle(&inner, op.as_ref(), &task, &log).await {
            Ok(Some((v, w))) => {
                status = TaskStatus::Completed;
                (result, writes) = (v, w);
            }
            Ok(None) => {}
            Err(u) => error.push_str(&format!("; undo failed: {u}")),
        }
        // The undo changed the host after the settle: reads show that too before the end.
        if let Some(o) = &inner.observer {
            o.settle(&task).await;
        }
        log.flush().await;
        let id = task.id.clone();
        let error = (status != TaskStatus::Completed).then_some(error);
        finished = inner
            .db
            .write(move |c| {
                store::finish_with(c, &id, status, error.as_deref(), result.as_ref(), writes)
            })
            .await;
    }
    let ended = match finished {
        Ok(Some(t)) => {
            // Told first, whoever waits for the end answers while the rest is done.
            let _ = inner.events.send(TaskEvent::of("task_finished", &t));
            if let Some(o) = &inner.observer {
                o.finished(&t);
            }
            Some(t)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(task_id = %task.id, error = %e, "cannot record the end of a task");
            None
        }
    };
    let id = task.id;
    let _ = inner.tx.send(Msg::Finished(id.clone(), status));
    // The tasks just woken (whoever waits for this end, the scheduler) were queued on this
    // worker: they run now, before the log line and the kept reads below, which would
    // otherwise hold a `wait` answer back by their length (60-90 µs measured).
    tokio::task::yield_now().await;
    if let Some(t) = ended {
        tracing::info!(task_id = %t.id, operation = %t.operation, zone = %t.zone_name, status = t.status.as_str(), error = ?t.error_message, "task finished");
    }
    // What the settle read is only kept to spare host reads after a restart (each with its
    // file's signature, which tells a stale one): in a commit of its own once the task is
    // over, it keeps the end's commit small and holds back neither waiters nor the next task.
    if !kept.is_empty() {
        if let Err(e) = inner
            .db
            .write_small(move |c| store::keep_reads(c, kept))
            .await
        {
            tracing::warn!(task_id = %id, error = %e, "cannot keep what a task's settle read");
        }
    }
}

/// Tells whoever queued a task that it has taken its first step (see
/// [`TaskQueue::enqueue_with`]).
type Started = oneshot::Sender<()>;

/// An operation's run that tells its caller once it has been polled the first time: it has
/// then run up to its first wait (or to its end).
struct FirstStep<F> {
    work: F,
    caller: Option<Started>,
}

impl<F: std::future::Future + Unpin> std::future::Future for FirstStep<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let polled = std::pin::Pin::new(&mut self.work).poll(cx);
        if let Some(caller) = self.caller.take() {
            let _ = caller.send(());
        }
        polled
    }
}

/// The task's end: its status, error and result, and the writes to commit with it.
type End = (
    TaskStatus,
    Option<String>,
    Option<Value>,
    Vec<store::EndWrite>,
);

async fn run_operation(
    inner: &Arc<Inner>,
    op: &dyn Operation,
    task: &Task,
    cancel: &CancellationToken,
    log: &Arc<TaskLog>,
    caller: Option<Started>,
) -> End {
    let cx = OpCx {
        task: task.clone(),
        runner: inner.runner.scoped(
            cancel.clone(),
            Some(log.clone() as Arc<dyn illumos::OutputSink>),
        ),
        db: inner.db.clone(),
        cancel: cancel.clone(),
        log: log.clone(),
        at_end: Default::default(),
    };
    let config = &inner.config;
    let mut work = FirstStep {
        work: op.run(&cx),
        caller,
    };
    let outcome = tokio::select! {
        r = &mut work => Outcome::Done(r),
        _ = tokio::time::sleep(config.operation_timeout) => {
            cancel.cancel();
            let _ = tokio::time::timeout(config.cancel_grace, &mut work).await;
            Outcome::TimedOut
        }
        _ = cancel.cancelled() => {
            // Let the operation see the cancel and stop its commands (their process groups are
            // signalled by the runner); abandon it if it does not stop in time.
            match tokio::time::timeout(config.cancel_grace, &mut work).await {
                Ok(Ok(v)) => Outcome::Done(Ok(v)),
                _ => Outcome::Cancelled,
            }
        }
    };
    drop(work);
    let (status, mut error, result) = match outcome {
        Outcome::Done(Ok(v)) => return (TaskStatus::Completed, None, v, cx.take_end_writes()),
        Outcome::Done(Err(OpError::Cancelled)) | Outcome::Cancelled => {
            (TaskStatus::Cancelled, "cancelled".to_owned(), None)
        }
        Outcome::Done(Err(e))
            if cancel.is_cancelled() && matches!(&e, OpError::Host(h) if h.is_cancelled()) =>
        {
            (TaskStatus::Cancelled, "cancelled".to_owned(), None)
        }
        Outcome::Done(Err(e)) => (TaskStatus::Failed, e.to_string(), None),
        Outcome::TimedOut => (
            TaskStatus::Failed,
            format!(
                "operation timed out after {} s",
                config.operation_timeout.as_secs()
            ),
            None,
        ),
    };
    log.note(&format!("{}: {error}", status.as_str()));
    match settle(inner, op, task, log).await {
        Ok(Some((v, writes))) => return (TaskStatus::Completed, None, v, writes),
        Ok(None) => {}
        Err(e) => {
            log.note(&format!("undo failed: {e}"));
            error.push_str(&format!("; undo failed: {e}"));
        }
    }
    (status, Some(error), result, Vec::new())
}

enum Outcome {
    Done(Result<Option<Value>, OpError>),
    TimedOut,
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use crate::tasks::operation::{Cx, TaskOp};

    struct Dir(std::path::PathBuf);
    impl Dir {
        fn new(label: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "zw-engine-{}-{label}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs the `zfs` of its tool directory (a script), journalling first; with `unrecordable`
    /// it also asks for a completion record that cannot be written.
    struct Script {
        undone: Arc<Mutex<Vec<Value>>>,
    }

    impl TaskOp for Script {
        type Params = Value;
        type Entry = Value;
        fn name(&self) -> &'static str {
            "script"
        }
        async fn run(&self, cx: &Cx<'_, Value>, meta: Value) -> Result<Option<Value>, OpError> {
            cx.will_make(&serde_json::json!({"made": "thing"})).await?;
            if meta["unrecordable"] == true {
                cx.at_completion(|c| {
                    c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                    Ok(())
                });
            }
            let arg: String = meta["arg"].as_str().unwrap_or("").to_owned();
            cx.runner
                .output(&illumos::Cmd::new(illumos::Tool::Zfs).arg(arg))
                .await?;
            Ok(None)
        }
        async fn undo(
            &self,
            _cx: &Cx<'_, Value>,
            _params: Value,
            journal: Vec<Value>,
        ) -> Result<(), OpError> {
            self.undone.lock().unwrap().extend(journal);
            Ok(())
        }
    }

    /// Journals an entry of a shape its own undo cannot read (as a journal written by another
    /// version might be), then fails.
    struct Strict;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StrictEntry {
        made: String,
    }

    impl TaskOp for Strict {
        type Params = Value;
        type Entry = StrictEntry;
        fn name(&self) -> &'static str {
            "strict"
        }
        async fn run(&self, cx: &Cx<'_, StrictEntry>, _p: Value) -> Result<Option<Value>, OpError> {
            // Written past the typed journal, as another version of the agent would have.
            let (id, entry) = (
                cx.task.id.clone(),
                serde_json::json!({"made": "dataset", "by": "a later version"}).to_string(),
            );
            cx.db
                .write_small(move |c| store::journal_append(c, &id, &entry))
                .await?;
            Err(OpError::failed("the step after failed"))
        }
        async fn undo(
            &self,
            _cx: &Cx<'_, StrictEntry>,
            _p: Value,
            _journal: Vec<StrictEntry>,
        ) -> Result<(), OpError> {
            panic!("undo must not run with an entry it cannot read");
        }
    }

    async fn engine(dir: &Dir, script: &str) -> (TaskQueue, Arc<Mutex<Vec<Value>>>) {
        engine_with(dir, script, 4, None).await
    }

    async fn engine_with(
        dir: &Dir,
        script: &str,
        max_concurrent: usize,
        observer: Option<Arc<dyn TaskObserver>>,
    ) -> (TaskQueue, Arc<Mutex<Vec<Value>>>) {
        let tool = dir.0.join("zfs");
        // Made executable by `install`, a child process: opened for writing here, the file
        // would be held open by any child another test thread forks meanwhile, and running it
        // would fail with ETXTBSY ("Text file busy").
        let source = dir.0.join("zfs.source");
        std::fs::write(&source, format!("#!/bin/sh\n{script}\n")).unwrap();
        let installed = std::process::Command::new("install")
            .args(["-m", "755"])
            .arg(&source)
            .arg(&tool)
            .status()
            .unwrap();
        assert!(installed.success());
        let runner = illumos::Runner::new(illumos::RunnerConfig {
            pfexec: None,
            tool_dir: Some(dir.0.clone()),
            kill_grace: Duration::from_millis(300),
            ..Default::default()
        });
        let db = Db::open(&dir.0.join("t.db")).unwrap();
        let undone = Arc::new(Mutex::new(Vec::new()));
        let ops: Vec<Arc<dyn Operation>> = vec![
            crate::tasks::op(Script {
                undone: undone.clone(),
            }),
            crate::tasks::op(crate::tasks::operation::Noop),
            crate::tasks::op(Strict),
            crate::tasks::op(Planned {
                undone: undone.clone(),
            }),
            crate::tasks::op(Records),
        ];
        let q = TaskQueue::start(
            db,
            runner,
            ops,
            EngineConfig {
                max_concurrent,
                operation_timeout: Duration::from_secs(30),
                cancel_grace: Duration::from_secs(5),
                max_output_bytes: 1024 * 1024,
            },
            observer,
        )
        .await
        .unwrap();
        (q, undone)
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_a_running_task_kills_its_process_group_and_undoes() {
        let dir = Dir::new("cancel");
        let pidfile = dir.0.join("pid");
        let (q, undone) = engine(
            &dir,
            &format!("sleep 600 & echo $! > {}; wait", pidfile.display()),
        )
        .await;
        let t = q.enqueue(NewTask::new("script", "system")).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the script never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(matches!(
            q.cancel(&t.id, "test").await.unwrap(),
            CancelOutcome::Cancelling(_)
        ));
        let done = q
            .wait(&t.id, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, TaskStatus::Cancelled);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive(pid) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!alive(pid), "the command's child {pid} survived the cancel");
        assert_eq!(
            *undone.lock().unwrap(),
            vec![serde_json::json!({"made": "thing"})]
        );
    }

    /// A caller is answered once its task has taken its first step: its task is running by
    /// then. A task that cannot start yet (the only slot is taken) is answered at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn enqueue_returns_once_the_task_has_started_or_cannot_start() {
        let dir = Dir::new("first-step");
        let (q, _) = engine_with(&dir, "sleep 600", 1, None).await;
        let first = q.enqueue(NewTask::new("script", "system")).await.unwrap();
        let now = q.get(&first.id).await.unwrap().unwrap();
        assert_eq!(now.status, TaskStatus::Running);
        // ... though the answer says what was queued.
        assert_eq!(first.status, TaskStatus::Pending);
        let second = tokio::time::timeout(
            Duration::from_secs(10),
            q.enqueue(NewTask::new("script", "system")),
        )
        .await
        .expect("a task that cannot start yet is answered at once")
        .unwrap();
        let now = q.get(&second.id).await.unwrap().unwrap();
        assert_eq!(
            (now.status, second.status),
            (TaskStatus::Pending, TaskStatus::Pending)
        );
        for t in [&second, &first] {
            q.cancel(&t.id, "test").await.unwrap();
            let done = q.wait(&t.id, Duration::from_secs(10)).await.unwrap();
            assert!(done.unwrap().status.is_terminal());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_command_fails_the_task_with_the_tools_words_and_undoes() {
        let dir = Dir::new("fail");
        let (q, undone) =
            engine(&dir, "echo \"cannot create 'x': pool is full\" >&2; exit 1").await;
        let done = run_to_end(&q, NewTask::new("script", "system")).await;
        assert_eq!(done.status, TaskStatus::Failed);
        assert!(done.error_message.unwrap().contains("pool is full"));
        assert_eq!(undone.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_undo_stops_loudly_at_a_journal_entry_it_cannot_read() {
        let dir = Dir::new("strict");
        let (q, _) = engine(&dir, "exit 0").await;
        let done = run_to_end(&q, NewTask::new("strict", "system")).await;
        assert_eq!(done.status, TaskStatus::Failed);
        let error = done.error_message.unwrap();
        assert!(error.contains("the step after failed"), "{error}");
        assert!(error.contains("cannot be read"), "{error}");
        assert!(error.contains("a later version"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn named_locks_serialise_and_groups_roll_up() {
        let dir = Dir::new("locks");
        let (q, _) = engine(&dir, "sleep 0.2").await;
        let group = uuid::Uuid::new_v4().to_string();
        let a = uuid::Uuid::new_v4().to_string();
        let tasks = q
            .enqueue_with(
                vec![
                    NewTask::new("pipeline", "z1")
                        .group()
                        .with_id(group.clone()),
                    NewTask::new("script", "z1")
                        .lock("dhcpd.conf")
                        .parent(Some(group.clone()))
                        .with_id(a.clone()),
                    NewTask::new("script", "z2")
                        .lock("dhcpd.conf")
                        .parent(Some(group.clone()))
                        .depends_on(None),
                ],
                |_| Ok(()),
            )
            .await
            .unwrap();
        let b = tasks[2].id.clone();
        let g = q
            .wait(&group, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.status, TaskStatus::Completed);
        assert_eq!(g.progress_percent, 100);
        let ta = q.get(&a).await.unwrap().unwrap();
        let tb = q.get(&b).await.unwrap().unwrap();
        let (first, second) = if ta.started_at < tb.started_at {
            (ta, tb)
        } else {
            (tb, ta)
        };
        assert!(
            second.started_at >= first.completed_at,
            "the lock did not serialise"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_a_group_cancels_its_children() {
        let dir = Dir::new("group");
        let (q, _) = engine(&dir, "sleep 600").await;
        let group = uuid::Uuid::new_v4().to_string();
        let first = uuid::Uuid::new_v4().to_string();
        let made = q
            .enqueue_with(
                vec![
                    NewTask::new("pipeline", "z1")
                        .group()
                        .with_id(group.clone()),
                    NewTask::for_zone("script", "z1")
                        .parent(Some(group.clone()))
                        .with_id(first.clone()),
                    NewTask::for_zone("script", "z1")
                        .parent(Some(group.clone()))
                        .depends_on(Some(first.clone())),
                ],
                |_| Ok(()),
            )
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while q.get(&first).await.unwrap().unwrap().status != TaskStatus::Running {
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        q.cancel(&group, "test").await.unwrap();
        let g = q
            .wait(&group, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(g.status, TaskStatus::Cancelled);
        for t in &made[1..] {
            assert_eq!(
                q.get(&t.id).await.unwrap().unwrap().status,
                TaskStatus::Cancelled
            );
        }
    }

    /// Holds the settle of tasks in zone `held` until told to let go.
    struct HeldSettle {
        entered: tokio::sync::mpsc::UnboundedSender<String>,
        release: tokio::sync::watch::Receiver<bool>,
    }

    impl TaskObserver for HeldSettle {
        fn finished(&self, _task: &Task) {}

        fn settle<'a>(&'a self, task: &'a Task) -> futures_util::future::BoxFuture<'a, ()> {
            Box::pin(async move {
                if task.zone_name == "held" {
                    let _ = self.entered.send(task.id.clone());
                    let mut release = self.release.clone();
                    let _ = release.wait_for(|r| *r).await;
                }
            })
        }
    }

    /// A task whose operation is over and that only waits for its change to show in reads
    /// gives its slot to the next task, but keeps its zone until its end is recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_settling_task_frees_its_slot_but_keeps_its_zone() {
        let dir = Dir::new("settling");
        let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
        let (release, release_rx) = tokio::sync::watch::channel(false);
        let observer = Arc::new(HeldSettle {
            entered: entered_tx,
            release: release_rx,
        });
        let (q, _) = engine_with(&dir, "exit 0", 1, Some(observer)).await;
        let a = q.enqueue(NewTask::for_zone("noop", "held")).await.unwrap();
        assert_eq!(entered.recv().await.unwrap(), a.id);
        let same_zone = q.enqueue(NewTask::for_zone("noop", "held")).await.unwrap();
        let other = q.enqueue(NewTask::for_zone("noop", "other")).await.unwrap();
        // The only slot is free while `a` settles: the other zone's task runs to its end.
        let done = q
            .wait(&other.id, Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, TaskStatus::Completed, "{done:?}");
        assert_eq!(
            q.get(&a.id).await.unwrap().unwrap().status,
            TaskStatus::Running
        );
        assert_eq!(
            q.get(&same_zone.id).await.unwrap().unwrap().status,
            TaskStatus::Pending,
            "a task of the zone started before the settling one ended"
        );
        release.send(true).unwrap();
        for id in [&a.id, &same_zone.id] {
            let t = q.wait(id, Duration::from_secs(30)).await.unwrap().unwrap();
            assert_eq!(t.status, TaskStatus::Completed, "{t:?}");
        }
    }

    /// Journals three steps in one transaction, then fails at the first of them, saying how
    /// many writes the journal took (nothing else writes meanwhile: no line is logged yet).
    struct Planned {
        undone: Arc<Mutex<Vec<Value>>>,
    }

    impl TaskOp for Planned {
        type Params = Value;
        type Entry = Value;
        fn name(&self) -> &'static str {
            "planned"
        }
        async fn run(&self, cx: &Cx<'_, Value>, _p: Value) -> Result<Option<Value>, OpError> {
            let steps = ["a", "b", "c"].map(|m| serde_json::json!({ "made": m }));
            let before = cx.db.epoch();
            cx.will_make_all(&steps).await?;
            let writes = cx.db.epoch() - before;
            match cx
                .runner
                .output(&illumos::Cmd::new(illumos::Tool::Zfs))
                .await
            {
                Ok(_) => Ok(None),
                Err(e) => Err(OpError::failed(format!("journal writes: {writes}; {e}"))),
            }
        }
        async fn undo(
            &self,
            _cx: &Cx<'_, Value>,
            _p: Value,
            journal: Vec<Value>,
        ) -> Result<(), OpError> {
            self.undone.lock().unwrap().extend(journal);
            Ok(())
        }
    }

    /// Steps journalled together cost one commit, and a failure before the later steps ran
    /// still undoes every one of them, newest first (each undo treats "never made" as done).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn steps_journalled_together_are_one_commit_and_all_undone() {
        let dir = Dir::new("planned");
        let (q, undone) = engine(&dir, "exit 1").await;
        let done = run_to_end(&q, NewTask::new("planned", "system")).await;
        assert_eq!(done.status, TaskStatus::Failed);
        let error = done.error_message.unwrap_or_default();
        assert!(error.starts_with("journal writes: 1;"), "{error}");
        let made: Vec<Value> = undone.lock().unwrap().clone();
        assert_eq!(
            made,
            ["c", "b", "a"].map(|m| serde_json::json!({ "made": m }))
        );
    }

    /// Records one row for its task with its completed end; fails when asked to.
    struct Records;

    impl TaskOp for Records {
        type Params = Value;
        type Entry = ();
        fn name(&self) -> &'static str {
            "records"
        }
        async fn run(&self, cx: &Cx<'_, ()>, p: Value) -> Result<Option<Value>, OpError> {
            let name = cx.task.id.clone();
            cx.at_completion(move |c| {
                c.execute(
                    "INSERT INTO zone_configs (name, sig, export) VALUES (?1, NULL, '')",
                    [name],
                )?;
                Ok(())
            });
            if p["fail"] == true {
                return Err(OpError::failed("the last step failed"));
            }
            Ok(None)
        }
    }

    /// A write asked for with the completed end lands in the end's own transaction: with a
    /// completed task, never with a failed one, and without a commit of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_completion_record_lands_only_with_the_completed_end() {
        let dir = Dir::new("records");
        let (q, _) = engine(&dir, "exit 0").await;
        let recorded = |id: String| {
            q.db()
                .read_blocking(move |c| {
                    Ok(c.query_row(
                        "SELECT COUNT(*) FROM zone_configs WHERE name = ?1",
                        [id],
                        |r| r.get::<_, i64>(0),
                    )?)
                })
                .unwrap()
        };
        for (fail, status, rows) in [
            (true, TaskStatus::Failed, 0),
            (false, TaskStatus::Completed, 1),
        ] {
            let task =
                NewTask::new("records", "system").metadata(serde_json::json!({ "fail": fail }));
            let done = run_to_end(&q, task).await;
            assert_eq!(done.status, status, "{done:?}");
            assert_eq!(recorded(done.id.clone()), rows);
        }
    }

    /// Reads kept after a task's end, in a transaction SQLite rolled back part way (as it may
    /// on a full disk), keep nothing: the writes after the failed one do not commit one by one.
    #[test]
    fn reads_kept_in_a_transaction_that_was_rolled_back_keep_nothing() {
        let dir = Dir::new("rolledback");
        let db = Db::open(&dir.0.join("r.db")).unwrap();
        let rolled_back: store::EndWrite = Box::new(|c| {
            c.execute_batch("ROLLBACK")?;
            Err(DbError::Join("the disk is full".into()))
        });
        let later: store::EndWrite = Box::new(|c| {
            c.execute(
                "INSERT INTO zone_configs (name, sig, export) VALUES ('z', NULL, '')",
                [],
            )?;
            Ok(())
        });
        let reads = vec![rolled_back, later];
        let kept = db.write_blocking(move |c| store::keep_reads(c, reads));
        assert!(kept.is_err(), "{kept:?}");
        db.read_blocking(move |c| {
            let rows: i64 = c.query_row("SELECT COUNT(*) FROM zone_configs", [], |r| r.get(0))?;
            assert_eq!(rows, 0);
            Ok(())
        })
        .unwrap();
    }

    /// Counts the settles it is asked for.
    #[derive(Default)]
    struct CountedSettle(Mutex<usize>);

    impl TaskObserver for CountedSettle {
        fn finished(&self, _task: &Task) {}

        fn settle<'a>(&'a self, _task: &'a Task) -> futures_util::future::BoxFuture<'a, ()> {
            *self.0.lock().unwrap() += 1;
            Box::pin(std::future::ready(()))
        }
    }

    /// When the end's records cannot be written the task fails and its change is undone, and
    /// it settles again after that undo, so reads show the host as the undo left it by the time
    /// the failure is announced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outcome_that_cannot_be_recorded_is_undone_and_settled_again() {
        let dir = Dir::new("unrecordable");
        let observer = Arc::new(CountedSettle::default());
        let (q, undone) = engine_with(&dir, "exit 0", 4, Some(observer.clone())).await;
        let task =
            NewTask::new("script", "system").metadata(serde_json::json!({"unrecordable": true}));
        let done = run_to_end(&q, task).await;
        assert_eq!(done.status, TaskStatus::Failed, "{done:?}");
        let error = done.error_message.unwrap_or_default();
        assert!(error.contains("cannot record the outcome"), "{error}");
        assert_eq!(
            *undone.lock().unwrap(),
            [serde_json::json!({"made": "thing"})]
        );
        assert_eq!(*observer.0.lock().unwrap(), 2);
    }

    /// Keeps what it read after each task's end, in a write during which SQLite rolls the
    /// whole transaction back (as it may on a full disk).
    struct RolledBackKeep;

    impl TaskObserver for RolledBackKeep {
        fn finished(&self, _task: &Task) {}

        fn end_writes(&self) -> Vec<store::EndWrite> {
            vec![Box::new(|c| {
                c.execute_batch("ROLLBACK")?;
                Err(DbError::Join("the disk is full".into()))
            })]
        }
    }

    /// A task whose settle read what cannot be kept still ends, recorded without it, instead
    /// of staying running until a restart undoes what it did.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_end_is_recorded_without_the_reads_that_could_not_be_kept() {
        let dir = Dir::new("keepfails");
        let (q, _) = engine_with(&dir, "exit 0", 4, Some(Arc::new(RolledBackKeep))).await;
        let done = run_to_end(&q, NewTask::new("noop", "system")).await;
        assert_eq!(done.status, TaskStatus::Completed, "{done:?}");
    }

    /// Keeps what it read in a write that notes whether the task's waiter had its answer.
    struct AnsweredFirst {
        answered: Arc<std::sync::atomic::AtomicBool>,
        seen_at_keep: Arc<Mutex<Option<bool>>>,
    }

    impl TaskObserver for AnsweredFirst {
        fn finished(&self, _task: &Task) {}

        fn end_writes(&self) -> Vec<store::EndWrite> {
            let (answered, seen) = (self.answered.clone(), self.seen_at_keep.clone());
            vec![Box::new(move |_| {
                *seen.lock().unwrap() = Some(answered.load(std::sync::atomic::Ordering::SeqCst));
                Ok(())
            })]
        }
    }

    /// Whoever waits for a task's end is answered before the task's remaining chores (the
    /// reads kept, the log line): on one thread, where nothing else could run the waiter, the
    /// keeping write already sees it answered.
    #[tokio::test(flavor = "current_thread")]
    async fn a_waiter_is_answered_before_the_settles_reads_are_kept() {
        let dir = Dir::new("answeredfirst");
        let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen_at_keep = Arc::new(Mutex::new(None));
        let observer = AnsweredFirst {
            answered: answered.clone(),
            seen_at_keep: seen_at_keep.clone(),
        };
        let (q, _) = engine_with(&dir, "exit 0", 4, Some(Arc::new(observer))).await;
        let t = q.enqueue(NewTask::new("noop", "system")).await.unwrap();
        let done = q
            .wait(&t.id, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        answered.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(done.status, TaskStatus::Completed, "{done:?}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen_at_keep.lock().unwrap().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the reads were never kept"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*seen_at_keep.lock().unwrap(), Some(true));
    }

    /// Queues `task` and waits for its end.
    async fn run_to_end(q: &TaskQueue, task: NewTask) -> Task {
        let t = q.enqueue(task).await.unwrap();
        q.wait(&t.id, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap()
    }

    #[test]
    fn retention_spares_what_a_pending_task_depends_on() {
        let dir = Dir::new("prune");
        let db = Db::open(&dir.0.join("p.db")).unwrap();
        db.write_blocking(|c| {
            let old = store::insert(c, &NewTask::new("noop", "system"))?;
            let dep = store::insert(c, &NewTask::new("noop", "system"))?;
            store::insert(c, &NewTask::new("noop", "system").depends_on(Some(dep.id.clone())))?;
            store::finish(c, &old.id, TaskStatus::Completed, None, None)?;
            store::finish(c, &dep.id, TaskStatus::Completed, None, None)?;
            c.execute("UPDATE tasks SET completed_at = '2000-01-01T00:00:00.000000Z' WHERE status = 'completed'", [])?;
            let n = store::prune(c, "2001-01-01T00:00:00.000000Z")?;
            assert_eq!(n, 1);
            assert!(store::get(c, &old.id)?.is_none());
            assert!(store::get(c, &dep.id)?.is_some());
            Ok(())
        })
        .unwrap();
    }
}
