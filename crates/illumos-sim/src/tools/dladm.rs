//! `dladm`: etherstubs, VNICs and the show-* views with libofmt output. Errors are
//! `dladm: <msg>` (or `dladm: <msg>: <status>`), exit 1 for everything including usage.

use crate::ctx::Ctx;
use crate::getopt::{getopt, OptError, Opts};
use crate::ofmt::{self, f, Field};
use crate::state::{Link, State};
use crate::timefmt;

use std::collections::BTreeMap;

const LONG: &[(&str, char)] = &[
    ("temporary", 't'),
    ("root-dir", 'R'),
    ("link", 'l'),
    ("mac-address", 'm'),
    ("vid", 'v'),
    ("prop", 'p'),
    ("output", 'o'),
    ("parsable", 'p'),
    ("parseable", 'p'),
    ("statistics", 's'),
    ("persistent", 'P'),
];

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        cx.errln("usage: dladm <subcommand> <args> ...");
        return 1;
    };
    match sub.as_str() {
        "create-etherstub" => create_etherstub(cx, rest),
        "delete-etherstub" => delete_link(cx, rest, "etherstub"),
        "show-etherstub" => show(cx, rest, View::Etherstub),
        "create-vnic" => create_vnic(cx, rest),
        "delete-vnic" => delete_link(cx, rest, "vnic"),
        "show-vnic" => show(cx, rest, View::Vnic),
        "create-vlan" => super::vlan::create(cx, rest),
        "delete-vlan" => super::vlan::delete(cx, rest),
        "show-vlan" => show(cx, rest, View::Vlan),
        "create-aggr" => super::dladm_aggr::create(cx, rest),
        "delete-aggr" => super::dladm_aggr::delete(cx, rest),
        "add-aggr" => super::dladm_aggr::change_ports(cx, rest, true),
        "remove-aggr" => super::dladm_aggr::change_ports(cx, rest, false),
        "show-aggr" => super::dladm_aggr::show(cx, rest),
        "create-bridge" => super::dladm_bridge::create(cx, rest),
        "delete-bridge" => super::dladm_bridge::delete(cx, rest),
        "add-bridge" => super::dladm_bridge::change_links(cx, rest, true),
        "remove-bridge" => super::dladm_bridge::change_links(cx, rest, false),
        "show-bridge" => super::dladm_bridge::show(cx, rest),
        "show-link" => show(cx, rest, View::Link),
        "show-phys" => show(cx, rest, View::Phys),
        "show-ether" => show(cx, rest, View::Ether),
        "set-linkprop" => set_linkprop(cx, rest, false),
        "reset-linkprop" => set_linkprop(cx, rest, true),
        "show-linkprop" => show_linkprop(cx, rest),
        _ => {
            cx.errln(&format!("dladm: unknown subcommand '{sub}'"));
            1
        }
    }
}

pub(super) fn die(cx: &mut Ctx, msg: &str) -> i32 {
    cx.errln(&format!("dladm: {msg}"));
    1
}

pub(super) fn opts(cx: &mut Ctx, args: &[String], spec: &str) -> Result<Opts, i32> {
    getopt(args, spec, LONG).map_err(|e| match e {
        OptError::Unknown(o) => die(
            cx,
            &format!("illegal option -- {}", o.trim_start_matches('-')),
        ),
        OptError::MissingArg(c) => die(cx, &format!("option requires an argument -- {c}")),
    })
}

/// Datalink names: letters, digits and `_`; a letter first and a number last (no leading
/// zero); at most 31 characters.
pub fn check_link_name(name: &str) -> Result<(), String> {
    if name.len() >= 32 {
        return Err(format!("link name too long '{name}'"));
    }
    let invalid = || Err(format!("invalid link name '{name}'"));
    if !name.starts_with(|c: char| c.is_ascii_alphabetic())
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return invalid();
    }
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let num = &name[name.len() - digits..];
    if digits == 0
        || (num.len() > 1 && num.starts_with('0'))
        || num.parse::<u64>().map_or(true, |n| n > 4_294_967_294)
    {
        return invalid();
    }
    Ok(())
}

