//! `dladm create-bridge`, `delete-bridge`, `add-bridge`, `remove-bridge` and `show-bridge`
//! (default, `-l`, `-f`). The reference is silent on bridges: names, options, ranges, the STP
//! constraints and the output columns follow illumos-gate `usr/src/man/man8/dladm.8`; failure
//! texts use dladm's `die_dlerr` form as for aggregations (inferred). Each bridge has an
//! observability link `<bridge>0` of class `bridge` (dladm.8: "appending a zero to a bridge
//! name produces a valid link name"), and its members show the bridge in show-link's BRIDGE.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::ofmt::{self, f, Field};
use crate::state::{Link, State};

use super::dladm::{die, opts};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bridge {
    /// `stp` or `trill`.
    pub protect: String,
    pub priority: u32,
    pub max_age: u32,
    pub hello_time: u32,
    pub fwd_delay: u32,
    pub force_proto: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// Bridge names: letters, digits and `_`, a letter first and last, at most 31 characters;
/// `default` and `SUNW*` are reserved.
pub fn valid_name(name: &str) -> bool {
    let alpha = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
    (1..=31).contains(&name.len())
        && alpha(name.chars().next())
        && alpha(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "default"
        && !name.starts_with("SUNW")
}

fn number(
    cx: &mut Ctx,
    v: Option<&str>,
    what: &str,
    range: (u32, u32),
    dflt: u32,
) -> Result<u32, i32> {
    match v {
        None => Ok(dflt),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (range.0..=range.1).contains(&n) => Ok(n),
            _ => Err(die(cx, &format!("invalid {what} '{s}'"))),
        },
    }
}

/// Checks links to attach: each exists, is of a class a bridge takes (physical, aggregation,
/// etherstub), and is in no bridge nor otherwise claimed as a port.
fn check_links(cx: &mut Ctx, bridge: &str, links: &[String]) -> Result<(), i32> {
    for (i, l) in links.iter().enumerate() {
        let Some(link) = cx.st.links.get(l) else {
            return Err(die(cx, &format!("invalid link name '{l}'")));
        };
        if !["phys", "aggr", "etherstub"].contains(&link.class.as_str()) {
            return Err(die(
                cx,
                &format!("unable to add link {l} to bridge {bridge}: invalid argument"),
            ));
        }
        let taken = cx.st.bridges.values().any(|b| b.links.contains(l))
            || cx.st.aggrs.values().any(|a| a.ports.contains(l))
            || links[..i].contains(l);
        if taken {
            return Err(die(
                cx,
                &format!("unable to add link {l} to bridge {bridge}: link busy"),
            ));
        }
    }
    Ok(())
}

pub fn create(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "R:P:p:m:h:d:f:l:") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: create-bridge [-R <root-dir>] [-P <protect>] [-p <priority>] [-m <max-age>] [-h <hello-time>] [-d <forward-delay>] [-f <force-protocol>] [-l <link>]... <bridge>");
    };
    if !valid_name(name) {
        return die(cx, &format!("invalid bridge name '{name}'"));
    }
    let protect = o.val('P').unwrap_or("stp").to_owned();
    if protect != "stp" && protect != "trill" {
        return die(cx, &format!("invalid protection method '{protect}'"));
    }
    let parsed = (|| {
        Ok::<_, i32>((
            number(cx, o.val('p'), "priority", (0, 61440), 32768)?,
            number(cx, o.val('m'), "max age", (6, 40), 20)?,
            number(cx, o.val('h'), "hello time", (1, 10), 2)?,
            number(cx, o.val('d'), "forward delay", (4, 30), 15)?,
            number(cx, o.val('f'), "force protocol", (0, u32::MAX), 3)?,
        ))
    })();
    let (priority, max_age, hello_time, fwd_delay, force_proto) = match parsed {
        Ok(v) => v,
        Err(code) => return code,
    };
    // dladm.8: 2 * (forward-delay - 1) >= max-age and max-age >= 2 * (hello-time + 1); the
    // diagnostic names the valid alternatives.
    if 2 * (fwd_delay - 1) < max_age {
        return die(
            cx,
            &format!(
                "forward delay {fwd_delay} is too short for max age {max_age}: use a forward delay of at least {} or a max age of at most {}",
                max_age.div_ceil(2) + 1,
                2 * (fwd_delay - 1)
            ),
        );
    }
    if max_age < 2 * (hello_time + 1) {
        return die(
            cx,
            &format!(
                "max age {max_age} is too short for hello time {hello_time}: use a max age of at least {} or a hello time of at most {}",
                2 * (hello_time + 1),
                max_age / 2 - 1
            ),
        );
    }
    let links: Vec<String> = o.vals('l').into_iter().map(String::from).collect();
    let obs = format!("{name}0");
    if cx.st.bridges.contains_key(name) || cx.st.links.contains_key(&obs) {
        return die(cx, "create operation failed: object already exists");
    }
    if let Err(code) = check_links(cx, name, &links) {
        return code;
    }
    let mtu = links.first().map_or(1500, |l| cx.st.links[l].mtu);
    cx.st.links.insert(
        obs,
        Link {
            class: "bridge".into(),
            over: String::new(),
            mac: String::new(),
            mac_type: String::new(),
            vid: 0,
            mtu,
            temporary: false,
            zone: None,
            phys: None,
        },
    );
    cx.st.bridges.insert(
        name.clone(),
        Bridge {
            protect,
            // Values between the steps of 4096 are rounded down, silently (dladm.8).
            priority: priority / 4096 * 4096,
            max_age,
            hello_time,
            fwd_delay,
            force_proto,
            links,
        },
    );
    cx.touch();
    0
}

