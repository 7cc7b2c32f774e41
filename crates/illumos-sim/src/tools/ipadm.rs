//! `ipadm`: IP interfaces, address objects and interface properties. Errors are
//! `ipadm: <msg>`, exit 1 (usage included).

use crate::ctx::Ctx;
use crate::getopt::{getopt, OptError, Opts};
use crate::ofmt::{self, f, Field};
use crate::state::{Addr, IpIf};

const LONG: &[(&str, char)] = &[
    ("temporary", 't'),
    ("output", 'o'),
    ("parsable", 'p'),
    ("prop", 'p'),
    ("module", 'm'),
    ("address", 'a'),
];

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        return die(cx, "usage: ipadm <subcommand> <args> ...");
    };
    match sub.as_str() {
        "create-if" | "create-ip" | "plumb" => create_if(cx, rest),
        "delete-if" | "delete-ip" | "unplumb" => delete_if(cx, rest),
        "show-if" => show_if(cx, rest),
        "create-addr" => create_addr(cx, rest),
        "delete-addr" => delete_addr(cx, rest),
        "enable-addr" => toggle_addr(cx, rest, true),
        "disable-addr" => toggle_addr(cx, rest, false),
        "show-addr" => show_addr(cx, rest),
        "set-ifprop" => set_ifprop(cx, rest, false),
        "reset-ifprop" => set_ifprop(cx, rest, true),
        "show-ifprop" => show_ifprop(cx, rest),
        "set-prop" => set_prop(cx, rest),
        "show-prop" => show_prop(cx, rest),
        _ => die(cx, &format!("unknown subcommand '{sub}'")),
    }
}

fn die(cx: &mut Ctx, msg: &str) -> i32 {
    cx.errln(&format!("ipadm: {msg}"));
    1
}

fn opts(cx: &mut Ctx, args: &[String], spec: &str) -> Result<Opts, i32> {
    getopt(args, spec, LONG).map_err(|e| match e {
        OptError::Unknown(o) => die(cx, &format!("unrecognized option: {o}")),
        OptError::MissingArg(c) => die(cx, &format!("option requires an argument -- {c}")),
    })
}

fn create_if(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "t") else { return 1 };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: create-if [-t] <interface>");
    };
    if cx.st.ifs.contains_key(name) {
        return die(
            cx,
            &format!("Could not create {name} : Interface already exists"),
        );
    }
    match cx.st.links.get(name) {
        None => {
            return die(
                cx,
                &format!("Could not create {name} : Datalink does not exist"),
            )
        }
        Some(l) if l.class == "etherstub" => {
            return die(
                cx,
                &format!("Could not create {name} : Operation not supported"),
            )
        }
        Some(l) if l.zone.is_some() => {
            return die(
                cx,
                &format!("Could not create {name} : Interface already in use"),
            )
        }
        Some(_) => {}
    }
    cx.st.ifs.insert(
        name.clone(),
        IpIf {
            temporary: o.has('t'),
            ..Default::default()
        },
    );
    cx.touch();
    0
}

fn delete_if(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "") else { return 1 };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: delete-if <interface>");
    };
    if cx.st.ifs.remove(name).is_none() {
        return die(
            cx,
            &format!("Could not delete {name}: Interface does not exist"),
        );
    }
    let prefix = format!("{name}/");
    cx.st.addrs.retain(|k, _| !k.starts_with(&prefix));
    cx.touch();
    0
}

fn valid_addrobj(a: &str) -> Option<(&str, &str)> {
    let (ifn, name) = a.split_once('/')?;
    let ok = !ifn.is_empty()
        && !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some((ifn, name))
}

/// `a.b.c.d[/len]` → normalised `a.b.c.d/len` (classful prefix when none is given).
fn parse_v4(s: &str) -> Option<(String, std::net::Ipv4Addr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok().filter(|n| *n <= 32)?)),
        None => (s, None),
    };
    let ip: std::net::Ipv4Addr = a.parse().ok()?;
    let len = len.unwrap_or(match ip.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    });
    Some((
        if len == 0 {
            ip.to_string()
        } else {
            format!("{ip}/{len}")
        },
        ip,
        len,
    ))
}

