//! The sampler: on an interval (and on `POST /monitoring/collect`) it reads the host's figures
//! once, turns them into the rows the routes answer, stores them and prunes what is older
//! than the retention.
//!
//! It runs on a task of its own, so an API read never waits for it (the routes read the
//! database or their own cached listings); one sample's host reads run in parallel, one
//! process per tool. Samples are serialised (a collect during a timed sample waits for it and
//! then takes its own), so each one's rates are against the one before.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use utoipa::ToSchema;

use illumos::{pagesize, Runner};

use super::host::{self, Reading};
use super::store::{self, NewRow};
use super::view::{self, ArcSample, CpuSample, MemorySample, PoolSample};
use crate::config::MonitoringConfig;
use crate::db::Db;
use crate::error::HostFailure;
use crate::http::error::ApiError;
use crate::time::rfc3339;

/// The newest sample's host-wide figures, for `/metrics`.
#[derive(Debug)]
pub struct Latest {
    pub taken_at: SystemTime,
    /// When the host booted (kstat), seconds since the epoch.
    pub boot_time: u64,
    pub cpu: CpuSample,
    pub memory: MemorySample,
    pub arc: Option<ArcSample>,
    pub pools: Vec<PoolSample>,
}

/// What the sampler has done since the agent started (`/monitoring/status`).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[schema(as = SamplerStats)]
pub struct Stats {
    /// Samples stored.
    pub samples: u64,
    /// Samples that failed (a host tool failed or printed something unreadable).
    pub errors: u64,
    pub last_sample_at: Option<String>,
    /// Wall time of the last sample, host reads and database write.
    pub last_sample_ms: Option<u64>,
    /// CPU the agent process and the tools it ran used during the last sample, in
    /// milliseconds (getrusage of the agent and its reaped children; work of concurrent
    /// requests in that time is counted too, so this is an upper bound).
    pub last_sample_cpu_ms: Option<f64>,
    /// Rows the last sample's prune deleted.
    pub last_pruned: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

/// What one sample stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Collected {
    pub taken_at: String,
    /// Rows stored, by kind (`cpu`, `memory`, `arc`, `link`, `pool`, `pool_io`, `disk_io`).
    pub rows: std::collections::BTreeMap<String, usize>,
    /// Rows older than the retention deleted after this sample.
    pub pruned: usize,
    pub duration_ms: u64,
    pub cpu_ms: f64,
}

pub struct Sampler {
    runner: Runner,
    db: Db,
    pub config: MonitoringConfig,
    /// The previous reading and when it was taken; held across a sample.
    previous: tokio::sync::Mutex<Option<(Instant, Arc<Reading>)>>,
    pagesize: tokio::sync::OnceCell<u64>,
    stats: Mutex<Stats>,
    latest: Mutex<Option<Arc<Latest>>>,
}

/// CPU time of the process and of its reaped children, in milliseconds.
fn cpu_ms() -> f64 {
    let one = |who| {
        // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid value.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut u) } != 0 {
            return 0.0;
        }
        let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
        ms(u.ru_utime) + ms(u.ru_stime)
    };
    one(libc::RUSAGE_SELF) + one(libc::RUSAGE_CHILDREN)
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn json<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(ApiError::internal)
}

impl Sampler {
    pub fn new(runner: Runner, db: Db, config: MonitoringConfig) -> Self {
        Sampler {
            runner,
            db,
            config,
            previous: tokio::sync::Mutex::new(None),
            pagesize: tokio::sync::OnceCell::new(),
            stats: Mutex::default(),
            latest: Mutex::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn latest(&self) -> Option<Arc<Latest>> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Samples every `interval_secs`, the first one interval after start, until the runtime
    /// ends. A failed sample is logged and counted; the next one is taken as usual.
    pub fn spawn(self: &Arc<Self>) {
        if !self.config.enabled {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let every = Duration::from_secs(me.config.interval_secs);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = me.collect().await {
                    tracing::warn!(error = %e.message, cause = ?e.internal, "monitoring sample failed");
                }
            }
        });
    }

