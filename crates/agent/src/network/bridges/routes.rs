//! The bridge handlers: parse, authorise, check against the host (reads only), enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm::bridge::{self, BridgeName};
use illumos::dladm::{self, LinkClass};
use illumos::link::LinkName;

use super::bridge_lock;
use super::ops::{self, DeleteBridgeParams};
use super::request::{
    bridge_name, BridgeDetailQuery, BridgeQuery, CreateBridgeRequest, DeleteBridgeQuery,
    ModifyBridgeLinksRequest,
};
use super::view::{attached, forwarding_info, info, link_info, BridgeInfo, BridgeList};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::aggregates::enqueue;
use crate::network::{link_lock, metadata};
use crate::tasks::routes::TaskAccepted;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_bridges, create_bridge))
        .routes(routes!(get_bridge, delete_bridge))
        .routes(routes!(modify_bridge_links))
}

/// List bridges, live from dladm, with their STP configuration and attached links.
#[utoipa::path(get, path = "/network/bridges", tag = "network", params(BridgeQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = BridgeList), (status = 400, body = ErrorBody)))]
async fn list_bridges(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<BridgeQuery>,
) -> Result<Json<BridgeList>, ApiError> {
    let name = q
        .name
        .as_deref()
        .map(|n| bridge_name("name", n))
        .transpose()?;
    let run = &app.network.runner;
    let all = match &name {
        Some(n) => bridge::get_bridge(run, n).await?.into_iter().collect(),
        None => bridge::show_bridges(run).await?,
    };
    let links = dladm::show_links(run).await?;
    let bridges: Vec<BridgeInfo> = all
        .iter()
        .map(|b| info(b, &links))
        .take(q.limit.unwrap_or(usize::MAX))
        .collect();
    Ok(Json(BridgeList {
        success: true,
        total: bridges.len(),
        bridges,
        source: "live",
    }))
}

/// One bridge (its keys at the top level, as the original answered), with its links' STP
/// state (`show_links=true`) and forwarding table (`show_forwarding=true`).
#[utoipa::path(get, path = "/network/bridges/{bridge}", tag = "network",
    params(("bridge" = String, Path), BridgeDetailQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = BridgeInfo), (status = 404, body = ErrorBody)))]
async fn get_bridge(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<BridgeDetailQuery>,
) -> Result<Json<BridgeInfo>, ApiError> {
    let name = bridge_name("bridge", &name)?;
    let run = &app.network.runner;
    let b = bridge::get_bridge(run, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no bridge {name}")))?;
    let mut out = info(&b, &dladm::show_links(run).await?);
    if q.show_links.unwrap_or(false) {
        let links = bridge::bridge_links(run, &name).await?.unwrap_or_default();
        out.links = Some(links.iter().map(link_info).collect());
    }
    if q.show_forwarding.unwrap_or(false) {
        let fwd = bridge::bridge_forwarding(run, &name)
            .await?
            .unwrap_or_default();
        out.forwarding_table = Some(fwd.iter().map(forwarding_info).collect());
    }
    Ok(Json(out))
}

/// Refuses, with a 400 naming `links`, links that do not exist, that a bridge cannot take
/// (VNICs, VLANs, tunnels: only physical links, aggregations and etherstubs), or that are in
/// a bridge already.
async fn check_attachable(run: &illumos::Runner, wanted: &[LinkName]) -> Result<(), ApiError> {
    let links = dladm::show_links(run).await?;
    for w in wanted {
        let Some(l) = links.iter().find(|l| &l.link == w) else {
            return Err(ApiError::invalid(
                "links",
                format!("links: no link named {w}"),
            ));
        };
        if !matches!(
            l.class,
            LinkClass::Phys | LinkClass::Aggr | LinkClass::Etherstub
        ) {
            return Err(ApiError::invalid(
                "links",
                format!("links: {w} is not a physical link, aggregation or etherstub, so it cannot be bridged"),
            ));
        }
        if let Some(b) = &l.bridge {
            return Err(ApiError::invalid(
                "links",
                format!("links: {w} is already in bridge {b}"),
            ));
        }
    }
    Ok(())
}

fn locks<'a>(name: &BridgeName, links: impl IntoIterator<Item = &'a LinkName>) -> Vec<String> {
    std::iter::once(bridge_lock(name.as_str()))
        .chain(links.into_iter().map(|l| link_lock(l.as_str())))
        .collect()
}

