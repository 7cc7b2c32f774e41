//! `GET /zones` while the agent is busy: during and right after a burst of creates and boots.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::agent::Agent;
use crate::load::{get_until, BlockingConn, Sample};
use crate::{percentile, Row};

/// How long the load goes on after the last task of the burst finished.
const AFTER: Duration = Duration::from_secs(3);

/// p50 and p99 of the samples sent within `[from, to)`, and how many there were.
fn window(samples: &[Sample], from: Instant, to: Instant) -> (f64, f64, usize) {
    let mut ms: Vec<f64> = samples
        .iter()
        .filter(|(at, _, _)| *at >= from && *at < to)
        .map(|(_, ms, _)| *ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99), ms.len())
}

/// `zones` creates with `start_after_create` (a create and a boot each) queued at once, with
/// the emulator's default install and boot times, while 8 connections read `GET /zones`.
pub fn burst(root: &Path, zones: usize, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("burst"), "zones:\n  max_concurrent_tasks: 8\n");
    agent.start();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, agent) = (stop.clone(), agent.handle());
        std::thread::spawn(move || get_until(&agent, "/zones", 8, false, &stop))
    };
    // The load opens its connections first; the burst starts once reads flow.
    std::thread::sleep(Duration::from_millis(500));
    let burst_at = Instant::now();
    let mut conn = BlockingConn::open(&agent);
    create_and_boot(&mut conn, "burst", zones);
    let done_at = Instant::now();
    std::thread::sleep(AFTER);
    stop.store(true, Ordering::Relaxed);
    let (samples, errors, _) = load.join().expect("load thread");
    let listed = agent.get("/zones");
    assert_eq!(listed["total"], zones, "not every zone is listed");
    let (d50, d99, dn) = window(&samples, burst_at, done_at);
    let (a50, a99, an) = window(&samples, done_at, done_at + AFTER);
    let errs = if errors > 0 {
        format!(" ({errors} errors)")
    } else {
        String::new()
    };
    rows.push(Row {
        what: format!(
            "GET /zones, 8 connections, during a burst of {zones} creates + boots ({:.1} s, {dn} reads): p50 / p99",
            (done_at - burst_at).as_secs_f64()
        ),
        value: format!("{d50:.2} ms / {d99:.2} ms{errs}"),
        target: "p99 < 10 ms".into(),
    });
    rows.push(Row {
        what: format!(
            "GET /zones, 8 connections, in the {} s right after that burst ({an} reads): p50 / p99",
            AFTER.as_secs()
        ),
        value: format!("{a50:.2} ms / {a99:.2} ms"),
        target: "p99 < 10 ms".into(),
    });
    agent.stop();
}

/// Queues `n` creates (`PREFIX0`…, a boot volume and a NIC each) with `start_after_create`
/// at once, and returns when every boot has completed.
pub fn create_and_boot(conn: &mut BlockingConn, prefix: &str, n: usize) {
    let mut boots = Vec::new();
    for i in 0..n {
        let body = json!({"name": format!("{prefix}{i}"), "brand": "bhyve", "ram": "1G",
                "boot_volume": {"size": "1G", "sparse": true},
                "nics": [{"physical": format!("{prefix}{i}net0"), "global_nic": "igb0"}],
                "start_after_create": true});
        let (status, r) = conn.json("POST", "/zones", Some(&body));
        assert_eq!(status, 202, "create refused: {r}");
        boots.push(r["start_task_id"].as_str().expect("boot task").to_owned());
    }
    for id in &boots {
        let (_, t) = conn.json("GET", &format!("/tasks/{id}/wait?timeout=300"), None);
        assert_eq!(t["status"], "completed", "boot failed: {t}");
    }
}

