//! `zoneweaver-bench`: measures the real agent binary over HTTPS against the emulated host and
//! prints a table. Build first: `cargo build --release --workspace`, then run
//! `target/release/zoneweaver-bench [--quick] [SECTION...]` (sections: start, tasks, chain,
//! drain, network, zones (with zones-burst), pipeline, vnc, consoles; all by default; zones-burst alone,
//! and zones-scale, 1,000 zones, with zones-warm, its warm loads alone, and zones-refresh, its
//! background refresh rows alone, only when named).
//! A long mixed load: `target/release/zoneweaver-bench soak --minutes N [--clients C]`.

mod agent;
mod consoles;
mod drain;
mod load;
mod network;
mod pipeline;
mod soak;
mod stamped;
mod vnc;
mod zone_reads;
mod zones;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use agent::Agent;
use load::{get_load, Load};

pub struct Row {
    pub what: String,
    pub value: String,
    pub target: String,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

const SECTIONS: [&str; 13] = [
    "start",
    "tasks",
    "chain",
    "drain",
    "network",
    "zones",
    "zones-burst",
    "zones-scale",
    "zones-warm",
    "zones-refresh",
    "pipeline",
    "vnc",
    "consoles",
];

/// The value after `--name` on the command line.
fn flag(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).and_then(|v| v.parse().ok())
}

