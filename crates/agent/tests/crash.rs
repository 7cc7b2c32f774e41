//! Crash sweeps: the agent is killed (SIGKILL) right after the k-th host command of an
//! operation, for every k, then restarted. The task must end failed (or completed, if the kill
//! came after its last step) and the host must equal the state before the request or the state
//! after it, never something in between.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{sim_bin, TestAgent};

fn dump(agent: &TestAgent) -> Value {
    let out = Command::new(sim_bin())
        .arg("dump")
        .arg(&agent.host)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn host(agent: &TestAgent, tool: &str, args: &[&str]) {
    let out = Command::new(agent.host.join("bin").join(tool))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Operation<'a> {
    name: &'a str,
    /// Prepares the host (run before the "before" dump).
    setup: &'a dyn Fn(&TestAgent),
    method: &'a str,
    path: &'a str,
    body: Option<Value>,
}

/// Runs `op` once without faults to learn the "after" state, then once per k with the agent
/// killed after its k-th host command. Returns how many crash points were checked.
fn sweep(op: &Operation) -> usize {
    let reference = TestAgent::start();
    (op.setup)(&reference);
    let r = reference.request(op.method, op.path, Some(&reference.key), op.body.as_ref());
    assert!(r.status == 202, "{}: {:?}", op.name, r.body);
    let t = reference.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{}: {t:?}", op.name);
    let after = dump(&reference);
    drop(reference);

    let mut k = 1;
    loop {
        let mut agent = TestAgent::start();
        (op.setup)(&agent);
        let before = dump(&agent);
        std::fs::write(
            agent.host.join("faults"),
            json!({"tool": "*", "nth": k, "action": "kill_parent"}).to_string(),
        )
        .unwrap();
        let r = agent.request_raw(op.method, op.path, op.body.as_ref());
        let killed = agent.wait_exit(Duration::from_secs(20));
        if !killed {
            // k is past the last command: the operation ran to its end.
            let id = r.expect("accepted")["task_id"].as_str().unwrap().to_owned();
            assert_eq!(agent.wait(&id)["status"], "completed");
            return k - 1;
        }
        std::fs::remove_file(agent.host.join("faults")).unwrap();
        agent.launch();
        let now = match r {
            // Killed before the request was answered: nothing may have changed.
            None => {
                let state = dump(&agent);
                assert_eq!(
                    state, before,
                    "{} k={k}: killed before accepting, host changed",
                    op.name
                );
                k += 1;
                continue;
            }
            Some(body) => {
                let t = agent.wait(body["task_id"].as_str().unwrap());
                (t["status"].as_str().unwrap().to_owned(), dump(&agent))
            }
        };
        match now.0.as_str() {
            "failed" => assert_eq!(
                now.1, before,
                "{} k={k}: failed but the host is not as before",
                op.name
            ),
            "completed" => assert_eq!(
                now.1, after,
                "{} k={k}: completed but the host differs",
                op.name
            ),
            other => panic!("{} k={k}: task ended {other}", op.name),
        }
        k += 1;
    }
}

#[test]
fn zone_create_with_everything_survives_a_crash_after_any_command() {
    let iso = |a: &TestAgent| {
        std::fs::create_dir_all(a.host.join("root/iso")).unwrap();
        std::fs::write(a.host.join("root/iso/install.iso"), b"iso").unwrap();
    };
    let points = sweep(&Operation {
        name: "zone create",
        setup: &iso,
        method: "POST",
        path: "/zones",
        body: Some(json!({
            "name": "crash1", "brand": "bhyve", "ram": "2G",
            "boot_volume": {"size": "10G", "sparse": true},
            "nics": [{"physical": "crash1net0", "global_nic": "igb0"}],
            "cdroms": [{"path": "/iso/install.iso"}],
            "cloud_init": {"enabled": "on", "password": "s3cret", "sshkey": "ssh-ed25519 AAAAC3Nz u@h"}
        })),
    });
    assert!(points >= 8, "only {points} crash points");
}

#[test]
fn zone_create_from_a_template_survives_a_crash_after_any_command() {
    let template = |a: &TestAgent| {
        host(a, "zfs", &["create", "-p", "rpool/templates"]);
        host(a, "zfs", &["create", "-V", "1G", "rpool/templates/base"]);
        host(a, "zfs", &["snapshot", "rpool/templates/base@v1"]);
    };
    for strategy in ["clone", "copy"] {
        let points = sweep(&Operation {
            name: strategy,
            setup: &template,
            method: "POST",
            path: "/zones",
            body: Some(json!({"name": "tpl", "brand": "bhyve",
                "source": {"type": "template", "template_dataset": "rpool/templates/base", "clone_strategy": strategy}})),
        });
        assert!(points >= 6, "{strategy}: only {points} crash points");
    }
}

#[test]
fn zone_modify_with_new_disks_survives_a_crash_after_any_command() {
    let zone = |a: &TestAgent| {
        let r = a.post("/zones", json!({"name": "mod1", "brand": "bhyve"}));
        assert_eq!(
            a.wait(r.body["task_id"].as_str().unwrap())["status"],
            "completed"
        );
    };
    let points = sweep(&Operation {
        name: "zone modify",
        setup: &zone,
        method: "PUT",
        path: "/zones/mod1",
        body: Some(json!({"ram": "4G", "add_disks": [
            {"create_new": true, "volume_name": "data", "size": "1G"},
            {"create_new": true, "volume_name": "logs", "size": "1G"}]})),
    });
    assert!(points >= 4, "only {points} crash points");
}

#[test]
fn zone_delete_with_cleanup_survives_a_crash_after_any_command() {
    let zone = |a: &TestAgent| {
        let r = a.post(
            "/zones",
            json!({"name": "del1", "brand": "bhyve", "boot_volume": {"size": "1G"},
                   "nics": [{"physical": "del1net0", "global_nic": "igb0"}], "start_after_create": true}),
        );
        assert_eq!(
            a.wait(r.body["start_task_id"].as_str().unwrap())["status"],
            "completed"
        );
    };
    let points = sweep(&Operation {
        name: "zone delete",
        setup: &zone,
        method: "DELETE",
        path: "/zones/del1?cleanup_datasets=true",
        body: None,
    });
    assert!(points >= 5, "only {points} crash points");
}
