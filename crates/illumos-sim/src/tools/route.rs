//! `route`: `get` of a destination (exit 3, ESRCH, when no route matches), plus `add` and
//! `delete` of gateway routes.

use std::net::Ipv4Addr;

use crate::ctx::Ctx;
use crate::state::Route;

fn v4_net(s: &str) -> Option<(u32, u8)> {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    Some((
        u32::from(a.parse::<Ipv4Addr>().ok()?),
        l.parse().ok().filter(|n: &u8| *n <= 32)?,
    ))
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let mut rest: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "-n" | "-p" | "-q" | "-v" | "-inet" => {}
            _ => rest.push(a),
        }
    }
    match rest.as_slice() {
        ["get", dest, ..] => get(cx, dest),
        ["add", dest, gw, ..] => add(cx, dest, gw),
        ["delete", dest, gw, ..] => delete(cx, dest, gw),
        _ => {
            cx.errln("usage: route [ -fnpqv ] [ -R <root-dir> ] cmd [[ -<qualifers> ] args ]");
            1
        }
    }
}

fn get(cx: &mut Ctx, dest: &str) -> i32 {
    let target = if dest == "default" {
        Some(0u32)
    } else {
        dest.parse::<Ipv4Addr>().ok().map(u32::from)
    };
    let Some(t) = target else {
        cx.errln(&format!("route: bad address: {dest}"));
        return 1;
    };
    // Candidates: explicit routes, and the connected subnets of the host's addresses.
    let mut best: Option<(u8, String, String, String)> = None;
    for r in &cx.st.routes {
        let (net, len) = if r.dest == "default" {
            (0, 0)
        } else {
            v4_net(&r.dest).unwrap_or((0, 32))
        };
        let exact_default = dest == "default" && len == 0;
        let hit = (dest != "default" && t & mask(len) == net & mask(len)) || exact_default;
        if hit && best.as_ref().is_none_or(|b| len > b.0) {
            best = Some((len, r.dest.clone(), r.gateway.clone(), r.ifname.clone()));
        }
    }
    if dest != "default" {
        for (obj, a) in &cx.st.addrs {
            if let Some((net, len)) = v4_net(&a.addr) {
                if t & mask(len) == net & mask(len) && best.as_ref().is_none_or(|b| len > b.0) {
                    let ifn = obj.split('/').next().unwrap_or_default().to_string();
                    let ip = Ipv4Addr::from(net).to_string();
                    best = Some((len, Ipv4Addr::from(net & mask(len)).to_string(), ip, ifn));
                }
            }
        }
    }
    let Some((len, rdest, gw, ifn)) = best else {
        cx.errln("route: writing to routing socket: No such process");
        return 3;
    };
    let (dname, mname) = if len == 0 {
        ("default".to_string(), "default".to_string())
    } else {
        (rdest, Ipv4Addr::from(mask(len)).to_string())
    };
    let gateway_flag = if cx.st.routes.iter().any(|r| r.gateway == gw) {
        ",GATEWAY"
    } else {
        ""
    };
    cx.outln(&format!("   route to: {dest}"));
    cx.outln(&format!("destination: {dname}"));
    cx.outln(&format!("       mask: {mname}"));
    cx.outln(&format!("    gateway: {gw}"));
    cx.outln(&format!("  interface: {ifn}"));
    cx.outln(&format!("      flags: <UP{gateway_flag},DONE,STATIC>"));
    cx.outln(" recvpipe  sendpipe  ssthresh    rtt,ms rttvar,ms  hopcount      mtu     expire");
    cx.outln("       0         0         0         0         0         0      1500         0 ");
    0
}

fn add(cx: &mut Ctx, dest: &str, gw: &str) -> i32 {
    if gw.parse::<Ipv4Addr>().is_err() {
        cx.errln(&format!("route: bad address: {gw}"));
        return 1;
    }
    if dest != "default" && v4_net(dest).is_none() {
        cx.errln(&format!("route: bad address: {dest}"));
        return 1;
    }
    let t = u32::from(gw.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED));
    let ifn = cx.st.addrs.iter().find_map(|(o, a)| {
        let (net, len) = v4_net(&a.addr)?;
        (t & mask(len) == net & mask(len))
            .then(|| o.split('/').next().unwrap_or_default().to_string())
    });
    let Some(ifn) = ifn else {
        cx.errln(&format!(
            "add net {dest}: gateway {gw}: Network is unreachable"
        ));
        return 1;
    };
    let r = Route {
        dest: dest.into(),
        gateway: gw.into(),
        ifname: ifn,
    };
    if cx
        .st
        .routes
        .iter()
        .any(|x| x.dest == r.dest && x.gateway == r.gateway)
    {
        cx.errln(&format!("add net {dest}: gateway {gw}: entry exists"));
        return 1;
    }
    cx.st.routes.push(r);
    cx.touch();
    cx.outln(&format!("add net {dest}: gateway {gw}"));
    0
}

fn delete(cx: &mut Ctx, dest: &str, gw: &str) -> i32 {
    let before = cx.st.routes.len();
    cx.st
        .routes
        .retain(|r| !(r.dest == dest && r.gateway == gw));
    if cx.st.routes.len() == before {
        cx.errln(&format!("delete net {dest}: gateway {gw}: not in table"));
        return 1;
    }
    cx.touch();
    cx.outln(&format!("delete net {dest}: gateway {gw}"));
    0
}