/// Parses and normalises a unicast MAC the way dladm prints it: lower case, no zero padding.
pub fn parse_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = Vec::new();
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        out.push(u8::from_str_radix(p, 16).ok()?);
    }
    Some(
        out.iter()
            .map(|b| format!("{b:x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// A random-looking but reproducible MAC (the VNIC name is the seed) in the 2:8:20 prefix
/// illumos uses for random VNIC addresses.
fn random_mac(seed: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!(
        "2:8:20:{:x}:{:x}:{:x}",
        (h >> 16) & 0xff,
        (h >> 8) & 0xff,
        h & 0xff
    )
}

pub fn new_vnic(
    over: &str,
    name: &str,
    mac: Option<&str>,
    vid: u16,
    mtu: u32,
    temporary: bool,
) -> Link {
    let (mac, mac_type) = match mac.and_then(parse_mac) {
        Some(m) => (m, "fixed"),
        None => (random_mac(name), "random"),
    };
    Link {
        class: "vnic".into(),
        over: over.into(),
        mac,
        mac_type: mac_type.into(),
        vid,
        mtu,
        temporary,
        zone: None,
        phys: None,
    }
}

fn create_etherstub(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tR:") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: create-etherstub [-t] [-R <root-dir>] <link>");
    };
    if let Err(m) = check_link_name(name) {
        return die(cx, &m);
    }
    if cx.st.links.contains_key(name) {
        return die(cx, "etherstub creation failed: object already exists");
    }
    cx.st.links.insert(
        name.clone(),
        Link {
            class: "etherstub".into(),
            over: String::new(),
            mac: random_mac(name),
            mac_type: String::new(),
            vid: 0,
            mtu: 9000,
            temporary: o.has('t'),
            zone: None,
            phys: None,
        },
    );
    cx.touch();
    0
}

fn create_vnic(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tR:l:m:n:r:v:p:H") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: create-vnic [-t] -l <link> [-m <value> | auto | {factory [-n <slot-id>]} | {random [-r <prefix>]}] [-v <vid>] [-p <prop>=<value>[,...]] <vnic-link>");
    };
    let Some(over) = o.val('l').map(String::from) else {
        return die(cx, "link is required");
    };
    if let Err(m) = check_link_name(name) {
        return die(cx, &m);
    }
    let mac = match o.val('m') {
        None | Some("auto" | "random" | "factory") => None,
        Some("fixed") => return die(cx, "'fixed' is not a valid MAC address"),
        Some(m) => match parse_mac(m) {
            Some(norm) => {
                let first =
                    u8::from_str_radix(norm.split(':').next().unwrap_or("0"), 16).unwrap_or(0);
                if first & 1 == 1 {
                    return die(
                        cx,
                        &format!("vnic creation over {over} failed: invalid MAC address"),
                    );
                }
                Some(norm)
            }
            None => return die(cx, "invalid MAC address"),
        },
    };
    let vid = match o.val('v') {
        None => 0,
        Some(v) => match v.parse::<u16>() {
            Ok(n) if (1..=4094).contains(&n) => n,
            _ => return die(cx, &format!("invalid VLAN identifier '{v}'")),
        },
    };
    let props = match vnic_props(&o.vals('p')) {
        Ok(p) => p,
        Err(VnicPropError::Syntax) => return die(cx, "invalid vnic property"),
        Err(VnicPropError::Unknown(k)) => return die(cx, &format!("invalid vnic property '{k}'")),
        Err(VnicPropError::Value) => {
            return die(
                cx,
                &format!("vnic creation over {over} failed: invalid argument"),
            )
        }
    };
    let mtu = props
        .get("mtu")
        .map_or(1500, |v| v.parse::<u32>().unwrap_or(1500));
    let Some(under) = cx.st.links.get(&over) else {
        return die(cx, &format!("invalid link name '{over}'"));
    };
    if under.class == "vnic" {
        return die(
            cx,
            &format!("vnic creation over {over} failed: invalid argument"),
        );
    }
    if mtu > under.mtu {
        return die(
            cx,
            &format!("vnic creation over {over} failed: invalid argument"),
        );
    }
    if cx.st.links.contains_key(name) {
        return die(
            cx,
            &format!("vnic creation over {over} failed: object already exists"),
        );
    }
    let link = new_vnic(&over, name, mac.as_deref(), vid, mtu, o.has('t'));
    cx.st.links.insert(name.clone(), link);
    let kept: BTreeMap<String, String> = props.into_iter().filter(|(k, _)| k != "mtu").collect();
    if !kept.is_empty() {
        cx.st.link_props.insert(name.clone(), kept);
    }
    cx.touch();
    0
}

