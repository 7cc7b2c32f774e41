//! `/metrics` in Prometheus text format: requests by route and status, request latency, tasks
//! by operation and status, host command durations; and, read at each scrape, gauges of the
//! zones by state and brand, the tasks by status and the queue depth, and the host's figures
//! from the monitoring sampler's last sample.
//!
//! Two text formats, by the scraper's `Accept`: OpenMetrics 1.0 when it asks for
//! `application/openmetrics-text` (Prometheus does), where a counter's `# TYPE` names the
//! family (`x`) and its samples carry `x_total`, ending in `# EOF`; otherwise the Prometheus
//! text format 0.0.4, where the `# HELP`/`# TYPE` lines name the sample itself (`x_total`), as
//! a 0.0.4 parser requires to type the samples (the official Python parser files a sample
//! whose name its `# TYPE` line does not name as an untyped family of its own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use prometheus_client::metrics::gauge::Gauge;

use crate::monitoring::sampler::Latest;
use crate::tasks::engine::TaskObserver;
use crate::tasks::model::TaskStatus;
use crate::tasks::Task;

/// What the per-scrape gauges read: gathered by the handler, which can wait for the zones
/// listing and the database.
#[derive(Default)]
pub struct Snapshot {
    /// (state, brand) of every zone; `None` when the listing could not be read.
    pub zones: Option<Vec<(String, String)>>,
    /// Tasks by status; `None` when the database could not be read.
    pub tasks: Option<std::collections::HashMap<TaskStatus, i64>>,
    pub host: Option<std::sync::Arc<Latest>>,
}

/// The Prometheus text format's content type, and OpenMetrics'.
pub const TEXT_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    tasks: Family<TaskLabels, Counter>,
    commands: HistogramFamily<ToolLabels>,
    /// The family's histogram of each tool and outcome once looked up: a host command's end
    /// then builds no label strings and hashes none (it is on every task's path).
    command_histograms: Mutex<HashMap<(illumos::Tool, &'static str), Histogram>>,
}

fn seconds_buckets() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("zoneweaver");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RouteLabels> = Family::new_with_constructor(seconds_buckets);
        let tasks = Family::<TaskLabels, Counter>::default();
        let commands: HistogramFamily<ToolLabels> = Family::new_with_constructor(seconds_buckets);
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "tasks_finished",
            "Tasks that ended, by operation and status",
            tasks.clone(),
        );
        registry.register(
            "host_command_duration_seconds",
            "Host tool run time by tool and outcome",
            commands.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            tasks,
            commands,
            command_histograms: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics exposition: the process's own figures, then `snap`'s gauges.
    pub fn render(&self, snap: &Snapshot) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let gauges = snapshot_registry(snap);
        if encode_registry(&mut out, &registry).is_err()
            || encode_registry(&mut out, &gauges).is_err()
            || encode_eof(&mut out).is_err()
        {
            out.clear();
        }
        out
    }
}

