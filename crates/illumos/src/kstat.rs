//! kstat: the kernel's own figures, read in the parsable form.
//!
//! The reference is silent on kstat; this follows illumos-gate `man8/kstat.8`: `kstat -p`
//! takes `module:instance:name:statistic` operands and prints one line per match, the full
//! name, a TAB, then the value; it exits 1 when nothing matched.

use std::collections::{BTreeMap, HashMap};

use crate::cmd::{Cmd, Tool};
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

/// `kstat -p` lines into (name, value). The name holds no whitespace; the value is the rest
/// of the line (a CPU brand may hold spaces).
pub fn parse_parsable(text: &str) -> Result<HashMap<String, String>, ReadError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once(|c: char| c.is_whitespace())
                .ok_or_else(|| ReadError::parse(Tool::Kstat, format!("no value in {line:?}")))?;
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The figures of [`system_cmd`]'s answer; a missing or non-numeric one is an error naming it.
pub fn parse_system(text: &str) -> Result<SystemFigures, ReadError> {
    let stats = parse_parsable(text)?;
    let num = |name: &str| -> Result<u64, ReadError> {
        let v = stats
            .get(name)
            .ok_or_else(|| ReadError::parse(Tool::Kstat, format!("{name} is missing")))?;
        v.parse()
            .map_err(|_| ReadError::parse(Tool::Kstat, format!("{name} is not a count: {v:?}")))
    };
    let load = |i: usize| num(AVENRUN[i]).map(|n| n as f64 / FSCALE);
    let mut cpu_nsec: BTreeMap<u32, CpuNsec> = BTreeMap::new();
    for (name, value) in &stats {
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
