//! `zone_start`, `zone_stop`, `zone_restart`, `zone_halt`.

use std::sync::Arc;
use std::time::Duration;

use illumos::names::ZoneName;
use illumos::zoneadm::{self, ZoneState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::db_write;
use crate::tasks::{BoxFuture, OpCx, OpError, Operation};
use crate::zones::{store, ZoneServices};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Halt,
}

impl Action {
    pub fn operation(self) -> &'static str {
        match self {
            Action::Start => "zone_start",
            Action::Stop => "zone_stop",
            Action::Restart => "zone_restart",
            Action::Halt => "zone_halt",
        }
    }

    /// Pending tasks a request for this action supersedes (a stop cancels a pending start).
    pub fn supersedes(self) -> &'static [&'static str] {
        match self {
            Action::Start => &["zone_stop", "zone_halt"],
            Action::Stop | Action::Halt => &["zone_start", "zone_restart"],
            Action::Restart => &[],
        }
    }
}

pub struct Lifecycle {
    pub svc: Arc<ZoneServices>,
    pub action: Action,
}

impl Operation for Lifecycle {
    fn name(&self) -> &'static str {
        self.action.operation()
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let result = run(&self.svc, self.action, cx).await;
            self.svc.host.invalidate(&cx.task.zone_name);
            result
        })
    }

    /// A boot, shutdown or halt is one host command with nothing to undo, but it can take
    /// effect and the task still be cut off before it records so (a crash right after
    /// `zoneadm boot`): the zone then runs while the task says failed, and a pipeline's boot
    /// stage would stop with the zone booted. If the journal shows the command was asked for
    /// and the zone is now in the state it leads to, the action happened: the task completes.
    /// A reboot is not journaled: the zone runs whether it happened or not.
    fn roll_forward<'a>(
        &'a self,
        cx: &'a OpCx,
        journal: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Option<Value>>, OpError>> {
        Box::pin(async move {
            let Some(asked) = journal
                .iter()
                .find_map(|e| serde_json::from_value::<Asked>(e.clone()).ok())
            else {
                return Ok(None);
            };
            let zone = super::task_zone(cx)?;
            self.svc.host.invalidate(zone.as_str());
            let Some(now) = zoneadm::get(&cx.runner, &zone).await.map_err(failed)? else {
                return Ok(None);
            };
            let booted = now.state.is_booted();
            let outcome = match asked {
                Asked::Boot if booted => {
                    clear_pending(cx, &zone).await?;
                    "booted"
                }
                Asked::Halt | Asked::Shutdown if !booted => "stopped",
                _ => return Ok(None),
            };
            cx.note(&format!("zone {zone}: {outcome}"));
            Ok(Some(Some(
                json!({ "zone_name": zone.as_str(), "outcome": outcome }),
            )))
        })
    }
}

/// Journaled before the `zoneadm` command that changes the zone's state (see `roll_forward`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "zoneadm", rename_all = "snake_case")]
enum Asked {
    Boot,
    Halt,
    Shutdown,
}

fn failed(e: zoneadm::ZoneadmError) -> OpError {
    OpError::failed(e.detail())
}

async fn run(svc: &ZoneServices, action: Action, cx: &OpCx) -> Result<Option<Value>, OpError> {
    let zone = super::task_zone(cx)?;
    let run = &cx.runner;
    let state = zoneadm::get(run, &zone)
        .await
        .map_err(failed)?
        .ok_or_else(|| OpError::failed(format!("zone {zone} does not exist")))?
        .state;
    let outcome = match (action, state) {
        (Action::Start | Action::Restart, ZoneState::Configured | ZoneState::Incomplete) => {
            return Err(OpError::failed(format!(
                "zone {zone} is {}: it must be installed before boot",
                state.as_str()
            )))
        }
        (Action::Start, ZoneState::Running) => "already running",
        (Action::Start, _) | (Action::Restart, ZoneState::Installed) => {
            cx.progress(50, "Booting zone").await?;
            cx.will_make(&Asked::Boot).await?;
            zoneadm::boot(run, &zone).await.map_err(failed)?;
            clear_pending(cx, &zone).await?;
            "booted"
        }
        (Action::Restart, _) => {
            cx.progress(50, "Rebooting zone").await?;
            zoneadm::reboot(run, &zone).await.map_err(failed)?;
            clear_pending(cx, &zone).await?;
            "rebooted"
        }
        (Action::Stop | Action::Halt, s) if !s.is_booted() => "already stopped",
        (Action::Halt, _) => {
            cx.progress(50, "Halting zone").await?;
            cx.will_make(&Asked::Halt).await?;
            zoneadm::halt(run, &zone).await.map_err(failed)?;
            "halted"
        }
        (Action::Stop, _) => {
            cx.progress(30, "Shutting down zone").await?;
            cx.will_make(&Asked::Shutdown).await?;
            let limit = Duration::from_secs(svc.config.zones.shutdown_timeout);
            match zoneadm::shutdown(run, &zone, limit).await {
                Ok(()) => "shut down",
                Err(e) => {
                    cx.check_cancelled()?;
                    cx.note(&format!(
                        "graceful shutdown did not finish ({}); halting",
                        e.detail()
                    ));
                    cx.progress(70, "Halting zone").await?;
                    zoneadm::halt(run, &zone).await.map_err(failed)?;
                    "halted after the shutdown timed out or failed"
                }
            }
        }
    };
    cx.note(&format!("zone {zone}: {outcome}"));
    Ok(Some(
        json!({ "zone_name": zone.as_str(), "outcome": outcome }),
    ))
}

/// A boot applies the queued configuration changes.
async fn clear_pending(cx: &OpCx, zone: &ZoneName) -> Result<(), OpError> {
    let z = zone.to_string();
    db_write(cx, move |c| store::clear_pending(c, &z)).await
}
