//! Link aggregations: `dladm create-aggr`, `delete-aggr`, `add-aggr`, `remove-aggr` and
//! `show-aggr` (default, `-x`, `-L`). The reference is silent on them: syntax, defaults and
//! columns from illumos-gate `usr/src/man/man8/dladm.8`. Failures are `die_dlerr` texts
//! (`<action> operation failed: <status>`), classified like the VLAN ones.

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::{InvalidValue, LinkName, UnicastMac};
use crate::parsable::{field_arg, optional, parse_records, ParseError, Record};
use crate::persistence::Persistence;
use crate::runner::Runner;

use super::vlan::INVALID_ARGUMENT;
use super::{
    classify, invalid_link_name, show, LinkFailure, ShowError, LINK_BUSY, OBJECT_EXISTS,
    OBJECT_NOT_FOUND,
};

pub const AGGR_FIELDS: &[&str] = &[
    "LINK",
    "POLICY",
    "ADDRPOLICY",
    "LACPACTIVITY",
    "LACPTIMER",
    "FLAGS",
];
pub const XAGGR_FIELDS: &[&str] = &[
    "LINK",
    "PORT",
    "SPEED",
    "DUPLEX",
    "STATE",
    "ADDRESS",
    "PORTSTATE",
];
pub const LACP_FIELDS: &[&str] = &[
    "LINK",
    "PORT",
    "AGGREGATABLE",
    "SYNC",
    "COLL",
    "DIST",
    "DEFAULTED",
    "EXPIRED",
];

/// `-P`: the port selection policy, a non-empty set of the layers L2, L3 and L4. dladm takes
/// them comma-separated and prints them in layer order (`L2,L3`); the Node original and its UI
/// write them run together (`L2L3`), which is read here too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AggrPolicy {
    l2: bool,
    l3: bool,
    l4: bool,
}

impl Default for AggrPolicy {
    /// dladm.8: "policy L4 is the default".
    fn default() -> Self {
        AggrPolicy {
            l2: false,
            l3: false,
            l4: true,
        }
    }
}

impl FromStr for AggrPolicy {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| InvalidValue::new("aggregation policy", s, reason);
        let mut p = AggrPolicy {
            l2: false,
            l3: false,
            l4: false,
        };
        let upper = s.to_ascii_uppercase();
        let mut rest = upper.as_str();
        while !rest.is_empty() {
            rest = rest.strip_prefix(',').unwrap_or(rest);
            let layer = match rest.get(..2) {
                Some("L2") => &mut p.l2,
                Some("L3") => &mut p.l3,
                Some("L4") => &mut p.l4,
                _ => return Err(bad("must be layers L2, L3 and/or L4 (L4, L2,L3 or L2L3)")),
            };
            if *layer {
                return Err(bad("names a layer twice"));
            }
            *layer = true;
            rest = &rest[2..];
        }
        if p == (AggrPolicy {
            l2: false,
            l3: false,
            l4: false,
        }) {
            return Err(bad("names no layer"));
        }
        Ok(p)
    }
}

impl fmt::Display for AggrPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<&str> = [(self.l2, "L2"), (self.l3, "L3"), (self.l4, "L4")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&layers.join(","))
    }
}

/// `-L`: whether LACP runs, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum LacpMode {
    #[default]
    Off,
    Active,
    Passive,
}

/// `-T`: the LACP timer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum LacpTimer {
    #[default]
    Short,
    Long,
}

impl LacpMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            LacpMode::Off => "off",
            LacpMode::Active => "active",
            LacpMode::Passive => "passive",
        }
    }
}

impl FromStr for LacpMode {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LacpMode::Off),
            "active" => Ok(LacpMode::Active),
            "passive" => Ok(LacpMode::Passive),
            _ => Err(InvalidValue::new(
                "LACP mode",
                s,
                "must be off, active or passive",
            )),
        }
    }
}

impl LacpTimer {
    pub fn as_str(&self) -> &'static str {
        match self {
            LacpTimer::Short => "short",
            LacpTimer::Long => "long",
        }
    }
}

impl FromStr for LacpTimer {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "short" => Ok(LacpTimer::Short),
            "long" => Ok(LacpTimer::Long),
            _ => Err(InvalidValue::new("LACP timer", s, "must be short or long")),
        }
    }
}

