use std::time::{Duration, Instant};

use crate::util::Host;

#[test]
fn lifecycle_through_list_p_and_the_zonepath_dataset() {
    let h = Host::new();
    h.bhyve_zone("vm1", "");
    assert_eq!(
        h.run("zoneadm", &["-z", "vm1", "list", "-p"]).ok(),
        "-:vm1:configured:/rpool/zones/vm1::bhyve:excl\n"
    );
    assert_eq!(
        h.run("zoneadm", &["-z", "vm1", "install"]).ok(),
        "A ZFS file system has been created for this zone.\n"
    );
    assert_eq!(
        h.run(
            "zfs",
            &["list", "-H", "-o", "name,mountpoint", "rpool/zones/vm1"]
        )
        .ok(),
        "rpool/zones/vm1\t/rpool/zones/vm1\n"
    );
    assert!(h.root("/rpool/zones/vm1").is_dir());
    // As zoneadm leaves a zonepath (validate_zonepath, zoneadm.c) and zonecfg the index
    // (ZONE_INDEX_MODE, zonecfg_impl.h): the agent's helper trusts nothing less.
    use std::os::unix::fs::MetadataExt;
    let zp = std::fs::metadata(h.root("/rpool/zones/vm1")).unwrap();
    let index = std::fs::metadata(h.root("/etc/zones/index")).unwrap();
    assert_eq!(zp.mode() & 0o7777, 0o700);
    assert_eq!(index.mode() & 0o7777, 0o644);
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!((zp.uid(), index.uid()), (0, 0));
    }
    let line = h.run("zoneadm", &["list", "-cp"]).ok();
    let f: Vec<&str> = line.lines().nth(1).unwrap().split(':').collect();
    assert_eq!(
        (f[0], f[1], f[2], f[3], f[5], f[6]),
        ("-", "vm1", "installed", "/rpool/zones/vm1", "bhyve", "excl")
    );
    assert_eq!(f[4].len(), 36);
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    let running = h.run("zoneadm", &["list", "-p"]).ok();
    assert!(
        running
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1:vm1:running:"),
        "{running}"
    );
    h.run("zoneadm", &["-z", "vm1", "reboot"]).ok();
    h.run("zoneadm", &["-z", "vm1", "shutdown"]).ok();
    assert!(h
        .run("zoneadm", &["-z", "vm1", "list", "-p"])
        .ok()
        .starts_with("-:vm1:installed:"));
    h.run("zoneadm", &["-z", "vm1", "uninstall", "-F"]).ok();
    assert!(h
        .run("zoneadm", &["-z", "vm1", "list", "-p"])
        .ok()
        .starts_with("-:vm1:configured:"));
    h.run("zfs", &["list", "rpool/zones/vm1"]).fails(1);
    assert!(!h.root("/rpool/zones/vm1").exists());
}

#[test]
fn refusals_and_zoneadmd_notices() {
    let h = Host::new();
    h.bhyve_zone("vm1", "");
    let z = |args: &[&str]| {
        let mut v = vec!["-z", "vm1"];
        v.extend_from_slice(args);
        h.run("zoneadm", &v)
    };
    assert_eq!(
        h.run("zoneadm", &["-z", "nope", "boot"]).fails(1),
        "zoneadm: nope: No such zone configured\n"
    );
    assert_eq!(
        z(&["boot"]).fails(1),
        "zoneadm: zone 'vm1': must be installed before boot.\n"
    );
    assert_eq!(
        z(&["uninstall", "-F"]).fails(1),
        "zoneadm: zone 'vm1': is already in state 'configured'.\n"
    );
    z(&["install"]).ok();
    assert_eq!(
        z(&["install"]).fails(1),
        "zoneadm: zone 'vm1': is already installed.\n"
    );
    assert_eq!(
        z(&["reboot"]).fails(1),
        "zoneadm: zone 'vm1': not running\n"
    );
    assert_eq!(z(&["halt"]).code, 0);
    assert_eq!(
        z(&["halt"]).stderr,
        "zoneadm: zone 'vm1': zone is already halted\n"
    );
    assert_eq!(
        z(&["uninstall"]).fails(1),
        "zoneadm: zone 'vm1': Input not from terminal and -F not specified: uninstall not done.\n"
    );
    z(&["boot"]).ok();
    assert_eq!(
        z(&["boot"]).stderr,
        "zoneadm: zone 'vm1': zone is already booted\n"
    );
    assert_eq!(
        z(&["uninstall", "-F"]).fails(1),
        "zoneadm: zone 'vm1': uninstall operation is invalid for running zones.\n"
    );
    assert_eq!(
        z(&["ready"]).fails(1),
        "zoneadm: zone 'vm1': ready operation is invalid for zones in state 'running'\n"
    );
    assert_eq!(
        h.run("zoneadm", &["-z", "global", "halt"]).fails(1),
        "zoneadm: zone 'global': halt operation is invalid for the global zone.\n"
    );
    assert_eq!(
        h.zonecfg("vm1", "set zonepath=/x").fails(1),
        "Zone vm1 already installed; set zonepath not allowed.\n"
    );
}

