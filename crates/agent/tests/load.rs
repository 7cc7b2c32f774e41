//! Load: 64 concurrent clients for a bounded time, mixing reads with writes (zone create,
//! modify and delete on distinct zones; DHCP host and NAT rule adds; modifies of one shared
//! zone under `If-Match`, and adds that clash on purpose). Every accepted task must end, no
//! answer may be a 5xx, clashing writes get 409/412, and the host ends as the accepted and
//! completed work says. The agent's RSS at the start and the end is printed, not asserted.
//!
//! `ZW_LOAD_SECONDS` sets the duration (default 30). A longer soak: `zoneweaver-bench soak`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Response, TestAgent};

const CLIENTS: usize = 64;

#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    server_errors: Mutex<Vec<String>>,
    statuses: Mutex<BTreeMap<u16, usize>>,
    /// Accepted tasks: id → what it promised (kind, subject).
    tasks: Mutex<Vec<(String, String, String)>>,
    /// Shared-zone modifies answered 202: (ETag sent, ram asked for, task id).
    shared: Mutex<Vec<(String, String, String)>>,
}

impl Tally {
    /// Both kinds of clash were answered: a 409 (the same name or port) and a 412 (a stale
    /// ETag).
    fn clashed(&self) -> bool {
        let statuses = self.statuses.lock().unwrap();
        statuses.contains_key(&409) && statuses.contains_key(&412)
    }

    fn note(&self, what: &str, r: &Response) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self.statuses.lock().unwrap().entry(r.status).or_default() += 1;
        if r.status >= 500 {
            self.server_errors
                .lock()
                .unwrap()
                .push(format!("{what}: {} {}", r.status, r.body));
        }
    }

    /// A write's answer: one of `allowed`; when it queued a task, the task is recorded and
    /// waited for (each client has one write in flight).
    fn write(
        &self,
        agent: &TestAgent,
        what: &str,
        r: &Response,
        allowed: &[u16],
        (kind, subject): (&str, &str),
    ) -> Option<String> {
        self.note(what, r);
        assert!(
            allowed.contains(&r.status),
            "{what}: {} {}",
            r.status,
            r.body
        );
        let id = self.accepted(r, kind, subject)?;
        agent.wait(&id);
        Some(id)
    }

    fn accepted(&self, r: &Response, kind: &str, subject: &str) -> Option<String> {
        let id = r.body["task_id"].as_str()?.to_owned();
        self.tasks
            .lock()
            .unwrap()
            .push((id.clone(), kind.to_owned(), subject.to_owned()));
        Some(id)
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reader(agent: &TestAgent, tally: &Tally, stop: &AtomicBool, n: usize) {
    let paths = [
        "/zones",
        "/tasks?limit=50",
        "/network/vnics",
        "/network/nat/rules",
        "/network/dhcp/hosts",
        "/zones/shared0",
        "/health",
    ];
    let mut i = n;
    while !stop.load(Ordering::Relaxed) {
        let p = paths[i % paths.len()];
        tally.note(p, &agent.get(p));
        i += 1;
    }
}

/// Create, modify, delete its own zone, over and over.
fn zone_cycler(agent: &TestAgent, tally: &Tally, stop: &AtomicBool, n: usize) {
    let name = format!("ld{n}");
    while !stop.load(Ordering::Relaxed) {
        let r = agent.post(
            "/zones",
            json!({"name": name, "brand": "bhyve", "ram": "1G", "boot_volume": {"size": "1G"}}),
        );
        tally.write(agent, "POST /zones", &r, &[202], ("zone_create", &name));
        let r = agent.request(
            "PUT",
            &format!("/zones/{name}"),
            Some(&agent.key),
            Some(&json!({"ram": "2G"})),
        );
        tally.write(
            agent,
            "PUT /zones/{name}",
            &r,
            &[202],
            ("zone_modify", &name),
        );
        let r = agent.delete(&format!("/zones/{name}?cleanup_datasets=true"));
        let what = "DELETE /zones/{name}";
        tally.write(agent, what, &r, &[202], ("zone_delete", &name));
    }
}

/// Modifies of one shared zone, each under the ETag it just read: two clients racing for the
/// same ETag must not both win.
fn shared_modifier(agent: &TestAgent, tally: &Tally, stop: &AtomicBool, n: usize) {
    let mut k = 0;
    while !stop.load(Ordering::Relaxed) {
        let r = agent.get("/zones/shared0");
        tally.note("GET /zones/shared0", &r);
        let Some(etag) = r.header("etag").map(str::to_owned) else {
            continue;
        };
        k += 1;
        let ram = format!("{}M", 1024 + n * 64 + k % 8);
        let r = agent.request_with(
            "PUT",
            "/zones/shared0",
            Some(&agent.key),
            &[("If-Match", &etag)],
            Some(&json!({ "ram": ram })),
        );
        let what = "PUT /zones/shared0";
        if let Some(id) = tally.write(agent, what, &r, &[202, 412], ("zone_modify", "shared0")) {
            tally.shared.lock().unwrap().push((etag, ram, id));
        }
    }
}

/// DHCP host adds; the two DHCP clients of each group of eight share a name and address every
/// fourth add (a clash on purpose).
fn dhcp_adder(agent: &TestAgent, tally: &Tally, stop: &AtomicBool, n: usize) {
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        k += 1;
        let (host, owner) = if k.is_multiple_of(4) {
            (format!("clash{}-{k}", n / 8), n / 8 * 8)
        } else {
            (format!("h{n}-{k}"), n)
        };
        let seq = owner * 1000 + k;
        let body = json!({"hostname": host,
            "mac": format!("02:08:20:{:02x}:{:02x}:{:02x}", n, (k >> 8) & 0xff, k & 0xff),
            "ip": format!("10.{}.{}.{}", 100 + seq / 65536, (seq / 256) % 256, seq % 256)});
        let r = agent.post("/network/dhcp/hosts", body);
        let what = "POST /network/dhcp/hosts";
        tally.write(agent, what, &r, &[202, 409], ("dhcp_host", &host));
    }
}