/// What `create-aggr` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAggr {
    pub name: LinkName,
    pub ports: Vec<LinkName>,
    pub policy: AggrPolicy,
    pub lacp_mode: LacpMode,
    pub lacp_timer: LacpTimer,
    /// `-u`: a fixed unicast address; `None`: chosen from the ports' (ADDRPOLICY `auto`).
    pub unicast: Option<UnicastMac>,
    pub persistence: Persistence,
}

/// One line of `show-aggr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggr {
    pub link: LinkName,
    /// As printed (`L4`, `L2,L3`).
    pub policy: String,
    /// `auto` or `fixed`.
    pub address_policy: String,
    pub lacp_activity: String,
    pub lacp_timer: String,
    pub flags: String,
}

/// One line of `show-aggr -x`: the aggregation itself (`port` empty) or one of its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggrPort {
    pub link: LinkName,
    pub port: Option<LinkName>,
    /// Megabits per second (dladm prints `1000Mb`).
    pub speed: Option<u64>,
    pub duplex: String,
    pub state: String,
    pub address: Option<String>,
    /// `attached` or `standby`; empty on the aggregation's own line.
    pub port_state: Option<String>,
}

/// One line of `show-aggr -L`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LacpPort {
    pub link: LinkName,
    pub port: LinkName,
    pub aggregatable: bool,
    pub sync: bool,
    pub coll: bool,
    pub dist: bool,
    pub defaulted: bool,
    pub expired: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} aggregation {name}")]
pub struct AggrError {
    pub action: &'static str,
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

fn port_args(ports: &[LinkName]) -> Vec<&str> {
    ports.iter().flat_map(|p| ["-l", p.as_str()]).collect()
}

pub fn create_aggr_cmd(spec: &CreateAggr) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("create-aggr")
        .args(spec.persistence.flag())
        .arg("-P")
        .arg(spec.policy.to_string())
        .args([
            "-L",
            spec.lacp_mode.as_str(),
            "-T",
            spec.lacp_timer.as_str(),
        ])
        .args(
            spec.unicast
                .iter()
                .flat_map(|u| ["-u".to_owned(), u.to_string()]),
        )
        .args(port_args(&spec.ports))
        .arg(spec.name.as_str())
}

pub fn delete_aggr_cmd(name: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("delete-aggr")
        .args(persistence.flag())
        .arg(name.as_str())
}

/// `add-aggr` (`add`) or `remove-aggr`.
pub fn change_ports_cmd(
    name: &LinkName,
    ports: &[LinkName],
    add: bool,
    persistence: Persistence,
) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg(if add { "add-aggr" } else { "remove-aggr" })
        .args(persistence.flag())
        .args(port_args(ports))
        .arg(name.as_str())
}

/// `show-aggr` in one of its forms: `None` (configuration), `Some('x')` or `Some('L')`.
fn show_cmd(form: Option<&str>, fields: &[&str], name: Option<&LinkName>) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("show-aggr")
        .args(form)
        .args(["-p", "-o"])
        .arg(field_arg(fields))
        .args(name.map(LinkName::as_str))
}

pub fn show_aggr_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd(None, AGGR_FIELDS, name)
}

pub fn show_aggr_ports_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd(Some("-x"), XAGGR_FIELDS, name)
}

pub fn show_aggr_lacp_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd(Some("-L"), LACP_FIELDS, name)
}

fn parse_aggr(r: &Record<'_>) -> Result<Aggr, ParseError> {
    let text = |f: &str| r.require(f).map(str::to_owned);
    Ok(Aggr {
        link: r.parse("LINK")?,
        policy: text("POLICY")?,
        address_policy: text("ADDRPOLICY")?,
        lacp_activity: text("LACPACTIVITY")?,
        lacp_timer: text("LACPTIMER")?,
        flags: text("FLAGS")?,
    })
}

fn parse_port(r: &Record<'_>) -> Result<AggrPort, ParseError> {
    let port = match r.get("PORT").and_then(optional) {
        None => None,
        Some(_) => Some(r.parse("PORT")?),
    };
    let speed = match r.get("SPEED").and_then(optional) {
        None => None,
        Some(s) => Some(
            s.trim_end_matches("Mb")
                .parse()
                .map_err(|e| r.error(format!("bad SPEED {s:?}: {e}")))?,
        ),
    };
    let opt = |f: &str| r.get(f).and_then(optional).map(str::to_owned);
    Ok(AggrPort {
        link: r.parse("LINK")?,
        port,
        speed,
        duplex: r.require("DUPLEX")?.to_owned(),
        state: r.require("STATE")?.to_owned(),
        address: opt("ADDRESS"),
        port_state: opt("PORTSTATE"),
    })
}

