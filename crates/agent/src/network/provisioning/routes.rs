//! The provisioning network handlers: parse, authorise, check the host (reads only), enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::ops::{TeardownParams, SETUP, TEARDOWN};
use super::request::TeardownQuery;
use super::view::{
    held_by_running_zones, read_status, users, ProvisioningStatus, SetupAccepted, SetupComponents,
};
use super::{all_locks, configured, nat_rules};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJsonOrEmpty, ApiQuery};
use crate::http::AppState;
use crate::network::{metadata, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{NewTask, NoteBody, RequesterNote, Task};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(status))
        .routes(routes!(teardown))
}

/// Set up the provisioning network (idempotent). The task's result holds `components` as the
/// spec shows them and `actions`: `created`, `updated` or `unchanged` per component. A setup
/// asked for while another is pending or running answers with that task.
#[utoipa::path(post, path = "/provisioning/network/setup", tag = "provisioning",
    request_body(content = Option<NoteBody>), security(("api_key" = ["operator"])),
    responses((status = 202, body = SetupAccepted), (status = 409, body = ErrorBody)))]
async fn setup(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<NoteBody>,
) -> Result<(StatusCode, Json<SetupAccepted>), ApiError> {
    let (task, joined) = queue_setup(&app, &caller.name, body.created_by).await?;
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

/// Queues the setup, or finds the one already pending or running (then `true`).
pub async fn queue_setup(
    app: &AppState,
    created_by: &str,
    note: Option<RequesterNote>,
) -> Result<(Task, bool), ApiError> {
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
        .enqueue(
            all_locks(p, NewTask::new(SETUP, SCOPE))
                .created_by(Some(created_by.to_owned()))
                .requester_note(note),
        )
        .await?;
    *slot = Some(task.id.clone());
    Ok((task, false))
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

/// Remove what setup made: the DHCP service is stopped and the provisioning subnet (with the
/// host entries in it) removed, the NAT rules removed, the host address, VNIC and etherstub
/// deleted. IP forwarding is left as it is. 409 while zones have NICs on the etherstub, unless
/// `force=true` (which deletes those VNICs too); 409 even then while a running zone holds one.
#[utoipa::path(delete, path = "/provisioning/network/teardown", tag = "provisioning",
    params(TeardownQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn teardown(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<TeardownQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let force = q.force.unwrap_or(false);
    configured(&app.network)?;
    let vnics = illumos::dladm::show_vnics(&app.network.runner)
        .await
        .map_err(ApiError::host)?;
    if let Some(why) = held_by_running_zones(&vnics, &app.network.settings.provisioning) {
        return Err(ApiError::conflict(why));
    }
    let users = users(&app.network, &app.network.runner, &vnics).await?;
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
                .metadata(metadata(&TeardownParams { force })?)
                .created_by(Some(caller.name))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "Provisioning network teardown queued")),
    ))
}
