//! The service handlers: reads answer from the host at once; an action is a task.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::services::{self, Direction, ServicesError};
use illumos::smf;

use super::request::{self, ActionRequest, ListQuery};
use super::view::{self, Properties, ServiceDetail, ServiceRow};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(service_action))
        .routes(routes!(service_detail))
        .routes(routes!(service_properties))
}

/// A missing instance is a 404; anything else the host says is a 502.
fn not_found_or_host(e: ServicesError) -> ApiError {
    if e.is_not_found() {
        ApiError::not_found(format!("no service instance {}", e.target))
    } else {
        e.into()
    }
}

/// The host's SMF instances, as `svcs` lists them (state, start time, FMRI). A pattern that
/// matches nothing is an empty list.
#[utoipa::path(get, path = "/services", tag = "services", params(ListQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Vec<ServiceRow>), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn list_services(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ServiceRow>>, ApiError> {
    let filter = q.validate()?;
    let rows = services::list(&app.runner, &filter).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// One instance: `svcs -l`'s keys, its dependencies and dependents, and its processes. The
/// FMRI is a full instance FMRI, URL-encoded in the path.
#[utoipa::path(get, path = "/services/{fmri}", tag = "services",
    params(("fmri" = String, Path, description = "Full instance FMRI, URL-encoded")),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ServiceDetail), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn service_detail(
    _: Viewer,
    State(app): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<ServiceDetail>, ApiError> {
    let fmri = request::fmri("fmri", &raw)?;
    let run = &app.runner;
    let lines = services::detail(run, &fmri)
        .await
        .map_err(not_found_or_host)?;
    let (deps, dependents, procs) = tokio::try_join!(
        services::related(run, &fmri, Direction::Dependencies),
        services::related(run, &fmri, Direction::Dependents),
        services::processes(run, &fmri),
    )
    .map_err(not_found_or_host)?;
    Ok(Json(ServiceDetail::new(
        fmri.to_string(),
        lines,
        deps,
        dependents,
        procs,
    )))
}

/// Every property of the instance's running snapshot (`svcprop FMRI`), by property group.
#[utoipa::path(get, path = "/services/{fmri}/properties", tag = "services",
    params(("fmri" = String, Path, description = "Full instance FMRI, URL-encoded")),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Properties), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn service_properties(
    _: Viewer,
    State(app): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Properties>, ApiError> {
    let fmri = request::fmri("fmri", &raw)?;
    let props = services::properties(&app.runner, &fmri)
        .await
        .map_err(not_found_or_host)?;
    Ok(Json(view::properties(props)))
}

/// Enable, disable, restart, refresh or clear an instance, as a task (`service_<action>`).
/// The agent's own service is refused, and so is disabling or restarting a service an
/// administrator needs to reach the host (ssh, the network, the restarter): a 403
/// `protected-service` saying why. An unknown instance is a 404; nothing is queued. A
/// restart's task ends once the instance runs again (svcadm returns before svc.startd acts),
/// and fails if it does not start (maintenance); an instance that was not running is not
/// restarted, and one not settled after 60 s ends the task with a note saying its state.
#[utoipa::path(post, path = "/services/action", tag = "services", request_body = ActionRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn service_action(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<ActionRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let params = req.validate()?;
    if let Some(why) = request::refusal(&params.fmri, params.action) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "protected-service",
            why,
        ));
    }
    if smf::service_state(&app.runner, &params.fmri)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "no service instance {}",
            params.fmri
        )));
    }
    let message = format!(
        "Task created for action {} on service {}",
        params.action.as_str(),
        params.fmri
    );
    let task = app
        .tasks
        .enqueue(
            NewTask::new(params.action.operation(), params.fmri.as_str())
                .lock(format!("service:{}", params.fmri))
                .metadata(serde_json::to_value(&params).map_err(ApiError::internal)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted(&task, &message))))
}
