//! The NAT handlers: parse, authorise, check against the file, enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::ipnat::{self, ActiveRule, NatConf};
use illumos::smf::{self, ServiceState};

use super::host::nat_file;
use super::ops::{AddParams, DeleteParams, ADD_RULES, DELETE_RULE};
use super::request::CreateNatRule;
use super::view::{list, NatRuleList, NatStatus};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::{metadata, LOCK_IPNAT, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{NewTask, NoteQuery};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(nat_status))
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
    let file = nat_file(&app.network, run).await?;
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

/// Add a NAT rule (`portmap` also writes the plain `map` after it). 409 if it exists, or if a
/// portmap's plain map is already there (the portmap must come first).
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
    if let Some(why) = super::ops::clash(&conf, &rules) {
        return Err(ApiError::conflict(why));
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
                .metadata(metadata(&params)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by.clone())],
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
    params(("ruleId" = String, Path, description = "0-based index or stable id (nat-...)"), NoteQuery),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(rule): Path<String>,
    ApiQuery(q): ApiQuery<NoteQuery>,
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
                .metadata(metadata(&DeleteParams {
                    id: found.id.clone(),
                    rule: found.rule.clone(),
                })?)
                .created_by(Some(caller.name))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "NAT rule deletion queued")),
    ))
}

/// ipfilter's service state and the active rules.
#[utoipa::path(get, path = "/network/nat/status", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = NatStatus)))]
async fn nat_status(_: Viewer, State(app): State<AppState>) -> Result<Json<NatStatus>, ApiError> {
    let state = ipfilter_state(&app).await?;
    let config_path = nat_file(&app.network, &app.network.runner)
        .await?
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
