//! `/zones/{name}/vnc/*`: the zone's screen over the agent's own HTTPS port.
//!
//! Roles: viewers read `info` and take screenshots; starting, stopping and the live
//! WebSocket need an operator. The live view is not offered read-only to viewers: the
//! client's half of RFB cannot be filtered safely (keyboard and pointer messages sit among
//! others whose length depends on the handshake and on extensions the bridge would have to
//! understand; a misparse would let input through or break the session), so the only way
//! to watch without typing is the screenshot.

use std::time::Duration;

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use illumos::names::ZoneName;
use illumos::zoneadm::ZoneState;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use utoipa::ToSchema;

use super::endpoint::{self, Connection, Route, Setting};
use super::sessions::Session;
use super::{png, rfb};
use crate::consoles::audit;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::ws::Upgrade;
use crate::http::AppState;
use crate::zones::routes::path_zone;

/// How long the zone's VNC server has to greet a new connection.
const GREETING_WAIT: Duration = Duration::from_secs(5);
/// How long a whole screenshot may take.
const SCREENSHOT_WAIT: Duration = Duration::from_secs(15);

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(vnc_info))
        .routes(routes!(vnc_start))
        .routes(routes!(vnc_stop))
        .routes(routes!(vnc_websockify))
        .routes(routes!(vnc_screenshot))
}

/// A recorded console session, as the UI merges it into its `vnc_session_info`.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    pub zone_name: String,
    /// Always `active` (a stopped session is forgotten).
    pub status: &'static str,
    /// The agent's own HTTPS port: the console has no port of its own.
    pub web_port: u16,
    pub created_at: String,
    pub last_accessed: String,
    /// The key name that started it.
    pub created_by: String,
    /// The WebSocket path (on the agent's port) that carries RFB.
    pub console_url: String,
    pub websocket_path: String,
}

#[derive(Serialize, ToSchema)]
pub struct VncInfo {
    pub zone_name: String,
    /// Whether the zone's configuration turns its VNC server on (bhyve attr `vnc`).
    pub vnc_enabled: bool,
    /// The server asks for a password (VNC Authentication; the viewer supplies it).
    pub password_required: bool,
    pub zone_state: String,
    /// A VNC server answered on the zone's socket just now.
    pub reachable: bool,
    /// Why it is not reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub websocket_path: String,
    pub screenshot_path: String,
    /// A session was started and the server is reachable.
    pub active_vnc_session: bool,
    pub active: bool,
    /// `active` (session started, reachable), `available` (reachable, no session) or
    /// `unavailable`.
    pub status: &'static str,
    pub console_url: String,
    pub web_port: u16,
    pub vnc_session_info: Option<SessionInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct VncStarted {
    pub success: bool,
    pub message: String,
    #[serde(flatten)]
    pub session: SessionInfo,
    /// The zone had a session already.
    pub reused_session: bool,
}

#[derive(Serialize, ToSchema)]
pub struct VncStopped {
    pub success: bool,
    pub message: String,
    pub zone_name: String,
}

/// What a handler knows of the zone's VNC.
struct ZoneVnc {
    zone: ZoneName,
    state: ZoneState,
    setting: Setting,
    route: Result<Route, String>,
}

fn websocket_path(zone: &ZoneName) -> String {
    format!("/zones/{zone}/vnc/websockify")
}

async fn look(app: &AppState, name: &str) -> Result<ZoneVnc, ApiError> {
    let zone = path_zone(name)?;
    let entry = app.zones.on_host(&zone).await?;
    let config = app
        .zones
        .host
        .config(&zone)
        .await
        .map_err(ApiError::host)?
        .ok_or_else(|| ApiError::not_found(format!("Zone {zone} not found")))?;
    let mut setting = Setting::of(&config);
    if setting.password().is_some_and(|p| p.is_not_kept()) {
        // Kept in the database without its password (after a restart): read it afresh.
        if let Some(fresh) = app
            .zones
            .host
            .read_config(&zone)
            .await
            .map_err(ApiError::host)?
        {
            setting = Setting::of(&fresh);
        }
    }
    Ok(ZoneVnc {
        route: setting.route(&zone, &entry.zonepath),
        state: entry.state,
        setting,
        zone,
    })
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "vnc-unavailable", message)
}

impl ZoneVnc {
    /// Why the console cannot be reached without trying, if it cannot.
    fn obstacle(&self) -> Option<String> {
        match &self.setting {
            Setting::Off => Some(format!(
                "zone {} has no VNC console (bhyve attr vnc is off or absent)",
                self.zone
            )),
            Setting::Unsupported(why) => Some(why.clone()),
            Setting::On { .. } if self.state != ZoneState::Running => Some(format!(
                "zone {} is {}, not running",
                self.zone,
                self.state.as_str()
            )),
            Setting::On { .. } => self.route.as_ref().err().cloned(),
        }
    }

