//! `/provisioning/network/*`: the provisioning network in one idempotent task.
//!
//! Setup converges each component (etherstub, host VNIC, host address, NAT through the
//! default route's interface, forwarding, DHCP subnet and service): it reads the host, changes
//! only what is missing or different, and reports each component as `created`, `updated` or
//! `unchanged`. It holds every lock it may need, so two setups run one after the other and the
//! second finds nothing to do; a setup asked for while one is queued joins that task.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::dladm::{self, CreateVnic, LinkFailure, VnicMac};
use illumos::ipadm::{self, AddrFilter, IpFailure, ListedAddr};
use illumos::ipnat::{MapRule, NatProto, NatRule, Portmap, PortmapPorts};
use illumos::link::LinkName;
use illumos::net::{AddrObj, Ipv4Cidr};
use illumos::persistence::Persistence;
use illumos::smf::{PropValue, ServiceState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dhcp::{self, conf::SubnetConfig};
use super::journal::{self, Entry};
use super::nat;
use super::settings::ProvisioningNet;
use super::{
    forwarding, link_lock, NetworkServices, LOCK_DHCPD, LOCK_FORWARDING, LOCK_IPNAT,
    LOCK_PROVISIONING, SCOPE,
};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{op, Cx, NewTask, OpError, Operation, RollForward, Task, TaskOp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(status))
        .routes(routes!(teardown))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![op(SetupOp(svc.clone())), op(TeardownOp(svc.clone()))]
}

const SETUP: &str = "provisioning_network_setup";
const TEARDOWN: &str = "provisioning_network_teardown";

fn addrobj(p: &ProvisioningNet) -> AddrObj {
    AddrObj::new(p.host_vnic.clone(), "v4".parse().expect("a valid name"))
}

/// The two rules setup writes: the portmap for TCP/UDP, then the plain map for the rest.
pub fn nat_rules(p: &ProvisioningNet, physical: &LinkName) -> [NatRule; 2] {
    let plain = MapRule {
        interface: physical.clone(),
        source: p.subnet.cidr(),
        target: Ipv4Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 32).expect("valid"),
        portmap: None,
    };
    let portmap = MapRule {
        portmap: Some(Portmap {
            proto: NatProto::TcpUdp,
            ports: PortmapPorts::Auto,
        }),
        ..plain.clone()
    };
    [NatRule::Map(portmap), NatRule::Map(plain)]
}

/// Map rules (portmap or plain, to the interface's address) for the provisioning subnet on any
/// interface: what teardown removes and status looks for.
fn is_provisioning_rule(p: &ProvisioningNet, r: &NatRule) -> bool {
    matches!(r, NatRule::Map(m) if m.source == p.subnet.cidr() && m.target.addr().is_unspecified())
}

/// The configured provisioning network, or a 409 naming the config.yaml key that is wrong.
fn configured(svc: &NetworkServices) -> Result<&ProvisioningNet, ApiError> {
    let p = &svc.settings.provisioning;
    p.consistency()
        .map_err(|(key, e)| ApiError::conflict(format!("config.yaml {key}: {e}")))?;
    Ok(p)
}

fn all_locks(p: &ProvisioningNet, new: NewTask) -> NewTask {
    new.lock(LOCK_PROVISIONING)
        .lock(LOCK_IPNAT)
        .lock(LOCK_DHCPD)
        .lock(LOCK_FORWARDING)
        .lock(link_lock(p.etherstub.as_str()))
        .lock(link_lock(p.host_vnic.as_str()))
}

// ---------------------------------------------------------------------------------------------
// Setup.

/// Set up the provisioning network (idempotent). The task's result holds `components` as the
/// spec shows them and `actions`: `created`, `updated` or `unchanged` per component. A setup
/// asked for while another is pending or running answers with that task.
#[utoipa::path(post, path = "/provisioning/network/setup", tag = "provisioning",
    security(("api_key" = ["operator"])),
    responses((status = 202, body = SetupAccepted), (status = 409, body = ErrorBody)))]
