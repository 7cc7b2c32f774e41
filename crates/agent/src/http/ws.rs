//! WebSockets: who may open one, and the connection kept open while it lasts.
//!
//! An upgrade is authenticated before the 101, like any request: by `Authorization` /
//! `X-API-Key` (the UI's backend sends its key), or, because a browser cannot set headers on a
//! WebSocket, by `?ticket=` from `POST /ws-tickets` (for one path) or `GET /ws-ticket`
//! (hyperweaver's form: for the WebSockets of one zone with `?machine=`, any without). A
//! ticket is single use, valid [`TICKET_TTL`] for what it names, kept in memory only (a restart forgets them, which
//! only costs a client a new ticket), and worth the role of the key that asked for it, as long
//! as that key is not revoked. The request layer calls [`authenticate_upgrade`] for every
//! upgrade request, so a WebSocket handler takes the usual `Viewer`/`Operator` extractor and
//! an [`Upgrade`] instead of axum's `WebSocketUpgrade`, and needs nothing else.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{self, Auth, Viewer};
use super::conn::Hold;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::AppState;
use crate::keys::store::Caller;

/// How long a ticket may wait for its upgrade.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Tickets issued and not yet used. Expired ones are dropped whenever one is issued, so the
/// map holds at most what 30 s of `POST /ws-tickets` made.
#[derive(Default)]
pub struct Tickets(Mutex<HashMap<String, Ticket>>);

struct Ticket {
    scope: Scope,
    caller: Caller,
    expires: Instant,
}

/// What a ticket opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// This WebSocket path only (`POST /ws-tickets`).
    Path(String),
    /// The WebSockets of this zone (`GET /ws-ticket?machine=`): its VNC console, its serial
    /// console sessions, a terminal into it, its tasks' streams.
    Machine(String),
    /// Any WebSocket the key's role opens (`GET /ws-ticket` without `machine`).
    Any,
}

/// Why a ticket was refused (each a 401).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
    OtherPath,
}

impl Tickets {
    /// A new ticket for `path`, worth `caller`'s role.
    pub fn issue(&self, path: &str, caller: &Caller) -> String {
        self.issue_for(Scope::Path(path.to_owned()), caller)
    }

    /// A new ticket for what `scope` names, worth `caller`'s role.
    pub fn issue_for(&self, scope: Scope, caller: &Caller) -> String {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).expect("the system's random source");
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, t| t.expires > now);
        map.insert(
            token.clone(),
            Ticket {
                scope,
                caller: caller.clone(),
                expires: now + TICKET_TTL,
            },
        );
        token
    }

    /// Uses up `token` (whatever the outcome: a ticket tried on the wrong path is gone too) and
    /// returns the caller it stands for. `zone_of` names the zone whose WebSocket `path` is
    /// (asked only for a zone's ticket).
    pub fn redeem(
        &self,
        token: &str,
        path: &str,
        zone_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Caller, Refused> {
        let ticket = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token)
            .ok_or(Refused::Unknown)?;
        if ticket.expires <= Instant::now() {
            return Err(Refused::Expired);
        }
        let fits = match &ticket.scope {
            Scope::Path(p) => p == path,
            Scope::Machine(zone) => zone_of(path).as_ref() == Some(zone),
            Scope::Any => true,
        };
        if !fits {
            return Err(Refused::OtherPath);
        }
        Ok(ticket.caller)
    }
}

/// Whether a request asks for a WebSocket (HTTP/1.1 `Upgrade: websocket`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn ticket_of(uri: &Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.into_owned())
}

