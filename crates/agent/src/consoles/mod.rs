//! Consoles in the browser: a zone's serial console (`zlogin -C`) and the host terminal, each a
//! program on a pty ([`hub::Hub`]) bridged to any number of WebSockets ([`bridge`]).
//!
//! Sessions live in memory: a console is a live process, and after a restart there is nothing
//! to reattach to. Their history (who opened one, who attached, why it ended) is in the task
//! log ([`audit`]). Ended sessions stay listed (status `closed`, with the reason) until
//! [`KEEP_ENDED`] newer ones have ended.

pub mod audit;
pub mod bridge;
pub mod hub;
mod terminal;
mod zlogin;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::api::ApiRouter;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Config;
use crate::http::AppState;
use crate::keys::store::Caller;
use crate::tasks::{Operation, TaskQueue};
use hub::Hub;

/// Ended sessions kept listed.
const KEEP_ENDED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zlogin,
    Terminal,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Zlogin => "zlogin",
            Kind::Terminal => "terminal",
        }
    }

    /// Where its WebSocket is (the paths the Node original used).
    fn websocket_url(self, id: &str) -> String {
        match self {
            Kind::Zlogin => format!("/zlogin/{id}"),
            Kind::Terminal => format!("/term/{id}"),
        }
    }
}

pub struct Session {
    pub id: String,
    pub kind: Kind,
    pub zone_name: Option<String>,
    /// The browser's own name for a terminal (the UI reuses a terminal by it).
    pub terminal_cookie: Option<String>,
    pub created_at: String,
    pub opened_by: String,
    pub hub: Arc<Hub>,
}

/// A session as `GET /zlogin/sessions` and the start calls answer it (the original's keys).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub zone_name: Option<String>,
    /// `active` or `closed`.
    pub status: &'static str,
    pub created_at: String,
    /// The WebSocket to open (with a key header or `?ticket=`).
    pub websocket_url: String,
    /// The name of the API key that opened it.
    pub opened_by: String,
    /// Why it ended, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_cookie: Option<String>,
}

impl Session {
    pub fn view(&self) -> SessionView {
        let ended = self.hub.ended();
        SessionView {
            id: self.id.clone(),
            zone_name: self.zone_name.clone(),
            status: if ended.is_some() { "closed" } else { "active" },
            created_at: self.created_at.clone(),
            websocket_url: self.kind.websocket_url(&self.id),
            opened_by: self.opened_by.clone(),
            close_reason: ended,
            terminal_cookie: self.terminal_cookie.clone(),
        }
    }

    fn is_active(&self) -> bool {
        self.hub.ended().is_none()
    }
}

/// What a new session runs, and what names it.
struct NewSession {
    kind: Kind,
    cmd: illumos::Cmd,
    /// How its end reads when the program exits by itself.
    exit_reason: hub::ExitReason,
    zone_name: Option<String>,
    terminal_cookie: Option<String>,
}

/// The console sessions of the agent.
pub struct ConsoleServices {
    config: Arc<Config>,
    runner: illumos::Runner,
    sessions: Mutex<Vec<Arc<Session>>>,
}

