//! The aggregation handlers: parse, authorise, check against the host (reads only), enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm::{self, aggr, Link, LinkClass};
use illumos::link::LinkName;

use super::ops::{self, DeleteAggrParams};
use super::request::{
    self, AggregateDetailQuery, AggregateQuery, CreateAggregateRequest, DeleteAggregateQuery,
    ModifyAggregateLinksRequest,
};
use super::view::{info, lacp, AggregateInfo, AggregateList};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::{link_lock, metadata, validate, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{NewTask, RequesterNote};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_aggregates, create_aggregate))
        .routes(routes!(get_aggregate, delete_aggregate))
        .routes(routes!(modify_aggregate_links))
}

/// List link aggregations, live from dladm, with their ports, state, speed, address and MTU.
#[utoipa::path(get, path = "/network/aggregates", tag = "network", params(AggregateQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = AggregateList), (status = 400, body = ErrorBody)))]
async fn list_aggregates(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AggregateQuery>,
) -> Result<Json<AggregateList>, ApiError> {
    let policy = q.policy.as_deref().map(request::policy).transpose()?;
    let run = &app.network.runner;
    let all = aggr::show_aggrs(run).await?;
    let ports = aggr::show_aggr_ports(run, None).await?;
    let links = dladm::show_links(run).await?;
    let extended = q.extended.unwrap_or(false);
    let aggregates: Vec<AggregateInfo> = all
        .iter()
        .filter(|a| policy.is_none_or(|p| a.policy.parse::<aggr::AggrPolicy>().ok() == Some(p)))
        .map(|a| info(a, &ports, &links, extended))
        .filter(|a| {
            q.state
                .as_deref()
                .is_none_or(|s| a.state.as_deref() == Some(s))
        })
        .take(q.limit.unwrap_or(usize::MAX))
        .collect();
    Ok(Json(AggregateList {
        success: true,
        total: aggregates.len(),
        aggregates,
        source: "live",
    }))
}

/// One aggregation (its keys at the top level, as the original answered), with each port's
/// detail and, with `lacp=true`, each port's LACP state.
#[utoipa::path(get, path = "/network/aggregates/{aggregate}", tag = "network",
    params(("aggregate" = String, Path), AggregateDetailQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = AggregateInfo), (status = 404, body = ErrorBody)))]
async fn get_aggregate(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<AggregateDetailQuery>,
) -> Result<Json<AggregateInfo>, ApiError> {
    let name = validate::link("aggregate", &name)?;
    let run = &app.network.runner;
    let a = aggr::get_aggr(run, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no aggregation {name}")))?;
    let ports = aggr::show_aggr_ports(run, Some(&name)).await?;
    let links: Vec<Link> = dladm::get_link(run, &name).await?.into_iter().collect();
    let mut out = info(&a, &ports, &links, true);
    if q.lacp.unwrap_or(false) {
        out.lacp_detail = Some(lacp(&aggr::show_aggr_lacp(run, &name).await?));
    }
    Ok(Json(out))
}

/// Refuses, with a 400 naming `field`, ports that do not exist, are not physical links, or
/// that another aggregation, a VNIC, a VLAN or a bridge already holds. (An IP interface on a
/// port is dladm's to refuse: the task then fails with "link busy" and changes nothing.)
async fn check_free_ports(
    run: &illumos::Runner,
    field: &str,
    ports: &[LinkName],
) -> Result<(), ApiError> {
    let links = dladm::show_links(run).await?;
    for p in ports {
        let Some(l) = links.iter().find(|l| &l.link == p) else {
            return Err(ApiError::invalid(
                field,
                format!("{field}: no link named {p}"),
            ));
        };
        if l.class != LinkClass::Phys {
            return Err(ApiError::invalid(
                field,
                format!("{field}: {p} is not a physical link, so it cannot be aggregated"),
            ));
        }
        let holder = links
            .iter()
            .find(|o| o.over.contains(p))
            .map(|o| o.link.to_string())
            .or_else(|| l.bridge.clone());
        if let Some(h) = holder {
            return Err(ApiError::invalid(
                field,
                format!("{field}: {p} is in use by {h}"),
            ));
        }
    }
    Ok(())
}

/// Queues a network task holding `locks`, the caller recorded and the requester's note kept.
pub(crate) async fn enqueue(
    app: &AppState,
    op: &str,
    locks: impl IntoIterator<Item = String>,
    params: serde_json::Value,
    caller: String,
    note: Option<RequesterNote>,
    what: &str,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let task = locks
        .into_iter()
        .fold(NewTask::new(op, SCOPE), |t, l| t.lock(l))
        .metadata(params)
        .created_by(Some(caller))
        .requester_note(note);
    let task = app.tasks.enqueue(task).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted(&task, what))))
}

