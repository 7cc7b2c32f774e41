//! `GET /system/swap/summary`: the keys the UI reads, from the emulated host's `swap -l`.

use crate::support::{host, TestAgent};

#[test]
fn the_swap_summary_is_the_hosts_swap_areas() {
    let agent = TestAgent::start();
    let r = agent.get("/system/swap/summary");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    // What the emulated host says, in 512-byte blocks.
    let l = host(&agent, "swap", &["-l"]);
    let cols: Vec<u64> = l
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse().unwrap())
        .collect();
    let (blocks, free) = (cols[0], cols[1]);
    let gb = |blk: u64| format!("{:.2}", (blk * 512) as f64 / (1u64 << 30) as f64);
    assert_eq!(b["totalSwapGB"], gb(blocks));
    assert_eq!(b["freeSwapGB"], gb(free));
    assert_eq!(b["usedSwapGB"], gb(blocks - free));
    let util = b["overallUtilization"].as_f64().unwrap();
    assert!(util > 0.0 && util < 100.0, "{util}");
    assert_eq!(b["swapAreas"][0]["path"], "/dev/zvol/dsk/rpool/swap");
    assert_eq!(b["swapAreas"][0]["pool"], "rpool");
    assert!(b["virtual"]["available_bytes"].as_u64().unwrap() > 0);
    assert_eq!(agent.get("/system/swap/summary?host=x").status, 400);
}