async fn setup(
    Auth(caller): Operator,
    State(app): State<AppState>,
) -> Result<(StatusCode, Json<SetupAccepted>), ApiError> {
    let (task, joined) = queue_setup(&app, &caller.name).await?;
    let message = if joined {
        "Provisioning network setup already queued"
    } else {
        "Provisioning network setup queued"
    };
    let p = configured(&app.network)?;
    // The interface NAT goes through is the default route's; the task reads it again (and
    // fails naming the cause when there is none), so here a failed read only leaves it out.
    let phys = illumos::route::get_default(&app.network.runner)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.link());
    let components = SetupComponents {
        etherstub: p.etherstub.to_string(),
        host_vnic: p.host_vnic.to_string(),
        host_ip: p.host_cidr().to_string(),
        nat_rule: phys.as_ref().map(|l| nat_rules(p, l)[0].to_string()),
        physical_interface: phys.map(|l| l.to_string()),
        dhcp_subnet: p.subnet.to_string(),
        dhcp_range: format!("{} - {}", p.range_start, p.range_end),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SetupAccepted {
            task: accepted(&task, message),
            components,
        }),
    ))
}

/// The 202 of `POST /provisioning/network/setup`: the task, and what it is going to make (the
/// names the finished task's `components` show).
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupAccepted {
    #[serde(flatten)]
    pub task: TaskAccepted,
    pub components: SetupComponents,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupComponents {
    pub etherstub: String,
    pub host_vnic: String,
    /// The host's address on the provisioning network, with its prefix.
    pub host_ip: String,
    /// The default route's interface; absent when the host has none yet (the task fails then).
    pub physical_interface: Option<String>,
    /// The portmap rule the NAT step writes, when the interface is known.
    pub nat_rule: Option<String>,
    pub dhcp_subnet: String,
    /// `first - last` address of the DHCP pool.
    pub dhcp_range: String,
}

/// Queues the setup, or finds the one already pending or running (then `true`).
pub async fn queue_setup(app: &AppState, created_by: &str) -> Result<(Task, bool), ApiError> {
    let p = configured(&app.network)?;
    if !p.enabled {
        return Err(ApiError::conflict(
            "the provisioning network is disabled (provisioning.network.enabled: false)",
        ));
    }
    let mut slot = app.network.setup_task.lock().await;
    if let Some(id) = slot.as_ref() {
        if let Some(t) = app.tasks.get(id).await? {
            if !t.status.is_terminal() {
                return Ok((t, true));
            }
        }
    }
    let task = app
        .tasks
        .enqueue(all_locks(p, NewTask::new(SETUP, SCOPE)).created_by(Some(created_by.to_owned())))
        .await?;
    *slot = Some(task.id.clone());
    Ok((task, false))
}

#[derive(Clone, Copy)]
enum Action {
    Created,
    Updated,
    Unchanged,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
        }
    }
}

struct SetupOp(Arc<NetworkServices>);

impl SetupOp {
    async fn etherstub(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        if dladm::etherstub_exists(&cx.runner, &p.etherstub).await? {
            return Ok(Action::Unchanged);
        }
        cx.will_make(&Entry::Etherstub {
            name: p.etherstub.clone(),
        })
        .await?;
        let r = dladm::create_etherstub(&cx.runner, &p.etherstub, Persistence::Persistent).await;
        self.0.links_changed();
        r?;
        Ok(Action::Created)
    }

    async fn host_vnic(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        match dladm::get_vnic(&cx.runner, &p.host_vnic).await? {
            Some(v) if v.over == p.etherstub => return Ok(Action::Unchanged),
            Some(v) => {
                return Err(OpError::failed(format!(
                    "VNIC {} exists over {}, not over {}; remove it or change provisioning.network.host_vnic_name",
                    v.link, v.over, p.etherstub
                )))
            }
            None => {}
        }
        cx.will_make(&Entry::Vnic {
            name: p.host_vnic.clone(),
        })
        .await?;
        let r = dladm::create_vnic(
            &cx.runner,
            &CreateVnic {
                name: p.host_vnic.clone(),
                over: p.etherstub.clone(),
                mac: VnicMac::Auto,
                vlan: None,
                props: Vec::new(),
                persistence: Persistence::Persistent,
            },
        )
        .await;
        self.0.links_changed();
        r?;
        Ok(Action::Created)
    }

