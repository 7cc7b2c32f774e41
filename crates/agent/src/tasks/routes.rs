//! `/tasks` and `/events`.

use std::convert::Infallible;
use std::time::Duration;

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::engine::{CancelOutcome, EnqueueError};
use super::model::{NewTask, OutputLine, Task, TaskEvent, TaskStatus};
use super::store::{self, Filter};
use crate::http::auth::{Admin, Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::pages;
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(task_stats))
        .routes(routes!(get_task, cancel_task))
        .routes(routes!(task_output))
        .routes(routes!(wait_task))
        .routes(routes!(events))
        .merge(super::stream::router())
}

impl From<EnqueueError> for ApiError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::NoSuchDependency(_) => ApiError::invalid("depends_on", e.to_string()),
            EnqueueError::NoSuchParent(_) => ApiError::invalid("parent_task_id", e.to_string()),
            EnqueueError::Db(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only tasks in this status.
    status: Option<TaskStatus>,
    /// Only tasks of this zone (or scope).
    zone_name: Option<String>,
    /// Only tasks of this operation.
    operation: Option<String>,
    /// Only tasks that changed (were created, started, progressed or ended) at or after this
    /// RFC 3339 time: a client polling for changes passes the newest `updated_at` it saw.
    since: Option<String>,
    /// Only tasks of at least this priority.
    min_priority: Option<i64>,
    /// Only the children of this group.
    parent_task_id: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<i64>,
    /// Tasks to skip (default 0).
    offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
    /// How many tasks match the filter in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// List tasks, newest first.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_tasks(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::response::Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be from 1 to 1000"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "offset must not be negative"));
    }
    let since = match q.since {
        Some(s) => Some(crate::time::rfc3339(
            crate::time::parse_rfc3339(&s)
                .ok_or_else(|| ApiError::invalid("since", "since must be an RFC 3339 time"))?,
        )),
        None => None,
    };
    let filter = Filter {
        status: q.status,
        zone_name: q.zone_name,
        operation: q.operation,
        since,
        min_priority: q.min_priority,
        parent_task_id: q.parent_task_id,
        limit,
        offset,
    };
    let epoch = app.db.epoch();
    let key = format!("tasks {filter:?}");
    if let Some(body) = app.pages.get(epoch, &key) {
        return Ok(pages::json(body));
    }
    // On the calling thread: a page of tasks is read in well under a millisecond, less than a
    // hand-off to the blocking pool costs under load.
    let (tasks, total) = app.db.read_blocking(|c| store::list(c, &filter))?;
    let body = serde_json::to_vec(&TaskList {
        tasks,
        total,
        limit,
        offset,
    })
    .map_err(ApiError::internal)?;
    let body = axum::body::Bytes::from(body);
    app.pages.put(epoch, key, body.clone());
    Ok(pages::json(body))
}

/// How many tasks there are in each status.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskStats {
    pub success: bool,
    /// Queued, waiting for their turn, a dependency or a lock.
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub total: i64,
}

/// The number of tasks in each status (the tasks the retention keeps).
#[utoipa::path(get, path = "/tasks/stats", tag = "tasks",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = TaskStats), (status = 401, body = ErrorBody)))]
async fn task_stats(_: Viewer, State(app): State<AppState>) -> Result<Json<TaskStats>, ApiError> {
    let counts = app.db.read(store::count_by_status).await?;
    let n = |s: TaskStatus| counts.get(&s).copied().unwrap_or(0);
    Ok(Json(TaskStats {
        success: true,
        pending: n(TaskStatus::Pending),
        running: n(TaskStatus::Running),
        completed: n(TaskStatus::Completed),
        failed: n(TaskStatus::Failed),
        cancelled: n(TaskStatus::Cancelled),
        total: counts.values().sum(),
    }))
}

/// A diagnostic task: no host work, just a cancellable wait.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// Only `noop` can be queued directly; every other operation is queued by its own endpoint.
    operation: String,
    /// Zone (or scope) the task belongs to; a zone's tasks run one at a time. Default `system`.
    zone_name: Option<String>,
    /// Higher runs first (default 0).
    #[serde(default)]
    priority: i64,
    /// Run only after this task completes.
    depends_on: Option<String>,
    /// How long the task waits before completing, in milliseconds (at most one hour).
    #[serde(default)]
    duration_ms: u64,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    created_by: Option<super::RequesterNote>,
}

/// The answer to a request that queued a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskAccepted {
    pub success: bool,
    pub task_id: String,
    pub zone_name: String,
    pub operation: String,
    pub status: TaskStatus,
    pub message: String,
}

/// Queue a diagnostic `noop` task (admins), to check the queue end to end.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = CreateTaskRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn create_task(
    Auth(caller): Admin,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateTaskRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    if req.operation != "noop" {
        return Err(ApiError::invalid(
            "operation",
            "only the noop operation can be queued through /tasks",
        ));
    }
    if req.duration_ms > 3_600_000 {
        return Err(ApiError::invalid(
            "duration_ms",
            "duration_ms must be at most 3600000",
        ));
    }
    let mut new = match &req.zone_name {
        Some(z) => {
            let zone = illumos_zone_name(z)?;
            NewTask::for_zone("noop", &zone)
        }
        None => NewTask::new("noop", "system"),
    };
    if let Some(d) = &req.depends_on {
        uuid::Uuid::parse_str(d).map_err(|_| ApiError::invalid("depends_on", "not a task id"))?;
    }
    new = new
        .priority(req.priority.clamp(-1000, 1000))
        .depends_on(req.depends_on)
        .metadata(serde_json::json!({ "duration_ms": req.duration_ms }))
        .created_by(Some(caller.name))
        .requester_note(req.created_by);
    let task = app.tasks.enqueue(new).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted(&task, "Task queued"))))
}

