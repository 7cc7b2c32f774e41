//! The power operations: one host command each. There is nothing to undo (a reboot cannot be
//! taken back) and nothing to roll forward: the command ran or it did not.

use std::sync::Arc;

use illumos::power::{self, BootEnv, Reboot, RunLevel, WallMessage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::flag::RebootFlag;
use crate::tasks::{Cx, OpError, TaskOp};

pub const RESTART: &str = "system_host_restart";
pub const REBOOT: &str = "system_host_reboot";
pub const REBOOT_FAST: &str = "system_host_reboot_fast";
pub const SHUTDOWN: &str = "system_host_shutdown";
pub const POWEROFF: &str = "system_host_poweroff";
pub const HALT: &str = "system_host_halt";
pub const RUNLEVEL: &str = "system_host_runlevel_change";
pub const SINGLE_USER: &str = "system_host_single_user";
pub const MULTI_USER: &str = "system_host_multi_user";

pub const ALL: [&str; 9] = [
    RESTART,
    REBOOT,
    REBOOT_FAST,
    SHUTDOWN,
    POWEROFF,
    HALT,
    RUNLEVEL,
    SINGLE_USER,
    MULTI_USER,
];

/// What to run, validated (the task's metadata).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Power {
    /// `shutdown -y -g GRACE -i STATE [MESSAGE]`: users warned, rc scripts run.
    Shutdown {
        grace_period: u32,
        init_state: RunLevel,
        message: Option<WallMessage>,
    },
    /// `reboot [-f] [-d] [-e BE]`.
    Reboot {
        fast: bool,
        dump_core: bool,
        boot_environment: Option<BootEnv>,
    },
    /// `halt`.
    Halt,
    /// `poweroff`.
    Poweroff,
    /// `init LEVEL`.
    Init { runlevel: RunLevel },
}

impl Power {
    /// Whether the machine comes back freshly booted (which applies boot-time settings).
    fn reboots(&self) -> bool {
        match self {
            Power::Shutdown { init_state, .. } => *init_state == RunLevel::REBOOT,
            Power::Init { runlevel } => *runlevel == RunLevel::REBOOT,
            Power::Reboot { .. } => true,
            Power::Halt | Power::Poweroff => false,
        }
    }
}

pub struct PowerOp {
    pub name: &'static str,
    pub flag: Arc<RebootFlag>,
}

impl TaskOp for PowerOp {
    type Params = Power;
    type Entry = ();

    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, cx: &Cx<'_, ()>, p: Power) -> Result<Option<Value>, OpError> {
        cx.progress(10, "asking the host").await?;
        let run = &cx.runner;
        match &p {
            Power::Shutdown {
                grace_period,
                init_state,
                message,
            } => power::shutdown(run, *grace_period, *init_state, message.as_ref()).await?,
            Power::Reboot {
                fast,
                dump_core,
                boot_environment,
            } => {
                let how = Reboot {
                    fast: *fast,
                    dump_core: *dump_core,
                    boot_env: boot_environment.clone(),
                };
                power::reboot(run, &how).await?
            }
            Power::Halt => power::halt(run).await?,
            Power::Poweroff => power::poweroff(run).await?,
            Power::Init { runlevel } => power::init(run, *runlevel).await?,
        }
        if p.reboots() {
            if let Err(e) = self.flag.clear() {
                tracing::warn!(error = %e, "cannot clear the reboot-required flag");
            }
        }
        Ok(Some(json!({ "requested": p })))
    }
}
