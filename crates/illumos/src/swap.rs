//! `swap -l` (the swap areas) and `swap -s` (the virtual swap totals) — illumos-gate
//! `man8/swap.8`. Both are readable by anyone.

use crate::cmd::{Cmd, Tool};
use crate::parsable::ParseError;
use crate::runner::{CommandError, Runner};

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("swap failed")]
    Command(#[source] CommandError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// One line of `swap -l`. `blocks` and `free` are 512-byte blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    pub path: String,
    pub dev: String,
    pub swaplo: u64,
    pub blocks: u64,
    pub free: u64,
}

impl SwapArea {
    pub fn size_bytes(&self) -> u64 {
        self.blocks * 512
    }
    pub fn free_bytes(&self) -> u64 {
        self.free * 512
    }
}

/// `swap -s`, in bytes: `total: Ak bytes allocated + Rk reserved = Uk used, Vk available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub allocated: u64,
    pub reserved: u64,
    pub used: u64,
    pub available: u64,
}

pub fn list_cmd() -> Cmd {
    Cmd::new(Tool::Swap).arg("-l").quiet()
}

pub fn summary_cmd() -> Cmd {
    Cmd::new(Tool::Swap).arg("-s").quiet()
}

/// Parses `swap -l`: a header, then `swapfile dev swaplo blocks free` per area.
pub fn parse_list(text: &str) -> Result<Vec<SwapArea>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("swapfile"))
        .map(|line| {
            let bad = |r: String| ParseError::new("swap -l", line, r);
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [path, dev, swaplo, blocks, free] = cols[..] else {
                return Err(bad(format!("expected 5 columns, found {}", cols.len())));
            };
            let n = |v: &str| v.parse::<u64>().map_err(|e| bad(format!("{v}: {e}")));
            Ok(SwapArea {
                path: path.to_owned(),
                dev: dev.to_owned(),
                swaplo: n(swaplo)?,
                blocks: n(blocks)?,
                free: n(free)?,
            })
        })
        .collect()
}

/// Parses `swap -s` (values in kilobytes with a `k` suffix).
pub fn parse_summary(text: &str) -> Result<Summary, ParseError> {
    let line = text.trim();
    let bad = |r: &str| ParseError::new("swap -s", line, r);
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').strip_suffix('k'))
        .map(|n| n.parse::<u64>().map(|k| k * 1024))
        .collect::<Result<_, _>>()
        .map_err(|_| bad("a figure is not a number"))?;
    let [allocated, reserved, used, available] = nums[..] else {
        return Err(bad("expected four figures"));
    };
    Ok(Summary {
        allocated,
        reserved,
        used,
        available,
    })
}

pub async fn list(run: &Runner) -> Result<Vec<SwapArea>, SwapError> {
    let out = run.output(&list_cmd()).await.map_err(SwapError::Command)?;
    Ok(parse_list(&out.stdout)?)
}

pub async fn summary(run: &Runner) -> Result<Summary, SwapError> {
    let out = run
        .output(&summary_cmd())
        .await
        .map_err(SwapError::Command)?;
    Ok(parse_summary(&out.stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_read_in_512_byte_blocks() {
        // captured: swap -l
        let text = "swapfile             dev    swaplo   blocks     free\n\
                    /dev/zvol/dsk/rpool/swap 256,1      16 8388592 8388592\n";
        let a = parse_list(text).unwrap();
        assert_eq!(a[0].path, "/dev/zvol/dsk/rpool/swap");
        assert_eq!(a[0].size_bytes(), 8_388_592 * 512);
        assert!(parse_list("x y z\n").is_err());
    }

    #[test]
    fn the_summary_is_four_kilobyte_figures() {
        // captured: swap -s
        let s = parse_summary(
            "total: 245416k bytes allocated + 40216k reserved = 285632k used, 3898020k available\n",
        )
        .unwrap();
        assert_eq!(s.used, 285_632 * 1024);
        assert_eq!(s.available, 3_898_020 * 1024);
        assert!(parse_summary("total: nothing").is_err());
    }
}
