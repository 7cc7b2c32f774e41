//! The machine itself: `uname`, `hostname`, `kstat -p` (system, processor, datalink and ARC statistics),
//! `psrinfo` and `pagesize`.
//!
//! The reference (`illumos-cli.md`) is silent on these four; what is emulated here was read
//! from illumos-gate: `man1/uname.1` (and POSIX uname for the order of the fields),
//! `man8/kstat.8` (operands, `-p`, exit codes 0/1/2), `cmd/psrinfo/psrinfo.c` (the `-p -v`,
//! `-t`, `-p` layouts; its man page shows none) and `man1/pagesize.1`.
//!
//! The figures are deterministic: the node name and boot time come from `init` (the state's
//! `system`), the machine is a fixed one-socket, 4-core, 8-thread Xeon with 64 GiB, and the
//! load and free memory follow the number of running zones.

use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::state::ZoneState;

/// The node name `init` gives a host.
pub const HOSTNAME: &str = "omnios-sim";
const SYSNAME: &str = "SunOS";
const RELEASE: &str = "5.11";
const VERSION: &str = "omnios-r151054-7c1bde5a86";
const MACHINE: &str = "i86pc";
const PROCESSOR: &str = "i386";
const PLATFORM: &str = "i86pc";

const PAGESIZE: u64 = 4096;
/// 64 GiB of 4 KiB pages.
const PHYSMEM_PAGES: u64 = 16 * 1024 * 1024;
/// What each running zone takes from free memory (1 GiB).
const ZONE_PAGES: u64 = 262_144;
const CORES: u32 = 4;
const THREADS_PER_CORE: u32 = 2;
const CLOCK_MHZ: u32 = 2100;
const IMPL: &str = "x86 (GenuineIntel 50654 family 6 model 85 step 4 clock 2100 MHz)";
const BRAND: &str = "Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz";

fn running(cx: &Ctx) -> u64 {
    cx.st
        .zones
        .values()
        .filter(|z| z.state == ZoneState::Running)
        .count() as u64
}

fn usage(cx: &mut Ctx, text: &str) -> i32 {
    cx.errln(text);
    2
}

/// `uname [-aimnprsv]`: the selected fields in uname(2)'s order, one space apart; `-s` when
/// none is selected.
pub fn uname(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = getopt(args, "aimnprsv", &[]) else {
        return usage(cx, "usage: uname [-aimnprsv]");
    };
    if !o.operands.is_empty() {
        return usage(cx, "usage: uname [-aimnprsv]");
    }
    let hostname = cx.st.system.hostname.clone();
    let fields = [
        ('s', SYSNAME),
        ('n', hostname.as_str()),
        ('r', RELEASE),
        ('v', VERSION),
        ('m', MACHINE),
        ('p', PROCESSOR),
        ('i', PLATFORM),
    ];
    let all = o.has('a');
    let mut out: Vec<&str> = fields
        .iter()
        .filter(|(c, _)| all || o.has(*c))
        .map(|(_, v)| *v)
        .collect();
    if out.is_empty() {
        out.push(SYSNAME);
    }
    let line = out.join(" ");
    cx.outln(&line);
    0
}

/// `hostname [-s] [system_name]` (illumos-gate `man1/hostname.1`, `cmd/hostname/hostname.c`):
/// without an operand, the running node name (`-s`: the part before the first dot); with one,
/// sets the running name only. It never writes `/etc/nodename`: that is what the next boot
/// reads (nodename(5); see [`boot_nodename`]). Like sethostname(2), a name of
/// `MAXHOSTNAMELEN` (256) or more is refused with EINVAL; without privilege the change is
/// denied (the context's rule for every tool).
pub fn hostname(cx: &mut Ctx, args: &[String]) -> i32 {
    let usage = |cx: &mut Ctx| {
        cx.errln("usage: hostname [-s] [system_name]");
        1
    };
    let Ok(o) = getopt(args, "s", &[]) else {
        return usage(cx);
    };
    match o.operands.as_slice() {
        [] => {
            let name = cx.st.system.hostname.clone();
            let shown = if o.has('s') {
                name.split('.').next().unwrap_or_default()
            } else {
                &name
            };
            cx.outln(shown);
            0
        }
        [name] => {
            if name.is_empty() || name.len() >= 256 {
                cx.errln("hostname: error in setting name: Invalid argument");
                return 1;
            }
            cx.st.system.hostname = name.clone();
            cx.touch();
            0
        }
        _ => usage(cx),
    }
}

