//! The forwarding handlers.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::ipadm;

use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::network::{metadata, LOCK_FORWARDING, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

use super::ops::SET_FORWARDING;
use super::request::SetForwardingRequest;
use super::view::{status, ForwardingStatus};

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(get_forwarding, set_forwarding))
}

/// Global and per-interface IPv4 forwarding.
#[utoipa::path(get, path = "/network/forwarding", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = ForwardingStatus)))]
async fn get_forwarding(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<ForwardingStatus>, ApiError> {
    Ok(Json(status(&app.network.runner).await?))
}

/// Turn forwarding on or off, globally and on interfaces. Unknown interfaces are a 400.
#[utoipa::path(put, path = "/network/forwarding", tag = "network",
    request_body = SetForwardingRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn set_forwarding(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SetForwardingRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    if !spec.interfaces.is_empty() {
        let known = ipadm::show_if(&app.network.runner, None)
            .await
            .map_err(ApiError::host)?;
        for (i, l) in spec.interfaces.iter().enumerate() {
            if !known.iter().any(|k| &k.name == l) {
                return Err(ApiError::invalid(
                    format!("interfaces[{i}]"),
                    format!("no IP interface named {l}"),
                ));
            }
        }
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SET_FORWARDING, SCOPE)
                .lock(LOCK_FORWARDING)
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by.clone()),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "IP forwarding change queued")),
    ))
}