#[test]
fn boot_creates_on_demand_vnics_and_halt_removes_them() {
    let h = Host::new();
    h.run("zfs", &["create", "-V", "1G", "rpool/zones/vm1disk"])
        .ok();
    h.bhyve_zone(
        "vm1",
        "; add net; set physical=vm1net0; set global-nic=igb0; set mac-addr=2:8:20:aa:bb:cc; set vlan-id=5; end; add device; set match=/dev/zvol/rdsk/rpool/zones/vm1disk; end",
    );
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    assert_eq!(h.run("dladm", &["show-vnic", "-p", "-o", "LINK"]).ok(), "");
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-vnic",
                "-p",
                "-o",
                "LINK,OVER,MACADDRESS,MACADDRTYPE,VID,ZONE"
            ]
        )
        .ok(),
        "vm1net0:igb0:2\\:8\\:20\\:aa\\:bb\\:cc:fixed:5:vm1\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-vnic", "vm1net0"]).fails(1),
        "dladm: vnic deletion failed: link busy\n"
    );
    assert_eq!(
        h.run("zfs", &["destroy", "rpool/zones/vm1disk"]).fails(1),
        "cannot destroy 'rpool/zones/vm1disk': dataset is busy\n"
    );
    h.run("zoneadm", &["-z", "vm1", "halt"]).ok();
    assert_eq!(h.run("dladm", &["show-vnic", "-p", "-o", "LINK"]).ok(), "");
}

#[test]
fn boot_fails_without_its_zvol_or_physical_link_and_leaves_nothing() {
    let h = Host::new();
    h.bhyve_zone(
        "vm1",
        "; add device; set match=/dev/zvol/rdsk/rpool/zones/missing; end",
    );
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    let before = h.dump();
    let err = h.run("zoneadm", &["-z", "vm1", "boot"]).fails(1);
    assert!(err.contains("/dev/zvol/rdsk/rpool/zones/missing"), "{err}");
    assert!(
        err.ends_with("zoneadm: zone 'vm1': call to zoneadmd failed\n"),
        "{err}"
    );
    assert_eq!(before, h.dump());
    h.bhyve_zone("vm2", "; add net; set physical=vnic7; end");
    h.run("zoneadm", &["-z", "vm2", "install"]).ok();
    assert!(h
        .run("zoneadm", &["-z", "vm2", "boot"])
        .fails(1)
        .contains("vnic7"));
    h.run("dladm", &["create-vnic", "-l", "igb0", "vnic7"]).ok();
    h.run("zoneadm", &["-z", "vm2", "boot"]).ok();
    assert_eq!(
        h.run("dladm", &["show-vnic", "-p", "-o", "ZONE", "vnic7"])
            .ok(),
        "vm2\n"
    );
    h.run("zoneadm", &["-z", "vm2", "halt"]).ok();
    assert_eq!(
        h.run("dladm", &["show-vnic", "-p", "-o", "ZONE", "vnic7"])
            .ok(),
        "--\n"
    );
}

#[test]
fn install_takes_its_configured_time_in_state_incomplete() {
    let h = Host::new();
    h.config("install_ms=400");
    h.bhyve_zone("vm1", "");
    let t = Instant::now();
    let mut child = h.cmd("zoneadm", &["-z", "vm1", "install"]).spawn().unwrap();
    let mut seen = false;
    while t.elapsed() < Duration::from_secs(5) && child.try_wait().unwrap().is_none() {
        if h.run("zoneadm", &["-z", "vm1", "list", "-p"])
            .ok()
            .contains(":incomplete:")
        {
            seen = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(seen, "never saw the incomplete state");
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert!(h
        .run("zoneadm", &["-z", "vm1", "list", "-p"])
        .ok()
        .contains(":installed:"));
}

#[test]
fn list_variants() {
    let h = Host::new();
    h.bhyve_zone("a1", "");
    h.bhyve_zone("b1", "");
    h.run("zoneadm", &["-z", "b1", "install"]).ok();
    assert_eq!(h.run("zoneadm", &["list"]).ok(), "global\n");
    assert_eq!(h.run("zoneadm", &["list", "-i"]).ok(), "global\nb1\n");
    assert_eq!(h.run("zoneadm", &["list", "-cn"]).ok(), "a1\nb1\n");
    let v = h.run("zoneadm", &["list", "-cv"]).ok();
    assert!(v.starts_with("  ID NAME             STATUS     PATH                           BRAND    IP    \n   0 global           running    /"), "{v}");
}
