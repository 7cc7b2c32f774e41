//! SMF services of the host (the UI's service views): the listing, one instance's details,
//! dependencies and processes, its properties (all read-only, through `illumos::services`),
//! and `POST /services/action` (enable, disable, restart, refresh, clear), a task.
//!
//! Some instances are never acted on through the API: the agent's own (a task that stops the
//! agent would stop itself mid-way and could not report it), and, for the actions that stop an
//! instance, the ones whose loss cuts the administrator off the host ([`LIFELINES`]).

pub mod ops;
pub mod request;
pub mod routes;
pub mod settle;
pub mod view;

use std::sync::Arc;

use crate::http::api::ApiRouter;

use crate::tasks::Operation;

/// The scope of service tasks when no FMRI names one.
pub const SCOPE: &str = "system";

/// The agent's own instance (packaging/omnios/zoneweaver-agent.xml).
pub const OWN_FMRI: &str = "svc:/system/zoneweaver-agent:default";

/// Instances that may not be disabled or restarted through the API: without them an
/// administrator cannot reach the host (remote login, its network, the restarter that runs
/// every other service, the milestones the rest hang on).
pub const LIFELINES: &[&str] = &[
    "svc:/network/ssh:default",
    "svc:/network/physical:default",
    "svc:/network/loopback:default",
    "svc:/milestone/network:default",
    "svc:/milestone/multi-user:default",
    "svc:/system/svc/restarter:default",
    "svc:/system/filesystem/local:default",
];

pub fn router() -> ApiRouter {
    routes::router()
}

pub fn operations() -> Vec<Arc<dyn Operation>> {
    ops::Action::ALL
        .into_iter()
        .map(|a| crate::tasks::op(ops::ServiceActionOp(a)))
        .collect()
}