fn create_addr(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tT:da:1h:w:i:p:") else {
        return 1;
    };
    let [obj] = o.operands.as_slice() else {
        return die(cx, "usage: create-addr [-t] -T <type> ... <addrobj>");
    };
    let Some((ifn, _)) = valid_addrobj(obj) else {
        return die(cx, &format!("invalid address object name: {obj}"));
    };
    let ty = o.val('T').unwrap_or("");
    let addr = match ty {
        "static" => {
            let Some(a) = o.val('a') else {
                return die(cx, "-a must be specified for static addresses");
            };
            let a = a.strip_prefix("local=").unwrap_or(a);
            let Some((norm, ip, _)) = parse_v4(a) else {
                return die(cx, "Could not create address: Invalid address");
            };
            let in_use = cx
                .st
                .addrs
                .values()
                .any(|x| x.addr.split('/').next() == Some(ip.to_string().as_str()));
            if cx.st.addrs.contains_key(obj) {
                return die(
                    cx,
                    "Could not create address: Address object already exists",
                );
            }
            if in_use {
                return die(cx, "Could not create address: Address already in use");
            }
            norm
        }
        "dhcp" => {
            if cx.st.addrs.contains_key(obj) {
                return die(
                    cx,
                    "Could not create address: Address object already exists",
                );
            }
            "?".to_string()
        }
        "addrconf" => {
            if cx.st.addrs.contains_key(obj) {
                return die(
                    cx,
                    "Could not create address: Address object already exists",
                );
            }
            let prefix = format!("{ifn}/");
            let running = cx
                .st
                .addrs
                .iter()
                .any(|(k, a)| k.starts_with(&prefix) && a.ty == "addrconf");
            if running {
                return die(cx, "Could not create address: Addrconf already in progress");
            }
            match cx.st.links.get(ifn) {
                Some(l) => link_local(&l.mac, ifn),
                None => return die(cx, "Could not create address: Interface does not exist"),
            }
        }
        _ => return die(cx, &format!("invalid address type {ty}")),
    };
    if !cx.st.ifs.contains_key(ifn) {
        // Creating an address plumbs its interface implicitly when the datalink exists.
        match cx.st.links.get(ifn) {
            Some(l) if l.class != "etherstub" && l.zone.is_none() => {
                cx.st.ifs.insert(
                    ifn.to_string(),
                    IpIf {
                        temporary: o.has('t'),
                        ..Default::default()
                    },
                );
            }
            _ => return die(cx, "Could not create address: Interface does not exist"),
        }
    }
    if ty == "addrconf" {
        // An addrconf address plumbs IPv6 on its interface.
        if let Some(i) = cx.st.ifs.get_mut(ifn) {
            i.v6 = true;
        }
    }
    cx.st.addrs.insert(
        obj.clone(),
        Addr {
            ty: ty.into(),
            addr,
            temporary: o.has('t'),
            disabled: false,
        },
    );
    cx.touch();
    0
}

/// The EUI-64 link-local address of a MAC, as ipadm prints it with its scope
/// (`fe80::21b:21ff:fea4:3c10%igb0/10`).
fn link_local(mac: &str, ifn: &str) -> String {
    let mut b: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).unwrap_or(0))
        .collect();
    b.resize(6, 0);
    let words = [
        u16::from_be_bytes([b[0] ^ 0x02, b[1]]),
        u16::from_be_bytes([b[2], 0xff]),
        u16::from_be_bytes([0xfe, b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
    ];
    let ip = std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, words[0], words[1], words[2], words[3]);
    format!("{ip}%{ifn}/10")
}

/// `enable-addr -t` / `disable-addr -t`: only the temporary form exists (ipadm.c:
/// `persistent operation not supported for enable-addr`). Enabling an enabled address is
/// libipadm's `Address object already exists`; disabling a disabled one finds no active
/// object (`Object not found`).
fn toggle_addr(cx: &mut Ctx, args: &[String], enable: bool) -> i32 {
    let verb = if enable { "enable" } else { "disable" };
    let Ok(o) = opts(cx, args, "t") else { return 1 };
    let [obj] = o.operands.as_slice() else {
        return die(cx, &format!("usage: {verb}-addr -t <addrobj>"));
    };
    if !o.has('t') {
        return die(
            cx,
            &format!("persistent operation not supported for {verb}-addr"),
        );
    }
    let Some(a) = cx.st.addrs.get_mut(obj) else {
        return die(cx, &format!("could not {verb} address: Object not found"));
    };
    match (enable, a.disabled) {
        (true, false) => {
            return die(
                cx,
                "could not enable address: Address object already exists",
            )
        }
        (false, true) => return die(cx, "could not disable address: Object not found"),
        _ => a.disabled = !enable,
    }
    cx.touch();
    0
}

