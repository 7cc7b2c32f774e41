//! The device tree: `prtconf` (its `-d`/`-D` forms) and `pptadm list`.
//!
//! The reference (`illumos-cli.md`) is silent on both; what is emulated was read from
//! illumos-gate: `man8/prtconf.8` (`-d` adds a PCI device's vendor and device IDs and, when
//! known, their names; `-D` the driver name; `-m` the memory size alone) and the line layout
//! prtconf prints (four spaces per level, `name (pciexVVVV,DDDD) [Vendor Device], instance #N
//! (driver name: drv)`), and `man8/pptadm.8` with `cmd/pptadm/pptadm.c` (`list [-a] [-p]
//! [-o fields]`, the ofmt fields `dev,vendor,device,subvendor,subdevice,rev,path,label`, `--`
//! for a field the device lacks, `-p` requiring `-o`, usage errors exit 1).
//!
//! The machine is fixed, like the rest of `system.rs`'s: a one-socket server with a two-port
//! I350 (the first port is `igb0`, the second is bound to the ppt driver as `/dev/ppt0`), an
//! NVMe drive, a GPU that `ppt_matches` names but that is not bound, the BMC's VGA, a USB and a
//! SATA controller.

use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::ofmt;

/// One node: depth, name, compatible ID pair (`None` for a non-PCI node), PCI database name,
/// instance, driver, and for a device the ppt driver may take: its /dev path when bound, its
/// physical path, subsystem IDs and revision.
struct Node {
    depth: usize,
    name: &'static str,
    ids: Option<(&'static str, &'static str)>,
    label: Option<&'static str>,
    instance: Option<u32>,
    driver: Option<&'static str>,
    ppt: Option<Ppt>,
}

struct Ppt {
    dev: Option<&'static str>,
    path: &'static str,
    sub: (&'static str, &'static str),
    rev: &'static str,
}

const fn node(
    depth: usize,
    name: &'static str,
    instance: Option<u32>,
    driver: Option<&'static str>,
) -> Node {
    Node {
        depth,
        name,
        ids: None,
        label: None,
        instance,
        driver,
        ppt: None,
    }
}

const fn pci(
    depth: usize,
    name: &'static str,
    ids: (&'static str, &'static str),
    label: Option<&'static str>,
    instance: Option<u32>,
    driver: Option<&'static str>,
) -> Node {
    let mut n = node(depth, name, instance, driver);
    n.ids = Some(ids);
    n.label = label;
    n
}

/// Memory size as prtconf prints it (64 GiB, as kstat's physmem).
const MEMORY_MB: u64 = 65536;

fn tree() -> Vec<Node> {
    let with_ppt = |mut n: Node, p: Ppt| {
        n.ppt = Some(p);
        n
    };
    vec![
        node(0, "i86pc", None, Some("rootnex")),
        node(1, "scsi_vhci", Some(0), Some("scsi_vhci")),
        node(1, "pci", Some(0), Some("npe")),
        pci(
            2,
            "pci8086,0",
            ("pciex8086", "2020"),
            Some("Intel Corporation Sky Lake-E DMI3 Registers"),
            Some(0),
            None,
        ),
        pci(
            2,
            "pci8086,0",
            ("pciex8086", "2030"),
            Some("Intel Corporation Sky Lake-E PCI Express Root Port A"),
            Some(1),
            Some("pcieb"),
        ),
        pci(
            3,
            "pci15d9,1521",
            ("pciex8086", "1521"),
            Some("Intel Corporation I350 Gigabit Network Connection"),
            Some(0),
            Some("igb"),
        ),
        with_ppt(
            pci(
                3,
                "pci15d9,1521",
                ("pciex8086", "1521"),
                Some("Intel Corporation I350 Gigabit Network Connection"),
                Some(0),
                Some("ppt"),
            ),
            Ppt {
                dev: Some("/dev/ppt0"),
                path: "/pci@0,0/pci8086,2030@0/pci15d9,1521@0,1",
                sub: ("15d9", "1521"),
                rev: "1",
            },
        ),
        pci(
            2,
            "pci8086,0",
            ("pciex8086", "2032"),
            Some("Intel Corporation Sky Lake-E PCI Express Root Port C"),
            Some(2),
            Some("pcieb"),
        ),
        pci(
            3,
            "pci144d,a801",
            ("pciex144d", "a808"),
            Some("Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983"),
            Some(0),
            Some("nvme"),
        ),
        pci(
            2,
            "pci8086,0",
            ("pciex8086", "2033"),
            Some("Intel Corporation Sky Lake-E PCI Express Root Port D"),
            Some(3),
            Some("pcieb"),
        ),
        with_ppt(
            pci(
                3,
                "pci10de,1503",
                ("pciex10de", "2504"),
                Some("NVIDIA Corporation GA106 [GeForce RTX 3060 Lite Hash Rate]"),
                None,
                None,
            ),
            Ppt {
                dev: None,
                path: "/pci@0,0/pci8086,2033@3/pci10de,1503@0",
                sub: ("10de", "1503"),
                rev: "a1",
            },
        ),
        pci(
            2,
            "pci15d9,981",
            ("pci8086", "a1af"),
            Some("Intel Corporation C620 Series Chipset Family USB 3.0 xHCI Controller"),
            Some(0),
            Some("xhci"),
        ),
        pci(
            2,
            "pci15d9,981",
            ("pci8086", "a182"),
            Some("Intel Corporation C620 Series Chipset Family SATA Controller [AHCI mode]"),
            Some(0),
            Some("ahci"),
        ),
        pci(
            2,
            "pci15d9,981",
            ("pci1a03", "2000"),
            Some("ASPEED Technology, Inc. ASPEED Graphics Family"),
            Some(0),
            Some("vgatext"),
        ),
        node(1, "fw", Some(0), Some("acpinex")),
        node(2, "cpu", Some(0), Some("cpudrv")),
    ]
}

