//! The host's power and run level (`/system/host/*`): reads (status, uptime, run level,
//! whether a reboot is required) and, for admins only, power actions as tasks that run the
//! host's own `shutdown`, `reboot`, `halt`, `poweroff` and `init` (on an emulated host, the
//! emulator's stand-ins, which record the request).
//!
//! A reboot ends the agent with the host: the task that asked for it is then found running
//! at the next start and marked failed ("agent restarted during the operation"), the only
//! honest record, since the agent cannot tell a reboot it asked for from a crash.

pub mod flag;
pub mod ops;
pub mod request;
pub mod routes;
pub mod view;

use std::sync::Arc;

use crate::tasks::Operation;

/// Power tasks never run two at a time.
pub const LOCK: &str = "host:power";
pub const SCOPE: &str = "system";

pub fn operations(flag: &Arc<flag::RebootFlag>) -> Vec<Arc<dyn Operation>> {
    ops::ALL
        .into_iter()
        .map(|name| {
            crate::tasks::op(ops::PowerOp {
                name,
                flag: flag.clone(),
            })
        })
        .collect()
}
