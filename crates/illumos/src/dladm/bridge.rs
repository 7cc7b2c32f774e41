//! Bridges: `dladm create-bridge`, `delete-bridge`, `add-bridge`, `remove-bridge` and
//! `show-bridge` (default, `-l`, `-f`). The reference is silent on them: names, options,
//! ranges, the STP constraints and the columns from illumos-gate `usr/src/man/man8/dladm.8`.

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::{InvalidValue, LinkName};
use crate::parsable::{field_arg, optional, parse_records, ParseError, Record};
use crate::runner::Runner;

use super::{classify, LinkFailure, ShowError};

pub const BRIDGE_FIELDS: &[&str] = &[
    "BRIDGE",
    "ADDRESS",
    "PRIORITY",
    "BMAXAGE",
    "BHELLOTIME",
    "BFWDDELAY",
    "FORCEPROTO",
    "TCTIME",
    "TCCOUNT",
    "TCHANGE",
    "DESROOT",
    "ROOTCOST",
    "ROOTPORT",
];
pub const BRIDGE_LINK_FIELDS: &[&str] = &[
    "LINK",
    "INDEX",
    "STATE",
    "UPTIME",
    "OPERCOST",
    "OPERP2P",
    "OPEREDGE",
    "DESROOT",
    "DESCOST",
    "DESBRIDGE",
    "DESPORT",
    "TCACK",
];
pub const FORWARDING_FIELDS: &[&str] = &["DEST", "AGE", "FLAGS", "OUTPUT"];

/// A bridge instance's name (dladm.8): letters, digits and `_`, starting and ending with a
/// letter, at most 31 characters; `default` and names starting with `SUNW` are reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeName(String);

impl BridgeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BridgeName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| InvalidValue::new("bridge name", s, reason);
        if s.is_empty() || s.len() > 31 {
            return Err(bad("must be 1 to 31 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("may hold only ASCII letters, digits and '_'"));
        }
        let alpha = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
        if !alpha(s.chars().next()) || !alpha(s.chars().last()) {
            return Err(bad("must start and end with a letter"));
        }
        if s == "default" || s.starts_with("SUNW") {
            return Err(bad("is reserved (default, SUNW...)"));
        }
        Ok(BridgeName(s.to_owned()))
    }
}

impl fmt::Display for BridgeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `-P`: the protection method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Protection {
    #[default]
    Stp,
    Trill,
}

impl Protection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protection::Stp => "stp",
            Protection::Trill => "trill",
        }
    }
}

/// The STP parameters of `create-bridge`, checked as dladm.8 gives them: priority 0..=61440 in
/// steps of 4096, max age 6..=40, hello time 1..=10, forward delay 4..=30 (seconds), and
/// `2 * (forward-delay - 1) >= max-age >= 2 * (hello-time + 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StpParams {
    pub priority: u32,
    pub max_age: u32,
    pub hello_time: u32,
    pub forward_delay: u32,
    /// `-f`: the forced maximum protocol (non-negative; 3 by default).
    pub force_protocol: u32,
}

impl Default for StpParams {
    fn default() -> Self {
        StpParams {
            priority: 32768,
            max_age: 20,
            hello_time: 2,
            forward_delay: 15,
            force_protocol: 3,
        }
    }
}

/// Which parameter is wrong and why, for a caller to name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct StpError {
    /// `priority`, `max_age`, `hello_time` or `forward_delay`.
    pub field: &'static str,
    pub reason: String,
}

impl StpParams {
    pub fn check(&self) -> Result<(), StpError> {
        let err = |field, reason: String| Err(StpError { field, reason });
        if self.priority > 61440 || !self.priority.is_multiple_of(4096) {
            // dladm would round down silently; a request gets the value it asked for or a 400.
            return err(
                "priority",
                format!("{} is not 0 to 61440 in steps of 4096", self.priority),
            );
        }
        for (field, v, lo, hi) in [
            ("max_age", self.max_age, 6, 40),
            ("hello_time", self.hello_time, 1, 10),
            ("forward_delay", self.forward_delay, 4, 30),
        ] {
            if !(lo..=hi).contains(&v) {
                return err(field, format!("{v} is not {lo} to {hi} seconds"));
            }
        }
        if 2 * (self.forward_delay - 1) < self.max_age {
            return err(
                "forward_delay",
                format!(
                    "2 * (forward_delay - 1) must be at least max_age ({})",
                    self.max_age
                ),
            );
        }
        if self.max_age < 2 * (self.hello_time + 1) {
            return err(
                "max_age",
                format!(
                    "must be at least 2 * (hello_time + 1) = {}",
                    2 * (self.hello_time + 1)
                ),
            );
        }
        Ok(())
    }
}

