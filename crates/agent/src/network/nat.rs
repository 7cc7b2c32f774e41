//! `/network/nat/*`: ipfilter NAT rules in `ipnat.conf`.
//!
//! The file is parsed by [`illumos::ipnat::NatConf`], which keeps every line it did not write.
//! The file is ipfilter's `config/ipnat_config_file` unless config.yaml names one
//! ([`super::paths`]). A change is applied by [`apply`]: temp file beside the target,
//! `ipnat -n -f` check, fsync, backup, rename, then `svcadm refresh` of ipfilter (or enabling
//! it): the service's own load flushes the rules and loads its per-service NAT files and then
//! this file (reference §1.13), where a bare `ipnat -CF -f FILE` would drop the per-service
//! rules. Then `ipnat -l` is compared with the file, as advice only: a difference is a warning
//! in the task output, since the text of `ipnat -l` on a current host is unverified and a
//! refresh may still be running. A failure after the rename fails the task, and its undo
//! restores the previous file and reloads it.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::ipnat::{
    self, ActiveRule, BimapRule, Line, MapRule, NatConf, NatProto, NatRule, Port, Portmap,
    PortmapPorts, RdrRule,
};
use illumos::net::{Ipv4Cidr, Ipv4Net};
use illumos::persistence::Persistence;
use illumos::smf::{self, ServiceState, Wait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conffile::{ConfFile, Loaded};
use super::journal::{self, Carries, Entry, Reader};
use super::paths::HostFile;
use super::{validate, NetworkServices, LOCK_IPNAT, SCOPE};
use crate::error::FieldError;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{op, Cx, NewTask, OpCx, OpError, Operation, TaskOp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(nat_status))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![op(AddRulesOp(svc.clone())), op(DeleteRuleOp(svc.clone()))]
}

// ---------------------------------------------------------------------------------------------
// The listing: every rule line of the file, understood or not.

/// A rule line of ipnat.conf as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NatRuleInfo {
    /// 0-based position among the file's rules (comments and blank lines not counted). Changes
    /// when rules before it are removed; `id` does not.
    pub rule_id: usize,
    /// Stable id, derived from the rule itself (`nat-` and 12 hex digits).
    pub id: String,
    /// The rule as written in the file, without a trailing comment.
    pub rule: String,
    /// `map`, `bimap`, `rdr`, or the first word of a rule the agent does not model.
    #[serde(rename = "type")]
    pub kind: String,
    pub interface: Option<String>,
    /// The private side: map source, bimap internal address, rdr internal address.
    pub subnet: Option<String>,
    /// False for a rule the agent reads but does not model (`map-block`, `from ... to`).
    pub managed: bool,
}