    async fn host_ip(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        let want = p.host_cidr();
        let obj = addrobj(p);
        let addrs =
            ipadm::show_addr(&cx.runner, &AddrFilter::Interface(p.host_vnic.clone())).await?;
        if addrs.iter().any(|a| a.addr == ListedAddr::V4(want)) {
            return Ok(Action::Unchanged);
        }
        let mut action = Action::Created;
        if addrs.iter().any(|a| a.addrobj().as_ref() == Some(&obj)) {
            // Our address object with another address: replace it.
            ipadm::delete_addr(&cx.runner, &obj).await?;
            action = Action::Updated;
        }
        let plumbed = !ipadm::show_if(&cx.runner, Some(&p.host_vnic))
            .await?
            .is_empty();
        if !plumbed {
            cx.will_make(&Entry::Interface {
                name: p.host_vnic.clone(),
            })
            .await?;
            match ipadm::create_if(&cx.runner, &p.host_vnic, Persistence::Persistent).await {
                Ok(()) => {}
                Err(e) if matches!(e.kind, IpFailure::AlreadyExists) => {}
                Err(e) => return Err(OpError::from(e)),
            }
        }
        cx.will_make(&Entry::Address {
            addrobj: obj.clone(),
        })
        .await?;
        ipadm::create_static_addr(&cx.runner, &obj, want, Persistence::Persistent).await?;
        Ok(action)
    }

    async fn physical(&self, cx: &Cx<'_, Entry>) -> Result<LinkName, OpError> {
        let route = illumos::route::get_default(&cx.runner)
            .await?
            .ok_or_else(|| {
                OpError::failed(
                    "the host has no default route: cannot tell which interface to NAT through",
                )
            })?;
        route.link().ok_or_else(|| {
            OpError::failed(format!(
                "the default route (via {}) names no usable interface",
                route.gateway
            ))
        })
    }

    async fn nat(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
        phys: &LinkName,
    ) -> Result<Action, OpError> {
        let mut conf = nat::read_conf(&self.0, &cx.runner).await?;
        let mut added = false;
        for r in nat_rules(p, phys) {
            added |= conf.ensure(r);
        }
        let applied = nat::apply(&self.0, cx, &conf).await?;
        Ok(match (added, applied) {
            (true, _) => Action::Created,
            (false, true) => Action::Updated,
            (false, false) => Action::Unchanged,
        })
    }

    async fn forwarding(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
        phys: &LinkName,
    ) -> Result<Action, OpError> {
        let mut changed = forwarding::ensure_global(cx, true).await?;
        changed |= forwarding::ensure_interface(cx, phys, true).await?;
        changed |= forwarding::ensure_interface(cx, &p.host_vnic, true).await?;
        Ok(if changed {
            Action::Updated
        } else {
            Action::Unchanged
        })
    }

    async fn dhcp_subnet(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
    ) -> Result<Action, OpError> {
        let mut conf = dhcp::read_conf(&self.0, &cx.runner).await?;
        let existed = conf.subnets().any(|s| s.net() == p.subnet);
        let subnet = SubnetConfig {
            net: p.subnet,
            router: Some(p.host_ip),
            range: Some((p.range_start, p.range_end)),
            dns: dhcp_dns(&conf, p),
        };
        let changed = conf.upsert_subnet(&subnet);
        dhcp::apply(&self.0, cx, &conf).await?;
        Ok(match (existed, changed) {
            (false, _) => Action::Created,
            (true, true) => Action::Updated,
            (true, false) => Action::Unchanged,
        })
    }

    async fn dhcp_service(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
    ) -> Result<Action, OpError> {
        let listen_changed = dhcp::ensure_listen(&self.0, cx, &p.host_vnic).await?;
        let state = illumos::smf::service_state(&cx.runner, &self.0.settings.dhcp_service)
            .await?
            .map(|s| s.state);
        if matches!(state, Some(ServiceState::Online | ServiceState::Degraded)) {
            return Ok(if listen_changed {
                Action::Updated
            } else {
                Action::Unchanged
            });
        }
        cx.will_make(&Entry::ServiceEnabled {
            fmri: self.0.settings.dhcp_service.clone(),
        })
        .await?;
        dhcp::start(&self.0, cx).await?;
        Ok(Action::Created)
    }
}

/// Setup keeps whatever DNS servers the provisioning subnet already hands out.
fn dhcp_dns(conf: &dhcp::conf::DhcpConf, p: &ProvisioningNet) -> Vec<std::net::Ipv4Addr> {
    conf.subnets()
        .find(|s| s.net() == p.subnet)
        .map(|s| s.config().dns)
        .unwrap_or_default()
}

/// A setup task carries no parameters (the settings are config.yaml's); an object is
/// accepted so old and new tasks alike read.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NoParams {}

