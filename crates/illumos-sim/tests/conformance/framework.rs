use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Host, SIM};

#[test]
fn init_seeds_a_fresh_hypervisor_and_is_idempotent() {
    let h = Host::new();
    assert_eq!(
        h.run("zoneadm", &["list", "-cp"]).ok(),
        "0:global:running:/::ipkg:shared\n"
    );
    assert_eq!(
        h.run("zfs", &["list", "-H", "-o", "name,mountpoint"]).ok(),
        "rpool\t/rpool\nrpool/zones\t/rpool/zones\n"
    );
    assert!(h.root("/rpool/zones").is_dir());
    assert_eq!(
        std::fs::read_to_string(h.root("/etc/ipf/ipnat.conf")).unwrap(),
        ""
    );
    assert!(!h.root("/etc/dhcpd.conf").exists());
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    let o = Command::new(SIM)
        .arg("init")
        .arg(h.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        h.run("dladm", &["show-etherstub", "-p", "-o", "LINK"]).ok(),
        "stub0\n"
    );
}

#[test]
fn tools_locate_their_host_from_the_link_path_alone() {
    let h = Host::new();
    // env_clear() in Host::cmd: no variable tells the tool where the host is.
    assert_eq!(
        h.run("dladm", &["show-phys", "-p", "-o", "LINK"]).ok(),
        "igb0\nigb1\nigb2\n"
    );
    // A relative path to the link works too.
    let o = Command::new("./bin/zpool")
        .args(["list", "-H", "-o", "name"])
        .current_dir(h.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "rpool\n");
}

