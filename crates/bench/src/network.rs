//! Network benchmarks: DHCP host entries added one by one through the API (does the time per
//! entry stay flat as dhcpd.conf grows?), and `GET /network/vnics` with 500 VNICs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::agent::Agent;
use super::{get_load, percentile, Load, Row};

/// Posts `body` to `path`, waits for the task, and checks it completed.
fn run_task(agent: &Agent, path: &str, body: &serde_json::Value) {
    let r = agent.post(path, body);
    let id = r["task_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no task: {r}"))
        .to_owned();
    let t = agent.get(&format!("/tasks/{id}/wait?timeout=120"));
    assert_eq!(t["status"], "completed", "{path}: {t}");
}

fn put_task(agent: &Agent, path: &str, body: &serde_json::Value) {
    let mut r = agent
        .http
        .put(&agent.url(path))
        .header("Authorization", &format!("Bearer {}", agent.key))
        .send_json(body)
        .expect("PUT");
    let v: serde_json::Value = r.body_mut().read_json().expect("JSON");
    let id = v["task_id"].as_str().expect("task id").to_owned();
    let t = agent.get(&format!("/tasks/{id}/wait?timeout=120"));
    assert_eq!(t["status"], "completed", "{path}: {t}");
}

pub fn run(root: &Path, quick: bool, rows: &mut Vec<Row>) {
    dhcp_hosts(root, if quick { 300 } else { 1000 }, rows);
    vnic_listing(root, if quick { 200 } else { 500 }, quick, rows);
}

fn dhcp_hosts(root: &Path, n: usize, rows: &mut Vec<Row>) {
    // The real ISC dhcpd checks every new file when it is installed (as on a host with dhcpd).
    let dhcpd = ["/usr/sbin/dhcpd", "/usr/lib/inet/dhcpd"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let extra = match dhcpd {
        Some(p) => format!("network:\n  dhcpd_path: {p}\n"),
        None => String::new(),
    };
    let mut agent = Agent::prepare(&root.join("dhcp"), &extra);
    agent.start();
    put_task(
        &agent,
        "/network/dhcp/config",
        &json!({"subnet": "10.20.0.0", "netmask": "255.255.0.0", "router": "10.20.0.1",
            "range_start": "10.20.200.1", "range_end": "10.20.250.254"}),
    );
    let mut per_entry = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        run_task(
            &agent,
            "/network/dhcp/hosts",
            &json!({
                "hostname": format!("host-{i}"),
                "mac": format!("02:08:20:00:{:02x}:{:02x}", i / 256, i % 256),
                "ip": format!("10.20.{}.{}", 1 + i / 250, 1 + i % 250),
            }),
        );
        per_entry.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let window = |end: usize| {
        let start = end.saturating_sub(100);
        let mut w = per_entry[start..end].to_vec();
        w.sort_by(f64::total_cmp);
        (w.iter().sum::<f64>() / w.len() as f64, percentile(&w, 0.99))
    };
    let checked = if dhcpd.is_some() {
        "dhcpd -t on each file"
    } else {
        "no dhcpd: check skipped"
    };
    for at in [100, n] {
        let (mean, p99) = window(at);
        rows.push(Row {
            what: format!(
                "DHCP host entry added through the API (POST + task), entries {}..{at} ({checked}): mean / p99",
                at - 99
            ),
            value: format!("{mean:.1} ms / {p99:.1} ms"),
            target: if at == n {
                "flat: close to the value at 100".into()
            } else {
                String::new()
            },
        });
    }
    agent.stop();
}

fn vnic_listing(root: &Path, n: usize, quick: bool, rows: &mut Vec<Row>) {
    let mut agent = Agent::prepare(&root.join("vnics"), "");
    agent.start();
    run_task(
        &agent,
        "/network/etherstubs",
        &json!({"name": "benchstub0"}),
    );
    for i in 0..n {
        run_task(
            &agent,
            "/network/vnics",
            &json!({"name": format!("bench{i}"), "link": "benchstub0"}),
        );
    }
    let listed = agent.get("/network/vnics");
    assert_eq!(listed["total"], n, "VNICs listed");
    let secs = if quick { 2.0 } else { 5.0 };
    for conns in [1usize, 8] {
        let Load {
            rps,
            p50_ms: p50,
            p99_ms: p99,
            errors,
        } = get_load(
            &agent,
            "/network/vnics",
            conns,
            Duration::from_secs_f64(secs),
        );
        rows.push(Row {
            what: format!("GET /network/vnics ({n} VNICs, live dladm), {conns} connection(s): throughput / p50 / p99"),
            value: format!(
                "{rps:.0} req/s / {p50:.2} ms / {p99:.2} ms{}",
                if errors > 0 {
                    format!(" ({errors} errors)")
                } else {
                    String::new()
                }
            ),
            target: String::new(),
        });
    }
    agent.stop();
}
