//! A guest is hostile: nothing it prints may exhaust the agent, and no guest is trusted with
//! what the pipeline sends to another. A stand-in `ssh` (configured under
//! `provisioning.tools`) plays a guest that floods its output; a real sshd on loopback plays
//! guests whose host key changes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::guest::{create_zone, guest_ready, stand_in_tool, start_sshd};
use crate::support::{temp_dir, TestAgent};

const GIB: u64 = 1024 * 1024 * 1024;
const MAX_OUTPUT: u64 = 1024 * 1024;

/// The agent's resident set in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_guest_printing_gigabytes_leaves_the_agent_bounded_and_the_log_capped() {
    let tools = temp_dir("flood-tools");
    // 1 GiB of 1000-byte lines on stdout and, at the same time, 1 GiB without a single newline
    // on stderr; then the "login" succeeds, so the stage goes on.
    let ssh = stand_in_tool(
        &tools.0,
        "ssh",
        &format!(
            "line=$(head -c 999 /dev/zero | tr '\\0' g)\n\
             yes \"$line\" | head -c {GIB} &\n\
             head -c {GIB} /dev/zero | tr '\\0' x >&2\n\
             wait\nexit 0"
        ),
    );
    let key = tools.0.join("id_unused");
    std::fs::write(&key, "not a key\n").unwrap();
    let agent = TestAgent::start_with(&format!(
        "tasks:\n  max_output_bytes: {MAX_OUTPUT}\nprovisioning:\n  ssh:\n    wait_timeout_seconds: 600\n    wait_interval_seconds: 1\n  tools:\n    ssh: {}\n",
        ssh.display()
    ));
    create_zone(&agent, "flood1", "pw1");
    // wait_ssh dials the address first: something must accept on loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pid = agent.pid().unwrap();
    let baseline = rss_kib(pid).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let started = Instant::now();
    let (group, wait_ssh) = provision_against(&agent, "flood1", &key, port);
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    eprintln!(
        "2 GiB of guest output in {:?}; agent RSS {baseline} KiB before, peak {peak} KiB",
        started.elapsed()
    );
    drop(listener);

    // The flood did not stop the pipeline: the guest "logged in", the rest ran.
    assert_eq!(group["status"], "completed", "{group:?}");
    assert!(
        peak < 64 * 1024,
        "the agent's RSS reached {peak} KiB (from {baseline} KiB)"
    );

    let wait_ssh = wait_ssh["id"].as_str().unwrap();
    let out = agent.get(&format!("/tasks/{wait_ssh}/output?limit=10000"));
    assert_eq!(out.status, 200, "{:?}", out.body);
    let lines = out.body["lines"].as_array().unwrap().clone();
    assert!(lines.len() < 10_000, "{} lines", lines.len());
    let texts: Vec<&str> = lines.iter().map(|l| l["line"].as_str().unwrap()).collect();
    let kept: usize = texts.iter().map(|t| t.len() + 1).sum();
    let summary = texts.last().unwrap();
    assert!(
        kept as u64 <= MAX_OUTPUT + summary.len() as u64 + 1,
        "the log kept {kept} bytes"
    );
    assert!(
        summary.contains("bytes of output")
            && summary.contains("dropped")
            && summary.contains("tasks.max_output_bytes"),
        "{summary}"
    );
    // Lines are cut, never kept whole: the newline-less gigabyte shows as one marked line.
    assert!(
        texts.iter().all(|t| t.len() <= 8 * 1024 + 64),
        "a line was kept whole"
    );
    if let Some(cut) = texts.iter().find(|t| t.starts_with("xxx")) {
        assert!(cut.contains("[line cut: "), "{}", &cut[cut.len() - 60..]);
    }
}

/// Runs zone `zone`'s pipeline against a guest at 127.0.0.1:`port` logging in with `key`
/// (nothing to sync or provision: wait_ssh logs in) and returns the group task and the
/// wait_ssh task as they ended.
fn provision_against(agent: &TestAgent, zone: &str, key: &Path, port: u16) -> (Value, Value) {
    let r = agent.request(
        "PUT",
        &format!("/zones/{zone}"),
        Some(&agent.key),
        Some(&json!({"provisioning": {
            "credentials": {"username": "root", "ssh_key_path": key.display().to_string()},
            "variables": {"ip": "127.0.0.1"}, "ssh_port": port}})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = agent.post(&format!("/zones/{zone}/provision"), json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let wait_ssh = r.body["pipeline_tasks"]["wait_ssh"]
        .as_str()
        .unwrap()
        .to_owned();
    // wait_timeout_seconds is 600: a stage that retried instead of failing would outlast this
    // wait, and the test would say so.
    let group = agent.wait(r.body["task_id"].as_str().unwrap());
    (group, agent.wait(&wait_ssh))
}

/// The zone instances with a pinned host key: the known_hosts files and what they hold.
fn pinned(agent: &TestAgent) -> Vec<(String, String)> {
    let dir = agent.data_dir().join("provisioning/known_hosts");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn host_keys_are_pinned_per_zone_and_address_and_a_changed_key_fails_the_stage() {
    if guest_ready("the host key pinning test", false).is_none() {
        return;
    }
    let sshd = start_sshd(Path::new("/usr/bin"));
    let agent = TestAgent::start_with(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 600\n    wait_interval_seconds: 1\n",
    );
    for zone in ["keya", "keyb"] {
        create_zone(&agent, zone, "pw1");
        let (group, _) = provision_against(&agent, zone, &sshd.client_key, sshd.port);
        assert_eq!(group["status"], "completed", "{group:?}");
    }
    // One file per zone, each holding the key under the address it was learnt at.
    let files = pinned(&agent);
    assert_eq!(files.len(), 2, "{files:?}");
    for ((name, text), zone) in files.iter().zip(["keya@", "keyb@"]) {
        assert!(name.starts_with(zone), "{files:?}");
        assert!(
            text.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", sshd.port)),
            "{text}"
        );
    }

    // Another key now answers at the same address: a zone that knew the old one refuses it,
    // at once and saying why.
    sshd.change_host_key();
    let (group, wait_ssh) = provision_against(&agent, "keya", &sshd.client_key, sshd.port);
    assert_eq!(group["status"], "failed", "{group:?}");
    assert_eq!(wait_ssh["status"], "failed", "{wait_ssh:?}");
    let error = wait_ssh["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("not the one pinned for zone keya") && error.contains(&files[0].0),
        "{wait_ssh:?}"
    );
    // Keys learnt for keya and keyb are no one else's: a new zone learns its own.
    create_zone(&agent, "keyc", "pw1");
    let (group, _) = provision_against(&agent, "keyc", &sshd.client_key, sshd.port);
    assert_eq!(group["status"], "completed", "{group:?}");
    // keya deleted and created again is a new guest: it starts afresh.
    let r = agent.delete("/zones/keya?cleanup_datasets=true");
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    create_zone(&agent, "keya", "pw1");
    let (group, _) = provision_against(&agent, "keya", &sshd.client_key, sshd.port);
    assert_eq!(group["status"], "completed", "{group:?}");
    let names: Vec<String> = pinned(&agent).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("keya@")).count(), 2);
}
