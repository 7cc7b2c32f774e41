//! Boot order by priority, as the Node original showed it (`/zones/priorities`,
//! `/zones/orchestration/*`). A zone's priority is its `boot_priority` (or
//! `shutdown_priority`) attribute, 1 to 100, default 95; zones are grouped by tens (1-10 →
//! 10, ..., 91-100 → 100), started highest group first and stopped lowest first.
//!
//! The original "enabled orchestration" by disabling `svc:/system/zones:default` and booting
//! autoboot zones itself. This agent leaves boot to that service (each zone's `autoboot`),
//! so it reports who boots zones and the order it would use, and refuses to take over.

use std::collections::BTreeMap;

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::smf::{self, Fmri, ServiceState};
use illumos::zonecfg::ZoneConfig;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{Admin, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJsonOrEmpty;
use crate::http::AppState;

pub const DEFAULT_PRIORITY: u8 = 95;
const ZONES_SERVICE: &str = "svc:/system/zones:default";

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(priorities))
        .routes(routes!(status))
        .routes(routes!(test))
        .routes(routes!(enable))
        .routes(routes!(disable))
}

/// A zone's boot priority: `boot_priority`, else `shutdown_priority`, if 1 to 100.
pub fn priority(cfg: &ZoneConfig) -> u8 {
    ["boot_priority", "shutdown_priority"]
        .iter()
        .filter_map(|n| cfg.attr(n))
        .filter_map(|v| v.trim().parse::<u8>().ok())
        .find(|p| (1..=100).contains(p))
        .unwrap_or(DEFAULT_PRIORITY)
}

