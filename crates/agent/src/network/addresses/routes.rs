//! The address handlers: parse, authorise, check against the host (reads only), enqueue.
//!
//! A path's address object may come encoded (`vnic0%2Fv4`, one segment) or raw (`vnic0/v4`,
//! two segments); both are routed.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::ipadm::{self, AddrFilter, Address};
use illumos::net::AddrObj;

use super::ops::{self, DeleteAddress, ToggleAddress};
use super::request::{path_addrobj, AddressQuery, CreateAddressRequest, DeleteAddressQuery};
use super::view::{AddressInfo, AddressList};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::{link_lock, metadata, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(delete_address))
        .routes(routes!(delete_address_raw))
        .routes(routes!(enable_address))
        .routes(routes!(enable_address_raw))
        .routes(routes!(disable_address))
        .routes(routes!(disable_address_raw))
}

/// List IP addresses, live from ipadm.
#[utoipa::path(get, path = "/network/addresses", tag = "network", params(AddressQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = AddressList), (status = 400, body = ErrorBody)))]
async fn list_addresses(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AddressQuery>,
) -> Result<Json<AddressList>, ApiError> {
    q.validate()?;
    let addresses: Vec<AddressInfo> = ipadm::show_addr(&app.network.runner, &AddrFilter::All)
        .await?
        .iter()
        .map(AddressInfo::from)
        .filter(|a| {
            q.interface
                .as_deref()
                .is_none_or(|i| a.interface.contains(i))
                && q.ip_version.as_deref().is_none_or(|v| a.ip_version == v)
                && q.kind.as_deref().is_none_or(|t| a.kind == t)
                && q.state.as_deref().is_none_or(|s| a.state == s)
        })
        .collect();
    Ok(Json(AddressList {
        success: true,
        total: addresses.len(),
        addresses,
        source: "live",
    }))
}

/// Create an address: static (IPv4 or IPv6), DHCP or addrconf. The IP interface is plumbed
/// first when it is not yet (and unplumbed again if the address cannot be made). 409 if the
/// address object exists; 400 naming `interface` if there is no such datalink.
#[utoipa::path(post, path = "/network/addresses", tag = "network",
    request_body = CreateAddressRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_address(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateAddressRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    let note = req.created_by.clone();
    let interface = &spec.addrobj.interface;
    let run = &app.network.runner;
    if illumos::dladm::get_link(run, interface).await?.is_none() {
        return Err(ApiError::invalid(
            "interface",
            format!("interface: no datalink named {interface}"),
        ));
    }
    if find(&app, &spec.addrobj).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "address object {} already exists",
            spec.addrobj
        )));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::CREATE_ADDRESS, SCOPE)
                .lock(link_lock(interface.as_str()))
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(note),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            &task,
            &format!("Address {} creation queued", spec.addrobj),
        )),
    ))
}

async fn find(app: &AppState, addrobj: &AddrObj) -> Result<Option<Address>, ApiError> {
    Ok(
        ipadm::show_addr(&app.network.runner, &AddrFilter::Object(addrobj.clone()))
            .await?
            .into_iter()
            .next(),
    )
}

async fn found(app: &AppState, addrobj: &AddrObj) -> Result<Address, ApiError> {
    find(app, addrobj)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no address object {addrobj}")))
}

async fn queue_delete(
    app: AppState,
    caller: String,
    addrobj: AddrObj,
    q: DeleteAddressQuery,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    found(&app, &addrobj).await?;
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::DELETE_ADDRESS, SCOPE)
                .lock(link_lock(addrobj.interface.as_str()))
                .metadata(metadata(&DeleteAddress {
                    addrobj: addrobj.clone(),
                    release: q.release.unwrap_or(false),
                })?)
                .created_by(Some(caller))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            &task,
            &format!("Address {addrobj} deletion queued"),
        )),
    ))
}

/// Delete an address (`release=true`: `delete-addr -r`, releasing a DHCP lease). An IP
/// interface left without addresses is unplumbed too, as the original did, so that the link
/// under it can be deleted next.
#[utoipa::path(delete, path = "/network/addresses/{addrobj}", tag = "network",
    params(("addrobj" = String, Path, description = "INTERFACE/NAME, its `/` encoded"),
        DeleteAddressQuery),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_address(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(addrobj): Path<String>,
    ApiQuery(q): ApiQuery<DeleteAddressQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_delete(app, caller.name, path_addrobj(&addrobj, None)?, q).await
}

/// [`delete_address`] with the address object's `/` not encoded.
#[utoipa::path(delete, path = "/network/addresses/{interface}/{name}", tag = "network",
    params(("interface" = String, Path), ("name" = String, Path), DeleteAddressQuery),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_address_raw(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path((interface, name)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DeleteAddressQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_delete(app, caller.name, path_addrobj(&interface, Some(&name))?, q).await
}

async fn queue_toggle(
    app: AppState,
    caller: String,
    addrobj: AddrObj,
    enable: bool,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    found(&app, &addrobj).await?;
    let task = app
        .tasks
        .enqueue(
            NewTask::new(ops::TOGGLE_ADDRESS, SCOPE)
                .lock(link_lock(addrobj.interface.as_str()))
                .metadata(metadata(&ToggleAddress {
                    addrobj: addrobj.clone(),
                    enable,
                })?)
                .created_by(Some(caller)),
        )
        .await?;
    let verb = if enable { "enable" } else { "disable" };
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("Address {addrobj} {verb} queued"))),
    ))
}

/// Enable a disabled address (`ipadm enable-addr -t`: until the next boot, which restores the
/// persistent configuration anyway). Enabling an enabled address completes doing nothing.
#[utoipa::path(put, path = "/network/addresses/{addrobj}/enable", tag = "network",
    params(("addrobj" = String, Path, description = "INTERFACE/NAME, its `/` encoded")),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn enable_address(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(addrobj): Path<String>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_toggle(app, caller.name, path_addrobj(&addrobj, None)?, true).await
}

/// [`enable_address`] with the address object's `/` not encoded.
#[utoipa::path(put, path = "/network/addresses/{interface}/{name}/enable", tag = "network",
    params(("interface" = String, Path), ("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn enable_address_raw(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path((interface, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_toggle(
        app,
        caller.name,
        path_addrobj(&interface, Some(&name))?,
        true,
    )
    .await
}

/// Disable an address (`ipadm disable-addr -t`: it comes back at the next boot). Disabling a
/// disabled address completes doing nothing.
#[utoipa::path(put, path = "/network/addresses/{addrobj}/disable", tag = "network",
    params(("addrobj" = String, Path, description = "INTERFACE/NAME, its `/` encoded")),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn disable_address(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(addrobj): Path<String>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_toggle(app, caller.name, path_addrobj(&addrobj, None)?, false).await
}

/// [`disable_address`] with the address object's `/` not encoded.
#[utoipa::path(put, path = "/network/addresses/{interface}/{name}/disable", tag = "network",
    params(("interface" = String, Path), ("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn disable_address_raw(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path((interface, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    queue_toggle(
        app,
        caller.name,
        path_addrobj(&interface, Some(&name))?,
        false,
    )
    .await
}
