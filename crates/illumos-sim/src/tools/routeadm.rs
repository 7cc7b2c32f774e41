//! `routeadm`: the persistent and current forwarding/routing switches. `-e/-d/-r` change the
//! persistent setting; `-u` applies persistent to current. Errors are prefixed with argv[0]
//! as given (routeadm uses argv[0], so a full path when invoked by path).

use crate::ctx::Ctx;

const OPTIONS: &[&str] = &[
    "ipv4-routing",
    "ipv6-routing",
    "ipv4-forwarding",
    "ipv6-forwarding",
];
const VARS: &[&str] = &[
    "ipv4-routing-daemon",
    "ipv4-routing-daemon-args",
    "ipv4-routing-stop-cmd",
    "ipv6-routing-daemon",
    "ipv6-routing-daemon-args",
    "ipv6-routing-stop-cmd",
    "routing-svcs",
];

const USAGE: &str = "usage: routeadm [-p [option]]
       routeadm [-R <root-dir>] [-e <option> ...] [-d <option> ...] [-r <option> ...] [-s <var>=<value> ...]
       routeadm [-l <FMRI>]
       routeadm [-m <FMRI> <key>=<value> [<key>=<value> ...]]
       routeadm [-u]";

/// Keeps svc:/network/ipvN-forwarding:default in step with the forwarding switches.
pub fn sync_service(cx: &mut Ctx) {
    for v in ["ipv4", "ipv6"] {
        let (pers, cur) = cx
            .st
            .routing
            .options
            .get(&format!("{v}-forwarding"))
            .copied()
            .unwrap_or_default();
        if let Some(s) = cx
            .st
            .services
            .get_mut(&format!("svc:/network/{v}-forwarding:default"))
        {
            let state = if cur { "online" } else { "disabled" };
            if s.state != state || s.enabled != pers {
                s.enabled = pers;
                s.temp_enabled = None;
                s.state = state.into();
                s.stime = crate::timefmt::now_secs();
            }
        }
    }
}

fn en(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let prog = cx.argv0.clone();
    let mut print: Option<Option<String>> = None;
    let mut changes: Vec<(char, String)> = Vec::new();
    let mut update = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let flag = a.strip_prefix('-').and_then(|f| f.chars().next());
        match flag {
            Some('p') => {
                let next = args.get(i + 1).filter(|n| !n.starts_with('-'));
                print = Some(next.cloned());
                i += if next.is_some() { 2 } else { 1 };
            }
            Some('u') => {
                update = true;
                i += 1;
            }
            Some(c @ ('e' | 'd' | 'r' | 's')) => {
                let Some(v) = args.get(i + 1) else {
                    cx.errln(&format!("{prog}: option requires an argument -- {c}"));
                    cx.errln(USAGE);
                    return 1;
                };
                changes.push((c, v.clone()));
                i += 2;
            }
            Some('R') => i += 2,
            _ => {
                cx.errln(&format!("{prog}: invalid option: {a}"));
                cx.errln(USAGE);
                return 1;
            }
        }
    }
    if let Some(which) = print {
        if update || !changes.is_empty() {
            cx.errln(&format!(
                "{prog}: the -p option cannot be used with any of -demrsu"
            ));
            cx.errln(USAGE);
            return 1;
        }
        return print_p(cx, &prog, which.as_deref());
    }
    for (c, v) in &changes {
        if *c == 's' {
            let (k, val) = v.split_once('=').unwrap_or((v, ""));
            if !VARS.contains(&k) {
                cx.errln(&format!("{prog}: no such option/variable {k}"));
                return 1;
            }
            cx.st
                .routing
                .vars
                .insert(k.into(), val.trim_matches('"').into());
        } else {
            if !OPTIONS.contains(&v.as_str()) {
                cx.errln(&format!("{prog}: no such option/variable {v}"));
                return 1;
            }
            let e = cx
                .st
                .routing
                .options
                .entry(v.clone())
                .or_insert((false, false));
            e.0 = match c {
                'e' => true,
                'd' => false,
                _ => false, // -r reverts to the default, which is disabled for all four
            };
        }
        cx.touch();
    }
    if update {
        for o in cx.st.routing.options.values_mut() {
            o.1 = o.0;
        }
        cx.touch();
    }
    if changes.is_empty() && !update {
        return print_table(cx);
    }
    sync_service(cx);
    0
}

fn print_p(cx: &mut Ctx, prog: &str, which: Option<&str>) -> i32 {
    let mut lines = Vec::new();
    for o in OPTIONS {
        let (p, c) = cx.st.routing.options.get(*o).copied().unwrap_or_default();
        lines.push((
            o.to_string(),
            format!("persistent={} default=disabled current={}", en(p), en(c)),
        ));
    }
    for v in VARS {
        let val = cx.st.routing.vars.get(*v).cloned().unwrap_or_default();
        let def = if *v == "routing-svcs" {
            "route:default ripng:default"
        } else {
            ""
        };
        lines.push((
            v.to_string(),
            format!("persistent=\"{val}\" default=\"{def}\" "),
        ));
    }
    match which {
        Some(w) => match lines.iter().find(|(n, _)| n == w) {
            Some((_, l)) => cx.outln(l),
            None => {
                cx.errln(&format!("{prog}: no such option/variable {w}"));
                return 1;
            }
        },
        None => {
            for (n, l) in lines {
                cx.outln(&format!("{n} {l}"));
            }
        }
    }
    0
}

fn print_table(cx: &mut Ctx) -> i32 {
    cx.outln("              Configuration   Current              Current");
    cx.outln("                     Option   Configuration        System State");
    cx.outln("---------------------------------------------------------------");
    for (o, label) in [
        ("ipv4-routing", "IPv4 routing"),
        ("ipv6-routing", "IPv6 routing"),
        ("ipv4-forwarding", "IPv4 forwarding"),
        ("ipv6-forwarding", "IPv6 forwarding"),
    ] {
        let (p, c) = cx.st.routing.options.get(o).copied().unwrap_or_default();
        let pd = if p { "enabled" } else { "disabled" };
        cx.outln(&format!("{label:>27}   {pd:<20} {}", en(c)));
    }
    cx.outln("");
    let svcs = cx
        .st
        .routing
        .vars
        .get("routing-svcs")
        .cloned()
        .unwrap_or_default();
    cx.outln(&format!("           Routing services   \"{svcs}\""));
    0
}