/// The text of a rule line without its comment, whitespace collapsed.
fn rule_text(line: &str) -> String {
    line.split('#')
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stable id of a rule: a hash of its canonical form (or of its collapsed text for a rule
/// outside the model), so the same rule however spaced has the same id across restarts.
pub fn rule_id(line: &Line) -> String {
    let key = match line {
        Line::Rule(r) => r.rule().to_string(),
        other => rule_text(other.text()),
    };
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("nat-{hex}")
}

pub fn list(conf: &NatConf) -> Vec<NatRuleInfo> {
    conf.lines()
        .iter()
        .filter(|l| matches!(l, Line::Rule(_) | Line::Other(_)))
        .enumerate()
        .map(|(i, line)| {
            let text = rule_text(line.text());
            let mut words = text.split(' ');
            let (kind, interface, subnet, managed) = match line {
                Line::Rule(r) => {
                    let subnet = match r.rule() {
                        NatRule::Map(m) => m.source.to_string(),
                        NatRule::Bimap(b) => b.internal.to_string(),
                        NatRule::Rdr(r) => r.internal.to_string(),
                    };
                    (
                        r.rule().keyword().to_owned(),
                        Some(r.rule().interface().to_string()),
                        Some(subnet),
                        true,
                    )
                }
                _ => (
                    words.next().unwrap_or_default().to_owned(),
                    words.next().map(str::to_owned),
                    None,
                    false,
                ),
            };
            NatRuleInfo {
                rule_id: i,
                id: rule_id(line),
                rule: text,
                kind,
                interface,
                subnet,
                managed,
            }
        })
        .collect()
}

/// ipnat.conf as ipfilter names it now (or as config.yaml overrides it).
pub async fn nat_file(svc: &NetworkServices, run: &illumos::Runner) -> Result<ConfFile, OpError> {
    svc.file_of(run, HostFile::IpnatConf)
        .await
        .map_err(OpError::from)
}

pub async fn read_conf(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Loaded<NatConf>, OpError> {
    let file = nat_file(svc, run).await?;
    let conf = NatConf::parse(&file.read()?.unwrap_or_default());
    Ok(Loaded { file, conf })
}

// ---------------------------------------------------------------------------------------------
// Applying a new file.

/// Has ipfilter reload its rules the way its method does (see the module doc). A refresh
/// whose load failed leaves the service in maintenance: that fails the task too.
async fn reload(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.ipfilter;
    smf::refresh(&cx.runner, fmri).await?;
    cx.note(&format!(
        "svcadm refresh {fmri}: ipfilter reloads its NAT rules"
    ));
    let state = smf::service_state(&cx.runner, fmri).await?;
    if state.is_some_and(|s| s.state == ServiceState::Maintenance) {
        return Err(OpError::failed(format!(
            "{fmri} went to maintenance reloading its rules (see its SMF log)"
        )));
    }
    Ok(())
}

/// Reloads the rules from the file when ipfilter is online; says whether it did.
pub async fn reload_if_online(svc: &NetworkServices, cx: &OpCx) -> Result<bool, OpError> {
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter).await?;
    if state.is_some_and(|s| s.state == ServiceState::Online) {
        reload(svc, cx).await?;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Writes `conf` atomically and makes it the active rule set (see the module doc). Returns
/// false when the file already had exactly this text (nothing done).
pub async fn apply<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<NatConf>,
) -> Result<bool, OpError> {
    apply_with(svc, cx, conf, Activate::Yes).await
}

/// Whether [`apply_with`] may enable ipfilter to make the rules active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activate {
    Yes,
    /// Only reload when ipfilter already runs (removing rules needs no firewall).
    IfOnline,
}

pub async fn apply_with<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<NatConf>,
    activate: Activate,
) -> Result<bool, OpError> {
    let file = &conf.file;
    let text = conf.render();
    let current = file.read()?;
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter)
        .await?
        .map(|s| s.state);
    let online = state == Some(ServiceState::Online);
    if current.as_deref() == Some(text.as_str()) && (online || activate == Activate::IfOnline) {
        return Ok(false);
    }
    if current.as_deref() != Some(text.as_str()) {
        let temp = journal::stage_file(cx, file, &text, Reader::Ipnat).await?;
        if let Err(e) = ipnat::check(&cx.runner, &temp.illumos).await {
            file.discard_temp();
            return Err(OpError::from(e));
        }
        file.commit_temp(&cx.runner).await?;
        cx.note(&format!("wrote {}", file.illumos));
    }
    if online {
        reload(svc, cx).await?;
    } else if activate == Activate::IfOnline {
        return Ok(true);
    } else {
        journal::will_make(
            cx,
            Entry::ServiceEnabled {
                fmri: svc.settings.ipfilter.clone(),
            },
        )
        .await?;
        if state == Some(ServiceState::Maintenance) {
            let _ = smf::clear(&cx.runner, &svc.settings.ipfilter).await;
        }
        smf::enable(
            &cx.runner,
            &svc.settings.ipfilter,
            Wait::ForState,
            Persistence::Persistent,
        )
        .await?;
    }
    verify(cx, conf).await;
    Ok(true)
}

