//! The hostname handlers.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::hostname::{self, NODENAME_PATH};
use serde::Serialize;
use utoipa::ToSchema;

use super::ops::SET_HOSTNAME;
use super::request::SetHostnameRequest;
use super::LOCK_HOSTNAME;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::network::{metadata, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(get_hostname, set_hostname))
}

/// The node name, with the original's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostnameInfo {
    pub success: bool,
    /// The running system's name (`hostname`).
    pub hostname: String,
    /// The same as `hostname`.
    pub system_hostname: String,
    /// The first line of `/etc/nodename`: the name the next boot takes (nodename(5)); null
    /// when the file is missing or empty.
    pub nodename_file: Option<String>,
    /// Whether the running name is the file's (true when there is no file).
    pub matches: bool,
    /// Says so when they differ (a change not yet applied, or a name set by hand); else null.
    pub warning: Option<String>,
}

/// The running node name and the one in `/etc/nodename`.
#[utoipa::path(get, path = "/network/hostname", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = HostnameInfo)))]
async fn get_hostname(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<HostnameInfo>, ApiError> {
    let system = hostname::current(&app.network.runner).await?;
    let path = app.network.config.host_file(NODENAME_PATH);
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => hostname::parse_nodename_file(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ApiError::internal(format!(
                "cannot read {NODENAME_PATH}: {e}"
            )))
        }
    };
    let matches = file.as_ref().is_none_or(|f| *f == system);
    Ok(Json(HostnameInfo {
        success: true,
        hostname: system.clone(),
        system_hostname: system,
        nodename_file: file,
        matches,
        warning: (!matches)
            .then(|| format!("{NODENAME_PATH} names another host: the next boot takes that name")),
    }))
}

/// Change the node name: writes `/etc/nodename` (the next boot's name) and, with
/// `apply_immediately`, sets the running name too. A task; a bad name is a 400 naming
/// `hostname` and nothing changes.
#[utoipa::path(put, path = "/network/hostname", tag = "network",
    request_body = SetHostnameRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn set_hostname(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SetHostnameRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let name = spec.hostname.clone();
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SET_HOSTNAME, SCOPE)
                .lock(LOCK_HOSTNAME)
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            &task,
            &format!("Hostname change to {name} queued"),
        )),
    ))
}
