//! `zoneweaver-bench soak --minutes N [--clients C]`: the load test's mix (reads, zone
//! create/modify/delete cycles, DHCP host and NAT rule adds and removals, clashes included) held for N
//! minutes against a release agent (hosts and rules are removed after they are added, so the
//! host's state stays bounded), with a line per minute: requests, 5xx, tasks accepted and
//! failed, RSS. Exits non-zero on a 5xx, a transport error or a failed task.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::agent::Agent;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    accepted: AtomicU64,
    failed: AtomicU64,
    clashes: AtomicU64,
}

impl Counts {
    /// Records an answer; for an accepted task, waits for it and records how it ended.
    /// Returns the task when it completed.
    fn answer(&self, agent: &Agent, (status, body): (u16, Value)) -> Option<Value> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match status {
            0 => self.transport_errors.fetch_add(1, Ordering::Relaxed),
            500.. => self.server_errors.fetch_add(1, Ordering::Relaxed),
            409 | 412 => self.clashes.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        if let Some(id) = body["task_id"].as_str() {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            let (_, t) = agent.send("GET", &format!("/tasks/{id}/wait?timeout=300"), None);
            if t["status"] != "completed" {
                self.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("task {id} ended {}: {}", t["status"], t["error_message"]);
                return None;
            }
            return Some(t);
        }
        None
    }
}

fn client(agent: &Agent, c: &Counts, stop: &AtomicBool, n: usize) {
    let mut k = 0usize;
    let zone = format!("soak{n}");
    while !stop.load(Ordering::Relaxed) {
        k += 1;
        match n % 4 {
            0 => {
                for p in [
                    "/zones",
                    "/tasks?limit=50",
                    "/network/vnics",
                    "/network/nat/rules",
                ] {
                    let _ = c.answer(agent, agent.send("GET", p, None));
                }
            }
            1 => {
                let body = json!({"name": zone, "brand": "bhyve", "ram": "1G",
                    "boot_volume": {"size": "1G"}});
                let _ = c.answer(agent, agent.send("POST", "/zones", Some(&body)));
                let path = format!("/zones/{zone}");
                let _ = c.answer(agent, agent.send("PUT", &path, Some(&json!({"ram": "2G"}))));
                let path = format!("/zones/{zone}?cleanup_datasets=true");
                let _ = c.answer(agent, agent.send("DELETE", &path, None));
            }
            2 => {
                // Every fourth name is shared by two clients: a clash on purpose.
                let (host, owner) = if k.is_multiple_of(4) {
                    (format!("clash{}-{k}", n / 8), n / 8 * 8)
                } else {
                    (format!("h{n}-{k}"), n)
                };
                let seq = owner * 100_000 + k;
                let body = json!({"hostname": host,
                    "mac": format!("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", n & 0xff,
                        (k >> 24) & 0xff, (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff),
                    "ip": format!("10.{}.{}.{}", (seq >> 16) & 0xff, (seq >> 8) & 0xff, seq & 0xff)});
                // Added, then removed: the host's state stays bounded, so RSS can settle.
                if c.answer(
                    agent,
                    agent.send("POST", "/network/dhcp/hosts", Some(&body)),
                )
                .is_some()
                {
                    let path = format!("/network/dhcp/hosts/{host}");
                    let _ = c.answer(agent, agent.send("DELETE", &path, None));
                }
            }
            _ => {
                let port = 1024 + (n * 7919 + k) % 60000;
                let body = json!({"type": "rdr", "bridge": "igb0",
                    "external_ip": "192.168.1.10", "external_port": port,
                    "internal_ip": "10.190.190.10", "internal_port": 80, "protocol": "tcp"});
                let added = c.answer(agent, agent.send("POST", "/network/nat/rules", Some(&body)));
                if let Some(id) = added
                    .as_ref()
                    .and_then(|t| t["result"]["rules"][0]["id"].as_str())
                {
                    let path = format!("/network/nat/rules/{id}");
                    let _ = c.answer(agent, agent.send("DELETE", &path, None));
                }
            }
        }
    }
}

pub fn run(root: &std::path::Path, minutes: u64, clients: usize) -> bool {
    let mut agent = Agent::prepare(&root.join("soak"), "zones:\n  max_concurrent_tasks: 8\n");
    agent.start();
    let cfg = json!({"subnet": "10.0.0.0", "netmask": "255.0.0.0", "router": "10.0.0.1",
        "range_start": "10.0.0.10", "range_end": "10.0.0.200"});
    let (status, body) = agent.send("PUT", "/network/dhcp/config", Some(&cfg));
    assert_eq!(status, 202, "{body}");
    let id = body["task_id"].as_str().expect("task id").to_owned();
    agent.send("GET", &format!("/tasks/{id}/wait?timeout=60"), None);
    let rss_start = agent.rss_kib();
    println!("soak: {clients} clients for {minutes} min; agent RSS {rss_start} KiB at the start");
    let counts = Counts::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for n in 0..clients {
            let (agent, counts, stop) = (&agent, &counts, &stop);
            s.spawn(move || client(agent, counts, stop, n));
        }
        for minute in 1..=minutes {
            std::thread::sleep(Duration::from_secs(60));
            println!(
                "  {minute:>4} min: {} requests, {} 5xx, {} transport errors, {} tasks ({} failed), {} clashes refused, RSS {} KiB",
                counts.requests.load(Ordering::Relaxed),
                counts.server_errors.load(Ordering::Relaxed),
                counts.transport_errors.load(Ordering::Relaxed),
                counts.accepted.load(Ordering::Relaxed),
                counts.failed.load(Ordering::Relaxed),
                counts.clashes.load(Ordering::Relaxed),
                agent.rss_kib()
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let bad = counts.server_errors.load(Ordering::Relaxed)
        + counts.transport_errors.load(Ordering::Relaxed)
        + counts.failed.load(Ordering::Relaxed);
    println!(
        "soak: {:.0} s, {} requests, {} tasks, RSS {rss_start} KiB -> {} KiB; {}",
        started.elapsed().as_secs_f64(),
        counts.requests.load(Ordering::Relaxed),
        counts.accepted.load(Ordering::Relaxed),
        agent.rss_kib(),
        if bad == 0 { "ok" } else { "FAILED" }
    );
    agent.stop();
    bad == 0
}
