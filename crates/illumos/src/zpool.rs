//! zpool: pool capacity (`zpool list -Hp -o ...`) and I/O (`zpool iostat -Hp`).
//!
//! The reference lists only the zpool paths (§1.12); this follows illumos-gate
//! `man8/zpool.8`: `-H` is scripted mode (no header, one TAB between fields), `-p` prints
//! exact numbers (bytes, counts, no `%` or `x`), `-` stands for a value that does not apply.
//! `zpool iostat` without an interval prints one report whose figures are averages per second
//! since the pool was imported: capacity alloc and free, read and write operations, read and
//! write bandwidth.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

/// The properties [`list_cmd`] asks for, in this order.
pub const LIST_FIELDS: &str = "name,size,alloc,free,cap,frag,dedup,health";

/// A row of `zpool list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub size: u64,
    pub alloc: u64,
    pub free: u64,
    /// Percent of `size` allocated.
    pub capacity_pct: u64,
    /// Percent; `None` when the pool reports `-`.
    pub fragmentation_pct: Option<u64>,
    pub dedup_ratio: f64,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, ... as zpool prints it.
    pub health: String,
}

/// A pool's line of `zpool iostat`: averages per second since import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolIo {
    pub name: String,
    pub alloc: u64,
    pub free: u64,
    pub read_ops: u64,
    pub write_ops: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

pub fn list_cmd() -> Cmd {
    Cmd::new(Tool::Zpool)
        .args(["list", "-H", "-p", "-o", LIST_FIELDS])
        .quiet()
}

pub fn iostat_cmd() -> Cmd {
    Cmd::new(Tool::Zpool).args(["iostat", "-H", "-p"]).quiet()
}

fn fields(line: &str, n: usize) -> Result<Vec<&str>, ReadError> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != n {
        return Err(ReadError::parse(
            Tool::Zpool,
            format!("expected {n} tab-separated fields in {line:?}"),
        ));
    }
    Ok(f)
}

fn num(line: &str, what: &str, v: &str) -> Result<u64, ReadError> {
    v.parse()
        .map_err(|_| ReadError::parse(Tool::Zpool, format!("{what} is not a number in {line:?}")))
}

pub fn parse_list(text: &str) -> Result<Vec<Pool>, ReadError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f = fields(line, 8)?;
            Ok(Pool {
                name: f[0].to_owned(),
                size: num(line, "size", f[1])?,
                alloc: num(line, "alloc", f[2])?,
                free: num(line, "free", f[3])?,
                capacity_pct: num(line, "cap", f[4])?,
                fragmentation_pct: match f[5] {
                    "-" => None,
                    v => Some(num(line, "frag", v)?),
                },
                dedup_ratio: f[6].parse().map_err(|_| {
                    ReadError::parse(Tool::Zpool, format!("dedup is not a ratio in {line:?}"))
                })?,
                health: f[7].to_owned(),
            })
        })
        .collect()
}

pub fn parse_iostat(text: &str) -> Result<Vec<PoolIo>, ReadError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f = fields(line, 7)?;
            Ok(PoolIo {
                name: f[0].to_owned(),
                alloc: num(line, "alloc", f[1])?,
                free: num(line, "free", f[2])?,
                read_ops: num(line, "read operations", f[3])?,
                write_ops: num(line, "write operations", f[4])?,
                read_bytes: num(line, "read bandwidth", f[5])?,
                write_bytes: num(line, "write bandwidth", f[6])?,
            })
        })
        .collect()
}

pub async fn list(run: &Runner) -> Result<Vec<Pool>, ReadError> {
    parse_list(&run.output(&list_cmd()).await?.stdout)
}

pub async fn iostat(run: &Runner) -> Result<Vec<PoolIo>, ReadError> {
    parse_iostat(&run.output(&iostat_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_and_a_missing_fragmentation() {
        let pools = parse_list(
            "rpool\t107374182400\t21474836480\t85899345920\t20\t3\t1.00\tONLINE\ndata\t1000\t0\t1000\t0\t-\t1.50\tDEGRADED\n",
        )
        .unwrap();
        assert_eq!(pools[0].alloc, 21_474_836_480);
        assert_eq!(pools[0].capacity_pct, 20);
        assert_eq!(pools[0].fragmentation_pct, Some(3));
        assert_eq!(pools[1].fragmentation_pct, None);
        assert_eq!(pools[1].dedup_ratio, 1.5);
        assert_eq!(pools[1].health, "DEGRADED");
        assert_eq!(
            list_cmd().argv(),
            ["zpool", "list", "-H", "-p", "-o", LIST_FIELDS]
        );
    }

    #[test]
    fn iostat_reads_seven_fields_and_names_a_bad_line() {
        let io = parse_iostat("rpool\t2048\t1024\t3\t4\t5000\t6000\n").unwrap();
        assert_eq!(
            io[0],
            PoolIo {
                name: "rpool".into(),
                alloc: 2048,
                free: 1024,
                read_ops: 3,
                write_ops: 4,
                read_bytes: 5000,
                write_bytes: 6000
            }
        );
        let e = parse_iostat("rpool  2K  1K  3  4  5K  6K\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rpool"), "{e}");
        assert_eq!(iostat_cmd().argv(), ["zpool", "iostat", "-H", "-p"]);
    }
}