/// The caller of a WebSocket upgrade: its key from the headers when it sends one, otherwise
/// its `?ticket=` (used up here). A 401 otherwise; nothing is upgraded.
pub fn authenticate_upgrade(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Caller, ApiError> {
    let has_key = headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    let ticket = match ticket_of(uri) {
        Some(t) if !has_key => t,
        _ => return auth::authenticate(state, headers),
    };
    let zone_of = |path: &str| zone_of_websocket(state, path);
    let caller = state
        .tickets
        .redeem(&ticket, uri.path(), zone_of)
        .map_err(|r| {
            ApiError::unauthorized(match r {
                Refused::Unknown => "unknown or already used ticket",
                Refused::Expired => "the ticket has expired (tickets are valid for 30 seconds)",
                Refused::OtherPath => "the ticket was issued for another path or zone",
            })
        })?;
    // The key may have been revoked since the ticket was issued.
    let active = state
        .db
        .read_blocking(|c| crate::keys::store::is_active(c, &caller.key_id))?;
    if !active {
        return Err(ApiError::unauthorized("invalid or revoked API key"));
    }
    Ok(caller)
}

/// The zone a WebSocket path belongs to, for a zone's ticket: `/zones/{name}/...`, a serial
/// console or terminal session into a zone, or a task of the zone. None for anything else
/// (a host terminal, a host-level task, a path that names nothing).
fn zone_of_websocket(state: &AppState, path: &str) -> Option<String> {
    use crate::consoles::Kind;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["zones", zone, ..] => Some((*zone).to_owned()),
        ["zlogin", id] => state.consoles.get(Kind::Zlogin, id)?.zone_name.clone(),
        ["term", id] => state.consoles.get(Kind::Terminal, id)?.zone_name.clone(),
        ["tasks", id, "stream"] => state
            .db
            .read_blocking(|c| crate::tasks::store::get(c, id))
            .ok()
            .flatten()
            .map(|t| t.zone_name),
        _ => None,
    }
}

/// axum's `WebSocketUpgrade` plus the connection it came on, kept counted as busy while the
/// socket lives (see `http::conn`). The extractor itself never fails, so a handler looks up
/// what the path names first (a 404 is a 404 for any client); a request that is not an
/// upgrade is refused by [`Upgrade::on_upgrade`] with 426 in our error shape.
pub struct Upgrade {
    ws: Result<WebSocketUpgrade, ApiError>,
    hold: Option<Hold>,
}

impl FromRequestParts<AppState> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ws = WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(|r| {
                ApiError::new(
                    StatusCode::UPGRADE_REQUIRED,
                    "websocket-required",
                    format!("this is a WebSocket endpoint: {}", r.body_text()),
                )
            });
        Ok(Upgrade {
            ws,
            hold: parts.extensions.get::<Hold>().cloned(),
        })
    }
}

impl Upgrade {
    /// Subprotocols the server accepts (noVNC asks for `binary`).
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<std::borrow::Cow<'static, str>>,
    {
        self.ws = self.ws.map(|ws| ws.protocols(protocols));
        self
    }

    /// The 101 answer; `f` then owns the socket, the connection held busy until it returns.
    /// A 426 when the request did not ask for a WebSocket.
    pub fn on_upgrade<F, Fut>(self, f: F) -> Result<Response, ApiError>
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hold = self.hold;
        Ok(self
            .ws?
            .on_failed_upgrade(|e| tracing::debug!(error = %e, "WebSocket upgrade failed"))
            .on_upgrade(move |socket| async move {
                let _held = hold.as_ref().map(Hold::hold);
                f(socket).await;
            }))
    }
}

/// The longest close reason a frame can carry (125 bytes of payload less the code).
const MAX_REASON: usize = 123;