/// What a `-p` list may be refused for.
#[derive(Debug, PartialEq)]
enum VnicPropError {
    /// A value before any `name=`, or an empty name.
    Syntax,
    Unknown(String),
    Value,
}

/// The properties dladm.8 gives a VNIC (with libdladm's `protection`), and `pool`.
const VNIC_PROPS: &[&str] = &[
    "maxbw",
    "priority",
    "cpus",
    "mtu",
    "allowed-ips",
    "protection",
    "pool",
];

/// `-p prop=value[,...]` as libdladm reads it: split on commas, and a token without `=` is one
/// more value of the property before it (`cpus=0,1,priority=low`). Each value is checked
/// against dladm.8's description of the property; the values come back comma-joined.
fn vnic_props(lists: &[&str]) -> Result<BTreeMap<String, String>, VnicPropError> {
    let mut props: Vec<(String, Vec<String>)> = Vec::new();
    for token in lists.iter().flat_map(|p| p.split(',')) {
        match token.split_once('=') {
            Some((k, v)) if !k.is_empty() => props.push((k.to_string(), vec![v.to_string()])),
            Some(_) => return Err(VnicPropError::Syntax),
            None => match props.last_mut() {
                Some((_, values)) => values.push(token.to_string()),
                None => return Err(VnicPropError::Syntax),
            },
        }
    }
    let mut out = BTreeMap::new();
    for (k, values) in props {
        if !VNIC_PROPS.contains(&k.as_str()) {
            return Err(VnicPropError::Unknown(k));
        }
        let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let ok = match (k.as_str(), values.as_slice()) {
            ("mtu", [v]) => v.parse::<u32>().is_ok_and(|n| (576..=9000).contains(&n)),
            ("maxbw", [v]) => {
                let d = v.trim_end_matches(['K', 'M', 'G', 'k', 'm', 'g']);
                digits(d) && v.len() - d.len() <= 1 && d.parse::<u64>().is_ok_and(|n| n > 0)
            }
            ("priority", [v]) => matches!(v.as_str(), "high" | "medium" | "low"),
            ("cpus", vs) => vs.iter().all(|v| digits(v.as_str())),
            ("allowed-ips", vs) => vs.iter().all(|v| {
                let (a, p) = v.split_once('/').unwrap_or((v.as_str(), "0"));
                let max = match a.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(_)) => 32,
                    Ok(std::net::IpAddr::V6(_)) => 128,
                    Err(_) => return false,
                };
                p.parse::<u8>().is_ok_and(|p| p <= max)
            }),
            ("protection", vs) => vs.iter().all(|v| {
                matches!(
                    v.as_str(),
                    "mac-nospoof" | "restricted" | "ip-nospoof" | "dhcp-nospoof"
                )
            }),
            ("pool", [v]) => !v.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(VnicPropError::Value);
        }
        out.insert(k, values.join(","));
    }
    Ok(out)
}

