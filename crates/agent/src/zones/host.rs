//! Host reads for the zones area: the zone listing (`zoneadm list`) and each zone's
//! configuration (`zonecfg export`), kept between requests and refreshed in the background.
//!
//! The host is the truth; what is kept only saves asking it again:
//! - A read never waits for a host command while there is a previous answer, except when the
//!   agent's own change to a zone has been published and is not in that answer yet: then it
//!   waits for a fresh one (read-your-writes); and except after a failed refresh (below). A task that changed a zone refreshes the
//!   listing before its end is recorded (`settle`), so its change is in every answer by the
//!   time a client can learn of it; a handler's change makes the next read wait.
//! - A configuration is read again only when the zone's `/etc/zones/<zone>.xml` changed
//!   (libzonecfg writes a new file and renames it over the old one at each commit, so its
//!   inode, size, mtime and ctime together tell a change; only `zonecfg export` is parsed,
//!   never the private XML). Where the file cannot be examined, a configuration older than
//!   [`UNSIGNED_CONFIG_TTL`] is read again.
//! - A listing older than [`LISTING_TTL`] is refreshed in the background by the next read, with
//!   the configuration files' signatures: a change made outside the agent shows within about
//!   that time (plus the refresh itself). A task's settle lists the host too but examines only
//!   the files of the zones it changed, so what ages toward that refresh is the last
//!   examination of every file, not the listing. On a big host, where listing every zone and
//!   examining every file takes longer, a background refresh waits [`REFRESH_SHARE`] times as
//!   long as recent ones typically took, up to 2 s plus 13 ms a zone and at most
//!   [`MAX_LISTING_AGE`]: a dashboard's polling then lists the host about 1 / [`REFRESH_SHARE`]
//!   of the wall time until those caps, past which the share grows with the host; a host of a
//!   few zones is listed every 2 s however busy the machine.
//! - A listing is not served as current while the host cannot be read: once it is twice as old
//!   as the spacing allows and the last refresh failed, a read lists the host itself and
//!   answers the failure if that fails too (reads waiting meanwhile share that answer); while a
//!   `zoneadm list` has been running for longer than the spacing and [`HUNG_LISTING`], such a
//!   read answers that at once.
//! - The configurations read are kept in the database with their file signature: after a
//!   restart only the zones whose file changed are exported again.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use illumos::names::{DatasetName, ZoneName};
use illumos::zfs::{self, Dataset, DatasetType};
use illumos::zoneadm::{self, ZoneEntry, ZoneadmError};
use illumos::zonecfg::{self, ZoneConfig, ZonecfgError};

use super::store::{self, KeptConfig};
use crate::config::Config;
use crate::db::Db;

/// A listing this old is refreshed in the background by the next read.
pub const LISTING_TTL: Duration = Duration::from_secs(2);
/// A background refresh waits at least this many times as long as recent ones typically took:
/// refreshing a big host takes about half a percent of one core's time, what a dashboard
/// polling it costs the host (the agent's own answers to it aside).
pub const REFRESH_SHARE: u32 = 200;
/// ... but never longer than this: a change made outside the agent shows within it.
pub const MAX_LISTING_AGE: Duration = Duration::from_secs(15);
/// ... nor longer than [`LISTING_TTL`] and this for each zone listed (15 s at 1,000 zones).
const PER_ZONE: Duration = Duration::from_millis(13);
/// A `zoneadm list` running this long (or longer than the spacing) is taken as hung by a read
/// that would otherwise serve a listing twice as old as the spacing allows.
const HUNG_LISTING: Duration = Duration::from_secs(10);
/// How many recent background refreshes the spacing looks at (their lower median counts, so
/// one or two slowed by a busy moment do not stretch the next wait, and one that found the
/// host's pages warm does not shorten it).
const RECENT_REFRESHES: usize = 4;
/// A configuration whose file cannot be examined is read again after this long.
pub const UNSIGNED_CONFIG_TTL: Duration = Duration::from_secs(30);
/// `zonecfg export`s run at once by a refresh (no herd of 1,000 processes).
const EXPORTERS: usize = 8;
/// Configurations kept in one write small enough to run on an async worker (a few rows).
const SMALL_KEEP: usize = 4;