fn main() {
    let root = std::env::temp_dir().join(format!("zoneweaver-bench-{}", std::process::id()));
    if std::env::args().nth(1).as_deref() == Some("soak") {
        let minutes = flag("--minutes").unwrap_or(10);
        let clients = flag("--clients").unwrap_or(64) as usize;
        let ok = soak::run(&root, minutes, clients);
        let _ = std::fs::remove_dir_all(&root);
        std::process::exit(if ok { 0 } else { 1 });
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let picked: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if let Some(bad) = picked.iter().find(|p| !SECTIONS.contains(p)) {
        eprintln!(
            "unknown section {bad}; usage: zoneweaver-bench [--quick] [{}]...",
            SECTIONS.join("|")
        );
        std::process::exit(2);
    }
    let on = |s: &str| picked.is_empty() || picked.contains(&s);
    let mut rows = Vec::new();
    let secs = if quick { 2.0 } else { 5.0 };

    if on("start") {
        startup_and_rss(&root, &mut rows);
    }
    if on("tasks") {
        task_reads(&root, secs, &mut rows);
    }
    if on("chain") {
        chained_tasks(&root, if quick { 200 } else { 1000 }, &mut rows);
    }
    if on("drain") {
        drain::run(&root, &mut rows);
    }
    if on("network") {
        network::run(&root, quick, &mut rows);
    }
    if on("zones") {
        let (creates, listed) = if quick { (20, 100) } else { (100, 500) };
        zones::run(&root, creates, listed, secs, &mut rows);
    }
    // The burst is part of `zones`; the 1,000-zone rows take minutes and run only when named.
    if on("zones") || picked.contains(&"zones-burst") {
        zone_reads::burst(&root, 50, &mut rows);
    }
    if picked.contains(&"zones-warm") {
        zone_reads::warm(&root, secs, &mut rows);
    }
    if picked.contains(&"zones-refresh") {
        zone_reads::refresh(&root, secs, &mut rows);
    }
    if picked.contains(&"zones-scale") {
        zone_reads::scale(&root, secs, &mut rows);
    }
    if on("pipeline") {
        pipeline::run(&root, if quick { 3 } else { 10 }, &mut rows);
    }
    if on("vnc") {
        vnc::run(&root, if quick { 20 } else { 100 }, &mut rows);
    }
    if on("consoles") {
        consoles::run(&root, if quick { 200 } else { 1000 }, &mut rows);
    }

    println!("\n| measurement | value | target |\n|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.what, r.value, r.target);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// GET /tasks (and /health, the TLS ceiling) under load.
fn task_reads(root: &std::path::Path, secs: f64, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("load"), "zones:\n  max_concurrent_tasks: 8\n");
    agent.start();
    seed_tasks(&agent, 100);
    let page_bytes = agent.get_raw("/tasks").len();
    for (path, conns, label) in [
        (
            "/tasks",
            1usize,
            format!(
                "GET /tasks (page of 50 tasks, {} KiB), 1 connection",
                page_bytes / 1024
            ),
        ),
        (
            "/tasks",
            32,
            format!(
                "GET /tasks (page of 50 tasks, {} KiB), 32 connections",
                page_bytes / 1024
            ),
        ),
        (
            "/tasks?limit=5",
            32,
            "GET /tasks?limit=5, 32 connections".to_owned(),
        ),
        (
            "/health",
            32,
            "GET /health (no key, no database; the TLS ceiling), 32 connections".to_owned(),
        ),
    ] {
        let Load {
            rps,
            p50_ms: p50,
            p99_ms: p99,
            errors,
        } = get_load(&agent, path, conns, Duration::from_secs_f64(secs));
        let targeted = path == "/tasks" && conns == 32;
        rows.push(Row {
            what: format!("{label}: throughput"),
            value: format!("{rps:.0} req/s"),
            target: if targeted {
                "> 5,000 req/s".into()
            } else {
                String::new()
            },
        });
        rows.push(Row {
            what: format!("{label}: p50 / p99"),
            value: format!(
                "{p50:.2} ms / {p99:.2} ms{}",
                if errors > 0 {
                    format!(" ({errors} errors)")
                } else {
                    String::new()
                }
            ),
            target: if targeted {
                "p99 < 20 ms".into()
            } else {
                String::new()
            },
        });
    }
    let first = fresh_connection_requests(&agent, 200);
    rows.push(Row {
        what: "first request on a new connection (TCP, TLS, GET /tasks?limit=5): p50 / p99".into(),
        value: format!(
            "{:.2} ms / {:.2} ms",
            percentile(&first, 0.5),
            percentile(&first, 0.99)
        ),
        target: "p99 < 3 ms".into(),
    });
    rows.push(Row {
        what: "RSS after the load".into(),
        value: format!("{:.1} MiB", agent.rss_kib() as f64 / 1024.0),
        target: String::new(),
    });
    agent.stop();
}

fn startup_and_rss(root: &std::path::Path, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("start"), "");
    let cold = agent.start();
    std::thread::sleep(Duration::from_secs(1));
    let rss = agent.rss_kib();
    let anon = agent.rss_anon_kib();
    agent.stop();
    let mut warm: Vec<f64> = (0..5)
        .map(|_| {
            let d = agent.start();
            agent.stop();
            d.as_secs_f64() * 1e3
        })
        .collect();
    warm.sort_by(f64::total_cmp);
    rows.push(Row {
        what: "start to /health answering (first start: key, certificate, schema)".into(),
        value: format!("{:.1} ms", cold.as_secs_f64() * 1e3),
        target: String::new(),
    });
    rows.push(Row {
        what: "start to /health answering (median of 5 restarts)".into(),
        value: format!("{:.1} ms", percentile(&warm, 0.5)),
        target: "< 100 ms".into(),
    });
    rows.push(Row {
        what: "idle RSS after start".into(),
        value: format!(
            "{:.1} MiB ({:.1} MiB private, the rest pages of the mapped executable)",
            rss as f64 / 1024.0,
            anon as f64 / 1024.0
        ),
        target: "< 16 MiB".into(),
    });
}

/// `n` requests, each on a connection of its own (a client per request, as curl, scripts and a
/// web UI's backend make them): the milliseconds of each, sorted.
fn fresh_connection_requests(agent: &Agent, n: usize) -> Vec<f64> {
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let http = agent::client(Duration::from_secs(5));
            let start = Instant::now();
            let r = http
                .get(&agent.url("/tasks?limit=5"))
                .header("Authorization", &format!("Bearer {}", agent.key))
                .call()
                .expect("GET");
            assert_eq!(r.status(), 200);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

fn seed_tasks(agent: &Agent, n: usize) {
    let mut last = String::new();
    for _ in 0..n {
        let r = agent.post("/tasks", &json!({"operation": "noop"}));
        last = r["task_id"].as_str().expect("task id").to_owned();
    }
    agent.get(&format!("/tasks/{last}/wait?timeout=60"));
}

pub fn parse_ts(v: &Value) -> f64 {
    // "2026-11-22T01:30:37.123456Z": seconds within the day are enough for differences, and
    // the chain runs for seconds, not across midnight in practice (pairs that do are skipped).
    let s = v.as_str().expect("timestamp");
    let time = &s[11..s.len() - 1];
    let mut parts = time.split(':');
    let h: f64 = parts.next().and_then(|x| x.parse().ok()).expect("hours");
    let m: f64 = parts.next().and_then(|x| x.parse().ok()).expect("minutes");
    let sec: f64 = parts.next().and_then(|x| x.parse().ok()).expect("seconds");
    h * 3600.0 + m * 60.0 + sec
}

/// A chain of `n` noop tasks, each depending on the previous, held behind a blocker until the
/// whole chain is queued; reports the delay from each dependency's end to its dependent's start.
fn chained_tasks(root: &std::path::Path, n: usize, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("chain"), "zones:\n  max_concurrent_tasks: 8\n");
    agent.start();
    let blocker = agent.post(
        "/tasks",
        &json!({"operation": "noop", "duration_ms": 2000 + 5 * n}),
    );
    let mut prev = blocker["task_id"].as_str().expect("id").to_owned();
    let mut ids = vec![prev.clone()];
    for _ in 0..n {
        let r = agent.post("/tasks", &json!({"operation": "noop", "depends_on": prev}));
        prev = r["task_id"].as_str().expect("id").to_owned();
        ids.push(prev.clone());
    }
    let last = agent.get(&format!("/tasks/{prev}/wait?timeout=120"));
    assert_eq!(
        last["status"], "completed",
        "chain did not complete: {last}"
    );
    let mut tasks = std::collections::HashMap::new();
    let mut offset = 0;
    loop {
        let page = agent.get(&format!("/tasks?limit=1000&offset={offset}"));
        let list = page["tasks"].as_array().expect("tasks").clone();
        if list.is_empty() {
            break;
        }
        offset += list.len();
        for t in list {
            tasks.insert(t["id"].as_str().expect("id").to_owned(), t);
        }
    }
    let mut delays = Vec::new();
    let mut skipped = 0;
    for pair in ids.windows(2) {
        let (dep, t) = (&tasks[&pair[0]], &tasks[&pair[1]]);
        let (done, created, started) = (
            parse_ts(&dep["completed_at"]),
            parse_ts(&t["created_at"]),
            parse_ts(&t["started_at"]),
        );
        if created > done || started < done {
            skipped += 1;
            continue;
        }
        delays.push((started - done) * 1e3);
    }
    delays.sort_by(f64::total_cmp);
    rows.push(Row {
        what: format!(
            "dependency end to dependent start, {} chained noop tasks: median / p99",
            delays.len()
        ),
        value: format!(
            "{:.3} ms / {:.3} ms{}",
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            if skipped > 0 {
                format!(" ({skipped} pairs not measurable)")
            } else {
                String::new()
            }
        ),
        target: "p99 < 2 ms".into(),
    });
    agent.stop();
}
