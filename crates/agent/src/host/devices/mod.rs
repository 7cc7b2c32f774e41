//! The host's PCI devices (`/host/devices*`) and their passthrough state (`/host/ppt-status`):
//! read-only views of `prtconf -dD` and `pptadm list -a`, with the zones whose configuration
//! has `device match=/dev/pptN`.
//!
//! The tree changes only when hardware or driver bindings do, so a scan is kept for
//! [`SCAN_TTL`] (the original scanned on an interval into a table) and `POST
//! /host/devices/refresh` reads it again at once. Zone assignments are not cached here: they
//! come from the zones area's configurations at each answer, so a zone given a device shows at
//! the next read.

pub mod routes;
pub mod view;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use illumos::pptadm::{self, PptDevice};
use illumos::prtconf::{self, PciDevice};
use illumos::Runner;

use super::facts::Cached;
use crate::error::HostFailure;
use crate::http::AppState;

const SCAN_TTL: Duration = Duration::from_secs(300);

/// One read of the host's devices.
pub struct Scan {
    pub tree: Vec<PciDevice>,
    pub ppt: Vec<PptDevice>,
    pub scanned_at: String,
}

pub struct DeviceScan {
    runner: Runner,
    kept: Cached<Scan>,
}

impl DeviceScan {
    pub fn new(runner: Runner) -> Self {
        DeviceScan {
            runner,
            kept: Cached::new(SCAN_TTL),
        }
    }

    async fn read(run: &Runner) -> Result<Scan, HostFailure> {
        let (tree, ppt) = tokio::try_join!(
            async { Ok::<_, HostFailure>(prtconf::devices(run).await?) },
            async { Ok(pptadm::list(run).await?) },
        )?;
        Ok(Scan {
            tree,
            ppt,
            scanned_at: crate::time::now_rfc3339(),
        })
    }

    pub async fn scan(&self) -> Result<Arc<Scan>, HostFailure> {
        let run = &self.runner;
        self.kept.get(|| Self::read(run)).await
    }

    pub async fn rescan(&self) -> Result<Arc<Scan>, HostFailure> {
        let run = &self.runner;
        self.kept.renew(|| Self::read(run)).await
    }
}

/// Every device with its zone assignments, from `scan`.
pub async fn rows(app: &AppState, scan: &Scan) -> Result<Vec<view::Device>, HostFailure> {
    let zones = app.zones.host.zones().await?;
    let configs = app.zones.host.configs(&zones).await;
    let mut by_match: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (z, c) in zones.iter().zip(configs) {
        for m in c
            .iter()
            .flat_map(|c| c.devices.iter())
            .filter_map(|d| d.get("match"))
        {
            by_match
                .entry(m.to_owned())
                .or_default()
                .push(z.name.clone());
        }
    }
    let machine = app.host.facts.machine().await?;
    Ok(view::devices(
        &scan.tree,
        &scan.ppt,
        &by_match,
        &machine.uname.nodename,
        &scan.scanned_at,
    ))
}
