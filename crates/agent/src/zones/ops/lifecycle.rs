//! `zone_start`, `zone_stop`, `zone_restart`, `zone_halt`.

use std::sync::Arc;
use std::time::Duration;

use illumos::names::ZoneName;
use illumos::zoneadm::{self, ZoneState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::db_write;
use crate::tasks::{Cx, OpCx, OpError, RollForward, TaskOp};
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

/// A lifecycle task carries no parameters of its own (the zone is the task's scope); an
/// object is accepted so old and new tasks alike read.
#[derive(Debug, Default, Deserialize)]
pub struct NoParams {}

impl TaskOp for Lifecycle {
    type Params = NoParams;
    type Entry = Asked;

    fn name(&self) -> &'static str {
        self.action.operation()
    }

    async fn run(&self, cx: &Cx<'_, Asked>, _p: NoParams) -> Result<Option<Value>, OpError> {
        let result = run(&self.svc, self.action, cx).await;
        self.svc.host.invalidate(&cx.task.zone_name);
        result
    }

    /// A boot, shutdown or halt is one host command with nothing to undo, but it can take
    /// effect and the task still be cut off before it records so (a crash right after
    /// `zoneadm boot`): the zone then runs while the task says failed, and a pipeline's boot
    /// stage would stop with the zone booted. If the journal shows the command was asked for
    /// and the zone is now in the state it leads to, the action happened: the task completes.
    /// A reboot is not journaled: the zone runs whether it happened or not.
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Asked>,
        _p: NoParams,
        journal: &[Asked],
    ) -> Result<RollForward, OpError> {
        let Some(asked) = journal.first() else {
            return Ok(RollForward::Undo);
        };
        let zone = super::task_zone(cx)?;
        self.svc.host.invalidate(zone.as_str());
        let Some(now) = zoneadm::get(&cx.runner, &zone).await? else {
            return Ok(RollForward::Undo);
        };
        let booted = now.state.is_booted();
        let outcome = match asked {
            Asked::Boot if booted => {
                clear_pending(cx, &zone).await?;
                "booted"
            }
            Asked::Halt | Asked::Shutdown if !booted => "stopped",
            _ => return Ok(RollForward::Undo),
        };
        cx.note(&format!("zone {zone}: {outcome}"));
        Ok(RollForward::Completed(Some(
            json!({ "zone_name": zone.as_str(), "outcome": outcome }),
        )))
    }
}

/// Journaled before the `zoneadm` command that changes the zone's state (see `roll_forward`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "zoneadm", rename_all = "snake_case")]
pub enum Asked {
    Boot,
    Halt,
    Shutdown,
}

async fn run(
    svc: &ZoneServices,
    action: Action,
    cx: &Cx<'_, Asked>,
) -> Result<Option<Value>, OpError> {
    let zone = super::task_zone(cx)?;
    let run = &cx.runner;
    let state = zoneadm::get(run, &zone)
        .await?
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
            zoneadm::boot(run, &zone).await?;
            clear_pending(cx, &zone).await?;
            "booted"
        }
        (Action::Restart, _) => {
            cx.progress(50, "Rebooting zone").await?;
            zoneadm::reboot(run, &zone).await?;
            clear_pending(cx, &zone).await?;
            "rebooted"
        }
        (Action::Stop | Action::Halt, s) if !s.is_booted() => "already stopped",
        (Action::Halt, _) => {
            cx.progress(50, "Halting zone").await?;
            cx.will_make(&Asked::Halt).await?;
            zoneadm::halt(run, &zone).await?;
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
                        crate::error::chain(&e)
                    ));
                    cx.progress(70, "Halting zone").await?;
                    zoneadm::halt(run, &zone).await?;
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
