//! Console sessions in the task log: opening one and its end are each a task of operation
//! `console_session`, `created_by` the key that opened it, so `GET /tasks` answers "who had a
//! console on this zone, when, and why did it end" with the rest of the agent's history.
//!
//! A session is not itself a running task: the engine's concurrency limit is for host work,
//! and fifty open consoles must not hold back a zone's boot. Each record is an instant task.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys::store::Caller;
use crate::tasks::{Cx, NewTask, OpError, TaskOp, TaskQueue};

pub const CONSOLE_SESSION: &str = "console_session";

/// One line of a console's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// `zlogin`, `terminal` or `vnc` (a `websockify` bridge).
    pub console: String,
    pub session_id: String,
    /// `opened`, `attached` (a WebSocket joined: `writer` says whether it may type) or
    /// `closed`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// On a VNC bridge's `closed`: how long it lasted and the bytes it carried.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

/// What a bridge carried, for its `closed` record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Traffic {
    pub duration_ms: u64,
    /// From the viewer to the server (keys, pointer, requests).
    pub bytes_to_server: u64,
    /// From the server to the viewer (framebuffer updates).
    pub bytes_from_server: u64,
}

pub struct ConsoleSession;

impl TaskOp for ConsoleSession {
    type Params = Record;
    type Entry = ();

    fn name(&self) -> &'static str {
        CONSOLE_SESSION
    }

    async fn run(&self, cx: &Cx<'_, ()>, r: Record) -> Result<Option<Value>, OpError> {
        let mut line = format!("{} session {} {}", r.console, r.session_id, r.event);
        if let Some(z) = &r.zone_name {
            line.push_str(&format!(" (zone {z})"));
        }
        if let Some(w) = r.writer {
            line.push_str(if w { " as the writer" } else { " as a watcher" });
        }
        if let Some(why) = &r.reason {
            line.push_str(&format!(": {why}"));
        }
        if let Some(t) = &r.traffic {
            line.push_str(&format!(
                " after {} ms, {} bytes to the server, {} from it",
                t.duration_ms, t.bytes_to_server, t.bytes_from_server
            ));
        }
        cx.note(&line);
        Ok(Some(serde_json::to_value(&r).unwrap_or(Value::Null)))
    }
}

/// Records `r` for `by` (the key's name), in the zone's scope or `system`. A failure to record
/// is logged, not fatal: the console itself works without its history line.
pub async fn record(tasks: &TaskQueue, by: Option<&Caller>, r: Record) {
    let scope = r.zone_name.clone().unwrap_or_else(|| "system".into());
    let metadata = serde_json::to_value(&r).unwrap_or(Value::Null);
    let task = NewTask::new(CONSOLE_SESSION, scope)
        .metadata(metadata)
        .created_by(by.map(|c| c.name.clone()));
    if let Err(e) = tasks.enqueue(task).await {
        tracing::warn!(error = %e, session = %r.session_id, "cannot record a console session");
    }
}