/// `GET /zones` at 32 connections on a warm listing, plain then gzip, with the CPU each
/// answer costs the agent and this client (where a plain answer's time goes), how busy the
/// client's one thread was, and the agent's own part of each answer's time.
fn warm_loads(agent: &Agent, secs: f64, rows: &mut Vec<Row>) {
    let mut cpu_rows = Vec::new();
    let mut own_rows = Vec::new();
    let plain = agent.get_raw("/zones").len();
    for gzip in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let timer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs_f64(secs));
                stop.store(true, Ordering::Relaxed);
            })
        };
        let (agent_cpu, own_cpu) = (agent_cpu_secs(agent.pid()), own_cpu_secs());
        // The load runs on this thread (the client's event loop).
        let (own_sched, agent_sched) = (schedstat("/proc/thread-self"), agent_schedstat(agent));
        // The span the counters cover (the connections' set-up included), for their shares.
        let counted = Instant::now();
        let (samples, errors, elapsed) = get_until(agent, "/zones", 32, gzip, &stop);
        let own_sched = schedstat("/proc/thread-self").since(own_sched);
        let agent_sched = agent_schedstat(agent).since(agent_sched);
        let counted = counted.elapsed().as_secs_f64();
        let _ = timer.join();
        let kind = if gzip { "gzip" } else { "plain" };
        // Where the time goes: the CPU each answer costs the agent (JSON kept, so
        // mostly TLS and copies) and the client (TLS and reading), on 2 shared cores.
        let per = |secs: f64| secs * 1e3 / samples.len().max(1) as f64;
        let client_cpu = own_cpu_secs() - own_cpu;
        cpu_rows.push(format!(
            "{kind}: agent {:.2} ms, client {:.2} ms",
            per(agent_cpu_secs(agent.pid()) - agent_cpu),
            per(client_cpu)
        ));
        // The client's one thread: on a core, runnable but waiting for one, or idle (waiting
        // for the agent). On + waiting near 100 % means the client always had work: it is
        // the bound, and the latency it measures includes its own queue.
        let pct = |ns: u64| 100.0 * ns as f64 / 1e9 / counted;
        let mut own: Vec<f64> = samples.iter().filter_map(|(_, _, a)| *a).collect();
        own.sort_by(f64::total_cmp);
        let unstamped = samples.len() - own.len();
        own_rows.push(format!(
            "{kind}: client thread on a core {:.0} %, waiting for one {:.0} %; agent's part {:.2} / {:.2} ms{}; agent's threads waited for a core {:.2} ms per answer",
            pct(own_sched.on_cpu),
            pct(own_sched.waiting),
            percentile(&own, 0.5),
            percentile(&own, 0.99),
            if unstamped > 0 {
                format!(" ({unstamped} answers without a stamp)")
            } else {
                String::new()
            },
            agent_sched.waiting as f64 / 1e6 / samples.len().max(1) as f64
        ));
        let mut ms: Vec<f64> = samples.iter().map(|(_, ms, _)| *ms).collect();
        ms.sort_by(f64::total_cmp);
        rows.push(Row {
            what: format!(
                "GET /zones with 1,000 zones ({} KiB of JSON), 32 connections, warm{}: throughput / p50 / p99",
                plain / 1024,
                if gzip { ", client taking gzip" } else { "" }
            ),
            value: format!(
                "{:.0} req/s / {:.2} ms / {:.2} ms{}",
                ms.len() as f64 / elapsed,
                percentile(&ms, 0.5),
                percentile(&ms, 0.99),
                if errors > 0 {
                    format!(" ({errors} errors)")
                } else {
                    String::new()
                }
            ),
            target: "p99 < 10 ms".into(),
        });
    }
    rows.push(Row {
        what: "that load, CPU time per answer (process CPU over answers; the machine has 2 cores)"
            .into(),
        value: cpu_rows.join("; "),
        target: String::new(),
    });
    rows.push(Row {
        what: "that load: where the client's one thread spent the load's time; the agent's part of an answer's time, p50 / p99 (request written to the answer's last byte reaching the client's socket, by the kernel's stamp: the client's own lag left out)"
            .into(),
        value: own_rows.join("; "),
        target: String::new(),
    });
}

/// Only the warm 1,000-zone loads of `zones-scale` (minutes less): the first answer is awaited,
/// not timed (on a busy machine it may outlast the request timeout; the refresh goes on).
pub fn warm(root: &Path, secs: f64, rows: &mut Vec<Row>) {
    let (mut agent, _) = seeded(root, "warm", 1000);
    await_listed(&agent, 1000);
    warm_loads(&agent, secs, rows);
    agent.stop();
}

/// An agent started on a host (no emulated delays) that has `n` zones made by hand; and the
/// host's directory.
fn seeded(root: &Path, name: &str, n: usize) -> (Agent, std::path::PathBuf) {
    let mut agent = Agent::prepare(&root.join(name), "");
    let host = agent.dir.join("host");
    crate::zones::zero_delays(&host);
    seed_zones(&host, n);
    agent.start();
    (agent, host)
}

/// Waits (untimed) until the agent lists `n` zones: on a busy machine the first answer may
/// outlast the client's request timeout, and the refresh goes on.
fn await_listed(agent: &Agent, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(900);
    while agent.send("GET", "/zones", None).1["total"] != n {
        assert!(Instant::now() < deadline, "the {n} zones were never listed");
    }
}