/// NAT rdr rules on distinct ports; the two NAT clients of each group of eight clash on every
/// fourth port.
fn nat_adder(agent: &TestAgent, tally: &Tally, stop: &AtomicBool, n: usize) {
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        k += 1;
        let port = if k.is_multiple_of(4) {
            20000 + (n / 8) * 500 + k
        } else {
            30000 + n * 500 + k
        };
        let r = agent.post(
            "/network/nat/rules",
            json!({"type": "rdr", "bridge": "igb0", "external_ip": "192.168.1.10",
                "external_port": port, "internal_ip": "10.190.190.10", "internal_port": 80,
                "protocol": "tcp"}),
        );
        let what = "POST /network/nat/rules";
        tally.write(
            agent,
            what,
            &r,
            &[202, 409],
            ("nat_rule", &port.to_string()),
        );
    }
}

#[test]
fn sixty_four_clients_mixing_reads_and_writes() {
    let seconds: u64 = std::env::var("ZW_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let agent = TestAgent::start_with("zones:\n  max_concurrent_tasks: 8\n");
    let r = agent.request(
        "PUT",
        "/network/dhcp/config",
        Some(&agent.key),
        Some(
            &json!({"subnet": "10.0.0.0", "netmask": "255.0.0.0", "router": "10.0.0.1",
            "range_start": "10.0.0.10", "range_end": "10.0.0.200"}),
        ),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap());
    let r = agent.post(
        "/zones",
        json!({"name": "shared0", "brand": "bhyve", "ram": "1G", "boot_volume": {"size": "1G"}}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap());
    // Warm up (first connections, caches), then take the starting RSS.
    for _ in 0..50 {
        agent.get("/zones");
        agent.get("/tasks?limit=50");
    }
    let pid = agent.pid().unwrap();
    let rss_start = rss_kib(pid);

    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for n in 0..CLIENTS {
            let (agent, tally, stop) = (&agent, &tally, &stop);
            s.spawn(move || match n % 8 {
                0 | 1 => reader(agent, tally, stop, n),
                2 => zone_cycler(agent, tally, stop, n),
                3 => shared_modifier(agent, tally, stop, n),
                4 | 5 => nat_adder(agent, tally, stop, n),
                _ => dhcp_adder(agent, tally, stop, n),
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        // The clashes come from the clients' own pace (two clients reaching the same name or
        // ETag), so a slow machine may need longer to make them: run on until both kinds were
        // answered, with a bound that only ends a run that will fail anyway.
        while !tally.clashed() && started.elapsed() < Duration::from_secs(seconds * 6) {
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed();

    // Every accepted task reaches an end.
    let tasks = tally.tasks.into_inner().unwrap();
    let mut outcome: BTreeMap<String, String> = BTreeMap::new();
    for (id, _, _) in &tasks {
        let t = agent.wait(id);
        outcome.insert(id.clone(), t["status"].as_str().unwrap().to_owned());
    }
    let rss_end = rss_kib(pid);
    let errors = tally.server_errors.into_inner().unwrap();
    assert!(errors.is_empty(), "5xx answers: {errors:#?}");

    // The host is what the completed work promised.
    let completed = |kind: &str| -> Vec<&(String, String, String)> {
        tasks
            .iter()
            .filter(|(id, k, _)| k == kind && outcome[id] == "completed")
            .collect()
    };
    let hosts = agent.get("/network/dhcp/hosts").body;
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for h in hosts["hosts"].as_array().unwrap() {
        *names
            .entry(h["hostname"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for (_, _, host) in completed("dhcp_host") {
        assert_eq!(names.get(host), Some(&1), "DHCP host {host} once");
    }
    assert!(
        names.values().all(|&c| c == 1),
        "a DHCP host twice: {names:?}"
    );
    let rules: Vec<String> = agent.get("/network/nat/rules").body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect();
    for (_, _, port) in completed("nat_rule") {
        let needle = format!("port {port} ->");
        let n = rules.iter().filter(|r| r.contains(&needle)).count();
        assert_eq!(n, 1, "rdr rule on port {port}: {n} times");
    }
    // Zones: the last completed create or delete of each cycler decides.
    let listed: BTreeSet<String> = agent.get("/zones").body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["name"].as_str().unwrap().to_owned())
        .collect();
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, kind, zone) in &tasks {
        if (kind == "zone_create" || kind == "zone_delete") && outcome[id] == "completed" {
            last.insert(zone, kind);
        }
    }
    for (zone, kind) in &last {
        assert_eq!(
            listed.contains(*zone),
            *kind == "zone_create",
            "zone {zone} after its last completed {kind}"
        );
    }
    // No lost update: each ETag let at most one modify through, and the zone holds the value
    // of the last one that completed.
    let shared = tally.shared.into_inner().unwrap();
    let mut per_tag: BTreeMap<&str, usize> = BTreeMap::new();
    for (tag, _, _) in &shared {
        *per_tag.entry(tag).or_default() += 1;
    }
    let lost: Vec<_> = per_tag.iter().filter(|(_, &c)| c > 1).collect();
    assert!(
        lost.is_empty(),
        "one ETag, several accepted modifies: {lost:?}"
    );
    if let Some((_, ram, _)) = shared
        .iter()
        .rev()
        .find(|(_, _, id)| outcome[id] == "completed")
    {
        let z = agent.get("/zones/shared0").body;
        assert_eq!(z["attributes"]["ram"], json!(ram), "{z}");
    }

    let statuses = tally.statuses.into_inner().unwrap();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (id, kind, _) in &tasks {
        *by_status
            .entry(format!("{kind} {}", outcome[id]))
            .or_default() += 1;
    }
    eprintln!(
        "load: {CLIENTS} clients for {:.1} s: {} requests, answers {statuses:?}, {} tasks accepted {by_status:?}, 0 5xx; agent RSS {} KiB at the start, {} KiB at the end",
        elapsed.as_secs_f64(),
        tally.requests.load(Ordering::Relaxed),
        tasks.len(),
        rss_start,
        rss_end
    );
    assert!(
        statuses.contains_key(&409) && statuses.contains_key(&412),
        "a clash was not exercised: {statuses:?}"
    );
    // A clash is refused when it is asked, not accepted and failed later: every accepted
    // write did what its 202 promised.
    let broken: Vec<_> = by_status
        .keys()
        .filter(|k| !k.ends_with(" completed"))
        .collect();
    assert!(
        broken.is_empty(),
        "accepted tasks that did not complete: {by_status:?}"
    );
}
