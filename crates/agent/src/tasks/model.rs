//! Task types shared by the store, the engine and the routes.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use utoipa::ToSchema;

use super::requester::RequesterNote;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "pending" => TaskStatus::Pending,
            "running" => TaskStatus::Running,
            "completed" => TaskStatus::Completed,
            "failed" => TaskStatus::Failed,
            "cancelled" => TaskStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// When a task last changed (created, started, progressed or ended), under the spec's name and
/// the Zoneweaver UI's, which polls `GET /tasks?since=` with the newest `updatedAt` it saw.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Updated {
    /// When the task last changed: created, started, progressed or ended.
    pub updated_at: String,
    /// The same time, under the name the Zoneweaver UI reads.
    #[serde(rename = "updatedAt")]
    pub updated_at_ui: String,
}

impl Updated {
    pub fn new(at: String) -> Self {
        Updated {
            updated_at_ui: at.clone(),
            updated_at: at,
        }
    }
}

/// A unit of work, as stored and as served by `/tasks`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Task {
    pub id: String,
    /// The zone the task works on, or a scope such as `system` or `network`.
    pub zone_name: String,
    pub operation: String,
    pub status: TaskStatus,
    /// Higher runs first among runnable tasks; equal priorities run in queue order.
    pub priority: i64,
    /// A task that must complete first; if it fails or is cancelled, this task is cancelled.
    pub depends_on: Option<String>,
    /// The pipeline (group) this task belongs to.
    pub parent_task_id: Option<String>,
    /// True for a group whose status and progress roll up from its children.
    pub is_group: bool,
    /// The name of the API key that queued it.
    pub created_by: Option<String>,
    /// The requester's own label, as the request's `created_by` sent it (the Zoneweaver UI
    /// sends its signed-in user's name there); null when the request had none. `created_by`
    /// above stays the API key's name: the key is what the agent authenticated.
    pub requester_note: Option<String>,
    pub progress_percent: i64,
    /// The current stage, for a person.
    pub progress_info: Option<String>,
    pub error_message: Option<String>,
    /// The operation's parameters (never secrets). Kept as the stored JSON text: listing
    /// tasks copies it out without parsing it.
    #[schema(value_type = Object)]
    pub metadata: Box<RawValue>,
    /// What the operation produced, when it completed.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Box<RawValue>>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    #[serde(flatten)]
    pub updated: Updated,
    #[serde(skip)]
    pub seq: i64,
    #[serde(skip)]
    pub locks: Vec<String>,
}

/// What a caller asks the engine to run.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub zone_name: String,
    pub operation: String,
    pub metadata: Value,
    pub secrets: Option<Value>,
    pub priority: i64,
    pub depends_on: Option<String>,
    pub parent_task_id: Option<String>,
    pub is_group: bool,
    pub locks: Vec<String>,
    pub created_by: Option<String>,
    pub requester_note: Option<RequesterNote>,
    /// Fixed id, for callers that must link tasks before inserting them (pipelines).
    pub id: Option<String>,
}

impl NewTask {
    /// A task in a scope that is not a zone (`system`, `network`): no zone exclusivity.
    pub fn new(operation: impl Into<String>, scope: impl Into<String>) -> Self {
        NewTask {
            zone_name: scope.into(),
            operation: operation.into(),
            metadata: Value::Object(Default::default()),
            secrets: None,
            priority: 0,
            depends_on: None,
            parent_task_id: None,
            is_group: false,
            locks: Vec::new(),
            created_by: None,
            requester_note: None,
            id: None,
        }
    }

    /// A task on a zone: at most one such task runs per zone at a time.
    pub fn for_zone(operation: impl Into<String>, zone: &str) -> Self {
        NewTask::new(operation, zone).lock(zone_lock(zone))
    }

    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    pub fn secrets(mut self, secrets: Value) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    pub fn depends_on(mut self, id: Option<String>) -> Self {
        self.depends_on = id;
        self
    }

    pub fn parent(mut self, id: Option<String>) -> Self {
        self.parent_task_id = id;
        self
    }

    /// A named lock on a shared host resource (`ipnat.conf`, `dhcpd.conf`, `link:NAME`):
    /// tasks holding the same lock never run at the same time.
    pub fn lock(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.locks.contains(&name) {
            self.locks.push(name);
        }
        self
    }

    pub fn group(mut self) -> Self {
        self.is_group = true;
        self
    }

    pub fn created_by(mut self, name: Option<String>) -> Self {
        self.created_by = name;
        self
    }

    /// The requester's label from the request's `created_by` (see [`Task::requester_note`]).
    pub fn requester_note(mut self, note: Option<RequesterNote>) -> Self {
        self.requester_note = note;
        self
    }

    pub fn with_id(mut self, id: String) -> Self {
        self.id = Some(id);
        self
    }
}

pub fn zone_lock(zone: &str) -> String {
    format!("zone:{zone}")
}

/// One line of a task's output log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputLine {
    pub seq: i64,
    /// `stdout`, `stderr` (of a host command) or `agent` (the operation's own notes).
    pub stream: String,
    pub line: String,
    pub timestamp: String,
}

/// What `/events` streams and `/tasks/{id}/wait` listens to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskEvent {
    /// `task_created`, `task_started`, `task_progress` or `task_finished`.
    pub event: &'static str,
    pub task_id: String,
    pub zone_name: String,
    pub operation: String,
    pub status: TaskStatus,
    pub progress_percent: i64,
    pub progress_info: Option<String>,
    pub error_message: Option<String>,
    pub parent_task_id: Option<String>,
    pub timestamp: String,
    /// The ended task as recorded, on a terminal event: a waiter answers with it instead of
    /// reading the row back (not streamed).
    #[serde(skip)]
    pub ended: Option<std::sync::Arc<Task>>,
}

impl TaskEvent {
    pub fn of(event: &'static str, t: &Task) -> Self {
        TaskEvent {
            event,
            task_id: t.id.clone(),
            zone_name: t.zone_name.clone(),
            operation: t.operation.clone(),
            status: t.status,
            progress_percent: t.progress_percent,
            progress_info: t.progress_info.clone(),
            error_message: t.error_message.clone(),
            parent_task_id: t.parent_task_id.clone(),
            timestamp: crate::time::now_rfc3339(),
            ended: t
                .status
                .is_terminal()
                .then(|| std::sync::Arc::new(t.clone())),
        }
    }
}