fn delete_addr(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "r") else { return 1 };
    let [obj] = o.operands.as_slice() else {
        return die(cx, "usage: delete-addr [-r] <addrobj>");
    };
    if valid_addrobj(obj).is_none() {
        return die(cx, &format!("invalid address object name: {obj}"));
    }
    if cx.st.addrs.remove(obj).is_none() {
        return die(cx, "could not delete address: Object not found");
    }
    cx.touch();
    0
}

const ADDR_F: &[Field] = &[
    f("ADDROBJ", 17),
    f("TYPE", 8),
    f("STATE", 12),
    f("CURRENT", 7),
    f("PERSISTENT", 10),
    f("ADDR", 46),
];

fn show_addr(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "po:") else {
        return 1;
    };
    if o.has('p') && o.val('o').is_none() {
        return die(cx, "-p requires -o");
    }
    if o.has('p') && o.val('o').is_some_and(|v| v.eq_ignore_ascii_case("all")) {
        return die(cx, "\"-o all\" is invalid with -p");
    }
    let Ok(idx) = ofmt::select(ADDR_F, o.val('o'), &["ADDROBJ", "TYPE", "STATE", "ADDR"]) else {
        return die(cx, "invalid field(s) specified");
    };
    let mut objs: Vec<(&String, &Addr)> = cx.st.addrs.iter().collect();
    objs.sort_by_key(|(k, a)| (a.addr.contains(':'), !k.starts_with("lo0/"), (*k).clone()));
    if let Some(want) = o.operands.first() {
        if let Some(ifn) = want.strip_suffix('/') {
            if !cx.st.ifs.contains_key(ifn) {
                return die(cx, "Could not get address: Object not found");
            }
            objs.retain(|(k, _)| k.starts_with(want.as_str()));
        } else {
            objs.retain(|(k, _)| *k == want);
            if objs.is_empty() {
                return die(cx, "Could not get address: Object not found");
            }
        }
    }
    let rows: Vec<Vec<String>> = objs
        .iter()
        .map(|(k, a)| {
            let full = [
                (*k).clone(),
                a.ty.clone(),
                if a.disabled { "disabled" } else { "ok" }.into(),
                if a.disabled { "-----" } else { "U----" }.into(),
                if a.temporary {
                    "---".into()
                } else {
                    "U--".into()
                },
                a.addr.clone(),
            ];
            idx.iter().map(|&i| full[i].clone()).collect()
        })
        .collect();
    let text = ofmt::render(ADDR_F, &idx, &rows, o.has('p'));
    cx.out(&text);
    0
}

const IF_F: &[Field] = &[
    f("IFNAME", 10),
    f("STATE", 8),
    f("CURRENT", 12),
    f("PERSISTENT", 10),
];

fn show_if(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "po:") else {
        return 1;
    };
    if o.has('p') && o.val('o').is_none() {
        return die(cx, "-p requires -o");
    }
    let Ok(idx) = ofmt::select(
        IF_F,
        o.val('o'),
        &["IFNAME", "STATE", "CURRENT", "PERSISTENT"],
    ) else {
        return die(cx, "invalid field(s) specified");
    };
    let mut names: Vec<&String> = cx.st.ifs.keys().collect();
    names.sort_by_key(|n| (*n != "lo0", (*n).clone()));
    if let Some(want) = o.operands.first() {
        if !cx.st.ifs.contains_key(want) {
            return die(cx, "Could not get interface(s): Interface does not exist");
        }
        names.retain(|n| *n == want);
    }
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let i = &cx.st.ifs[*n];
            let has_addr = cx.st.addrs.keys().any(|k| k.starts_with(&format!("{n}/")));
            let lo = *n == "lo0";
            let cur = format!(
                "{}m-{}------4{}",
                if lo { '-' } else { 'b' },
                if lo { 'v' } else { '-' },
                if i.v6 { '6' } else { '-' }
            );
            let pers = if i.temporary {
                "---".to_string()
            } else {
                format!("-4{}", if i.v6 { '6' } else { '-' })
            };
            let full = [
                (*n).clone(),
                if has_addr { "ok" } else { "down" }.to_string(),
                cur,
                pers,
            ];
            idx.iter().map(|&i| full[i].clone()).collect()
        })
        .collect();
    let text = ofmt::render(IF_F, &idx, &rows, o.has('p'));
    cx.out(&text);
    0
}

