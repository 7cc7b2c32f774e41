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

use super::journal::{self, Carries, Entry};
use super::{validate, NetworkServices, LOCK_FORWARDING, SCOPE};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{op, Cx, NewTask, OpError, Operation, TaskOp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_forwarding, set_forwarding))
}

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![op(SetForwardingOp(svc.clone()))]
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
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SET_FORWARDING, SCOPE)
                .lock(LOCK_FORWARDING)
                .metadata(super::metadata(&Params {
                    enabled: req.enabled,
                    interfaces,
                })?)
                .created_by(Some(caller.name)),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "IP forwarding change queued")),
    ))
}

const SET_FORWARDING: &str = "network_set_forwarding";

/// `network_set_forwarding`: global forwarding when `enabled` is given, and the interfaces
/// whose forwarding follows it (on when it is absent).
#[derive(Debug, Serialize, Deserialize)]
pub struct Params {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub interfaces: Vec<LinkName>,
}

/// Makes global forwarding `want`, journalling the previous state; returns whether it changed.
pub async fn ensure_global<E: Carries>(cx: &Cx<'_, E>, want: bool) -> Result<bool, OpError> {
    let now = routeadm::show_option(&cx.runner, RoutingOption::Ipv4Forwarding).await?;
    if now.current.is_enabled() == want && now.persistent.is_enabled() == want {
        return Ok(false);
    }
    journal::will_make(
        cx,
        Entry::GlobalForwarding {
            was_enabled: now.current.is_enabled(),
        },
    )
    .await?;
    routeadm::ensure(&cx.runner, RoutingOption::Ipv4Forwarding, want.into())
        .await
        .map_err(OpError::from)
}

/// Sets one interface's IPv4 forwarding when it differs; returns whether it changed.
pub async fn ensure_interface<E: Carries>(
    cx: &Cx<'_, E>,
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
    journal::will_make(
        cx,
        Entry::IfForwarding {
            interface: interface.clone(),
            was_on: current == Some(OnOff::On),
            was_persistent: persistent.map(|p| p == OnOff::On),
        },
    )
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

impl TaskOp for SetForwardingOp {
    type Params = Params;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        SET_FORWARDING
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: Params) -> Result<Option<Value>, OpError> {
        let mut changed = Vec::new();
        if let Some(want) = p.enabled {
            cx.progress(20, "global IPv4 forwarding").await?;
            if ensure_global(cx, want).await? {
                changed.push("global".to_owned());
            }
        }
        let want = p.enabled.unwrap_or(true);
        for l in &p.interfaces {
            cx.progress(50, &format!("forwarding on {l}")).await?;
            if ensure_interface(cx, l, want).await? {
                changed.push(l.to_string());
            }
        }
        Ok(Some(json!({"changed": changed})))
    }

    journal::undo_by_journal!(Params);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_of_queued_forwarding_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<Params>(
            json!({"enabled": true, "interfaces": ["igb0", "provision0"]}),
        );
        crate::network::assert_same_shape::<Params>(
            json!({"enabled": null, "interfaces": ["igb0"]}),
        );
        assert!(serde_json::from_value::<Params>(json!({"interfaces": ["igb0 x"]})).is_err());
    }
}
