//! `swap -l` and `swap -s` (illumos-gate man8/swap.8) of the emulated host: one swap area,
//! the `rpool/swap` volume an OmniOS install makes (its volsize when the dataset exists,
//! 4 GiB otherwise), partly in use. Adding or deleting areas is not emulated.

use crate::ctx::Ctx;

const AREA: &str = "/dev/zvol/dsk/rpool/swap";
const DEFAULT_SIZE: u64 = 4 << 30;
/// What the emulated machine has allocated and reserved of virtual swap, in KiB.
const ALLOCATED_K: u64 = 262_144;
const RESERVED_K: u64 = 65_536;

fn area_bytes(cx: &Ctx) -> u64 {
    cx.st
        .datasets
        .get("rpool/swap")
        .and_then(|d| d.props.get("volsize"))
        .and_then(|v| crate::tools::zfsprops::parse_size(v))
        .unwrap_or(DEFAULT_SIZE)
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let bytes = area_bytes(cx);
    let blocks = bytes / 512 - 16;
    // A quarter of the allocation is paged out to the device.
    let used_blocks = ALLOCATED_K * 2 / 4;
    match args {
        [a] if a == "-l" => {
            cx.outln("swapfile             dev    swaplo   blocks     free");
            cx.outln(&format!(
                "{AREA} 256,1      16 {blocks} {}",
                blocks - used_blocks
            ));
            0
        }
        [a] if a == "-s" => {
            let used = ALLOCATED_K + RESERVED_K;
            let available = (bytes / 1024).saturating_sub(used_blocks / 2) + 2_097_152 - RESERVED_K;
            cx.outln(&format!(
                "total: {ALLOCATED_K}k bytes allocated + {RESERVED_K}k reserved = {used}k used, {available}k available"
            ));
            0
        }
        _ => {
            cx.errln("Usage:\tswap -l\n\tswap -s");
            1
        }
    }
}
