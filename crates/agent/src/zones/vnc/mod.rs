//! A zone's screen (its bhyve VNC server) in the browser, over the agent's own HTTPS port:
//! `info`, `start`/`stop` (a recorded session, no process and no port), the `websockify`
//! WebSocket bridge and a PNG `screenshot`. See `endpoint.rs` for how the zone's socket is
//! reached (the privileged helper; the zonepath is root's).

mod des;
pub mod endpoint;
pub mod png;
pub mod rfb;
mod routes;
pub mod sessions;

use crate::http::api::ApiRouter;

pub fn router() -> ApiRouter {
    routes::router()
}