fn parse_lacp(r: &Record<'_>) -> Result<LacpPort, ParseError> {
    let yes = |f: &str| -> Result<bool, ParseError> {
        match r.require(f)? {
            "yes" => Ok(true),
            "no" => Ok(false),
            other => Err(r.error(format!("bad {f} {other:?}: expected yes or no"))),
        }
    };
    Ok(LacpPort {
        link: r.parse("LINK")?,
        port: r.parse("PORT")?,
        aggregatable: yes("AGGREGATABLE")?,
        sync: yes("SYNC")?,
        coll: yes("COLL")?,
        dist: yes("DIST")?,
        defaulted: yes("DEFAULTED")?,
        expired: yes("EXPIRED")?,
    })
}

pub fn parse_show_aggr(text: &str) -> Result<Vec<Aggr>, ParseError> {
    parse_records("dladm show-aggr", text, AGGR_FIELDS, parse_aggr)
}

pub fn parse_show_aggr_ports(text: &str) -> Result<Vec<AggrPort>, ParseError> {
    parse_records("dladm show-aggr -x", text, XAGGR_FIELDS, parse_port)
}

pub fn parse_show_aggr_lacp(text: &str) -> Result<Vec<LacpPort>, ParseError> {
    parse_records("dladm show-aggr -L", text, LACP_FIELDS, parse_lacp)
}

/// The failures of the aggregation and bridge changes (`<action> operation failed: <status>`,
/// `unable to add link ...: <status>`, `invalid link name 'X'`).
pub(super) fn classify_change(s: &str) -> Option<LinkFailure> {
    if s.contains(OBJECT_EXISTS) {
        Some(LinkFailure::AlreadyExists)
    } else if invalid_link_name(s).is_some() {
        Some(LinkFailure::OverNotFound)
    } else if s.contains(LINK_BUSY) {
        Some(LinkFailure::Busy)
    } else if s.contains(OBJECT_NOT_FOUND) {
        Some(LinkFailure::NotFound)
    } else if s.contains(INVALID_ARGUMENT) {
        Some(LinkFailure::WrongClass)
    } else {
        None
    }
}

async fn run_change(
    run: &Runner,
    cmd: Cmd,
    action: &'static str,
    name: &LinkName,
) -> Result<(), AggrError> {
    run.output(&cmd).await.map(drop).map_err(|e| AggrError {
        action,
        name: name.clone(),
        kind: classify(e, classify_change),
    })
}

/// Creates an aggregation. `AlreadyExists`, `OverNotFound` (a port does not exist), `Busy` (a
/// port is in use: an IP interface, a VNIC or VLAN, another aggregation), `WrongClass` (a port
/// is not a physical link).
pub async fn create_aggr(run: &Runner, spec: &CreateAggr) -> Result<(), AggrError> {
    run_change(run, create_aggr_cmd(spec), "create", &spec.name).await
}

/// Deletes an aggregation. `NotFound`, `Busy` (something over it), `WrongClass`.
pub async fn delete_aggr(
    run: &Runner,
    name: &LinkName,
    persistence: Persistence,
) -> Result<(), AggrError> {
    run_change(run, delete_aggr_cmd(name, persistence), "delete", name).await
}

/// Adds (`add`) or removes ports, all or none.
pub async fn change_ports(
    run: &Runner,
    name: &LinkName,
    ports: &[LinkName],
    add: bool,
    persistence: Persistence,
) -> Result<(), AggrError> {
    let action = if add {
        "add ports to"
    } else {
        "remove ports from"
    };
    run_change(
        run,
        change_ports_cmd(name, ports, add, persistence),
        action,
        name,
    )
    .await
}

pub async fn show_aggrs(run: &Runner) -> Result<Vec<Aggr>, ShowError> {
    Ok(show(run, "show-aggr", show_aggr_cmd(None), parse_show_aggr)
        .await?
        .unwrap_or_default())
}

/// The aggregation of that name, `None` when there is none.
pub async fn get_aggr(run: &Runner, name: &LinkName) -> Result<Option<Aggr>, ShowError> {
    Ok(
        show(run, "show-aggr", show_aggr_cmd(Some(name)), parse_show_aggr)
            .await?
            .and_then(|v| v.into_iter().next()),
    )
}

