//! `GET /host/ppt-status`: read, answer.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::host::devices::view::{self, Device, PptSummary};
use crate::http::auth::Viewer;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(ppt_status))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PptStatus {
    /// Devices bound to ppt, in `/dev/pptN` order.
    pub ppt_devices: Vec<Device>,
    pub summary: PptSummary,
}

/// The passthrough devices (`pptadm list -a`, bound ones: `/dev/pptN`) and which zones have
/// them (`device match=/dev/pptN` in their configuration).
#[utoipa::path(get, path = "/host/ppt-status", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = PptStatus), (status = 502, body = ErrorBody)))]
async fn ppt_status(_: Viewer, State(app): State<AppState>) -> Result<Json<PptStatus>, ApiError> {
    let scan = app.host.devices.scan().await?;
    let all = crate::host::devices::rows(&app, &scan).await?;
    let (ppt_devices, summary) = view::ppt_status(&all);
    Ok(Json(PptStatus {
        ppt_devices,
        summary,
    }))
}