/// What identifies one version of a zone's configuration file: device, inode, size, mtime and
/// ctime (to the nanosecond).
pub fn file_sig(path: &std::path::Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}:{}:{}.{}:{}.{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

struct Listing {
    at: Instant,
    /// When a refresh last examined every listed zone's configuration file (a task's settle
    /// examines only the zones it has reason to): what ages toward a background refresh, so
    /// that a change made outside the agent shows however often tasks settle.
    swept: Instant,
    /// The generation read before `zoneadm list` ran: every change up to it is in `zones`.
    covers: u64,
    /// Numbers the listings, so a caller can tell two apart.
    seq: u64,
    zones: Arc<Vec<ZoneEntry>>,
}

struct Cached {
    /// `None`: no such zone.
    config: Option<Arc<ZoneConfig>>,
    sig: Option<String>,
    /// The generation read before the export ran.
    covers: u64,
    at: Instant,
}

/// A change the agent made to a zone that no refresh has covered yet.
struct Change {
    zone: String,
    generation: u64,
    /// What made it: `task:<id>` or `request:<id>` (see `illumos::runner::with_origin`).
    origin: Option<Arc<str>>,
    /// Its task has settled but no refresh covered it (the host did not answer).
    settled: bool,
}

#[derive(Default)]
struct Known {
    listing: Option<Listing>,
    configs: HashMap<String, Cached>,
    changes: Vec<Change>,
    /// Bumped whenever what `configs` says changes.
    version: u64,
}

impl Known {
    fn store(&mut self, zone: &str, read: Cached) {
        if self
            .configs
            .get(zone)
            .is_some_and(|c| c.covers > read.covers)
        {
            return;
        }
        let same = self
            .configs
            .get(zone)
            .is_some_and(|old| old.config == read.config);
        self.configs.insert(zone.to_owned(), read);
        if !same {
            self.version += 1;
        }
    }
}

/// Host reads for the zones area (see the module's comment).
pub struct HostView {
    runner: illumos::Runner,
    config: Arc<Config>,
    db: Db,
    generation: AtomicU64,
    listing_seq: AtomicU64,
    known: Mutex<Known>,
    /// One refresh at a time; a read that must wait for a fresh answer takes it too.
    pass: tokio::sync::Mutex<()>,
    /// A background refresh is spawned and has not started yet.
    queued: AtomicBool,
    /// How long the last background refreshes took (see [`REFRESH_SHARE`]).
    recent: Mutex<RecentRefreshes>,
    /// How the last refreshes went (see the module's comment).
    trouble: Mutex<Trouble>,
    /// What refreshes run by a task's settle read, for the database: written once the task's
    /// end is recorded ([`TaskObserver::end_writes`](crate::tasks::engine::TaskObserver)),
    /// not in a commit between the task's last command and its end.
    unkept: Mutex<Unkept>,
}

/// A refresh in progress and the last one's failure.
#[derive(Default)]
struct Trouble {
    /// When the refresh now running started.
    running_since: Option<Instant>,
    /// The last refresh's failure and when it ended; a successful refresh clears it.
    failed: Option<(Instant, ZoneadmError)>,
}

/// The durations of the last few background refreshes, oldest overwritten first.
#[derive(Default)]
struct RecentRefreshes {
    took: [Duration; RECENT_REFRESHES],
    next: usize,
}

impl RecentRefreshes {
    fn record(&mut self, took: Duration) {
        self.took[self.next % RECENT_REFRESHES] = took;
        self.next += 1;
    }

    /// How old the listing may grow before the next background refresh.
    /// How old the listing of `zones` zones may grow before the next background refresh: the
    /// host's size bounds how far it may stretch, so a small host is listed every
    /// [`LISTING_TTL`] however slow a busy machine makes its refreshes.
    fn spacing(&self, zones: usize) -> Duration {
        let seen = self.next.min(RECENT_REFRESHES);
        let mut took = self.took;
        took[..seen].sort();
        // The lower median: typical, and one or two slowed by a busy moment do not count.
        let typical = took[..seen]
            .get(seen.saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default();
        let most = LISTING_TTL
            .saturating_add(PER_ZONE.saturating_mul(u32::try_from(zones).unwrap_or(u32::MAX)))
            .min(MAX_LISTING_AGE);
        typical
            .saturating_mul(REFRESH_SHARE)
            .clamp(LISTING_TTL, most)
    }
}

/// Configurations read and zones gone, not yet written to the database.
#[derive(Default)]
struct Unkept {
    reads: Vec<KeptConfig>,
    gone: Vec<String>,
}

/// Who waits for a refresh: a task's settle (what it read is kept after the task's end) or a
/// read (kept at once).
#[derive(Clone, Copy, PartialEq)]
enum By {
    Settle,
    Read,
}

impl HostView {
    /// Starts from the configurations kept in the database.
    pub fn new(runner: illumos::Runner, config: Arc<Config>, db: Db) -> Self {
        let mut known = Known::default();
        match db.read_blocking(store::kept_configs) {
            Ok(kept) => {
                for k in kept {
                    let cached = Cached {
                        config: Some(Arc::new(zonecfg::parse_export(&k.export))),
                        sig: k.sig,
                        covers: 0,
                        at: Instant::now(),
                    };
                    known.configs.insert(k.name, cached);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the kept zone configurations"),
        }
        HostView {
            runner,
            config,
            db,
            generation: AtomicU64::new(0),
            listing_seq: AtomicU64::new(0),
            known: Mutex::new(known),
            pass: tokio::sync::Mutex::new(()),
            queued: AtomicBool::new(false),
            recent: Mutex::default(),
            trouble: Mutex::default(),
            unkept: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How old the listing may grow before a read refreshes it in the background.
    fn refresh_after(&self) -> Duration {
        let zones = self.known().listing.as_ref().map_or(0, |l| l.zones.len());
        self.spacing_for(zones)
    }

    /// [`HostView::refresh_after`] for a listing of `zones` zones the caller holds.
    fn spacing_for(&self, zones: usize) -> Duration {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spacing(zones)
    }

    fn sig_of(&self, zone: &str) -> Option<String> {
        file_sig(&self.config.host_file(&format!("/etc/zones/{zone}.xml")))
    }

    /// Records a change the agent made to `zone` (its state or configuration); reads wait for
    /// a refresh covering it once the change is published (see the module's comment). No
    /// refresh starts here: a task's own [`HostView::settle`] runs it as its last step, so the
    /// host commands of a task stay one ordered sequence (the crash sweeps count them).
    pub fn invalidate(self: &Arc<Self>, zone: &str) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.known().changes.push(Change {
            zone: zone.to_owned(),
            generation,
            origin: illumos::runner::current_origin(),
            settled: false,
        });
    }

    /// Waits until a listing covers every change made under the current origin (the running
    /// task, or the request): called before a task's end is recorded and before a handler
    /// answers for a change it made, so that whoever learns of the change finds it in every
    /// read, and reads never wait for it.
    pub async fn settle(&self) {
        let me = illumos::runner::current_origin();
        let must = self
            .known()
            .changes
            .iter()
            .filter(|c| c.origin == me)
            .map(|c| c.generation)
            .max();
        if let Some(must) = must {
            if let Err(e) = self.fresh(Some(must), By::Settle).await {
                tracing::warn!(error = %e.detail(), "cannot refresh the zone listing");
            }
            // Covered, or if the host did not answer, left for the next read to wait for.
            for c in self.known().changes.iter_mut().filter(|c| c.origin == me) {
                c.settled = true;
            }
        }
    }

    /// Spawns a background refresh unless one is already waiting to start.
    fn kick(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        rt.spawn(async move {
            let _pass = me.pass.lock().await;
            me.queued.store(false, Ordering::SeqCst);
            let after = me.refresh_after();
            let current = {
                let k = me.known();
                k.listing.as_ref().is_some_and(|l| {
                    l.covers >= me.generation.load(Ordering::SeqCst) && l.swept.elapsed() < after
                })
            };
            if !current {
                let started = Instant::now();
                match me.refresh(By::Read).await {
                    Ok(()) => {
                        let took = started.elapsed();
                        me.recent
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .record(took);
                        tracing::debug!(
                            took_ms = took.as_secs_f64() * 1e3,
                            next_after_ms = me.refresh_after().as_millis() as u64,
                            "refreshed the zone listing"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.detail(), "cannot refresh the zone listing")
                    }
                }
            }
        });
    }

    /// The changes a read must see, by zone: those made by a handler, by the calling task
    /// itself, or by a task that has settled (its end is recorded right after). A change whose
    /// task has not settled may be missing from an answer: no client has been told of it.
    fn published(&self) -> HashMap<String, u64> {
        let me = illumos::runner::current_origin();
        let mut out = HashMap::new();
        for c in &self.known().changes {
            let by_other_task = c
                .origin
                .as_ref()
                .is_some_and(|o| o.starts_with("task:") && me.as_ref() != Some(o));
            if !by_other_task || c.settled {
                let g = out.entry(c.zone.clone()).or_insert(0);
                *g = (*g).max(c.generation);
            }
        }
        out
    }

    /// One refresh; the caller holds `pass`. Lists the zones, reads the configurations that
    /// changed (by file signature, by the agent's own change, or never read), keeps them in
    /// the database, and installs the listing.
    async fn refresh(&self, by: By) -> Result<(), ZoneadmError> {
        /// Clears `running_since` however the refresh ends, a dropped request included (its
        /// `zoneadm` is killed with it): a listing that no longer runs is never taken as hung.
        struct Running<'a>(&'a HostView);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.trouble().running_since = None;
            }
        }
        self.trouble().running_since = Some(Instant::now());
        let running = Running(self);
        let refreshed = self.refresh_now(by).await;
        drop(running);
        if let Err(e) = &refreshed {
            self.trouble().failed = Some((Instant::now(), e.clone()));
        }
        refreshed
    }

    fn trouble(&self) -> std::sync::MutexGuard<'_, Trouble> {
        self.trouble.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`HostView::refresh`] without the bookkeeping of [`Trouble`].
    async fn refresh_now(&self, by: By) -> Result<(), ZoneadmError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let listed = zoneadm::list(&self.runner).await;
        {
            // What may hang or fail is the listing; the exports after it are bounded by their
            // number, and a host that lists its zones is answering.
            let mut t = self.trouble();
            t.running_since = None;
            if listed.is_ok() {
                t.failed = None;
            }
        }
        let zones: Vec<ZoneEntry> = listed?.into_iter().filter(|z| z.name != "global").collect();
        // A read's refresh examines every zone's file: it is how a change made outside the
        // agent shows. A task's settle examines only the zones the agent changed or has not
        // read (a file per zone is what made a task's end grow with the host); the listing it
        // installs keeps the last full sweep's age, so reads still refresh on time.
        // The first listing examines every file whatever runs it: the configurations kept in
        // the database since before a restart are checked against their files there.
        let sweep = by == By::Read || self.known().listing.is_none();
        let examine: Vec<bool> = if sweep {
            vec![true; zones.len()]
        } else {
            let k = self.known();
            zones
                .iter()
                .map(|z| {
                    k.changes.iter().any(|c| c.zone == z.name)
                        || k.configs.get(&z.name).is_none_or(|c| c.config.is_none())
                })
                .collect()
        };
        let sigs: Vec<Option<Option<String>>> = zones
            .iter()
            .zip(&examine)
            .map(|(z, e)| e.then(|| self.sig_of(&z.name)))
            .collect();
        let (todo, gone): (Vec<(ZoneName, Option<String>)>, Vec<String>) = {
            let mut k = self.known();
            let mut changed: HashMap<&str, u64> = HashMap::new();
            for c in &k.changes {
                let g = changed.entry(c.zone.as_str()).or_insert(0);
                *g = (*g).max(c.generation);
            }
            let mut todo = Vec::new();
            let mut unchanged = Vec::new();
            for (z, sig) in zones.iter().zip(&sigs) {
                // Not examined: neither stale nor confirmed, its configuration stays as kept.
                let Some(sig) = sig else { continue };
                let stale = match k.configs.get(&z.name) {
                    // Never read, or read when the zone did not exist yet.
                    None | Some(Cached { config: None, .. }) => true,
                    Some(c) => match (sig, &c.sig) {
                        (Some(now), Some(then)) => now != then,
                        _ => {
                            changed.get(z.name.as_str()).is_some_and(|g| *g > c.covers)
                                || c.at.elapsed() >= UNSIGNED_CONFIG_TTL
                        }
                    },
                };
                if stale {
                    if let Ok(name) = z.name.parse::<ZoneName>() {
                        todo.push((name, sig.clone()));
                    }
                } else {
                    unchanged.push(z.name.clone());
                }
            }
            // An unchanged file covers the agent's changes to the zone's state up to now.
            for name in unchanged {
                if let Some(c) = k.configs.get_mut(&name) {
                    c.covers = c.covers.max(generation);
                }
            }
            let listed: HashSet<&str> = zones.iter().map(|z| z.name.as_str()).collect();
            // A configuration read after a change this listing does not cover (a create's
            // read-back while the host was being listed) is not taken as gone.
            let gone: Vec<String> = k
                .configs
                .iter()
                .filter(|(n, c)| !listed.contains(n.as_str()) && c.covers <= generation)
                .map(|(n, _)| n.clone())
                .collect();
            for n in &gone {
                k.configs.remove(n);
                k.version += 1;
            }
            // Nor may a read not yet written (kept after a task's end) bring a gone zone back.
            self.unkept
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reads
                .retain(|r| !gone.contains(&r.name));
            (todo, gone)
        };
        let exported: Vec<_> = futures_util::stream::iter(todo)
            .map(|(zone, sig)| async move {
                let text = zonecfg::export_text(&self.runner, &zone).await;
                (zone, sig, text)
            })
            .buffer_unordered(EXPORTERS)
            .collect()
            .await;
        // Zones whose export failed keep the agent's changes to them pending, so that the
        // next read exports them again instead of serving the configuration from before.
        let mut unread: HashSet<String> = HashSet::new();
        let mut reads: Vec<KeptConfig> = Vec::with_capacity(exported.len());
        for (zone, sig, text) in exported {
            match text {
                Ok(Some(t)) => reads.push(self.keep(zone.as_str(), generation, sig, t).0),
                // Gone meanwhile: the next listing drops it.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(zone = %zone, error = %e.detail(), "cannot read a zone's configuration");
                    unread.insert(zone.to_string());
                }
            }
        }
        let small = reads.len() + gone.len() <= SMALL_KEEP;
        if by == By::Settle && small {
            // A zone or two: committed after the task's end (`end_writes`), on an async worker.
            let mut u = self.unkept.lock().unwrap_or_else(|p| p.into_inner());
            u.reads.extend(reads);
            u.gone.extend(gone);
        } else if !reads.is_empty() || !gone.is_empty() {
            // What a read keeps is a zone or two after a change: a small write. A cold
            // start's thousand (a read's or a settle's) goes through the pool. (Written now,
            // a settle's many may land before an older few kept after another task's end; the file
            // signature kept with each makes the next read export a zone overwritten so again.)
            let keep = move |c: &mut rusqlite::Connection| store::keep_configs(c, &reads, &gone);
            let kept = if small {
                self.db.write_small(keep).await
            } else {
                self.db.write(keep).await
            };
            if let Err(e) = kept {
                tracing::warn!(error = %e, "cannot keep the zone configurations");
            }
        }
        let mut k = self.known();
        let seq = match &k.listing {
            // The same zones in the same states keep the listing's number, so answers built
            // from it stay reusable.
            Some(old) if *old.zones == zones => old.seq,
            _ => self.listing_seq.fetch_add(1, Ordering::SeqCst) + 1,
        };
        let now = Instant::now();
        let swept = match &k.listing {
            Some(old) if !sweep => old.swept,
            _ => now,
        };
        k.listing = Some(Listing {
            at: now,
            swept,
            covers: generation,
            seq,
            zones: Arc::new(zones),
        });
        k.changes
            .retain(|c| c.generation > generation || unread.contains(&c.zone));
        Ok(())
    }

    /// Files one export read at `generation`; returns what the database keeps of it and the
    /// configuration it says.
    fn keep(
        &self,
        zone: &str,
        generation: u64,
        sig: Option<String>,
        text: String,
    ) -> (KeptConfig, Arc<ZoneConfig>) {
        let config = Arc::new(zonecfg::parse_export(&text));
        let read = Cached {
            config: Some(config.clone()),
            sig: sig.clone(),
            covers: generation,
            at: Instant::now(),
        };
        self.known().store(zone, read);
        let kept = KeptConfig {
            name: zone.to_owned(),
            sig,
            export: text,
        };
        (kept, config)
    }

    /// Every non-global zone.
    pub async fn zones(self: &Arc<Self>) -> Result<Arc<Vec<ZoneEntry>>, ZoneadmError> {
        Ok(self.listing().await?.1)
    }

    /// Every non-global zone, with the number of this listing.
    pub async fn listing(self: &Arc<Self>) -> Result<(u64, Arc<Vec<ZoneEntry>>), ZoneadmError> {
        let have = {
            let k = self.known();
            k.listing.as_ref().map(|l| {
                let (age, swept) = (l.at.elapsed(), l.swept.elapsed());
                (l.covers, l.seq, l.zones.clone(), age, swept)
            })
        };
        if let Some((covers, seq, zones, age, swept)) = have {
            let must = self.published().into_values().max().unwrap_or(0);
            if must > covers {
                return self.fresh(Some(must), By::Read).await;
            }
            // The spacing is never under the TTL: a young listing is served without more (the
            // sweep is never younger than the listing).
            if swept < LISTING_TTL {
                return Ok((seq, zones));
            }
            let after = self.spacing_for(zones.len());
            if age >= after * 2 {
                let (hung, failed) = {
                    let t = self.trouble();
                    let hung = t
                        .running_since
                        .map(|s| s.elapsed())
                        .filter(|w| *w >= after.max(HUNG_LISTING));
                    (hung, t.failed.is_some())
                };
                if let Some(waited) = hung {
                    return Err(unanswered(waited));
                }
                if failed {
                    return self.relist(seq, after.max(HUNG_LISTING)).await;
                }
            }
            if swept >= after {
                self.kick();
            }
            return Ok((seq, zones));
        }
        self.fresh(None, By::Read).await
    }

    /// Lists the host now, for a read that may not be answered from listing `seq` (the last
    /// refresh failed): a listing another read made meanwhile is taken, and so is a failure
    /// that ended while this one waited (a host that keeps failing is asked once, not once per
    /// waiting read).
    async fn relist(
        &self,
        seq: u64,
        patience: Duration,
    ) -> Result<(u64, Arc<Vec<ZoneEntry>>), ZoneadmError> {
        let entered = Instant::now();
        // A refresh that holds the pass longer than a listing may take is hung: said at once
        // rather than waited for up to the command's timeout.
        let Ok(_pass) = tokio::time::timeout(patience, self.pass.lock()).await else {
            return Err(unanswered(entered.elapsed()));
        };
        {
            let k = self.known();
            if let Some(l) = k.listing.as_ref().filter(|l| l.at.elapsed() < LISTING_TTL) {
                return Ok((l.seq, l.zones.clone()));
            }
        }
        if let Some((at, e)) = &self.trouble().failed {
            if *at >= entered {
                return Err(e.clone());
            }
        }
        self.refresh(By::Read).await?;
        let k = self.known();
        let l = k.listing.as_ref().expect("a refresh installs a listing");
        tracing::debug!(
            was = seq,
            now = l.seq,
            "listed the host after a failed refresh"
        );
        Ok((l.seq, l.zones.clone()))
    }

    /// Waits for (or makes) a listing that covers generation `must` (`None`: any listing).
    async fn fresh(
        &self,
        must: Option<u64>,
        by: By,
    ) -> Result<(u64, Arc<Vec<ZoneEntry>>), ZoneadmError> {
        let _pass = self.pass.lock().await;
        let covered = |k: &Known| {
            k.listing
                .as_ref()
                .filter(|l| must.is_none_or(|m| l.covers >= m))
                .map(|l| (l.seq, l.zones.clone()))
        };
        if let Some(out) = covered(&self.known()) {
            return Ok(out);
        }
        self.refresh(by).await?;
        let k = self.known();
        let l = k.listing.as_ref().expect("a refresh installs a listing");
        Ok((l.seq, l.zones.clone()))
    }

    pub async fn zone(self: &Arc<Self>, name: &str) -> Result<Option<ZoneEntry>, ZoneadmError> {
        Ok(self.zones().await?.iter().find(|z| z.name == name).cloned())
    }

    /// Bumped whenever a kept configuration changes: with the listing's number, says whether
    /// anything built from these reads can still be reused.
    pub fn configs_version(&self) -> u64 {
        self.known().version
    }

    /// The configurations of `zones` (as listed): what is kept, and for a zone never read or
    /// with a published change not read yet, a fresh export (at most [`EXPORTERS`] at once).
    /// `None` where the zone is gone or its configuration cannot be read.
    pub async fn configs(self: &Arc<Self>, zones: &[ZoneEntry]) -> Vec<Option<Arc<ZoneConfig>>> {
        let must = self.published();
        let mut out: Vec<Option<Arc<ZoneConfig>>> = Vec::with_capacity(zones.len());
        let mut missing = Vec::new();
        {
            let k = self.known();
            for (i, z) in zones.iter().enumerate() {
                match k.configs.get(&z.name) {
                    Some(c) if must.get(&z.name).is_none_or(|g| *g <= c.covers) => {
                        out.push(c.config.clone())
                    }
                    _ => {
                        out.push(None);
                        missing.push(i);
                    }
                }
            }
        }
        let fetched: Vec<(usize, Option<Arc<ZoneConfig>>)> = futures_util::stream::iter(missing)
            .map(|i| async move {
                let c = match zones[i].name.parse::<ZoneName>() {
                    Ok(z) => self.read_config(&z).await.ok().flatten(),
                    Err(_) => None,
                };
                (i, c)
            })
            .buffer_unordered(EXPORTERS)
            .collect()
            .await;
        for (i, c) in fetched {
            out[i] = c;
        }
        out
    }

    /// A zone's configuration (`zonecfg export`), `None` for an unknown zone: what is kept,
    /// unless a published change of the agent's is not in it yet.
    pub async fn config(
        self: &Arc<Self>,
        zone: &ZoneName,
    ) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        let kept = {
            let k = self.known();
            k.configs
                .get(zone.as_str())
                .map(|c| (c.covers, c.config.clone()))
        };
        if let Some((covers, config)) = kept {
            let must = self.published();
            if must.get(zone.as_str()).is_none_or(|g| *g <= covers) {
                return Ok(config);
            }
        }
        self.read_config(zone).await
    }

    /// Exports the zone's configuration now and keeps it.
    pub(crate) async fn read_config(
        &self,
        zone: &ZoneName,
    ) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        self.export_and_keep(&self.runner, zone, By::Read).await
    }

    /// [`HostView::read_config`] for a running task, with its runner (the export is in the
    /// task's log and stops with it): what it reads goes to the database after the task's end,
    /// not in a commit between the task's commands, and the task's settle does not
    /// export the zone again unless its configuration file changes meanwhile.
    pub(crate) async fn read_config_in_task(
        &self,
        run: &illumos::Runner,
        zone: &ZoneName,
    ) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        self.export_and_keep(run, zone, By::Settle).await
    }

    async fn export_and_keep(
        &self,
        run: &illumos::Runner,
        zone: &ZoneName,
        by: By,
    ) -> Result<Option<Arc<ZoneConfig>>, ZonecfgError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let sig = self.sig_of(zone.as_str());
        match zonecfg::export_text(run, zone).await? {
            Some(text) => {
                // What this export said, even if a newer read is kept meanwhile.
                let (kept, config) = self.keep(zone.as_str(), generation, sig, text);
                let config = Some(config);
                if by == By::Settle {
                    self.unkept
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .reads
                        .push(kept);
                } else if let Err(e) = self
                    .db
                    .write_small(move |c| store::keep_configs(c, &[kept], &[]))
                    .await
                {
                    tracing::warn!(error = %e, "cannot keep a zone configuration");
                }
                Ok(config)
            }
            None => {
                let mut k = self.known();
                k.store(
                    zone.as_str(),
                    Cached {
                        config: None,
                        sig,
                        covers: generation,
                        at: Instant::now(),
                    },
                );
                Ok(None)
            }
        }
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

