//! A shell provisioner's environment, arguments and inline script stay secret (issue 13,
//! finding 9): never on a command line, masked in the task log, redacted for viewers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::provisioning::task_output;
use crate::support::guest::{create_zone, guest_ready, run_pipeline, start_sshd, which};
use crate::support::{temp_dir, TestAgent};

const ENV_SECRET: &str = "zw-env-S3cret-4711";
const ARG_SECRET: &str = "zw-arg-S3cret-0815";
const INLINE_SECRET: &str = "zw-inline-S3cret-2342";

/// Scans every process's argv for any of `needles` until stopped; returns what it saw and how
/// many distinct command lines it looked at.
fn watch_argv(needles: Vec<String>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut lines = std::collections::HashSet::new();
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(bytes) = std::fs::read(e.path().join("cmdline")) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
                if needles.iter().any(|n| text.contains(n.as_str())) {
                    seen.push(format!("{:?}: {text}", e.file_name()));
                }
                lines.insert(text);
            }
        }
        seen.push(format!("(watched {} distinct command lines)", lines.len()));
        seen
    })
}

#[test]
fn shell_provisioner_env_args_and_script_never_show() {
    let Some(_) = guest_ready("the shell provisioner secrets test", false) else {
        return;
    };
    let sshd = start_sshd(which("sh").unwrap().parent().unwrap());
    let agent = TestAgent::start_with(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 60\n    wait_interval_seconds: 1\n",
    );
    create_zone(&agent, "sec1", "pw-sec1");
    let guest = temp_dir("guest");
    let marker = guest.0.join("marker");
    // Builtins only (printf, echo): the script itself puts no value on a command line.
    let inline = format!(
        "# {INLINE_SECRET}\nprintf '%s %s\\n' \"$ZW_TOKEN\" \"$1\" > \"$2\"\necho \"token is $ZW_TOKEN, arg is $1\"\n"
    );
    let r = agent.request(
        "PUT",
        "/zones/sec1",
        Some(&agent.key),
        Some(&json!({"provisioning": {
            "credentials": {"username": "root",
                            "ssh_key_path": sshd.client_key.display().to_string()},
            "provisioners": [{"type": "shell", "inline": inline,
                              "args": [ARG_SECRET, marker.display().to_string()],
                              "env": {"ZW_TOKEN": ENV_SECRET}}],
            "variables": {"ip": "127.0.0.1"},
            "ssh_port": sshd.port,
        }})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_argv(
        vec![ENV_SECRET.into(), ARG_SECRET.into(), INLINE_SECRET.into()],
        stop.clone(),
    );
    let (done, stages) = run_pipeline(&agent, "sec1");
    let group = done["id"].as_str().unwrap().to_owned();
    let stage = stages["provision"].as_str().unwrap().to_owned();
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    let out = task_output(&agent, &stage);
    assert_eq!(done["status"], "completed", "{done}\n{out}");

    // They reached the guest ...
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        format!("{ENV_SECRET} {ARG_SECRET}\n")
    );
    // ... on no command line, ...
    assert_eq!(seen.len(), 1, "a secret was on a command line: {seen:?}");
    // ... and the guest's echo of them is masked in the log.
    assert!(out.contains("token is ********, arg is ********"), "{out}");
    for s in [ENV_SECRET, ARG_SECRET, INLINE_SECRET] {
        assert!(!out.contains(s), "the task log shows {s}: {out}");
    }

    // A viewer reads the tasks and the zone: names, never values.
    let viewer = agent.key_cmd(&["keys", "create", "--name", "sec-viewer", "--role", "viewer"]);
    assert!(viewer.status.success());
    let viewer = String::from_utf8(viewer.stdout).unwrap().trim().to_owned();
    for path in [
        format!("/tasks/{stage}"),
        format!("/tasks/{group}"),
        "/tasks?limit=100".to_owned(),
        "/zones/sec1".to_owned(),
    ] {
        let r = agent.request("GET", &path, Some(&viewer), None);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let body = r.body.to_string();
        for s in [ENV_SECRET, ARG_SECRET, INLINE_SECRET] {
            assert!(!body.contains(s), "a viewer sees {s} in {path}: {body}");
        }
    }
    let t = agent.request("GET", &format!("/tasks/{stage}"), Some(&viewer), None);
    let pr = &t.body["metadata"]["settings"]["provisioners"][0];
    assert_eq!(pr["env"]["ZW_TOKEN"], "(redacted)", "{pr}");
    assert_eq!(pr["inline"], "(redacted)", "{pr}");
    // Task metadata is redacted for every role; the zone's settings are an operator's to edit.
    let admin_task = agent.get(&format!("/tasks/{stage}")).body.to_string();
    assert!(!admin_task.contains(ENV_SECRET), "{admin_task}");
    let zone = agent.get("/zones/sec1").body;
    assert_eq!(
        zone["provisioning"]["provisioners"][0]["env"]["ZW_TOKEN"],
        ENV_SECRET
    );
}