/// The node name a boot takes from `/etc/nodename` (its first line, nodename(5)); `None`
/// when the file is missing or empty (the running name then stays).
pub fn boot_nodename(host: &crate::host::Host) -> Option<String> {
    let text = std::fs::read_to_string(host.root.join("etc/nodename")).ok()?;
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

/// Every statistic this host publishes, as `module:instance:name:statistic` and value.
fn statistics(cx: &Ctx) -> Vec<(String, String)> {
    let n = running(cx);
    // avenrun is fixed-point with 8 fractional bits (FSCALE 256).
    let load = |base: u64, per_zone: u64| (base + per_zone * n).to_string();
    let physmem = PHYSMEM_PAGES;
    let free = (physmem * 3 / 4).saturating_sub(ZONE_PAGES * n);
    let mut v: Vec<(String, String)> = vec![
        ("unix:0:system_misc:avenrun_1min".into(), load(31, 128)),
        ("unix:0:system_misc:avenrun_5min".into(), load(26, 96)),
        ("unix:0:system_misc:avenrun_15min".into(), load(20, 64)),
        (
            "unix:0:system_misc:boot_time".into(),
            cx.st.system.boot_time.to_string(),
        ),
        (
            "unix:0:system_misc:ncpus".into(),
            (CORES * THREADS_PER_CORE).to_string(),
        ),
        ("unix:0:system_pages:physmem".into(), physmem.to_string()),
        ("unix:0:system_pages:pagestotal".into(), physmem.to_string()),
        ("unix:0:system_pages:freemem".into(), free.to_string()),
    ];
    // Time each processor spent, growing with the time since boot (counted from the second
    // after it, so that no figure is 0): 5% user, 3% kernel, 0.5% interrupts, the rest idle.
    let up_ns = (crate::timefmt::now_secs().saturating_sub(cx.st.system.boot_time) + 1)
        .saturating_mul(1_000_000_000);
    for cpu in 0..CORES * THREADS_PER_CORE {
        let k = |s: &str| format!("cpu:{cpu}:sys:{s}");
        let (user, kernel, intr) = (up_ns / 20, up_ns * 3 / 100, up_ns / 200);
        v.push((k("cpu_nsec_user"), user.to_string()));
        v.push((k("cpu_nsec_kernel"), kernel.to_string()));
        v.push((k("cpu_nsec_intr"), intr.to_string()));
        v.push((
            k("cpu_nsec_idle"),
            (up_ns - user - kernel - intr).to_string(),
        ));
    }
    v.extend(link_statistics(cx, up_ns / 1_000_000_000));
    v.extend(arc_statistics(up_ns / 1_000_000_000));
    v.extend(disk_statistics(up_ns / 1_000_000_000));
    for cpu in 0..CORES * THREADS_PER_CORE {
        let k = |s: &str| format!("cpu_info:{cpu}:cpu_info{cpu}:{s}");
        v.push((k("brand"), BRAND.into()));
        v.push((k("clock_MHz"), CLOCK_MHZ.to_string()));
        v.push((k("core_id"), (cpu % CORES).to_string()));
        v.push((k("chip_id"), "0".into()));
        v.push((k("state"), "on-line".into()));
    }
    v
}

/// Each datalink's `link:0:<link>` kstat (illumos-gate `uts/common/io/mac/mac_stat.c`): byte
/// and packet counters that grow with the seconds since boot, each link at its own rate (by
/// its place in name order) so that two links never read alike; no errors.
fn link_statistics(cx: &Ctx, up_secs: u64) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for (i, name) in cx.st.links.keys().enumerate() {
        let i = i as u64;
        let k = |s: &str| format!("link:0:{name}:{s}");
        let (rbytes, obytes) = (up_secs * (12_000 + 1_000 * i), up_secs * (6_000 + 500 * i));
        v.push((k("class"), "net".into()));
        v.push((k("rbytes64"), rbytes.to_string()));
        v.push((k("obytes64"), obytes.to_string()));
        v.push((k("ipackets64"), (rbytes / 600).to_string()));
        v.push((k("opackets64"), (obytes / 400).to_string()));
        v.push((k("ierrors"), "0".into()));
        v.push((k("oerrors"), "0".into()));
    }
    v
}

