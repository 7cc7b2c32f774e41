//! `zfs:0:arcstats` of the emulated host's kstat: the ARC's size and limits as illumos sizes
//! them by default (arc.c: c_max is all memory less 1 GiB, at least 3/4 of it; c_min 1/64 of
//! memory, at least 64 MiB; the metadata limit 1/4 of c_max). Kept apart from the rest of
//! kstat so that another emulation of arcstats can replace this file whole.

pub fn statistics(physmem_bytes: u64) -> Vec<(String, String)> {
    let c_max = (physmem_bytes.saturating_sub(1 << 30)).max(physmem_bytes / 4 * 3);
    let c_min = (physmem_bytes / 64).max(64 << 20);
    let size = c_max / 2;
    let meta_limit = c_max / 4;
    [
        ("c", c_max / 2),
        ("c_max", c_max),
        ("c_min", c_min),
        ("size", size),
        ("arc_meta_used", size / 8),
        ("arc_meta_limit", meta_limit),
        ("arc_meta_min", c_min / 2),
        ("hits", 9_000_000),
        ("misses", 250_000),
    ]
    .into_iter()
    .map(|(k, v)| (format!("zfs:0:arcstats:{k}"), v.to_string()))
    .collect()
}