fn existing(cx: &mut Ctx, name: &str, action: &str) -> Result<(), i32> {
    if cx.st.bridges.contains_key(name) {
        Ok(())
    } else {
        Err(die(
            cx,
            &format!("{action} operation failed: object not found"),
        ))
    }
}

pub fn delete(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "R:") else {
        return 1;
    };
    let [name] = o.operands.as_slice() else {
        return die(cx, "usage: delete-bridge [-R <root-dir>] <bridge>");
    };
    if let Err(code) = existing(cx, name, "delete") {
        return code;
    }
    // dladm.8: the bridge being deleted must not have any attached links.
    if !cx.st.bridges[name].links.is_empty() {
        return die(cx, "delete operation failed: link busy");
    }
    cx.st.bridges.remove(name);
    cx.st.links.remove(&format!("{name}0"));
    cx.touch();
    0
}

/// `add-bridge` (`add`) and `remove-bridge`: all the `-l` links or none (dladm.8).
pub fn change_links(cx: &mut Ctx, args: &[String], add: bool) -> i32 {
    let sub = if add { "add-bridge" } else { "remove-bridge" };
    let Ok(o) = opts(cx, args, "R:l:") else {
        return 1;
    };
    let links: Vec<String> = o.vals('l').into_iter().map(String::from).collect();
    let ([name], false) = (o.operands.as_slice(), links.is_empty()) else {
        return die(
            cx,
            &format!("usage: {sub} [-R <root-dir>] -l <link> [-l <link>]... <bridge>"),
        );
    };
    if let Err(code) = existing(cx, name, if add { "add" } else { "remove" }) {
        return code;
    }
    if add {
        if let Err(code) = check_links(cx, name, &links) {
            return code;
        }
        if let Some(b) = cx.st.bridges.get_mut(name) {
            b.links.extend(links);
        }
    } else {
        let current = cx.st.bridges[name].links.clone();
        if let Some(l) = links.iter().find(|l| !current.contains(l)) {
            return die(
                cx,
                &format!("unable to remove link {l} from bridge {name}: object not found"),
            );
        }
        if let Some(b) = cx.st.bridges.get_mut(name) {
            b.links.retain(|l| !links.contains(l));
        }
    }
    cx.touch();
    0
}

const BRIDGE_F: &[Field] = &[
    f("BRIDGE", 12),
    f("ADDRESS", 18),
    f("PRIORITY", 9),
    f("BMAXAGE", 8),
    f("BHELLOTIME", 11),
    f("BFWDDELAY", 10),
    f("FORCEPROTO", 11),
    f("TCTIME", 7),
    f("TCCOUNT", 8),
    f("TCHANGE", 8),
    f("DESROOT", 24),
    f("ROOTCOST", 9),
    f("ROOTPORT", 9),
    f("MAXAGE", 7),
    f("HELLOTIME", 10),
    f("FWDDELAY", 9),
    f("HOLDTIME", 9),
];
const LINK_F: &[Field] = &[
    f("LINK", 12),
    f("INDEX", 6),
    f("STATE", 11),
    f("UPTIME", 7),
    f("OPERCOST", 9),
    f("OPERP2P", 8),
    f("OPEREDGE", 9),
    f("DESROOT", 24),
    f("DESCOST", 8),
    f("DESBRIDGE", 24),
    f("DESPORT", 8),
    f("TCACK", 6),
];
const FWD_F: &[Field] = &[f("DEST", 18), f("AGE", 8), f("FLAGS", 6), f("OUTPUT", 12)];