impl TaskOp for SetupOp {
    type Params = NoParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        SETUP
    }

    async fn run(&self, cx: &Cx<'_, Entry>, _p: NoParams) -> Result<Option<Value>, OpError> {
        {
            let p = self.0.settings.provisioning.clone();
            let mut actions = Map::new();
            let mut note = |k: &str, a: Action| {
                cx.note(&format!("{k}: {}", a.as_str()));
                actions.insert(k.to_owned(), json!(a.as_str()));
            };
            cx.progress(5, "etherstub").await?;
            note("etherstub", self.etherstub(cx, &p).await?);
            cx.progress(15, "host VNIC").await?;
            note("host_vnic", self.host_vnic(cx, &p).await?);
            cx.progress(25, "host address").await?;
            note("host_ip", self.host_ip(cx, &p).await?);
            cx.progress(35, "physical interface").await?;
            let phys = self.physical(cx).await?;
            note("physical_interface", Action::Unchanged);
            cx.progress(45, "NAT").await?;
            note("nat_rule", self.nat(cx, &p, &phys).await?);
            cx.progress(60, "IP forwarding").await?;
            note("forwarding", self.forwarding(cx, &p, &phys).await?);
            cx.progress(75, "DHCP subnet").await?;
            note("dhcp_subnet", self.dhcp_subnet(cx, &p).await?);
            cx.progress(90, "DHCP service").await?;
            note("dhcp_service", self.dhcp_service(cx, &p).await?);
            let [portmap, _] = nat_rules(&p, &phys);
            Ok(Some(json!({
                "success": true,
                "message": "Provisioning network setup completed",
                "components": {
                    "etherstub": p.etherstub.as_str(),
                    "host_vnic": p.host_vnic.as_str(),
                    "host_ip": p.host_cidr().to_string(),
                    "physical_interface": phys.as_str(),
                    "nat_rule": portmap.to_string(),
                    "dhcp_subnet": p.subnet.to_string(),
                    "dhcp_range": format!("{} - {}", p.range_start, p.range_end),
                },
                "actions": actions,
            })))
        }
    }

    journal::undo_by_journal!(NoParams);
}