/// A close reason cut to what a close frame can carry, on a character boundary.
pub fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(create_ticket))
        .routes(routes!(get_ticket))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketRequest {
    /// The WebSocket path the ticket opens, exactly as it will be requested (no query), e.g.
    /// `/zlogin/3f0c...`.
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketResponse {
    pub success: bool,
    /// Pass as `?ticket=` on the upgrade request.
    pub ticket: String,
    pub path: String,
    /// Seconds the ticket stays valid.
    pub expires_in: u64,
}

/// A single-use ticket for one WebSocket path, for clients that cannot set headers on a
/// WebSocket (browsers). Any role may ask; the ticket carries the caller's role, and the
/// WebSocket's own role check applies when it is used.
#[utoipa::path(post, path = "/ws-tickets", tag = "consoles", security(("api_key" = ["viewer"])),
    request_body = TicketRequest,
    responses((status = 201, body = TicketResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn create_ticket(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<TicketRequest>,
) -> Result<(StatusCode, Json<TicketResponse>), ApiError> {
    let path = req.path.trim();
    if !path.starts_with('/') || path.contains(['?', '#']) || path.len() > 512 {
        return Err(ApiError::invalid(
            "path",
            "path must be the WebSocket's path alone, starting with '/' (no query), at most 512 bytes",
        ));
    }
    let ticket = app.tickets.issue(path, &caller);
    Ok((
        StatusCode::CREATED,
        Json(TicketResponse {
            success: true,
            ticket,
            path: path.to_owned(),
            expires_in: TICKET_TTL.as_secs(),
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// A zone name: the ticket then opens only that zone's WebSockets.
    pub machine: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneTicketResponse {
    /// Pass as `?ticket=` on the upgrade request.
    pub ticket: String,
    /// The zone it is bound to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Seconds the ticket stays valid.
    pub expires_in: u64,
}

/// A single-use ticket in hyperweaver's form: with `machine`, it opens one WebSocket of that
/// zone (its VNC console, a serial console or terminal session into it, one of its tasks'
/// streams; any other is refused 401); without, one WebSocket of any kind. Valid 30 s, worth
/// the caller's role, like `POST /ws-tickets`.
#[utoipa::path(get, path = "/ws-ticket", tag = "consoles", security(("api_key" = ["viewer"])),
    params(TicketQuery),
    responses((status = 200, body = ZoneTicketResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn get_ticket(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<TicketQuery>,
) -> Result<Json<ZoneTicketResponse>, ApiError> {
    let scope = match q.machine.as_deref() {
        None | Some("") => Scope::Any,
        Some(m) => {
            let zone = m
                .parse::<illumos::names::ZoneName>()
                .map_err(|e| ApiError::invalid("machine", format!("machine: {e}")))?;
            Scope::Machine(zone.to_string())
        }
    };
    let machine = match &scope {
        Scope::Machine(z) => Some(z.clone()),
        _ => None,
    };
    Ok(Json(ZoneTicketResponse {
        ticket: app.tickets.issue_for(scope, &caller),
        machine,
        expires_in: TICKET_TTL.as_secs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Role;

    fn caller() -> Caller {
        Caller {
            key_id: "k1".into(),
            name: "ops".into(),
            role: Role::Operator,
        }
    }

    fn no_zone(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_zones_ticket_opens_only_that_zones_websockets() {
        let t = Tickets::default();
        let zone_of = |p: &str| p.strip_prefix("/zones/vm1/").map(|_| "vm1".to_owned());
        let scoped = || t.issue_for(Scope::Machine("vm1".into()), &caller());
        let token = scoped();
        assert!(t
            .redeem(&token, "/zones/vm1/vnc/websockify", zone_of)
            .is_ok());
        let token = scoped();
        assert_eq!(
            t.redeem(&token, "/zones/vm2/vnc/websockify", zone_of).err(),
            Some(Refused::OtherPath)
        );
        let token = scoped();
        assert_eq!(
            t.redeem(&token, "/term/x", zone_of).err(),
            Some(Refused::OtherPath)
        );
        let any = t.issue_for(Scope::Any, &caller());
        assert!(t.redeem(&any, "/term/x", zone_of).is_ok());
        assert_eq!(
            t.redeem(&any, "/term/x", zone_of).err(),
            Some(Refused::Unknown)
        );
    }

    #[test]
    fn a_ticket_opens_its_path_once() {
        let t = Tickets::default();
        let token = t.issue("/zlogin/a", &caller());
        assert_eq!(t.redeem(&token, "/zlogin/a", no_zone).unwrap().name, "ops");
        assert_eq!(
            t.redeem(&token, "/zlogin/a", no_zone).err(),
            Some(Refused::Unknown)
        );
    }

    #[test]
    fn a_ticket_tried_on_another_path_is_used_up() {
        let t = Tickets::default();
        let token = t.issue("/zlogin/a", &caller());
        assert_eq!(
            t.redeem(&token, "/zlogin/b", no_zone).err(),
            Some(Refused::OtherPath)
        );
        assert_eq!(
            t.redeem(&token, "/zlogin/a", no_zone).err(),
            Some(Refused::Unknown)
        );
    }

    #[test]
    fn an_expired_ticket_is_refused() {
        let t = Tickets::default();
        let token = t.issue("/term/x", &caller());
        t.0.lock().unwrap().get_mut(&token).unwrap().expires = Instant::now();
        assert_eq!(
            t.redeem(&token, "/term/x", no_zone).err(),
            Some(Refused::Expired)
        );
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = "é".repeat(100);
        let r = close_reason(&long);
        assert!(r.len() <= MAX_REASON && r.chars().all(|c| c == 'é'));
    }
}