fn delete_link(cx: &mut Ctx, args: &[String], class: &str) -> i32 {
    let Ok(o) = opts(cx, args, "tR:") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(
            cx,
            &format!("usage: delete-{class} [-t] [-R <root-dir>] <link>"),
        );
    };
    let Some(link) = cx.st.links.get(name) else {
        return die(cx, &format!("invalid link name '{name}'"));
    };
    if link.class != class {
        return die(
            cx,
            &format!(
                "'{name}' is not a{} {class}",
                if class == "etherstub" { "n" } else { "" }
            ),
        );
    }
    let busy = link.zone.is_some()
        || cx.st.ifs.contains_key(name)
        || cx.st.links.values().any(|l| l.over == *name)
        || cx.st.zones.values().any(|z| z.ondemand.contains(name));
    if busy {
        return die(cx, "vnic deletion failed: link busy");
    }
    cx.st.links.remove(name);
    cx.st.link_props.remove(name);
    cx.touch();
    0
}

#[derive(Clone, Copy, PartialEq)]
enum View {
    Link,
    LinkStats,
    Vnic,
    Vlan,
    Etherstub,
    Phys,
    PhysMac,
    Ether,
}

const LINK_F: &[Field] = &[
    f("LINK", 12),
    f("CLASS", 10),
    f("MTU", 7),
    f("STATE", 9),
    f("BRIDGE", 11),
    f("OVER", 30),
];
const STATS_F: &[Field] = &[
    f("LINK", 12),
    f("IPACKETS", 10),
    f("RBYTES", 8),
    f("IERRORS", 10),
    f("OPACKETS", 12),
    f("OBYTES", 12),
    f("OERRORS", 8),
];
const VNIC_F: &[Field] = &[
    f("LINK", 12),
    f("OVER", 11),
    f("SPEED", 6),
    f("MACADDRESS", 18),
    f("MACADDRTYPE", 12),
    f("VID", 5),
    f("ZONE", 16),
];
const STUB_F: &[Field] = &[f("LINK", 12)];
const VLAN_F: &[Field] = &[f("LINK", 15), f("VID", 8), f("OVER", 12), f("FLAGS", 6)];
const PHYS_F: &[Field] = &[
    f("LINK", 12),
    f("MEDIA", 15),
    f("STATE", 11),
    f("SPEED", 7),
    f("DUPLEX", 10),
    f("DEVICE", 13),
];
const PHYSM_F: &[Field] = &[
    f("LINK", 13),
    f("SLOT", 9),
    f("ADDRESS", 19),
    f("INUSE", 6),
    f("CLIENT", 13),
];
const ETHER_F: &[Field] = &[
    f("LINK", 16),
    f("PTYPE", 9),
    f("STATE", 9),
    f("AUTO", 6),
    f("SPEED-DUPLEX", 13),
    f("PAUSE", 7),
];

fn link_state(st: &State, l: &Link) -> &'static str {
    match l.class.as_str() {
        "etherstub" => "unknown",
        "vnic" | "vlan" => match st.links.get(&l.over) {
            Some(u) if u.class == "etherstub" => "up",
            Some(u) => link_state(st, u),
            None => "unknown",
        },
        _ => "up",
    }
}

fn speed(st: &State, l: &Link) -> u64 {
    match (&l.phys, st.links.get(&l.over)) {
        (Some(p), _) => p.speed,
        (None, Some(u)) if u.class == "phys" => u.phys.as_ref().map_or(0, |p| p.speed),
        _ => 0,
    }
}

/// Traffic counters: static for the physical uplink, growing with uptime for links a
/// running zone holds, zero otherwise.
fn stats(cx: &Ctx, name: &str, l: &Link) -> [u64; 6] {
    if l.class == "phys" {
        return [482_113, 391_288_412, 0, 301_977, 58_732_190, 0];
    }
    let booted = l
        .zone
        .as_ref()
        .and_then(|z| cx.st.zones.get(z))
        .and_then(|z| z.booted_ms);
    match booted {
        Some(b) => {
            let s = timefmt::now_ms().saturating_sub(b) / 1000 + 1;
            let _ = name;
            [s * 3, s * 3 * 590, 0, s * 2, s * 2 * 410, 0]
        }
        None => [0; 6],
    }
}