// ---------------------------------------------------------------------------------------------
// Status.

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubStatus {
    pub name: String,
    pub exists: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostVnicStatus {
    pub name: String,
    pub exists: bool,
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatComponent {
    pub configured: bool,
    pub rule: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpComponent {
    pub configured: bool,
    pub service_enabled: bool,
    pub subnet: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForwardingComponent {
    pub global_enabled: bool,
    /// Interfaces with IPv4 forwarding on.
    pub interfaces: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Components {
    pub etherstub: EtherstubStatus,
    pub host_vnic: HostVnicStatus,
    pub nat: NatComponent,
    pub dhcp: DhcpComponent,
    pub forwarding: ForwardingComponent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisioningStatus {
    pub success: bool,
    /// Every component is in place.
    pub configured: bool,
    pub components: Components,
}

/// The provisioning network's components, read live from the host.
#[utoipa::path(get, path = "/provisioning/network/status", tag = "provisioning",
    security(("api_key" = ["viewer"])), responses((status = 200, body = ProvisioningStatus)))]
async fn status(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<ProvisioningStatus>, ApiError> {
    read_status(&app.network).await.map(Json)
}

/// The provisioning network's components, read from the host.
pub async fn read_status(svc: &NetworkServices) -> Result<ProvisioningStatus, ApiError> {
    let p = configured(svc)?;
    let run = &svc.runner;
    let etherstub = dladm::etherstub_exists(run, &p.etherstub)
        .await
        .map_err(ApiError::host)?;
    let vnic = dladm::get_vnic(run, &p.host_vnic)
        .await
        .map_err(ApiError::host)?;
    let ip = ipadm::show_addr(run, &AddrFilter::Interface(p.host_vnic.clone()))
        .await
        .map_err(ApiError::host)?
        .into_iter()
        .find_map(|a| match a.addr {
            ListedAddr::V4(c) if p.subnet.contains(c.addr()) => Some(c.to_string()),
            _ => None,
        });
    let nat_conf = nat::read_conf(svc, run)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let nat_rule = nat_conf
        .rules()
        .map(|(_, r)| r)
        .find(|r| is_provisioning_rule(p, r) && matches!(r, NatRule::Map(m) if m.portmap.is_some()))
        .map(ToString::to_string);
    let dhcp_conf = dhcp::read_conf(svc, run)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let dhcp_configured = dhcp_conf.subnets().any(|s| s.net() == p.subnet);
    let dhcp_state = illumos::smf::service_state(run, &svc.settings.dhcp_service)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    let fwd = forwarding::status(run).await?;
    let components = Components {
        etherstub: EtherstubStatus {
            name: p.etherstub.to_string(),
            exists: etherstub,
        },
        host_vnic: HostVnicStatus {
            name: p.host_vnic.to_string(),
            exists: vnic.is_some(),
            ip,
        },
        nat: NatComponent {
            configured: nat_rule.is_some(),
            rule: nat_rule,
        },
        dhcp: DhcpComponent {
            configured: dhcp_configured,
            service_enabled: matches!(
                dhcp_state,
                Some(ServiceState::Online | ServiceState::Degraded)
            ),
            subnet: p.subnet.to_string(),
        },
        forwarding: ForwardingComponent {
            global_enabled: fwd.global_ipv4_forwarding == "enabled",
            interfaces: fwd
                .interfaces
                .into_iter()
                .filter(|i| i.ipv4_forwarding == "on")
                .map(|i| i.name)
                .collect(),
        },
    };
    let configured = components.etherstub.exists
        && components.host_vnic.exists
        && components.host_vnic.ip.is_some()
        && components.nat.configured
        && components.dhcp.configured
        && components.dhcp.service_enabled
        && components.forwarding.global_enabled;
    Ok(ProvisioningStatus {
        success: true,
        configured,
        components,
    })
}

// ---------------------------------------------------------------------------------------------
// Teardown.

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TeardownQuery {
    /// Tear down even while zones have NICs on the provisioning etherstub (their VNICs are
    /// deleted when no running zone holds them).
    pub force: Option<bool>,
}

/// What still uses the etherstub: VNICs over it other than the host VNIC, and zones whose
/// configuration puts a NIC on it (`global-nic`), by name.
async fn users(svc: &NetworkServices, run: &illumos::Runner) -> Result<Vec<String>, ApiError> {
    let p = &svc.settings.provisioning;
    let mut out = Vec::new();
    for v in dladm::show_vnics(run).await.map_err(ApiError::host)?.iter() {
        if v.over == p.etherstub && v.link != p.host_vnic {
            out.push(match &v.zone {
                Some(z) => format!("VNIC {} (zone {z})", v.link),
                None => format!("VNIC {}", v.link),
            });
        }
    }
    let zones = illumos::zoneadm::list(run).await.map_err(ApiError::host)?;
    for z in zones.iter().filter(|z| z.name != "global") {
        let Ok(name) = z.name.parse::<illumos::names::ZoneName>() else {
            continue;
        };
        let Some(cfg) = illumos::zonecfg::export(run, &name)
            .await
            .map_err(ApiError::host)?
        else {
            continue;
        };
        if cfg
            .nets
            .iter()
            .any(|n| n.get("global-nic") == Some(p.etherstub.as_str()))
        {
            out.push(format!("zone {}", z.name));
        }
    }
    Ok(out)
}

/// Remove what setup made: the DHCP service is stopped and the provisioning subnet (with the
/// host entries in it) removed, the NAT rules removed, the host address, VNIC and etherstub
/// deleted. IP forwarding is left as it is. 409 while zones have NICs on the etherstub, unless
/// `force=true`.
#[utoipa::path(delete, path = "/provisioning/network/teardown", tag = "provisioning",
    params(TeardownQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 409, body = ErrorBody)))]
async fn teardown(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<TeardownQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let force = q.force.unwrap_or(false);
    configured(&app.network)?;
    let users = users(&app.network, &app.network.runner).await?;
    if !users.is_empty() && !force {
        return Err(ApiError::conflict(format!(
            "the provisioning etherstub is still in use by {}; use force=true to tear down anyway",
            users.join(", ")
        )));
    }
    let p = &app.network.settings.provisioning;
    let task = app
        .tasks
        .enqueue(
            all_locks(p, NewTask::new(TEARDOWN, SCOPE))
                .metadata(super::metadata(&TeardownParams { force })?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "Provisioning network teardown queued")),
    ))
}

/// `provisioning_network_teardown`; `force` also deletes the VNICs of zones on the etherstub.
#[derive(Debug, Serialize, Deserialize)]
pub struct TeardownParams {
    #[serde(default)]
    pub force: bool,
}

struct TeardownOp(Arc<NetworkServices>);

