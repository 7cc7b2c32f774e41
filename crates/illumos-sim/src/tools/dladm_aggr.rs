//! `dladm create-aggr`, `delete-aggr`, `add-aggr`, `remove-aggr` and `show-aggr` (default,
//! `-x`, `-L`, `-P`). The reference is silent on aggregations: syntax, defaults and output
//! columns follow illumos-gate `usr/src/man/man8/dladm.8`; failures use dladm's `die_dlerr`
//! form (`<action> failed: <status>`) as for VLANs, the status per case inferred from the
//! kernel's rules (a port must be a physical link the system is not otherwise using).

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::ofmt::{self, f, Field};
use crate::state::{Link, State};

use super::dladm::{check_link_name, die, opts, parse_mac};

/// One aggregation's configuration (its link, class `aggr`, is in `State::links`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggr {
    pub ports: Vec<String>,
    /// As dladm prints it: layers in order, comma-separated (`L4`, `L2,L3`).
    pub policy: String,
    pub lacp_mode: String,
    pub lacp_timer: String,
    /// `-u`: the fixed unicast address; `None` means ADDRPOLICY `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
}

/// `-P`: one or more of L2, L3, L4 separated by commas (any case), printed in layer order.
fn parse_policy(s: &str) -> Option<String> {
    let mut layers = [false; 3];
    for part in s.split(',') {
        let i = match part.to_ascii_uppercase().as_str() {
            "L2" => 0,
            "L3" => 1,
            "L4" => 2,
            _ => return None,
        };
        layers[i] = true;
    }
    let names: Vec<&str> = ["L2", "L3", "L4"]
        .iter()
        .zip(layers)
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    Some(names.join(","))
}

/// Why `name` cannot become a port (or a bridge member): the name of the status dladm prints.
/// A link is busy when anything else holds it: an aggregation, a VNIC or VLAN over it, an IP
/// interface, a bridge or a running zone.
pub fn busy(st: &State, name: &str) -> bool {
    let l = &st.links[name];
    l.zone.is_some()
        || st.ifs.contains_key(name)
        || st.links.values().any(|o| o.over == name)
        || st.aggrs.values().any(|a| a.ports.iter().any(|p| p == name))
        || st
            .bridges
            .values()
            .any(|b| b.links.iter().any(|p| p == name))
}

/// Checks the `-l` ports of create-aggr and add-aggr: each exists, is physical and free.
fn check_ports(cx: &mut Ctx, ports: &[String], action: &str) -> Result<(), i32> {
    for (i, p) in ports.iter().enumerate() {
        let Some(l) = cx.st.links.get(p) else {
            return Err(die(cx, &format!("invalid link name '{p}'")));
        };
        if l.class != "phys" {
            return Err(die(
                cx,
                &format!("{action} operation failed: invalid argument"),
            ));
        }
        if busy(&cx.st, p) || ports[..i].contains(p) {
            return Err(die(cx, &format!("{action} operation failed: link busy")));
        }
    }
    Ok(())
}

fn ports_of(o: &crate::getopt::Opts) -> Vec<String> {
    o.vals('l')
        .into_iter()
        .chain(o.vals('d'))
        .map(String::from)
        .collect()
}

/// An operand is the aggregation's link name, or (for backward compatibility) a bare key `N`
/// that names `aggrN`.
fn aggr_name(operand: &str) -> String {
    if !operand.is_empty() && operand.bytes().all(|b| b.is_ascii_digit()) {
        format!("aggr{operand}")
    } else {
        operand.to_owned()
    }
}