/// Makes `n` zones straight through the emulated host's zonecfg, each with a NIC, a boot disk
/// passed through as a device and a few attributes, as a big hypervisor's zones look.
fn seed_zones(host: &Path, n: usize) {
    let zonecfg = host.join("bin/zonecfg");
    for i in 0..n {
        let z = format!("scale{i}");
        let script = format!(
            "create -b; set zonepath=/rpool/zones/{z}; set brand=bhyve; set ip-type=exclusive; \
             add net; set physical={z}net0; set global-nic=igb0; end; \
             add device; set match=/dev/zvol/rdsk/rpool/zones/{z}/root; end; \
             add attr; set name=bootdisk; set type=string; set value=rpool/zones/{z}/root; end; \
             add attr; set name=ram; set type=string; set value=2G; end; \
             add attr; set name=vcpus; set type=string; set value=2; end"
        );
        let out = std::process::Command::new(&zonecfg)
            .args(["-z", &z, &script])
            .output()
            .expect("zonecfg");
        assert!(out.status.success(), "zonecfg failed: {out:?}");
    }
}

/// Nanoseconds a thread (or threads) spent on a core and runnable but waiting for one, from
/// the scheduler's own accounting (`/proc/.../schedstat`).
#[derive(Clone, Copy, Default)]
struct Sched {
    on_cpu: u64,
    waiting: u64,
}

impl Sched {
    fn since(self, before: Sched) -> Sched {
        Sched {
            on_cpu: self.on_cpu.saturating_sub(before.on_cpu),
            waiting: self.waiting.saturating_sub(before.waiting),
        }
    }
}

/// One thread's figures; zero where the kernel keeps none.
fn schedstat(task: &str) -> Sched {
    let text = std::fs::read_to_string(format!("{task}/schedstat")).unwrap_or_default();
    let mut f = text.split_whitespace().map(|x| x.parse().unwrap_or(0));
    Sched {
        on_cpu: f.next().unwrap_or(0),
        waiting: f.next().unwrap_or(0),
    }
}

/// The agent's threads together (those alive when read: its workers live for the whole load).
fn agent_schedstat(agent: &Agent) -> Sched {
    let dir = format!("/proc/{}/task", agent.pid());
    let mut sum = Sched::default();
    for t in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let s = schedstat(&t.path().display().to_string());
        sum.on_cpu += s.on_cpu;
        sum.waiting += s.waiting;
    }
    sum
}

/// CPU seconds this process (the client) used so far.
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<f64> = rest.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
    (f[11] + f[12]) / 100.0
}

/// CPU seconds a process used so far: its own, and its reaped children's (the host tools it ran).
fn cpu_secs(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<f64> = rest.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the state field (3).
    // The kernel's USER_HZ is 100 on every Linux the bench runs on.
    ((f[11] + f[12]) / 100.0, (f[13] + f[14]) / 100.0)
}

/// CPU seconds the agent and its reaped children used so far.
fn agent_cpu_secs(pid: u32) -> f64 {
    let (own, children) = cpu_secs(pid);
    own + children
}

/// One `GET /zones` on a fresh connection: milliseconds to the whole answer.
fn timed_list(agent: &Agent, zones: usize) -> f64 {
    let started = Instant::now();
    let list = agent.get("/zones");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(list["total"], zones, "not every zone is listed");
    ms
}

/// 1,000 zones: the first answer (nothing kept, then after a restart), `GET /zones` at 32
/// connections once warm, and what the background refresh costs at 100, 300 and 1,000 zones
/// with a dashboard polling the list every second.
pub fn scale(root: &Path, secs: f64, rows: &mut Vec<Row>) {
    let mut costs = Vec::new();
    for n in REFRESH_ZONES {
        let (mut agent, host) = seeded(root, &format!("scale{n}"), n);
        let first = timed_list(&agent, n);
        if n == 1000 {
            rows.push(Row {
                what: "GET /zones with 1,000 zones (NIC, disk, attributes each): first answer, nothing kept".into(),
                value: format!("{first:.0} ms"),
                target: String::new(),
            });
            agent.stop();
            agent.start();
            let cold = timed_list(&agent, n);
            rows.push(Row {
                what: "GET /zones with 1,000 zones: first answer after a restart".into(),
                value: format!("{cold:.0} ms"),
                target: "< 1 s".into(),
            });
            warm_loads(&agent, secs, rows);
        }
        for gzip in [true, false] {
            costs.push(dashboard(&agent, &host, secs, gzip));
        }
        agent.stop();
    }
    rows.push(refresh_row(&costs, true));
    rows.push(refresh_row(&costs, false));
    rows.push(idle_memory_row());
}

/// The zone counts the background refresh is measured at.
const REFRESH_ZONES: [usize; 3] = [100, 300, 1000];

/// What a dashboard's polling cost the agent: CPU seconds per minute in all, the agent's own and
/// its host commands', and how many listings it ran.
struct RefreshCost {
    zones: usize,
    gzip: bool,
    total: f64,
    own: f64,
    commands: f64,
    listings: usize,
    minutes: f64,
}

