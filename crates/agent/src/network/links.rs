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

use super::journal::{self, Entry};
use super::{link_lock, validate, NetworkServices, SCOPE};
use crate::error::FieldError;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{op, Cx, NewTask, OpError, Operation, TaskOp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_etherstubs, create_etherstub))
        .routes(routes!(get_etherstub, delete_etherstub))
        .routes(routes!(list_vnics, create_vnic))
        .routes(routes!(get_vnic, delete_vnic))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(CreateEtherstubOp(svc.clone())),
        op(DeleteEtherstubOp(svc.clone())),
        op(CreateVnicOp(svc.clone())),
        op(DeleteVnicOp(svc.clone())),
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
    Ok(validate::link("name", name)?)
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
                .metadata(super::metadata(&CreateEtherstub {
                    name: name.clone(),
                    temporary: req.temporary,
                })?)
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
        .metadata(super::metadata(&DeleteEtherstub {
            name: name.clone(),
            force,
        })?)
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

/// `auto` (or absent), `random`, or a unicast MAC in any common notation.
fn vnic_mac(field: &str, s: Option<&str>) -> Result<VnicMac, FieldError> {
    match s {
        None | Some("auto") => Ok(VnicMac::Auto),
        Some("random") => Ok(VnicMac::Random),
        Some(m) => {
            let mac = validate::mac(field, m)?;
            UnicastMac::try_from(mac)
                .map(VnicMac::Fixed)
                .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
        }
    }
}

/// A VNIC's MAC in a task's parameters: `auto`, `random` or the address, as the request's
/// `mac_address` names them (absent is `auto`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacChoice(pub VnicMac);

impl Serialize for MacChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            VnicMac::Auto => s.serialize_str("auto"),
            VnicMac::Random => s.serialize_str("random"),
            VnicMac::Fixed(m) => s.collect_str(&m),
        }
    }
}

impl<'de> Deserialize<'de> for MacChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        vnic_mac("mac_address", s.as_deref())
            .map(MacChoice)
            .map_err(serde::de::Error::custom)
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
        .map(|v| VlanId::new(v).map_err(|e| FieldError::new("vlan_id", format!("vlan_id: {e}"))))
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
    let task = app
        .tasks
        .enqueue(
            NewTask::new(CREATE_VNIC, SCOPE)
                .lock(link_lock(name.as_str()))
                .metadata(super::metadata(&CreateVnicParams {
                    name: name.clone(),
                    link: over,
                    mac_address: MacChoice(mac),
                    vlan_id: vlan,
                    temporary: req.temporary,
                })?)
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
                .metadata(super::metadata(&DeleteVnic { name: name.clone() })?)
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

/// `network_create_etherstub`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateEtherstub {
    pub name: LinkName,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_etherstub`; `force` also deletes the VNICs over it.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteEtherstub {
    pub name: LinkName,
    #[serde(default)]
    pub force: bool,
}

struct CreateEtherstubOp(Arc<NetworkServices>);

impl TaskOp for CreateEtherstubOp {
    type Params = CreateEtherstub;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_ETHERSTUB
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateEtherstub) -> Result<Option<Value>, OpError> {
        let name = p.name;
        cx.progress(10, &format!("creating etherstub {name}"))
            .await?;
        cx.will_make(&Entry::Etherstub { name: name.clone() })
            .await?;
        let r = dladm::create_etherstub(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        r?;
        Ok(Some(json!({"etherstub": name.as_str()})))
    }

    journal::undo_by_journal!(CreateEtherstub);
}

struct DeleteEtherstubOp(Arc<NetworkServices>);

impl TaskOp for DeleteEtherstubOp {
    type Params = DeleteEtherstub;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_ETHERSTUB
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteEtherstub) -> Result<Option<Value>, OpError> {
        let name = p.name;
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
    }
}

/// `network_create_vnic`: the request's fields, validated.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateVnicParams {
    pub name: LinkName,
    pub link: LinkName,
    #[serde(default)]
    pub mac_address: MacChoice,
    #[serde(default)]
    pub vlan_id: Option<VlanId>,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_vnic`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteVnic {
    pub name: LinkName,
}

struct CreateVnicOp(Arc<NetworkServices>);

impl TaskOp for CreateVnicOp {
    type Params = CreateVnicParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_VNIC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateVnicParams) -> Result<Option<Value>, OpError> {
        let spec = CreateVnic {
            name: p.name,
            over: p.link,
            mac: p.mac_address.0,
            vlan: p.vlan_id,
            props: Vec::new(),
            persistence: persistence(p.temporary),
        };
        cx.progress(
            10,
            &format!("creating VNIC {} over {}", spec.name, spec.over),
        )
        .await?;
        cx.will_make(&Entry::Vnic {
            name: spec.name.clone(),
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
    }

    journal::undo_by_journal!(CreateVnicParams);
}

struct DeleteVnicOp(Arc<NetworkServices>);

impl TaskOp for DeleteVnicOp {
    type Params = DeleteVnic;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_VNIC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteVnic) -> Result<Option<Value>, OpError> {
        let name = p.name;
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_link_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateEtherstub>(json!({"name": "estub0", "temporary": false}));
        assert_same_shape::<DeleteEtherstub>(json!({"name": "estub0", "force": true}));
        assert_same_shape::<DeleteVnic>(json!({"name": "vnic0"}));
        for (mac, vlan) in [
            (json!("auto"), json!(null)),
            (json!("random"), json!(12)),
            (json!("02:08:20:ab:cd:01"), json!(4094)),
        ] {
            assert_same_shape::<CreateVnicParams>(json!({
                "name": "vnic0", "link": "estub0", "mac_address": mac, "vlan_id": vlan,
                "temporary": true,
            }));
        }
    }

    #[test]
    fn a_link_task_with_a_bad_value_does_not_read() {
        for bad in [
            json!({"name": "vnic0;rm", "link": "estub0"}),
            json!({"name": "vnic0", "link": "estub0", "mac_address": "01:00:5e:00:00:01"}),
            json!({"name": "vnic0", "link": "estub0", "vlan_id": 4095}),
        ] {
            assert!(
                serde_json::from_value::<CreateVnicParams>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn vnic_mac_names_its_field() {
        assert_eq!(vnic_mac("mac_address", None).unwrap(), VnicMac::Auto);
        assert_eq!(
            vnic_mac("mac_address", Some("0208.20ab.cd01")).unwrap(),
            VnicMac::Fixed("02:08:20:ab:cd:01".parse().unwrap())
        );
        for bad in ["01:00:5e:00:00:01", "factory", "02:08:20:ab:cd"] {
            let e = vnic_mac("mac_address", Some(bad)).unwrap_err();
            assert_eq!(e.field, "mac_address", "{bad}");
        }
    }
}
