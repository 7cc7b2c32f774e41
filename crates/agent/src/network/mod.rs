//! Host networking: etherstubs, VNICs, the node name, NAT (ipnat.conf), IP forwarding, DHCP (ISC dhcpd) and
//! the provisioning network. Same shape as the other areas: request types and validation,
//! task operations, and a `router()`.
//!
//! Handlers validate, may read the host (never change it), and queue a task; the task does the
//! work through `crates/illumos`, journalling what it makes so a failure undoes it. Shared host
//! resources are serialised by named locks: [`LOCK_IPNAT`], [`LOCK_DHCPD`], [`link_lock`],
//! [`LOCK_FORWARDING`], [`LOCK_PROVISIONING`].

pub mod addresses;
pub mod aggregates;
pub mod bridges;
pub mod conffile;
pub mod dhcp;
pub mod forwarding;
pub mod hostname;
pub mod journal;
pub mod links;
#[cfg(test)]
mod links_tests;
pub mod membership;
pub mod nat;
pub mod paths;
pub mod provisioning;
mod serde_text;
pub mod settings;
pub mod validate;
pub mod vlans;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::http::api::ApiRouter;
use futures_util::future::{FutureExt, Shared};
use illumos::dladm::Vnic;

use crate::config::Config;
use crate::http::error::ApiError;
use crate::tasks::Operation;
use settings::NetSettings;

pub const LOCK_IPNAT: &str = "ipnat.conf";
pub const LOCK_DHCPD: &str = "dhcpd.conf";
pub const LOCK_FORWARDING: &str = "forwarding";
pub const LOCK_PROVISIONING: &str = "provisioning-network";
/// The task scope (`zone_name`) of every network task.
pub const SCOPE: &str = "network";

/// A request's `temporary` as the tools' `-t`.
pub fn persistence(temporary: bool) -> illumos::persistence::Persistence {
    use illumos::persistence::Persistence;
    if temporary {
        Persistence::Temporary
    } else {
        Persistence::Persistent
    }
}

pub fn link_lock(name: &str) -> String {
    format!("link:{name}")
}

type VnicRead = Shared<futures_util::future::BoxFuture<'static, Result<Arc<Vec<Vnic>>, String>>>;

/// What the network area keeps for the life of the agent.
pub struct NetworkServices {
    pub config: Arc<Config>,
    pub runner: illumos::Runner,
    pub settings: NetSettings,
    /// Bumped after every task that changed links: a VNIC listing started before the bump is
    /// not shared with a request that arrives after it.
    link_generation: AtomicU64,
    vnic_read: Mutex<Option<(u64, VnicRead)>>,
    /// The provisioning setup task queued last, so concurrent setups share one task.
    pub(crate) setup_task: tokio::sync::Mutex<Option<String>>,
}

impl NetworkServices {
    pub fn new(config: Arc<Config>, runner: illumos::Runner) -> Self {
        // config.yaml was checked at load (Config::check calls check_network); a Config built
        // in code falls back to the defaults' network settings rather than panicking.
        let settings = NetSettings::from_config(&config).unwrap_or_else(|(key, e)| {
            tracing::error!(%key, error = %e, "invalid network settings; using the defaults");
            NetSettings::from_config(&Config::default()).expect("defaults are valid")
        });
        NetworkServices {
            config,
            runner,
            settings,
            link_generation: AtomicU64::new(0),
            vnic_read: Mutex::new(None),
            setup_task: tokio::sync::Mutex::new(None),
        }
    }

    /// Marks link listings taken so far as stale.
    pub fn links_changed(&self) {
        self.link_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// `dladm show-vnic`, live. Concurrent requests share one command, but only one started
    /// after the last link change, so a create is visible to the next GET.
    pub async fn vnics(&self) -> Result<Arc<Vec<Vnic>>, ApiError> {
        let generation = self.link_generation.load(Ordering::SeqCst);
        let fut = {
            let mut slot = self.vnic_read.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some((g, f)) if *g == generation && f.peek().is_none() => f.clone(),
                _ => {
                    let runner = self.runner.clone();
                    let f = async move {
                        illumos::dladm::show_vnics(&runner)
                            .await
                            .map(Arc::new)
                            .map_err(|e| chain(&e))
                    }
                    .boxed()
                    .shared();
                    *slot = Some((generation, f.clone()));
                    f
                }
            }
        };
        fut.await.map_err(ApiError::internal)
    }
}

pub use crate::error::chain;

/// A task's typed parameters as the metadata stored with it (and shown by the API).
pub fn metadata(params: &impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(params).map_err(ApiError::internal)
}

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .merge(links::router())
        .merge(addresses::router())
        .merge(vlans::router())
        .merge(hostname::router())
        .merge(aggregates::router())
        .merge(bridges::router())
        .merge(nat::router())
        .merge(forwarding::router())
        .merge(dhcp::router())
        .merge(provisioning::router())
}

/// The network area's task operations.
pub fn operations(services: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    let mut ops = links::operations(services);
    ops.extend(addresses::operations(services));
    ops.extend(vlans::operations(services));
    ops.extend(hostname::operations(services));
    ops.extend(aggregates::operations(services));
    ops.extend(bridges::operations(services));
    ops.extend(nat::operations(services));
    ops.extend(forwarding::operations(services));
    ops.extend(dhcp::operations(services));
    ops.extend(provisioning::operations(services));
    ops
}

/// Task metadata as the handlers of earlier versions stored it must still read into today's
/// parameters (tasks queued before an upgrade run after it), and today's must be written the
/// same way (the API shows it).
#[cfg(test)]
pub(crate) fn assert_same_shape<T>(stored: serde_json::Value)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let params: T = serde_json::from_value(stored.clone())
        .unwrap_or_else(|e| panic!("{stored} does not read: {e}"));
    assert_eq!(serde_json::to_value(&params).unwrap(), stored);
}
