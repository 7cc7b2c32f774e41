//! `/network/dhcp/*`: ISC dhcpd's configuration (subnets and host reservations in
//! `dhcpd.conf`, edited through [`conf::DhcpConf`]), its SMF service, and its leases.
//!
//! The files are the service's (`config/config_file`, `config/lease_file`) unless config.yaml
//! names them ([`super::paths`]). Every change: render, `dhcpd -t -cf` on a temp file beside
//! the target (when a dhcpd binary is there), fsync, backup, rename, then restart the service
//! if it runs: OmniOS's dhcpd reads its configuration only at start and the service's refresh
//! method is `:true` (reference §1.11). A service that goes to maintenance fails the task,
//! whose undo restores the previous file.

pub mod check;
pub mod conf;
pub mod leases;

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::link::{LinkName, Mac};
use illumos::net::{Ipv4Cidr, Ipv4Net};
use illumos::persistence::Persistence;
use illumos::smf::{self, PropName, PropValue, ServiceState, SmfString, Wait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conffile::{ConfFile, Loaded};
use super::journal::{self, Carries, Entry, Reader};
use super::paths::HostFile;
use super::settings::usable_in;
use super::{validate, NetworkServices, LOCK_DHCPD, SCOPE};
use crate::error::FieldError;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{op, Cx, NewTask, OpCx, OpError, Operation, TaskOp};
use conf::{DhcpConf, HostEntry, SubnetConfig};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, put_config))
        .routes(routes!(list_hosts, add_host))
        .routes(routes!(delete_host))
        .routes(routes!(get_status, put_status))
        .routes(routes!(get_leases))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ConfigOp(svc.clone())),
        op(AddHostOp(svc.clone())),
        op(DeleteHostOp(svc.clone())),
        op(ServiceOp(svc.clone())),
    ]
}

// ---------------------------------------------------------------------------------------------
// The file and the service, for tasks (and the provisioning network).

/// dhcpd.conf as the service names it now (or as config.yaml overrides it).
pub async fn dhcp_file(svc: &NetworkServices, run: &illumos::Runner) -> Result<ConfFile, OpError> {
    svc.file_of(run, HostFile::DhcpConf)
        .await
        .map_err(OpError::from)
}

fn parse_conf(file: &ConfFile) -> Result<DhcpConf, OpError> {
    let text = file.read()?.unwrap_or_default();
    DhcpConf::parse(&text)
        .map_err(|e| OpError::failed(format!("{} cannot be edited safely: {e}", file.illumos)))
}