fn row(cx: &Ctx, view: View, name: &str, l: &Link) -> Vec<String> {
    let st = &cx.st;
    match view {
        View::Link => vec![
            name.into(),
            l.class.clone(),
            l.mtu.to_string(),
            link_state(st, l).into(),
            super::dladm_bridge::bridge_of(st, name).unwrap_or_default(),
            if l.class == "vnic" || l.class == "vlan" {
                l.over.clone()
            } else {
                super::dladm_aggr::over(st, name)
                    .or_else(|| super::dladm_bridge::over(st, name))
                    .unwrap_or_default()
            },
        ],
        View::LinkStats => {
            let s = stats(cx, name, l);
            std::iter::once(name.to_string())
                .chain(s.iter().map(|n| n.to_string()))
                .collect()
        }
        View::Vnic => vec![
            name.into(),
            l.over.clone(),
            speed(st, l).to_string(),
            l.mac.clone(),
            l.mac_type.clone(),
            l.vid.to_string(),
            l.zone.clone().unwrap_or_else(|| "--".into()),
        ],
        View::Vlan => vec![
            name.into(),
            l.vid.to_string(),
            l.over.clone(),
            // dladm prints `f` first for a VLAN created with -f; this model does not keep it.
            "-----".into(),
        ],
        View::Etherstub => vec![name.into()],
        View::Phys => {
            let p = l.phys.clone().unwrap_or_else(|| crate::state::PhysInfo {
                media: "Ethernet".into(),
                speed: 0,
                duplex: "unknown".into(),
                device: name.into(),
            });
            vec![
                name.into(),
                p.media,
                link_state(st, l).into(),
                p.speed.to_string(),
                p.duplex,
                p.device,
            ]
        }
        View::PhysMac => vec![
            name.into(),
            "primary".into(),
            l.mac.clone(),
            "yes".into(),
            name.into(),
        ],
        View::Ether => vec![
            name.into(),
            "current".into(),
            "up".into(),
            "yes".into(),
            "1G-f".into(),
            "bi".into(),
        ],
    }
}

