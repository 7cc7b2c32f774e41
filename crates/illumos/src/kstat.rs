//! kstat: the kernel's own figures, read in the parsable form.
//!
//! The reference is silent on kstat; this follows illumos-gate `man8/kstat.8`: `kstat -p`
//! takes `module:instance:name:statistic` operands and prints one line per match, the full
//! name, a TAB, then the value; it exits 1 when nothing matched.

use std::collections::{BTreeMap, HashMap};

use crate::cmd::{Cmd, Tool};
use crate::diskstat;
use crate::read::ReadError;
use crate::runner::Runner;

/// unix(7)'s load averages: fixed-point with 8 fractional bits (`FSCALE` 256).
pub const AVENRUN: [&str; 3] = [
    "unix:0:system_misc:avenrun_1min",
    "unix:0:system_misc:avenrun_5min",
    "unix:0:system_misc:avenrun_15min",
];
/// Seconds since the epoch when the host booted.
pub const BOOT_TIME: &str = "unix:0:system_misc:boot_time";
/// Memory the kernel manages and memory free, in pages (see `pagesize`).
pub const PHYSMEM: &str = "unix:0:system_pages:physmem";
pub const FREEMEM: &str = "unix:0:system_pages:freemem";

/// Nanoseconds each processor spent in each mode since boot, one kstat `cpu:N:sys` per
/// processor (an empty instance or name specifier is `*`, kstat.8).
pub const CPU_NSEC: [&str; 4] = [
    "cpu::sys:cpu_nsec_user",
    "cpu::sys:cpu_nsec_kernel",
    "cpu::sys:cpu_nsec_idle",
    "cpu::sys:cpu_nsec_intr",
];

const FSCALE: f64 = 256.0;

/// Nanoseconds a processor spent in each mode since boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuNsec {
    pub user: u64,
    pub kernel: u64,
    pub idle: u64,
    pub intr: u64,
}

/// What [`system`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemFigures {
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    pub boot_time: u64,
    pub physmem_pages: u64,
    pub freemem_pages: u64,
    /// By processor id.
    pub cpu_nsec: BTreeMap<u32, CpuNsec>,
}

pub fn read_cmd<'a>(statistics: impl IntoIterator<Item = &'a str>) -> Cmd {
    Cmd::new(Tool::Kstat).arg("-p").args(statistics).quiet()
}

pub fn system_cmd() -> Cmd {
    read_cmd(
        AVENRUN
            .into_iter()
            .chain([BOOT_TIME, PHYSMEM, FREEMEM])
            .chain(CPU_NSEC),
    )
}

/// `kstat -p` lines into (name, value): kstat prints a tab between them. A statistic's name
/// may hold a space (the sd error kstat's `Serial No`), a value too (a CPU brand); without a
/// tab the first blank separates them.
pub fn parse_parsable(text: &str) -> Result<HashMap<String, String>, ReadError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once('\t')
                .or_else(|| line.split_once(|c: char| c.is_whitespace()))
                .ok_or_else(|| ReadError::parse(Tool::Kstat, format!("no value in {line:?}")))?;
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The figures of [`system_cmd`]'s answer; a missing or non-numeric one is an error naming it.
pub fn parse_system(text: &str) -> Result<SystemFigures, ReadError> {
    system_from(&parse_parsable(text)?)
}

fn system_from(stats: &HashMap<String, String>) -> Result<SystemFigures, ReadError> {
    let num = |name: &str| -> Result<u64, ReadError> {
        let v = stats
            .get(name)
            .ok_or_else(|| ReadError::parse(Tool::Kstat, format!("{name} is missing")))?;
        v.parse()
            .map_err(|_| ReadError::parse(Tool::Kstat, format!("{name} is not a count: {v:?}")))
    };
    let load = |i: usize| num(AVENRUN[i]).map(|n| n as f64 / FSCALE);
    let mut cpu_nsec: BTreeMap<u32, CpuNsec> = BTreeMap::new();
    for (name, value) in stats {
        let Some(rest) = name.strip_prefix("cpu:") else {
            continue;
        };
        let mut parts = rest.split(':');
        let (Some(id), Some("sys"), Some(stat)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let id: u32 = id
            .parse()
            .map_err(|_| ReadError::parse(Tool::Kstat, format!("bad processor in {name}")))?;
        let ns: u64 = value.parse().map_err(|_| {
            ReadError::parse(Tool::Kstat, format!("{name} is not a count: {value:?}"))
        })?;
        let t = cpu_nsec.entry(id).or_default();
        match stat {
            "cpu_nsec_user" => t.user = ns,
            "cpu_nsec_kernel" => t.kernel = ns,
            "cpu_nsec_idle" => t.idle = ns,
            "cpu_nsec_intr" => t.intr = ns,
            _ => {}
        }
    }
    Ok(SystemFigures {
        load: [load(0)?, load(1)?, load(2)?],
        boot_time: num(BOOT_TIME)?,
        physmem_pages: num(PHYSMEM)?,
        freemem_pages: num(FREEMEM)?,
        cpu_nsec,
    })
}

/// The counters of every datalink, as the mac layer publishes them per link in the global
/// zone (illumos-gate `uts/common/io/mac/mac_stat.c`: module `link`, instance 0, the link's
/// name; 64-bit byte and packet counts since the link was created).
pub const LINK_COUNTERS: [&str; 6] = [
    "link:0::rbytes64",
    "link:0::obytes64",
    "link:0::ipackets64",
    "link:0::opackets64",
    "link:0::ierrors",
    "link:0::oerrors",
];
/// Every statistic of the ZFS ARC (illumos-gate `uts/common/fs/zfs/arc.c`, `arc_stats`).
pub const ARCSTATS: &str = "zfs:0:arcstats";

/// A datalink's counters since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rbytes: u64,
    pub obytes: u64,
    pub ipackets: u64,
    pub opackets: u64,
    pub ierrors: u64,
    pub oerrors: u64,
}