impl TaskOp for TeardownOp {
    type Params = TeardownParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        TEARDOWN
    }

    async fn run(
        &self,
        cx: &Cx<'_, Entry>,
        params: TeardownParams,
    ) -> Result<Option<Value>, OpError> {
        {
            let svc = &self.0;
            let p = svc.settings.provisioning.clone();
            let run = &cx.runner;
            let mut removed = Vec::new();

            cx.progress(10, "DHCP service").await?;
            let state = illumos::smf::service_state(run, &svc.settings.dhcp_service)
                .await?
                .map(|s| s.state);
            cx.will_make(&Entry::TeardownBegun).await?;
            if !matches!(state, Some(ServiceState::Disabled) | None) {
                dhcp::stop(svc, cx).await?;
                removed.push("dhcp_service");
            }
            if dhcp::listen_ifnames(svc, run).await? == [p.host_vnic.to_string()] {
                dhcp::set_listen(svc, cx, PropValue::EmptyAstring).await?;
            }
            cx.progress(20, "DHCP subnet").await?;
            let mut conf = dhcp::read_conf(svc, run).await?;
            if conf.remove_subnet(p.subnet) {
                removed.push("dhcp_subnet");
            }
            let inside: Vec<String> = conf
                .hosts()
                .iter()
                .filter(|h| h.ip.is_some_and(|ip| p.subnet.contains(ip)))
                .map(|h| h.name.clone())
                .collect();
            for h in &inside {
                conf.remove_host(h);
            }
            dhcp::apply(svc, cx, &conf).await?;

            cx.progress(35, "NAT rules").await?;
            if nat::remove_rules(svc, cx, |r| is_provisioning_rule(&p, r)).await? {
                removed.push("nat_rule");
            }

            cx.progress(50, "host address").await?;
            match ipadm::delete_addr(run, &addrobj(&p)).await {
                Ok(()) => removed.push("host_ip"),
                Err(e)
                    if matches!(
                        e.kind,
                        IpFailure::AddressNotFound | IpFailure::InterfaceNotFound
                    ) => {}
                Err(e) => return Err(OpError::from(e)),
            }
            match ipadm::delete_if(run, &p.host_vnic).await {
                Ok(()) => {}
                Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => {}
                Err(e) => return Err(OpError::from(e)),
            }

            cx.progress(65, "VNICs").await?;
            let vnics = dladm::show_vnics(run).await?;
            let result = async {
                if params.force {
                    for v in vnics
                        .iter()
                        .filter(|v| v.over == p.etherstub && v.link != p.host_vnic)
                    {
                        match dladm::delete_vnic(run, &v.link, Persistence::Persistent).await {
                            Ok(())
                            | Err(dladm::DeleteVnicError {
                                kind: LinkFailure::NotFound,
                                ..
                            }) => {}
                            Err(e) => return Err(OpError::from(e)),
                        }
                    }
                }
                match dladm::delete_vnic(run, &p.host_vnic, Persistence::Persistent).await {
                    Ok(())
                    | Err(dladm::DeleteVnicError {
                        kind: LinkFailure::NotFound,
                        ..
                    }) => {}
                    Err(e) => return Err(OpError::from(e)),
                }
                cx.progress(85, "etherstub").await?;
                match dladm::delete_etherstub(run, &p.etherstub, Persistence::Persistent).await {
                    Ok(())
                    | Err(dladm::DeleteEtherstubError {
                        kind: LinkFailure::NotFound,
                        ..
                    }) => Ok(()),
                    Err(e) => Err(OpError::from(e)),
                }
            }
            .await;
            svc.links_changed();
            result?;
            removed.extend(["host_vnic", "etherstub"]);
            Ok(Some(json!({
                "success": true,
                "message": "Provisioning network removed",
                "removed": removed,
                "dhcp_hosts_removed": inside,
            })))
        }
    }

    /// Once it began changing the host, teardown cannot be taken back, only finished: it runs
    /// again (each step skips what is already gone), so the host ends with the provisioning
    /// network either whole or removed. Before that there is nothing to undo.
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Entry>,
        p: TeardownParams,
        journal: &[Entry],
    ) -> Result<RollForward, OpError> {
        if !journal.contains(&Entry::TeardownBegun) {
            return Ok(RollForward::Undo);
        }
        self.run(cx, p).await.map(RollForward::Completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_of_queued_provisioning_network_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<NoParams>(json!({}));
        crate::network::assert_same_shape::<TeardownParams>(json!({"force": true}));
        assert!(
            !serde_json::from_value::<TeardownParams>(json!({}))
                .unwrap()
                .force
        );
    }
}