impl ConsoleServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner) -> Self {
        ConsoleServices {
            config,
            runner,
            sessions: Mutex::default(),
        }
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(self.config.consoles.idle_timeout_secs)
    }

    /// Sessions of `kind`, newest first.
    pub fn list(&self, kind: Kind) -> Vec<Arc<Session>> {
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.iter().rev().filter(|s| s.kind == kind).cloned().collect()
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<Arc<Session>> {
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.iter().find(|s| s.kind == kind && s.id == id).cloned()
    }

    /// The active session of `new.kind` that `wanted` picks (`true`: reused), or a new one
    /// running `new.cmd`, whose opening and end go to the task log.
    fn open_or_reuse(
        &self,
        tasks: &TaskQueue,
        caller: &Caller,
        wanted: impl Fn(&Session) -> bool,
        new: NewSession,
    ) -> Result<(Arc<Session>, bool), crate::http::error::ApiError> {
        let kind = new.kind;
        let (session, reused) = self.find_or_add(kind, wanted, || {
            let id = uuid::Uuid::new_v4().to_string();
            let hub = Hub::start(
                &self.runner,
                format!("console:{id}"),
                &new.cmd,
                self.idle(),
                self.config.consoles.scrollback_bytes,
                new.exit_reason,
            )
            .map_err(crate::http::error::ApiError::host)?;
            Ok(Session {
                id,
                kind,
                zone_name: new.zone_name,
                terminal_cookie: new.terminal_cookie,
                created_at: crate::time::now_rfc3339(),
                opened_by: caller.name.clone(),
                hub,
            })
        })?;
        if !reused {
            audit_lifetime(tasks, caller, &session);
        }
        Ok((session, reused))
    }

    /// The active session of `kind` that `wanted` picks, or a new one made by `make`, in one
    /// step: two concurrent starts for one zone get one console.
    fn find_or_add(
        &self,
        kind: Kind,
        wanted: impl Fn(&Session) -> bool,
        make: impl FnOnce() -> Result<Session, crate::http::error::ApiError>,
    ) -> Result<(Arc<Session>, bool), crate::http::error::ApiError> {
        let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = all
            .iter()
            .find(|s| s.kind == kind && s.is_active() && wanted(s))
        {
            return Ok((s.clone(), true));
        }
        let s = Arc::new(make()?);
        all.push(s.clone());
        let ended = all.iter().filter(|s| !s.is_active()).count();
        if ended > KEEP_ENDED {
            let mut drop = ended - KEEP_ENDED;
            all.retain(|s| {
                if drop > 0 && !s.is_active() {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
        Ok((s, false))
    }
}

/// Records a new session's opening, and its end when it comes.
fn audit_lifetime(tasks: &TaskQueue, caller: &Caller, session: &Arc<Session>) {
    let (tasks, caller, session) = (tasks.clone(), caller.clone(), session.clone());
    tokio::spawn(async move {
        let record = |event: &str, reason: Option<String>| audit::Record {
            console: session.kind.as_str().into(),
            session_id: session.id.clone(),
            event: event.into(),
            zone_name: session.zone_name.clone(),
            writer: None,
            reason,
            traffic: None,
        };
        audit::record(&tasks, Some(&caller), record("opened", None)).await;
        let reason = session.hub.until_ended().await;
        audit::record(&tasks, Some(&caller), record("closed", Some(reason))).await;
    });
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stopped {
    pub success: bool,
    pub message: String,
}

/// Ends `session` on `caller`'s request: its program is stopped and its sockets get a close
/// frame naming who stopped it.
fn stop(session: &Session, caller: &Caller, message: &str) -> axum::Json<Stopped> {
    session.hub.stop(&format!("stopped by {}", caller.name));
    axum::Json(Stopped {
        success: true,
        message: message.into(),
    })
}

/// Upgrades to a WebSocket on `session` (a 409 once it has ended).
fn open(
    app: AppState,
    session: Arc<Session>,
    caller: Caller,
    upgrade: crate::http::ws::Upgrade,
) -> Result<axum::response::Response, crate::http::error::ApiError> {
    if let Some(reason) = session.hub.ended() {
        return Err(crate::http::error::ApiError::conflict(format!(
            "{} session {} has ended: {reason}",
            session.kind.as_str(),
            session.id
        )));
    }
    upgrade.on_upgrade(move |socket| attach(app, session, caller, socket))
}

/// Records a WebSocket joining a session, then bridges it.
async fn attach(
    app: AppState,
    session: Arc<Session>,
    caller: Caller,
    socket: axum::extract::ws::WebSocket,
) {
    let record = audit::Record {
        console: session.kind.as_str().into(),
        session_id: session.id.clone(),
        event: "attached".into(),
        zone_name: session.zone_name.clone(),
        writer: Some(bridge::may_type(&caller)),
        reason: None,
        traffic: None,
    };
    audit::record(&app.tasks, Some(&caller), record).await;
    let revoked = app.revocations.until_revoked(&caller.key_id);
    bridge::run(socket, session.hub.clone(), caller, revoked).await;
}

pub fn router() -> ApiRouter {
    zlogin::router().merge(terminal::router())
}

pub fn operations() -> Vec<Arc<dyn Operation>> {
    vec![crate::tasks::op(audit::ConsoleSession)]
}