    /// Takes one sample now: reads the host, stores the rows, prunes.
    pub async fn collect(&self) -> Result<Collected, ApiError> {
        let mut previous = self.previous.lock().await;
        let (started, cpu_before) = (Instant::now(), cpu_ms());
        let result = self.sample(previous.as_ref()).await;
        let (duration_ms, cpu_used) = (
            started.elapsed().as_millis() as u64,
            ((cpu_ms() - cpu_before) * 100.0).round() / 100.0,
        );
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok((reading, latest, mut collected)) => {
                *previous = Some((started, reading));
                *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(latest);
                collected.duration_ms = duration_ms;
                collected.cpu_ms = cpu_used;
                stats.samples += 1;
                stats.last_sample_at = Some(collected.taken_at.clone());
                stats.last_sample_ms = Some(duration_ms);
                stats.last_sample_cpu_ms = Some(cpu_used);
                stats.last_pruned = collected.pruned as u64;
                Ok(collected)
            }
            Err(e) => {
                stats.errors += 1;
                stats.last_error = Some(e.message.clone());
                stats.last_error_at = Some(crate::time::now_rfc3339());
                Err(e)
            }
        }
    }

    async fn sample(
        &self,
        previous: Option<&(Instant, Arc<Reading>)>,
    ) -> Result<(Arc<Reading>, Arc<Latest>, Collected), ApiError> {
        let run = &self.runner;
        let pagesize = *self
            .pagesize
            .get_or_try_init(|| async { Ok::<_, HostFailure>(pagesize::read(run).await?) })
            .await?;
        let reading = Arc::new(host::read(run).await?);
        let taken_at = SystemTime::now();
        let at = rfc3339(taken_at);
        let before = previous.map(|(t, r)| (r.as_ref(), t.elapsed().as_secs_f64()));
        let cpu = view::cpu(&reading, before.map(|(r, _)| r), &at);
        let memory = view::memory(&reading, pagesize, &at);
        let arc = reading.kstat.arc.as_ref().map(|a| {
            let prev = before.and_then(|(r, _)| r.kstat.arc.as_ref());
            view::arc(a, prev, &at)
        });
        let pools: Vec<PoolSample> = reading.pools.iter().map(|p| view::pool(p, &at)).collect();
        let host_wide = |kind, data| NewRow {
            kind,
            entity: String::new(),
            data,
        };
        let mut rows = vec![
            host_wide(store::CPU, json(&cpu)?),
            host_wide(store::MEMORY, json(&memory)?),
        ];
        if let Some(a) = &arc {
            rows.push(host_wide(store::ARC, json(a)?));
        }
        for u in view::link_usage(&reading, before, &at) {
            rows.push(NewRow {
                kind: store::LINK,
                entity: u.link.clone(),
                data: json(&u)?,
            });
        }
        for p in &pools {
            rows.push(NewRow {
                kind: store::POOL,
                entity: p.pool.clone(),
                data: json(p)?,
            });
        }
        for io in &reading.pool_io {
            rows.push(NewRow {
                kind: store::POOL_IO,
                entity: io.name.clone(),
                data: json(&view::pool_io(io, &at))?,
            });
        }
        for d in view::disk_io(&reading, before, &at) {
            rows.push(NewRow {
                kind: store::DISK_IO,
                entity: d.device_name.clone(),
                data: json(&d)?,
            });
        }
        let mut counts = std::collections::BTreeMap::new();
        for r in &rows {
            *counts.entry(r.kind.to_owned()).or_insert(0) += 1;
        }
        let retention = Duration::from_secs(self.config.retention_hours * 3600);
        let (taken_ms, cutoff_ms) = (
            epoch_ms(taken_at),
            epoch_ms(taken_at.checked_sub(retention).unwrap_or(UNIX_EPOCH)),
        );
        let pruned = self
            .db
            .write(move |c| store::insert_and_prune(c, taken_ms, &rows, cutoff_ms))
            .await?;
        let latest = Arc::new(Latest {
            taken_at,
            boot_time: reading.kstat.system.boot_time,
            cpu,
            memory,
            arc,
            pools,
        });
        let collected = Collected {
            taken_at: at,
            rows: counts,
            pruned,
            duration_ms: 0,
            cpu_ms: 0.0,
        };
        Ok((reading, latest, collected))
    }
}