pub fn create(cx: &mut Ctx, args: &[String]) -> i32 {
    const USAGE: &str = "usage: create-aggr [-t] [-R <root-dir>] [-P <policy>] [-L <mode>] [-T <time>] [-u <address>] -l <link> [-l <link>...] <link>";
    let Ok(o) = opts(cx, args, "tfR:P:L:T:u:l:d:") else {
        return 1;
    };
    let ports = ports_of(&o);
    let [operand] = o.operands.as_slice() else {
        return die(cx, USAGE);
    };
    if ports.is_empty() {
        return die(cx, USAGE);
    }
    let name = aggr_name(operand);
    let policy = match o.val('P') {
        None => "L4".to_owned(),
        Some(p) => match parse_policy(p) {
            Some(p) => p,
            None => return die(cx, &format!("invalid policy '{p}'")),
        },
    };
    let lacp_mode = o.val('L').unwrap_or("off").to_owned();
    if !["off", "active", "passive"].contains(&lacp_mode.as_str()) {
        return die(cx, &format!("invalid LACP mode '{lacp_mode}'"));
    }
    let lacp_timer = o.val('T').unwrap_or("short").to_owned();
    if !["short", "long"].contains(&lacp_timer.as_str()) {
        return die(cx, &format!("invalid LACP timer value '{lacp_timer}'"));
    }
    let unicast = match o.val('u') {
        None => None,
        Some(u) => match parse_mac(u).filter(|m| unicast_ok(m)) {
            Some(m) => Some(m),
            None => return die(cx, &format!("invalid MAC address '{u}'")),
        },
    };
    if let Err(m) = check_link_name(&name) {
        return die(cx, &m);
    }
    if let Err(code) = check_ports(cx, &ports, "create") {
        return code;
    }
    if cx.st.links.contains_key(&name) {
        return die(cx, "create operation failed: object already exists");
    }
    let first = cx.st.links[&ports[0]].clone();
    let aggr = Aggr {
        ports,
        policy,
        lacp_mode,
        lacp_timer,
        unicast: unicast.clone(),
        forced: o.has('f'),
        temporary: o.has('t'),
    };
    cx.st.links.insert(
        name.clone(),
        Link {
            class: "aggr".into(),
            over: String::new(),
            mac: unicast.unwrap_or(first.mac),
            mac_type: String::new(),
            vid: 0,
            mtu: first.mtu,
            temporary: aggr.temporary,
            zone: None,
            phys: None,
        },
    );
    cx.st.aggrs.insert(name, aggr);
    cx.touch();
    0
}

/// A unicast address: the group bit of the first octet clear, not all zeros.
fn unicast_ok(mac: &str) -> bool {
    let first = u8::from_str_radix(mac.split(':').next().unwrap_or("1"), 16).unwrap_or(1);
    first & 1 == 0 && mac.split(':').any(|o| o != "0")
}

/// The named aggregation, or the exit code of the failure dladm prints for `action`.
fn existing(cx: &mut Ctx, operand: &str, action: &str) -> Result<String, i32> {
    let name = aggr_name(operand);
    match cx.st.links.get(&name) {
        None => Err(die(
            cx,
            &format!("{action} operation failed: object not found"),
        )),
        Some(l) if l.class != "aggr" => Err(die(
            cx,
            &format!("{action} operation failed: invalid argument"),
        )),
        Some(_) => Ok(name),
    }
}

pub fn delete(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "tR:") else {
        return 1;
    };
    let [operand] = o.operands.as_slice() else {
        return die(cx, "usage: delete-aggr [-t] [-R <root-dir>] <link>");
    };
    let name = match existing(cx, operand, "delete") {
        Ok(n) => n,
        Err(code) => return code,
    };
    if busy(&cx.st, &name) {
        return die(cx, "delete operation failed: link busy");
    }
    cx.st.links.remove(&name);
    cx.st.aggrs.remove(&name);
    cx.touch();
    0
}