fn show(cx: &mut Ctx, args: &[String], view: View) -> i32 {
    let spec = match view {
        View::Phys => "mHPpo:",
        View::Vnic => "Ppo:sl:i:",
        View::Link => "Ppo:si:",
        _ => "Ppo:x",
    };
    let Ok(o) = opts(cx, args, spec) else {
        return 1;
    };
    let view = match view {
        View::Link if o.has('s') => View::LinkStats,
        View::Phys if o.has('m') => View::PhysMac,
        v => v,
    };
    let parsable = o.has('p');
    if parsable && o.val('o').is_none() {
        return die(cx, "-p requires -o");
    }
    if parsable && o.val('o').is_some_and(|v| v.eq_ignore_ascii_case("all")) {
        return die(cx, "\"-o all\" is invalid with -p");
    }
    let (fields, default): (&[Field], &[&str]) = match view {
        View::Link => (LINK_F, &["LINK", "CLASS", "MTU", "STATE", "BRIDGE", "OVER"]),
        View::LinkStats => (
            STATS_F,
            &[
                "LINK", "IPACKETS", "RBYTES", "IERRORS", "OPACKETS", "OBYTES", "OERRORS",
            ],
        ),
        View::Vnic => (
            VNIC_F,
            &["LINK", "OVER", "SPEED", "MACADDRESS", "MACADDRTYPE", "VID"],
        ),
        View::Etherstub => (STUB_F, &["LINK"]),
        View::Vlan => (VLAN_F, &["LINK", "VID", "OVER", "FLAGS"]),
        View::Phys => (
            PHYS_F,
            &["LINK", "MEDIA", "STATE", "SPEED", "DUPLEX", "DEVICE"],
        ),
        View::PhysMac => (PHYSM_F, &["LINK", "SLOT", "ADDRESS", "INUSE", "CLIENT"]),
        View::Ether => (
            ETHER_F,
            &["LINK", "PTYPE", "STATE", "AUTO", "SPEED-DUPLEX", "PAUSE"],
        ),
    };
    let idx = match ofmt::select(fields, o.val('o'), default) {
        Ok(i) => i,
        Err(_) => return die(cx, "invalid field(s) specified"),
    };
    let class_ok = |l: &Link| match view {
        View::Vnic => l.class == "vnic",
        View::Vlan => l.class == "vlan",
        View::Etherstub => l.class == "etherstub",
        View::Phys | View::PhysMac | View::Ether => l.class == "phys",
        _ => true,
    };
    let names: Vec<String> = match o.operands.first() {
        Some(n) => {
            let ok = cx.st.links.get(n).is_some_and(class_ok);
            if !ok {
                return match view {
                    View::Vnic | View::Etherstub => {
                        die(cx, &format!("invalid vnic name '{n}': object not found"))
                    }
                    _ => die(cx, &format!("link {n} is not valid: object not found")),
                };
            }
            vec![n.clone()]
        }
        None => cx
            .st
            .links
            .iter()
            .filter(|(_, l)| class_ok(l))
            .map(|(n, _)| n.clone())
            .collect(),
    };
    let over = o.val('l').filter(|_| view == View::Vnic).map(String::from);
    let mut rows = Vec::new();
    for n in &names {
        let l = &cx.st.links[n];
        if over.as_ref().is_some_and(|ov| *ov != l.over) {
            continue;
        }
        let full = row(cx, view, n, l);
        // Human output shows `--` where parsable output leaves a field empty.
        let shown = |v: &String| {
            if v.is_empty() && !parsable {
                "--".to_string()
            } else {
                v.clone()
            }
        };
        rows.push(idx.iter().map(|&i| shown(&full[i])).collect());
    }
    let text = ofmt::render(fields, &idx, &rows, parsable);
    cx.out(&text);
    0
}

fn set_linkprop(cx: &mut Ctx, args: &[String], reset: bool) -> i32 {
    let Ok(o) = opts(cx, args, "tR:p:") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "link name required");
    };
    if !cx.st.links.contains_key(name) {
        return die(cx, &format!("invalid link name '{name}'"));
    }
    let props: Vec<String> = o
        .vals('p')
        .iter()
        .flat_map(|p| p.split(','))
        .map(String::from)
        .collect();
    let props = if reset && props.is_empty() {
        vec!["mtu".to_string()]
    } else {
        props
    };
    for kv in props {
        let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
        match k {
            "mtu" => {
                let n = if reset {
                    if cx.st.links[name].class == "etherstub" {
                        9000
                    } else {
                        1500
                    }
                } else {
                    match v.parse::<u32>() {
                        Ok(n) if (576..=9000).contains(&n) => n,
                        _ => return die(cx, &format!("warning: cannot set link property '{k}' on '{name}': invalid argument")),
                    }
                };
                if let Some(l) = cx.st.links.get_mut(name) {
                    l.mtu = n;
                }
            }
            "zone" => {
                if !o.has('t') {
                    return die(cx, &format!("warning: cannot persistently set link property '{k}' on '{name}': change cannot be persistent, specify -t please"));
                }
                if let Some(l) = cx.st.links.get_mut(name) {
                    l.zone = if v.is_empty() || reset {
                        None
                    } else {
                        Some(v.to_string())
                    };
                }
            }
            "maxbw" | "priority" | "cpus" | "protection" | "allowed-ips" => {}
            _ => {
                return die(
                    cx,
                    &format!(
                    "warning: cannot set link property '{k}' on '{name}': link property not found"
                ),
                )
            }
        }
    }
    cx.touch();
    0
}

const PROP_F: &[Field] = &[
    f("LINK", 13),
    f("PROPERTY", 16),
    f("PERM", 5),
    f("VALUE", 15),
    f("DEFAULT", 15),
    f("POSSIBLE", 20),
];

