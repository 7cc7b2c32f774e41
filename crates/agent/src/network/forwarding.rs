//! `/network/forwarding`: the global IPv4 forwarding switch (`routeadm`) and the per-interface
//! `forwarding` property (`ipadm`), read live and changed by a task holding `forwarding`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::ipadm::{self, OnOff, Protocol};
use illumos::link::LinkName;
use illumos::persistence::Persistence;
use illumos::routeadm::{self, RoutingOption};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::journal::{self, Made};
use super::{validate, NetworkServices, LOCK_FORWARDING, SCOPE};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{BoxFuture, NewTask, OpCx, OpError, Operation};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_forwarding, set_forwarding))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![Arc::new(SetForwardingOp(svc.clone()))]
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceForwarding {
    pub name: String,
    /// `on` or `off`.
    pub ipv4_forwarding: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForwardingStatus {
    pub success: bool,
    /// `enabled` or `disabled` (routeadm's current state).
    pub global_ipv4_forwarding: String,
    pub interfaces: Vec<InterfaceForwarding>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetForwardingRequest {
    /// Global IPv4 forwarding (`routeadm -u -e|-d ipv4-forwarding`).
    pub enabled: Option<bool>,
    /// Interfaces whose `forwarding` property is set: on, or off when `enabled` is false.
    /// Each must be an existing IP interface.
    pub interfaces: Option<Vec<String>>,
}

pub async fn status(run: &illumos::Runner) -> Result<ForwardingStatus, ApiError> {
    let global = routeadm::show_option(run, RoutingOption::Ipv4Forwarding)
        .await
        .map_err(ApiError::host)?;
    let ifs = ipadm::show_forwarding(run, None, Protocol::Ipv4)
        .await
        .map_err(ApiError::host)?;
    Ok(ForwardingStatus {
        success: true,
        global_ipv4_forwarding: global.current.as_str().to_owned(),
        interfaces: ifs
            .into_iter()
            .map(|f| InterfaceForwarding {
                name: f.interface.to_string(),
                ipv4_forwarding: f.current.as_str().to_owned(),
            })
            .collect(),
    })
}

/// Global and per-interface IPv4 forwarding.
#[utoipa::path(get, path = "/network/forwarding", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = ForwardingStatus)))]
async fn get_forwarding(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<ForwardingStatus>, ApiError> {
    Ok(Json(status(&app.network.runner).await?))
}

/// Turn forwarding on or off, globally and on interfaces. Unknown interfaces are a 400.
#[utoipa::path(put, path = "/network/forwarding", tag = "network",
    request_body = SetForwardingRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn set_forwarding(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<SetForwardingRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let names = req.interfaces.clone().unwrap_or_default();
    let mut interfaces: Vec<LinkName> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let l = validate::link(&format!("interfaces[{i}]"), n)?;
        if !interfaces.contains(&l) {
            interfaces.push(l);
        }
    }
    if req.enabled.is_none() && interfaces.is_empty() {
        return Err(ApiError::invalid(
            "enabled",
            "give enabled, interfaces, or both",
        ));
    }
    if !interfaces.is_empty() {
        let known = ipadm::show_if(&app.network.runner, None)
            .await
            .map_err(ApiError::host)?;
        for (i, l) in interfaces.iter().enumerate() {
            if !known.iter().any(|k| &k.name == l) {
                return Err(ApiError::invalid(
                    format!("interfaces[{i}]"),
                    format!("no IP interface named {l}"),
                ));
            }
        }
    }
    let ifs: Vec<&str> = interfaces.iter().map(LinkName::as_str).collect();
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SET_FORWARDING, SCOPE)
                .lock(LOCK_FORWARDING)
                .metadata(json!({"enabled": req.enabled, "interfaces": ifs}))
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "IP forwarding change queued")),
    ))
}

const SET_FORWARDING: &str = "network_set_forwarding";

#[derive(Deserialize)]
struct Params {
    enabled: Option<bool>,
    #[serde(default)]
    interfaces: Vec<String>,
}

/// Makes global forwarding `want`, journalling the previous state; returns whether it changed.
pub async fn ensure_global(cx: &OpCx, want: bool) -> Result<bool, OpError> {
    let now = routeadm::show_option(&cx.runner, RoutingOption::Ipv4Forwarding).await?;
    if now.current.is_enabled() == want && now.persistent.is_enabled() == want {
        return Ok(false);
    }
    cx.will_make(&Made::GlobalForwarding {
        was_enabled: now.current.is_enabled(),
    })
    .await?;
    routeadm::ensure(&cx.runner, RoutingOption::Ipv4Forwarding, want.into())
        .await
        .map_err(OpError::from)
}

/// Sets one interface's IPv4 forwarding when it differs; returns whether it changed.
pub async fn ensure_interface(
    cx: &OpCx,
    interface: &LinkName,
    want: bool,
) -> Result<bool, OpError> {
    let now = ipadm::show_forwarding(&cx.runner, Some(interface), Protocol::Ipv4).await?;
    let current = now.first().map(|f| f.current);
    let persistent = now.first().and_then(|f| f.persistent);
    let want_v = OnOff::from(want);
    if current == Some(want_v) && persistent == Some(want_v) {
        return Ok(false);
    }
    if now.is_empty() {
        return Err(OpError::failed(format!(
            "no IP interface named {interface}"
        )));
    }
    cx.will_make(&Made::IfForwarding {
        interface: interface.to_string(),
        was_on: current == Some(OnOff::On),
        was_persistent: persistent.map(|p| p == OnOff::On),
    })
    .await?;
    ipadm::set_forwarding(
        &cx.runner,
        interface,
        Protocol::Ipv4,
        want_v,
        Persistence::Persistent,
    )
    .await?;
    Ok(true)
}

struct SetForwardingOp(Arc<NetworkServices>);

impl Operation for SetForwardingOp {
    fn name(&self) -> &'static str {
        SET_FORWARDING
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: Params = cx.params()?;
            let mut changed = Vec::new();
            if let Some(want) = p.enabled {
                cx.progress(20, "global IPv4 forwarding").await?;
                if ensure_global(cx, want).await? {
                    changed.push("global".to_owned());
                }
            }
            let want = p.enabled.unwrap_or(true);
            for name in &p.interfaces {
                let l: LinkName = name
                    .parse()
                    .map_err(|e| OpError::failed(format!("invalid task parameters: {e}")))?;
                cx.progress(50, &format!("forwarding on {l}")).await?;
                if ensure_interface(cx, &l, want).await? {
                    changed.push(l.to_string());
                }
            }
            Ok(Some(json!({"changed": changed})))
        })
    }

    fn undo<'a>(&'a self, cx: &'a OpCx, j: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(journal::undo(&self.0, cx, j))
    }
}
