//! `swap -s`: the virtual swap summary.
//!
//! The reference is silent on swap; this follows illumos-gate `man8/swap.8` and
//! `cmd/swap/swap.c`: `swap -s` prints `total: <a>k bytes allocated + <r>k reserved = <u>k
//! used, <v>k available` (kilobytes); other forms are not emulated. The figures follow the
//! running zones: each takes 256 MiB of allocated swap from a 16 GiB device.

use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::state::ZoneState;

const USAGE: &str = "usage:\tswap -l\n\tswap -s\n\tswap -d <file name> [<low block>]\n\tswap -a <file name> [<low block>] [<nbr of blocks>]";
const TOTAL_KIB: u64 = 16 * 1024 * 1024;
const BASE_KIB: u64 = 1024 * 1024;
const ZONE_KIB: u64 = 256 * 1024;
const RESERVED_KIB: u64 = 262_144;

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = getopt(args, "sh", &[]) else {
        cx.errln(USAGE);
        return 2;
    };
    if !o.has('s') || !o.operands.is_empty() {
        cx.errln("swap: illumos-sim emulates only swap -s");
        cx.errln(USAGE);
        return 2;
    }
    let running = cx
        .st
        .zones
        .values()
        .filter(|z| z.state == ZoneState::Running)
        .count() as u64;
    let allocated = BASE_KIB + ZONE_KIB * running;
    let used = allocated + RESERVED_KIB;
    let available = TOTAL_KIB.saturating_sub(used);
    cx.outln(&format!(
        "total: {allocated}k bytes allocated + {RESERVED_KIB}k reserved = {used}k used, {available}k available"
    ));
    0
}
