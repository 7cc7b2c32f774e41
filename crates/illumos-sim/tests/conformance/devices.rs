//! prtconf and pptadm. The reference is silent on them; the formats are illumos-gate's:
//! prtconf.8 (`-d` IDs and names, `-D` drivers, `-m` alone) and pptadm.8 / pptadm.c (`list
//! [-a] [-p] [-o fields]`, `--` for a missing field, `-p` needs `-o`, usage errors exit 1).

use crate::util::Host;

#[test]
fn prtconf_dd_prints_pci_ids_names_and_drivers_indented_by_depth() {
    let h = Host::new();
    let out = h.run("prtconf", &["-dD"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "Memory size: 65536 Megabytes");
    assert_eq!(lines[4], "i86pc (driver name: rootnex)");
    assert!(
        lines.contains(
            &"            pci15d9,1521 (pciex8086,1521) [Intel Corporation I350 Gigabit Network Connection], instance #0 (driver name: igb)"
        ),
        "{out}"
    );
    // A device with no driver says so; one bound to ppt names it.
    assert!(
        out.contains(
            "[NVIDIA Corporation GA106 [GeForce RTX 3060 Lite Hash Rate]] (driver not attached)"
        ),
        "{out}"
    );
    assert!(out.contains("instance #0 (driver name: ppt)"), "{out}");
    // Without -d no IDs, without -D no drivers.
    let plain = h.run("prtconf", &[]).ok();
    assert!(
        !plain.contains("(pciex") && !plain.contains("driver name"),
        "{plain}"
    );
    assert_eq!(h.run("prtconf", &["-m"]).ok(), "65536\n");
    h.run("prtconf", &["-m", "-d"]).fails(1);
    h.run("prtconf", &["-x"]).fails(1);
}

#[test]
fn pptadm_lists_bound_devices_and_with_a_the_candidates() {
    let h = Host::new();
    let fields = ["list", "-p", "-o", "dev,vendor,device,path"];
    assert_eq!(
        h.run("pptadm", &fields).ok(),
        "/dev/ppt0:8086:1521:/pci@0,0/pci8086,2030@0/pci15d9,1521@0,1\n"
    );
    let all = h
        .run(
            "pptadm",
            &["list", "-a", "-p", "-o", "dev,vendor,device,path"],
        )
        .ok();
    assert_eq!(all.lines().count(), 2, "{all}");
    assert!(
        all.contains("--:10de:2504:/pci@0,0/pci8086,2033@3/pci10de,1503@0\n"),
        "{all}"
    );
    let human = h.run("pptadm", &["list", "-a"]).ok();
    assert!(
        human.starts_with("DEV         VENDOR  DEVICE  PATH"),
        "{human}"
    );
    let e = h.run("pptadm", &["list", "-p"]).fails(1);
    assert!(
        e.contains("-o must be provided when using -p option"),
        "{e}"
    );
    let e = h.run("pptadm", &["list", "-j", "-o", "dev"]).fails(1);
    assert!(e.contains("-j option cannot be used"), "{e}");
    h.run("pptadm", &["bogus"]).fails(1);
    h.run("pptadm", &["list", "-o", "nope"]).fails(1);
}

/// kstat.8: the disks' I/O kstats (`sd:N:sdN:`, `blkdev:N:blkdevN:`) grow with time since boot;
/// a partition (`sd0,a`) has its own; the sd error kstat names the drive.
#[test]
fn kstat_publishes_each_disks_io_counters_and_the_sd_drives_identity() {
    let h = Host::new();
    let out = h.run("kstat", &["-p", "sd:::reads", "blkdev:::nread"]).ok();
    let keys: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "blkdev:0:blkdev0:nread",
            "sd:0:sd0,a:reads",
            "sd:0:sd0:reads",
            "sd:1:sd1,a:reads",
            "sd:1:sd1:reads"
        ]
    );
    let size = h.run("kstat", &["-p", "sderr:0:sd0,err:Size"]).ok();
    assert_eq!(size, "sderr:0:sd0,err:Size\t500107862016\n");
    let serial = h.run("kstat", &["-p", "sderr:::Serial No"]).ok();
    assert_eq!(serial.lines().count(), 2, "{serial}");
}
