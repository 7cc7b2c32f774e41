//! `GET /stats`: read, answer. Nothing here changes the host.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::Json;

use super::view::{self, Stats};
use crate::http::auth::Viewer;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(stats))
}

/// The host's identity, load, memory, processors, addresses and zones. The spec documents are
/// silent on `/stats`; its shape is the original agent's (Node's `os` module keys plus
/// `allzones`/`runningzones`), which the Zoneweaver UI reads as its zone list and probes as its
/// health and credential check. Figures are cached for up to 2 s (identity up to 60 s); the
/// zone lists follow the agent's own changes at once. A host tool that fails is a 502 carrying
/// the tool's words.
#[utoipa::path(get, path = "/stats", tag = "system", security(("api_key" = ["viewer"])),
    responses((status = 200, body = Stats), (status = 502, body = ErrorBody)))]
async fn stats(_: Viewer, State(app): State<AppState>) -> Result<Json<Stats>, ApiError> {
    let facts = &app.host.facts;
    let (machine, figures, zones) = tokio::try_join!(facts.machine(), facts.figures(), async {
        Ok(app.zones.host.zones().await?)
    },)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Json(view::stats(&machine, &figures, &zones, now)))
}
