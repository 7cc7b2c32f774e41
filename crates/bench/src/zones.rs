//! Zone benchmarks: the agent's own overhead per zone create, and `GET /zones` under load.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::agent::{self, Agent};
use crate::load::BlockingConn;
use crate::{get_load, Load, Row};

/// Sets every emulated delay to zero, so only real work is timed.
pub fn zero_delays(host: &Path) {
    let out = Command::new(agent::binary("illumos-sim"))
        .arg("config")
        .arg(host)
        .args([
            "install_ms=0",
            "uninstall_ms=0",
            "boot_ms=0",
            "shutdown_ms=0",
            "halt_ms=0",
        ])
        .output()
        .expect("illumos-sim config");
    assert!(out.status.success(), "illumos-sim config failed");
}

/// Sum of the host commands' own run times logged after line `from` of the invocation log.
fn host_ms_since(host: &Path, from: usize) -> (f64, usize) {
    let text = std::fs::read_to_string(host.join("invocations.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let ms = lines[from.min(lines.len())..]
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["ms"].as_f64())
        .sum();
    (ms, lines.len())
}

/// The agent's own measure of the time its host commands took, spawn to exit (from /metrics).
fn agent_command_secs(agent: &Agent) -> f64 {
    let mut r = agent
        .http
        .get(&agent.url("/metrics"))
        .header("Authorization", &format!("Bearer {}", agent.key))
        .call()
        .expect("metrics");
    let text = r.body_mut().read_to_string().expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("zoneweaver_host_command_duration_seconds_sum"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU seconds the agent process itself used so far (user + system; its children, the host
/// commands, are not counted).
fn own_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<f64> = rest.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15; USER_HZ is 100 on every Linux the bench runs on.
    (f[11] + f[12]) / 100.0
}

fn log_len(host: &Path) -> usize {
    host_ms_since(host, usize::MAX).1
}

pub fn run(root: &Path, zones: usize, list_zones: usize, secs: f64, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("zones"), "zones:\n  max_concurrent_tasks: 8\n");
    let host = agent.dir.join("host");
    zero_delays(&host);
    agent.start();

    // One create at a time, so the wall time of each is the agent's and the host's alone, over
    // one kept-alive connection of the lean client (the wall time includes the client's work).
    let mut conn = BlockingConn::open(&agent);
    let mut wall = Duration::ZERO;
    // The same span as the agent's side of the connection sees it: from the moment the POST's
    // write began to the kernel's arrival stamp of the wait answer's last byte. It leaves out
    // the client's own work before the first write (building and encrypting the POST) and after
    // the last byte (waking, decrypting and parsing the answer), which the wall time above
    // includes; what the client does in between (the 202, the wait request) stays in.
    let mut agent_side = Duration::ZERO;
    let mut unstamped = 0;
    // The host's and the agent's sums are read once around the loop: reading /metrics between
    // creates would add its own CPU to the agent's figure.
    let before = log_len(&host);
    let agent_before = agent_command_secs(&agent);
    let cpu_before = own_cpu_secs(agent.pid());
    for i in 0..zones {
        let started = Instant::now();
        let body = json!({"name": format!("bench{i}"), "brand": "bhyve", "ram": "1G",
                "boot_volume": {"size": "1G", "sparse": true},
                "nics": [{"physical": format!("bench{i}net0"), "global_nic": "igb0"}]});
        let (_, r) = conn.json("POST", "/zones", Some(&body));
        let posted = conn.take_stamps().map(|(sent, _)| sent);
        let id = r["task_id"].as_str().expect("create accepted").to_owned();
        let (_, t) = conn.json("GET", &format!("/tasks/{id}/wait?timeout=60"), None);
        wall += started.elapsed();
        assert_eq!(t["status"], "completed", "create failed: {t}");
        match (posted, conn.take_stamps()) {
            (Some(posted), Some((_, answered))) => {
                agent_side += answered.duration_since(posted).unwrap_or_default();
            }
            _ => unstamped += 1,
        }
    }
    let cpu_ms = (own_cpu_secs(agent.pid()) - cpu_before) * 1e3;
    let spawned_ms = (agent_command_secs(&agent) - agent_before) * 1e3;
    let (host_ms, after) = host_ms_since(&host, before);
    let commands = after - before;
    let wall_ms = wall.as_secs_f64() * 1e3;
    let per_zone = wall_ms / zones as f64;
    let host_per_zone = host_ms / zones as f64;
    let overhead = per_zone - host_per_zone;
    rows.push(Row {
        what: format!(
            "zone create with boot volume and NIC, {zones} zones one by one: wall / host commands per zone ({} commands each)",
            commands / zones.max(1)
        ),
        value: format!("{per_zone:.1} ms / {host_per_zone:.1} ms"),
        target: String::new(),
    });
    rows.push(Row {
        what: "agent overhead per zone create (wall minus host command time from the invocation log: the emulator's own time, without starting and ending its process), share of command time".into(),
        value: format!("{overhead:.1} ms ({:.0} %)", 100.0 * overhead / host_per_zone),
        target: String::new(),
    });
    let spawned_per_zone = spawned_ms / zones as f64;
    let own = per_zone - spawned_per_zone;
    rows.push(Row {
        what: "agent overhead per zone create (wall minus each command's spawn-to-exit time, as the agent measures it), share of command time".into(),
        value: format!("{own:.2} ms ({:.1} %)", 100.0 * own / spawned_per_zone),
        target: "≤ 5 %".into(),
    });
    let stamped = zones - unstamped;
    if stamped > 0 {
        let side = agent_side.as_secs_f64() * 1e3 / stamped as f64 - spawned_per_zone;
        rows.push(Row {
            what: format!(
                "the same from the agent's side of the connection (the POST's write to the kernel's arrival stamp of the answer's last byte: the client's work before and after left out){}",
                if unstamped > 0 {
                    format!("; {unstamped} creates without stamps")
                } else {
                    String::new()
                }
            ),
            value: format!("{side:.2} ms ({:.1} %)", 100.0 * side / spawned_per_zone),
            target: "≤ 5 %".into(),
        });
    }
    rows.push(Row {
        what: "agent CPU per zone create (the process's own user + system time, its host commands excluded)".into(),
        value: format!("{:.1} ms", cpu_ms / zones as f64),
        target: String::new(),
    });

    // The rest of the zones straight through the host tools (zones made outside the agent are
    // listed too), then the list under load.
    let zonecfg = host.join("bin/zonecfg");
    for i in zones..list_zones {
        let out = Command::new(&zonecfg)
            .args([
                "-z",
                &format!("extra{i}"),
                &format!("create -b; set zonepath=/rpool/zones/extra{i}; set brand=bhyve; set ip-type=exclusive"),
            ])
            .output()
            .expect("zonecfg");
        assert!(out.status.success(), "zonecfg failed");
    }
    // Zones made outside the agent show once the listing has aged (2 s) and been refreshed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.get("/zones")["total"] != list_zones {
        assert!(Instant::now() < deadline, "not every zone is listed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let Load {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        errors,
    } = get_load(&agent, "/zones", 32, Duration::from_secs_f64(secs));
    rows.push(Row {
        what: format!("GET /zones with {list_zones} zones, 32 connections: throughput"),
        value: format!("{rps:.0} req/s"),
        target: String::new(),
    });
    rows.push(Row {
        what: format!("GET /zones with {list_zones} zones, 32 connections: p50 / p99"),
        value: format!(
            "{p50:.2} ms / {p99:.2} ms{}",
            if errors > 0 {
                format!(" ({errors} errors)")
            } else {
                String::new()
            }
        ),
        target: "p99 < 20 ms".into(),
    });
    agent.stop();
}
