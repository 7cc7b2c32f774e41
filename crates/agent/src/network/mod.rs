//! Host networking: etherstubs, VNICs, NAT (ipnat.conf), IP forwarding, DHCP (ISC dhcpd) and
//! the provisioning network. Same shape as the other areas: request types and validation,
//! task operations, and a `router()`.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::http::AppState;
use crate::tasks::Operation;

/// What the network area keeps for the life of the agent (caches, coalesced reads).
pub struct NetworkServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
}

impl NetworkServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner) -> Self {
        NetworkServices { config, runner }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

/// The network area's task operations.
pub fn operations(_services: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    Vec::new()
}
