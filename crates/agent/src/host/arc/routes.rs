//! `/system/zfs/arc/config` (read, change), `/system/zfs/arc/reset` and
//! `/system/zfs/arc/validate`.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use illumos::arc;

use super::ops::{self, Params};
use super::request::{ApplyMethod, ResetRequest, UpdateRequest};
use super::settings::{self, Change, Settings};
use super::view::{self, ArcChanged, ArcConfig, ArcResults, ValidateRequest, Validation};
use crate::http::auth::{Admin, Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use crate::network::conffile::ConfFile;
use crate::tasks::{NewTask, RequesterNote};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(arc_config, update_arc_config))
        .routes(routes!(arc_reset))
        .routes(routes!(arc_validate))
}

pub fn file(config: &crate::config::Config) -> ConfFile {
    let path = settings::PATH.parse().expect("a fixed absolute path");
    ConfFile::new(config, &path)
}

async fn read(app: &AppState) -> Result<(illumos::arc::ArcStats, u64), ApiError> {
    let (stats, machine, figures) = tokio::try_join!(
        async { Ok(arc::arcstats(&app.runner).await?) },
        app.host.facts.machine(),
        app.host.facts.figures(),
    )?;
    Ok((stats, figures.system.physmem_pages * machine.pagesize))
}

/// The settings of the agent's file, `None` when there is none.
fn kept(app: &AppState) -> Result<Option<Settings>, ApiError> {
    let text = file(&app.config)
        .read()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(text.as_deref().map(settings::parse))
}

/// The ARC's size and the limits in effect (`kstat -p zfs:0:arcstats`), with physical memory,
/// and what `/etc/system.d/zfs-arc.conf` sets for the next boot (`current_value`).
#[utoipa::path(get, path = "/system/zfs/arc/config", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ArcConfig), (status = 502, body = ErrorBody)))]
async fn arc_config(_: Viewer, State(app): State<AppState>) -> Result<Json<ArcConfig>, ApiError> {
    let (stats, physmem) = read(&app).await?;
    Ok(Json(view::config(&stats, physmem, kept(&app)?.as_ref())))
}

async fn queue(
    app: &AppState,
    operation: &'static str,
    params: Params,
    note: Option<RequesterNote>,
) -> Result<crate::tasks::model::Task, ApiError> {
    let by = params.by.clone();
    Ok(app
        .tasks
        .enqueue(
            NewTask::new(operation, crate::host::power::SCOPE)
                .lock(ops::LOCK)
                .metadata(serde_json::to_value(&params).map_err(ApiError::internal)?)
                .created_by(Some(by))
                .requester_note(note),
        )
        .await?)
}

fn answer(
    method: ApplyMethod,
    task: Option<&crate::tasks::model::Task>,
    message: String,
    changes: Vec<String>,
    warnings: Vec<String>,
) -> (StatusCode, Json<ArcChanged>) {
    let status = if task.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let id = task.map(|t| t.id.clone());
    (
        status,
        Json(ArcChanged {
            success: true,
            message,
            apply_method: method,
            results: ArcResults {
                runtime_applied: false,
                persistent_applied: task.is_some(),
                reboot_required: task.is_some(),
                changes,
                warnings,
            },
            task_id: id.clone(),
            id,
        }),
    )
}

/// Change the ARC's boot-time tunables: `zfs_arc_max`, `zfs_arc_min`, `zfs_arc_meta_limit`,
/// `zfs_arc_meta_min` (GiB; 0 leaves one to the kernel) and `zfs_prefetch_disable`, checked
/// against physical memory and each other (a 400 names the field). `persistent` (default) and
/// `both` queue a task that rewrites `/etc/system.d/zfs-arc.conf` (keeping the settings the
/// body does not name; undone by putting the previous file back) and sets the host's
/// reboot-required flag; `runtime` writes nothing, since illumos reads these at boot only.
/// Admins only.
#[utoipa::path(put, path = "/system/zfs/arc/config", tag = "system", request_body = UpdateRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = ArcChanged), (status = 200, body = ArcChanged),
        (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn update_arc_config(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<UpdateRequest>,
) -> Result<(StatusCode, Json<ArcChanged>), ApiError> {
    r.precheck()?;
    let (stats, physmem) = read(&app).await?;
    let kept = kept(&app)?.unwrap_or_default();
    let u = r.validate(physmem, stats.c_max, &kept)?;
    let changes = view::describe(&u.change);
    if !u.method.writes_file() {
        let msg = "Nothing applied: the ARC tunables take effect at boot".to_owned();
        return Ok(answer(u.method, None, msg, Vec::new(), u.warnings));
    }
    let params = Params {
        change: Some(u.change),
        by: c.name,
    };
    let task = queue(&app, ops::CONFIGURE, params, r.created_by.clone()).await?;
    let msg = "ZFS ARC configuration change queued: it takes effect at the next boot".to_owned();
    Ok(answer(u.method, Some(&task), msg, changes, u.warnings))
}

/// Remove the agent's `/etc/system.d/zfs-arc.conf` so the kernel computes the ARC limits at
/// the next boot (`apply_method` `both`, the default, or `persistent`; `runtime` writes
/// nothing). A task, undone by putting the file back. Admins only.
#[utoipa::path(post, path = "/system/zfs/arc/reset", tag = "system", request_body = ResetRequest,
    security(("api_key" = ["admin"])),
    responses((status = 202, body = ArcChanged), (status = 200, body = ArcChanged),
        (status = 400, body = ErrorBody)))]
async fn arc_reset(
    Auth(c): Admin,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<ArcChanged>), ApiError> {
    let method = r.method()?;
    if !method.writes_file() {
        let w = vec!["nothing applied: illumos reads these tunables at boot only".to_owned()];
        let msg = "Nothing applied: the ARC tunables take effect at boot".to_owned();
        return Ok(answer(method, None, msg, Vec::new(), w));
    }
    let params = Params {
        change: None::<Change>,
        by: c.name,
    };
    let task = queue(&app, ops::RESET, params, r.created_by.clone()).await?;
    let changes = vec![format!("Persistent: remove {}", settings::PATH)];
    let msg = "ZFS ARC configuration reset to defaults queued: it takes effect at the next boot"
        .to_owned();
    Ok(answer(method, Some(&task), msg, changes, Vec::new()))
}

/// Check proposed ARC limits against the host's physical memory; changes nothing. Operators
/// (a POST: the access rules give every POST to operators at least; it is the first step of
/// changing the limits).
#[utoipa::path(post, path = "/system/zfs/arc/validate", tag = "system",
    request_body = ValidateRequest, security(("api_key" = ["operator"])),
    responses((status = 200, body = Validation), (status = 400, body = ErrorBody)))]
async fn arc_validate(
    _: Operator,
    State(app): State<AppState>,
    ApiJson(r): ApiJson<ValidateRequest>,
) -> Result<Json<Validation>, ApiError> {
    let (stats, physmem) = read(&app).await?;
    Ok(Json(view::validate(&r, &stats, physmem)))
}