/// Create a bridge, optionally with links. 409 if the bridge (or its observability link
/// `<name>0`) exists; 400 naming the field for a bad value or a link it cannot take.
#[utoipa::path(post, path = "/network/bridges", tag = "network",
    request_body = CreateBridgeRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_bridge(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateBridgeRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let run = &app.network.runner;
    let obs: LinkName = format!("{}0", spec.name)
        .parse()
        .map_err(ApiError::internal)?;
    if bridge::get_bridge(run, &spec.name).await?.is_some()
        || dladm::get_link(run, &obs).await?.is_some()
    {
        return Err(ApiError::conflict(format!(
            "a bridge named {} (or a link named {obs}) already exists",
            spec.name
        )));
    }
    check_attachable(run, &spec.links).await?;
    let what = format!("bridge {} creation queued", spec.name);
    enqueue(
        &app,
        ops::CREATE_BRIDGE,
        locks(&spec.name, &spec.links),
        metadata(&spec)?,
        caller.name,
        req.created_by,
        &what,
    )
    .await
}

/// Delete a bridge. With links attached it is refused (409) unless `force=true`, which
/// detaches them first.
#[utoipa::path(delete, path = "/network/bridges/{bridge}", tag = "network",
    params(("bridge" = String, Path), DeleteBridgeQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn delete_bridge(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteBridgeQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = bridge_name("bridge", &name)?;
    let run = &app.network.runner;
    if bridge::get_bridge(run, &name).await?.is_none() {
        return Err(ApiError::not_found(format!("no bridge {name}")));
    }
    let members = attached(name.as_str(), &dladm::show_links(run).await?);
    let force = q.force.unwrap_or(false);
    if !members.is_empty() && !force {
        return Err(ApiError::conflict(format!(
            "bridge {name} still has links attached ({}): remove them first or use force=true",
            members.join(", ")
        )));
    }
    let member_names: Vec<LinkName> = members.iter().filter_map(|m| m.parse().ok()).collect();
    let what = format!("bridge {name} deletion queued");
    enqueue(
        &app,
        ops::DELETE_BRIDGE,
        locks(&name, &member_names),
        metadata(&DeleteBridgeParams {
            name: name.clone(),
            force,
        })?,
        caller.name,
        q.created_by,
        &what,
    )
    .await
}

/// Attach links to a bridge or detach them (`dladm add-bridge` / `remove-bridge`), all or
/// none.
#[utoipa::path(put, path = "/network/bridges/{bridge}/links", tag = "network",
    params(("bridge" = String, Path)), request_body = ModifyBridgeLinksRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn modify_bridge_links(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ModifyBridgeLinksRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = bridge_name("bridge", &name)?;
    let spec = req.validate(name.clone())?;
    let run = &app.network.runner;
    if bridge::get_bridge(run, &name).await?.is_none() {
        return Err(ApiError::not_found(format!("no bridge {name}")));
    }
    if spec.operation.adds() {
        check_attachable(run, &spec.links).await?;
    } else {
        let members = attached(name.as_str(), &dladm::show_links(run).await?);
        if let Some(l) = spec
            .links
            .iter()
            .find(|l| !members.iter().any(|m| m == l.as_str()))
        {
            return Err(ApiError::invalid(
                "links",
                format!("links: {l} is not attached to bridge {name}"),
            ));
        }
    }
    let what = format!("bridge {name} link change queued");
    enqueue(
        &app,
        ops::CHANGE_LINKS,
        locks(&name, &spec.links),
        metadata(&spec)?,
        caller.name,
        req.created_by,
        &what,
    )
    .await
}
