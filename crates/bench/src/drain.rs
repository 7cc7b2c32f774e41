//! A queue drained at the concurrency limit: `TASKS` zone restarts across `ZONES` running
//! zones, queued at once behind gate tasks that hold every slot, then timed from the gates'
//! end. Reports the drain time against the ideal (the sum of the host commands' own times
//! divided by the limit) and the longest stretch in which fewer tasks ran than the limit
//! while a task that could have run (its zone free) was waiting.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::agent::Agent;
use crate::load::BlockingConn;
use crate::{parse_ts, Row};

const ZONES: usize = 50;
const PER_ZONE: usize = 4;
const LIMIT: usize = 8;

/// A task's interval as recorded by the agent (seconds within the day).
struct Span {
    zone: String,
    created: f64,
    started: f64,
    completed: f64,
}

fn span(t: &Value) -> Span {
    Span {
        zone: t["zone_name"].as_str().unwrap_or("").to_owned(),
        created: parse_ts(&t["created_at"]),
        started: parse_ts(&t["started_at"]),
        completed: parse_ts(&t["completed_at"]),
    }
}

/// The longest and the total time within `[from, to]` in which fewer than `LIMIT` tasks ran
/// while some waiting task's zone had nothing running (it could have started).
fn idle_while_runnable(spans: &[Span], from: f64, to: f64) -> (f64, f64) {
    let mut cuts: Vec<f64> = spans
        .iter()
        .flat_map(|s| [s.created, s.started, s.completed])
        .filter(|t| *t > from && *t < to)
        .collect();
    cuts.push(from);
    cuts.push(to);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let (mut longest, mut total, mut run) = (0.0f64, 0.0, 0.0);
    for w in cuts.windows(2) {
        let mid = (w[0] + w[1]) / 2.0;
        let running: Vec<&Span> = spans
            .iter()
            .filter(|s| s.started <= mid && mid < s.completed)
            .collect();
        let runnable = spans.iter().any(|s| {
            s.created <= mid
                && mid < s.started
                && !running
                    .iter()
                    .any(|r| !r.zone.is_empty() && r.zone == s.zone)
        });
        if running.len() < LIMIT && runnable {
            run += w[1] - w[0];
            total += w[1] - w[0];
            longest = longest.max(run);
        } else {
            run = 0.0;
        }
    }
    (longest, total)
}

pub fn run(root: &Path, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(
        &root.join("drain"),
        &format!("zones:\n  max_concurrent_tasks: {LIMIT}\n"),
    );
    let host = agent.dir.join("host");
    crate::zones::zero_delays(&host);
    agent.start();
    let mut conn = BlockingConn::open(&agent);
    crate::zone_reads::create_and_boot(&mut conn, "drain", ZONES);

    // Gates hold every slot while the restarts are queued, so all of them wait at once.
    let mut gates = Vec::new();
    for _ in 0..LIMIT {
        let (_, r) = conn.json(
            "POST",
            "/tasks",
            Some(&json!({"operation": "noop", "duration_ms": 1500})),
        );
        gates.push(r["task_id"].as_str().expect("gate").to_owned());
    }
    let queued_at = Instant::now();
    let mut ids = Vec::new();
    for round in 0..PER_ZONE {
        for i in 0..ZONES {
            let (status, r) = conn.json("POST", &format!("/zones/drain{i}/restart"), None);
            assert_eq!(status, 202, "restart {round} of drain{i} refused: {r}");
            ids.push(r["task_id"].as_str().expect("restart task").to_owned());
        }
    }
    let queueing = queued_at.elapsed();
    for id in &ids {
        let (_, t) = conn.json("GET", &format!("/tasks/{id}/wait?timeout=300"), None);
        assert_eq!(t["status"], "completed", "restart failed: {t}");
    }
    let get = |conn: &mut BlockingConn, id: &str| conn.json("GET", &format!("/tasks/{id}"), None).1;
    let gate_spans: Vec<Span> = gates.iter().map(|id| span(&get(&mut conn, id))).collect();
    let work: Vec<Span> = ids.iter().map(|id| span(&get(&mut conn, id))).collect();
    assert!(
        work.iter()
            .all(|s| gate_spans.iter().all(|g| s.created < g.completed)),
        "a restart was queued after a gate ended: lengthen the gates"
    );
    let from = gate_spans
        .iter()
        .map(|g| g.completed)
        .fold(f64::INFINITY, f64::min);
    let to = work.iter().map(|s| s.completed).fold(0.0, f64::max);
    let drain_ms = (to - from) * 1e3;

    // The host commands the restarts ran (their origin is their task), their own run times.
    let mine: std::collections::HashSet<String> = ids.iter().map(|i| format!("task:{i}")).collect();
    let log = std::fs::read_to_string(host.join("invocations.log")).unwrap_or_default();
    let (mut command_ms, mut commands) = (0.0, 0usize);
    for v in log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if v["origin"].as_str().is_some_and(|o| mine.contains(o)) {
            command_ms += v["ms"].as_f64().unwrap_or(0.0);
            commands += 1;
        }
    }
    let ideal_ms = command_ms / LIMIT as f64;
    let mut all = gate_spans;
    all.extend(work);
    let (longest, idle) = idle_while_runnable(&all, from, to);
    let in_tasks: f64 = all[LIMIT..]
        .iter()
        .map(|s| (s.completed - s.started) * 1e3)
        .sum();
    let total = ZONES * PER_ZONE;
    rows.push(Row {
        what: format!(
            "{total} restarts queued at once ({:.0} ms to queue) across {ZONES} zones, limit {LIMIT}: drain time / sum of their {commands} host commands' times ÷ {LIMIT}",
            queueing.as_secs_f64() * 1e3
        ),
        value: format!(
            "{drain_ms:.0} ms / {ideal_ms:.0} ms ({:.2}×)",
            drain_ms / ideal_ms
        ),
        target: String::new(),
    });
    rows.push(Row {
        what: format!(
            "that drain: longest / total time with fewer than {LIMIT} tasks running while one could start"
        ),
        value: format!("{:.2} ms / {:.2} ms", longest * 1e3, idle * 1e3),
        target: "no idle gaps".into(),
    });
    rows.push(Row {
        what: "that drain: time inside a task beyond its host commands, per task".into(),
        value: format!("{:.2} ms", (in_tasks - command_ms) / total as f64),
        target: String::new(),
    });
    agent.stop();
}
