//! The provisioning pipeline's own overhead: a whole pipeline (network, extract, boot, console
//! recipe, wait for SSH, rsync, a shell provisioner, snapshots) against the emulated host and a
//! real sshd on loopback, and how much of its time is not spent inside a stage.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::agent::Agent;
use crate::{parse_ts, percentile, Row};

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// An sshd on 127.0.0.1 that lets the agent's provisioning key in as the current user.
struct Guest(Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_guest(dir: &Path, authorized: &str, port: u16) -> Guest {
    std::fs::create_dir_all(dir).expect("guest dir");
    let host_key = dir.join("host_key");
    let ok = Command::new(tool("ssh-keygen").expect("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&host_key)
        .status()
        .expect("ssh-keygen runs")
        .success();
    assert!(ok, "ssh-keygen failed");
    std::fs::write(dir.join("authorized_keys"), format!("{authorized}\n")).expect("keys");
    let _ = std::fs::create_dir_all("/run/sshd");
    let conf = dir.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {k}\nAuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            k = host_key.display(),
            d = dir.display()
        ),
    )
    .expect("sshd_config");
    let child = Command::new(tool("sshd").expect("sshd"))
        .args(["-D", "-e", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    Guest(child)
}

fn wait_task(agent: &Agent, id: &str) -> Value {
    let t = agent.get(&format!("/tasks/{id}/wait?timeout=120"));
    assert_eq!(t["status"], "completed", "task failed: {t}");
    t
}

pub fn run(root: &Path, runs: usize, rows: &mut Vec<Row>) {
    let what = "provisioning pipeline (7 stages) against the emulator and a local sshd: agent overhead (total minus time inside stages)";
    // sshd lets another user (the agent logs in as root) in only when it runs as root.
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let missing: Vec<&str> = ["sshd", "ssh", "ssh-keygen", "rsync"]
        .into_iter()
        .filter(|t| tool(t).is_none())
        .collect();
    if !root_user || !missing.is_empty() {
        rows.push(Row {
            what: what.into(),
            value: format!(
                "not measured (root: {root_user}, missing: {missing:?}; run scripts/install-test-deps as root)"
            ),
            target: "< 100 ms".into(),
        });
        return;
    }
    let mut agent = Agent::prepare(
        &root.join("pipeline"),
        "provisioning:\n  ssh:\n    wait_interval_seconds: 1\n",
    );
    crate::zones::zero_delays(&agent.dir.join("host"));
    agent.start();
    let key = agent.get("/provisioning/ssh-key");
    let public = key["public_key"].as_str().expect("public key").to_owned();
    let port = crate::agent::free_port();
    let _guest = start_guest(&agent.dir.join("guest"), &public, port);
    let dest = agent.dir.join("guest/synced");

    let r = agent.post(
        "/zones",
        &json!({"name": "pipe1", "brand": "bhyve", "ram": "1G",
                "boot_volume": {"size": "1G", "sparse": true}}),
    );
    wait_task(&agent, r["task_id"].as_str().expect("create accepted"));
    let settings = json!({"provisioning": {
        "recipe_id": "linux-ifconfig",
        "mode": "shell",
        "credentials": {"username": "root"},
        "sync_folders": [{"source": "provisioning_dataset", "dest": dest.display().to_string()}],
        "provisioners": [{"type": "shell", "inline": "true"}],
        "variables": {"ip": "127.0.0.1", "dns": "192.0.2.53", "vnic_name": "eth0"},
        "ssh_port": port
    }});
    let mut put = agent
        .http
        .put(&agent.url("/zones/pipe1"))
        .header("Authorization", &format!("Bearer {}", agent.key))
        .send_json(&settings)
        .expect("PUT provisioning settings");
    let _: Value = put.body_mut().read_json().expect("JSON answer");

    let mut overheads = Vec::new();
    let mut totals = Vec::new();
    let mut gaps = Vec::new();
    let mut per_stage: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    // The first run also sets the provisioning network up; it is reported apart.
    let mut first = None;
    for i in 0..=runs {
        let r = agent.post("/zones/pipe1/provision", &json!({}));
        let group = r["task_id"].as_str().expect("pipeline accepted").to_owned();
        let g = wait_task(&agent, &group);
        let mut stages: Vec<Value> = r["pipeline_tasks"]
            .as_object()
            .expect("stages")
            .values()
            .map(|id| agent.get(&format!("/tasks/{}", id.as_str().expect("id"))))
            .collect();
        stages.sort_by(|a, b| parse_ts(&a["started_at"]).total_cmp(&parse_ts(&b["started_at"])));
        let start = parse_ts(&g["created_at"]);
        let end = parse_ts(&g["completed_at"]);
        let inside: f64 = stages
            .iter()
            .map(|s| parse_ts(&s["completed_at"]) - parse_ts(&s["started_at"]))
            .sum();
        let total = (end - start) * 1e3;
        let overhead = total - inside * 1e3;
        if i == 0 {
            first = Some((total, overhead));
            continue;
        }
        for st in &stages {
            per_stage
                .entry(st["operation"].as_str().unwrap_or("?").to_owned())
                .or_default()
                .push((parse_ts(&st["completed_at"]) - parse_ts(&st["started_at"])) * 1e3);
        }
        for w in stages.windows(2) {
            gaps.push((parse_ts(&w[1]["started_at"]) - parse_ts(&w[0]["completed_at"])) * 1e3);
        }
        totals.push(total);
        overheads.push(overhead);
    }
    agent.stop();
    overheads.sort_by(f64::total_cmp);
    totals.sort_by(f64::total_cmp);
    gaps.sort_by(f64::total_cmp);
    if let Some((total, overhead)) = first {
        rows.push(Row {
            what: "provisioning pipeline, first run (also sets the provisioning network up): total / agent overhead".into(),
            value: format!("{total:.0} ms / {overhead:.1} ms"),
            target: String::new(),
        });
    }
    rows.push(Row {
        what: format!("provisioning pipeline, {runs} re-runs: total time median"),
        value: format!("{:.0} ms", percentile(&totals, 0.5)),
        target: String::new(),
    });
    rows.push(Row {
        what: format!("{what}: median / max"),
        value: format!(
            "{:.1} ms / {:.1} ms",
            percentile(&overheads, 0.5),
            percentile(&overheads, 1.0)
        ),
        target: "< 100 ms".into(),
    });
    let medians: Vec<String> = per_stage
        .iter_mut()
        .map(|(op, v)| {
            v.sort_by(f64::total_cmp);
            format!("{op} {:.0}", percentile(v, 0.5))
        })
        .collect();
    rows.push(Row {
        what: "provisioning pipeline: time inside each stage, median ms".into(),
        value: medians.join(", "),
        target: String::new(),
    });
    rows.push(Row {
        what: "provisioning pipeline: stage end to next stage start, median / max".into(),
        value: format!(
            "{:.2} ms / {:.2} ms",
            percentile(&gaps, 0.5),
            percentile(&gaps, 1.0)
        ),
        target: String::new(),
    });
}
