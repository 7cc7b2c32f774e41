//! The figures a monitoring agent samples: `kstat -p` datalink and ARC statistics, `swap -s`,
//! `zpool iostat -Hp` and `netstat -rn -f inet`. The reference is silent on all four; the
//! layouts are illumos-gate's: kstat.8 with `uts/common/io/mac/mac_stat.c` (module `link`,
//! instance 0, one kstat per link) and `uts/common/fs/zfs/arc.c` (`zfs:0:arcstats`), swap.8
//! (`-s`, kilobytes), zpool.8 (`iostat`, `-H` TAB-separated, `-p` exact) and netstat.8.

use crate::util::Host;

fn values(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').expect("key TAB value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Moves the emulated boot `secs` seconds into the past: the emulator's counters grow with
/// the time since boot, so this is time passing without a sleep.
fn age(h: &Host, secs: u64) {
    let path = h.path().join("state");
    let mut st = h.state_json();
    let boot = st["system"]["boot_time"].as_u64().expect("boot_time");
    st["system"]["boot_time"] = (boot - secs).into();
    std::fs::write(path, serde_json::to_vec(&st).unwrap()).unwrap();
}

#[test]
fn kstat_link_counters_exist_per_link_and_grow_with_time() {
    let h = Host::new();
    let links: Vec<String> = h
        .run("dladm", &["show-link", "-p", "-o", "LINK"])
        .ok()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!links.is_empty());
    let before = values(&h.run("kstat", &["-p", "link:0::rbytes64"]).ok());
    for l in &links {
        assert!(
            before.contains_key(&format!("link:0:{l}:rbytes64")),
            "{before:?}"
        );
    }
    // One kstat per link: `link:0:<link>` operands select that link only, every statistic.
    let one = values(
        &h.run("kstat", &["-p", &format!("link:0:{}", links[0])])
            .ok(),
    );
    for s in [
        "class",
        "rbytes64",
        "obytes64",
        "ipackets64",
        "opackets64",
        "ierrors",
        "oerrors",
    ] {
        assert!(
            one.contains_key(&format!("link:0:{}:{s}", links[0])),
            "{s}: {one:?}"
        );
    }
    assert!(one
        .keys()
        .all(|k| k.starts_with(&format!("link:0:{}:", links[0]))));
    age(&h, 1000);
    let after = values(&h.run("kstat", &["-p", "link:0::rbytes64"]).ok());
    for (k, v) in &before {
        let (b, a): (u64, u64) = (v.parse().unwrap(), after[k].parse().unwrap());
        assert!(a >= b + 1000, "{k}: {b} then {a}");
    }
    h.run("kstat", &["-p", "link:0:nosuchlink:rbytes64"])
        .fails(1);
}

#[test]
fn kstat_arcstats_has_sizes_and_growing_counters() {
    let h = Host::new();
    let arc = values(&h.run("kstat", &["-p", "zfs:0:arcstats"]).ok());
    assert_eq!(arc["zfs:0:arcstats:class"], "misc");
    let n = |m: &std::collections::BTreeMap<String, String>, s: &str| -> u64 {
        m[&format!("zfs:0:arcstats:{s}")].parse().unwrap()
    };
    assert!(n(&arc, "size") <= n(&arc, "c_max"));
    assert!(n(&arc, "c_min") <= n(&arc, "c") && n(&arc, "c") <= n(&arc, "c_max"));
    for s in [
        "hits",
        "misses",
        "mru_size",
        "mfu_size",
        "data_size",
        "metadata_size",
        "l2_size",
    ] {
        assert!(arc.contains_key(&format!("zfs:0:arcstats:{s}")), "{s}");
    }
    age(&h, 100);
    let later = values(&h.run("kstat", &["-p", "zfs:0:arcstats:hits"]).ok());
    assert!(n(&later, "hits") > n(&arc, "hits"));
}

#[test]
fn swap_s_prints_kilobytes_that_add_up() {
    let h = Host::new();
    let out = h.run("swap", &["-s"]).ok();
    let k: Vec<u64> = out
        .split_whitespace()
        .filter_map(|w| w.strip_suffix('k')?.parse().ok())
        .collect();
    assert!(out.starts_with("total: "), "{out}");
    assert!(
        out.contains("k bytes allocated + ") && out.contains("k used, "),
        "{out}"
    );
    assert!(out.trim_end().ends_with("k available"), "{out}");
    assert_eq!(k.len(), 4, "{out}");
    assert_eq!(k[0] + k[1], k[2], "allocated + reserved = used: {out}");
    h.run("swap", &[]).fails(2);
    h.run("swap", &["-q"]).fails(2);
}

#[test]
fn zpool_iostat_hp_prints_seven_exact_fields_per_pool() {
    let h = Host::new();
    let pools = h.run("zpool", &["list", "-H", "-o", "name"]).ok();
    let out = h.run("zpool", &["iostat", "-H", "-p"]).ok();
    assert_eq!(out.lines().count(), pools.lines().count(), "{out}");
    let list = h
        .run("zpool", &["list", "-H", "-p", "-o", "name,alloc,free"])
        .ok();
    for (io, l) in out.lines().zip(list.lines()) {
        let f: Vec<&str> = io.split('\t').collect();
        assert_eq!(f.len(), 7, "{io}");
        assert!(f[1..].iter().all(|v| v.parse::<u64>().is_ok()), "{io}");
        // Capacity columns agree with zpool list.
        assert_eq!(f[..3].join("\t"), l, "{io}");
    }
    // Without -H: the two-line header and the dashes, human-readable numbers.
    let human = h.run("zpool", &["iostat"]).ok();
    assert!(
        human.lines().nth(1).unwrap().starts_with("pool "),
        "{human}"
    );
    h.run("zpool", &["iostat", "-H", "nosuchpool"]).fails(1);
}

#[test]
fn netstat_rn_lists_static_connected_and_loopback_routes() {
    let h = Host::new();
    let out = h.run("netstat", &["-rn", "-f", "inet"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "Routing Table: IPv4", "{out}");
    assert!(lines[3].starts_with("-----"), "{out}");
    let rows: Vec<Vec<&str>> = lines[4..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows
        .iter()
        .any(|r| r[..3] == ["127.0.0.1", "127.0.0.1", "UH"] && r[5] == "lo0"));
    assert!(rows.iter().all(|r| (5..=6).contains(&r.len())), "{out}");
    // A static route added with route(8) shows with the G flag, and without its mask.
    h.run("route", &["-p", "add", "10.7.0.0/16", "192.168.1.1"])
        .ok();
    let out = h.run("netstat", &["-r", "-n"]).ok();
    assert!(
        out.lines().any(|l| l
            .split_whitespace()
            .take(3)
            .eq(["10.7.0.0", "192.168.1.1", "UG"])),
        "{out}"
    );
    h.run("netstat", &["-i"]).fails(1);
}
