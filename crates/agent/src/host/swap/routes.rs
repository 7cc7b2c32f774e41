//! `GET /system/swap/summary`.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::Json;
use illumos::swap;

use super::view::{self, SwapSummary};
use crate::http::auth::Viewer;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiQuery;
use crate::http::AppState;

/// No parameters: an unknown one is a 400 naming it.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoQuery {}

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(swap_summary))
}

/// The swap areas and their use (`swap -l`), and virtual swap (`swap -s`).
#[utoipa::path(get, path = "/system/swap/summary", tag = "system", params(NoQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = SwapSummary), (status = 502, body = ErrorBody)))]
async fn swap_summary(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(NoQuery {}): ApiQuery<NoQuery>,
) -> Result<Json<SwapSummary>, ApiError> {
    let run = &app.runner;
    let (machine, areas, summary) = tokio::try_join!(
        app.host.facts.machine(),
        async { Ok(swap::list(run).await?) },
        async { Ok(swap::summary(run).await?) },
    )?;
    Ok(Json(view::summary(
        machine.uname.nodename.clone(),
        &areas,
        &summary,
    )))
}
