//! The HTTP surface: shared state, one router merged from each area, the layers every request
//! passes through, and the few routes that belong to no area (`/health`, `/metrics`).

pub mod api;
pub mod auth;
pub mod conn;
pub mod error;
pub mod extract;
pub mod handshake;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod tls;
pub mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::db::Db;
use crate::tasks::TaskQueue;
use api::{routes, ApiRouter};
use auth::{KeyUsage, Viewer};
use error::{ApiError, InternalCause};
use metrics::Metrics;

/// What every handler can reach: one shared [`AppInner`], so a clone is one reference count.
/// Every request clones the state several times (each `State` extractor, the middleware, the
/// auth extractors); as a struct of ~20 handles (a runner holding a `Vec` of sinks among them)
/// each clone and drop was ~25 atomic operations and an allocation, 6-7 % of the agent's CPU
/// per `GET /zones` answer under load (perf, session 8).
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The handles behind [`AppState`].
pub struct AppInner {
    pub config: Arc<Config>,
    pub db: Db,
    pub tasks: TaskQueue,
    pub runner: illumos::Runner,
    pub metrics: Arc<Metrics>,
    pub key_usage: Arc<KeyUsage>,
    /// Keys accepted lately, so most requests authenticate without the database.
    pub verified_keys: crate::keys::verified::VerifiedKeys,
    /// Ends the streams of a key when it is revoked.
    pub revocations: Arc<crate::keys::revocations::Revocations>,
    pub zones: Arc<crate::zones::ZoneServices>,
    pub network: Arc<crate::network::NetworkServices>,
    pub provisioning: Arc<crate::provisioning::ProvisioningServices>,
    /// The machine's own figures (`/stats`).
    pub host: Arc<crate::host::HostServices>,
    /// The sampler and the `/monitoring` listings.
    pub monitoring: Arc<crate::monitoring::MonitoringServices>,
    pub started: Instant,
    /// Serialized list answers (`GET /tasks`, `GET /zones`).
    pub pages: Arc<pages::Pages>,
    /// WebSocket tickets (`POST /ws-tickets`).
    pub tickets: Arc<ws::Tickets>,
    /// Console sessions (zlogin, host terminal).
    pub consoles: Arc<crate::consoles::ConsoleServices>,
    health: Arc<health::HostCheck>,
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
        AppState(Arc::new(AppInner {
            health: Arc::new(health::HostCheck::new(Duration::from_secs(
                config.server.health_check_seconds,
            ))),
            revocations: Arc::new(crate::keys::revocations::Revocations::new(db.clone())),
            verified_keys: crate::keys::verified::VerifiedKeys::new(&config.data_dir),
            host: Arc::new(crate::host::HostServices::new(runner.clone())),
            consoles: Arc::new(crate::consoles::ConsoleServices::new(
                config.clone(),
                runner.clone(),
            )),
            tickets: Arc::default(),
            monitoring: Arc::new(crate::monitoring::MonitoringServices::new(
                runner.clone(),
                db.clone(),
                config.monitoring.clone(),
            )),
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
        }))
    }
}

/// The API's areas, each with its routes and its part of the OpenAPI document.
pub(crate) fn areas() -> Vec<(&'static str, ApiRouter)> {
    vec![
        (
            "http",
            ApiRouter::new()
                .routes(routes!(health::health))
                .routes(routes!(metrics_text)),
        ),
        ("tasks", crate::tasks::routes::router()),
        ("keys", crate::keys::routes::router()),
        ("zones", crate::zones::router()),
        ("network", crate::network::router()),
        ("provisioning", crate::provisioning::router()),
        ("host", crate::host::router()),
        ("ws", ws::router()),
        ("consoles", crate::consoles::router()),
        ("monitoring", crate::monitoring::router()),
        ("services", crate::services::router()),
    ]
}

