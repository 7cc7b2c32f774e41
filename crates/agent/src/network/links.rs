//! `/network/etherstubs` and `/network/vnics`: read live from `dladm` on every GET (no table to
//! go stale), changed by tasks that hold `link:NAME`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm::{self, CreateVnic, LinkFailure, VnicMac};
use illumos::link::{LinkName, UnicastMac, VlanId};
use illumos::persistence::Persistence;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::journal::{self, Made};
use super::{link_lock, validate, NetworkServices, SCOPE};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{BoxFuture, NewTask, OpCx, OpError, Operation};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_etherstubs, create_etherstub))
        .routes(routes!(get_etherstub, delete_etherstub))
        .routes(routes!(list_vnics, create_vnic))
        .routes(routes!(get_vnic, delete_vnic))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        Arc::new(CreateEtherstubOp(svc.clone())),
        Arc::new(DeleteEtherstubOp(svc.clone())),
        Arc::new(CreateVnicOp(svc.clone())),
        Arc::new(DeleteVnicOp(svc.clone())),
    ]
}

// ---------------------------------------------------------------------------------------------
// Wire types.

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicInfo {
    pub name: String,
    /// The link it is over: a physical NIC or an etherstub.
    pub link: String,
    pub mac_address: String,
    /// `fixed`, `random`, `factory, slot N`, ...
    pub mac_type: String,
    pub vlan_id: Option<u16>,
    /// The zone it is assigned to; absent for the global zone.
    pub zone: Option<String>,
    pub speed_mbps: Option<u64>,
}

