//! `GET /tasks/{id}/stream`: a task's output log as a WebSocket, as the original sent it: the
//! lines so far, then each line as it is written, as `{"type":"output","task_id","stream",
//! "data","timestamp","seq"}` text frames; when the task has ended, one
//! `{"type":"status","task_id","status","error_message"}` frame and a close frame naming the
//! status.
//!
//! It waits on the engine's notices (lines committed, task finished), never on a timer. The
//! engine commits a task's last lines before it records the task's end, so once the task is
//! seen ended, one more read has every line.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::model::Task;
use super::store;
use crate::http::auth::{Auth, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::ws::Upgrade;
use crate::http::AppState;
use crate::keys::store::Caller;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(task_stream))
}

/// Live task output over a WebSocket (see the module's doc for the frames). Auth: a key
/// header or `?ticket=` (`POST /ws-tickets`), before the upgrade.
#[utoipa::path(get, path = "/tasks/{id}/stream", tag = "tasks",
    params(("id" = String, Path),
        ("ticket" = Option<String>, Query, description = "from POST /ws-tickets, instead of a key header")),
    security(("api_key" = ["viewer"])),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 426, body = ErrorBody, description = "not a WebSocket request"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn task_stream(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
    upgrade: Upgrade,
) -> Result<Response, ApiError> {
    if app.tasks.get(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("Task {id} not found")));
    }
    upgrade.on_upgrade(move |socket| follow(app, id, caller, socket))
}

const PAGE: i64 = 1000;

/// Sends the lines after `after`; returns the last sequence number sent, or `None` when the
/// socket is gone.
async fn send_lines(
    app: &AppState,
    socket: &mut WebSocket,
    id: &str,
    mut after: i64,
) -> Option<i64> {
    loop {
        let tid = id.to_owned();
        let lines = app
            .db
            .read(move |c| store::output(c, &tid, after, PAGE))
            .await
            .ok()?;
        for l in &lines {
            let frame = json!({"type": "output", "task_id": id, "stream": l.stream,
                "data": l.line, "timestamp": l.timestamp, "seq": l.seq});
            socket
                .send(Message::Text(frame.to_string().into()))
                .await
                .ok()?;
            after = l.seq;
        }
        if (lines.len() as i64) < PAGE {
            return Some(after);
        }
    }
}

async fn finish(socket: &mut WebSocket, task: &Task) {
    let frame = json!({"type": "status", "task_id": task.id, "status": task.status,
        "error_message": task.error_message});
    let _ = socket.send(Message::Text(frame.to_string().into())).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: format!("task {}", task.status.as_str()).into(),
        })))
        .await;
}

async fn follow(app: AppState, id: String, caller: Caller, mut socket: WebSocket) {
    // Subscribed before the first read, so nothing written in between is missed.
    let mut written = app.tasks.subscribe_output();
    let mut events = app.tasks.subscribe();
    let revoked = app.revocations.until_revoked(&caller.key_id);
    tokio::pin!(revoked);
    let mut after = 0;
    loop {
        // The status first, then the lines: an end seen here means its lines are all in.
        let task = match app.tasks.get(&id).await {
            Ok(Some(t)) => t,
            _ => return,
        };
        let Some(sent) = send_lines(&app, &mut socket, &id, after).await else {
            return;
        };
        after = sent;
        if task.status.is_terminal() {
            finish(&mut socket, &task).await;
            return;
        }
        // Until something about this task happens.
        loop {
            tokio::select! {
                got = written.recv() => match got {
                    Ok(t) if t == id => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                },
                got = events.recv() => match got {
                    Ok(ev) if ev.task_id == id && ev.status.is_terminal() => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                },
                () = &mut revoked => {
                    let _ = socket.send(Message::Close(Some(CloseFrame {
                        code: 1008,
                        reason: "the API key was revoked".into(),
                    }))).await;
                    return;
                }
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}
