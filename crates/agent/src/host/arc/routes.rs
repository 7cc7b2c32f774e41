//! `/system/zfs/arc/config` (read) and `/system/zfs/arc/validate`.

use axum::extract::State;
use axum::Json;
use illumos::arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::view::{self, ArcConfig, ValidateRequest, Validation};
use crate::http::auth::{Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(arc_config))
        .routes(routes!(arc_validate))
}

async fn read(app: &AppState) -> Result<(illumos::arc::ArcStats, u64), ApiError> {
    let (stats, machine, figures) = tokio::try_join!(
        async { Ok(arc::arcstats(&app.runner).await?) },
        app.host.facts.machine(),
        app.host.facts.figures(),
    )?;
    Ok((stats, figures.system.physmem_pages * machine.pagesize))
}

/// The ARC's size and the limits in effect (`kstat -p zfs:0:arcstats`), with physical memory.
#[utoipa::path(get, path = "/system/zfs/arc/config", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ArcConfig), (status = 502, body = ErrorBody)))]
async fn arc_config(_: Viewer, State(app): State<AppState>) -> Result<Json<ArcConfig>, ApiError> {
    let (stats, physmem) = read(&app).await?;
    Ok(Json(view::config(&stats, physmem)))
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