/// Zone names as illumos allows them: the diagnostic task takes one before the zones area
/// exists, with the same rules.
fn illumos_zone_name(z: &str) -> Result<String, ApiError> {
    let ok = !z.is_empty()
        && z.len() <= 63
        && z.as_bytes()[0].is_ascii_alphanumeric()
        && z.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && z != "global";
    if ok {
        Ok(z.to_owned())
    } else {
        Err(ApiError::invalid("zone_name", "Invalid zone name"))
    }
}

pub fn accepted(task: &Task, message: &str) -> TaskAccepted {
    TaskAccepted {
        success: true,
        task_id: task.id.clone(),
        zone_name: task.zone_name.clone(),
        operation: task.operation.clone(),
        status: task.status,
        message: message.to_owned(),
    }
}

/// Get one task.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
async fn get_task(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    app.tasks
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(|| no_task(&id))
}

fn no_task(id: &str) -> ApiError {
    ApiError::not_found(format!("no task {id}"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelResponse {
    pub success: bool,
    pub task_id: String,
    /// `cancelled` when it had not started; `running` while a running task is being stopped and
    /// undone (follow it with `/tasks/{id}/wait`).
    pub status: TaskStatus,
    pub message: String,
}

/// Cancel a task: a pending one at once; a running one has its commands killed and what it made
/// undone; a group cancels its children.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, body = CancelResponse), (status = 202, body = CancelResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_task(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CancelResponse>), ApiError> {
    let reason = format!("cancelled by {}", caller.name);
    match app.tasks.cancel(&id, &reason).await? {
        CancelOutcome::NotFound => Err(no_task(&id)),
        CancelOutcome::AlreadyFinished(t) => Err(ApiError::conflict(format!(
            "task {id} has already ended ({})",
            t.status.as_str()
        ))),
        CancelOutcome::Cancelled(t) => Ok((
            StatusCode::OK,
            Json(CancelResponse {
                success: true,
                task_id: t.id,
                status: t.status,
                message: "Task cancelled".into(),
            }),
        )),
        CancelOutcome::Cancelling(t) => Ok((
            StatusCode::ACCEPTED,
            Json(CancelResponse {
                success: true,
                task_id: t.id,
                status: t.status,
                message: "Task is being cancelled; what it made is being undone".into(),
            }),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutputQuery {
    /// Only lines after this sequence number (for following a log).
    after: Option<i64>,
    /// At most this many lines, 1 to 10000 (default 1000).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOutput {
    pub task_id: String,
    pub lines: Vec<OutputLine>,
}

/// A task's output log: host commands run, their output, and the operation's notes.
#[utoipa::path(get, path = "/tasks/{id}/output", tag = "tasks",
    params(("id" = String, Path), OutputQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = TaskOutput), (status = 404, body = ErrorBody)))]
async fn task_output(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<OutputQuery>,
) -> Result<Json<TaskOutput>, ApiError> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be from 1 to 10000"));
    }
    let after = q.after.unwrap_or(0);
    let tid = id.clone();
    let lines = app
        .db
        .read(move |c| {
            if store::status_of(c, &tid)?.is_none() {
                return Ok(None);
            }
            store::output(c, &tid, after, limit).map(Some)
        })
        .await?
        .ok_or_else(|| no_task(&id))?;
    Ok(Json(TaskOutput { task_id: id, lines }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait at most, 0 to 300 (default 30).
    timeout: Option<f64>,
}

/// Wait until a task ends (or the timeout passes) and return it: no polling needed.
#[utoipa::path(get, path = "/tasks/{id}/wait", tag = "tasks",
    params(("id" = String, Path), WaitQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
async fn wait_task(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Json<Task>, ApiError> {
    let secs = q.timeout.unwrap_or(30.0);
    if !(0.0..=300.0).contains(&secs) {
        return Err(ApiError::invalid(
            "timeout",
            "timeout must be from 0 to 300 seconds",
        ));
    }
    let revoked = app.revocations.until_revoked(&caller.key_id);
    tokio::select! {
        task = app.tasks.wait(&id, Duration::from_secs_f64(secs)) => {
            task?.map(Json).ok_or_else(|| no_task(&id))
        }
        () = revoked => Err(ApiError::unauthorized("the API key was revoked")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of this zone (or scope).
    zone_name: Option<String>,
    /// Only events of this task (and, for a group, of its children).
    task_id: Option<String>,
}

/// Server-Sent Events: `task_created`, `task_started`, `task_progress`, `task_finished`, each
/// with a [`TaskEvent`] as data.
#[utoipa::path(get, path = "/events", tag = "tasks", params(EventsQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, description = "text/event-stream of TaskEvent", body = TaskEvent)))]
async fn events(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.tasks.subscribe();
    let stream = futures_util::stream::unfold((rx, q), |(mut rx, q)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let wanted = q.zone_name.as_ref().is_none_or(|z| *z == ev.zone_name)
                        && q.task_id.as_ref().is_none_or(|t| {
                            *t == ev.task_id || ev.parent_task_id.as_ref() == Some(t)
                        });
                    if !wanted {
                        continue;
                    }
                    let event = Event::default()
                        .event(ev.event)
                        .json_data(&ev)
                        .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                    return Some((Ok(event), (rx, q)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let event = Event::default()
                        .event("lagged")
                        .data(format!("{n} events were dropped; re-read /tasks"));
                    return Some((Ok(event), (rx, q)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    // The stream ends (the response completes) when the key that opened it is revoked.
    let stream = stream.take_until(app.revocations.until_revoked(&caller.key_id));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