/// The ARC's sizes (bytes) and lookup counters (since boot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArcStats {
    /// `size`: what the ARC holds now.
    pub size: u64,
    /// `c`: the size it aims for.
    pub target: u64,
    pub min: u64,
    pub max: u64,
    pub meta_used: u64,
    pub meta_limit: u64,
    pub mru_size: u64,
    pub mfu_size: u64,
    pub data_size: u64,
    pub metadata_size: u64,
    pub hits: u64,
    pub misses: u64,
    pub demand_data_hits: u64,
    pub demand_data_misses: u64,
    pub prefetch_data_hits: u64,
    pub prefetch_data_misses: u64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub l2_size: u64,
}

/// What one monitoring sample reads from kstat, in one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub system: SystemFigures,
    /// By link name.
    pub links: BTreeMap<String, LinkCounters>,
    /// `None` when the host publishes no `zfs:0:arcstats`.
    pub arc: Option<ArcStats>,
    /// Each disk's I/O counters and identity ([`diskstat`]), by name.
    pub disks: Vec<diskstat::Disk>,
}

/// [`system_cmd`]'s statistics, every link's counters, the ARC's and every disk's: one
/// process per sample. kstat prints each operand's matches; the answer is split by module
/// when parsed ([`parse_sample`]).
pub fn sample_cmd() -> Cmd {
    let disks = diskstat::operands();
    read_cmd(
        AVENRUN
            .into_iter()
            .chain([BOOT_TIME, PHYSMEM, FREEMEM])
            .chain(CPU_NSEC)
            .chain(LINK_COUNTERS)
            .chain([ARCSTATS])
            .chain(disks.iter().map(String::as_str)),
    )
}

fn count(name: &str, value: &str) -> Result<u64, ReadError> {
    value
        .parse()
        .map_err(|_| ReadError::parse(Tool::Kstat, format!("{name} is not a count: {value:?}")))
}

/// The `link:0:<link>:<statistic>` lines of a `kstat -p` answer. A link kstat also carries
/// `class`, `crtime`, `snaptime` and many other statistics; only the counters are read.
pub fn parse_links(
    stats: &HashMap<String, String>,
) -> Result<BTreeMap<String, LinkCounters>, ReadError> {
    let mut links: BTreeMap<String, LinkCounters> = BTreeMap::new();
    for (name, value) in stats {
        let Some(rest) = name.strip_prefix("link:0:") else {
            continue;
        };
        let Some((link, stat)) = rest.rsplit_once(':') else {
            continue;
        };
        const COUNTERS: [&str; 6] = [
            "rbytes64",
            "obytes64",
            "ipackets64",
            "opackets64",
            "ierrors",
            "oerrors",
        ];
        if !COUNTERS.contains(&stat) {
            continue;
        }
        let counters = links.entry(link.to_owned()).or_default();
        let field = match stat {
            "rbytes64" => &mut counters.rbytes,
            "obytes64" => &mut counters.obytes,
            "ipackets64" => &mut counters.ipackets,
            "opackets64" => &mut counters.opackets,
            "ierrors" => &mut counters.ierrors,
            "oerrors" => &mut counters.oerrors,
            _ => continue,
        };
        *field = count(name, value)?;
    }
    Ok(links)
}