/// `show-aggr -x`: every aggregation's line and its ports' (or one aggregation's).
pub async fn show_aggr_ports(
    run: &Runner,
    name: Option<&LinkName>,
) -> Result<Vec<AggrPort>, ShowError> {
    Ok(show(
        run,
        "show-aggr",
        show_aggr_ports_cmd(name),
        parse_show_aggr_ports,
    )
    .await?
    .unwrap_or_default())
}

/// `show-aggr -L` of one aggregation.
pub async fn show_aggr_lacp(run: &Runner, name: &LinkName) -> Result<Vec<LacpPort>, ShowError> {
    Ok(show(
        run,
        "show-aggr",
        show_aggr_lacp_cmd(Some(name)),
        parse_show_aggr_lacp,
    )
    .await?
    .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(s: &str) -> LinkName {
        s.parse().unwrap()
    }

    #[test]
    fn policies_read_both_spellings_and_print_dladms() {
        for (input, shown) in [
            ("L4", "L4"),
            ("l2", "L2"),
            ("L2,L3", "L2,L3"),
            ("L2L3", "L2,L3"),
            ("L3L2", "L2,L3"),
            ("L2L3L4", "L2,L3,L4"),
        ] {
            assert_eq!(input.parse::<AggrPolicy>().unwrap().to_string(), shown);
        }
        for bad in ["", "L5", "L2L2", "L2;id", "L2 L3", "L", ","] {
            assert!(bad.parse::<AggrPolicy>().is_err(), "{bad:?}");
        }
        assert_eq!(AggrPolicy::default().to_string(), "L4");
    }

    #[test]
    fn create_aggr_argv_lists_every_port_and_puts_the_name_last() {
        let spec = CreateAggr {
            name: link("aggr0"),
            ports: vec![link("igb1"), link("igb2")],
            policy: "L2L3".parse().unwrap(),
            lacp_mode: LacpMode::Active,
            lacp_timer: LacpTimer::Long,
            unicast: Some("2:8:20:a:b:c".parse().unwrap()),
            persistence: Persistence::Temporary,
        };
        assert_eq!(
            create_aggr_cmd(&spec).argv(),
            [
                "dladm",
                "create-aggr",
                "-t",
                "-P",
                "L2,L3",
                "-L",
                "active",
                "-T",
                "long",
                "-u",
                "02:08:20:0a:0b:0c",
                "-l",
                "igb1",
                "-l",
                "igb2",
                "aggr0"
            ]
        );
        assert_eq!(
            change_ports_cmd(
                &link("aggr0"),
                &[link("igb3")],
                false,
                Persistence::Persistent
            )
            .argv(),
            ["dladm", "remove-aggr", "-l", "igb3", "aggr0"]
        );
    }

    #[test]
    fn show_aggr_forms_parse() {
        let a = parse_show_aggr("aggr0:L2,L3:auto:off:short:-----\n").unwrap();
        assert_eq!(a[0].policy, "L2,L3");
        assert_eq!(a[0].address_policy, "auto");
        // -x: the aggregation's own line has no PORT; speeds carry dladm's "Mb".
        let x = parse_show_aggr_ports(
            "aggr0::2000Mb:full:up:0\\:1b\\:21\\:a4\\:3c\\:11:\n\
             aggr0:igb1:1000Mb:full:up:0\\:1b\\:21\\:a4\\:3c\\:11:attached\n",
        )
        .unwrap();
        assert_eq!(x[0].port, None);
        assert_eq!(x[0].speed, Some(2000));
        assert_eq!(x[1].port.as_ref().map(LinkName::as_str), Some("igb1"));
        assert_eq!(x[1].address.as_deref(), Some("0:1b:21:a4:3c:11"));
        assert_eq!(x[1].port_state.as_deref(), Some("attached"));
        let l = parse_show_aggr_lacp("aggr0:igb1:yes:no:no:no:yes:no\n").unwrap();
        assert!(l[0].aggregatable && l[0].defaulted && !l[0].sync);
        assert!(parse_show_aggr_lacp("aggr0:igb1:maybe:no:no:no:yes:no\n").is_err());
        assert!(parse_show_aggr("aggr0:L4:auto:off:short").is_err());
    }
}
