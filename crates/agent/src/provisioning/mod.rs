//! Zone provisioning: artifacts, console recipes typed through `zlogin -C`, waiting for SSH,
//! rsync, shell and Ansible provisioners, snapshots before and after, status, cancel, rollback.
//!
//! `artifacts` and `routes` are the HTTP side; `stages` holds the stage operations; `console`
//! drives a serial console; `remote` is the one module that runs ssh, rsync and Ansible;
//! `extract` unpacks archives safely; `settings` and `recipes` are the validated models.

pub mod artifacts;
pub mod confine;
pub mod console;
pub mod extract;
pub mod guest_endpoint;
pub mod nic;
pub mod plan;
pub mod recipes;
pub mod remote;
pub mod request;
pub mod routes;
pub mod settings;
pub mod stages;
pub mod store;
pub mod transcript;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;

use crate::http::api::ApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::network::NetworkServices;
use crate::tasks::{op, Operation};
use crate::zones::ZoneServices;

/// What the provisioning area keeps for the life of the agent.
pub struct ProvisioningServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub db: Db,
    /// The provisioning network and dhcpd.conf, for the zone's provisioning NIC.
    pub network: Arc<NetworkServices>,
    /// The zones' host view, refreshed after the NIC changes a configuration.
    pub zones: Arc<ZoneServices>,
}

impl ProvisioningServices {
    pub fn new(
        config: Arc<Config>,
        runner: illumos::Runner,
        db: Db,
        network: Arc<NetworkServices>,
        zones: Arc<ZoneServices>,
    ) -> Self {
        ProvisioningServices {
            config,
            runner,
            db,
            network,
            zones,
        }
    }

    /// Where an artifact's bytes are (named by its id, never by the client's file name).
    pub fn artifact_path(&self, id: &str) -> PathBuf {
        self.config.artifacts_dir().join(id)
    }
}

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .merge(artifacts::router())
        .merge(routes::router())
}

/// The provisioning area's task operations.
pub fn operations(services: &Arc<ProvisioningServices>) -> Vec<Arc<dyn Operation>> {
    let s = services.clone();
    vec![
        op(nic::NicStage(s.clone())),
        op(stages::Extract(s.clone())),
        op(stages::Setup {
            svc: s.clone(),
            name: stages::SETUP,
        }),
        op(stages::Setup {
            svc: s.clone(),
            name: stages::RECIPE_TEST,
        }),
        op(stages::WaitSsh(s.clone())),
        op(stages::SyncFolders(s.clone())),
        op(stages::Provision(s.clone())),
        op(stages::Rollback(s)),
    ]
}
