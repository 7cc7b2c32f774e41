//! Zone provisioning: artifacts, console recipes typed through `zlogin -C`, waiting for SSH,
//! rsync, shell and Ansible provisioners, snapshots before and after, status, cancel, rollback.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::http::AppState;
use crate::tasks::Operation;

/// What the provisioning area keeps for the life of the agent.
pub struct ProvisioningServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub db: Db,
}

impl ProvisioningServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner, db: Db) -> Self {
        ProvisioningServices { config, runner, db }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

/// The provisioning area's task operations.
pub fn operations(_services: &Arc<ProvisioningServices>) -> Vec<Arc<dyn Operation>> {
    Vec::new()
}