/// A dashboard: one `GET /zones` a second, on a kept-alive connection, while the agent keeps
/// its listing fresh in the background; `gzip`: the client takes a gzip-encoded answer, as
/// the Zoneweaver UI's backend (axios on Node) and browsers do.
fn dashboard(agent: &Agent, host: &Path, secs: f64, gzip: bool) -> RefreshCost {
    let window = Duration::from_secs_f64(secs.max(10.0) * 3.0);
    let mut conn = BlockingConn::open(agent);
    let zones = conn.json("GET", "/zones", None).1["total"]
        .as_u64()
        .unwrap_or(0) as usize;
    conn.take_gzip(gzip);
    let log = host.join("invocations.log");
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let logged_before = lines(&log).lines().count();
    let (own_before, children_before) = cpu_secs(agent.pid());
    let started = Instant::now();
    while started.elapsed() < window {
        assert!(conn.get_ok("/zones"), "GET /zones failed");
        std::thread::sleep(Duration::from_secs(1));
    }
    let (own, children) = cpu_secs(agent.pid());
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let text = lines(&log);
    let listings = text
        .lines()
        .skip(logged_before)
        .filter(|l| l.contains(r#""argv":["zoneadm","list""#))
        .count();
    let (own, commands) = (own - own_before, children - children_before);
    RefreshCost {
        zones,
        gzip,
        total: (own + commands) / minutes,
        own: own / minutes,
        commands: commands / minutes,
        listings,
        minutes,
    }
}

/// What this machine charges for memory left alone a while: milliseconds to write one byte in
/// every cache line of 8 MiB already touched, after 10 ms and after 1 s of sleep (the median
/// of three each). A dashboard's request comes a second after the last: on a virtual machine
/// whose host reclaims or remaps idle guest memory, each page the agent touches for it then
/// costs far more than in a tight loop, and that shows as the agent's CPU time.
fn idle_memory_penalty() -> (f64, f64) {
    let mut buf = vec![0u8; 8 << 20];
    let touch = |buf: &mut [u8]| {
        let started = Instant::now();
        for i in (0..buf.len()).step_by(64) {
            buf[i] = buf[i].wrapping_add(1);
        }
        std::hint::black_box(&buf);
        started.elapsed().as_secs_f64() * 1e3
    };
    touch(&mut buf);
    let mut after = |sleep: Duration| {
        let mut ms: Vec<f64> = (0..3)
            .map(|_| {
                std::thread::sleep(sleep);
                touch(&mut buf)
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[1]
    };
    (
        after(Duration::from_millis(10)),
        after(Duration::from_secs(1)),
    )
}

fn idle_memory_row() -> Row {
    let (hot, idle) = idle_memory_penalty();
    Row {
        what: "this machine: writing a byte in each cache line of 8 MiB of the bench's own memory, after 10 ms / after 1 s asleep (memory left idle a second costs this much more to touch again; the dashboard's requests come a second apart)".into(),
        value: format!("{hot:.2} ms / {idle:.2} ms"),
        target: String::new(),
    }
}

fn refresh_row(costs: &[RefreshCost], gzip: bool) -> Row {
    let client = if gzip {
        "taking gzip, as the Zoneweaver UI's backend and browsers do"
    } else {
        "not taking gzip"
    };
    Row {
        what: format!("background refresh with a dashboard polling GET /zones every second ({client}): CPU seconds of the agent and its host commands per minute, by number of zones (the agent's own + its commands'; zoneadm listings run per minute)"),
        value: costs
            .iter()
            .filter(|c| c.gzip == gzip)
            .map(|c| {
                format!(
                    "{}: {:.2} ({:.2} + {:.2}; {:.0})",
                    c.zones,
                    c.total,
                    c.own,
                    c.commands,
                    c.listings as f64 / c.minutes
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        target: "< 1 s/min".into(),
    }
}

/// Only the background refresh rows of `zones-scale`: the dashboard at 100, 300 and 1,000 zones
/// once each agent has listed them (the first answer waited for, not timed).
pub fn refresh(root: &Path, secs: f64, rows: &mut Vec<Row>) {
    let mut costs = Vec::new();
    for n in REFRESH_ZONES {
        let (mut agent, host) = seeded(root, &format!("refresh{n}"), n);
        await_listed(&agent, n);
        for gzip in [true, false] {
            costs.push(dashboard(&agent, &host, secs, gzip));
        }
        agent.stop();
    }
    rows.push(refresh_row(&costs, true));
    rows.push(refresh_row(&costs, false));
    rows.push(idle_memory_row());
}
