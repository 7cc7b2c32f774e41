//! `zpool list [-H] [-p] [-o props] [pool...]`, `zpool iostat [-H] [-p] [pool...]` and a
//! minimal `zpool status`.

use super::zfsprops::{nicenum, used};
use crate::ctx::Ctx;
use crate::getopt::getopt;

const DEFAULT: &str = "name,size,alloc,free,ckpoint,expandsz,frag,cap,dedup,health,altroot";

fn value(cx: &Ctx, pool: &str, prop: &str, parsable: bool) -> Option<String> {
    let p = cx.st.pools.get(pool)?;
    let alloc = used(&cx.st, pool);
    let num = |n: u64| if parsable { n.to_string() } else { nicenum(n) };
    Some(match prop {
        "name" => pool.into(),
        "size" => num(p.size),
        "alloc" | "allocated" => num(alloc),
        "free" => num(p.size.saturating_sub(alloc)),
        "ckpoint" | "checkpoint" | "expandsz" | "expandsize" | "altroot" => "-".into(),
        "frag" | "fragmentation" => {
            if parsable {
                "0".into()
            } else {
                "0%".into()
            }
        }
        "cap" | "capacity" => {
            let c = alloc * 100 / p.size.max(1);
            if parsable {
                c.to_string()
            } else {
                format!("{c}%")
            }
        }
        "dedup" | "dedupratio" => {
            if parsable {
                "1.00".into()
            } else {
                "1.00x".into()
            }
        }
        "health" => p.health.clone(),
        _ => return None,
    })
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        cx.errln("usage: zpool command args ...");
        return 2;
    };
    match sub.as_str() {
        "list" => list(cx, rest),
        "iostat" => iostat(cx, rest),
        "status" => {
            let pools: Vec<String> = if rest.is_empty() {
                cx.st.pools.keys().cloned().collect()
            } else {
                rest.to_vec()
            };
            for p in pools {
                if !cx.st.pools.contains_key(&p) {
                    cx.errln(&format!("cannot open '{p}': no such pool"));
                    return 1;
                }
                cx.outln(&format!("  pool: {p}\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\t{p:<11} ONLINE       0     0     0\n\t  c1t0d0    ONLINE       0     0     0\n\nerrors: No known data errors"));
            }
            0
        }
        _ => {
            cx.errln(&format!("unrecognized command '{sub}'"));
            2
        }
    }
}

fn list(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = getopt(args, "HpPgLvo:T:", &[]) else {
        cx.errln(
            "usage:\n\tlist [-gHLpPv] [-o property[,...]] [-T d|u] [pool] ... [interval [count]]",
        );
        return 2;
    };
    let cols: Vec<&str> = o.val('o').unwrap_or(DEFAULT).split(',').collect();
    let probe = cx.st.pools.keys().next().cloned().unwrap_or_default();
    if let Some(bad) = cols.iter().find(|c| value(cx, &probe, c, true).is_none()) {
        cx.errln(&format!("property '{bad}' is not a valid pool property"));
        return 2;
    }
    let pools: Vec<String> = if o.operands.is_empty() {
        cx.st.pools.keys().cloned().collect()
    } else {
        o.operands.clone()
    };
    let mut rows = Vec::new();
    let mut rc = 0;
    for p in &pools {
        if !cx.st.pools.contains_key(p) {
            cx.errln(&format!("cannot open '{p}': no such pool"));
            rc = 1;
            continue;
        }
        rows.push(
            cols.iter()
                .map(|c| value(cx, p, c, o.has('p')).unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    if o.has('H') {
        for r in rows {
            cx.outln(&r.join("\t"));
        }
        return rc;
    }
    if rows.is_empty() {
        return rc;
    }
    let headers: Vec<String> = cols.iter().map(|c| c.to_uppercase()).collect();
    let mut w: Vec<usize> = headers.iter().map(String::len).collect();
    for r in &rows {
        for (i, v) in r.iter().enumerate() {
            w[i] = w[i].max(v.len());
        }
    }
    let fmt = |vals: &[String]| -> String {
        vals.iter()
            .enumerate()
            .map(|(i, v)| {
                if i == 0 {
                    format!("{:<w$}", v, w = w[i])
                } else {
                    format!("{:>w$}", v, w = w[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    cx.outln(&fmt(&headers));
    for r in rows {
        cx.outln(&fmt(&r));
    }
    rc
}

/// `zpool iostat [-Hp] [pool...]` without an interval: one report of averages per second since
/// import (illumos-gate `man8/zpool.8`): name, alloc, free, read and write operations, read and
/// write bandwidth. The emulated pools are busy in proportion to what they hold (a fixed
/// operation size of 64 KiB reads and 32 KiB writes); an interval is not emulated.
fn iostat(cx: &mut Ctx, args: &[String]) -> i32 {
    let usage = "usage:\n\tiostat [-gLPvy] [-T d|u] [pool] ... [interval [count]]";
    let Ok(o) = getopt(args, "HpgLPvyT:", &[]) else {
        cx.errln(usage);
        return 2;
    };
    let pools: Vec<String> = if o.operands.is_empty() {
        cx.st.pools.keys().cloned().collect()
    } else {
        o.operands.clone()
    };
    let mut rows: Vec<[String; 7]> = Vec::new();
    for p in &pools {
        let Some(pool) = cx.st.pools.get(p) else {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                cx.errln("illumos-sim: zpool iostat with an interval is not emulated");
            } else {
                cx.errln(&format!("cannot open '{p}': no such pool"));
            }
            return 1;
        };
        let alloc = used(&cx.st, p);
        let free = pool.size.saturating_sub(alloc);
        let gib = alloc >> 30;
        let (rops, wops) = (2 + gib, 5 + 2 * gib);
        let num = |n: u64| {
            if o.has('p') {
                n.to_string()
            } else {
                nicenum(n)
            }
        };
        rows.push([
            p.clone(),
            num(alloc),
            num(free),
            num(rops),
            num(wops),
            num(rops * 65_536),
            num(wops * 32_768),
        ]);
    }
    if o.has('H') {
        for r in rows {
            cx.outln(&r.join("\t"));
        }
        return 0;
    }
    cx.outln("              capacity     operations    bandwidth");
    cx.outln("pool        alloc   free   read  write   read  write");
    cx.outln("----------  -----  -----  -----  -----  -----  -----");
    for r in rows {
        cx.outln(&format!(
            "{:<10}  {:>5}  {:>5}  {:>5}  {:>5}  {:>5}  {:>5}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6]
        ));
    }
    cx.outln("----------  -----  -----  -----  -----  -----  -----");
    0
}