impl From<&dladm::Vnic> for VnicInfo {
    fn from(v: &dladm::Vnic) -> Self {
        VnicInfo {
            name: v.link.to_string(),
            link: v.over.to_string(),
            mac_address: v.mac.to_string(),
            mac_type: match &v.mac_type {
                dladm::MacAddrType::Fixed => "fixed".into(),
                dladm::MacAddrType::Random => "random".into(),
                dladm::MacAddrType::Factory { slot } => format!("factory, slot {slot}"),
                dladm::MacAddrType::Other(s) => s.clone(),
            },
            vlan_id: v.vlan.map(|v| v.get()),
            zone: v.zone.as_ref().map(|z| z.to_string()),
            speed_mbps: v.speed_mbps,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicList {
    pub success: bool,
    pub vnics: Vec<VnicInfo>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicDetail {
    pub success: bool,
    pub vnic: VnicInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubInfo {
    pub name: String,
    /// The VNICs over it.
    pub vnics: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubList {
    pub success: bool,
    pub etherstubs: Vec<EtherstubInfo>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubDetail {
    pub success: bool,
    pub etherstub: EtherstubInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEtherstubRequest {
    /// A datalink name: letters, digits and `_`, starting with a letter, ending in a number,
    /// at most 31 characters (`estub_provision0`).
    pub name: String,
    /// `dladm -t`: gone after a reboot. Default false.
    #[serde(default)]
    pub temporary: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVnicRequest {
    /// A datalink name (see etherstubs).
    pub name: String,
    /// The link it goes over: a physical NIC or an etherstub; must exist.
    pub link: String,
    /// `auto` (default), `random`, or a unicast MAC in any common notation.
    pub mac_address: Option<String>,
    /// 1 to 4094.
    pub vlan_id: Option<u16>,
    #[serde(default)]
    pub temporary: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForceQuery {
    /// Also delete the VNICs still over the etherstub.
    pub force: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VnicQuery {
    /// Only VNICs over this link.
    pub link: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Handlers.

fn path_link(name: &str) -> Result<LinkName, ApiError> {
    validate::link("name", name)
}

async fn etherstubs(app: &AppState) -> Result<Vec<EtherstubInfo>, ApiError> {
    let run = &app.network.runner;
    let stubs = dladm::show_etherstubs(run).await.map_err(ApiError::host)?;
    let vnics = app.network.vnics().await?;
    Ok(stubs
        .into_iter()
        .map(|s| EtherstubInfo {
            vnics: vnics
                .iter()
                .filter(|v| v.over == s)
                .map(|v| v.link.to_string())
                .collect(),
            name: s.to_string(),
        })
        .collect())
}

/// List etherstubs, each with the VNICs over it (live from dladm).
#[utoipa::path(get, path = "/network/etherstubs", tag = "network",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = EtherstubList)))]
async fn list_etherstubs(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<EtherstubList>, ApiError> {
    let etherstubs = etherstubs(&app).await?;
    Ok(Json(EtherstubList {
        success: true,
        total: etherstubs.len(),
        etherstubs,
    }))
}

/// One etherstub.
#[utoipa::path(get, path = "/network/etherstubs/{name}", tag = "network",
    params(("name" = String, Path)), security(("api_key" = ["viewer"])),
    responses((status = 200, body = EtherstubDetail), (status = 404, body = ErrorBody)))]
async fn get_etherstub(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<EtherstubDetail>, ApiError> {
    let name = path_link(&name)?;
    let etherstub = etherstubs(&app)
        .await?
        .into_iter()
        .find(|s| s.name == name.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no etherstub {name}")))?;
    Ok(Json(EtherstubDetail {
        success: true,
        etherstub,
    }))
}

/// Whether any link (of any class) has this name.
async fn link_exists(app: &AppState, name: &LinkName) -> Result<bool, ApiError> {
    Ok(dladm::get_link(&app.network.runner, name)
        .await
        .map_err(ApiError::host)?
        .is_some())
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
    let name = validate::link("name", &req.name)?;
    if link_exists(&app, &name).await? {
        return Err(ApiError::conflict(format!(
            "a link named {name} already exists"
        )));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(CREATE_ETHERSTUB, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(json!({"name": name.as_str(), "temporary": req.temporary}))
                .created_by(Some(caller.name)),
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
    params(("name" = String, Path), ForceQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn delete_etherstub(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ForceQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = path_link(&name)?;
    let force = q.force.unwrap_or(false);
    let stub = etherstubs(&app)
        .await?
        .into_iter()
        .find(|s| s.name == name.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no etherstub {name}")))?;
    if !stub.vnics.is_empty() && !force {
        return Err(ApiError::conflict(format!(
            "etherstub {name} still has VNICs: {}; delete them first or use force=true",
            stub.vnics.join(", ")
        )));
    }
    let mut new = NewTask::new(DELETE_ETHERSTUB, SCOPE)
        .lock(link_lock(name.as_str()))
        .metadata(json!({"name": name.as_str(), "force": force}))
        .created_by(Some(caller.name));
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
    let over = q
        .link
        .as_deref()
        .map(|l| validate::link("link", l))
        .transpose()?;
    let vnics: Vec<VnicInfo> = app
        .network
        .vnics()
        .await?
        .iter()
        .filter(|v| over.as_ref().is_none_or(|o| &v.over == o))
        .map(VnicInfo::from)
        .collect();
    Ok(Json(VnicList {
        success: true,
        total: vnics.len(),
        vnics,
    }))
}

/// One VNIC.
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
    Ok(Json(VnicDetail {
        success: true,
        vnic: VnicInfo::from(&vnic),
    }))
}

fn vnic_mac(field: &str, s: Option<&str>) -> Result<VnicMac, ApiError> {
    match s {
        None | Some("auto") => Ok(VnicMac::Auto),
        Some("random") => Ok(VnicMac::Random),
        Some(m) => {
            let mac = validate::mac(field, m)?;
            UnicastMac::try_from(mac)
                .map(VnicMac::Fixed)
                .map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
        }
    }
}

/// Create a VNIC over a physical link or an etherstub.
#[utoipa::path(post, path = "/network/vnics", tag = "network", request_body = CreateVnicRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_vnic(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateVnicRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = validate::link("name", &req.name)?;
    let over = validate::link("link", &req.link)?;
    let mac = vnic_mac("mac_address", req.mac_address.as_deref())?;
    let vlan = req
        .vlan_id
        .map(|v| VlanId::new(v).map_err(|e| ApiError::invalid("vlan_id", format!("vlan_id: {e}"))))
        .transpose()?;
    if !link_exists(&app, &over).await? {
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
    let mac_text = match mac {
        VnicMac::Auto => "auto".to_owned(),
        VnicMac::Random => "random".to_owned(),
        VnicMac::Fixed(m) => m.to_string(),
    };
    let task = app
        .tasks
        .enqueue(
            NewTask::new(CREATE_VNIC, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(json!({
                    "name": name.as_str(), "link": over.as_str(), "mac_address": mac_text,
                    "vlan_id": vlan.map(|v| v.get()), "temporary": req.temporary,
                }))
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VNIC {name} creation queued"))),
    ))
}

/// Delete a VNIC (refused by dladm while a running zone holds it).
#[utoipa::path(delete, path = "/network/vnics/{name}", tag = "network",
    params(("name" = String, Path)), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_vnic(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
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
            NewTask::new(DELETE_VNIC, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(json!({"name": name.as_str()}))
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("VNIC {name} deletion queued"))),
    ))
}

// ---------------------------------------------------------------------------------------------
// Operations.

const CREATE_ETHERSTUB: &str = "network_create_etherstub";
const DELETE_ETHERSTUB: &str = "network_delete_etherstub";
const CREATE_VNIC: &str = "network_create_vnic";
const DELETE_VNIC: &str = "network_delete_vnic";

fn persistence(temporary: bool) -> Persistence {
    if temporary {
        Persistence::Temporary
    } else {
        Persistence::Persistent
    }
}

fn param_link(v: &str) -> Result<LinkName, OpError> {
    v.parse()
        .map_err(|e| OpError::failed(format!("invalid task parameters: {e}")))
}

#[derive(Deserialize)]
struct EtherstubParams {
    name: String,
    #[serde(default)]
    temporary: bool,
    #[serde(default)]
    force: bool,
}

struct CreateEtherstubOp(Arc<NetworkServices>);

impl Operation for CreateEtherstubOp {
    fn name(&self) -> &'static str {
        CREATE_ETHERSTUB
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: EtherstubParams = cx.params()?;
            let name = param_link(&p.name)?;
            cx.progress(10, &format!("creating etherstub {name}"))
                .await?;
            cx.will_make(&Made::Etherstub {
                name: p.name.clone(),
            })
            .await?;
            let r = dladm::create_etherstub(&cx.runner, &name, persistence(p.temporary)).await;
            self.0.links_changed();
            r?;
            Ok(Some(json!({"etherstub": name.as_str()})))
        })
    }

    fn undo<'a>(&'a self, cx: &'a OpCx, j: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(journal::undo(&self.0, cx, j))
    }
}

struct DeleteEtherstubOp(Arc<NetworkServices>);

impl Operation for DeleteEtherstubOp {
    fn name(&self) -> &'static str {
        DELETE_ETHERSTUB
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: EtherstubParams = cx.params()?;
            let name = param_link(&p.name)?;
            let mut deleted = Vec::new();
            if p.force {
                let vnics = dladm::show_vnics(&cx.runner).await?;
                for v in vnics.iter().filter(|v| v.over == name) {
                    cx.progress(20, &format!("deleting VNIC {}", v.link))
                        .await?;
                    match dladm::delete_vnic(&cx.runner, &v.link, Persistence::Persistent).await {
                        Ok(()) => deleted.push(v.link.to_string()),
                        Err(e) if matches!(e.kind, LinkFailure::NotFound) => {}
                        Err(e) => {
                            self.0.links_changed();
                            return Err(OpError::from(e));
                        }
                    }
                }
            }
            cx.progress(60, &format!("deleting etherstub {name}"))
                .await?;
            let r = dladm::delete_etherstub(&cx.runner, &name, Persistence::Persistent).await;
            self.0.links_changed();
            match r {
                Ok(()) => {}
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                    cx.note(&format!("etherstub {name} was already gone"));
                }
                Err(e) => return Err(OpError::from(e)),
            }
            Ok(Some(
                json!({"etherstub": name.as_str(), "deleted_vnics": deleted}),
            ))
        })
    }
}

#[derive(Deserialize)]
struct VnicParams {
    name: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    mac_address: Option<String>,
    #[serde(default)]
    vlan_id: Option<u16>,
    #[serde(default)]
    temporary: bool,
}

struct CreateVnicOp(Arc<NetworkServices>);

impl Operation for CreateVnicOp {
    fn name(&self) -> &'static str {
        CREATE_VNIC
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: VnicParams = cx.params()?;
            let bad =
                |e: ApiError| OpError::failed(format!("invalid task parameters: {}", e.message));
            let spec = CreateVnic {
                name: param_link(&p.name)?,
                over: param_link(&p.link)?,
                mac: vnic_mac("mac_address", p.mac_address.as_deref()).map_err(bad)?,
                vlan: p
                    .vlan_id
                    .map(VlanId::new)
                    .transpose()
                    .map_err(|e| OpError::failed(e.to_string()))?,
                props: Vec::new(),
                persistence: persistence(p.temporary),
            };
            cx.progress(
                10,
                &format!("creating VNIC {} over {}", spec.name, spec.over),
            )
            .await?;
            cx.will_make(&Made::Vnic {
                name: p.name.clone(),
            })
            .await?;
            let r = dladm::create_vnic(&cx.runner, &spec).await;
            self.0.links_changed();
            r?;
            let vnic = dladm::get_vnic(&cx.runner, &spec.name).await?;
            Ok(Some(json!({
                "vnic": spec.name.as_str(),
                "link": spec.over.as_str(),
                "mac_address": vnic.map(|v| v.mac.to_string()),
            })))
        })
    }

    fn undo<'a>(&'a self, cx: &'a OpCx, j: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(journal::undo(&self.0, cx, j))
    }
}

struct DeleteVnicOp(Arc<NetworkServices>);

impl Operation for DeleteVnicOp {
    fn name(&self) -> &'static str {
        DELETE_VNIC
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: VnicParams = cx.params()?;
            let name = param_link(&p.name)?;
            cx.progress(10, &format!("deleting VNIC {name}")).await?;
            let r = dladm::delete_vnic(&cx.runner, &name, Persistence::Persistent).await;
            self.0.links_changed();
            match r {
                Ok(()) => {}
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                    cx.note(&format!("VNIC {name} was already gone"));
                }
                Err(e) => return Err(OpError::from(e)),
            }
            Ok(Some(json!({"vnic": name.as_str()})))
        })
    }
}
