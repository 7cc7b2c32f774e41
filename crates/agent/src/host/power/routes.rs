//! `/system/host/*` handlers: reads answer at once; power actions are tasks (admins only).

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use crate::tasks::RequesterNote;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::power::{self, RunLevel};

use super::flag::RebootFlag;
use super::ops::{self, Power};
use super::request::*;
use super::view::{self, *};
use super::{LOCK, SCOPE};
use crate::http::auth::{Admin, Auth, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(uptime))
        .routes(routes!(get_runlevel, set_runlevel))
        .routes(routes!(get_reboot_status, clear_reboot_status))
        .routes(routes!(reboot))
        .routes(routes!(reboot_fast))
        .routes(routes!(restart))
        .routes(routes!(shutdown))
        .routes(routes!(poweroff))
        .routes(routes!(halt))
        .routes(routes!(single_user))
        .routes(routes!(multi_user))
}

fn flag(app: &AppState) -> RebootFlag {
    RebootFlag::new(&app.config.data_dir)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rfc3339_secs(secs: u64) -> String {
    crate::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

type Accepted = Result<(StatusCode, Json<PowerAccepted>), ApiError>;

async fn queue(
    app: &AppState,
    operation: &'static str,
    p: Power,
    caller: String,
    note: Option<RequesterNote>,
    message: String,
) -> Accepted {
    let task = app
        .tasks
        .enqueue(
            NewTask::new(operation, SCOPE)
                .lock(LOCK)
                .priority(10)
                .metadata(serde_json::to_value(&p).map_err(ApiError::internal)?)
                .created_by(Some(caller))
                .requester_note(note),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PowerAccepted::new(&task, message)),
    ))
}

/// Host name, uptime, load, memory, run level (`who -r`) and whether a reboot is required.
#[utoipa::path(get, path = "/system/host/status", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = HostStatus), (status = 502, body = ErrorBody)))]
async fn status(_: Viewer, State(app): State<AppState>) -> Result<Json<HostStatus>, ApiError> {
    let facts = &app.host.facts;
    let (machine, figures, level) = tokio::try_join!(facts.machine(), facts.figures(), async {
        Ok(power::runlevel(&app.runner).await?)
    })?;
    let s = &figures.system;
    let seconds = now_secs().saturating_sub(s.boot_time);
    let total = s.physmem_pages * machine.pagesize;
    let free = s.freemem_pages * machine.pagesize;
    let used = total.saturating_sub(free);
    let reboot_info = view::reboot_info(flag(&app).get());
    Ok(Json(HostStatus {
        success: true,
        message: "System status retrieved successfully".into(),
        timestamp: crate::time::now_rfc3339(),
        hostname: machine.uname.nodename.clone(),
        uptime: Uptime {
            seconds,
            formatted: view::long_uptime(seconds),
            boot_time: rfc3339_secs(s.boot_time),
        },
        load_average: s.load,
        memory: Memory {
            total,
            free,
            used,
            usage_percent: (used * 100).checked_div(total).unwrap_or(0),
        },
        runlevel: Runlevel {
            current: level.to_string(),
            description: level.description().into(),
        },
        reboot_required: reboot_info.is_some(),
        reboot_info,
    }))
}

/// Uptime and load averages.
#[utoipa::path(get, path = "/system/host/uptime", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = HostUptime), (status = 502, body = ErrorBody)))]
async fn uptime(_: Viewer, State(app): State<AppState>) -> Result<Json<HostUptime>, ApiError> {
    let figures = app.host.facts.figures().await?;
    let s = &figures.system;
    let secs = now_secs().saturating_sub(s.boot_time);
    Ok(Json(HostUptime {
        success: true,
        message: "Uptime information retrieved successfully".into(),
        timestamp: crate::time::now_rfc3339(),
        uptime_seconds: secs,
        uptime_formatted: view::short_uptime(secs),
        boot_time: rfc3339_secs(s.boot_time),
        load_averages: [
            ("1min", s.load[0]),
            ("5min", s.load[1]),
            ("15min", s.load[2]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    }))
}

/// The current run level (`who -r`) and what each level means.
#[utoipa::path(get, path = "/system/host/runlevel", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = HostRunlevel), (status = 502, body = ErrorBody)))]
async fn get_runlevel(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<HostRunlevel>, ApiError> {
    let level = power::runlevel(&app.runner).await?;
    Ok(Json(HostRunlevel {
        success: true,
        message: "Current runlevel retrieved successfully".into(),
        timestamp: crate::time::now_rfc3339(),
        current_runlevel: level.to_string(),
        description: level.description().into(),
        available_runlevels: view::runlevels(),
    }))
}

/// Move to a run level (`init LEVEL`), as a task. Admins only; needs `confirm: true`.
#[utoipa::path(post, path = "/system/host/runlevel", tag = "system", request_body = RunlevelRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn set_runlevel(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<RunlevelRequest>,
) -> Accepted {
    let p = r.validate()?;
    let msg = format!("Runlevel change to {} queued", r.runlevel);
    queue(&app, ops::RUNLEVEL, p, c.name, r.created_by.clone(), msg).await
}

/// Whether a change waits for a reboot (the ARC limits), since when and why.
#[utoipa::path(get, path = "/system/host/reboot-status", tag = "system",
    security(("api_key" = ["viewer"])), responses((status = 200, body = RebootStatus)))]
