//! `netstat -rn [-f inet]`: the IPv4 routing table.
//!
//! The reference documents `route get` only; the layout follows illumos-gate `man8/netstat.8`
//! and `cmd/cmd-inet/usr.bin/netstat/netstat.c` (`ire_report_item_v4`): a title, a header, a
//! line of dashes, then destination, gateway, flags, ref, use and interface in fixed columns.
//! The routes are what `route` reads: the static routes (`UG`, through a gateway; their
//! interface column is empty unless the route names one), each static IPv4 address's
//! connected subnet (`U`) and the loopback (`UH`). Other netstat forms are not emulated.

use std::net::Ipv4Addr;

use crate::ctx::Ctx;
use crate::getopt::getopt;

fn row(dest: &str, gw: &str, flags: &str, refs: u32, uses: u64, ifname: &str) -> String {
    format!("{dest:<20} {gw:<20} {flags:<5} {refs:>5} {uses:>10} {ifname}")
        .trim_end()
        .to_string()
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let routing = getopt(args, "rnf:", &[]).is_ok_and(|o| {
        o.has('r') && o.has('n') && o.operands.is_empty() && o.val('f').unwrap_or("inet") == "inet"
    });
    if !routing {
        cx.errln("netstat: illumos-sim emulates only netstat -rn [-f inet]");
        return 1;
    }
    let mut rows = Vec::new();
    for r in &cx.st.routes {
        // Without -v netstat prints no mask: a network route is its address alone.
        let dest = r.dest.split('/').next().unwrap_or_default();
        rows.push(row(dest, &r.gateway, "UG", 2, 0, &r.ifname));
    }
    rows.push(row("127.0.0.1", "127.0.0.1", "UH", 2, 0, "lo0"));
    for (obj, addr) in &cx.st.addrs {
        let Some((ip, len)) = addr.addr.split_once('/') else {
            continue;
        };
        let (Ok(ip), Ok(len)) = (ip.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
            continue;
        };
        if ip.is_loopback() || len > 32 {
            continue;
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let net = Ipv4Addr::from(u32::from(ip) & mask).to_string();
        let ifname = obj.split('/').next().unwrap_or_default();
        rows.push(row(&net, &ip.to_string(), "U", 3, 0, ifname));
    }
    cx.outln("");
    cx.outln("Routing Table: IPv4");
    cx.outln("  Destination           Gateway           Flags  Ref     Use     Interface");
    cx.outln("-------------------- -------------------- ----- ----- ---------- ---------");
    for r in rows {
        cx.outln(&r);
    }
    0
}