/// The group of tens a priority falls in (1-10 → 10, 91-100 → 100).
pub fn group_of(priority: u8) -> u8 {
    (priority - 1) / 10 * 10 + 10
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZonePriority {
    pub name: String,
    /// 1 to 100; higher boots earlier and stops later.
    pub priority: u8,
    /// The zone's state (zoneadm).
    pub state: String,
    /// Whether the priority differs from the default 95 (the original's test).
    pub has_custom_priority: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriorityGroup {
    /// The group: 10 for priorities 1-10, ..., 100 for 91-100.
    pub priority_range: u8,
    pub zones: Vec<ZonePriority>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Priorities {
    pub success: bool,
    pub message: String,
    /// The autoboot zones, by name.
    pub zones: Vec<ZonePriority>,
    pub total_zones: usize,
    /// The same zones by group, keyed by the group's number ("10" ... "100").
    pub priority_groups: BTreeMap<String, Vec<ZonePriority>>,
}

/// The zones with autoboot set, with their priorities, by name.
async fn autoboot_zones(app: &AppState) -> Result<Vec<ZonePriority>, ApiError> {
    let zones = app.zones.host.zones().await.map_err(ApiError::host)?;
    let configs = app.zones.host.configs(&zones).await;
    let mut out: Vec<ZonePriority> = zones
        .iter()
        .zip(configs)
        .filter(|(e, _)| e.name != "global")
        .filter_map(|(e, c)| c.filter(|c| c.autoboot == Some(true)).map(|c| (e, c)))
        .map(|(e, c)| {
            let p = priority(&c);
            ZonePriority {
                name: e.name.clone(),
                priority: p,
                state: e.state.as_str().to_owned(),
                has_custom_priority: p != DEFAULT_PRIORITY,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Groups of tens, lowest first (the stop order; the boot order is the reverse), zones by
/// priority within a group.
pub fn groups(zones: &[ZonePriority]) -> Vec<PriorityGroup> {
    let mut by: BTreeMap<u8, Vec<ZonePriority>> = BTreeMap::new();
    for z in zones {
        by.entry(group_of(z.priority)).or_default().push(z.clone());
    }
    by.into_iter()
        .map(|(priority_range, mut zones)| {
            zones.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.name.cmp(&b.name)));
            PriorityGroup {
                priority_range,
                zones,
            }
        })
        .collect()
}

/// The autoboot zones' boot priorities (attribute `boot_priority`, 1-100, default 95).
#[utoipa::path(get, path = "/zones/priorities", tag = "zones",
    security(("api_key" = ["viewer"])), responses((status = 200, body = Priorities)))]
async fn priorities(_: Viewer, State(app): State<AppState>) -> Result<Json<Priorities>, ApiError> {
    let zones = autoboot_zones(&app).await?;
    let priority_groups = groups(&zones)
        .into_iter()
        .map(|g| (g.priority_range.to_string(), g.zones))
        .collect();
    Ok(Json(Priorities {
        success: true,
        message: "Zone priorities retrieved successfully".into(),
        total_zones: zones.len(),
        zones,
        priority_groups,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrchestrationStatus {
    pub success: bool,
    pub message: String,
    /// Always false: zones are booted by `svc:/system/zones:default` (their `autoboot`),
    /// never by this agent.
    pub orchestration_enabled: bool,
    /// Who boots autoboot zones: `system/zones` while that service is online, else `none`.
    pub controller: String,
    /// The state of `svc:/system/zones:default` (`online`, `disabled`, ...), null when the
    /// host has no such service.
    pub zones_service_state: Option<String>,
}

/// Who boots the zones at host start.
#[utoipa::path(get, path = "/zones/orchestration/status", tag = "zones",
    security(("api_key" = ["viewer"])), responses((status = 200, body = OrchestrationStatus)))]
async fn status(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<OrchestrationStatus>, ApiError> {
    let fmri: Fmri = ZONES_SERVICE.parse().map_err(ApiError::internal)?;
    let state = smf::service_state(&app.runner, &fmri)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    Ok(Json(OrchestrationStatus {
        success: true,
        message: "Zone orchestration status retrieved successfully".into(),
        orchestration_enabled: false,
        controller: if state == Some(ServiceState::Online) {
            "system/zones".into()
        } else {
            "none".into()
        },
        zones_service_state: state.map(|s| s.as_str().to_owned()),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `sequential`, `parallel_by_priority` (default) or `staggered`: echoed; the plan is the
    /// same groups for each.
    pub strategy: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestPlan {
    pub success: bool,
    pub message: String,
    /// The stop order: groups lowest first (the boot order is the reverse).
    pub execution_plan: Vec<PriorityGroup>,
    pub total_zones: usize,
    /// The original's estimate, in seconds: 30 per group plus 120 per zone of the largest.
    pub estimated_duration: u64,
    pub strategy: String,
}

/// The order the running autoboot zones would be stopped in (and booted in, reversed), without
/// doing anything.
#[utoipa::path(post, path = "/zones/orchestration/test", tag = "zones",
    request_body(content = Option<TestRequest>), security(("api_key" = ["operator"])),
    responses((status = 200, body = TestPlan), (status = 400, body = ErrorBody)))]
async fn test(
    // A POST, so an operator's (as every POST); it changes nothing.
    _: Operator,
    State(app): State<AppState>,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<TestRequest>,
) -> Result<Json<TestPlan>, ApiError> {
    let strategy = req
        .strategy
        .unwrap_or_else(|| "parallel_by_priority".into());
    if !["sequential", "parallel_by_priority", "staggered"].contains(&strategy.as_str()) {
        return Err(ApiError::invalid(
            "strategy",
            "strategy: one of sequential, parallel_by_priority, staggered",
        ));
    }
    let running: Vec<ZonePriority> = autoboot_zones(&app)
        .await?
        .into_iter()
        .filter(|z| z.state == "running")
        .collect();
    let plan = groups(&running);
    let largest = plan.iter().map(|g| g.zones.len()).max().unwrap_or(0);
    let estimated_duration = if running.is_empty() {
        0
    } else {
        plan.len() as u64 * 30 + largest as u64 * 120
    };
    Ok(Json(TestPlan {
        success: true,
        message: format!(
            "{} running autoboot zones would be orchestrated",
            running.len()
        ),
        total_zones: running.len(),
        execution_plan: plan,
        estimated_duration,
        strategy,
    }))
}

/// A 409: the request is understood, but zone boot belongs to the host's own service, and
/// taking it over would leave two owners (a 5xx would say the agent failed, which it did not).
fn declined() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "boot-owned-by-host",
        "this agent does not take over zone boot: svc:/system/zones:default boots the zones \
         whose autoboot is true; set a zone's autoboot (PUT /zones/{name}) instead",
    )
}

/// Not served: the agent never takes zone boot over from `svc:/system/zones:default`.
#[utoipa::path(post, path = "/zones/orchestration/enable", tag = "zones",
    security(("api_key" = ["admin"])), responses((status = 409, body = ErrorBody)))]
async fn enable(_: Admin) -> ApiError {
    declined()
}

/// Not served: see `/zones/orchestration/enable`.
#[utoipa::path(post, path = "/zones/orchestration/disable", tag = "zones",
    security(("api_key" = ["admin"])), responses((status = 409, body = ErrorBody)))]
async fn disable(_: Admin) -> ApiError {
    declined()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_comes_from_the_attribute_within_1_to_100() {
        let cfg = |attrs: &str| illumos::zonecfg::parse_export(attrs);
        let attr = |n: &str, v: &str| {
            format!("add attr\nset name={n}\nset type=string\nset value={v}\nend\n")
        };
        assert_eq!(priority(&cfg("")), 95);
        assert_eq!(priority(&cfg(&attr("boot_priority", "40"))), 40);
        assert_eq!(priority(&cfg(&attr("shutdown_priority", "7"))), 7);
        assert_eq!(priority(&cfg(&attr("boot_priority", "0"))), 95);
        assert_eq!(priority(&cfg(&attr("boot_priority", "101"))), 95);
        assert_eq!([1, 10, 11, 95, 100].map(group_of), [10, 10, 20, 100, 100]);
    }
}
