//! `GET /health`: liveness and whether the host tools answer. It needs no key, so anyone can
//! call it as often as they like: the host check behind it runs at most once per interval, and
//! concurrent probes that find the last result stale share one check in flight.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

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
pub(super) async fn health(State(app): State<AppState>) -> Json<Health> {
    let host_tools = app.health.host_tools(&app.runner).await;
    Json(Health {
        status: if host_tools.ok { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: app.started.elapsed().as_secs(),
        host_tools,
    })
}

/// The last host check and the lock that makes checks single-flight.
pub struct HostCheck {
    fresh_for: Duration,
    last: std::sync::Mutex<Option<(Instant, HostTools)>>,
    /// Held for the whole of a check: a caller that finds the result stale waits here, then
    /// finds the result its predecessor just stored.
    running: tokio::sync::Mutex<()>,
}

impl HostCheck {
    pub fn new(fresh_for: Duration) -> HostCheck {
        HostCheck {
            fresh_for,
            last: std::sync::Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<HostTools> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < self.fresh_for)
            .map(|(_, t)| t.clone())
    }

    /// Runs `zoneadm list -cp` unless a result younger than the interval exists.
    pub async fn host_tools(&self, runner: &illumos::Runner) -> HostTools {
        if let Some(t) = self.fresh() {
            return t;
        }
        let _running = self.running.lock().await;
        if let Some(t) = self.fresh() {
            return t;
        }
        let cmd = illumos::Cmd::new(illumos::Tool::Zoneadm)
            .args(["list", "-cp"])
            .timeout(Duration::from_secs(5));
        let t = match runner.output(&cmd).await {
            Ok(_) => HostTools {
                ok: true,
                detail: "zoneadm answers".into(),
            },
            Err(e) => HostTools {
                ok: false,
                detail: e.to_string(),
            },
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), t.clone()));
        t
    }
}