pub fn router(state: AppState) -> Router {
    // The routes only, registered without building the document (see the `api` module).
    let routes = areas().into_iter().fold(Router::new(), |all, (_, area)| {
        all.merge(area.into_router())
    });
    let max_body = state.config.server.max_body_bytes;
    routes
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .merge(SwaggerUi::new("/api-docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
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

/// Per request: the key checked from the headers before any byte of the body is read, the
/// body read under its own deadline, the timeout (not for the long-lived wait and event
/// routes), metrics by matched route, and one log line with the cause of an internal error.
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
    let handled = async {
        match admit(&app, req).await {
            Err(refused) => refused,
            Ok(req) if long_lived => next.run(req).await,
            Ok(req) => {
                let limit = Duration::from_secs(app.config.server.request_timeout_seconds);
                match tokio::time::timeout(limit, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request-timeout",
                        "the request took too long",
                    )
                    .into_response(),
                }
            }
        }
    };
    let response = error::ensure_shape(illumos::runner::with_origin(origin, handled).await).await;
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

/// Authenticates a request from its headers alone, then reads its body. A caller without a
/// valid key costs a hash and an indexed lookup: its body is never read (an unread body then
/// closes the connection, as a keep-alive peer would otherwise read it as the next request).
async fn admit(app: &AppState, mut req: Request) -> Result<Request, Response> {
    // Only an HTTP/1 connection is shared by the next request: an HTTP/2 stream's unread body
    // ends with the stream (and hyper refuses connection headers there).
    let http1 = req.version() < axum::http::Version::HTTP_2;
    if auth::is_open(req.uri().path()) {
        // The open routes take no body: whatever one carries stays unread (hyper closes an
        // HTTP/1 connection that leaves a body unread).
        return Ok(req);
    }
    let caller = if ws::is_upgrade(req.headers()) {
        ws::authenticate_upgrade(app, req.headers(), req.uri())
    } else {
        auth::authenticate(app, req.headers())
    };
    match caller {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
        }
        Err(e) if http1 && has_body(&req) => return Err(close(e.into_response())),
        Err(e) => return Err(e.into_response()),
    }
    let deadline = Duration::from_secs(app.config.server.body_read_timeout_seconds);
    match tokio::time::timeout(deadline, read_body(req, app.config.server.max_body_bytes)).await {
        Ok(Ok(req)) => Ok(req),
        // The body was not read to its end.
        Ok(Err(refused)) if http1 => Err(close(refused)),
        Ok(Err(refused)) => Err(refused),
        Err(_) => {
            let late = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                format!(
                    "the request body did not arrive within {} seconds",
                    deadline.as_secs()
                ),
            )
            .into_response();
            Err(if http1 { close(late) } else { late })
        }
    }
}

/// Whether the request announced a body.
fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Asks the server to close an HTTP/1 connection after this answer, so that the unread rest of
/// the body is not taken for the next request (and is never read).
fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads a request's body into memory before the handler runs, except multipart uploads (which
/// their handler streams to disk). A handler that answers without reading the body (a 404, an
/// endpoint that takes none) would otherwise leave it unread, and the server would then close
/// the connection under a client that is about to reuse it.
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

/// The metrics in Prometheus text format 0.0.4 (the default: a counter's `# TYPE` line names
/// its `_total` samples), or OpenMetrics 1.0 when `Accept` asks for
/// `application/openmetrics-text` (what Prometheus asks for; the family is named without
/// `_total` there, and the text ends in `# EOF`). Besides the agent's own counters and
/// histograms: gauges of the zones by state and brand, the tasks by status and the queue
/// depth, and the host's CPU, memory, swap, ARC and pool figures from the monitoring
/// sampler's last sample (absent before the first).
#[utoipa::path(get, path = "/metrics", tag = "system", security(("api_key" = ["viewer"])),
    responses((status = 200, description = "Prometheus text format 0.0.4, or OpenMetrics 1.0 by Accept",
        content((String = "text/plain"), (String = "application/openmetrics-text")))))]
async fn metrics_text(
    _: Viewer,
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let zones = match app.zones.host.zones().await {
        Ok(z) => Some(
            z.iter()
                .map(|z| (z.state.as_str().to_owned(), z.brand.clone()))
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot list zones");
            None
        }
    };
    let tasks = app
        .db
        .read(crate::tasks::store::count_by_status)
        .await
        .map_err(|e| tracing::warn!(error = %e, "metrics: cannot count tasks"))
        .ok();
    let snap = metrics::Snapshot {
        zones,
        tasks,
        host: app.monitoring.sampler.latest(),
    };
    let text = app.metrics.render(&snap);
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::OPENMETRICS),
            )],
            text,
        )
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::TEXT_0_0_4),
            )],
            metrics::to_text_0_0_4(&text),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The document keeps one schema per name: when two areas each name a different type the
    /// same (a `Summary`, a `Health`), one area's answers are documented with the other's
    /// type, and clients and schemathesis read the wrong shape. Such names must differ.
    #[test]
    fn no_two_areas_give_one_schema_name_to_different_types() {
        let mut seen: BTreeMap<String, (&str, serde_json::Value)> = BTreeMap::new();
        let mut clashes = Vec::new();
        for (area, router) in super::areas() {
            let (_, doc) = router.document().split_for_parts();
            for (name, schema) in doc.components.map(|c| c.schemas).unwrap_or_default() {
                let shape = serde_json::to_value(&schema).expect("a schema serializes");
                match seen.get(&name) {
                    Some((other, known)) if *known != shape => {
                        clashes.push(format!("{name}: {other} and {area}"))
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(name, (area, shape));
                    }
                }
            }
        }
        assert!(
            clashes.is_empty(),
            "schema names given to two types: {clashes:?}"
        );
    }

    /// Handlers and middleware clone the state several times per request: it must stay one
    /// shared pointer, not a struct of handles that each clone counts up and each drop down.
    #[test]
    fn the_state_clones_as_one_reference_count() {
        assert_eq!(
            std::mem::size_of::<super::AppState>(),
            std::mem::size_of::<usize>()
        );
    }
}