/// The `zfs:0:arcstats:*` lines, or `None` when there are none. A statistic the kernel does
/// not publish (older builds lack some) reads as 0; a non-numeric one is an error.
pub fn parse_arc(stats: &HashMap<String, String>) -> Result<Option<ArcStats>, ReadError> {
    let prefix = "zfs:0:arcstats:";
    if !stats.keys().any(|k| k.starts_with(prefix)) {
        return Ok(None);
    }
    let get = |stat: &str| -> Result<u64, ReadError> {
        let name = format!("{prefix}{stat}");
        stats.get(&name).map_or(Ok(0), |v| count(&name, v))
    };
    Ok(Some(ArcStats {
        size: get("size")?,
        target: get("c")?,
        min: get("c_min")?,
        max: get("c_max")?,
        meta_used: get("arc_meta_used")?,
        meta_limit: get("arc_meta_limit")?,
        mru_size: get("mru_size")?,
        mfu_size: get("mfu_size")?,
        data_size: get("data_size")?,
        metadata_size: get("metadata_size")?,
        hits: get("hits")?,
        misses: get("misses")?,
        demand_data_hits: get("demand_data_hits")?,
        demand_data_misses: get("demand_data_misses")?,
        prefetch_data_hits: get("prefetch_data_hits")?,
        prefetch_data_misses: get("prefetch_data_misses")?,
        l2_hits: get("l2_hits")?,
        l2_misses: get("l2_misses")?,
        l2_size: get("l2_size")?,
    }))
}

/// [`sample_cmd`]'s answer.
pub fn parse_sample(text: &str) -> Result<Sample, ReadError> {
    let stats = parse_parsable(text)?;
    Ok(Sample {
        system: system_from(&stats)?,
        links: parse_links(&stats)?,
        arc: parse_arc(&stats)?,
        disks: diskstat::from_stats(&stats)?,
    })
}

/// Everything a monitoring sample needs from kstat, in one `kstat -p`.
pub async fn sample(run: &Runner) -> Result<Sample, ReadError> {
    parse_sample(&run.output(&sample_cmd()).await?.stdout)
}