/// `add-aggr` (`add`) and `remove-aggr` (`!add`): all the `-l` ports or none.
pub fn change_ports(cx: &mut Ctx, args: &[String], add: bool) -> i32 {
    let (sub, action) = if add {
        ("add-aggr", "add")
    } else {
        ("remove-aggr", "remove")
    };
    let Ok(o) = opts(cx, args, "tR:l:d:") else {
        return 1;
    };
    let ports = ports_of(&o);
    let ([operand], false) = (o.operands.as_slice(), ports.is_empty()) else {
        return die(
            cx,
            &format!("usage: {sub} [-t] [-R <root-dir>] -l <link> [-l <link>...] <link>"),
        );
    };
    let name = match existing(cx, operand, action) {
        Ok(n) => n,
        Err(code) => return code,
    };
    if add {
        if let Err(code) = check_ports(cx, &ports, action) {
            return code;
        }
        if let Some(a) = cx.st.aggrs.get_mut(&name) {
            a.ports.extend(ports);
        }
    } else {
        let current = cx.st.aggrs[&name].ports.clone();
        if let Some(p) = ports.iter().find(|p| !current.contains(p)) {
            let msg = if cx.st.links.contains_key(p) {
                "remove operation failed: object not found".to_owned()
            } else {
                format!("invalid link name '{p}'")
            };
            return die(cx, &msg);
        }
        // An aggregation keeps at least one port.
        if current.iter().all(|p| ports.contains(p)) {
            return die(cx, "remove operation failed: invalid argument");
        }
        if let Some(a) = cx.st.aggrs.get_mut(&name) {
            a.ports.retain(|p| !ports.contains(p));
        }
    }
    cx.touch();
    0
}

const AGGR_F: &[Field] = &[
    f("LINK", 15),
    f("POLICY", 8),
    f("ADDRPOLICY", 12),
    f("LACPACTIVITY", 13),
    f("LACPTIMER", 11),
    f("FLAGS", 7),
];
const XAGGR_F: &[Field] = &[
    f("LINK", 11),
    f("PORT", 14),
    f("SPEED", 6),
    f("DUPLEX", 9),
    f("STATE", 9),
    f("ADDRESS", 18),
    f("PORTSTATE", 15),
];
const LACP_F: &[Field] = &[
    f("LINK", 11),
    f("PORT", 13),
    f("AGGREGATABLE", 13),
    f("SYNC", 5),
    f("COLL", 5),
    f("DIST", 5),
    f("DEFAULTED", 10),
    f("EXPIRED", 8),
];

fn port_speed(st: &State, p: &str) -> u64 {
    st.links
        .get(p)
        .and_then(|l| l.phys.as_ref())
        .map_or(0, |ph| ph.speed)
}

/// The rows one aggregation contributes to the chosen view (`parsable`: every row names its
/// aggregation; the human table leaves LINK blank on port rows, as `--`-free continuation).
fn rows(st: &State, name: &str, a: &Aggr, view: char, parsable: bool) -> Vec<Vec<String>> {
    let link = &st.links[name];
    let cont = |n: &str| {
        if parsable {
            n.to_owned()
        } else {
            String::new()
        }
    };
    match view {
        'x' => {
            let total: u64 = a.ports.iter().map(|p| port_speed(st, p)).sum();
            let mut out = vec![vec![
                name.to_owned(),
                String::new(),
                format!("{total}Mb"),
                "full".into(),
                "up".into(),
                link.mac.clone(),
                String::new(),
            ]];
            for p in &a.ports {
                let pl = &st.links[p];
                out.push(vec![
                    cont(name),
                    p.clone(),
                    format!("{}Mb", port_speed(st, p)),
                    pl.phys
                        .as_ref()
                        .map_or("unknown".into(), |ph| ph.duplex.clone()),
                    "up".into(),
                    pl.mac.clone(),
                    "attached".into(),
                ]);
            }
            out
        }
        'L' => a
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // No LACP partner answers on the emulated wire: with LACP on, a port runs on
                // defaulted partner information; with it off, LACP state is all clear.
                let lacp = a.lacp_mode != "off";
                let yn = |b: bool| if b { "yes" } else { "no" }.to_owned();
                vec![
                    if i == 0 { name.to_owned() } else { cont(name) },
                    p.clone(),
                    "yes".into(),
                    yn(false),
                    yn(false),
                    yn(false),
                    yn(lacp),
                    yn(false),
                ]
            })
            .collect(),
        _ => vec![vec![
            name.to_owned(),
            a.policy.clone(),
            if a.unicast.is_some() { "fixed" } else { "auto" }.into(),
            a.lacp_mode.clone(),
            a.lacp_timer.clone(),
            format!("{}----", if a.forced { 'f' } else { '-' }),
        ]],
    }
}