/// The same exposition in the Prometheus text format 0.0.4: each counter's `# HELP` and
/// `# TYPE` name its `_total` samples, and there is no `# EOF` (nor `# UNIT`, which 0.0.4
/// does not have).
pub fn to_text_0_0_4(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) && !name.ends_with("_total") {
                    out.push_str(&format!("{p}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZoneLabels {
    state: String,
    brand: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeriodLabels {
    period: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolHealthLabels {
    pool: String,
    health: String,
}

const TASK_STATUSES: [TaskStatus; 5] = [
    TaskStatus::Pending,
    TaskStatus::Running,
    TaskStatus::Completed,
    TaskStatus::Failed,
    TaskStatus::Cancelled,
];

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

fn gauge(r: &mut Registry, name: &str, help: &str, v: f64) {
    let g = FloatGauge::default();
    g.set(v);
    r.register(name, help, g);
}

fn family<L>(r: &mut Registry, name: &str, help: &str, rows: impl IntoIterator<Item = (L, f64)>)
where
    L: Clone + std::fmt::Debug + std::hash::Hash + Eq + EncodeLabelSet + Send + Sync + 'static,
{
    let f = Family::<L, FloatGauge>::default();
    for (labels, v) in rows {
        f.get_or_create(&labels).set(v);
    }
    r.register(name, help, f);
}

/// The per-scrape gauges: a family is left out when its source could not be read (or, for
/// the host's figures, before the first sample), rather than shown as zeros.
fn snapshot_registry(snap: &Snapshot) -> Registry {
    let mut r = Registry::with_prefix("zoneweaver");
    if let Some(zones) = &snap.zones {
        let mut by: std::collections::BTreeMap<(String, String), f64> = Default::default();
        for z in zones {
            *by.entry(z.clone()).or_default() += 1.0;
        }
        family(
            &mut r,
            "zones",
            "Zones by state and brand (zoneadm list)",
            by.into_iter()
                .map(|((state, brand), n)| (ZoneLabels { state, brand }, n)),
        );
    }
    if let Some(tasks) = &snap.tasks {
        let count = |s: TaskStatus| tasks.get(&s).copied().unwrap_or(0) as f64;
        family(
            &mut r,
            "tasks",
            "Tasks in the database by status",
            TASK_STATUSES.into_iter().map(|s| {
                (
                    StatusLabels {
                        status: s.as_str().to_owned(),
                    },
                    count(s),
                )
            }),
        );
        gauge(
            &mut r,
            "task_queue_depth",
            "Tasks waiting to start (pending)",
            count(TaskStatus::Pending),
        );
    }
    if let Some(h) = &snap.host {
        host_gauges(&mut r, h);
    }
    r
}

fn host_gauges(r: &mut Registry, h: &Latest) {
    let at = h
        .taken_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    gauge(
        r,
        "host_sample_timestamp_seconds",
        "When the monitoring sampler's last sample was taken (Unix time)",
        at,
    );
    let (c, m) = (&h.cpu, &h.memory);
    gauge(
        r,
        "host_cpu_utilization_percent",
        "Processor time not idle over the last sample's interval, all processors",
        c.cpu_utilization_pct,
    );
    gauge(
        r,
        "host_cpus",
        "Processors the host reports",
        c.cpu_count as f64,
    );
    family(
        r,
        "host_load_average",
        "Load averages (kstat avenrun) by period",
        [
            ("1m", c.load_avg_1min),
            ("5m", c.load_avg_5min),
            ("15m", c.load_avg_15min),
        ]
        .map(|(p, v)| (PeriodLabels { period: p.into() }, v)),
    );
    let bytes = [
        (
            "host_memory_total_bytes",
            "Physical memory",
            m.total_memory_bytes,
        ),
        (
            "host_memory_used_bytes",
            "Physical memory in use",
            m.used_memory_bytes,
        ),
        (
            "host_memory_free_bytes",
            "Physical memory free",
            m.free_memory_bytes,
        ),
        (
            "host_swap_total_bytes",
            "Virtual swap (swap -s used + available)",
            m.swap_total_bytes,
        ),
        (
            "host_swap_used_bytes",
            "Virtual swap allocated and reserved",
            m.swap_used_bytes,
        ),
    ];
    for (name, help, v) in bytes {
        gauge(r, name, help, v as f64);
    }
    if let Some(a) = &h.arc {
        gauge(r, "host_arc_size_bytes", "ZFS ARC size", a.arc_size as f64);
        gauge(
            r,
            "host_arc_target_bytes",
            "ZFS ARC target size (c)",
            a.arc_target_size as f64,
        );
        gauge(
            r,
            "host_arc_max_bytes",
            "ZFS ARC maximum size (c_max)",
            a.arc_max_size as f64,
        );
        gauge(
            r,
            "host_arc_hit_ratio_percent",
            "ZFS ARC lookups that hit over the last sample's interval",
            a.hit_ratio,
        );
    }
    type Figure = fn(&crate::monitoring::view::PoolSample) -> u64;
    let figures: [(&str, &str, Figure); 4] = [
        ("host_pool_size_bytes", "Pool size", |p| p.size_bytes),
        ("host_pool_allocated_bytes", "Pool space allocated", |p| {
            p.alloc_bytes
        }),
        ("host_pool_free_bytes", "Pool space free", |p| p.free_bytes),
        (
            "host_pool_capacity_percent",
            "Pool space allocated, percent",
            |p| p.capacity,
        ),
    ];
    for (name, help, figure) in figures {
        let rows = h.pools.iter().map(|p| {
            let labels = PoolLabels {
                pool: p.pool.clone(),
            };
            (labels, figure(p) as f64)
        });
        family(r, name, help, rows);
    }
    family(
        r,
        "host_pool_health",
        "1 for each pool, labelled with its health (ONLINE, DEGRADED, ...)",
        h.pools.iter().map(|p| {
            (
                PoolHealthLabels {
                    pool: p.pool.clone(),
                    health: p.health.clone(),
                },
                1.0,
            )
        }),
    );
}

impl TaskObserver for Metrics {
    fn finished(&self, task: &Task) {
        self.tasks
            .get_or_create(&TaskLabels {
                operation: task.operation.clone(),
                status: task.status.as_str().to_owned(),
            })
            .inc();
    }
}

impl illumos::OutputSink for Metrics {
    fn line(&self, _: illumos::Stream, _: &str) {}

    fn finished(&self, cmd: &illumos::Cmd, elapsed: Duration, exit_code: Option<i32>) {
        let outcome = match exit_code {
            Some(0) => "ok",
            Some(_) => "failed",
            None => "killed",
        };
        let mut known = self
            .command_histograms
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        known
            .entry((cmd.tool(), outcome))
            .or_insert_with(|| {
                self.commands
                    .get_or_create(&ToolLabels {
                        tool: cmd.tool().name().to_owned(),
                        outcome: outcome.to_owned(),
                    })
                    .clone()
            })
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_0_0_4_names_counter_samples_in_help_and_type_and_drops_eof() {
        let om = "# HELP zw_requests Requests.\n# TYPE zw_requests counter\nzw_requests_total{a=\"b\"} 1\n# HELP zw_up Up.\n# TYPE zw_up gauge\nzw_up 1\n# UNIT zw_up seconds\n# EOF\n";
        assert_eq!(
            to_text_0_0_4(om),
            "# HELP zw_requests_total Requests.\n# TYPE zw_requests_total counter\nzw_requests_total{a=\"b\"} 1\n# HELP zw_up Up.\n# TYPE zw_up gauge\nzw_up 1\n"
        );
    }

    /// A tool's histogram, once looked up, is still the one the registry renders.
    #[test]
    fn host_commands_are_counted_by_tool_and_outcome() {
        let m = Metrics::default();
        let zfs = illumos::Cmd::new(illumos::Tool::Zfs).arg("list");
        for code in [Some(0), Some(0), Some(1)] {
            illumos::OutputSink::finished(&m, &zfs, Duration::from_millis(2), code);
        }
        let text = m.render(&Snapshot::default());
        let count = |outcome: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("zoneweaver_host_command_duration_seconds_count")
                        && l.contains(&format!("outcome=\"{outcome}\""))
                })
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(count("ok").as_deref(), Some("2"), "{text}");
        assert_eq!(count("failed").as_deref(), Some("1"), "{text}");
    }

    #[test]
    fn families_without_a_source_are_left_out_not_zeroed() {
        let m = Metrics::default();
        let none = m.render(&Snapshot::default());
        assert!(!none.contains("zoneweaver_zones"), "{none}");
        assert!(!none.contains("host_memory"), "{none}");
        assert!(none.ends_with("# EOF\n"), "{none}");
        let snap = Snapshot {
            zones: Some(vec![
                ("running".into(), "bhyve".into()),
                ("running".into(), "bhyve".into()),
                ("installed".into(), "bhyve".into()),
            ]),
            tasks: Some([(TaskStatus::Pending, 3)].into_iter().collect()),
            host: None,
        };
        let text = m.render(&snap);
        assert!(
            text.contains("zoneweaver_zones{state=\"running\",brand=\"bhyve\"} 2.0"),
            "{text}"
        );
        assert!(text.contains("zoneweaver_task_queue_depth 3.0"), "{text}");
        assert!(
            text.contains("zoneweaver_tasks{status=\"failed\"} 0.0"),
            "{text}"
        );
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    }
}
