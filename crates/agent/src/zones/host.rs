//! Host reads for the zones area, cached briefly and coalesced, and the scratch files zonecfg
//! reads its command files from.
//!
//! The host is the truth: the cache only saves repeating the same command under load. Every
//! change the agent makes bumps a generation that makes the cache stale at once, so a read after
//! the agent's own write is always fresh; changes made outside the agent show within the TTL.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use illumos::names::{DatasetName, ZoneName};
use illumos::zfs::{self, Dataset, DatasetType};
use illumos::zoneadm::{self, ZoneEntry, ZoneadmError};
use illumos::zonecfg::{self, ZoneConfig, ZonecfgError};

use crate::config::Config;

const ZONES_TTL: Duration = Duration::from_secs(2);
const CONFIG_TTL: Duration = Duration::from_secs(30);

/// A cached `zonecfg export`: when read, under which generation, and what it said.
type CachedConfig = (Instant, u64, Option<Arc<ZoneConfig>>);

struct Listing {
    at: Instant,
    generation: u64,
    zones: Arc<Vec<ZoneEntry>>,
}

pub struct HostView {
    runner: illumos::Runner,
    generation: AtomicU64,
    // An async mutex held across the command: concurrent identical reads wait for one command
    // and share its answer.
    listing: tokio::sync::Mutex<Option<Listing>>,
    configs: Mutex<HashMap<String, CachedConfig>>,
}

impl HostView {
    pub fn new(runner: illumos::Runner) -> Self {
        HostView {
            runner,
            generation: AtomicU64::new(0),
            listing: tokio::sync::Mutex::new(None),
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// Makes every cached read stale; called after each change the agent makes to zones.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Every non-global zone.
    pub async fn zones(&self) -> Result<Arc<Vec<ZoneEntry>>, ZoneadmError> {
        let mut guard = self.listing.lock().await;
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(l) = guard.as_ref() {
            if l.generation == generation && l.at.elapsed() < ZONES_TTL {
                return Ok(l.zones.clone());
            }
        }
        let zones: Vec<ZoneEntry> = zoneadm::list(&self.runner)
            .await?
            .into_iter()
            .filter(|z| z.name != "global")
            .collect();
        let zones = Arc::new(zones);
        *guard = Some(Listing {
            at: Instant::now(),
            generation,
            zones: zones.clone(),
        });
        Ok(zones)
    }

    pub async fn zone(&self, name: &str) -> Result<Option<ZoneEntry>, ZoneadmError> {
        Ok(self.zones().await?.iter().find(|z| z.name == name).cloned())
    }

    /// A zone's configuration (`zonecfg export`), `None` for an unknown zone.
    pub async fn config(&self, zone: &ZoneName) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((at, g, c)) = self
            .configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(zone.as_str())
        {
            if *g == generation && at.elapsed() < CONFIG_TTL {
                return Ok(c.clone());
            }
        }
        let c = zonecfg::export(&self.runner, zone).await?.map(Arc::new);
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(zone.to_string(), (Instant::now(), generation, c.clone()));
        Ok(c)
    }

    /// The zone (other than `except`) whose configuration passes `volume` through, if any.
    pub async fn zone_using_volume(
        &self,
        run: &illumos::Runner,
        volume: &str,
        except: &str,
    ) -> Result<Option<String>, String> {
        let zones = zoneadm::list(run).await.map_err(|e| e.detail())?;
        for z in zones
            .iter()
            .filter(|z| z.name != "global" && z.name != except)
        {
            let Ok(name) = z.name.parse::<ZoneName>() else {
                continue;
            };
            if let Some(cfg) = zonecfg::export(run, &name).await.map_err(|e| e.detail())? {
                if cfg.zvols().iter().any(|v| v == volume)
                    || cfg.attrs.iter().any(|a| {
                        (a.name == "bootdisk" || a.name.starts_with("disk"))
                            && a.value.split(',').next() == Some(volume)
                    })
                {
                    return Ok(Some(z.name.clone()));
                }
            }
        }
        Ok(None)
    }
}

/// A zonecfg command file in the scratch directory, removed when dropped (a crash leaves it
/// behind; the directory is emptied at start-up).
pub struct ScratchFile {
    /// The path as the host's tools see it.
    pub host_path: String,
    local: PathBuf,
}

impl ScratchFile {
    pub fn write(config: &Config, prefix: &str, text: &str) -> std::io::Result<ScratchFile> {
        let dir_host = config.host.scratch_dir.to_string_lossy().into_owned();
        let dir = config.host_file(&dir_host);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let name = format!("{prefix}-{}", uuid::Uuid::new_v4());
        let local = dir.join(&name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&local)?;
        // No fsync: zonecfg reads it at once and a crash discards it anyway.
        f.write_all(text.as_bytes())?;
        Ok(ScratchFile {
            host_path: format!("{}/{name}", dir_host.trim_end_matches('/')),
            local,
        })
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
}

/// Empties the scratch directory of files a crash left behind.
pub fn clean_scratch(config: &Config) {
    let dir = config.host_file(&config.host.scratch_dir.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What happened to a tree of datasets on cleanup.
#[derive(Debug, Default, serde::Serialize)]
pub struct Cleanup {
    pub destroyed: Vec<String>,
    /// Datasets left in place because the agent did not make them for this zone.
    pub kept: Vec<String>,
}

/// Destroys the datasets at and below `root` that carry this zone's ownership mark, children
/// before parents; anything without the mark (an attached existing volume, something an admin
/// put there) is kept, and so are its owned ancestors.
pub async fn destroy_owned(
    run: &illumos::Runner,
    zone: &str,
    root: &DatasetName,
) -> Result<Cleanup, zfs::ZfsError> {
    let mut report = Cleanup::default();
    let Some(tree) = zfs::list(run, root, true, false).await? else {
        return Ok(report);
    };
    let mut tree: Vec<Dataset> = tree
        .into_iter()
        .filter(|d| matches!(d.kind, DatasetType::Filesystem | DatasetType::Volume))
        .collect();
    // Deepest first.
    tree.sort_by_key(|d| std::cmp::Reverse(d.name.matches('/').count()));
    let foreign: Vec<String> = tree
        .iter()
        .filter(|d| !d.is_owned_by(zone))
        .map(|d| d.name.clone())
        .collect();
    for d in &tree {
        let holds_foreign = foreign
            .iter()
            .any(|f| f == &d.name || f.starts_with(&format!("{}/", d.name)));
        if holds_foreign {
            report.kept.push(d.name.clone());
            continue;
        }
        // -r takes its snapshots (a received copy has one) and already-emptied children.
        zfs::destroy(run, &d.name, true).await?;
        report.destroyed.push(d.name.clone());
    }
    Ok(report)
}