    /// Connects to the zone's VNC server, or says why it cannot (a 409 naming the cause).
    async fn connect(&self, app: &AppState) -> Result<Connection, ApiError> {
        if let Some(why) = self.obstacle() {
            return Err(unavailable(why));
        }
        let route = self.route.as_ref().map_err(|e| unavailable(e.clone()))?;
        endpoint::connect(&app.runner, route, GREETING_WAIT)
            .await
            .map_err(|why| {
                unavailable(format!(
                    "the VNC server of zone {} is not reachable: {why}",
                    self.zone
                ))
            })
    }

    fn session_info(&self, app: &AppState, s: &Session) -> SessionInfo {
        SessionInfo {
            zone_name: self.zone.to_string(),
            status: "active",
            web_port: app.config.server.https_port,
            created_at: s.created_at.clone(),
            last_accessed: s.last_accessed.clone(),
            created_by: s.created_by.clone(),
            console_url: websocket_path(&self.zone),
            websocket_path: websocket_path(&self.zone),
        }
    }
}

/// Whether the zone has VNC and whether its server answers now. The UI calls it with
/// cache-busting query parameters (`_t`, `_cb`, ...), which are ignored.
#[utoipa::path(get, path = "/zones/{name}/vnc/info", tag = "vnc", params(("name" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = VncInfo), (status = 404, body = ErrorBody)))]
async fn vnc_info(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let z = look(&app, &name).await?;
    let reason = match z.connect(&app).await {
        // Dropping the connection ends the probe (the helper is killed).
        Ok(_probe) => None,
        Err(e) => Some(e.message),
    };
    let reachable = reason.is_none();
    let session = app
        .zones
        .vnc
        .get(z.zone.as_str())
        .map(|s| z.session_info(&app, &s));
    let active = reachable && session.is_some();
    let info = VncInfo {
        zone_name: z.zone.to_string(),
        vnc_enabled: z.setting.enabled(),
        password_required: z.setting.password().is_some(),
        zone_state: z.state.as_str().to_owned(),
        reachable,
        reason,
        websocket_path: websocket_path(&z.zone),
        screenshot_path: format!("/zones/{}/vnc/screenshot", z.zone),
        active_vnc_session: active,
        active,
        status: match (active, reachable) {
            (true, _) => "active",
            (false, true) => "available",
            _ => "unavailable",
        },
        console_url: websocket_path(&z.zone),
        web_port: app.config.server.https_port,
        vnc_session_info: session,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(info)).into_response())
}

/// Records a console session for the zone (or returns the one it has). No process is started
/// and no port opened: the console is the WebSocket at `websocket_path` on this port.
#[utoipa::path(post, path = "/zones/{name}/vnc/start", tag = "vnc", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, body = VncStarted), (status = 404, body = ErrorBody),
        (status = 409, description = "no VNC, zone not running, or its server not reachable", body = ErrorBody)))]