/// What `create-bridge` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateBridge {
    pub name: BridgeName,
    pub protection: Protection,
    pub stp: StpParams,
    pub links: Vec<LinkName>,
}

/// One line of `show-bridge -o` [`BRIDGE_FIELDS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub bridge: BridgeName,
    pub address: String,
    pub priority: Option<u32>,
    pub max_age: Option<u32>,
    pub hello_time: Option<u32>,
    pub forward_delay: Option<u32>,
    pub force_protocol: Option<u32>,
    pub tc_time: Option<u64>,
    pub tc_count: Option<u64>,
    pub topology_change: bool,
    pub designated_root: String,
    pub root_cost: Option<u64>,
    pub root_port: Option<u64>,
}

/// One line of `show-bridge -l`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeLink {
    pub link: LinkName,
    pub index: Option<u32>,
    pub state: String,
    pub uptime: Option<u64>,
    pub oper_cost: Option<u32>,
    pub point_to_point: bool,
    pub edge_port: bool,
    pub designated_root: String,
    pub designated_cost: Option<u64>,
    pub designated_bridge: String,
    pub designated_port: String,
    pub topology_change_ack: bool,
}

/// One line of `show-bridge -f`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingEntry {
    pub dest: String,
    pub age: Option<String>,
    pub flags: String,
    pub output: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} bridge {name}")]
pub struct BridgeError {
    pub action: &'static str,
    pub name: BridgeName,
    #[source]
    pub kind: LinkFailure,
}

fn link_args(links: &[LinkName]) -> Vec<&str> {
    links.iter().flat_map(|l| ["-l", l.as_str()]).collect()
}

pub fn create_bridge_cmd(spec: &CreateBridge) -> Cmd {
    let s = &spec.stp;
    Cmd::new(Tool::Dladm)
        .arg("create-bridge")
        .args(["-P", spec.protection.as_str()])
        .arg("-p")
        .arg(s.priority.to_string())
        .arg("-m")
        .arg(s.max_age.to_string())
        .arg("-h")
        .arg(s.hello_time.to_string())
        .arg("-d")
        .arg(s.forward_delay.to_string())
        .arg("-f")
        .arg(s.force_protocol.to_string())
        .args(link_args(&spec.links))
        .arg(spec.name.as_str())
}

pub fn delete_bridge_cmd(name: &BridgeName) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("delete-bridge")
        .arg(name.as_str())
}

/// `add-bridge` (`add`) or `remove-bridge`.
pub fn change_links_cmd(name: &BridgeName, links: &[LinkName], add: bool) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg(if add { "add-bridge" } else { "remove-bridge" })
        .args(link_args(links))
        .arg(name.as_str())
}

fn show_cmd(form: Option<&str>, fields: &[&str], name: Option<&BridgeName>) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("show-bridge")
        .args(form)
        .args(["-p", "-o"])
        .arg(field_arg(fields))
        .args(name.map(BridgeName::as_str))
}

pub fn show_bridge_cmd(name: Option<&BridgeName>) -> Cmd {
    show_cmd(None, BRIDGE_FIELDS, name)
}

pub fn show_bridge_links_cmd(name: &BridgeName) -> Cmd {
    show_cmd(Some("-l"), BRIDGE_LINK_FIELDS, Some(name))
}

pub fn show_bridge_forwarding_cmd(name: &BridgeName) -> Cmd {
    show_cmd(Some("-f"), FORWARDING_FIELDS, Some(name))
}

