//! `service_<action>`: one svcadm call on one instance (a restart waits for it to run again).

use illumos::persistence::Persistence;
use illumos::smf::{self, Fmri, Wait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::settle::{self, Restart};
use crate::tasks::{Cx, OpError, TaskOp};

/// The operation names, the original's `service_<action>`.
pub const ENABLE: &str = "service_enable";
pub const DISABLE: &str = "service_disable";
pub const RESTART: &str = "service_restart";
pub const REFRESH: &str = "service_refresh";
pub const CLEAR: &str = "service_clear";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Enable,
    Disable,
    Restart,
    Refresh,
    Clear,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Restart => "restart",
            Action::Refresh => "refresh",
            Action::Clear => "clear",
        }
    }

    pub const ALL: [Action; 5] = [
        Action::Enable,
        Action::Disable,
        Action::Restart,
        Action::Refresh,
        Action::Clear,
    ];

    /// The task operation that runs it.
    pub fn operation(self) -> &'static str {
        match self {
            Action::Enable => ENABLE,
            Action::Disable => DISABLE,
            Action::Restart => RESTART,
            Action::Refresh => REFRESH,
            Action::Clear => CLEAR,
        }
    }

    pub fn past(self) -> &'static str {
        match self {
            Action::Enable => "enabled",
            Action::Disable => "disabled",
            Action::Restart => "restarted",
            Action::Refresh => "refreshed",
            Action::Clear => "cleared",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Params {
    pub fmri: Fmri,
    pub action: Action,
    /// `-t` (enable/disable): until the next reboot.
    #[serde(default)]
    pub temporary: bool,
    /// `-s` (enable/disable): wait for the end state.
    #[serde(default)]
    pub sync: bool,
}

/// One operation per action, so a task's `operation` says what it does.
pub struct ServiceActionOp(pub Action);

impl TaskOp for ServiceActionOp {
    type Params = Params;
    /// Nothing to undo: an action is one svcadm call, done or not.
    type Entry = ();

    fn name(&self) -> &'static str {
        self.0.operation()
    }

    async fn run(&self, cx: &Cx<'_, ()>, p: Params) -> Result<Option<Value>, OpError> {
        cx.progress(10, &format!("svcadm {} {}", p.action.as_str(), p.fmri))
            .await?;
        let persistence = if p.temporary {
            Persistence::Temporary
        } else {
            Persistence::Persistent
        };
        let wait = if p.sync { Wait::ForState } else { Wait::No };
        let run = &cx.runner;
        match p.action {
            Action::Enable => smf::enable(run, &p.fmri, wait, persistence).await?,
            Action::Disable => smf::disable(run, &p.fmri, wait, persistence).await?,
            Action::Restart => restart(cx, &p.fmri).await?,
            Action::Refresh => smf::refresh(run, &p.fmri).await?,
            Action::Clear => smf::clear(run, &p.fmri).await?,
        }
        let state = smf::service_state(run, &p.fmri).await?;
        Ok(Some(json!({
            "fmri": p.fmri,
            "action": p.action,
            "state": state.map(|s| s.state.as_str()),
        })))
    }
}

/// `svcadm restart`, then the wait for svc.startd to carry it out: the task ends once the
/// instance runs again, and fails if its start failed (maintenance). svc.startd restarts only
/// an instance that runs (online or degraded): for any other the task says so and ends. One
/// not settled after [`settle::RESTART_WAIT`] (slow methods, or a dependency it now waits
/// for) ends the task with a note naming the state `svcs` shows: the restart was asked for,
/// and failing would say it was not.
async fn restart(cx: &Cx<'_, ()>, fmri: &Fmri) -> Result<(), OpError> {
    let before = smf::contract_status(&cx.runner, fmri).await?;
    smf::restart(&cx.runner, fmri).await?;
    let before = match before {
        Some(b) if b.status.state.is_running() => b,
        other => {
            cx.note(&format!(
                "{fmri} is {}: svc.startd restarts only an instance that runs",
                settle::shown(other.as_ref())
            ));
            return Ok(());
        }
    };
    if let Restart::StillGoing(last) = settle::await_restart(cx, fmri, before.ctid).await? {
        cx.note(&format!(
            "{fmri} had not settled {} s after its restart (it is {})",
            settle::RESTART_WAIT.as_secs(),
            settle::shown(last.as_ref())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_parameters_read_back_and_refuse_a_bad_fmri() {
        let p: Params = serde_json::from_value(
            json!({"fmri": "svc:/network/ntp:default", "action": "disable", "temporary": true}),
        )
        .unwrap();
        assert!(p.temporary && !p.sync && p.action == Action::Disable);
        assert!(
            serde_json::from_value::<Params>(json!({"fmri": "ntp", "action": "enable"})).is_err()
        );
    }
}