async fn vnc_start(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<VncStarted>, ApiError> {
    let z = look(&app, &name).await?;
    drop(z.connect(&app).await?);
    let (session, reused) = app.zones.vnc.open(z.zone.as_str(), &caller.name);
    Ok(Json(VncStarted {
        success: true,
        message: if reused {
            "VNC session reused".into()
        } else {
            "VNC session started".into()
        },
        session: z.session_info(&app, &session),
        reused_session: reused,
    }))
}

/// Ends the zone's console session: its open WebSockets close (code 1000, "session stopped").
#[utoipa::path(delete, path = "/zones/{name}/vnc/stop", tag = "vnc", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, body = VncStopped), (status = 404, body = ErrorBody)))]
async fn vnc_stop(
    Auth(caller): Operator,
    Path(name): Path<String>,
    State(app): State<AppState>,
) -> Result<Json<VncStopped>, ApiError> {
    let zone = path_zone(&name)?;
    if !app.zones.vnc.stop(zone.as_str(), &caller.name) {
        return Err(ApiError::not_found(format!(
            "No active VNC session found for zone {zone}"
        )));
    }
    Ok(Json(VncStopped {
        success: true,
        message: "VNC session stopped successfully".into(),
        zone_name: zone.to_string(),
    }))
}

/// The zone's VNC server as a WebSocket (subprotocol `binary`, as noVNC asks): binary frames
/// carry RFB both ways, unchanged. The key or a `?ticket=` (see `POST /ws-tickets`) is checked
/// before the upgrade (401/403, never a 101), and the zone's server is reached before it too, so a zone without VNC, not running
/// or not answering is a JSON 409. The socket closes when the server does (the zone halted),
/// when the session is stopped, or when the key is revoked. Each bridge is in the task log
/// (operation `console_session`, `console: "vnc"`): opened, and closed with the reason, its
/// `duration_ms`, `bytes_to_server` and `bytes_from_server`.
#[utoipa::path(get, path = "/zones/{name}/vnc/websockify", tag = "vnc", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 426, description = "not a WebSocket upgrade request", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no VNC, zone not running, or its server not reachable", body = ErrorBody)))]
async fn vnc_websockify(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    upgrade: Upgrade,
) -> Result<Response, ApiError> {
    let z = look(&app, &name).await?;
    let conn = z.connect(&app).await?;
    let (session, _) = app.zones.vnc.open(z.zone.as_str(), &caller.name);
    let revoked = app.revocations.until_revoked(&caller.key_id);
    let zone = z.zone.to_string();
    upgrade
        .protocols(["binary"])
        .on_upgrade(move |ws| async move {
            let record = |event: &str| audit::Record {
                console: "vnc".into(),
                session_id: uuid::Uuid::new_v4().to_string(),
                event: event.into(),
                zone_name: Some(zone.clone()),
                writer: Some(true),
                reason: None,
                traffic: None,
            };
            let opened = record("opened");
            let id = opened.session_id.clone();
            audit::record(&app.tasks, Some(&caller), opened).await;
            let started = std::time::Instant::now();
            let mut carried = Carried::default();
            let why = bridge(ws, conn, session.ended, revoked, &mut carried).await;
            let closed = audit::Record {
                session_id: id,
                reason: Some(why.to_owned()),
                traffic: Some(audit::Traffic {
                    duration_ms: started.elapsed().as_millis() as u64,
                    bytes_to_server: carried.to_server,
                    bytes_from_server: carried.from_server,
                }),
                ..record("closed")
            };
            audit::record(&app.tasks, Some(&caller), closed).await;
        })
}

/// Bytes a bridge carried each way.
#[derive(Default)]
struct Carried {
    to_server: u64,
    from_server: u64,
}

/// Copies bytes both ways until one side ends; returns why it ended.
async fn bridge(
    mut ws: WebSocket,
    mut conn: Connection,
    ended: tokio_util::sync::CancellationToken,
    revoked: impl std::future::Future<Output = ()>,
    carried: &mut Carried,
) -> &'static str {
    tokio::pin!(revoked);
    let close = |code: u16, why: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: why.into(),
        }))
    };
    if ws
        .send(Message::Binary(conn.greeting.to_vec().into()))
        .await
        .is_err()
    {
        return "client gone";
    }
    carried.from_server += conn.greeting.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    let why = loop {
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    carried.to_server += b.len() as u64;
                    if conn.to_server.write_all(&b).await.is_err() {
                        break (1011, "the VNC server stopped reading");
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    carried.to_server += t.len() as u64;
                    if conn.to_server.write_all(t.as_bytes()).await.is_err() {
                        break (1011, "the VNC server stopped reading");
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return "client closed",
            },
            n = conn.from_server.read(&mut buf) => match n {
                Ok(0) | Err(_) => break (1000, "the zone's VNC server closed the connection"),
                Ok(n) => {
                    carried.from_server += n as u64;
                    if ws.send(Message::Binary(buf[..n].to_vec().into())).await.is_err() {
                        return "client gone";
                    }
                }
            },
            _ = ended.cancelled() => break (1000, "session stopped"),
            _ = &mut revoked => break (1008, "API key revoked"),
        }
    };
    let _ = ws.send(close(why.0, why.1)).await;
    drop(conn);
    why.1
}

/// The zone's current screen as a PNG, read by the agent's own RFB client (Raw and
/// CopyRect). A server that asks for a password (VNC Authentication) is answered with the
/// zone's own (its `vnc` attr's `password=`); a zone without one, or a server refusing it,
/// is a 409.
#[utoipa::path(get, path = "/zones/{name}/vnc/screenshot", tag = "vnc", params(("name" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, description = "the framebuffer", content_type = "image/png"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no VNC, zone not running, server not reachable, or a password the zone does not set or the server refuses", body = ErrorBody),
        (status = 502, description = "the VNC server did not answer in RFB", body = ErrorBody)))]
async fn vnc_screenshot(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let z = look(&app, &name).await?;
    let conn = z.connect(&app).await?;
    let Connection {
        process,
        to_server,
        from_server,
        greeting,
    } = conn;
    let stream = tokio::io::join(greeting.chain(from_server), to_server);
    let shot = rfb::screenshot(stream, z.setting.password());
    let frame = match tokio::time::timeout(SCREENSHOT_WAIT, shot).await {
        Ok(Ok(f)) => f,
        Ok(Err(e @ (rfb::RfbError::NeedsPassword | rfb::RfbError::AuthFailed(_)))) => {
            return Err(unavailable(e.to_string()))
        }
        Ok(Err(e)) => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "vnc-failed",
                e.to_string(),
            ))
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "vnc-timeout",
                format!(
                    "the VNC server sent no full screen within {} s",
                    SCREENSHOT_WAIT.as_secs()
                ),
            ))
        }
    };
    drop(process);
    let png = tokio::task::spawn_blocking(move || {
        png::encode_rgb(frame.width as u32, frame.height as u32, &frame.rgb)
    })
    .await
    .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}-screenshot.png\"", z.zone),
            ),
        ],
        png,
    )
        .into_response())
}