/// Load averages, boot time and memory pages, in one `kstat -p`.
pub async fn system(run: &Runner) -> Result<SystemFigures, ReadError> {
    parse_system(&run.output(&system_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    // `kstat -p` with system_cmd()'s operands; TAB-separated as kstat prints them (the man
    // page's examples show the TAB expanded).
    const SAMPLE: &str = "unix:0:system_misc:avenrun_1min\t160\nunix:0:system_misc:avenrun_5min\t128\nunix:0:system_misc:avenrun_15min\t64\nunix:0:system_misc:boot_time\t1733390000\nunix:0:system_pages:physmem\t16777216\nunix:0:system_pages:freemem\t12582912\ncpu:0:sys:cpu_nsec_idle\t900000000\ncpu:0:sys:cpu_nsec_intr\t5000000\ncpu:0:sys:cpu_nsec_kernel\t30000000\ncpu:0:sys:cpu_nsec_user\t50000000\ncpu:1:sys:cpu_nsec_user\t7\n";

    #[test]
    fn avenrun_is_fixed_point_over_256() {
        let f = parse_system(SAMPLE).unwrap();
        assert_eq!(f.load, [0.625, 0.5, 0.25]);
        assert_eq!(f.boot_time, 1_733_390_000);
        assert_eq!((f.physmem_pages, f.freemem_pages), (16_777_216, 12_582_912));
        assert_eq!(
            f.cpu_nsec[&0],
            CpuNsec {
                user: 50_000_000,
                kernel: 30_000_000,
                idle: 900_000_000,
                intr: 5_000_000
            }
        );
        assert_eq!(f.cpu_nsec[&1].user, 7);
    }

    #[test]
    fn the_man_pages_space_aligned_lines_parse_too() {
        // kstat.8, Example 1, as rendered.
        let s = parse_parsable(
            "unix:0:system_misc:avenrun_15min        3\nunix:0:system_misc:avenrun_1min 4\n",
        )
        .unwrap();
        assert_eq!(s["unix:0:system_misc:avenrun_15min"], "3");
        assert_eq!(s["unix:0:system_misc:avenrun_1min"], "4");
    }

    #[test]
    fn a_missing_statistic_is_named() {
        let e = parse_system(&SAMPLE.replace("unix:0:system_pages:freemem\t12582912\n", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains(FREEMEM), "{e}");
        assert!(parse_parsable("no-value-here").is_err());
    }

    // Link and ARC lines as `kstat -p` prints them: the kstat's `class`, `crtime` and
    // `snaptime` come with every `module:instance:name:` operand; a link name may hold digits
    // and underscores.
    const LINKS_AND_ARC: &str = "link:0:net0:class\tnet\nlink:0:net0:crtime\t12.5\nlink:0:net0:rbytes64\t1000\nlink:0:net0:obytes64\t2000\nlink:0:net0:ipackets64\t10\nlink:0:net0:opackets64\t20\nlink:0:net0:ierrors\t1\nlink:0:net0:oerrors\t2\nlink:0:vm_1net0:rbytes64\t5\nzfs:0:arcstats:class\tmisc\nzfs:0:arcstats:size\t4096\nzfs:0:arcstats:c\t8192\nzfs:0:arcstats:c_max\t16384\nzfs:0:arcstats:hits\t99\nzfs:0:arcstats:misses\t1\n";

    #[test]
    fn link_counters_are_keyed_by_link_and_skip_non_counters() {
        let sample = parse_sample(&format!("{SAMPLE}{LINKS_AND_ARC}")).unwrap();
        assert_eq!(
            sample.links["net0"],
            LinkCounters {
                rbytes: 1000,
                obytes: 2000,
                ipackets: 10,
                opackets: 20,
                ierrors: 1,
                oerrors: 2
            }
        );
        assert_eq!(sample.links["vm_1net0"].rbytes, 5);
        let arc = sample.arc.unwrap();
        assert_eq!((arc.size, arc.target, arc.max), (4096, 8192, 16384));
        assert_eq!((arc.hits, arc.misses, arc.l2_size), (99, 1, 0));
        assert_eq!(sample.system.physmem_pages, 16_777_216);
    }

    #[test]
    fn a_host_without_arcstats_has_no_arc_and_a_bad_counter_is_named() {
        assert_eq!(parse_sample(SAMPLE).unwrap().arc, None);
        let e = parse_sample(&format!("{SAMPLE}link:0:net0:rbytes64\tlots\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("link:0:net0:rbytes64"), "{e}");
    }

    // The disk lines of the same `kstat -p` (diskstat's operands): `sd` and `blkdev` I/O
    // counters, a partition's, and the sd error kstat whose statistic names hold a space.
    const DISKS: &str = "sd:0:sd0:reads\t10\nsd:0:sd0:writes\t20\nsd:0:sd0:nread\t4096\nsd:0:sd0:nwritten\t8192\nsd:0:sd0:rtime\t5\n\
        sd:0:sd0,a:reads\t9\nblkdev:0:blkdev0:reads\t7\nblkdev:0:blkdev0:nread\t1\n\
        sderr:0:sd0,err:Vendor\tATA     \nsderr:0:sd0,err:Product\tSamsung SSD 860 \nsderr:0:sd0,err:Serial No\tS3Z1\nsderr:0:sd0,err:Size\t500107862016\n";

    #[test]
    fn one_answer_for_everything_splits_into_the_same_figures_as_separate_answers() {
        // kstat prints each operand's matches in turn: the disks' lines come after the rest.
        let combined = parse_sample(&format!("{SAMPLE}{LINKS_AND_ARC}{DISKS}")).unwrap();
        let alone = parse_sample(&format!("{SAMPLE}{LINKS_AND_ARC}")).unwrap();
        let disks = diskstat::parse(&format!("{DISKS}{BOOT_TIME}\t1733390000\n")).unwrap();
        assert_eq!(combined.disks, disks);
        assert_eq!(
            combined
                .disks
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>(),
            ["blkdev0", "sd0"]
        );
        assert_eq!(combined.disks[1].serial.as_deref(), Some("S3Z1"));
        assert_eq!(
            (&combined.system, &combined.links, &combined.arc),
            (&alone.system, &alone.links, &alone.arc)
        );
        assert!(alone.disks.is_empty());
        // Disk lines do not disturb the other modules, nor theirs the disks.
        let e = parse_sample(&format!("{SAMPLE}sd:0:sd0:reads\tmany\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sd:0:sd0:reads"), "{e}");
    }

    #[test]
    fn a_sample_is_one_kstat_with_every_disk_operand() {
        let argv = sample_cmd().argv();
        assert_eq!(argv[..2], ["kstat", "-p"]);
        for op in diskstat::operands() {
            assert!(argv.contains(&op), "{op} missing from {argv:?}");
        }
        assert!(argv.contains(&"sderr:::Serial No".to_owned()), "{argv:?}");
        assert_eq!(argv.iter().filter(|a| *a == BOOT_TIME).count(), 1);
        assert!(argv.contains(&LINK_COUNTERS[0].to_owned()));
        assert!(argv.contains(&ARCSTATS.to_owned()));
    }

    #[test]
    fn one_invocation_names_every_statistic() {
        assert_eq!(
            system_cmd().argv(),
            [
                "kstat",
                "-p",
                AVENRUN[0],
                AVENRUN[1],
                AVENRUN[2],
                BOOT_TIME,
                PHYSMEM,
                FREEMEM,
                CPU_NSEC[0],
                CPU_NSEC[1],
                CPU_NSEC[2],
                CPU_NSEC[3]
            ]
        );
    }
}
