//! Fault sweeps: the k-th host command of an operation, for every k, fails once, or hangs past
//! the command timeout once. The request is refused with the host untouched, or its task ends
//! failed with the host as before, or completed (the step was tolerated) with the host as
//! after, never in between (see `support::sweep`).

use std::path::Path;

use crate::support::guest::{guest_ready, start_sshd};
use crate::support::ops;
use crate::support::sweep::{fault_sweep, pipeline_fault_sweep, Fault, Op};
use crate::support::temp_dir;

/// Fails, then hangs, every command of `op` in turn.
fn sweep(op: Op, at_least: usize) {
    for fault in [Fault::Fail, Fault::Hang] {
        let points = fault_sweep(&op, fault);
        assert!(
            points >= at_least,
            "{} ({fault:?}): only {points} fault points",
            op.name
        );
    }
}

#[test]
fn zone_create_with_everything_fails_cleanly_at_any_command() {
    sweep(ops::zone_create(), 8);
}

#[test]
fn zone_create_from_a_template_by_clone_fails_cleanly_at_any_command() {
    sweep(ops::zone_from_template("clone"), 6);
}

#[test]
fn zone_create_from_a_template_by_copy_fails_cleanly_at_any_command() {
    sweep(ops::zone_from_template("copy"), 6);
}

#[test]
fn zone_modify_with_new_disks_fails_cleanly_at_any_command() {
    sweep(ops::zone_modify(), 4);
}

#[test]
fn zone_start_fails_cleanly_at_any_command() {
    sweep(ops::zone_start(), 2);
}

#[test]
fn zone_delete_with_cleanup_fails_cleanly_at_any_command() {
    sweep(ops::zone_delete(), 5);
}

#[test]
fn nat_rule_add_fails_cleanly_at_any_command() {
    sweep(ops::nat_add_ipfilter_off(), 4);
    sweep(ops::nat_add_ipfilter_on(), 3);
}

#[test]
fn dhcp_host_add_fails_cleanly_at_any_command() {
    sweep(ops::dhcp_host_add(), 2);
}

#[test]
fn dhcp_config_update_fails_cleanly_at_any_command() {
    sweep(ops::dhcp_config_update(), 4);
}

#[test]
fn provisioning_network_setup_fails_cleanly_at_any_command() {
    sweep(ops::provisioning_setup(), 10);
}

#[test]
fn provisioning_network_teardown_fails_cleanly_at_any_command() {
    sweep(ops::provisioning_teardown(), 8);
}

#[test]
fn provisioning_pipeline_fails_cleanly_at_any_command() {
    let Some(_) = guest_ready("the provisioning pipeline fault sweeps", false) else {
        return;
    };
    let sshd = start_sshd(Path::new("/usr/bin"));
    let guest = temp_dir("guest");
    let pipeline = ops::provisioning_pipeline(&sshd, &guest.0);
    for fault in [Fault::Fail, Fault::Hang] {
        let points = pipeline_fault_sweep(&pipeline, fault);
        assert!(
            points >= 30,
            "provisioning pipeline ({fault:?}): only {points} fault points"
        );
    }
}
