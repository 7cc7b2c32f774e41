//! Zones: create, modify, lifecycle, delete, with rollback and progress. The host is the truth
//! for state and configuration; the database keeps what only the agent knows.

pub mod authorized_keys;
pub mod host;
pub mod host_storage;
pub mod ops;
pub mod orchestration;
pub mod original;
pub mod request;
pub mod routes;
pub mod sshkeys;
pub mod store;
pub mod view;
pub mod vnc;

use std::sync::Arc;

use crate::http::api::ApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::tasks::{op, Operation};
use ops::lifecycle::{Action, Lifecycle};

/// What the zones area keeps for the life of the agent.
pub struct ZoneServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub db: Db,
    pub host: Arc<host::HostView>,
    /// The zones' VNC console sessions.
    pub vnc: vnc::sessions::Sessions,
}

impl ZoneServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner, db: Db) -> Self {
        host::clean_scratch(&config);
        ZoneServices {
            host: Arc::new(host::HostView::new(
                runner.clone(),
                config.clone(),
                db.clone(),
            )),
            config,
            runner,
            db,
            vnc: Default::default(),
        }
    }
}

impl ZoneServices {
    /// Records configuration changes another area made to a running zone: they take effect
    /// at its next boot, and the zone's detail lists them until then.
    pub async fn queue_for_next_boot(
        &self,
        zone: &illumos::names::ZoneName,
        changes: Vec<String>,
    ) -> Result<(), crate::db::DbError> {
        let z = zone.to_string();
        self.db
            .write(move |c| store::add_pending(c, &z, &changes))
            .await
    }

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

pub fn router() -> ApiRouter {
    routes::router()
        .merge(vnc::router())
        .merge(orchestration::router())
}

pub fn operations(services: &Arc<ZoneServices>) -> Vec<Arc<dyn Operation>> {
    let mut ops: Vec<Arc<dyn Operation>> = vec![
        op(ops::create::CreateZone(services.clone())),
        op(ops::modify::ModifyZone(services.clone())),
        op(ops::delete::DeleteZone(services.clone())),
    ];
    for action in [Action::Start, Action::Stop, Action::Restart, Action::Halt] {
        ops.push(op(Lifecycle {
            svc: services.clone(),
            action,
        }));
    }
    ops
}