#[test]
fn every_invocation_is_logged_with_argv_exit_and_duration() {
    let h = Host::new();
    h.run("zfs", &["list", "-H"]).ok();
    h.run("zfs", &["list", "rpool/nope"]).fails(1);
    let log = h.log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["argv"], serde_json::json!(["zfs", "list", "-H"]));
    assert_eq!(log[0]["exit"], 0);
    assert_eq!(log[1]["exit"], 1);
    assert!(log[1]["ms"].as_f64().unwrap() >= 0.0);
    assert!(log[1]["ts"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn pfexec_runs_emulated_tools_in_process_and_real_programs_by_exec() {
    let h = Host::new();
    let zfs_path = h.bin("zfs");
    let out = h
        .run(
            "pfexec",
            &["/usr/sbin/zfs", "list", "-H", "-o", "name", "rpool"],
        )
        .ok();
    assert_eq!(out, "rpool\n");
    h.run("pfexec", &[zfs_path.to_str().unwrap(), "create", "rpool/a"])
        .ok();
    h.run("pfexec", &["dladm", "create-etherstub", "stub0"])
        .ok();
    // pfexec itself is not logged, only the tool it ran.
    assert_eq!(
        h.log_argvs(),
        vec![
            "zfs list -H -o name rpool",
            "zfs create rpool/a",
            "dladm create-etherstub stub0"
        ]
    );
    let mut c = Command::new(h.bin("pfexec"));
    let echo = c.args(["/bin/echo", "real", "program"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&echo.stdout), "real program\n");
    assert_eq!(h.log().len(), 3);
}

#[test]
fn absolute_path_arguments_resolve_under_root_or_as_given() {
    let h = Host::new();
    h.write("/tmp/cmds", "create -b\nset zonepath=/rpool/zones/z1\n");
    h.run("zonecfg", &["-z", "z1", "-f", "/tmp/cmds"]).ok();
    let full = h.root("/tmp/cmds");
    h.run("zonecfg", &["-z", "z2", "-f", full.to_str().unwrap()])
        .fails(1); // same zonepath: refused
    std::fs::write(&full, "create -b\nset zonepath=/rpool/zones/z2\n").unwrap();
    h.run("zonecfg", &["-z", "z2", "-f", full.to_str().unwrap()])
        .ok();
    assert_eq!(h.run("zoneadm", &["list", "-cn"]).ok(), "z1\nz2\n");
}

#[test]
fn fault_fails_exactly_the_nth_matching_invocation() {
    let h = Host::new();
    h.set_faults(
        r#"{"tool":"dladm","prefix":["create-vnic"],"nth":2,"action":"fail","exit":1,"stderr":"dladm: vnic creation over igb0 failed: operation failed"}"#,
    );
    h.run("dladm", &["show-link"]).ok();
    h.run("dladm", &["create-vnic", "-l", "igb0", "vnic0"]).ok();
    let err = h
        .run("dladm", &["create-vnic", "-l", "igb0", "vnic1"])
        .fails(1);
    assert_eq!(
        err,
        "dladm: vnic creation over igb0 failed: operation failed\n"
    );
    h.run("dladm", &["create-vnic", "-l", "igb0", "vnic2"]).ok();
    assert_eq!(
        h.run("dladm", &["show-vnic", "-p", "-o", "LINK"]).ok(),
        "vnic0\nvnic2\n"
    );
    assert_eq!(h.log()[2]["fault"], "fail");
}

#[test]
fn fault_every_time_by_substring() {
    let h = Host::new();
    h.set_faults(r#"{"tool":"zfs","contains":"-V","action":"fail","exit":2,"stderr":"boom"}"#);
    for _ in 0..2 {
        assert_eq!(
            h.run("zfs", &["create", "-V", "1G", "rpool/v"]).fails(2),
            "boom\n"
        );
    }
    h.run("zfs", &["create", "rpool/fs"]).ok();
}

#[test]
fn fault_hang_is_killable_and_logged_when_it_starts() {
    let h = Host::new();
    h.set_faults(r#"{"tool":"zoneadm","action":"hang"}"#);
    let mut child = h.cmd("zoneadm", &["list", "-cp"]).spawn().unwrap();
    let t = Instant::now();
    while h.log().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(child.try_wait().unwrap().is_none(), "hang returned early");
    child.kill().unwrap();
    child.wait().unwrap();
    let log = h.log();
    assert_eq!(log[0]["exit"], serde_json::Value::Null);
    assert_eq!(log[0]["fault"], "hang");
    // The host lock is not held while hanging: other tools still run.
    h.run("zfs", &["list"]).ok();
}

#[test]
fn fault_delay_then_normal_behaviour() {
    let h = Host::new();
    h.set_faults(r#"{"tool":"zfs","prefix":["list"],"nth":1,"action":"delay","ms":300}"#);
    let t = Instant::now();
    h.run("zfs", &["list", "-H", "-o", "name", "rpool"]).ok();
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    h.run("zfs", &["list", "-H", "-o", "name", "rpool"]).ok();
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn a_held_command_waits_unlocked_until_released_then_runs() {
    let h = Host::new();
    h.set_faults(r#"{"tool":"zfs","prefix":["create"],"action":"hold"}"#);
    let mut child = h.cmd("zfs", &["create", "rpool/held"]).spawn().unwrap();
    let held = h.dir.join("held");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !held.exists() {
        assert!(Instant::now() < deadline, "no hold announced");
        std::thread::sleep(Duration::from_millis(2));
    }
    let announced: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&held).unwrap()).unwrap();
    assert_eq!(
        announced["argv"],
        serde_json::json!(["zfs", "create", "rpool/held"])
    );
    // The host lock is free while it waits, and the command has not run yet.
    let before = h.dump_json();
    assert!(before["datasets"].get("rpool/held").is_none(), "{before}");
    assert!(child.try_wait().unwrap().is_none());
    std::fs::remove_file(&held).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(h.dump_json()["datasets"].get("rpool/held").is_some());
}

#[test]
fn twenty_concurrent_vnic_creations_all_land() {
    let h = Host::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            h.cmd(
                "dladm",
                &["create-vnic", "-t", "-l", "igb0", &format!("vnic{i}")],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let out = h.run("dladm", &["show-vnic", "-p", "-o", "LINK"]).ok();
    assert_eq!(out.lines().count(), 20);
    assert_eq!(h.log().len(), 21);
}

#[test]
fn dump_is_canonical_and_round_trips_create_then_delete() {
    let h = Host::new();
    let before = h.dump();
    assert_eq!(before, h.dump());
    let v = h.dump_json();
    assert!(v.get("counters").is_none());
    assert_eq!(v["files"]["/etc/ipf/ipnat.conf"], "");
    assert_eq!(v["files"]["/etc/dhcpd.conf"], serde_json::Value::Null);
    assert_eq!(
        v["services"]["svc:/network/ipfilter:default"]["state"],
        "disabled"
    );
    h.set_faults(r#"{"tool":"zfs","action":"delay","ms":1}"#);
    h.run("dladm", &["create-vnic", "-l", "igb0", "vnic0"]).ok();
    h.run("zfs", &["create", "-V", "1G", "rpool/zones/d0"]).ok();
    assert_ne!(before, h.dump());
    h.run("zfs", &["destroy", "rpool/zones/d0"]).ok();
    h.run("dladm", &["delete-vnic", "vnic0"]).ok();
    assert_eq!(before, h.dump());
}

#[test]
fn config_sets_timing_keys_and_rejects_unknown_ones() {
    let h = Host::new();
    h.config("install_ms=5");
    let conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.dir.join("sim.conf")).unwrap()).unwrap();
    assert_eq!(conf["install_ms"], 5);
    let o = Command::new(SIM)
        .arg("config")
        .arg(h.path())
        .arg("nope=1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}