pub fn show(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "PLxpo:") else {
        return 1;
    };
    let parsable = o.has('p');
    if parsable && o.val('o').is_none() {
        return die(cx, "-p requires -o");
    }
    if parsable && o.val('o').is_some_and(|v| v.eq_ignore_ascii_case("all")) {
        return die(cx, "\"-o all\" is invalid with -p");
    }
    if o.has('x') && o.has('L') {
        return die(cx, "the option -x cannot be used with -L");
    }
    let (view, fields, default): (char, &[Field], &[&str]) = if o.has('x') {
        (
            'x',
            XAGGR_F,
            &[
                "LINK",
                "PORT",
                "SPEED",
                "DUPLEX",
                "STATE",
                "ADDRESS",
                "PORTSTATE",
            ],
        )
    } else if o.has('L') {
        (
            'L',
            LACP_F,
            &[
                "LINK",
                "PORT",
                "AGGREGATABLE",
                "SYNC",
                "COLL",
                "DIST",
                "DEFAULTED",
                "EXPIRED",
            ],
        )
    } else {
        (
            'd',
            AGGR_F,
            &[
                "LINK",
                "POLICY",
                "ADDRPOLICY",
                "LACPACTIVITY",
                "LACPTIMER",
                "FLAGS",
            ],
        )
    };
    let Ok(idx) = ofmt::select(fields, o.val('o'), default) else {
        return die(cx, "invalid field(s) specified");
    };
    let names: Vec<String> = match o.operands.first() {
        Some(n) => {
            let name = aggr_name(n);
            if !cx.st.aggrs.contains_key(&name) {
                return die(cx, &format!("link {n} is not valid: object not found"));
            }
            vec![name]
        }
        None => cx.st.aggrs.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for n in &names {
        let a = &cx.st.aggrs[n];
        // -P: the persistent configuration, which a temporary aggregation is not part of.
        if o.has('P') && a.temporary {
            continue;
        }
        for full in rows(&cx.st, n, a, view, parsable) {
            out.push(
                idx.iter()
                    .map(|&i| match &full[i] {
                        v if v.is_empty() && !parsable && !(i == 0 && view != 'd') => "--".into(),
                        v => v.clone(),
                    })
                    .collect(),
            );
        }
    }
    let text = ofmt::render(fields, &idx, &out, parsable);
    cx.out(&text);
    0
}

/// show-link's OVER of an aggregation: its ports, space-separated.
pub fn over(st: &State, name: &str) -> Option<String> {
    st.aggrs.get(name).map(|a| a.ports.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_print_in_layer_order() {
        assert_eq!(parse_policy("L4").as_deref(), Some("L4"));
        assert_eq!(parse_policy("l3,L2").as_deref(), Some("L2,L3"));
        assert_eq!(parse_policy("L2,L3,L4").as_deref(), Some("L2,L3,L4"));
        assert_eq!(parse_policy("L2L3"), None);
        assert_eq!(parse_policy("L5"), None);
    }

    #[test]
    fn a_bare_key_names_aggr_n() {
        assert_eq!(aggr_name("1"), "aggr1");
        assert_eq!(aggr_name("bond0"), "bond0");
    }

    #[test]
    fn group_addresses_are_not_unicast() {
        assert!(unicast_ok("2:8:20:a:b:c"));
        assert!(!unicast_ok("1:0:5e:0:0:1"));
        assert!(!unicast_ok("0:0:0:0:0:0"));
    }
}