/// `zfs:0:arcstats` (illumos-gate `uts/common/fs/zfs/arc.c`, `arc_stats`): fixed sizes for a
/// 64 GiB machine and lookup counters that grow with the seconds since boot (90% hits).
fn arc_statistics(up_secs: u64) -> Vec<(String, String)> {
    const GIB: u64 = 1 << 30;
    let size = 12 * GIB;
    let stats: [(&str, u64); 21] = [
        ("hits", up_secs * 900),
        ("misses", up_secs * 100),
        ("demand_data_hits", up_secs * 600),
        ("demand_data_misses", up_secs * 60),
        ("prefetch_data_hits", up_secs * 100),
        ("prefetch_data_misses", up_secs * 20),
        ("size", size),
        ("c", 16 * GIB),
        ("c_min", 2 * GIB),
        ("c_max", 63 * GIB),
        ("p", 8 * GIB),
        ("data_size", size / 4 * 3),
        ("metadata_size", size / 4),
        ("mru_size", size / 2),
        ("mfu_size", size / 2),
        ("arc_meta_used", size / 4),
        ("arc_meta_limit", 16 * GIB),
        ("arc_meta_min", GIB),
        ("l2_hits", 0),
        ("l2_misses", 0),
        ("l2_size", 0),
    ];
    let mut v: Vec<(String, String)> = vec![("zfs:0:arcstats:class".into(), "misc".into())];
    v.extend(
        stats
            .iter()
            .map(|(k, n)| (format!("zfs:0:arcstats:{k}"), n.to_string())),
    );
    v
}

/// The disks' I/O kstats (`kstat_io_t`: module `sd` or `blkdev`, the instance name, counts
/// and bytes since boot, `rtime` in ns busy) and the sd driver's error kstat with the drive's
/// identity (`sderr:N:sdN,err`): two SATA SSDs on the AHCI controller and the NVMe drive of
/// prtconf's tree, each busier than the one before. Partitions publish their own kstats
/// (`sd0,a`, class `partition`).
fn disk_statistics(up_secs: u64) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let disks = [
        (
            "sd",
            0,
            Some((
                "ATA",
                "Samsung SSD 870",
                "S6PNNM0T901234",
                500_107_862_016u64,
            )),
        ),
        (
            "sd",
            1,
            Some(("ATA", "Samsung SSD 870", "S6PNNM0T905678", 500_107_862_016)),
        ),
        ("blkdev", 0, None),
    ];
    for (i, (module, inst, identity)) in disks.into_iter().enumerate() {
        let i = i as u64 + 1;
        let name = format!("{module}{inst}");
        let k = |n: &str, s: &str| format!("{module}:{inst}:{n}:{s}");
        let (reads, writes) = (up_secs * 20 * i, up_secs * 35 * i);
        v.push((k(&name, "class"), "disk".into()));
        v.push((k(&name, "reads"), reads.to_string()));
        v.push((k(&name, "writes"), writes.to_string()));
        v.push((k(&name, "nread"), (reads * 65_536).to_string()));
        v.push((k(&name, "nwritten"), (writes * 16_384).to_string()));
        v.push((k(&name, "rtime"), (up_secs * 10_000_000 * i).to_string()));
        v.push((k(&format!("{name},a"), "class"), "partition".into()));
        v.push((k(&format!("{name},a"), "reads"), reads.to_string()));
        if let Some((vendor, product, serial, size)) = identity {
            let e = |s: &str| format!("sderr:{inst}:{name},err:{s}");
            v.push((e("Vendor"), vendor.into()));
            v.push((e("Product"), product.into()));
            v.push((e("Serial No"), serial.into()));
            v.push((e("Size"), size.to_string()));
        }
    }
    v
}

/// A shell glob (`*`, `?`) as kstat(8) takes for each part of an operand; empty means `*`.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = if pattern.is_empty() {
        vec!['*']
    } else {
        pattern.chars().collect()
    };
    go(&p, &text.chars().collect::<Vec<_>>())
}

fn selects(operand: &str, key: &str) -> bool {
    let ops: Vec<&str> = operand.splitn(4, ':').collect();
    let keys: Vec<&str> = key.splitn(4, ':').collect();
    ops.iter().zip(&keys).all(|(o, k)| glob(o, k))
}

