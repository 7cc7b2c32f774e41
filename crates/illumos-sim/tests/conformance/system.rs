//! uname, kstat -p, psrinfo and pagesize. The reference is silent on them; the formats are
//! illumos-gate's: uname.1 (fields one space apart, in uname(2)'s order), kstat.8 (`-p`:
//! `module:instance:name:statistic` then the value; exit 1 when nothing matches),
//! psrinfo.c (`-p -v` layout) and pagesize.1.

use crate::util::Host;

#[test]
fn uname_prints_the_selected_fields_in_a_fixed_order() {
    let h = Host::new();
    assert_eq!(h.run("uname", &[]).ok(), "SunOS\n");
    assert_eq!(h.run("uname", &["-n"]).ok(), "omnios-sim\n");
    // Order is uname(2)'s, whatever the order of the flags.
    assert_eq!(h.run("uname", &["-r", "-s"]).ok(), "SunOS 5.11\n");
    assert_eq!(
        h.run("uname", &["-snrmp"]).ok(),
        "SunOS omnios-sim 5.11 i86pc i386\n"
    );
    let all = h.run("uname", &["-a"]).ok();
    let f: Vec<&str> = all.split_whitespace().collect();
    assert_eq!(f.len(), 7, "{all}");
    assert!(f[3].starts_with("omnios-r"), "{all}");
    h.run("uname", &["-q"]).fails(2);
}

#[test]
fn kstat_p_prints_key_tab_value_sorted_and_exit_1_on_no_match() {
    let h = Host::new();
    let out = h.run("kstat", &["-p", "unix:0:system_misc:avenrun*"]).ok();
    let keys: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "unix:0:system_misc:avenrun_15min",
            "unix:0:system_misc:avenrun_1min",
            "unix:0:system_misc:avenrun_5min"
        ]
    );
    let boot = h.run("kstat", &["-p", ":::boot_time"]).ok();
    let (k, v) = boot.trim_end().split_once('\t').unwrap();
    assert_eq!(k, "unix:0:system_misc:boot_time");
    let boot_time: u64 = v.parse().unwrap();
    assert!(boot_time > 1_700_000_000, "{boot}");
    // Recorded once, at init: every read answers the same.
    assert_eq!(h.run("kstat", &["-p", ":::boot_time"]).ok(), boot);
    let pages = h
        .run(
            "kstat",
            &[
                "-p",
                "unix:0:system_pages:physmem",
                "unix:0:system_pages:freemem",
            ],
        )
        .ok();
    let v: Vec<u64> = pages
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(v.len(), 2);
    assert!(
        v[0] < v[1],
        "freemem sorts before physmem and is smaller: {pages}"
    );
    h.run("kstat", &["-p", "unix:0:no_such:thing"]).fails(1);
    // An empty specifier is `*`: every processor's time in user mode.
    let user = h.run("kstat", &["-p", "cpu::sys:cpu_nsec_user"]).ok();
    assert_eq!(user.lines().count(), 8, "{user}");
    assert!(user.starts_with("cpu:0:sys:cpu_nsec_user\t"), "{user}");
}

#[test]
fn a_running_zone_raises_the_load_and_takes_free_memory() {
    let h = Host::new();
    let read = |h: &Host, stat: &str| -> u64 {
        let out = h.run("kstat", &["-p", stat]).ok();
        out.trim_end().split('\t').nth(1).unwrap().parse().unwrap()
    };
    let (load, free) = (
        read(&h, "unix:0:system_misc:avenrun_1min"),
        read(&h, "unix:0:system_pages:freemem"),
    );
    h.bhyve_zone("vm1", "");
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    assert!(read(&h, "unix:0:system_misc:avenrun_1min") > load);
    assert!(read(&h, "unix:0:system_pages:freemem") < free);
}

#[test]
fn psrinfo_pv_describes_each_socket_with_its_cores() {
    let h = Host::new();
    let expected = "The physical processor has 4 cores and 8 virtual processors (0-7)\n  The core has 2 virtual processors (0 4)\n  The core has 2 virtual processors (1 5)\n  The core has 2 virtual processors (2 6)\n  The core has 2 virtual processors (3 7)\n    x86 (GenuineIntel 50654 family 6 model 85 step 4 clock 2100 MHz)\n      Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz\n";
    assert_eq!(h.run("psrinfo", &["-pv"]).ok(), expected);
    assert_eq!(h.run("psrinfo", &["-p", "-v"]).ok(), expected);
    assert_eq!(h.run("psrinfo", &["-t"]).ok(), "8\n");
    assert_eq!(h.run("psrinfo", &["-p"]).ok(), "1\n");
    assert_eq!(
        h.run("psrinfo", &["-x"]).fails(2).lines().next(),
        Some("usage: ")
    );
}

#[test]
fn pagesize_prints_bytes() {
    let h = Host::new();
    assert_eq!(h.run("pagesize", &[]).ok(), "4096\n");
}

#[test]
fn a_fault_without_nth_fails_a_read_only_tool_with_its_words() {
    let h = Host::new();
    h.set_faults(
        r#"{"tool":"kstat","action":"fail","exit":3,"stderr":"kstat: kstat_open() failed"}"#,
    );
    let err = h.run("kstat", &["-p", ":::boot_time"]).fails(3);
    assert!(err.contains("kstat_open() failed"), "{err}");
    h.run("uname", &["-n"]).ok();
}

#[test]
fn a_host_made_before_the_machine_was_emulated_gets_its_identity_at_the_next_init() {
    let h = Host::new();
    let mut st = h.state_json();
    st.as_object_mut().unwrap().remove("system");
    std::fs::write(h.path().join("state"), st.to_string()).unwrap();
    let o = std::process::Command::new(crate::util::SIM)
        .arg("init")
        .arg(h.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(h.run("uname", &["-n"]).ok(), "omnios-sim\n");
    let boot = h.run("kstat", &["-p", ":::boot_time"]).ok();
    assert_ne!(boot.trim_end().split('\t').nth(1), Some("0"), "{boot}");
}

/// hostname.1: no operand prints the running name (`-s` up to the first dot); an operand sets
/// the running name only, and `/etc/nodename` (nodename(5): the name the next boot takes) is
/// left as it was; a reboot then takes the file's name.
#[test]
fn hostname_sets_the_running_name_and_a_boot_takes_etc_nodename() {
    let h = Host::new();
    let nodename = || std::fs::read_to_string(h.root("/etc/nodename")).unwrap();
    assert_eq!(nodename(), "omnios-sim\n", "init writes the host's name");
    assert_eq!(h.run("hostname", &[]).ok(), "omnios-sim\n");
    h.run("hostname", &["hv-04.home.example"]).ok();
    assert_eq!(h.run("hostname", &[]).ok(), "hv-04.home.example\n");
    assert_eq!(h.run("hostname", &["-s"]).ok(), "hv-04\n");
    assert_eq!(h.run("uname", &["-n"]).ok(), "hv-04.home.example\n");
    assert_eq!(nodename(), "omnios-sim\n", "hostname does not persist");
    assert_eq!(
        h.run("hostname", &["a", "b"]).fails(1),
        "usage: hostname [-s] [system_name]\n"
    );
    assert_eq!(
        h.run("hostname", &["-x"]).fails(1),
        "usage: hostname [-s] [system_name]\n"
    );
    assert_eq!(
        h.run("hostname", &[&"n".repeat(256)]).fails(1),
        "hostname: error in setting name: Invalid argument\n"
    );
    h.write("/etc/nodename", "hv-05\n");
    h.run("reboot", &[]).ok();
    assert_eq!(h.run("hostname", &[]).ok(), "hv-05\n");
}
