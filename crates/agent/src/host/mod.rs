//! The host itself: what the machine is and how it is doing, as `GET /stats` answers it (the
//! Zoneweaver UI's zone list and its health and credential probe).
//!
//! Every figure comes from the managed host's own tools through the runner (uname, kstat,
//! psrinfo, pagesize, ipadm, dladm; the zones area's listing), never from the machine the
//! agent process runs on, so the emulator's host is what a test sees.

pub mod arc;
pub mod devices;
pub mod facts;
pub mod power;
pub mod ppt;
pub mod routes;
pub mod swap;
pub mod view;

use crate::http::api::ApiRouter;

/// What the host area keeps for the life of the agent.
pub struct HostServices {
    pub facts: facts::HostFacts,
    pub devices: devices::DeviceScan,
}

impl HostServices {
    pub fn new(runner: illumos::Runner) -> Self {
        HostServices {
            facts: facts::HostFacts::new(runner.clone()),
            devices: devices::DeviceScan::new(runner),
        }
    }
}

pub fn router() -> ApiRouter {
    routes::router()
        .merge(power::routes::router())
        .merge(swap::routes::router())
        .merge(arc::routes::router())
        .merge(devices::routes::router())
        .merge(ppt::routes::router())
}

/// The host's task operations (power, ARC settings).
pub fn operations(
    config: &crate::config::Config,
) -> Vec<std::sync::Arc<dyn crate::tasks::Operation>> {
    let flag = std::sync::Arc::new(power::flag::RebootFlag::new(&config.data_dir));
    let mut ops = power::operations(&flag);
    ops.extend(arc::operations(config, &flag));
    ops
}