/// The Bridge Unique Identifier: the address of its first attached link, or a fixed
/// locally administered one while it has none.
fn address(st: &State, b: &Bridge) -> String {
    b.links
        .first()
        .and_then(|l| st.links.get(l))
        .map_or_else(|| "2:0:0:0:0:1".to_owned(), |l| l.mac.clone())
}

/// The emulated bridge is alone on its wire, so it is its own root.
fn bridge_id(st: &State, b: &Bridge) -> String {
    format!("{}/{}", b.priority, address(st, b))
}

fn bridge_row(st: &State, name: &str, b: &Bridge) -> Vec<String> {
    let n = |v: u32| v.to_string();
    vec![
        name.to_owned(),
        address(st, b),
        n(b.priority),
        n(b.max_age),
        n(b.hello_time),
        n(b.fwd_delay),
        n(b.force_proto),
        "0".into(),
        "0".into(),
        "no".into(),
        bridge_id(st, b),
        "0".into(),
        "0".into(),
        n(b.max_age),
        n(b.hello_time),
        n(b.fwd_delay),
        "1".into(),
    ]
}

fn link_rows(st: &State, b: &Bridge) -> Vec<Vec<String>> {
    let id = bridge_id(st, b);
    b.links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            vec![
                l.clone(),
                (i + 1).to_string(),
                "forwarding".into(),
                "0".into(),
                "20000".into(),
                "yes".into(),
                "no".into(),
                id.clone(),
                "0".into(),
                id.clone(),
                format!("{:x}", 0x8000 + i + 1),
                "no".into(),
            ]
        })
        .collect()
}

/// Local entries only: the address of every attached link (and of VNICs over them).
fn fwd_rows(st: &State, b: &Bridge) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for l in &b.links {
        let macs = st.links.get(l).into_iter().map(|x| x.mac.clone()).chain(
            st.links
                .values()
                .filter(|v| v.over == *l && v.class == "vnic")
                .map(|v| v.mac.clone()),
        );
        for mac in macs {
            out.push(vec![mac, String::new(), "L".into(), l.clone()]);
        }
    }
    out
}

pub fn show(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "flpo:") else {
        return 1;
    };
    let parsable = o.has('p');
    if o.has('l') && o.has('f') {
        return die(cx, "the options -l and -f cannot be used together");
    }
    let (fields, default): (&[Field], &[&str]) = if o.has('l') {
        (LINK_F, &["LINK", "STATE", "UPTIME", "DESROOT"])
    } else if o.has('f') {
        (FWD_F, &["DEST", "AGE", "FLAGS", "OUTPUT"])
    } else {
        (BRIDGE_F, &["BRIDGE", "ADDRESS", "PRIORITY", "DESROOT"])
    };
    let Ok(idx) = ofmt::select(fields, o.val('o'), default) else {
        return die(cx, "invalid field(s) specified");
    };
    let name = o.operands.first().cloned();
    if let Some(n) = &name {
        if !cx.st.bridges.contains_key(n) {
            return die(cx, &format!("bridge {n} is not valid: object not found"));
        }
    } else if o.has('l') || o.has('f') {
        return die(cx, "bridge name required for -l and -f");
    }
    let st = &cx.st;
    let full: Vec<Vec<String>> = match &name {
        Some(n) if o.has('l') => link_rows(st, &st.bridges[n]),
        Some(n) if o.has('f') => fwd_rows(st, &st.bridges[n]),
        Some(n) => vec![bridge_row(st, n, &st.bridges[n])],
        None => st
            .bridges
            .iter()
            .map(|(n, b)| bridge_row(st, n, b))
            .collect(),
    };
    let rows: Vec<Vec<String>> = full
        .iter()
        .map(|r| {
            idx.iter()
                .map(|&i| match &r[i] {
                    v if v.is_empty() && !parsable => "--".to_owned(),
                    v => v.clone(),
                })
                .collect()
        })
        .collect();
    let text = ofmt::render(fields, &idx, &rows, parsable);
    cx.out(&text);
    0
}

/// show-link's BRIDGE for a link attached to one.
pub fn bridge_of(st: &State, link: &str) -> Option<String> {
    st.bridges
        .iter()
        .find(|(_, b)| b.links.iter().any(|l| l == link))
        .map(|(n, _)| n.clone())
}

/// show-link's OVER for a bridge's observability link: its attached links.
pub fn over(st: &State, link: &str) -> Option<String> {
    let name = link.strip_suffix('0')?;
    st.bridges
        .get(name)
        .filter(|_| st.links.get(link).is_some_and(|l| l.class == "bridge"))
        .map(|b| b.links.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names_start_and_end_with_a_letter() {
        for ok in ["br", "lab_bridge", "b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["br0", "0br", "default", "SUNWbr", "b-r", &"b".repeat(32)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
