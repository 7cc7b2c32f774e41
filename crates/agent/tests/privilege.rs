//! The agent as the package runs it: the user `zoneweaver`, changing the host only through what
//! the "Zoneweaver Agent" profile grants, on an emulated host whose pfexec is setuid-root and
//! reads the package's own RBAC files (see illumos-sim's `pfexec.rs`). Every test here needs
//! root to set that up; in CI it always has it.

use serde_json::{json, Value};

use crate::support::{agent_user, dump, TestAgent};

const EXEC_ATTR: &str = "root/etc/security/exec_attr.d/zoneweaver-agent";

/// The agent's user, or `None` (and a note) where the tests do not run as root; CI must.
fn unprivileged(test: &str) -> Option<&'static crate::support::AgentUser> {
    let user = agent_user();
    if user.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{test} must run in CI (as root)");
        eprintln!("skipping {test}: the tests do not run as root");
    }
    user
}

/// Rewrites the emulated host's copy of the package's exec_attr fragment with `edit`.
fn edit_profile(a: &TestAgent, edit: impl Fn(&str) -> Option<String>) {
    let path = a.host_path(EXEC_ATTR);
    let text = std::fs::read_to_string(&path).unwrap();
    let new: Vec<String> = text.lines().filter_map(&edit).collect();
    assert_ne!(new.len(), 0);
    std::fs::write(&path, new.join("\n") + "\n").unwrap();
}

fn task(a: &TestAgent, resp: crate::support::Response) -> Value {
    assert_eq!(resp.status, 202, "{:?}", resp.body);
    a.wait(resp.body["task_id"].as_str().unwrap())
}

#[test]
fn the_agent_runs_as_its_own_user_and_root_files_are_out_of_its_reach() {
    let Some(user) = unprivileged("the unprivileged agent test") else {
        return;
    };
    let a = TestAgent::start();
    let status = std::fs::read_to_string(format!("/proc/{}/status", a.pid().unwrap())).unwrap();
    let uids: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(uids, vec![user.uid; 4], "real, effective, saved, fs uid");
    // What the agent changes it changes through its profile: a zone, its datasets, a link.
    let t = task(
        &a,
        a.post(
            "/zones",
            json!({"name": "priv1", "brand": "bhyve", "ram": "1G",
                   "boot_volume": {"size": "1G", "sparse": true}}),
        ),
    );
    assert_eq!(t["status"], "completed", "{t:#}");
    let t = task(&a, a.post("/network/etherstubs", json!({"name": "stub7"})));
    assert_eq!(t["status"], "completed", "{t:#}");
    // ... and nothing else: root's files stay root's.
    let out = a
        .command()
        .arg("--version")
        .output()
        .expect("the agent binary runs as its user");
    assert!(out.status.success());
    let mut touch = std::process::Command::new("/bin/sh");
    touch
        .args(["-c", "echo x >> \"$1\"", "sh"])
        .arg(a.host_path("root/etc/ipf/ipnat.conf"));
    crate::support::as_agent_user(&mut touch);
    assert!(
        !touch.status().unwrap().success(),
        "the agent's user wrote ipnat.conf"
    );
}

#[test]
fn a_tool_the_profile_does_not_grant_fails_naming_the_grant_and_changes_nothing() {
    if unprivileged("the missing-grant test").is_none() {
        return;
    }
    let a = TestAgent::start();
    // The bug the package had: an entry naming /usr/sbin/dladm never matches, since pfexec
    // sees the path the link resolves to.
    edit_profile(&a, |l| {
        Some(l.replace(":/sbin/dladm:", ":/usr/sbin/dladm:"))
    });
    let before = dump(&a);
    let t = task(&a, a.post("/network/etherstubs", json!({"name": "stub8"})));
    assert_eq!(t["status"], "failed", "{t:#}");
    let err = t["error_message"].as_str().unwrap_or_default();
    assert!(err.contains("permission denied"), "{err}");
    assert!(
        err.contains("zoneweaver") && err.contains("/sbin/dladm"),
        "the error does not name the user and the grant: {err}"
    );
    assert_eq!(dump(&a), before, "the host changed");
}

#[test]
fn without_the_install_grant_a_nat_change_fails_cleanly_naming_it() {
    if unprivileged("the missing install grant test").is_none() {
        return;
    }
    let a = TestAgent::start();
    edit_profile(&a, |l| {
        (!l.contains("/opt/zoneweaver/lib/zoneweaver-install")).then(|| l.to_string())
    });
    let conf = a.host_path("root/etc/ipf/ipnat.conf");
    std::fs::write(&conf, "# site rules, kept\n").unwrap();
    let before = dump(&a);
    let t = task(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.190.190.0/24", "target": "0/32",
                   "protocol": "tcp/udp", "type": "portmap"}),
        ),
    );
    assert_eq!(t["status"], "failed", "{t:#}");
    let err = t["error_message"].as_str().unwrap_or_default();
    assert!(
        err.contains("/etc/ipf/ipnat.conf")
            && err.contains("zoneweaver")
            && err.contains("/opt/zoneweaver/lib/zoneweaver-install"),
        "the error does not name the file, the user and the missing grant: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "# site rules, kept\n"
    );
    assert_eq!(dump(&a), before, "the host changed");
    let leftovers: Vec<String> = std::fs::read_dir(conf.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "ipnat.conf")
        .collect();
    assert!(
        leftovers.is_empty(),
        "left beside ipnat.conf: {leftovers:?}"
    );
}
