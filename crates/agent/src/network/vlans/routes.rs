//! The VLAN handlers: parse, authorise, check against the host (reads only), enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm::{self, vlan, LinkClass};

use super::ops::{self, DeleteVlanParams};
use super::request::{CreateVlanRequest, DeleteVlanQuery, VlanQuery};
use super::view::{info, VlanInfo, VlanList};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::{link_lock, metadata, validate, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_vlans, create_vlan))
        .routes(routes!(get_vlan, delete_vlan))
}

/// List VLAN links, live from dladm, with their state and MTU.
#[utoipa::path(get, path = "/network/vlans", tag = "network", params(VlanQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = VlanList), (status = 400, body = ErrorBody)))]
async fn list_vlans(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<VlanQuery>,
) -> Result<Json<VlanList>, ApiError> {
    let over = q
        .over
        .as_deref()
        .map(|o| validate::link("over", o))
        .transpose()?;
    let run = &app.network.runner;
    let links = dladm::show_links(run).await?;
    let read_at = crate::time::now_rfc3339();
    let vlans: Vec<VlanInfo> = vlan::show_vlans(run)
        .await?
        .iter()
        .filter(|v| q.vid.is_none_or(|id| v.vid.get() == id))
        .filter(|v| over.as_ref().is_none_or(|o| &v.over == o))
        .map(|v| info(v, &links, &read_at))
        .filter(|v| {
            q.state
                .as_deref()
                .is_none_or(|s| v.state.as_deref() == Some(s))
        })
        .collect();
    Ok(Json(VlanList {
        success: true,
        total: vlans.len(),
        vlans,
        source: "live",
    }))
}

/// One VLAN link (its keys at the top level, as the original answered).
#[utoipa::path(get, path = "/network/vlans/{vlan}", tag = "network",
    params(("vlan" = String, Path)), security(("api_key" = ["viewer"])),
    responses((status = 200, body = VlanInfo), (status = 404, body = ErrorBody)))]
async fn get_vlan(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<VlanInfo>, ApiError> {
    let name = validate::link("vlan", &name)?;
    let run = &app.network.runner;
    let v = vlan::get_vlan(run, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no VLAN {name}")))?;
    let links: Vec<_> = dladm::get_link(run, &name).await?.into_iter().collect();
    Ok(Json(info(&v, &links, &crate::time::now_rfc3339())))
}

/// Create a VLAN link over a physical link or an aggregation. 409 if a link of that name
/// exists; 400 naming `link` if the link is missing or cannot carry VLANs.
#[utoipa::path(post, path = "/network/vlans", tag = "network", request_body = CreateVlanRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_vlan(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateVlanRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let note = req.created_by;
    let run = &app.network.runner;
    match dladm::get_link(run, &spec.link).await? {
        None => {
            return Err(ApiError::invalid(
                "link",
                format!("link: no link named {}", spec.link),
            ))
        }
        Some(l) if !matches!(l.class, LinkClass::Phys | LinkClass::Aggr) => {
            return Err(ApiError::invalid(
                "link",
                format!(
                    "link: {} is not a physical link or an aggregation, so it cannot carry VLANs",
                    spec.link
                ),
            ))
        }
        Some(_) => {}
    }
    if dladm::get_link(run, &spec.name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a link named {} already exists",
            spec.name
        )));
    }
    let name = spec.name.clone();
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::CREATE_VLAN, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(note),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VLAN {name} creation queued"))),
    ))
}

/// Delete a VLAN link (`temporary=true`: until the next boot only). The task fails while an
/// IP interface or a VNIC is on it.
#[utoipa::path(delete, path = "/network/vlans/{vlan}", tag = "network",
    params(("vlan" = String, Path), DeleteVlanQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_vlan(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteVlanQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = validate::link("vlan", &name)?;
    if vlan::get_vlan(&app.network.runner, &name).await?.is_none() {
        return Err(ApiError::not_found(format!("no VLAN {name}")));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::DELETE_VLAN, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(metadata(&DeleteVlanParams {
                    name: name.clone(),
                    temporary: q.temporary.unwrap_or(false),
                })?)
                .created_by(Some(caller.name))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VLAN {name} deletion queued"))),
    ))
}