/// A task that changed a zone ends only once the listing shows the change.
impl crate::tasks::engine::TaskObserver for HostView {
    fn finished(&self, _task: &crate::tasks::Task) {}

    fn settle<'a>(
        &'a self,
        _task: &'a crate::tasks::Task,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(HostView::settle(self))
    }

    fn end_writes(&self) -> Vec<crate::tasks::store::EndWrite> {
        let Unkept { reads, gone } =
            std::mem::take(&mut *self.unkept.lock().unwrap_or_else(|p| p.into_inner()));
        if reads.is_empty() && gone.is_empty() {
            return Vec::new();
        }
        vec![Box::new(move |c| store::keep_configs_in(c, &reads, &gone))]
    }
}

/// The answer for a `zoneadm list` that has run `waited` without ending.
fn unanswered(waited: Duration) -> ZoneadmError {
    ZoneadmError {
        op: "list",
        zone: "*".into(),
        kind: zoneadm::ZoneadmFailure::Unanswered {
            argv: "zoneadm list -cp".into(),
            waited,
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_refreshes_are_spaced_by_what_recent_ones_took() {
        let ms = Duration::from_millis;
        let mut r = RecentRefreshes::default();
        // Nothing measured yet, and a quick host: the listing's TTL.
        assert_eq!(r.spacing(1000), LISTING_TTL);
        r.record(ms(3));
        assert_eq!(r.spacing(1000), LISTING_TTL);
        // A big host: two hundred times the refresh.
        let mut big = RecentRefreshes::default();
        big.record(ms(40));
        assert_eq!(big.spacing(1000), ms(8000));
        // One or two refreshes slowed by a busy moment do not stretch the wait (the lower
        // median of the last four counts), nor does one that found everything warm shorten it.
        big.record(ms(900));
        assert_eq!(big.spacing(1000), ms(8000));
        big.record(ms(50));
        big.record(ms(900));
        assert_eq!(big.spacing(1000), ms(10000));
        big.record(ms(5));
        assert_eq!(big.spacing(1000), ms(10000));
        // Once most recent ones are slow, they count; never past the longest age.
        for _ in 0..RECENT_REFRESHES {
            big.record(ms(900));
        }
        assert_eq!(big.spacing(1000), MAX_LISTING_AGE);
        assert_eq!(big.spacing(100_000), MAX_LISTING_AGE);
        // A small host on a busy machine: its size bounds the wait.
        assert_eq!(big.spacing(10), ms(2130));
        assert_eq!(big.spacing(0), LISTING_TTL);
    }
}