/// A numeric column; empty or `--` is `None`.
fn num<T: FromStr>(r: &Record<'_>, f: &str) -> Result<Option<T>, ParseError>
where
    T::Err: fmt::Display,
{
    match r.get(f).and_then(optional) {
        None => Ok(None),
        Some(_) => r.parse(f).map(Some),
    }
}

fn text(r: &Record<'_>, f: &str) -> String {
    r.get(f).and_then(optional).unwrap_or_default().to_owned()
}

fn parse_bridge(r: &Record<'_>) -> Result<Bridge, ParseError> {
    Ok(Bridge {
        bridge: r.parse("BRIDGE")?,
        address: text(r, "ADDRESS"),
        priority: num(r, "PRIORITY")?,
        max_age: num(r, "BMAXAGE")?,
        hello_time: num(r, "BHELLOTIME")?,
        forward_delay: num(r, "BFWDDELAY")?,
        force_protocol: num(r, "FORCEPROTO")?,
        tc_time: num(r, "TCTIME")?,
        tc_count: num(r, "TCCOUNT")?,
        topology_change: r.get("TCHANGE") == Some("yes"),
        designated_root: text(r, "DESROOT"),
        root_cost: num(r, "ROOTCOST")?,
        root_port: num(r, "ROOTPORT")?,
    })
}

fn parse_link(r: &Record<'_>) -> Result<BridgeLink, ParseError> {
    Ok(BridgeLink {
        link: r.parse("LINK")?,
        index: num(r, "INDEX")?,
        state: text(r, "STATE"),
        uptime: num(r, "UPTIME")?,
        oper_cost: num(r, "OPERCOST")?,
        point_to_point: r.get("OPERP2P") == Some("yes"),
        edge_port: r.get("OPEREDGE") == Some("yes"),
        designated_root: text(r, "DESROOT"),
        designated_cost: num(r, "DESCOST")?,
        designated_bridge: text(r, "DESBRIDGE"),
        designated_port: text(r, "DESPORT"),
        topology_change_ack: r.get("TCACK") == Some("yes"),
    })
}

fn parse_fwd(r: &Record<'_>) -> Result<ForwardingEntry, ParseError> {
    Ok(ForwardingEntry {
        dest: r.require("DEST")?.to_owned(),
        age: r.get("AGE").and_then(optional).map(str::to_owned),
        flags: text(r, "FLAGS"),
        output: text(r, "OUTPUT"),
    })
}

pub fn parse_show_bridge(text: &str) -> Result<Vec<Bridge>, ParseError> {
    parse_records("dladm show-bridge", text, BRIDGE_FIELDS, parse_bridge)
}

pub fn parse_show_bridge_links(text: &str) -> Result<Vec<BridgeLink>, ParseError> {
    parse_records("dladm show-bridge -l", text, BRIDGE_LINK_FIELDS, parse_link)
}

pub fn parse_show_bridge_forwarding(text: &str) -> Result<Vec<ForwardingEntry>, ParseError> {
    parse_records("dladm show-bridge -f", text, FORWARDING_FIELDS, parse_fwd)
}

async fn run_change(
    run: &Runner,
    cmd: Cmd,
    action: &'static str,
    name: &BridgeName,
) -> Result<(), BridgeError> {
    run.output(&cmd).await.map(drop).map_err(|e| BridgeError {
        action,
        name: name.clone(),
        kind: classify(e, super::aggr::classify_change),
    })
}

/// Creates a bridge with its links, all or nothing (dladm.8). `AlreadyExists`,
/// `OverNotFound` (a link does not exist), `Busy` (a link is in another bridge), `WrongClass`
/// (a VNIC, VLAN or tunnel cannot be bridged).
pub async fn create_bridge(run: &Runner, spec: &CreateBridge) -> Result<(), BridgeError> {
    run_change(run, create_bridge_cmd(spec), "create", &spec.name).await
}

/// Deletes a bridge. `NotFound`, `Busy` (links are still attached).
pub async fn delete_bridge(run: &Runner, name: &BridgeName) -> Result<(), BridgeError> {
    run_change(run, delete_bridge_cmd(name), "delete", name).await
}

/// Attaches (`add`) or detaches links, all or none.
pub async fn change_links(
    run: &Runner,
    name: &BridgeName,
    links: &[LinkName],
    add: bool,
) -> Result<(), BridgeError> {
    let action = if add {
        "add links to"
    } else {
        "remove links from"
    };
    run_change(run, change_links_cmd(name, links, add), action, name).await
}

/// Runs a show form; "object not found" (no such bridge) is `None`.
async fn show<T>(
    run: &Runner,
    cmd: Cmd,
    parse: fn(&str) -> Result<Vec<T>, ParseError>,
) -> Result<Option<Vec<T>>, ShowError> {
    super::show(run, "show-bridge", cmd, parse).await
}

pub async fn show_bridges(run: &Runner) -> Result<Vec<Bridge>, ShowError> {
    Ok(show(run, show_bridge_cmd(None), parse_show_bridge)
        .await?
        .unwrap_or_default())
}

pub async fn get_bridge(run: &Runner, name: &BridgeName) -> Result<Option<Bridge>, ShowError> {
    Ok(show(run, show_bridge_cmd(Some(name)), parse_show_bridge)
        .await?
        .and_then(|v| v.into_iter().next()))
}

/// The links attached to a bridge; `None` when there is no such bridge.
pub async fn bridge_links(
    run: &Runner,
    name: &BridgeName,
) -> Result<Option<Vec<BridgeLink>>, ShowError> {
    show(run, show_bridge_links_cmd(name), parse_show_bridge_links).await
}

pub async fn bridge_forwarding(
    run: &Runner,
    name: &BridgeName,
) -> Result<Option<Vec<ForwardingEntry>>, ShowError> {
    show(
        run,
        show_bridge_forwarding_cmd(name),
        parse_show_bridge_forwarding,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names_follow_dladm8() {
        for ok in ["br", "lab_bridge", "b", "uibridge"] {
            assert!(ok.parse::<BridgeName>().is_ok(), "{ok}");
        }
        let long = "b".repeat(32);
        for bad in [
            "", "br0", "0br", "default", "SUNWbr", "b-r", "b r", "br;id", &long,
        ] {
            assert!(bad.parse::<BridgeName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stp_parameters_are_checked_with_their_constraints() {
        assert_eq!(StpParams::default().check(), Ok(()));
        let with = |f: fn(&mut StpParams)| {
            let mut p = StpParams::default();
            f(&mut p);
            p.check().map_err(|e| e.field)
        };
        assert_eq!(with(|p| p.priority = 4096), Ok(()));
        assert_eq!(with(|p| p.priority = 4097), Err("priority"));
        assert_eq!(with(|p| p.priority = 65536), Err("priority"));
        assert_eq!(with(|p| p.max_age = 41), Err("max_age"));
        assert_eq!(with(|p| p.hello_time = 0), Err("hello_time"));
        assert_eq!(with(|p| p.forward_delay = 3), Err("forward_delay"));
        // 2 * (10 - 1) = 18 < 20.
        assert_eq!(with(|p| p.forward_delay = 10), Err("forward_delay"));
        // max age 6 < 2 * (hello 3 + 1) = 8.
        assert_eq!(
            with(|p| {
                p.max_age = 6;
                p.hello_time = 3
            }),
            Err("max_age")
        );
    }

    #[test]
    fn create_bridge_argv_and_show_forms() {
        let spec = CreateBridge {
            name: "lab".parse().unwrap(),
            protection: Protection::Stp,
            stp: StpParams::default(),
            links: vec!["igb1".parse().unwrap()],
        };
        assert_eq!(
            create_bridge_cmd(&spec).argv(),
            [
                "dladm",
                "create-bridge",
                "-P",
                "stp",
                "-p",
                "32768",
                "-m",
                "20",
                "-h",
                "2",
                "-d",
                "15",
                "-f",
                "3",
                "-l",
                "igb1",
                "lab"
            ]
        );
        let b = parse_show_bridge(
            "lab:0\\:1b\\:21\\:a4\\:3c\\:11:32768:20:2:15:3:0:0:no:32768/0\\:1b\\:21\\:a4\\:3c\\:11:0:0\n",
        )
        .unwrap();
        assert_eq!(b[0].bridge.as_str(), "lab");
        assert_eq!(b[0].address, "0:1b:21:a4:3c:11");
        assert_eq!(b[0].forward_delay, Some(15));
        assert!(!b[0].topology_change);
        let l = parse_show_bridge_links(
            "igb1:1:forwarding:0:20000:yes:no:32768/0\\:1:0:32768/0\\:1:8001:no\n",
        )
        .unwrap();
        assert_eq!((l[0].index, l[0].point_to_point), (Some(1), true));
        let f = parse_show_bridge_forwarding("0\\:1b\\:21\\:a4\\:3c\\:11::L:igb1\n").unwrap();
        assert_eq!((f[0].age.as_deref(), f[0].output.as_str()), (None, "igb1"));
    }
}