fn show_linkprop(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "Pco:p:") else {
        return 1;
    };
    let parsable = o.has('c');
    if parsable && o.val('o').is_none() {
        return die(cx, "-c requires -o");
    }
    let idx = match ofmt::select(
        PROP_F,
        o.val('o'),
        &["LINK", "PROPERTY", "PERM", "VALUE", "DEFAULT", "POSSIBLE"],
    ) {
        Ok(i) => i,
        Err(_) => return die(cx, "invalid field(s) specified"),
    };
    let names: Vec<String> = match o.operands.first() {
        Some(n) if !cx.st.links.contains_key(n) => {
            return die(cx, &format!("link {n} is not valid: object not found"))
        }
        Some(n) => vec![n.clone()],
        None => cx.st.links.keys().cloned().collect(),
    };
    let wanted: Option<Vec<String>> = o.val('p').map(|p| p.split(',').map(String::from).collect());
    let mut rows = Vec::new();
    for n in names {
        let l = &cx.st.links[&n];
        let default_mtu = if l.class == "etherstub" {
            "9000"
        } else {
            "1500"
        };
        let stored = cx.st.link_props.get(&n);
        let prop = |name: &str, default: &str| {
            [
                name.to_string(),
                "rw".into(),
                stored
                    .and_then(|p| p.get(name))
                    .cloned()
                    .unwrap_or_else(|| "--".into()),
                default.into(),
                "--".into(),
            ]
        };
        let mut all = vec![
            [
                "mtu".to_string(),
                "rw".into(),
                l.mtu.to_string(),
                default_mtu.into(),
                "576-9000".into(),
            ],
            [
                "zone".into(),
                "rw".into(),
                l.zone.clone().unwrap_or_else(|| "--".into()),
                "--".into(),
                "--".into(),
            ],
        ];
        if l.class == "vnic" {
            all.extend([
                prop("maxbw", "--"),
                prop("priority", "high"),
                prop("cpus", "--"),
                prop("allowed-ips", "--"),
                prop("protection", "--"),
            ]);
        }
        if let Some(w) = &wanted {
            if let Some(bad) = w.iter().find(|p| !all.iter().any(|a| a[0] == **p)) {
                return die(
                    cx,
                    &format!("cannot get link property '{bad}' for {n}: link property not found"),
                );
            }
        }
        // In the order `-p` names them (dladm walks its list), else in the table's order.
        if let Some(w) = &wanted {
            all.sort_by_key(|a| w.iter().position(|p| *p == a[0]));
        }
        for a in all {
            if wanted.as_ref().is_some_and(|w| !w.contains(&a[0])) {
                continue;
            }
            let full = [
                n.clone(),
                a[0].clone(),
                a[1].clone(),
                a[2].clone(),
                a[3].clone(),
                a[4].clone(),
            ];
            rows.push(idx.iter().map(|&i| full[i].clone()).collect());
        }
    }
    let text = ofmt::render(PROP_F, &idx, &rows, parsable);
    cx.out(&text);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datalink_name_rules() {
        for ok in ["net0", "vm1net10", "stub_0", "a4294967294"] {
            assert!(check_link_name(ok).is_ok(), "{ok}");
        }
        for bad in ["net01", "vm-net0", "vnic", "0net0", "a4294967295"] {
            assert_eq!(
                check_link_name(bad).unwrap_err(),
                format!("invalid link name '{bad}'")
            );
        }
        let long = format!("a{}1", "b".repeat(30));
        assert_eq!(
            check_link_name(&long).unwrap_err(),
            format!("link name too long '{long}'")
        );
    }

    #[test]
    fn macs_print_unpadded() {
        assert_eq!(
            parse_mac("02:08:20:0A:0b:0c").as_deref(),
            Some("2:8:20:a:b:c")
        );
        assert_eq!(parse_mac("2:8:20:a:b"), None);
        assert!(random_mac("vnic0").starts_with("2:8:20:"));
    }
}