/// `kstat -p [module:instance:name:statistic ...]`: one `key<TAB>value` line per match, sorted;
/// exit 1 when nothing matched. Only the parsable form and glob specifiers are emulated.
pub fn kstat(cx: &mut Ctx, args: &[String]) -> i32 {
    let o =
        match getopt(args, "p", &[]) {
            Ok(o) if o.has('p') => o,
            _ => return usage(
                cx,
                "kstat: illumos-sim emulates only kstat -p [module:instance:name:statistic ...]",
            ),
        };
    if o.operands.iter().any(|a| a.contains('/')) {
        return usage(
            cx,
            "kstat: illumos-sim does not emulate regular-expression specifiers",
        );
    }
    let mut hits: Vec<(String, String)> = statistics(cx)
        .into_iter()
        .filter(|(k, _)| o.operands.is_empty() || o.operands.iter().any(|op| selects(op, k)))
        .collect();
    if hits.is_empty() {
        return 1;
    }
    hits.sort();
    for (k, v) in hits {
        cx.outln(&format!("{k}\t{v}"));
    }
    0
}

/// `(0-3)` / `(0 4)`: psrinfo's list of ids, consecutive runs collapsed.
fn id_list(ids: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    format!("({})", parts.join(" "))
}

/// `psrinfo [-p] [-v]` and `psrinfo -t`.
pub fn psrinfo(cx: &mut Ctx, args: &[String]) -> i32 {
    let usage_text = "usage: \n\tpsrinfo -r propname\n\tpsrinfo [-v] [-p] [processor_id ...]\n\tpsrinfo -s [-p] processor_id\n\tpsrinfo -t [-S <state> | -c | -p]";
    let Ok(o) = getopt(args, "cpr:S:stv", &[]) else {
        return usage(cx, usage_text);
    };
    if !o.operands.is_empty() || o.has('r') || o.has('s') || o.has('S') {
        return usage(
            cx,
            "psrinfo: illumos-sim emulates only psrinfo [-p] [-v] and psrinfo -t [-c | -p]",
        );
    }
    let ncpu = CORES * THREADS_PER_CORE;
    if o.has('t') {
        let n = if o.has('c') {
            CORES
        } else if o.has('p') {
            1
        } else {
            ncpu
        };
        cx.outln(&n.to_string());
        return 0;
    }
    let since = crate::timefmt::mdy_hms(cx.st.system.boot_time);
    match (o.has('p'), o.has('v')) {
        (true, true) => {
            let all: Vec<u32> = (0..ncpu).collect();
            cx.outln(&format!(
                "The physical processor has {CORES} cores and {ncpu} virtual processors {}",
                id_list(&all)
            ));
            for core in 0..CORES {
                let ids: Vec<u32> = (0..THREADS_PER_CORE).map(|t| core + t * CORES).collect();
                cx.outln(&format!(
                    "  The core has {THREADS_PER_CORE} virtual processors {}",
                    id_list(&ids)
                ));
            }
            cx.outln(&format!("    {IMPL}"));
            cx.outln(&format!("      {BRAND}"));
        }
        (true, false) => cx.outln("1"),
        (false, true) => {
            for cpu in 0..ncpu {
                cx.outln(&format!("Status of virtual processor {cpu} as of: {since}"));
                cx.outln(&format!("  on-line since {since}."));
                cx.outln(&format!(
                    "  The i386 processor operates at {CLOCK_MHZ} MHz,"
                ));
                cx.outln("\tand has an i387 compatible floating point processor.");
            }
        }
        (false, false) => {
            for cpu in 0..ncpu {
                cx.outln(&format!("{cpu}\ton-line   since {since}"));
            }
        }
    }
    0
}

/// `pagesize [-a]`: the base page size in bytes; `-a` every size the MMU supports.
pub fn pagesize(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = getopt(args, "a", &[]) else {
        return usage(cx, "usage: pagesize [-a]");
    };
    cx.outln(&PAGESIZE.to_string());
    if o.has('a') {
        cx.outln("2097152");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_collapse_into_ranges() {
        assert_eq!(id_list(&[0, 1, 2, 3]), "(0-3)");
        assert_eq!(id_list(&[0, 4]), "(0 4)");
        assert_eq!(id_list(&[0, 1, 3]), "(0-1 3)");
    }

    #[test]
    fn an_empty_specifier_matches_anything() {
        assert!(selects(
            "unix:0:system_misc:avenrun*",
            "unix:0:system_misc:avenrun_1min"
        ));
        assert!(selects(":::boot_time", "unix:0:system_misc:boot_time"));
        assert!(selects("unix", "unix:0:system_pages:freemem"));
        assert!(!selects("unix:1", "unix:0:system_pages:freemem"));
    }
}