fn usage(cx: &mut Ctx, tool: &str, text: &str) -> i32 {
    cx.errln(&format!("{tool}: {text}"));
    1
}

/// `prtconf [-d] [-D]` and `prtconf -m`. Other options (`-v`, `-p`, `-P`, a device path) are
/// not emulated.
pub fn prtconf(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = getopt(args, "dDm", &[]) else {
        return usage(
            cx,
            "prtconf",
            "illumos-sim emulates only prtconf [-dD] and prtconf -m",
        );
    };
    if !o.operands.is_empty() {
        return usage(
            cx,
            "prtconf",
            "illumos-sim does not emulate a device path operand",
        );
    }
    if o.has('m') {
        if o.has('d') || o.has('D') {
            return usage(cx, "prtconf", "-m must be used by itself");
        }
        cx.outln(&MEMORY_MB.to_string());
        return 0;
    }
    cx.outln("System Configuration:  illumos-sim  i86pc");
    cx.outln(&format!("Memory size: {MEMORY_MB} Megabytes"));
    cx.outln("System Peripherals (Software Nodes):");
    cx.outln("");
    for n in tree() {
        let mut line = format!("{}{}", "    ".repeat(n.depth), n.name);
        if let (true, Some((v, d))) = (o.has('d'), n.ids) {
            line.push_str(&format!(" ({v},{d})"));
            if let Some(l) = n.label {
                line.push_str(&format!(" [{l}]"));
            }
        }
        if let Some(i) = n.instance {
            line.push_str(&format!(", instance #{i}"));
        }
        if o.has('D') {
            match n.driver {
                Some(d) => line.push_str(&format!(" (driver name: {d})")),
                None => line.push_str(" (driver not attached)"),
            }
        }
        cx.outln(&line);
    }
    0
}

const FIELDS: [ofmt::Field; 8] = [
    ofmt::f("DEV", 11),
    ofmt::f("VENDOR", 7),
    ofmt::f("DEVICE", 7),
    ofmt::f("SUBVENDOR", 10),
    ofmt::f("SUBDEVICE", 10),
    ofmt::f("REV", 4),
    ofmt::f("PATH", 50),
    ofmt::f("LABEL", 60),
];

/// `pptadm list [-a] [-p] [-o fields]`: the devices bound to ppt, or with `-a` every device
/// the ppt driver may take. `-j` is not emulated.
pub fn pptadm(cx: &mut Ctx, args: &[String]) -> i32 {
    if args.first().is_some_and(|a| a != "list") {
        return usage(cx, "pptadm", "unknown sub-command");
    }
    let rest = args.get(1..).unwrap_or_default();
    let Ok(o) = getopt(rest, "ahjpo:", &[]) else {
        return usage(cx, "pptadm", "unrecognized option");
    };
    if !o.operands.is_empty() {
        return usage(cx, "pptadm", "unused arguments");
    }
    if o.has('j') {
        if o.has('p') || o.val('o').is_some() {
            return usage(
                cx,
                "pptadm",
                "-j option cannot be used with -p or -o options",
            );
        }
        return usage(cx, "pptadm", "illumos-sim does not emulate pptadm list -j");
    }
    if o.has('p') && o.val('o').is_none() {
        return usage(cx, "pptadm", "-o must be provided when using -p option");
    }
    let idx = match ofmt::select(&FIELDS, o.val('o'), &["dev", "vendor", "device", "path"]) {
        Ok(i) => i,
        Err(bad) => return usage(cx, "pptadm", &format!("invalid field: {bad}")),
    };
    let rows: Vec<Vec<String>> = tree()
        .iter()
        .filter_map(|n| Some((n, n.ppt.as_ref()?)))
        .filter(|(_, p)| o.has('a') || p.dev.is_some())
        .map(|(n, p)| {
            let (vendor, device) = n.ids.unwrap_or_default();
            let vendor = vendor.trim_start_matches("pciex").trim_start_matches("pci");
            let all = [
                p.dev.unwrap_or("--"),
                vendor,
                device,
                p.sub.0,
                p.sub.1,
                p.rev,
                p.path,
                n.label.unwrap_or("--"),
            ];
            idx.iter().map(|&i| all[i].to_owned()).collect()
        })
        .collect();
    cx.out(&ofmt::render(&FIELDS, &idx, &rows, o.has('p')));
    0
}
