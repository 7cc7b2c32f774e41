//! swap: the virtual swap space summary (`swap -s`).
//!
//! The reference is silent on swap; this follows illumos-gate `man8/swap.8` and
//! `cmd/swap/swap.c` (`doswap`): `swap -s` prints one line,
//! `total: <a>k bytes allocated + <r>k reserved = <u>k used, <v>k available`, sizes in
//! kilobytes (1024 bytes) unless `-h` asks for scaled units. It needs no privilege.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

/// Virtual swap space, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub allocated: u64,
    pub reserved: u64,
    /// allocated + reserved.
    pub used: u64,
    pub available: u64,
}

pub fn summary_cmd() -> Cmd {
    Cmd::new(Tool::Swap).arg("-s").quiet()
}

/// `swap -s`'s line. Each figure is the number before a `k`; their order is fixed.
pub fn parse_summary(text: &str) -> Result<Summary, ReadError> {
    let bad = || ReadError::parse(Tool::Swap, format!("not a swap -s summary: {text:?}"));
    let kib: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.strip_suffix('k')?.parse().ok())
        .collect();
    if !text.trim_start().starts_with("total:") || kib.len() != 4 {
        return Err(bad());
    }
    Ok(Summary {
        allocated: kib[0] * 1024,
        reserved: kib[1] * 1024,
        used: kib[2] * 1024,
        available: kib[3] * 1024,
    })
}

pub async fn summary(run: &Runner) -> Result<Summary, ReadError> {
    parse_summary(&run.output(&summary_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kilobytes_become_bytes_and_the_used_figure_ends_in_a_comma() {
        // swap.8's example layout; `used` is followed by a comma.
        let s = parse_summary(
            "total: 1048576k bytes allocated + 262144k reserved = 1310720k used, 8388608k available\n",
        )
        .unwrap();
        assert_eq!(
            s,
            Summary {
                allocated: 1 << 30,
                reserved: 1 << 28,
                used: 1_310_720 * 1024,
                available: 8 << 30
            }
        );
        assert_eq!(summary_cmd().argv(), ["swap", "-s"]);
    }

    #[test]
    fn scaled_or_garbled_output_is_refused() {
        assert!(parse_summary(
            "total: 1G bytes allocated + 256M reserved = 1.2G used, 8G available"
        )
        .is_err());
        assert!(parse_summary("").is_err());
    }
}
