//! Crash sweeps: the agent is killed (SIGKILL) right after the k-th host command of an
//! operation, for every k, then restarted. The task must end failed (or completed, if the kill
//! came after its last step) and the host must equal the state before the request or the state
//! after it, never something in between (see `support::sweep`).

use std::path::Path;

use crate::support::guest::{guest_ready, start_sshd};
use crate::support::ops;
use crate::support::sweep::{crash_sweep, pipeline_crash_sweep, Op};
use crate::support::temp_dir;

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