pub async fn read_conf(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Loaded<DhcpConf>, OpError> {
    let file = dhcp_file(svc, run).await?;
    let conf = parse_conf(&file)?;
    Ok(Loaded { file, conf })
}

fn listen_prop() -> PropName {
    "config/listen_ifnames"
        .parse()
        .expect("a valid property name")
}

/// `config/listen_ifnames` of the DHCP service (running snapshot).
pub async fn listen_ifnames(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Vec<String>, illumos::smf::SvcpropError> {
    Ok(
        smf::svcprop(run, &svc.settings.dhcp_service, &listen_prop())
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// Sets `config/listen_ifnames`, refreshes the service so the property is in its running
/// snapshot, and restarts a running server: its method reads the property only at start.
pub async fn set_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    value: PropValue,
) -> Result<(), OpError> {
    smf::setprop(
        &cx.runner,
        &svc.settings.dhcp_service,
        &listen_prop(),
        &value,
    )
    .await?;
    smf::refresh(&cx.runner, &svc.settings.dhcp_service).await?;
    restart_if_running(svc, cx).await
}

/// The property value for `ifnames`; none is the package's default, one empty value (every
/// interface, reference §1.11).
pub fn listen_value(ifnames: &[String]) -> Result<PropValue, OpError> {
    if ifnames.is_empty() {
        return Ok(PropValue::EmptyAstring);
    }
    let values = ifnames
        .iter()
        .map(|v| v.parse::<SmfString>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OpError::failed(format!("bad listen_ifnames value: {e}")))?;
    Ok(PropValue::Astrings(values))
}

/// Makes the service listen on exactly `interface`; returns whether it changed.
pub async fn ensure_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    interface: &LinkName,
) -> Result<bool, OpError> {
    let now = listen_ifnames(svc, &cx.runner).await?;
    if now == [interface.to_string()] {
        return Ok(false);
    }
    journal::will_make(cx, Entry::ListenIfnames { previous: now }).await?;
    let v: SmfString = interface
        .as_str()
        .parse()
        .map_err(|e: illumos::link::InvalidValue| OpError::failed(e.to_string()))?;
    set_listen(svc, cx, PropValue::Astrings(vec![v])).await?;
    Ok(true)
}

async fn service_state(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Option<ServiceState>, OpError> {
    Ok(smf::service_state(run, &svc.settings.dhcp_service)
        .await?
        .map(|s| s.state))
}

async fn check_not_in_maintenance(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    if service_state(svc, &cx.runner).await? == Some(ServiceState::Maintenance) {
        return Err(OpError::failed(format!(
            "{} went to maintenance (see its SMF log)",
            svc.settings.dhcp_service
        )));
    }
    Ok(())
}

/// Restarts the DHCP server when it is running, so dhcpd reads its configuration again (a
/// refresh would not: see the module doc), and says so in the task output.
pub async fn restart_if_running<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
) -> Result<(), OpError> {
    restart(svc, cx).await
}

/// [`restart_if_running`], for a task whose journal holds no network entries.
async fn restart(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.dhcp_service;
    match service_state(svc, &cx.runner).await? {
        Some(ServiceState::Online | ServiceState::Degraded) => {
            smf::restart(&cx.runner, fmri).await?;
            cx.note(&format!(
                "svcadm restart {fmri}: dhcpd reads its configuration only at start"
            ));
            check_not_in_maintenance(svc, cx).await
        }
        _ => Ok(()),
    }
}

/// Writes `conf` atomically (see the module doc). Returns false when the file already had
/// exactly this text.
pub async fn apply<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<DhcpConf>,
) -> Result<bool, OpError> {
    let file = &conf.file;
    let text = conf.render();
    if file.read()?.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    let temp = journal::stage_file(cx, file, &text, Reader::Dhcpd).await?;
    match check::check(&svc.settings.dhcpd_path, &temp.local).await {
        Ok(check::Checked::Valid) => cx.note("dhcpd -t: configuration OK"),
        Ok(check::Checked::Skipped) => cx.note(&format!(
            "{} not found: configuration check skipped",
            svc.settings.dhcpd_path.display()
        )),
        Err(e) => {
            file.discard_temp();
            return Err(OpError::failed(e));
        }
    }
    file.commit_temp(&cx.runner).await?;
    cx.note(&format!("wrote {}", file.illumos));
    restart_if_running(svc, cx).await?;
    Ok(true)
}

/// The entry `host` would clash with (same name, MAC or address), described for a 409.
pub fn host_conflict(conf: &DhcpConf, host: &HostEntry) -> Option<String> {
    conf.hosts().into_iter().find_map(|h| {
        let what = if h.name == host.name {
            "hostname"
        } else if h.mac.is_some() && h.mac == host.mac {
            "MAC address"
        } else if h.ip.is_some() && h.ip == host.ip {
            "IP address"
        } else {
            return None;
        };
        Some(format!(
            "{what} already used by host entry {} ({}, {})",
            h.name,
            h.mac
                .map(|m| m.to_string())
                .unwrap_or_else(|| "no MAC".into()),
            h.ip.map(|i| i.to_string())
                .unwrap_or_else(|| "no address".into()),
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Config.

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DhcpSubnetView {
    /// Network address (`10.190.190.0`).
    pub subnet: String,
    pub netmask: String,
    pub router: Option<String>,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    /// Comma-separated (`8.8.8.8,8.8.4.4`).
    pub dns: Option<String>,
    /// The service's `config/listen_ifnames` (first value).
    pub listen_interface: Option<String>,
}

fn view(c: &SubnetConfig, listen: Option<&String>) -> DhcpSubnetView {
    DhcpSubnetView {
        subnet: c.net.addr().to_string(),
        netmask: c.net.netmask().to_string(),
        router: c.router.map(|r| r.to_string()),
        range_start: c.range.map(|r| r.0.to_string()),
        range_end: c.range.map(|r| r.1.to_string()),
        dns: (!c.dns.is_empty()).then(|| {
            c.dns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }),
        listen_interface: listen.cloned(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpConfigView {
    pub success: bool,
    /// The first subnet declaration (null when there is none).
    pub config: Option<DhcpSubnetView>,
    /// Every subnet declaration of the file.
    pub subnets: Vec<DhcpSubnetView>,
    pub service_enabled: bool,
    pub config_path: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DhcpConfigRequest {
    /// Network address (`10.190.190.0`); with `netmask`, names the subnet declaration to
    /// create or update. Other subnets are left alone.
    pub subnet: String,
    pub netmask: String,
    /// Default gateway handed to clients; inside the subnet.
    pub router: String,
    pub range_start: String,
    pub range_end: String,
    /// DNS servers, comma-separated IPv4 addresses.
    pub dns: Option<String>,
    /// IP interface the server listens on (`config/listen_ifnames`); must exist.
    pub listen_interface: Option<String>,
}

/// The configuration and its illumos path.
async fn read_for_api(app: &AppState) -> Result<(DhcpConf, String), ApiError> {
    let file = dhcp_file(&app.network, &app.network.runner)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let conf = parse_conf(&file)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "config-unparsable", e.to_string()))?;
    Ok((conf, file.illumos.to_string()))
}

fn service_running(state: Option<ServiceState>) -> bool {
    matches!(state, Some(ServiceState::Online | ServiceState::Degraded))
}

/// The DHCP subnet configuration.
#[utoipa::path(get, path = "/network/dhcp/config", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpConfigView)))]
async fn get_config(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<DhcpConfigView>, ApiError> {
    let (conf, config_path) = read_for_api(&app).await?;
    let run = &app.network.runner;
    let listen = listen_ifnames(&app.network, run)
        .await
        .map_err(ApiError::host)?;
    let state = smf::service_state(run, &app.network.settings.dhcp_service)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    let subnets: Vec<DhcpSubnetView> = conf
        .subnets()
        .map(|s| view(&s.config(), listen.first()))
        .collect();
    let config = subnets.first().cloned();
    Ok(Json(DhcpConfigView {
        success: true,
        config,
        subnets,
        service_enabled: service_running(state),
        config_path,
    }))
}

/// Validates a subnet configuration: every address inside the subnet, the range ordered and
/// clear of the network and broadcast addresses.
pub fn subnet_config(
    net: Ipv4Net,
    router: Ipv4Addr,
    start: Ipv4Addr,
    end: Ipv4Addr,
    dns: Vec<Ipv4Addr>,
) -> Result<SubnetConfig, FieldError> {
    for (field, a) in [
        ("router", router),
        ("range_start", start),
        ("range_end", end),
    ] {
        if !usable_in(net, a) {
            return Err(FieldError::new(
                field,
                format!("{field}: {a} is not a usable host address of {net}"),
            ));
        }
    }
    if u32::from(start) > u32::from(end) {
        return Err(FieldError::new(
            "range_end",
            "range_end must not come before range_start",
        ));
    }
    Ok(SubnetConfig {
        net,
        router: Some(router),
        range: Some((start, end)),
        dns,
    })
}

impl DhcpConfigRequest {
    /// The task's parameters: the subnet's declaration and the interface to listen on.
    pub fn validate(&self) -> Result<ConfigParams, FieldError> {
        let addr = validate::ipv4("subnet", &self.subnet)?;
        let mask: illumos::net::Ipv4Netmask = self
            .netmask
            .parse()
            .map_err(|e| FieldError::new("netmask", format!("netmask: {e}")))?;
        let net = Ipv4Cidr::new(addr, mask.prefix())
            .and_then(Ipv4Net::try_from)
            .map_err(|_| {
                FieldError::new(
                    "subnet",
                    format!(
                        "subnet: {addr} is not the network address of a /{} subnet",
                        mask.prefix()
                    ),
                )
            })?;
        let router = validate::ipv4("router", &self.router)?;
        let start = validate::ipv4("range_start", &self.range_start)?;
        let end = validate::ipv4("range_end", &self.range_end)?;
        let mut dns = Vec::new();
        if let Some(d) = &self.dns {
            // Empty means none; otherwise every comma-separated part is an address, blanks
            // around it allowed (`a, b`); an empty part is a mistake worth naming, not
            // something to skip. The file gets the parsed addresses, never this text.
            if !d.is_empty() {
                for part in d.split(',') {
                    dns.push(validate::ipv4("dns", part.trim())?);
                }
            }
            if dns.len() > 8 {
                return Err(FieldError::new("dns", "dns: at most 8 servers"));
            }
        }
        let cfg = subnet_config(net, router, start, end, dns)?;
        let listen_interface = self
            .listen_interface
            .as_deref()
            .map(|l| validate::link("listen_interface", l))
            .transpose()?;
        Ok(ConfigParams {
            subnet: net,
            router,
            range_start: start,
            range_end: end,
            dns: cfg.dns,
            listen_interface,
        })
    }
}

/// Create or update a subnet declaration (keeping host entries, other subnets, global options
/// and comments), and optionally the interface the server listens on.
#[utoipa::path(put, path = "/network/dhcp/config", tag = "network",
    request_body = DhcpConfigRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn put_config(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<DhcpConfigRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    read_for_api(&app).await?;
    if let Some(l) = &spec.listen_interface {
        let known = illumos::ipadm::show_if(&app.network.runner, Some(l))
            .await
            .map_err(ApiError::host)?;
        if known.is_empty() {
            return Err(ApiError::invalid(
                "listen_interface",
                format!("listen_interface: no IP interface named {l}"),
            ));
        }
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(CONFIG, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(super::metadata(&spec)?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "DHCP configuration update queued")),
    ))
}

// ---------------------------------------------------------------------------------------------
// Hosts.

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpHost {
    pub hostname: String,
    pub mac: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpHostList {
    pub success: bool,
    pub hosts: Vec<DhcpHost>,
    pub config_path: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHostRequest {
    /// Unique: 1 to 63 letters, digits, `-`, `_`, `.`.
    pub hostname: String,
    /// Any common notation; stored as `02:08:20:ab:cd:01`. Unique.
    pub mac: String,
    /// Inside a configured subnet, not its network or broadcast address. Unique.
    pub ip: String,
}

impl AddHostRequest {
    pub fn validate(&self) -> Result<AddHostParams, FieldError> {
        Ok(AddHostParams {
            hostname: HostName::new("hostname", &self.hostname)?,
            mac: validate::mac("mac", &self.mac)?,
            ip: validate::ipv4("ip", &self.ip)?,
        })
    }
}

/// A DHCP host declaration's name, validated (see [`validate::hostname`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName(String);

impl HostName {
    pub fn new(field: &str, s: &str) -> Result<HostName, FieldError> {
        validate::hostname(field, s).map(HostName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for HostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for HostName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        HostName::new("hostname", &s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Host reservations (MAC to fixed address).
#[utoipa::path(get, path = "/network/dhcp/hosts", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpHostList)))]
async fn list_hosts(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<DhcpHostList>, ApiError> {
    let (conf, config_path) = read_for_api(&app).await?;
    Ok(Json(DhcpHostList {
        success: true,
        hosts: conf
            .hosts()
            .into_iter()
            .map(|h| DhcpHost {
                hostname: h.name.clone(),
                mac: h.mac.map(|m| m.to_string()),
                ip: h.ip.map(|i| i.to_string()),
            })
            .collect(),
        config_path,
    }))
}

/// Why a host reservation cannot be added: a value refused (400) or a clash (409).
#[derive(Debug, thiserror::Error)]
pub enum HostRefused {
    #[error("{}", .0.message)]
    Field(FieldError),
    #[error("{0}")]
    Conflict(String),
}

impl From<HostRefused> for ApiError {
    fn from(e: HostRefused) -> Self {
        match e {
            HostRefused::Field(f) => f.into(),
            HostRefused::Conflict(c) => ApiError::conflict(c),
        }
    }
}

/// The address must be usable in a configured subnet, and nothing may already use the name,
/// MAC or address.
fn check_host(conf: &DhcpConf, host: &AddHostParams) -> Result<(), HostRefused> {
    let ip = host.ip;
    if !conf.subnets().any(|s| usable_in(s.net(), ip)) {
        return Err(HostRefused::Field(FieldError::new(
            "ip",
            format!("ip: {ip} is not a usable address of any configured DHCP subnet"),
        )));
    }
    if let Some(c) = host_conflict(conf, &host.entry()) {
        return Err(HostRefused::Conflict(c));
    }
    Ok(())
}

/// Add a host reservation. 409 naming the clashing entry when the hostname, MAC or address is
/// taken.
#[utoipa::path(post, path = "/network/dhcp/hosts", tag = "network", request_body = AddHostRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn add_host(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<AddHostRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let host = req.validate()?;
    let (conf, _) = read_for_api(&app).await?;
    check_host(&conf, &host)?;
    let id = uuid::Uuid::new_v4().to_string();
    let claims = [
        ("$.hostname", host.hostname.to_string()),
        ("$.mac", host.mac.to_string()),
        ("$.ip", host.ip.to_string()),
    ];
    let made = app
        .tasks
        .enqueue_with(
            vec![NewTask::new(ADD_HOST, SCOPE)
                .with_id(id.clone())
                .lock(LOCK_DHCPD)
                .metadata(super::metadata(&host)?)
                .created_by(Some(caller.name))],
            // The file shows only what has been written: an add still queued claims its
            // name, MAC and address too.
            move |tx| {
                for (path, v) in &claims {
                    if crate::tasks::store::queued_claim(tx, ADD_HOST, path, v, &id)? {
                        return Err(crate::db::DbError::Conflict(format!(
                            "{v} is already claimed by a queued DHCP host add"
                        )));
                    }
                }
                Ok(())
            },
        )
        .await?;
    let task = &made[0];
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            task,
            &format!("DHCP host {} queued", host.hostname),
        )),
    ))
}

/// Remove a host reservation.
#[utoipa::path(delete, path = "/network/dhcp/hosts/{hostname}", tag = "network",
    params(("hostname" = String, Path)), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_host(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(hostname): Path<String>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = HostName::new("hostname", &hostname)?;
    let (conf, _) = read_for_api(&app).await?;
    if !conf.hosts().iter().any(|h| h.name == name.as_str()) {
        return Err(ApiError::not_found(format!("no DHCP host entry {name}")));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(DELETE_HOST, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(super::metadata(&DeleteHostParams {
                    hostname: name.clone(),
                })?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("DHCP host {name} removal queued"))),
    ))
}

// ---------------------------------------------------------------------------------------------
// Service.

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpStatus {
    pub success: bool,
    /// The service FMRI without `svc:/network/` (`service/dhcp:ipv4` on OmniOS).
    pub service: String,
    pub state: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Start,
    Stop,
    Refresh,
    Restart,
}

impl ServiceAction {
    /// As the request names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Refresh => "refresh",
            ServiceAction::Restart => "restart",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    pub action: ServiceAction,
}

/// The DHCP server's SMF state.
#[utoipa::path(get, path = "/network/dhcp/status", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpStatus)))]
async fn get_status(_: Viewer, State(app): State<AppState>) -> Result<Json<DhcpStatus>, ApiError> {
    let fmri = &app.network.settings.dhcp_service;
    let state = smf::service_state(&app.network.runner, fmri)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    Ok(Json(DhcpStatus {
        success: true,
        service: format!(
            "{}:{}",
            fmri.service().trim_start_matches("network/"),
            fmri.instance()
        ),
        state: state.map_or("absent", |s| s.as_str()).to_owned(),
        enabled: state.is_some_and(|s| s != ServiceState::Disabled && s != ServiceState::Absent),
    }))
}

/// Start (enable), stop (disable), refresh or restart the DHCP server.
#[utoipa::path(put, path = "/network/dhcp/status", tag = "network", request_body = ServiceRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn put_status(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<ServiceRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SERVICE, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(super::metadata(&ServiceParams { action: req.action })?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "DHCP service action queued")),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseList {
    pub success: bool,
    pub leases: Vec<leases::Lease>,
    pub leases_path: String,
}

/// Current leases, from dhcpd's leases file (the last record for each address).
#[utoipa::path(get, path = "/network/dhcp/leases", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = LeaseList)))]
async fn get_leases(_: Viewer, State(app): State<AppState>) -> Result<Json<LeaseList>, ApiError> {
    let leases_path = app
        .network
        .path_of(&app.network.runner, HostFile::DhcpLeases)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let path = app.config.host_file(&leases_path.to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
    };
    let leases = leases::parse(&text).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(LeaseList {
        success: true,
        leases,
        leases_path: leases_path.to_string(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Operations.

const CONFIG: &str = "network_dhcp_config";
const ADD_HOST: &str = "network_dhcp_host_add";
const DELETE_HOST: &str = "network_dhcp_host_delete";
const SERVICE: &str = "network_dhcp_service";

/// `network_dhcp_config`: the subnet declaration (validated as a whole by the request) and
/// the interface to listen on.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfigParams {
    pub subnet: Ipv4Net,
    pub router: Ipv4Addr,
    pub range_start: Ipv4Addr,
    pub range_end: Ipv4Addr,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    pub listen_interface: Option<LinkName>,
}

impl ConfigParams {
    fn subnet_config(&self) -> SubnetConfig {
        SubnetConfig {
            net: self.subnet,
            router: Some(self.router),
            range: Some((self.range_start, self.range_end)),
            dns: self.dns.clone(),
        }
    }
}

struct ConfigOp(Arc<NetworkServices>);

impl TaskOp for ConfigOp {
    type Params = ConfigParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CONFIG
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: ConfigParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        conf.upsert_subnet(&p.subnet_config());
        cx.progress(30, "writing dhcpd.conf").await?;
        let wrote = apply(&self.0, cx, &conf).await?;
        let mut listen_changed = false;
        if let Some(l) = &p.listen_interface {
            cx.progress(70, &format!("listening on {l}")).await?;
            listen_changed = ensure_listen(&self.0, cx, l).await?;
        }
        Ok(Some(
            json!({"config_changed": wrote, "listen_changed": listen_changed}),
        ))
    }

    journal::undo_by_journal!(ConfigParams);
}

/// `network_dhcp_host_add`: a reservation, validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddHostParams {
    pub hostname: HostName,
    pub mac: Mac,
    pub ip: Ipv4Addr,
}

impl AddHostParams {
    fn entry(&self) -> HostEntry {
        HostEntry {
            name: self.hostname.to_string(),
            mac: Some(self.mac),
            ip: Some(self.ip),
        }
    }
}

/// `network_dhcp_host_delete`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteHostParams {
    pub hostname: HostName,
}

struct AddHostOp(Arc<NetworkServices>);

impl TaskOp for AddHostOp {
    type Params = AddHostParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        ADD_HOST
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: AddHostParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        // Checked again under the lock: another task may have taken the name meanwhile.
        check_host(&conf, &p).map_err(|e| OpError::failed(e.to_string()))?;
        conf.add_host(p.entry());
        cx.progress(30, "writing dhcpd.conf").await?;
        apply(&self.0, cx, &conf).await?;
        Ok(Some(json!({
            "hostname": p.hostname,
            "mac": p.mac.to_string(),
            "ip": p.ip.to_string(),
        })))
    }

    journal::undo_by_journal!(AddHostParams);
}

struct DeleteHostOp(Arc<NetworkServices>);

impl TaskOp for DeleteHostOp {
    type Params = DeleteHostParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_HOST
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteHostParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        if !conf.remove_host(p.hostname.as_str()) {
            cx.note(&format!("no host entry {}: already gone", p.hostname));
            return Ok(Some(json!({"removed": false})));
        }
        cx.progress(30, "writing dhcpd.conf").await?;
        apply(&self.0, cx, &conf).await?;
        Ok(Some(json!({"removed": true})))
    }

    journal::undo_by_journal!(DeleteHostParams);
}

/// `network_dhcp_service`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceParams {
    pub action: ServiceAction,
}

struct ServiceOp(Arc<NetworkServices>);

/// Enables the DHCP service and waits for it; a start that ends in maintenance fails.
pub async fn start(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.dhcp_service;
    if service_state(svc, &cx.runner).await? == Some(ServiceState::Maintenance) {
        smf::clear(&cx.runner, fmri).await?;
    }
    smf::enable(&cx.runner, fmri, Wait::ForState, Persistence::Persistent).await?;
    check_not_in_maintenance(svc, cx).await
}

pub async fn stop(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    smf::disable(
        &cx.runner,
        &svc.settings.dhcp_service,
        Wait::ForState,
        Persistence::Persistent,
    )
    .await
    .map_err(OpError::from)
}

impl TaskOp for ServiceOp {
    type Params = ServiceParams;
    type Entry = ();

    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn run(&self, cx: &Cx<'_, ()>, p: ServiceParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        cx.progress(20, p.action.as_str()).await?;
        match p.action {
            ServiceAction::Start => start(svc, cx).await?,
            ServiceAction::Stop => stop(svc, cx).await?,
            // The spec's "reload configuration": the refresh takes the service's
            // properties, and only a restart makes dhcpd read its file (module doc).
            ServiceAction::Refresh => {
                smf::refresh(&cx.runner, &svc.settings.dhcp_service).await?;
                restart(svc, cx).await?;
                check_not_in_maintenance(svc, cx).await?;
            }
            ServiceAction::Restart => {
                stop(svc, cx).await?;
                start(svc, cx).await?;
            }
        }
        let state = service_state(svc, &cx.runner).await?;
        Ok(Some(
            json!({"state": state.map_or("absent", |s| s.as_str())}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> DhcpConfigRequest {
        serde_json::from_value(v).unwrap()
    }

    fn spec_example() -> Value {
        json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0", "router": "10.190.190.1",
            "range_start": "10.190.190.10", "range_end": "10.190.190.254",
            "dns": "8.8.8.8,8.8.4.4", "listen_interface": "provision_interconnect0"})
    }

    #[test]
    fn the_spec_example_validates() {
        let spec = req(spec_example()).validate().unwrap();
        assert_eq!(spec.subnet.to_string(), "10.190.190.0/24");
        assert_eq!(spec.dns.len(), 2);
        assert_eq!(
            spec.listen_interface.unwrap().as_str(),
            "provision_interconnect0"
        );
    }

    #[test]
    fn bad_ranges_name_their_field() {
        for (k, v, field) in [
            ("subnet", "10.190.190.1", "subnet"),
            ("netmask", "255.0.255.0", "netmask"),
            ("router", "10.190.191.1", "router"),
            ("range_start", "10.190.190.0", "range_start"),
            ("range_end", "10.190.190.255", "range_end"),
            ("range_end", "10.190.190.5", "range_end"),
            ("dns", "8.8.8.8;", "dns"),
            ("listen_interface", "vnic0\n}", "listen_interface"),
        ] {
            let mut body = spec_example();
            body[k] = json!(v);
            let e = req(body).validate().unwrap_err();
            assert_eq!(e.field, field, "{k}={v}");
        }
    }

    #[test]
    fn conflicts_name_the_clashing_entry() {
        let conf = DhcpConf::parse(
            "subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.10 10.0.0.20; }\nhost a { hardware ethernet 2:8:20:0:0:1; fixed-address 10.0.0.5; }\n",
        )
        .unwrap();
        let h = |n: &str, m: &str, i: &str| HostEntry {
            name: n.into(),
            mac: Some(m.parse().unwrap()),
            ip: Some(i.parse().unwrap()),
        };
        let c = host_conflict(&conf, &h("b", "02:08:20:00:00:01", "10.0.0.6")).unwrap();
        assert!(
            c.contains("MAC address") && c.contains("host entry a"),
            "{c}"
        );
        assert!(
            host_conflict(&conf, &h("b", "02:08:20:00:00:02", "10.0.0.5"))
                .unwrap()
                .contains("IP address")
        );
        assert!(
            host_conflict(&conf, &h("a", "02:08:20:00:00:02", "10.0.0.6"))
                .unwrap()
                .contains("hostname")
        );
        assert!(host_conflict(&conf, &h("b", "02:08:20:00:00:02", "10.0.0.6")).is_none());
        let add = |ip: &str| AddHostParams {
            hostname: HostName::new("hostname", "b").unwrap(),
            mac: "02:08:20:00:00:02".parse().unwrap(),
            ip: ip.parse().unwrap(),
        };
        assert!(matches!(
            check_host(&conf, &add("10.0.1.6")),
            Err(HostRefused::Field(f)) if f.field == "ip"
        ));
        assert!(check_host(&conf, &add("10.0.0.255")).is_err());
        assert!(matches!(
            check_host(&conf, &add("10.0.0.5")),
            Err(HostRefused::Conflict(c)) if c.contains("IP address")
        ));
        assert!(check_host(&conf, &add("10.0.0.6")).is_ok());
    }

    #[test]
    fn metadata_of_queued_dhcp_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<ConfigParams>(json!({
            "subnet": "10.190.190.0/24", "router": "10.190.190.1",
            "range_start": "10.190.190.10", "range_end": "10.190.190.254",
            "dns": ["8.8.8.8", "8.8.4.4"], "listen_interface": "provision_interconnect0",
        }));
        crate::network::assert_same_shape::<ConfigParams>(json!({
            "subnet": "10.0.0.0/8", "router": "10.0.0.1", "range_start": "10.0.0.2",
            "range_end": "10.0.0.3", "dns": [], "listen_interface": null,
        }));
        crate::network::assert_same_shape::<AddHostParams>(
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5"}),
        );
        crate::network::assert_same_shape::<DeleteHostParams>(json!({"hostname": "web-01"}));
        crate::network::assert_same_shape::<ServiceParams>(json!({"action": "restart"}));
        for bad in [
            json!({"hostname": "a;b", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5"}),
            json!({"hostname": "a", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5 "}),
        ] {
            assert!(
                serde_json::from_value::<AddHostParams>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_host_request_validates_each_field() {
        let ok = AddHostRequest {
            hostname: "web-01".into(),
            mac: "0208.20AB.CD01".into(),
            ip: "10.0.0.5".into(),
        };
        let p = ok.validate().unwrap();
        assert_eq!(p.mac.to_string(), "02:08:20:ab:cd:01");
        for (field, req) in [
            (
                "hostname",
                AddHostRequest {
                    hostname: "a b".into(),
                    ..ok.clone()
                },
            ),
            (
                "mac",
                AddHostRequest {
                    mac: "02:08:20:ab:cd".into(),
                    ..ok.clone()
                },
            ),
            (
                "ip",
                AddHostRequest {
                    ip: "10.0.0.256".into(),
                    ..ok.clone()
                },
            ),
        ] {
            assert_eq!(req.validate().unwrap_err().field, field);
        }
    }
}