/// (property, protocols, default, possible).
const IFPROPS: &[(&str, &[&str], &str, &str)] = &[
    ("arp", &["ipv4"], "on", "on,off"),
    ("forwarding", &["ipv4", "ipv6"], "off", "on,off"),
    ("metric", &["ipv4", "ipv6"], "0", "--"),
    ("mtu", &["ipv4", "ipv6"], "1500", "68-1500"),
    ("exchange_routes", &["ipv4", "ipv6"], "on", "on,off"),
    ("usesrc", &["ipv4", "ipv6"], "none", "--"),
    ("nud", &["ipv6"], "on", "on,off"),
];

fn ifprop_current(cx: &Ctx, ifn: &str, proto: &str, prop: &str, default: &str) -> String {
    let i = &cx.st.ifs[ifn];
    if let Some(v) = i.props.get(&format!("{proto}/{prop}")) {
        return v.clone();
    }
    if prop == "forwarding" {
        let opt = format!("{proto}-forwarding");
        if cx.st.routing.options.get(&opt).is_some_and(|o| o.1) {
            return "on".into();
        }
    }
    default.into()
}

fn set_ifprop(cx: &mut Ctx, args: &[String], reset: bool) -> i32 {
    let Ok(o) = opts(cx, args, "tp:m:") else {
        return 1;
    };
    let sub = if reset { "reset-ifprop" } else { "set-ifprop" };
    let [ifn] = o.operands.as_slice() else {
        return die(
            cx,
            &format!("usage: {sub} [-t] -p <prop>=<value> -m <protocol> <interface>"),
        );
    };
    let Some(proto) = o.val('m').map(String::from) else {
        return die(
            cx,
            "protocol must be specified when setting an interface property",
        );
    };
    let Some(pv) = o.val('p').map(String::from) else {
        return die(cx, "property must be specified");
    };
    let (prop, val) = pv
        .split_once('=')
        .map_or((pv.as_str(), ""), |(a, b)| (a, b));
    let Some(def) = IFPROPS.iter().find(|d| d.0 == prop) else {
        return die(cx, &format!("{sub}: {prop}: Unknown property"));
    };
    if !def.1.contains(&proto.as_str()) {
        return die(cx, &format!("{sub}: {prop}: Unknown property"));
    }
    if !cx.st.ifs.contains_key(ifn) {
        return die(cx, &format!("{sub}: {prop}: Interface does not exist"));
    }
    if !reset && def.3 == "on,off" && val != "on" && val != "off" {
        return die(cx, &format!("{sub}: {prop}: Invalid argument provided"));
    }
    let key = format!("{proto}/{prop}");
    if let Some(i) = cx.st.ifs.get_mut(ifn) {
        if reset {
            i.props.remove(&key);
        } else {
            i.props.insert(key, val.to_string());
        }
    }
    cx.touch();
    0
}

const IFPROP_F: &[Field] = &[
    f("IFNAME", 11),
    f("PROPERTY", 15),
    f("PROTO", 5),
    f("PERM", 4),
    f("CURRENT", 10),
    f("PERSISTENT", 10),
    f("DEFAULT", 10),
    f("POSSIBLE", 15),
];

