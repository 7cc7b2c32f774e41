//! Zones: create, modify, lifecycle, delete, with rollback and progress; the host is the truth
//! for state and configuration, the database keeps what only the agent knows.

pub mod request;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::http::AppState;
use crate::tasks::Operation;

/// What the zones area keeps for the life of the agent.
pub struct ZoneServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub db: Db,
}

impl ZoneServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner, db: Db) -> Self {
        ZoneServices { config, runner, db }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

pub fn operations(_services: &Arc<ZoneServices>) -> Vec<Arc<dyn Operation>> {
    Vec::new()
}
