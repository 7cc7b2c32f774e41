//! Unit tests of operations on a scripted host (`illumos::fake`): the real engine, a database in
//! a temporary directory, and a runner whose commands a [`FakeHost`] answers. A test queues a
//! task as a handler would and reads what a user then reads: the task's status, error message,
//! result and output log. Going through the engine (not calling `run` directly) keeps the
//! tests independent of the operation trait's shape, and covers the undo that follows a failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use illumos::fake::FakeHost;

use super::{EngineConfig, NewTask, Operation, Task, TaskQueue, TaskStatus};
use crate::config::Config;
use crate::db::Db;

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "zw-ops-{}-{label}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything an operation under test runs against.
pub struct Harness {
    pub host: Arc<FakeHost>,
    pub runner: illumos::Runner,
    pub db: Db,
    /// The host's root and the agent's data directory are inside the temporary directory, so
    /// nothing an operation touches on the local machine is outside it.
    pub config: Arc<Config>,
    _dir: TempDir,
}

impl Harness {
    pub fn new(label: &str) -> Harness {
        let dir = TempDir::new(label);
        let mut config = Config {
            data_dir: dir.0.join("data"),
            ..Config::default()
        };
        config.host.root = dir.0.join("host");
        config.host.pfexec = None;
        std::fs::create_dir_all(&config.host.root).unwrap();
        let host = FakeHost::new();
        Harness {
            runner: host.runner(),
            host,
            db: Db::open(&dir.0.join("agent.db")).unwrap(),
            config: Arc::new(config),
            _dir: dir,
        }
    }

    /// Starts the engine with `ops`, queues `task`, and waits for it to end.
    pub async fn run(&self, ops: Vec<Arc<dyn Operation>>, task: NewTask) -> Ended {
        let queue = TaskQueue::start(
            self.db.clone(),
            self.runner.clone(),
            ops,
            EngineConfig {
                max_concurrent: 1,
                operation_timeout: Duration::from_secs(60),
                cancel_grace: Duration::from_secs(5),
                max_output_bytes: 1024 * 1024,
            },
            None,
        )
        .await
        .unwrap();
        let queued = queue.enqueue(task).await.unwrap();
        // Bounded only so a hung operation fails the test instead of hanging it: the fake
        // answers at once, so a task ends in milliseconds.
        let task = queue
            .wait(&queued.id, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert!(task.status.is_terminal(), "task still {:?}", task.status);
        let id = task.id.clone();
        let output = self
            .db
            .read(move |c| super::store::output(c, &id, 0, 10_000))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        Ended { task, output }
    }
}

/// A task as it ended, with its output log.
pub struct Ended {
    pub task: Task,
    pub output: Vec<String>,
}

impl Ended {
    pub fn status(&self) -> TaskStatus {
        self.task.status
    }

    /// What `GET /tasks/{id}` shows as `error_message`.
    pub fn error(&self) -> &str {
        self.task.error_message.as_deref().unwrap_or("")
    }

    pub fn result(&self) -> serde_json::Value {
        self.task
            .result
            .as_ref()
            .map(|r| serde_json::from_str(r.get()).unwrap())
            .unwrap_or_default()
    }

    /// Whether the output log has a line containing `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.output.iter().any(|l| l.contains(text))
    }
}