fn locks<'a>(name: &'a LinkName, ports: impl IntoIterator<Item = &'a LinkName>) -> Vec<String> {
    std::iter::once(name)
        .chain(ports)
        .map(|l| link_lock(l.as_str()))
        .collect()
}

/// Create an aggregation over physical links. 409 if a link of that name exists; 400 naming
/// `links` if a port is missing, not physical, or in use.
#[utoipa::path(post, path = "/network/aggregates", tag = "network",
    request_body = CreateAggregateRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_aggregate(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateAggregateRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let run = &app.network.runner;
    if dladm::get_link(run, &spec.name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a link named {} already exists",
            spec.name
        )));
    }
    check_free_ports(run, "links", &spec.links).await?;
    let what = format!("aggregation {} creation queued", spec.name);
    enqueue(
        &app,
        ops::CREATE_AGGR,
        locks(&spec.name, &spec.links),
        metadata(&spec)?,
        caller.name,
        req.created_by,
        &what,
    )
    .await
}

/// Delete an aggregation (`temporary=true`: until the next boot only). The task fails while a
/// VNIC, VLAN or IP interface is on it.
#[utoipa::path(delete, path = "/network/aggregates/{aggregate}", tag = "network",
    params(("aggregate" = String, Path), DeleteAggregateQuery),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_aggregate(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteAggregateQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = validate::link("aggregate", &name)?;
    let Some(a) = aggr::get_aggr(&app.network.runner, &name).await? else {
        return Err(ApiError::not_found(format!("no aggregation {name}")));
    };
    let ports = aggr::show_aggr_ports(&app.network.runner, Some(&name)).await?;
    let members: Vec<&LinkName> = ports.iter().filter_map(|p| p.port.as_ref()).collect();
    let what = format!("aggregation {} deletion queued", a.link);
    enqueue(
        &app,
        ops::DELETE_AGGR,
        locks(&name, members),
        metadata(&DeleteAggrParams {
            name: name.clone(),
            temporary: q.temporary.unwrap_or(false),
        })?,
        caller.name,
        q.created_by,
        &what,
    )
    .await
}

/// Add ports to an aggregation or remove them (`dladm add-aggr` / `remove-aggr`), all or
/// none. Added ports must be free physical links; removed ones must be its ports, and one
/// port must stay.
#[utoipa::path(put, path = "/network/aggregates/{aggregate}/links", tag = "network",
    params(("aggregate" = String, Path)), request_body = ModifyAggregateLinksRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn modify_aggregate_links(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ModifyAggregateLinksRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = validate::link("aggregate", &name)?;
    let spec = req.validate(name.clone())?;
    let run = &app.network.runner;
    if aggr::get_aggr(run, &name).await?.is_none() {
        return Err(ApiError::not_found(format!("no aggregation {name}")));
    }
    let ports = aggr::show_aggr_ports(run, Some(&name)).await?;
    let members: Vec<&LinkName> = ports.iter().filter_map(|p| p.port.as_ref()).collect();
    if spec.operation.adds() {
        check_free_ports(run, "links", &spec.links).await?;
    } else {
        if let Some(p) = spec.links.iter().find(|p| !members.contains(p)) {
            return Err(ApiError::invalid(
                "links",
                format!("links: {p} is not a port of {name}"),
            ));
        }
        if members.iter().all(|m| spec.links.contains(m)) {
            return Err(ApiError::invalid(
                "links",
                format!("links: {name} must keep at least one port"),
            ));
        }
    }
    let what = format!("aggregation {name} port change queued");
    enqueue(
        &app,
        ops::CHANGE_PORTS,
        locks(&name, &spec.links),
        metadata(&spec)?,
        caller.name,
        req.created_by,
        &what,
    )
    .await
}
