//! The link handlers: parse, authorise, check against the host (reads only), enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm;

use super::ops::{self, DeleteEtherstub, DeleteVnic};
use super::request::{
    path_link, CreateEtherstubRequest, CreateVnicRequest, DeleteLinkQuery, EtherstubDetailQuery,
    EtherstubQuery, VnicQuery,
};
use super::view::{
    etherstub, etherstubs, link_exists, EtherstubDetail, EtherstubList, UnderPhys, VnicDetail,
    VnicInfo, VnicList,
};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::{link_lock, metadata, validate, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_etherstubs, create_etherstub))
        .routes(routes!(get_etherstub, delete_etherstub))
        .routes(routes!(list_vnics, create_vnic))
        .routes(routes!(get_vnic, delete_vnic))
}

/// List etherstubs, each with the VNICs over it (live from dladm); `?name=` keeps one.
#[utoipa::path(get, path = "/network/etherstubs", tag = "network", params(EtherstubQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = EtherstubList), (status = 400, body = ErrorBody)))]
async fn list_etherstubs(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<EtherstubQuery>,
) -> Result<Json<EtherstubList>, ApiError> {
    let name = q
        .name
        .as_deref()
        .map(|n| validate::link("name", n))
        .transpose()?;
    let etherstubs: Vec<_> = etherstubs(&app)
        .await?
        .into_iter()
        .filter(|s| name.as_ref().is_none_or(|n| s.name == n.as_str()))
        .collect();
    Ok(Json(EtherstubList {
        success: true,
        total: etherstubs.len(),
        etherstubs,
    }))
}

/// One etherstub (under `etherstub`, and at the top level as the original answered it).
#[utoipa::path(get, path = "/network/etherstubs/{name}", tag = "network",
    params(("name" = String, Path), EtherstubDetailQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = EtherstubDetail), (status = 404, body = ErrorBody)))]
async fn get_etherstub(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<EtherstubDetailQuery>,
) -> Result<Json<EtherstubDetail>, ApiError> {
    let name = path_link(&name)?;
    let mut etherstub = etherstub(&app, &name).await?;
    if q.show_vnics == Some(false) {
        etherstub.vnics.clear();
    }
    Ok(Json(EtherstubDetail::new(etherstub)))
}

/// Create an etherstub (a virtual switch). 409 if a link of that name exists.
#[utoipa::path(post, path = "/network/etherstubs", tag = "network",
    request_body = CreateEtherstubRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_etherstub(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateEtherstubRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let name = spec.name.clone();
    let note = req.created_by;
    if link_exists(&app, &name).await? {
        return Err(ApiError::conflict(format!(
            "a link named {name} already exists"
        )));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::CREATE_ETHERSTUB, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(note),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            &task,
            &format!("Etherstub {name} creation queued"),
        )),
    ))
}

/// Delete an etherstub. 409 naming its VNICs while it has any, unless `force=true` (which
/// deletes them first; a VNIC held by a running zone still makes the task fail).
#[utoipa::path(delete, path = "/network/etherstubs/{name}", tag = "network",
    params(("name" = String, Path), DeleteLinkQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn delete_etherstub(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteLinkQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = path_link(&name)?;
    let force = q.force.unwrap_or(false);
    let stub = etherstub(&app, &name).await?;
    if !stub.vnics.is_empty() && !force {
        return Err(ApiError::conflict(format!(
            "etherstub {name} still has VNICs: {}; delete them first or use force=true",
            stub.vnics.join(", ")
        )));
    }
    let mut new = NewTask::new(ops::DELETE_ETHERSTUB, SCOPE)
        .lock(link_lock(name.as_str()))
        .metadata(metadata(&DeleteEtherstub {
            name: name.clone(),
            force,
            temporary: q.temporary,
        })?)
        .created_by(Some(caller.name))
        .requester_note(q.created_by);
    for v in &stub.vnics {
        new = new.lock(link_lock(v));
    }
    let task = app.tasks.enqueue(new).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            &task,
            &format!("Etherstub {name} deletion queued"),
        )),
    ))
}

