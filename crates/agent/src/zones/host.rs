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
/// Background refreshes of configurations gone stale by age, at most this many at once.
const REFRESHERS: usize = 8;

struct Listing {
    at: Instant,
    generation: u64,
    /// Numbers the listings, so a caller can tell two apart.
    seq: u64,
    zones: Arc<Vec<ZoneEntry>>,
}

#[derive(Default)]
struct Configs {
    /// `zonecfg export` by zone: when read and what it said (`None`: no such zone).
    cached: HashMap<String, (Instant, Option<Arc<ZoneConfig>>)>,
    /// The generation of each zone's latest invalidation: an export started before it must not
    /// be cached.
    invalidated: HashMap<String, u64>,
    /// Zones with a background refresh under way.
    refreshing: std::collections::HashSet<String>,
    /// Bumped whenever what `cached` says changes.
    version: u64,
}

/// Host reads for the zones area. Changes the agent makes invalidate what they touch at once
/// (the next read waits for a fresh answer); entries that only aged past their TTL are served
/// while one background read refreshes them, so a list under load never waits for the host.
pub struct HostView {
    runner: illumos::Runner,
    generation: AtomicU64,
    listing_seq: AtomicU64,
    // An async mutex held across a synchronous refresh: concurrent reads after a change wait
    // for one command and share its answer.
    listing: tokio::sync::Mutex<Option<Listing>>,
    listing_refreshing: std::sync::atomic::AtomicBool,
    configs: Mutex<Configs>,
    refreshers: tokio::sync::Semaphore,
}

impl HostView {
    pub fn new(runner: illumos::Runner) -> Self {
        HostView {
            runner,
            generation: AtomicU64::new(0),
            listing_seq: AtomicU64::new(0),
            listing: tokio::sync::Mutex::new(None),
            listing_refreshing: std::sync::atomic::AtomicBool::new(false),
            configs: Mutex::new(Configs::default()),
            refreshers: tokio::sync::Semaphore::new(REFRESHERS),
        }
    }

    fn configs(&self) -> std::sync::MutexGuard<'_, Configs> {
        self.configs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the listing and `zone`'s configuration stale; called after each change the agent
    /// makes to a zone.
    pub fn invalidate(&self, zone: &str) {
        let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut c = self.configs();
        c.invalidated.insert(zone.to_owned(), g);
        if c.cached.remove(zone).is_some() {
            c.version += 1;
        }
    }

    /// Every non-global zone.
    pub async fn zones(self: &Arc<Self>) -> Result<Arc<Vec<ZoneEntry>>, ZoneadmError> {
        Ok(self.listing().await?.1)
    }

    /// Every non-global zone, with the number of this listing.
    pub async fn listing(self: &Arc<Self>) -> Result<(u64, Arc<Vec<ZoneEntry>>), ZoneadmError> {
        let mut guard = self.listing.lock().await;
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(l) = guard.as_ref() {
            if l.generation == generation {
                if l.at.elapsed() >= ZONES_TTL
                    && !self.listing_refreshing.swap(true, Ordering::SeqCst)
                {
                    let me = self.clone();
                    tokio::spawn(async move {
                        let fresh = me.read_listing(generation).await;
                        let mut guard = me.listing.lock().await;
                        if let (Ok(mut l), Some(old)) = (fresh, guard.as_ref()) {
                            if me.generation.load(Ordering::SeqCst) == generation {
                                // The same zones in the same states keep the listing's number,
                                // so answers built from it stay reusable.
                                if l.zones == old.zones {
                                    l.seq = old.seq;
                                }
                                *guard = Some(l);
                            }
                        }
                        me.listing_refreshing.store(false, Ordering::SeqCst);
                    });
                }
                return Ok((l.seq, l.zones.clone()));
            }
        }
        let l = self.read_listing(generation).await?;
        let out = (l.seq, l.zones.clone());
        *guard = Some(l);
        Ok(out)
    }

    async fn read_listing(&self, generation: u64) -> Result<Listing, ZoneadmError> {
        let zones: Vec<ZoneEntry> = zoneadm::list(&self.runner)
            .await?
            .into_iter()
            .filter(|z| z.name != "global")
            .collect();
        Ok(Listing {
            at: Instant::now(),
            generation,
            seq: self.listing_seq.fetch_add(1, Ordering::SeqCst) + 1,
            zones: Arc::new(zones),
        })
    }

    pub async fn zone(self: &Arc<Self>, name: &str) -> Result<Option<ZoneEntry>, ZoneadmError> {
        Ok(self.zones().await?.iter().find(|z| z.name == name).cloned())
    }

    /// Bumped whenever a cached configuration changes: with the listing's number, says whether
    /// anything built from these reads can still be reused.
    pub fn configs_version(&self) -> u64 {
        self.configs().version
    }

    /// Caches an export started at `generation` unless the zone was invalidated since.
    fn store_config(&self, zone: &str, generation: u64, c: Option<Arc<ZoneConfig>>) {
        let mut cs = self.configs();
        if cs.invalidated.get(zone).is_some_and(|g| *g > generation) {
            return;
        }
        let same = cs.cached.get(zone).is_some_and(|(_, old)| *old == c);
        cs.cached.insert(zone.to_owned(), (Instant::now(), c));
        if !same {
            cs.version += 1;
        }
    }

    /// A zone's configuration (`zonecfg export`), `None` for an unknown zone.
    pub async fn config(
        self: &Arc<Self>,
        zone: &ZoneName,
    ) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let stale = {
            let mut cs = self.configs();
            match cs.cached.get(zone.as_str()) {
                Some((at, c)) if at.elapsed() < CONFIG_TTL => return Ok(c.clone()),
                Some((_, c)) => {
                    let c = c.clone();
                    if cs.refreshing.insert(zone.to_string()) {
                        Some(c)
                    } else {
                        return Ok(c);
                    }
                }
                None => None,
            }
        };
        if let Some(c) = stale {
            let (me, zone) = (self.clone(), zone.clone());
            tokio::spawn(async move {
                if let Ok(_permit) = me.refreshers.acquire().await {
                    if let Ok(fresh) = zonecfg::export(&me.runner, &zone).await {
                        me.store_config(zone.as_str(), generation, fresh.map(Arc::new));
                    }
                }
                me.configs().refreshing.remove(zone.as_str());
            });
            return Ok(c);
        }
        let c = zonecfg::export(&self.runner, zone).await?.map(Arc::new);
        self.store_config(zone.as_str(), generation, c.clone());
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
