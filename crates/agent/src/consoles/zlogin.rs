//! A zone's serial console: `POST /zones/{name}/zlogin/start`, `GET /zlogin/sessions`,
//! `DELETE /zlogin/sessions/{id}/stop`, and the WebSocket `GET /zlogin/{id}`.
//!
//! One session per zone at a time, as in the original (a second start returns the running
//! one): it is `zlogin -C -d ZONE`, which ends when the zone halts.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use illumos::zoneadm::ZoneState;

use super::{open, stop, Kind, NewSession, SessionView, Stopped};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::ws::Upgrade;
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(start_zlogin))
        .routes(routes!(list_zlogin_sessions))
        .routes(routes!(get_zlogin_session))
        .routes(routes!(stop_zlogin))
        .routes(routes!(zlogin_socket))
}

/// What zlogin prints on the console when the zone halts (zoneadmd's notice), before `-d`
/// makes it disconnect.
const HALTED: &[u8] = b"[NOTICE: Zone halted]";

/// The end of a console whose zlogin exited by itself, worded from what it printed last.
fn exit_reason(tail: &[u8]) -> String {
    if tail.windows(HALTED.len()).any(|w| w == HALTED) {
        "the zone halted".into()
    } else {
        "the console closed (zlogin exited)".into()
    }
}

/// Opens the zone's serial console (or returns the one already open): `zlogin -C -d` on a pty
/// on the host. The zone must be running. Then open `websocket_url`.
#[utoipa::path(post, path = "/zones/{name}/zlogin/start", tag = "consoles",
    params(("name" = String, Path)), security(("api_key" = ["operator"])),
    responses((status = 200, body = SessionView),
        (status = 404, body = ErrorBody, description = "no such zone"),
        (status = 409, body = ErrorBody, description = "the zone is not running"),
        (status = 502, body = ErrorBody)))]
async fn start_zlogin(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let zone = crate::zones::request::zone_name(&name).map_err(|mut e| {
        e.field = "name".into();
        ApiError::from(e)
    })?;
    let entry = app.zones.on_host(&zone).await?;
    if entry.state != ZoneState::Running {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "zone-not-running",
            format!(
                "Zone {zone} is not running ({}): its console opens once it runs",
                entry.state.as_str()
            ),
        ));
    }
    let (session, _) = app.consoles.open_or_reuse(
        &app.tasks,
        &caller,
        |s| s.zone_name.as_deref() == Some(zone.as_str()),
        NewSession {
            kind: Kind::Zlogin,
            cmd: illumos::zlogin::console_until_halt_cmd(&zone),
            exit_reason: Box::new(exit_reason),
            zone_name: Some(zone.to_string()),
            terminal_cookie: None,
        },
    )?;
    Ok(Json(session.view()))
}

/// Every zlogin session, newest first, ended ones included (`status: closed`). A bare array,
/// as the original answered and the UI's backend reads it.
#[utoipa::path(get, path = "/zlogin/sessions", tag = "consoles",
    security(("api_key" = ["viewer"])), responses((status = 200, body = [SessionView])))]
async fn list_zlogin_sessions(_: Viewer, State(app): State<AppState>) -> Json<Vec<SessionView>> {
    Json(
        app.consoles
            .list(Kind::Zlogin)
            .iter()
            .map(|s| s.view())
            .collect(),
    )
}

fn no_session(id: &str) -> ApiError {
    ApiError::not_found(format!("zlogin session {id} not found"))
}

#[utoipa::path(get, path = "/zlogin/sessions/{id}", tag = "consoles",
    params(("id" = String, Path)), security(("api_key" = ["viewer"])),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody)))]
async fn get_zlogin_session(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let s = app
        .consoles
        .get(Kind::Zlogin, &id)
        .ok_or_else(|| no_session(&id))?;
    Ok(Json(s.view()))
}

/// Ends a session: its zlogin is stopped and its WebSockets get a close frame naming who
/// stopped it.
#[utoipa::path(delete, path = "/zlogin/sessions/{id}/stop", tag = "consoles",
    params(("id" = String, Path)), security(("api_key" = ["operator"])),
    responses((status = 200, body = Stopped), (status = 404, body = ErrorBody)))]
async fn stop_zlogin(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Stopped>, ApiError> {
    let s = app
        .consoles
        .get(Kind::Zlogin, &id)
        .ok_or_else(|| no_session(&id))?;
    Ok(stop(&s, &caller, "Zlogin session stopped."))
}

/// The console as a WebSocket: output in binary frames, input as binary or text frames,
/// `{"type":"resize","cols":..,"rows":..}` to size the terminal. A viewer watches; an operator
/// types when no other socket holds the keyboard. Auth: a key header or `?ticket=`
/// (`POST /ws-tickets`), checked before the upgrade. Closes with the session's end reason.
#[utoipa::path(get, path = "/zlogin/{id}", tag = "consoles",
    params(("id" = String, Path),
        ("ticket" = Option<String>, Query, description = "from POST /ws-tickets, instead of a key header")),
    security(("api_key" = ["viewer"])),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 426, body = ErrorBody, description = "not a WebSocket request"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the session has ended")))]
async fn zlogin_socket(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
    upgrade: Upgrade,
) -> Result<Response, ApiError> {
    let s = app
        .consoles
        .get(Kind::Zlogin, &id)
        .ok_or_else(|| no_session(&id))?;
    open(app, s, caller, upgrade)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_notice_names_the_end() {
        assert_eq!(
            exit_reason(
                b"...\r\n[NOTICE: Zone halted]\r\n\r\n[Connection to zone 'a' console closed]"
            ),
            "the zone halted"
        );
        assert_eq!(exit_reason(b"bye"), "the console closed (zlogin exited)");
    }
}
