//! The host's disks and their I/O counters from `kstat -p` (illumos-gate `man8/kstat.8`;
//! the I/O kstat of `uts/common/sys/kstat.h`, `kstat_io_t`, which iostat(8) reads too):
//! `sd:N:sdN:` (SCSI/SATA disks) and `blkdev:N:blkdevN:` (NVMe and other block devices) with
//! `reads`, `writes`, `nread`, `nwritten` (bytes) and `rtime` (ns a request was active),
//! counted since boot; and the sd driver's error kstat `sderr:N:sdN,err:` with the drive's
//! `Vendor`, `Product`, `Serial No` and `Size` (bytes). A partition (`sd0,a`) is skipped.
//! Readable by anyone.

use std::collections::{BTreeMap, HashMap};

use crate::cmd::{Cmd, Tool};
use crate::kstat;
use crate::read::ReadError;
use crate::runner::Runner;

const IO: [&str; 5] = ["reads", "writes", "nread", "nwritten", "rtime"];
const MODULES: [&str; 2] = ["sd", "blkdev"];
const IDENTITY: [&str; 4] = ["Vendor", "Product", "Serial No", "Size"];

/// One disk: its instance name (`sd0`, as iostat prints it without `-n`), counters since boot
/// and, for an sd disk, what the drive says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    pub name: String,
    pub reads: u64,
    pub writes: u64,
    pub nread: u64,
    pub nwritten: u64,
    /// Nanoseconds with a request active (busy time).
    pub rtime: u64,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub size: Option<u64>,
}

/// The `kstat -p` operands for every disk's counters and the sd drives' identity: on their
/// own in [`read_cmd`], beside the other figures in a monitoring sample's one `kstat -p`
/// (`kstat::sample_cmd`).
pub fn operands() -> Vec<String> {
    let mut ops: Vec<String> = MODULES
        .iter()
        .flat_map(|m| IO.iter().map(move |s| format!("{m}:::{s}")))
        .collect();
    ops.extend(IDENTITY.iter().map(|s| format!("sderr:::{s}")));
    ops
}

pub fn read_cmd() -> Cmd {
    let mut ops = operands();
    // boot_time always matches, so a host without disks answers (kstat exits 1 on no match).
    ops.push(kstat::BOOT_TIME.to_owned());
    kstat::read_cmd(ops.iter().map(String::as_str))
}

/// The disks of [`read_cmd`]'s answer, by name.
pub fn parse(text: &str) -> Result<Vec<Disk>, ReadError> {
    from_stats(&kstat::parse_parsable(text)?)
}

/// The disks among a `kstat -p` answer's statistics (only the `sd`, `blkdev` and `sderr`
/// modules' lines are looked at, so the answer may hold any others), by name.
pub fn from_stats(stats: &HashMap<String, String>) -> Result<Vec<Disk>, ReadError> {
    let mut disks: BTreeMap<String, Disk> = BTreeMap::new();
    let num = |k: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| ReadError::parse(Tool::Kstat, format!("{k} is not a count: {v:?}")))
    };
    for (key, value) in stats {
        let parts: Vec<&str> = key.splitn(4, ':').collect();
        let [module, _, name, stat] = parts[..] else {
            continue;
        };
        if MODULES.contains(&module) && !name.contains(',') && IO.contains(&stat) {
            let d = disks.entry(name.to_owned()).or_default();
            d.name = name.to_owned();
            let field = match stat {
                "reads" => &mut d.reads,
                "writes" => &mut d.writes,
                "nread" => &mut d.nread,
                "nwritten" => &mut d.nwritten,
                _ => &mut d.rtime,
            };
            *field = num(key, value)?;
        }
    }
    for (key, value) in stats {
        let parts: Vec<&str> = key.splitn(4, ':').collect();
        let ["sderr", _, name, stat] = parts[..] else {
            continue;
        };
        let Some(d) = name.strip_suffix(",err").and_then(|n| disks.get_mut(n)) else {
            continue;
        };
        let text = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match stat {
            "Vendor" => d.vendor = text,
            "Product" => d.product = text,
            "Serial No" => d.serial = text,
            "Size" => d.size = Some(num(key, value)?),
            _ => {}
        }
    }
    Ok(disks.into_values().collect())
}

pub async fn read(run: &Runner) -> Result<Vec<Disk>, ReadError> {
    parse(&run.output(&read_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_have_counters_and_sd_disks_their_identity_partitions_are_skipped() {
        // captured shape: kstat -p sd:::reads ... sderr:::Size (cut)
        let text = "sd:0:sd0:reads\t10\nsd:0:sd0:writes\t20\nsd:0:sd0:nread\t4096\nsd:0:sd0:nwritten\t8192\nsd:0:sd0:rtime\t5\n\
                    sd:0:sd0,a:reads\t9\nblkdev:0:blkdev0:reads\t7\nblkdev:0:blkdev0:nread\t1\n\
                    sderr:0:sd0,err:Vendor\tATA     \nsderr:0:sd0,err:Product\tSamsung SSD 860 \nsderr:0:sd0,err:Serial No\tS3Z1\nsderr:0:sd0,err:Size\t500107862016\n\
                    unix:0:system_misc:boot_time\t1\n";
        let d = parse(text).unwrap();
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].name.as_str(), d[0].reads), ("blkdev0", 7));
        assert_eq!(d[0].vendor, None);
        let sd = &d[1];
        assert_eq!(
            (sd.reads, sd.writes, sd.nread, sd.nwritten, sd.rtime),
            (10, 20, 4096, 8192, 5)
        );
        assert_eq!(sd.vendor.as_deref(), Some("ATA"));
        assert_eq!(sd.product.as_deref(), Some("Samsung SSD 860"));
        assert_eq!(sd.size, Some(500_107_862_016));
        assert!(parse("sd:0:sd0:reads\tmany\n").is_err());
    }

    #[test]
    fn the_command_asks_for_both_modules_and_boot_time() {
        let argv = read_cmd().argv();
        assert!(argv.contains(&"blkdev:::nwritten".to_owned()), "{argv:?}");
        assert!(argv.contains(&"sderr:::Serial No".to_owned()), "{argv:?}");
        assert_eq!(argv.last().unwrap(), kstat::BOOT_TIME);
    }
}
