//! Zones: create, modify, lifecycle, delete, with rollback and progress. The host is the truth
//! for state and configuration; the database keeps what only the agent knows.

pub mod host;
pub mod ops;
pub mod request;
pub mod routes;
pub mod store;
pub mod view;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::http::AppState;
use crate::tasks::Operation;
use ops::lifecycle::{Action, Lifecycle};

/// What the zones area keeps for the life of the agent.
pub struct ZoneServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub db: Db,
    pub host: Arc<host::HostView>,
    /// Serialized `GET /zones` answers by what they were built from.
    lists: std::sync::Mutex<Vec<(ListKey, axum::body::Bytes)>>,
}

/// What a `GET /zones` answer was built from: the host listing, the cached configurations,
/// the database (by its write epoch) and the filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    pub listing: u64,
    pub configs: u64,
    pub epoch: u64,
    pub state: Option<String>,
    pub brand: Option<String>,
}

/// Answers kept: the unfiltered list and a few filters.
const LISTS_KEPT: usize = 8;

impl ZoneServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner, db: Db) -> Self {
        host::clean_scratch(&config);
        ZoneServices {
            host: Arc::new(host::HostView::new(runner.clone())),
            config,
            runner,
            db,
            lists: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn cached_list(&self, key: &ListKey) -> Option<axum::body::Bytes> {
        let lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        lists.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
    }

    /// Keeps `body`, replacing any older answer for the same filters.
    pub fn cache_list(&self, key: ListKey, body: axum::body::Bytes) {
        let mut lists = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        lists.retain(|(k, _)| (&k.state, &k.brand) != (&key.state, &key.brand));
        if lists.len() >= LISTS_KEPT {
            lists.remove(0);
        }
        lists.push((key, body));
    }
}

impl ZoneServices {
    /// The zone as the host lists it; a 404 when the host has no such zone, a 502 when the
    /// host did not answer.
    pub async fn on_host(
        &self,
        zone: &illumos::names::ZoneName,
    ) -> Result<illumos::zoneadm::ZoneEntry, crate::http::error::ApiError> {
        self.host
            .zone(zone.as_str())
            .await
            .map_err(crate::http::error::ApiError::host)?
            .ok_or_else(|| {
                crate::http::error::ApiError::not_found(format!("Zone {zone} not found"))
            })
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    routes::router()
}

pub fn operations(services: &Arc<ZoneServices>) -> Vec<Arc<dyn Operation>> {
    let mut ops: Vec<Arc<dyn Operation>> = vec![
        Arc::new(ops::create::CreateZone(services.clone())),
        Arc::new(ops::modify::ModifyZone(services.clone())),
        Arc::new(ops::delete::DeleteZone(services.clone())),
    ];
    for action in [Action::Start, Action::Stop, Action::Restart, Action::Halt] {
        ops.push(Arc::new(Lifecycle {
            svc: services.clone(),
            action,
        }));
    }
    ops
}