/// List VNICs, live from dladm (`?link=` keeps those over one link).
#[utoipa::path(get, path = "/network/vnics", tag = "network", params(VnicQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = VnicList)))]
async fn list_vnics(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<VnicQuery>,
) -> Result<Json<VnicList>, ApiError> {
    let over = match (&q.link, &q.over) {
        (Some(l), _) => Some(validate::link("link", l)?),
        (None, Some(o)) => Some(validate::link("over", o)?),
        (None, None) => None,
    };
    let links = dladm::show_links(&app.network.runner).await?;
    let vnics: Vec<VnicInfo> = app
        .network
        .vnics()
        .await?
        .iter()
        .filter(|v| over.as_ref().is_none_or(|o| &v.over == o))
        .map(|v| VnicInfo::from(v).with_link(&links))
        .filter(|v| match q.zone.as_deref() {
            None => true,
            Some("global") => v.zone.is_none(),
            Some(z) => v.zone.as_deref() == Some(z),
        })
        .filter(|v| q.state.is_none() || v.state == q.state)
        .collect();
    Ok(Json(VnicList {
        success: true,
        total: vnics.len(),
        vnics,
    }))
}

/// One VNIC: under `vnic`, and at the top level with dladm's column names as the original
/// answered it (with show-link's bridge and show-phys's media, duplex and device of the
/// physical link under it).
#[utoipa::path(get, path = "/network/vnics/{name}", tag = "network",
    params(("name" = String, Path)), security(("api_key" = ["viewer"])),
    responses((status = 200, body = VnicDetail), (status = 404, body = ErrorBody)))]
async fn get_vnic(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<VnicDetail>, ApiError> {
    let name = path_link(&name)?;
    let vnic = dladm::get_vnic(&app.network.runner, &name)
        .await
        .map_err(ApiError::host)?
        .ok_or_else(|| ApiError::not_found(format!("no VNIC {name}")))?;
    let run = &app.network.runner;
    let links: Vec<_> = dladm::get_link(run, &name).await?.into_iter().collect();
    // The physical link under it, for show-phys's media, duplex and device.
    let under = match dladm::get_link(run, &vnic.over).await? {
        Some(l) if l.class == dladm::LinkClass::Phys => {
            UnderPhys::of(vnic.over.as_str(), &dladm::show_phys(run).await?)
        }
        _ => UnderPhys::default(),
    };
    Ok(Json(VnicDetail::new(VnicInfo::from(&vnic), &links, under)))
}

/// Create a VNIC over a physical link or an etherstub, optionally with link properties
/// (`properties`: `dladm create-vnic -p`).
#[utoipa::path(post, path = "/network/vnics", tag = "network", request_body = CreateVnicRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_vnic(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateVnicRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let (name, over) = (spec.name.clone(), &spec.link);
    if !link_exists(&app, over).await? {
        return Err(ApiError::invalid(
            "link",
            format!("link: no link named {over}"),
        ));
    }
    if link_exists(&app, &name).await? {
        return Err(ApiError::conflict(format!(
            "a link named {name} already exists"
        )));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::CREATE_VNIC, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VNIC {name} creation queued"))),
    ))
}

/// Delete a VNIC (refused by dladm while a running zone holds it).
#[utoipa::path(delete, path = "/network/vnics/{name}", tag = "network",
    params(("name" = String, Path), DeleteLinkQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_vnic(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteLinkQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    if q.force.is_some() {
        return Err(ApiError::invalid(
            "force",
            "force: a VNIC has nothing to force (dladm delete-vnic has no such option)",
        ));
    }
    let name = path_link(&name)?;
    let vnic = dladm::get_vnic(&app.network.runner, &name)
        .await
        .map_err(ApiError::host)?
        .ok_or_else(|| ApiError::not_found(format!("no VNIC {name}")))?;
    if let Some(zone) = &vnic.zone {
        return Err(ApiError::conflict(format!(
            "VNIC {name} is in use by running zone {zone}"
        )));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::DELETE_VNIC, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(metadata(&DeleteVnic {
                    name: name.clone(),
                    temporary: q.temporary,
                })?)
                .created_by(Some(caller.name))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VNIC {name} deletion queued"))),
    ))
}