fn show_ifprop(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "co:p:m:") else {
        return 1;
    };
    let parsable = o.has('c');
    if parsable && o.val('o').is_none() {
        return die(cx, "-c requires -o");
    }
    let Ok(idx) = ofmt::select(
        IFPROP_F,
        o.val('o'),
        &[
            "IFNAME",
            "PROPERTY",
            "PROTO",
            "PERM",
            "CURRENT",
            "PERSISTENT",
            "DEFAULT",
            "POSSIBLE",
        ],
    ) else {
        return die(cx, "invalid field(s) specified");
    };
    let names: Vec<String> = match o.operands.first() {
        Some(n) if !cx.st.ifs.contains_key(n) => {
            return die(
                cx,
                &format!("no such object '{n}': Interface does not exist"),
            )
        }
        Some(n) => vec![n.clone()],
        None => cx.st.ifs.keys().cloned().collect(),
    };
    let props: Option<Vec<String>> = o.val('p').map(|p| p.split(',').map(String::from).collect());
    if let Some(bad) = props
        .iter()
        .flatten()
        .find(|p| !IFPROPS.iter().any(|d| d.0 == p.as_str()))
    {
        return die(cx, &format!("show-ifprop: {bad}: Unknown property"));
    }
    let mut rows = Vec::new();
    for n in &names {
        for proto in ["ipv4", "ipv6"] {
            if o.val('m').is_some_and(|m| m != proto) || (proto == "ipv6" && !cx.st.ifs[n].v6) {
                continue;
            }
            for (prop, protos, default, possible) in IFPROPS {
                if !protos.contains(&proto)
                    || props.as_ref().is_some_and(|p| !p.iter().any(|x| x == prop))
                {
                    continue;
                }
                let cur = ifprop_current(cx, n, proto, prop, default);
                let pers = if cx.st.ifs[n].temporary {
                    String::new()
                } else {
                    cx.st.ifs[n]
                        .props
                        .get(&format!("{proto}/{prop}"))
                        .cloned()
                        .unwrap_or_default()
                };
                let full = [
                    n.clone(),
                    prop.to_string(),
                    proto.into(),
                    "rw".into(),
                    cur,
                    pers,
                    default.to_string(),
                    possible.to_string(),
                ];
                let shown = |v: &String| {
                    if v.is_empty() && !parsable {
                        "--".to_string()
                    } else {
                        v.clone()
                    }
                };
                rows.push(idx.iter().map(|&i| shown(&full[i])).collect());
            }
        }
    }
    let text = ofmt::render(IFPROP_F, &idx, &rows, parsable);
    cx.out(&text);
    0
}

/// `ipadm set-prop -p forwarding=on ipv4`: the global forwarding switch routeadm also drives.
fn set_prop(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tp:") else {
        return 1;
    };
    let [proto] = o.operands.as_slice() else {
        return die(cx, "usage: set-prop [-t] -p <prop>=<value> <protocol>");
    };
    let pv = o.val('p').unwrap_or_default();
    let (prop, val) = pv.split_once('=').unwrap_or((pv, ""));
    if prop != "forwarding" || !(proto == "ipv4" || proto == "ipv6") {
        return die(cx, &format!("set-prop: {prop}: Unknown property"));
    }
    if val != "on" && val != "off" {
        return die(cx, &format!("set-prop: {prop}: Invalid argument provided"));
    }
    let on = val == "on";
    let entry = cx
        .st
        .routing
        .options
        .entry(format!("{proto}-forwarding"))
        .or_insert((false, false));
    entry.1 = on;
    if !o.has('t') {
        entry.0 = on;
    }
    super::routeadm::sync_service(cx);
    cx.touch();
    0
}

fn show_prop(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "co:p:") else {
        return 1;
    };
    let proto = o.operands.first().map(String::as_str).unwrap_or("ipv4");
    if o.val('p').is_some_and(|p| p != "forwarding") {
        return die(
            cx,
            &format!(
                "show-prop: {}: Unknown property",
                o.val('p').unwrap_or_default()
            ),
        );
    }
    let (pers, cur) = cx
        .st
        .routing
        .options
        .get(&format!("{proto}-forwarding"))
        .copied()
        .unwrap_or_default();
    let s = |b: bool| if b { "on" } else { "off" }.to_string();
    let fields = &[
        f("PROTO", 6),
        f("PROPERTY", 15),
        f("PERM", 4),
        f("CURRENT", 10),
        f("PERSISTENT", 10),
        f("DEFAULT", 10),
        f("POSSIBLE", 15),
    ];
    let Ok(idx) = ofmt::select(
        fields,
        o.val('o'),
        &[
            "PROTO",
            "PROPERTY",
            "PERM",
            "CURRENT",
            "PERSISTENT",
            "DEFAULT",
            "POSSIBLE",
        ],
    ) else {
        return die(cx, "invalid field(s) specified");
    };
    let full = [
        proto.to_string(),
        "forwarding".into(),
        "rw".into(),
        s(cur),
        s(pers),
        "off".into(),
        "on,off".into(),
    ];
    let rows = vec![idx.iter().map(|&i| full[i].clone()).collect()];
    let text = ofmt::render(fields, &idx, &rows, o.has('c'));
    cx.out(&text);
    0
}