async fn get_reboot_status(_: Viewer, State(app): State<AppState>) -> Json<RebootStatus> {
    Json(view::reboot_status(flag(&app).get()))
}

/// Clear the reboot-required flag (the administrator rebooted some other way). Admins only.
#[utoipa::path(delete, path = "/system/host/reboot-status", tag = "system",
    security(("api_key" = ["admin"])),
    responses((status = 200, body = Done), (status = 500, body = ErrorBody)))]
async fn clear_reboot_status(
    _: Admin,
    State(app): State<AppState>,
) -> Result<Json<Done>, ApiError> {
    flag(&app).clear().map_err(ApiError::internal)?;
    Ok(Json(Done {
        success: true,
        message: "Reboot required flag cleared".into(),
    }))
}

/// Reboot now (`reboot`, `-d` with `dump_core`): no rc scripts, no grace period. Admins only.
#[utoipa::path(post, path = "/system/host/reboot", tag = "system", request_body = RebootRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn reboot(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<RebootRequest>,
) -> Accepted {
    let p = r.validate(false)?;
    queue(
        &app,
        ops::REBOOT,
        p,
        c.name,
        r.created_by.clone(),
        "Host reboot task created".into(),
    )
    .await
}

/// Fast reboot (`reboot -f`, `-e BE` with `boot_environment`). Admins only.
#[utoipa::path(post, path = "/system/host/reboot/fast", tag = "system", request_body = RebootRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn reboot_fast(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<RebootRequest>,
) -> Accepted {
    let p = r.validate(true)?;
    queue(
        &app,
        ops::REBOOT_FAST,
        p,
        c.name,
        r.created_by.clone(),
        "Host fast reboot task created".into(),
    )
    .await
}

/// Clean restart: `shutdown -y -g GRACE -i 6 [MESSAGE]`. Admins only.
#[utoipa::path(post, path = "/system/host/restart", tag = "system", request_body = GracefulRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn restart(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<GracefulRequest>,
) -> Accepted {
    let p = r.validate(RunLevel::REBOOT, "restart the host")?;
    let msg = format!("Host restart scheduled in {} seconds", grace(&p));
    queue(&app, ops::RESTART, p, c.name, r.created_by.clone(), msg).await
}

/// Clean shutdown to the firmware: `shutdown -y -g GRACE -i 0 [MESSAGE]`. Admins only.
#[utoipa::path(post, path = "/system/host/shutdown", tag = "system", request_body = GracefulRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn shutdown(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<GracefulRequest>,
) -> Accepted {
    let level: RunLevel = "0".parse().expect("a level");
    let p = r.validate(level, "shut the host down")?;
    let msg = format!("Host shutdown scheduled in {} seconds", grace(&p));
    queue(&app, ops::SHUTDOWN, p, c.name, r.created_by.clone(), msg).await
}

/// Power off: `shutdown -y -g GRACE -i 5 [MESSAGE]`, or `poweroff` at once when
/// `grace_period` is 0 and there is no message. Admins only.
#[utoipa::path(post, path = "/system/host/poweroff", tag = "system", request_body = GracefulRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn poweroff(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<GracefulRequest>,
) -> Accepted {
    let p = match r.validate(RunLevel::POWER_OFF, "power the host off")? {
        Power::Shutdown {
            grace_period: 0,
            message: None,
            ..
        } => Power::Poweroff,
        p => p,
    };
    let msg = format!("Host poweroff scheduled in {} seconds", grace(&p));
    queue(&app, ops::POWEROFF, p, c.name, r.created_by.clone(), msg).await
}

/// Emergency halt (`halt`): no rc scripts, no warning. Needs `confirm` and `emergency`.
/// Admins only.
#[utoipa::path(post, path = "/system/host/halt", tag = "system", request_body = HaltRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn halt(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<HaltRequest>,
) -> Accepted {
    let p = r.validate()?;
    queue(
        &app,
        ops::HALT,
        p,
        c.name,
        r.created_by.clone(),
        "Host halt task created".into(),
    )
    .await
}

/// Single-user mode (`init S`). Admins only; needs `confirm: true`.
#[utoipa::path(post, path = "/system/host/single-user", tag = "system", request_body = SingleUserRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn single_user(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<SingleUserRequest>,
) -> Accepted {
    let p = r.validate()?;
    queue(
        &app,
        ops::SINGLE_USER,
        p,
        c.name,
        r.created_by.clone(),
        "Single-user mode task created".into(),
    )
    .await
}

/// Multi-user mode (`init 3` with `network_services`, else `init 2`). Admins only.
#[utoipa::path(post, path = "/system/host/multi-user", tag = "system", request_body = MultiUserRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = PowerAccepted), (status = 400, body = ErrorBody)))]
async fn multi_user(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<MultiUserRequest>,
) -> Accepted {
    let p = r.validate();
    queue(
        &app,
        ops::MULTI_USER,
        p,
        c.name,
        r.created_by.clone(),
        "Multi-user mode task created".into(),
    )
    .await
}

fn grace(p: &Power) -> u32 {
    match p {
        Power::Shutdown { grace_period, .. } => *grace_period,
        _ => 0,
    }
}
