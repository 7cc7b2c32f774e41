//! The HTTP surface: shared state, one router merged from each area, the layers every request
//! passes through, and the few routes that belong to no area (`/health`, `/metrics`).

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::db::Db;
use crate::tasks::TaskQueue;
use auth::{KeyUsage, Viewer};
use error::{ApiError, InternalCause};
use metrics::Metrics;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub tasks: TaskQueue,
    pub runner: illumos::Runner,
    pub metrics: Arc<Metrics>,
    pub key_usage: Arc<KeyUsage>,
    pub zones: Arc<crate::zones::ZoneServices>,
    pub network: Arc<crate::network::NetworkServices>,
    pub provisioning: Arc<crate::provisioning::ProvisioningServices>,
    pub started: Instant,
    /// Serialized list answers (`GET /tasks`, `GET /zones`).
    pub pages: Arc<pages::Pages>,
    health: Arc<Mutex<Option<(Instant, HostTools)>>>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<Config>,
        db: Db,
        tasks: TaskQueue,
        runner: illumos::Runner,
        metrics: Arc<Metrics>,
        zones: Arc<crate::zones::ZoneServices>,
        network: Arc<crate::network::NetworkServices>,
        provisioning: Arc<crate::provisioning::ProvisioningServices>,
    ) -> Self {
        AppState {
            config,
            db,
            tasks,
            runner,
            metrics,
            zones,
            network,
            provisioning,
            key_usage: Arc::default(),
            started: Instant::now(),
            pages: Arc::default(),
            health: Arc::default(),
        }
    }
}

/// The whole API with its OpenAPI document.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health))
        .routes(routes!(metrics_text))
        .merge(crate::tasks::routes::router())
        .merge(crate::keys::routes::router())
        .merge(crate::zones::router())
        .merge(crate::network::router())
        .merge(crate::provisioning::router())
}

pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_parts().1
}

fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    (routes, doc)
}

pub fn router(state: AppState) -> Router {
    let (routes, doc) = api_parts();
    let max_body = state.config.server.max_body_bytes;
    routes
        .merge(SwaggerUi::new("/api-docs").url("/openapi.json", doc))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Per request: the timeout (not for the long-lived wait and event routes), metrics by matched
/// route, and one log line with the cause of an internal error.
async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    // Event streams, waits and uploads take as long as they take (uploads enforce their own
    // size limit).
    let long_lived = route == "/events" || route.ends_with("/wait") || route == "/artifacts";
    // Host commands the handler runs are charged to this request (background reads it merely
    // triggers run on their own tasks and carry no origin).
    let origin = format!(
        "request:{}",
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    );
    let req = match read_body(req, app.config.server.max_body_bytes).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let run = illumos::runner::with_origin(origin, next.run(req));
    let response = if long_lived {
        run.await
    } else {
        let limit = Duration::from_secs(app.config.server.request_timeout_seconds);
        match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "the request took too long",
            )
            .into_response(),
        }
    };
    let status = response.status();
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%route, %method, error = %cause, "internal error");
    } else if status.is_server_error() {
        tracing::error!(%route, %method, status = status.as_u16(), "server error");
    }
    app.metrics
        .request(&route, &method, status.as_u16(), started.elapsed());
    response
}

/// Reads a request's body into memory before the handler runs, except multipart uploads (which
/// their handler streams to disk). A handler that answers without reading the body (a 401, a
/// 404, an endpoint that takes none) would otherwise leave it unread, and the server would then
/// close the connection under a client that is about to reuse it.
async fn read_body(req: Request, limit: usize) -> Result<Request, Response> {
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    if multipart {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Err(_) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than {limit} bytes"),
        )
        .into_response()),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostTools {
    /// Whether `zoneadm list -cp` ran.
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the host tools do not answer.
    pub status: String,
    pub version: String,
    pub uptime_seconds: u64,
    pub host_tools: HostTools,
}

/// Liveness and whether the host tools answer. No authentication.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, body = Health)))]
async fn health(State(app): State<AppState>) -> Json<Health> {
    let host_tools = host_tools(&app).await;
    Json(Health {
        status: if host_tools.ok { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: app.started.elapsed().as_secs(),
        host_tools,
    })
}

/// Runs a harmless host command at most every ten seconds, so a health probe costs nothing.
async fn host_tools(app: &AppState) -> HostTools {
    const FRESH: Duration = Duration::from_secs(10);
    if let Some((at, t)) = app.health.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        if at.elapsed() < FRESH {
            return t;
        }
    }
    let cmd = illumos::Cmd::new(illumos::Tool::Zoneadm)
        .args(["list", "-cp"])
        .timeout(Duration::from_secs(5));
    let t = match app.runner.output(&cmd).await {
        Ok(_) => HostTools {
            ok: true,
            detail: "zoneadm answers".into(),
        },
        Err(e) => HostTools {
            ok: false,
            detail: e.to_string(),
        },
    };
    *app.health.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), t.clone()));
    t
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "system", security(("api_key" = ["viewer"])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics_text(_: Viewer, State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(),
    )
}
