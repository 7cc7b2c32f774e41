//! The ZFS ARC's size and limits: `kstat -p zfs:0:arcstats` (readable by anyone).

use crate::kstat;
use crate::read::ReadError;
use crate::runner::Runner;
use crate::Cmd;

/// What the ARC is doing, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArcStats {
    pub size: u64,
    /// The target size.
    pub c: u64,
    pub c_min: u64,
    pub c_max: u64,
    pub meta_used: u64,
    pub meta_limit: u64,
    pub meta_min: u64,
}

pub fn arcstats_cmd() -> Cmd {
    kstat::read_cmd(["zfs:0:arcstats"])
}

/// Parses the statistics this needs; a missing or non-numeric one is an error naming it.
/// (`arc_meta_*` may be absent on newer illumos; they read as 0.)
pub fn parse_arcstats(text: &str) -> Result<ArcStats, ReadError> {
    let all = kstat::parse_parsable(text)?;
    let get = |name: &str, required: bool| -> Result<u64, ReadError> {
        match all.get(&format!("zfs:0:arcstats:{name}")) {
            Some(v) => v.parse().map_err(|_| {
                ReadError::parse(crate::Tool::Kstat, format!("arcstats {name}: {v:?}"))
            }),
            None if !required => Ok(0),
            None => Err(ReadError::parse(
                crate::Tool::Kstat,
                format!("no arcstats {name}"),
            )),
        }
    };
    Ok(ArcStats {
        size: get("size", true)?,
        c: get("c", true)?,
        c_min: get("c_min", true)?,
        c_max: get("c_max", true)?,
        meta_used: get("arc_meta_used", false)?,
        meta_limit: get("arc_meta_limit", false)?,
        meta_min: get("arc_meta_min", false)?,
    })
}

pub async fn arcstats(run: &Runner) -> Result<ArcStats, ReadError> {
    parse_arcstats(&run.output(&arcstats_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_and_metadata_may_be_absent() {
        // captured: kstat -p zfs:0:arcstats (cut)
        let text = "zfs:0:arcstats:c\t4294967296\nzfs:0:arcstats:c_max\t16106127360\nzfs:0:arcstats:c_min\t268435456\nzfs:0:arcstats:size\t4000000000\n";
        let a = parse_arcstats(text).unwrap();
        assert_eq!(
            (a.c_max, a.c_min, a.meta_limit),
            (16_106_127_360, 268_435_456, 0)
        );
        assert!(parse_arcstats("zfs:0:arcstats:c\t1\n").is_err());
    }
}