/// Removes every rule `selected` picks from the file and makes the active rules follow, without
/// enabling ipfilter for it; returns whether the file held any. When the file holds none but
/// the active rules still do (a run stopped between writing the file and reloading it), reloads:
/// running it again finishes the removal.
pub async fn remove_rules<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    selected: impl Fn(&NatRule) -> bool,
) -> Result<bool, OpError> {
    let mut conf = read_conf(svc, &cx.runner).await?;
    let found: Vec<NatRule> = conf
        .rules()
        .map(|(_, r)| r.clone())
        .filter(|r| selected(r))
        .collect();
    if !found.is_empty() {
        for r in &found {
            conf.remove(r);
        }
        apply_with(svc, cx, &conf, Activate::IfOnline).await?;
        return Ok(true);
    }
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter).await?;
    if state.is_some_and(|s| s.state == ServiceState::Online) {
        let active = ipnat::list(&cx.runner).await?;
        if active
            .rules
            .iter()
            .any(|a| matches!(a, ActiveRule::Rule(r) if selected(r)))
        {
            reload(svc, cx).await?;
        }
    }
    Ok(false)
}

/// Whether every rule the file holds is active: advice only (see the module doc), so what does
/// not match, or a listing that fails, is a warning line in the task output.
async fn verify(cx: &OpCx, conf: &NatConf) {
    let active = match ipnat::list(&cx.runner).await {
        Ok(a) => a,
        Err(e) => {
            cx.note(&format!(
                "warning: cannot check the active NAT rules: {}",
                super::chain(&e)
            ));
            return;
        }
    };
    let missing: Vec<String> = conf
        .rules()
        .filter(|(_, r)| {
            !active
                .rules
                .iter()
                .any(|a| a == &ActiveRule::Rule((*r).clone()))
        })
        .map(|(_, r)| r.to_string())
        .collect();
    if !missing.is_empty() {
        cx.note(&format!(
            "warning: ipnat -l does not show the rules {} (yet); the file is in place",
            missing.join("; ")
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NatType {
    /// `map ... portmap PROTO auto`, plus the plain `map` after it for ICMP and other
    /// protocols.
    Portmap,
    /// A plain `map` (address translation only).
    Map,
    /// 1:1 both ways: `subnet` is the internal address, `target` the external one.
    Bimap,
    /// Port forwarding: `external_ip:external_port` to `internal_ip:internal_port`.
    Rdr,
}

impl NatType {
    /// As the request names it.
    pub fn as_str(self) -> &'static str {
        match self {
            NatType::Portmap => "portmap",
            NatType::Map => "map",
            NatType::Bimap => "bimap",
            NatType::Rdr => "rdr",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNatRule {
    /// Default `portmap`.
    #[serde(rename = "type")]
    pub kind: Option<NatType>,
    /// The outside interface (`igb0`).
    pub bridge: String,
    /// map/portmap: the private network (`10.190.190.0/24`); bimap: the internal address.
    pub subnet: Option<String>,
    /// map/portmap: default `0/32` (the interface's own address); bimap: the external address.
    pub target: Option<String>,
    /// portmap: `tcp`, `udp` or `tcp/udp` (default); rdr: default `tcp`.
    pub protocol: Option<String>,
    pub external_ip: Option<String>,
    pub external_port: Option<u16>,
    pub internal_ip: Option<String>,
    pub internal_port: Option<u16>,
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, FieldError> {
    v.as_deref()
        .ok_or_else(|| FieldError::new(field, format!("{field} is required")))
}

/// An address or CIDR in ipnat's forms: `0/32`, `A.B.C.D/bits`, or a bare address (`/32`).
fn cidr(field: &str, s: &str) -> Result<Ipv4Cidr, FieldError> {
    let text = match s.split_once('/') {
        Some(("0", bits)) => format!("0.0.0.0/{bits}"),
        Some(_) => s.to_owned(),
        None => format!("{s}/32"),
    };
    text.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

fn port(field: &str, v: Option<u16>) -> Result<Port, FieldError> {
    let v = v.ok_or_else(|| FieldError::new(field, format!("{field} is required")))?;
    Port::new(v).map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

fn proto(field: &str, v: Option<&str>, default: NatProto) -> Result<NatProto, FieldError> {
    match v {
        None => Ok(default),
        Some(p) => p
            .parse()
            .map_err(|e| FieldError::new(field, format!("{field}: {e}"))),
    }
}

impl CreateNatRule {
    /// The rules to add, first the one that decides "duplicate".
    pub fn rules(&self) -> Result<Vec<NatRule>, FieldError> {
        let interface = validate::link("bridge", &self.bridge)?;
        let kind = self.kind.unwrap_or(NatType::Portmap);
        let for_kind = |field: &str, present: bool| -> Result<(), FieldError> {
            if present {
                Err(FieldError::new(
                    field,
                    format!("{field} does not apply to a {} rule", kind.as_str()),
                ))
            } else {
                Ok(())
            }
        };
        match kind {
            NatType::Portmap | NatType::Map => {
                for_kind("external_ip", self.external_ip.is_some())?;
                for_kind("external_port", self.external_port.is_some())?;
                for_kind("internal_ip", self.internal_ip.is_some())?;
                for_kind("internal_port", self.internal_port.is_some())?;
                let subnet: Ipv4Net =
                    validate::network("subnet", required("subnet", &self.subnet)?)?;
                let target = cidr("target", self.target.as_deref().unwrap_or("0/32"))?;
                let plain = MapRule {
                    interface,
                    source: subnet.cidr(),
                    target,
                    portmap: None,
                };
                if kind == NatType::Map {
                    for_kind("protocol", self.protocol.is_some())?;
                    return Ok(vec![NatRule::Map(plain)]);
                }
                let pm = MapRule {
                    portmap: Some(Portmap {
                        proto: proto("protocol", self.protocol.as_deref(), NatProto::TcpUdp)?,
                        ports: PortmapPorts::Auto,
                    }),
                    ..plain.clone()
                };
                Ok(vec![NatRule::Map(pm), NatRule::Map(plain)])
            }
            NatType::Bimap => {
                for_kind("protocol", self.protocol.is_some())?;
                for_kind("external_ip", self.external_ip.is_some())?;
                for_kind("internal_ip", self.internal_ip.is_some())?;
                Ok(vec![NatRule::Bimap(BimapRule {
                    interface,
                    internal: cidr("subnet", required("subnet", &self.subnet)?)?,
                    external: cidr("target", required("target", &self.target)?)?,
                })])
            }
            NatType::Rdr => {
                for_kind("subnet", self.subnet.is_some())?;
                for_kind("target", self.target.is_some())?;
                let internal: Ipv4Addr =
                    validate::ipv4("internal_ip", required("internal_ip", &self.internal_ip)?)?;
                Ok(vec![NatRule::Rdr(RdrRule {
                    interface,
                    external: cidr("external_ip", required("external_ip", &self.external_ip)?)?,
                    external_port: port("external_port", self.external_port)?,
                    external_port_end: None,
                    internal,
                    internal_port: port("internal_port", self.internal_port)?,
                    proto: proto("protocol", self.protocol.as_deref(), NatProto::Tcp)?,
                })])
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatRuleList {
    pub success: bool,
    pub rules: Vec<NatRuleInfo>,
    /// Whether ipfilter is online (the rules are active).
    pub ipfilter_enabled: bool,
    pub config_path: String,
}

async fn ipfilter_state(app: &AppState) -> Result<Option<ServiceState>, ApiError> {
    Ok(
        smf::service_state(&app.network.runner, &app.network.settings.ipfilter)
            .await
            .map_err(ApiError::host)?
            .map(|s| s.state),
    )
}

async fn read_for_api(app: &AppState) -> Result<(NatConf, String), ApiError> {
    let run = &app.network.runner;
    let file = nat_file(&app.network, run)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let text = file.read().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        NatConf::parse(&text.unwrap_or_default()),
        file.illumos.to_string(),
    ))
}

/// List the NAT rules of ipnat.conf.
#[utoipa::path(get, path = "/network/nat/rules", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = NatRuleList)))]
async fn list_rules(_: Viewer, State(app): State<AppState>) -> Result<Json<NatRuleList>, ApiError> {
    let (conf, config_path) = read_for_api(&app).await?;
    Ok(Json(NatRuleList {
        success: true,
        rules: list(&conf),
        ipfilter_enabled: ipfilter_state(&app).await? == Some(ServiceState::Online),
        config_path,
    }))
}

/// Add a NAT rule (`portmap` also writes the plain `map` after it). 409 if it exists.
#[utoipa::path(post, path = "/network/nat/rules", tag = "network", request_body = CreateNatRule,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_rule(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateNatRule>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let rules = req.rules()?;
    let (conf, _) = read_for_api(&app).await?;
    if conf.contains(&rules[0]) {
        let line = conf
            .lines()
            .iter()
            .find(|l| matches!(l, Line::Rule(r) if r.rule() == &rules[0]))
            .map(rule_id)
            .unwrap_or_default();
        return Err(ApiError::conflict(format!(
            "the rule {:?} already exists (id {line})",
            rules[0].to_string()
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let first = rules[0].to_string();
    let params = AddParams { rules };
    let made = app
        .tasks
        .enqueue_with(
            vec![NewTask::new(ADD_RULES, SCOPE)
                .with_id(id.clone())
                .lock(LOCK_IPNAT)
                .metadata(super::metadata(&params)?)
                .created_by(Some(caller.name))],
            // The same rule, queued and not yet written, is a clash too.
            move |tx| {
                if crate::tasks::store::queued_claim(tx, ADD_RULES, "$.rules", &first, &id)? {
                    return Err(crate::db::DbError::Conflict(format!(
                        "the rule {first:?} is already queued"
                    )));
                }
                Ok(())
            },
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&made[0], "NAT rule queued")),
    ))
}

/// Delete a NAT rule by its 0-based `rule_id` or its stable `id`. Deleting a `portmap` rule
/// also deletes the plain `map` the agent wrote after it.
#[utoipa::path(delete, path = "/network/nat/rules/{ruleId}", tag = "network",
    params(("ruleId" = String, Path, description = "0-based index or stable id (nat-...)")),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(rule): Path<String>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let index = !rule.is_empty() && rule.len() <= 6 && rule.bytes().all(|b| b.is_ascii_digit());
    let stable = rule.strip_prefix("nat-").is_some_and(|h| {
        h.len() == 12
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if !index && !stable {
        // No rule has such an id: answered without reading the host (finding the file takes
        // a command).
        return Err(ApiError::not_found(format!("no NAT rule {rule}")));
    }
    let (conf, _) = read_for_api(&app).await?;
    let rules = list(&conf);
    let found = if index {
        rule.parse::<usize>().ok().and_then(|i| rules.get(i))
    } else {
        rules.iter().find(|r| r.id == rule)
    };
    let found = found.ok_or_else(|| ApiError::not_found(format!("no NAT rule {rule}")))?;
    let task = app
        .tasks
        .enqueue(
            NewTask::new(DELETE_RULE, SCOPE)
                .lock(LOCK_IPNAT)
                .metadata(super::metadata(&DeleteParams {
                    id: found.id.clone(),
                    rule: found.rule.clone(),
                })?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "NAT rule deletion queued")),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatStatus {
    pub success: bool,
    pub service: String,
    /// The SMF state (`online`, `disabled`, `maintenance`, ...).
    pub state: String,
    pub enabled: bool,
    /// Rules active in the kernel (`ipnat -l`), when ipfilter is online.
    pub active_rules: Option<Vec<String>>,
    pub config_path: String,
}

/// ipfilter's service state and the active rules.
#[utoipa::path(get, path = "/network/nat/status", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = NatStatus)))]
async fn nat_status(_: Viewer, State(app): State<AppState>) -> Result<Json<NatStatus>, ApiError> {
    let state = ipfilter_state(&app).await?;
    let config_path = nat_file(&app.network, &app.network.runner)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .illumos
        .to_string();
    let active_rules = if state == Some(ServiceState::Online) {
        let active = ipnat::list(&app.network.runner)
            .await
            .map_err(ApiError::host)?;
        Some(
            active
                .rules
                .iter()
                .map(|r| match r {
                    ActiveRule::Rule(r) => r.to_string(),
                    ActiveRule::Other(s) => s.clone(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Json(NatStatus {
        success: true,
        service: app.network.settings.ipfilter.to_string(),
        state: state.map_or("absent", |s| s.as_str()).to_owned(),
        enabled: state.is_some_and(|s| s != ServiceState::Disabled && s != ServiceState::Absent),
        active_rules,
        config_path,
    }))
}

// ---------------------------------------------------------------------------------------------
// Operations.

const ADD_RULES: &str = "network_nat_add";
const DELETE_RULE: &str = "network_nat_delete";

/// `network_nat_add`: the rules to add, as their text (the one that decides "duplicate" first).
#[derive(Debug, Serialize, Deserialize)]
pub struct AddParams {
    pub rules: Vec<NatRule>,
}

struct AddRulesOp(Arc<NetworkServices>);

impl TaskOp for AddRulesOp {
    type Params = AddParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        ADD_RULES
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: AddParams) -> Result<Option<Value>, OpError> {
        let rules = p.rules;
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        if rules.first().is_some_and(|r| conf.contains(r)) {
            return Err(OpError::failed(format!(
                "the rule {:?} already exists",
                rules[0].to_string()
            )));
        }
        for r in rules.iter().cloned() {
            conf.ensure(r);
        }
        cx.progress(30, "writing ipnat.conf").await?;
        apply(&self.0, cx, &conf).await?;
        let ids: Vec<Value> = conf
            .lines()
            .iter()
            .filter(|l| matches!(l, Line::Rule(r) if rules.contains(r.rule())))
            .map(|l| json!({"id": rule_id(l), "rule": l.text()}))
            .collect();
        Ok(Some(json!({"rules": ids})))
    }

    journal::undo_by_journal!(AddParams);
}

/// `network_nat_delete`: the stable id of the rule, and its text as it was (shown in the
/// task's metadata).
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteParams {
    pub id: String,
    #[serde(default)]
    pub rule: String,
}

struct DeleteRuleOp(Arc<NetworkServices>);

/// The plain map the agent writes after a portmap rule.
fn companion(rule: &NatRule) -> Option<NatRule> {
    match rule {
        NatRule::Map(m) if m.portmap.is_some() => Some(NatRule::Map(MapRule {
            portmap: None,
            ..m.clone()
        })),
        _ => None,
    }
}

/// Removes the lines with this id (and a portmap's companion); returns their texts.
pub fn remove_by_id(conf: &NatConf, id: &str) -> (NatConf, Vec<String>) {
    let mut removed = Vec::new();
    let mut companions = Vec::new();
    let mut kept = String::new();
    for line in conf.lines() {
        if matches!(line, Line::Rule(_) | Line::Other(_)) && rule_id(line) == id {
            removed.push(rule_text(line.text()));
            if let Line::Rule(r) = line {
                companions.extend(companion(r.rule()));
            }
            continue;
        }
        kept.push_str(line.text());
        kept.push('\n');
    }
    let mut out = NatConf::parse(&kept);
    for c in companions {
        if out.remove(&c) > 0 {
            removed.push(c.to_string());
        }
    }
    (out, removed)
}

impl TaskOp for DeleteRuleOp {
    type Params = DeleteParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_RULE
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteParams) -> Result<Option<Value>, OpError> {
        let conf = read_conf(&self.0, &cx.runner).await?;
        let (new, removed) = remove_by_id(&conf, &p.id);
        let new = Loaded {
            file: conf.file.clone(),
            conf: new,
        };
        if removed.is_empty() {
            cx.note(&format!("no rule {} in the file: already gone", p.id));
            return Ok(Some(json!({"removed": removed})));
        }
        cx.progress(30, "writing ipnat.conf").await?;
        apply(&self.0, cx, &new).await?;
        Ok(Some(json!({"removed": removed})))
    }

    journal::undo_by_journal!(DeleteParams);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> CreateNatRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_spec_portmap_example_writes_the_rule_and_its_companion() {
        let rules = req(
            json!({"bridge": "igb0", "subnet": "10.190.190.0/24", "target": "0/32",
            "protocol": "tcp/udp", "type": "portmap"}),
        )
        .rules()
        .unwrap();
        let texts: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto",
                "map igb0 10.190.190.0/24 -> 0/32"
            ]
        );
    }

    #[test]
    fn the_spec_rdr_example_is_valid_ipnat_syntax() {
        let rules = req(
            json!({"type": "rdr", "bridge": "igb0", "external_ip": "192.168.1.10",
            "external_port": 8080, "internal_ip": "10.190.190.10", "internal_port": 80,
            "protocol": "tcp"}),
        )
        .rules()
        .unwrap();
        assert_eq!(
            rules[0].to_string(),
            "rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp"
        );
    }

    #[test]
    fn bimap_takes_subnet_and_target() {
        let rules = req(
            json!({"type": "bimap", "bridge": "igb0", "subnet": "10.190.190.10",
            "target": "192.168.1.100"}),
        )
        .rules()
        .unwrap();
        assert_eq!(
            rules[0].to_string(),
            "bimap igb0 10.190.190.10/32 -> 192.168.1.100/32"
        );
    }

    #[test]
    fn ids_are_stable_and_indexes_count_rules_only() {
        let conf = NatConf::parse(
            "# nat\nmap igb0 10.0.0.0/24 -> 0/32 portmap tcp/udp auto\n\nmap   igb0 10.0.0.0/24 -> 0.0.0.0/32 # plain\nmap-block igb0 10.1.0.0/24 -> 0/32\n",
        );
        let l = list(&conf);
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].rule_id, 1);
        assert_eq!(l[1].rule, "map igb0 10.0.0.0/24 -> 0.0.0.0/32");
        assert_eq!(l[2].kind, "map-block");
        assert!(!l[2].managed);
        // Same rule, different spacing and spelling of 0/32: same id.
        let again = NatConf::parse("map igb0 10.0.0.0/24 -> 0/32\n");
        assert_eq!(list(&again)[0].id, l[1].id);
    }

    #[test]
    fn deleting_a_portmap_takes_its_companion_and_keeps_the_rest() {
        let text = "# keep me\nmap igb0 10.0.0.0/24 -> 0/32 portmap tcp/udp auto\nmap igb0 10.0.0.0/24 -> 0/32\nrdr igb0 1.2.3.4/32 port 80 -> 10.0.0.5 port 80 tcp\n";
        let conf = NatConf::parse(text);
        let id = list(&conf)[0].id.clone();
        let (new, removed) = remove_by_id(&conf, &id);
        assert_eq!(removed.len(), 2);
        assert_eq!(
            new.render(),
            "# keep me\nrdr igb0 1.2.3.4/32 port 80 -> 10.0.0.5 port 80 tcp\n"
        );
    }

    #[test]
    fn hostile_fields_are_refused_before_any_rule_exists() {
        for (field, v) in [
            (
                "bridge",
                json!({"bridge": "igb0\nmap", "subnet": "10.0.0.0/24"}),
            ),
            (
                "subnet",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24 # x"}),
            ),
            (
                "target",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24", "target": "0/32;"}),
            ),
            (
                "protocol",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24", "protocol": "tcp}"}),
            ),
        ] {
            let e = req(v).rules().unwrap_err();
            assert_eq!(e.field, field);
        }
    }

    #[test]
    fn metadata_of_queued_nat_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<AddParams>(json!({"rules": [
            "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto",
            "map igb0 10.190.190.0/24 -> 0/32",
            "rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp",
        ]}));
        crate::network::assert_same_shape::<DeleteParams>(
            json!({"id": "nat-0123456789ab", "rule": "map-block igb0 10.1.0.0/24 -> 0/32"}),
        );
        let bad = json!({"rules": ["map igb0 10.0.0.0/24 -> 0/32\nmap"]});
        assert!(serde_json::from_value::<AddParams>(bad).is_err());
    }

    #[test]
    fn a_field_that_does_not_apply_names_the_rule_type_as_the_request_does() {
        let e = req(json!({"type": "rdr", "bridge": "igb0", "subnet": "10.0.0.0/24"}))
            .rules()
            .unwrap_err();
        assert_eq!(e.field, "subnet");
        assert_eq!(e.message, "subnet does not apply to a rdr rule");
    }
}
