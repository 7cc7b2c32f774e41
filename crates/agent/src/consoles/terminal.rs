//! The host terminal (admin only, off unless `terminal.enabled`): `POST /terminal/start`, the
//! WebSocket `GET /term/{id}`, `DELETE /terminal/sessions/{id}/stop`.
//!
//! With `zone_name` the shell is `zlogin ZONE` (a login shell inside the zone). Without, it is
//! `pfsh`, the profile shell: it runs as the agent's own account and each command gets what
//! the account's RBAC profile grants (the zone and network tools), nothing more: never a root
//! shell. On an emulated host both are the emulator's, so a terminal there reaches only the
//! emulated host, never the machine the tests run on.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{open, stop, Kind, NewSession, Session, SessionView, Stopped};
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::ws::Upgrade;
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(start_terminal))
        .routes(routes!(stop_terminal))
        .routes(routes!(terminal_socket))
}

fn disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "terminal-disabled",
        "the host terminal is disabled on this host (terminal.enabled in config.yaml)",
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartRequest {
    /// The client's name for its terminal: a start with the cookie of a live terminal returns
    /// that terminal (`reused: true`).
    pub terminal_cookie: String,
    /// A shell inside this zone (`zlogin ZONE`) instead of the host's profile shell.
    pub zone_name: Option<String>,
}

/// The original's answer (`data`) with its keys at the top level too (the UI reads either).
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    pub success: bool,
    pub id: String,
    pub status: &'static str,
    pub reused: bool,
    pub websocket_url: String,
    pub created_at: String,
    pub data: StartedData,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartedData {
    pub id: String,
    pub status: &'static str,
    pub reused: bool,
    pub websocket_url: String,
    pub created_at: String,
    /// Output so far (the session's scrollback), for a client that reattaches.
    pub buffer: String,
}

/// Opens (or, for a live `terminal_cookie`, returns) a shell on the host or in a zone. Admin
/// only, and only when `terminal.enabled` is true.
#[utoipa::path(post, path = "/terminal/start", tag = "consoles",
    request_body = StartRequest, security(("api_key" = ["admin"])),
    responses((status = 200, body = Started), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "not an admin, or the terminal is disabled"),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn start_terminal(
    Auth(caller): Admin,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<StartRequest>,
) -> Result<Json<Started>, ApiError> {
    if !app.config.terminal.enabled {
        return Err(disabled());
    }
    let cookie = req.terminal_cookie.trim().to_owned();
    if cookie.is_empty() || cookie.len() > 256 {
        return Err(ApiError::invalid(
            "terminal_cookie",
            "terminal_cookie is required (1 to 256 bytes)",
        ));
    }
    let zone = match req.zone_name.as_deref().filter(|z| !z.is_empty()) {
        Some(z) => {
            let zone = crate::zones::request::zone_name(z).map_err(|mut e| {
                e.field = "zone_name".into();
                ApiError::from(e)
            })?;
            app.zones.on_host(&zone).await?;
            Some(zone)
        }
        None => None,
    };
    let cmd = match &zone {
        Some(z) => illumos::zlogin::shell_cmd(z),
        None => illumos::Cmd::new(illumos::Tool::Pfsh),
    };
    let (session, reused) = app.consoles.open_or_reuse(
        &app.tasks,
        &caller,
        |s| s.terminal_cookie.as_deref() == Some(cookie.as_str()),
        NewSession {
            kind: Kind::Terminal,
            cmd,
            exit_reason: Box::new(|_| "the shell exited".to_owned()),
            zone_name: zone.as_ref().map(ToString::to_string),
            terminal_cookie: Some(cookie.clone()),
        },
    )?;
    let SessionView {
        id,
        status,
        websocket_url,
        created_at,
        ..
    } = session.view();
    let buffer = String::from_utf8_lossy(&session.hub.join().0).into_owned();
    Ok(Json(Started {
        success: true,
        id: id.clone(),
        status,
        reused,
        websocket_url: websocket_url.clone(),
        created_at: created_at.clone(),
        data: StartedData {
            id,
            status,
            reused,
            websocket_url,
            created_at,
            buffer,
        },
    }))
}

/// The terminal by its id, or by the client's cookie (the original answered the cookie as
/// `data.id`, so a client may hold either).
fn find(app: &AppState, id: &str) -> Option<std::sync::Arc<Session>> {
    app.consoles.get(Kind::Terminal, id).or_else(|| {
        app.consoles
            .list(Kind::Terminal)
            .into_iter()
            .find(|s| s.terminal_cookie.as_deref() == Some(id))
    })
}

fn no_terminal(id: &str) -> ApiError {
    ApiError::not_found(format!("terminal session {id} not found"))
}

/// Ends a terminal: its shell is stopped and its WebSockets get a close frame.
#[utoipa::path(delete, path = "/terminal/sessions/{id}/stop", tag = "consoles",
    params(("id" = String, Path)), security(("api_key" = ["admin"])),
    responses((status = 200, body = Stopped), (status = 404, body = ErrorBody)))]
async fn stop_terminal(
    Auth(caller): Admin,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Stopped>, ApiError> {
    let s = find(&app, &id).ok_or_else(|| no_terminal(&id))?;
    Ok(stop(&s, &caller, "Terminal session stopped."))
}

/// The terminal as a WebSocket (admin only): as `GET /zlogin/{id}`.
#[utoipa::path(get, path = "/term/{id}", tag = "consoles",
    params(("id" = String, Path),
        ("ticket" = Option<String>, Query, description = "from POST /ws-tickets, instead of a key header")),
    security(("api_key" = ["admin"])),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 426, body = ErrorBody, description = "not a WebSocket request"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn terminal_socket(
    Auth(caller): Admin,
    State(app): State<AppState>,
    Path(id): Path<String>,
    upgrade: Upgrade,
) -> Result<Response, ApiError> {
    let s = find(&app, &id).ok_or_else(|| no_terminal(&id))?;
    open(app, s, caller, upgrade)
}
