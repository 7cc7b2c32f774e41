//! `/metrics` in Prometheus text format: requests by route and status, request latency, tasks
//! by operation and status, host command durations.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::tasks::engine::TaskObserver;
use crate::tasks::Task;

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

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
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
        self.commands
            .get_or_create(&ToolLabels {
                tool: cmd.tool().name().to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}
