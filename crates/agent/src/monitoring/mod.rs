//! Host monitoring: a sampler that reads the host's figures on an interval (CPU, memory, swap,
//! link counters, pool capacity and I/O, ARC) into the database with a retention, the
//! `/monitoring/*` routes the Zoneweaver UI reads, and the host gauges of `/metrics`.
//!
//! Laid out as every area: `routes` (parse, authorise, answer), `view` (the rows, computed
//! from host readings by pure functions), `answers` (the envelopes), `store` (the samples
//! table), `host` (the reads), and `sampler` (the timer and the one sample path).

pub mod answers;
pub mod host;
pub mod routes;
pub mod sampler;
pub mod store;
pub mod view;

use std::sync::Arc;

use crate::http::api::ApiRouter;

use crate::config::MonitoringConfig;
use crate::db::Db;

/// What the monitoring area keeps for the life of the agent.
pub struct MonitoringServices {
    pub sampler: Arc<sampler::Sampler>,
    pub listings: host::Listings,
}

impl MonitoringServices {
    pub fn new(runner: illumos::Runner, db: Db, config: MonitoringConfig) -> Self {
        MonitoringServices {
            sampler: Arc::new(sampler::Sampler::new(runner.clone(), db, config)),
            listings: host::Listings::new(runner),
        }
    }
}

pub fn router() -> ApiRouter {
    routes::router()
}
