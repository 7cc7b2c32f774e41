//! Crash sweeps: the agent is killed (SIGKILL) right after the k-th host command of an
//! operation, for every k, then restarted. The task must end failed (or completed, if the kill
//! came after its last step) and the host must equal the state before the request or the state
//! after it, never something in between (see `support::sweep`).

use std::path::Path;

use crate::support::guest::{guest_ready, start_sshd};
use crate::support::ops;
use std::time::Duration;

use serde_json::json;

use crate::support::sweep::{crash_sweep, pipeline_crash_sweep, write_fault, Op};
use crate::support::{temp_dir, TestAgent};

fn sweep(op: Op, at_least: usize) {
    let points = crash_sweep(&op);
    assert!(
        points >= at_least,
        "{}: only {points} crash points",
        op.name
    );
}

#[test]
fn zone_create_with_everything_survives_a_crash_after_any_command() {
    sweep(ops::zone_create(), 8);
}

#[test]
fn zone_create_from_a_template_by_clone_survives_a_crash_after_any_command() {
    sweep(ops::zone_from_template("clone"), 6);
}

#[test]
fn zone_create_from_a_template_by_copy_survives_a_crash_after_any_command() {
    sweep(ops::zone_from_template("copy"), 6);
}

#[test]
fn zone_modify_with_new_disks_survives_a_crash_after_any_command() {
    sweep(ops::zone_modify(), 4);
}

#[test]
fn zone_start_survives_a_crash_after_any_command() {
    sweep(ops::zone_start(), 2);
}

#[test]
fn zone_delete_with_cleanup_survives_a_crash_after_any_command() {
    sweep(ops::zone_delete(), 5);
}

#[test]
fn nat_rule_add_survives_a_crash_after_any_command() {
    sweep(ops::nat_add_ipfilter_off(), 4);
    sweep(ops::nat_add_ipfilter_on(), 3);
}

#[test]
fn dhcp_host_add_survives_a_crash_after_any_command() {
    sweep(ops::dhcp_host_add(), 2);
}

#[test]
fn dhcp_config_update_survives_a_crash_after_any_command() {
    sweep(ops::dhcp_config_update(), 4);
}

#[test]
fn provisioning_network_setup_survives_a_crash_after_any_command() {
    sweep(ops::provisioning_setup(), 10);
}

#[test]
fn provisioning_network_teardown_survives_a_crash_after_any_command() {
    sweep(ops::provisioning_teardown(), 8);
}

#[test]
fn provisioning_pipeline_survives_a_crash_after_any_command() {
    let Some(_) = guest_ready("the provisioning pipeline crash sweep", false) else {
        return;
    };
    let sshd = start_sshd(Path::new("/usr/bin"));
    let guest = temp_dir("guest");
    let points = pipeline_crash_sweep(&ops::provisioning_pipeline(&sshd, &guest.0));
    assert!(
        points >= 30,
        "provisioning pipeline: only {points} crash points"
    );
}

/// A create killed after its last step, while it waits for the listing to show the zone (its
/// settle's `zoneadm list`, the only one a task runs in a create), is undone at restart like
/// any other
/// crash: the zone's row goes with it, so the same create is accepted again. (The row used
/// to turn `ready` before the task's end was recorded: it outlived the undo, and every later
/// create of that name was refused as already existing.)
#[test]
fn a_create_undone_after_a_crash_in_its_last_step_leaves_the_name_free() {
    let op = ops::zone_create();
    let mut agent = TestAgent::start_with("");
    (op.setup)(&agent);
    write_fault(
        &agent,
        json!({"tool": "zoneadm", "prefix": ["list", "-cp"], "origin": "task:", "nth": 1, "action": "kill_parent"}),
    );
    let body = op.body.as_ref();
    let id = agent
        .request_raw(op.method, op.path, body)
        .and_then(|b| b["task_id"].as_str().map(str::to_owned))
        .expect("the create is accepted before the crash");
    assert!(
        agent.wait_raw(&id).is_none(),
        "the task ended before the crash"
    );
    assert!(agent.wait_exit(Duration::from_secs(30)), "the agent lives");
    // It died after the create's last step: the zone was installed.
    assert!(
        agent
            .invocations()
            .iter()
            .any(|i| i["argv"] == json!(["zoneadm", "-z", "crash1", "install"])),
        "the crash came before the install"
    );
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    agent.launch();
    assert_eq!(agent.wait(&id)["status"], "failed");
    let again = agent.request(op.method, op.path, Some(&agent.key), body);
    assert_eq!(again.status, 202, "{:?}", again.body);
    let t = agent.wait(again.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t}");
}
