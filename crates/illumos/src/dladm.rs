//! `dladm`: etherstubs, VNICs and the read side of links (reference §1.5).
//!
//! Reads use the parsable form (`-p -o FIELDS`, see [`crate::parsable`]); a named read of a
//! link that does not exist is `Ok(None)` from the `get_*` functions, never "any error means
//! absent".

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::{InvalidValue, LinkName, Mac, UnicastMac, VlanId};
use crate::names::ZoneName;
use crate::parsable::{field_arg, optional, parse_records, ParseError, Record};
use crate::persistence::Persistence;
use crate::runner::{CommandError, Runner};

pub mod aggr;
pub mod bridge;
pub mod prop;
pub mod vlan;

pub use prop::LinkProp;

// ---------------------------------------------------------------------------------------------
// Failure phrases (reference §1.5 "dladm errors" and §2). Matched as substrings of stderr.

/// `dladm: invalid link name 'NAME'`: delete of an unknown link, or create-vnic over a link
/// that does not exist (the quoted name tells which).
pub const INVALID_LINK_NAME: &str = "invalid link name '";
/// `dladm: vnic creation over LINK failed: object already exists`,
/// `dladm: etherstub creation failed: object already exists`.
pub const OBJECT_EXISTS: &str = "object already exists";
/// `dladm: vnic deletion failed: link busy` (also printed for an etherstub that still has
/// VNICs; the EBUSY mapping is marked inferred in the reference).
pub const LINK_BUSY: &str = "link busy";
/// `dladm: 'NAME' is not a vnic` (delete-vnic on an etherstub).
pub const NOT_A_VNIC: &str = "is not a vnic";
/// `dladm: 'NAME' is not an etherstub` (delete-etherstub on a VNIC).
pub const NOT_AN_ETHERSTUB: &str = "is not an etherstub";
/// `dladm: invalid vnic name 'NAME': object not found` (show-vnic/show-etherstub) and
/// `dladm: link NAME is not valid: object not found` (show-link/show-phys).
pub const OBJECT_NOT_FOUND: &str = "object not found";

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum LinkFailure {
    #[error("no such link")]
    NotFound,
    #[error("the underlying link does not exist")]
    OverNotFound,
    #[error("a link of that name already exists")]
    AlreadyExists,
    #[error("link is busy (VNICs on it, or assigned to a running zone)")]
    Busy,
    #[error("the link is not of the class this operation acts on")]
    WrongClass,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

/// Turns a runner error into a failure using `rule` on stderr; anything unmatched stays the
/// command's own error (with argv, exit code and stderr).
fn classify(err: CommandError, rule: impl FnOnce(&str) -> Option<LinkFailure>) -> LinkFailure {
    let kind = err.stderr().and_then(rule);
    kind.unwrap_or(LinkFailure::Command(err))
}

/// The name inside `invalid link name 'NAME'`.
fn invalid_link_name(stderr: &str) -> Option<&str> {
    let rest = &stderr[stderr.find(INVALID_LINK_NAME)? + INVALID_LINK_NAME.len()..];
    rest.split('\'').next()
}

fn classify_delete(stderr: &str) -> Option<LinkFailure> {
    if invalid_link_name(stderr).is_some() {
        Some(LinkFailure::NotFound)
    } else if stderr.contains(LINK_BUSY) {
        Some(LinkFailure::Busy)
    } else if stderr.contains(NOT_A_VNIC) || stderr.contains(NOT_AN_ETHERSTUB) {
        Some(LinkFailure::WrongClass)
    } else {
        None
    }
}

fn classify_show(stderr: &str) -> Option<LinkFailure> {
    stderr
        .contains(OBJECT_NOT_FOUND)
        .then_some(LinkFailure::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Errors per operation.

#[derive(Debug, thiserror::Error)]
#[error("cannot create etherstub {name}")]
pub struct CreateEtherstubError {
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot delete etherstub {name}")]
pub struct DeleteEtherstubError {
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create VNIC {name} over {over}")]
pub struct CreateVnicError {
    pub name: LinkName,
    pub over: LinkName,
    #[source]
    pub kind: LinkFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot delete VNIC {name}")]
pub struct DeleteVnicError {
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set properties of link {name}")]
pub struct SetLinkPropError {
    pub name: LinkName,
    #[source]
    pub kind: LinkFailure,
}

/// A failed read (`show-vnic`, `show-link`, ...).
#[derive(Debug, thiserror::Error)]
#[error("dladm {subcommand} failed")]
pub struct ShowError {
    pub subcommand: &'static str,
    #[source]
    pub kind: LinkFailure,
}

// ---------------------------------------------------------------------------------------------
// Values.

/// An MTU a link may be given: 68 (the IPv4 minimum) to 9000 (jumbo frames, the most an
/// etherstub or common NIC accepts). dladm has the last word for a particular link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mtu(u32);

impl Mtu {
    pub const MIN: u32 = 68;
    pub const MAX: u32 = 9000;

    pub fn new(mtu: u32) -> Result<Self, InvalidValue> {
        if (Self::MIN..=Self::MAX).contains(&mtu) {
            Ok(Mtu(mtu))
        } else {
            Err(InvalidValue::new(
                "MTU",
                &mtu.to_string(),
                "must be between 68 and 9000",
            ))
        }
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

impl FromStr for Mtu {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidValue::new("MTU", s, "must be a number between 68 and 9000");
        if s.is_empty()
            || s.len() > 4
            || !s.bytes().all(|b| b.is_ascii_digit())
            || s.starts_with('0')
        {
            return Err(bad());
        }
        Mtu::new(s.parse().map_err(|_| bad())?).map_err(|_| bad())
    }
}

impl fmt::Display for Mtu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn props_arg(props: &[LinkProp]) -> String {
    props
        .iter()
        .map(LinkProp::render)
        .collect::<Vec<_>>()
        .join(",")
}

/// The `-m` of create-vnic. `Auto` leaves the flag out (dladm's default). `factory` needs a
/// slot and the literal `fixed` is refused by dladm (reference §1.5), so neither is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VnicMac {
    #[default]
    Auto,
    Random,
    Fixed(UnicastMac),
}

/// Everything `create-vnic` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateVnic {
    pub name: LinkName,
    /// A physical link, an etherstub or an overlay.
    pub over: LinkName,
    pub mac: VnicMac,
    pub vlan: Option<VlanId>,
    pub props: Vec<LinkProp>,
    pub persistence: Persistence,
}

/// `CLASS` of show-link. New classes print as [`LinkClass::Other`] instead of failing a whole
/// listing: the class is informational for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkClass {
    Phys,
    Aggr,
    Etherstub,
    Overlay,
    Vlan,
    Vnic,
    Simnet,
    Bridge,
    Iptun,
    Misc,
    Other(String),
}

impl FromStr for LinkClass {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "phys" => LinkClass::Phys,
            "aggr" => LinkClass::Aggr,
            "etherstub" => LinkClass::Etherstub,
            "overlay" => LinkClass::Overlay,
            "vlan" => LinkClass::Vlan,
            "vnic" => LinkClass::Vnic,
            "simnet" => LinkClass::Simnet,
            "bridge" => LinkClass::Bridge,
            "iptun" => LinkClass::Iptun,
            "misc" => LinkClass::Misc,
            other => LinkClass::Other(other.to_owned()),
        })
    }
}

/// `STATE` of show-link and show-phys: exactly `up`, `down` or `unknown` (an etherstub is
/// `unknown`); anything else is a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    Up,
    Down,
    Unknown,
}

impl FromStr for LinkState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "up" => Ok(LinkState::Up),
            "down" => Ok(LinkState::Down),
            "unknown" => Ok(LinkState::Unknown),
            other => Err(format!("unknown link state {other:?}")),
        }
    }
}

/// `DUPLEX` of show-phys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duplex {
    Full,
    Half,
    Unknown,
}

impl FromStr for Duplex {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Duplex::Full),
            "half" => Ok(Duplex::Half),
            "unknown" => Ok(Duplex::Unknown),
            other => Err(format!("unknown duplex {other:?}")),
        }
    }
}

/// `MACADDRTYPE` of show-vnic: `fixed`, `random`, `factory, slot N`, `vrrp, ...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MacAddrType {
    Fixed,
    Random,
    Factory {
        slot: u32,
    },
    /// VRRP and anything newer, kept as printed.
    Other(String),
}

impl FromStr for MacAddrType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "fixed" => MacAddrType::Fixed,
            "random" => MacAddrType::Random,
            _ => match s
                .strip_prefix("factory, slot ")
                .and_then(|n| n.parse().ok())
            {
                Some(slot) => MacAddrType::Factory { slot },
                None => MacAddrType::Other(s.to_owned()),
            },
        })
    }
}

/// One line of `show-vnic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vnic {
    pub link: LinkName,
    pub over: LinkName,
    /// Mb/s; `None` when the field was not requested.
    pub speed_mbps: Option<u64>,
    pub mac: Mac,
    pub mac_type: MacAddrType,
    /// `VID` 0 means no VLAN.
    pub vlan: Option<VlanId>,
    /// The zone the VNIC is assigned to; `None` for the global zone (printed `--`).
    pub zone: Option<ZoneName>,
}

/// One line of `show-link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub link: LinkName,
    pub class: LinkClass,
    pub mtu: Option<u32>,
    pub state: LinkState,
    pub bridge: Option<String>,
    /// The links under this one: one for a VNIC, several for an aggregation, none for a
    /// physical link or an etherstub.
    pub over: Vec<LinkName>,
}

/// One line of `show-phys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phys {
    pub link: LinkName,
    pub media: String,
    pub state: LinkState,
    pub speed_mbps: Option<u64>,
    pub duplex: Duplex,
    /// Driver and instance, e.g. `e1000g0`.
    pub device: String,
}

// ---------------------------------------------------------------------------------------------
// Commands.

pub const VNIC_FIELDS: &[&str] = &[
    "LINK",
    "OVER",
    "SPEED",
    "MACADDRESS",
    "MACADDRTYPE",
    "VID",
    "ZONE",
];
pub const LINK_FIELDS: &[&str] = &["LINK", "CLASS", "MTU", "STATE", "BRIDGE", "OVER"];
pub const PHYS_FIELDS: &[&str] = &["LINK", "MEDIA", "STATE", "SPEED", "DUPLEX", "DEVICE"];
pub const ETHERSTUB_FIELDS: &[&str] = &["LINK"];

fn show_cmd(subcommand: &str, fields: &[&str], name: Option<&LinkName>) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg(subcommand)
        .args(["-p", "-o"])
        .arg(field_arg(fields))
        .args(name.map(LinkName::as_str))
}

pub fn create_etherstub_cmd(name: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("create-etherstub")
        .args(persistence.flag())
        .arg(name.as_str())
}

pub fn delete_etherstub_cmd(name: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("delete-etherstub")
        .args(persistence.flag())
        .arg(name.as_str())
}

/// `show-etherstub -p -o LINK`: reference §1.5 notes it shares show-vnic's code path, so the
/// parsable flags work although the manual lists no options.
pub fn show_etherstub_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd("show-etherstub", ETHERSTUB_FIELDS, name)
}

pub fn create_vnic_cmd(spec: &CreateVnic) -> Cmd {
    let mut cmd = Cmd::new(Tool::Dladm)
        .arg("create-vnic")
        .args(spec.persistence.flag())
        .args(["-l", spec.over.as_str()]);
    match spec.mac {
        VnicMac::Auto => {}
        VnicMac::Random => cmd = cmd.args(["-m", "random"]),
        VnicMac::Fixed(mac) => cmd = cmd.arg("-m").arg(mac.to_string()),
    }
    if let Some(vid) = spec.vlan {
        cmd = cmd.arg("-v").arg(vid.to_string());
    }
    if !spec.props.is_empty() {
        cmd = cmd.arg("-p").arg(props_arg(&spec.props));
    }
    cmd.arg(spec.name.as_str())
}

pub fn delete_vnic_cmd(name: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("delete-vnic")
        .args(persistence.flag())
        .arg(name.as_str())
}

pub fn show_vnic_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd("show-vnic", VNIC_FIELDS, name)
}

pub fn show_link_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd("show-link", LINK_FIELDS, name)
}

pub fn show_phys_cmd(name: Option<&LinkName>) -> Cmd {
    show_cmd("show-phys", PHYS_FIELDS, name)
}

/// `set-linkprop [-t] -p a=b[,c=d] LINK`. Panics-free on an empty list: it builds the command
/// anyway and dladm rejects it, so callers should not pass one.
pub fn set_linkprop_cmd(name: &LinkName, props: &[LinkProp], persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Dladm)
        .arg("set-linkprop")
        .args(persistence.flag())
        .arg("-p")
        .arg(props_arg(props))
        .arg(name.as_str())
}

// ---------------------------------------------------------------------------------------------
// Parsers.

fn parse_speed(r: &Record<'_>) -> Result<Option<u64>, ParseError> {
    match r.get("SPEED") {
        None | Some("") => Ok(None),
        Some(_) => r.parse("SPEED").map(Some),
    }
}

fn parse_vnic(r: &Record<'_>) -> Result<Vnic, ParseError> {
    let vlan = match r.get("VID") {
        None | Some("0") | Some("") => None,
        Some(_) => Some(r.parse::<VlanId>("VID")?),
    };
    Ok(Vnic {
        link: r.parse("LINK")?,
        over: r.parse("OVER")?,
        speed_mbps: parse_speed(r)?,
        mac: r.parse("MACADDRESS")?,
        mac_type: r.parse("MACADDRTYPE")?,
        vlan,
        zone: match r.get("ZONE").and_then(optional) {
            None => None,
            Some(z) => Some(
                z.parse()
                    .map_err(|e| r.error(format!("bad ZONE {z:?}: {e}")))?,
            ),
        },
    })
}

fn parse_link(r: &Record<'_>) -> Result<Link, ParseError> {
    let over = match r.get("OVER").and_then(optional) {
        None => Vec::new(),
        Some(list) => list
            .split_whitespace()
            .map(|l| {
                l.parse()
                    .map_err(|e| r.error(format!("bad OVER {l:?}: {e}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let mtu = match r.get("MTU") {
        None | Some("") => None,
        Some(_) => Some(r.parse("MTU")?),
    };
    Ok(Link {
        link: r.parse("LINK")?,
        class: r.parse("CLASS")?,
        mtu,
        state: r.parse("STATE")?,
        bridge: r.get("BRIDGE").and_then(optional).map(str::to_owned),
        over,
    })
}

fn parse_phys(r: &Record<'_>) -> Result<Phys, ParseError> {
    Ok(Phys {
        link: r.parse("LINK")?,
        media: r.require("MEDIA")?.to_owned(),
        state: r.parse("STATE")?,
        speed_mbps: parse_speed(r)?,
        duplex: r.parse("DUPLEX")?,
        device: r.require("DEVICE")?.to_owned(),
    })
}

/// Parses `show-vnic -p -o` output requested with [`VNIC_FIELDS`].
pub fn parse_show_vnic(text: &str) -> Result<Vec<Vnic>, ParseError> {
    parse_show_vnic_fields(text, VNIC_FIELDS)
}

/// Parses `show-vnic -p -o` output requested with any field list that includes LINK, OVER,
/// MACADDRESS and MACADDRTYPE.
pub fn parse_show_vnic_fields(text: &str, fields: &[&str]) -> Result<Vec<Vnic>, ParseError> {
    parse_records("dladm show-vnic", text, fields, parse_vnic)
}

pub fn parse_show_link(text: &str) -> Result<Vec<Link>, ParseError> {
    parse_show_link_fields(text, LINK_FIELDS)
}

/// Parses `show-link -p -o` output requested with any field list that includes LINK, CLASS
/// and STATE.
pub fn parse_show_link_fields(text: &str, fields: &[&str]) -> Result<Vec<Link>, ParseError> {
    parse_records("dladm show-link", text, fields, parse_link)
}

pub fn parse_show_phys(text: &str) -> Result<Vec<Phys>, ParseError> {
    parse_records("dladm show-phys", text, PHYS_FIELDS, parse_phys)
}

/// Parses `show-etherstub -p -o LINK`. Also accepts the plain `show-etherstub` output, whose
/// only difference is the `LINK` header line (no link can be named `LINK`: it has no number).
pub fn parse_show_etherstub(text: &str) -> Result<Vec<LinkName>, ParseError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "LINK")
        .map(|l| {
            l.parse()
                .map_err(|e| ParseError::new("dladm show-etherstub", l, e))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running.

/// Creates an etherstub. `AlreadyExists` if any link has the name.
pub async fn create_etherstub(
    run: &Runner,
    name: &LinkName,
    persistence: Persistence,
) -> Result<(), CreateEtherstubError> {
    run.output(&create_etherstub_cmd(name, persistence))
        .await
        .map(drop)
        .map_err(|e| CreateEtherstubError {
            name: name.clone(),
            kind: classify(e, |s| {
                s.contains(OBJECT_EXISTS)
                    .then_some(LinkFailure::AlreadyExists)
            }),
        })
}

/// Deletes an etherstub. `NotFound`, `Busy` (VNICs still on it) or `WrongClass` (not an
/// etherstub).
pub async fn delete_etherstub(
    run: &Runner,
    name: &LinkName,
    persistence: Persistence,
) -> Result<(), DeleteEtherstubError> {
    run.output(&delete_etherstub_cmd(name, persistence))
        .await
        .map(drop)
        .map_err(|e| DeleteEtherstubError {
            name: name.clone(),
            kind: classify(e, classify_delete),
        })
}

pub async fn show_etherstubs(run: &Runner) -> Result<Vec<LinkName>, ShowError> {
    let out = run
        .output(&show_etherstub_cmd(None))
        .await
        .map_err(|e| show_error("show-etherstub", e))?;
    parse_show_etherstub(&out.stdout).map_err(|e| ShowError {
        subcommand: "show-etherstub",
        kind: e.into(),
    })
}

/// Whether an etherstub of this name exists; only "object not found" means no.
pub async fn etherstub_exists(run: &Runner, name: &LinkName) -> Result<bool, ShowError> {
    match run.output(&show_etherstub_cmd(Some(name))).await {
        Ok(out) => {
            let stubs = parse_show_etherstub(&out.stdout).map_err(|e| ShowError {
                subcommand: "show-etherstub",
                kind: e.into(),
            })?;
            Ok(stubs.contains(name))
        }
        Err(e) => match show_error("show-etherstub", e) {
            ShowError {
                kind: LinkFailure::NotFound,
                ..
            } => Ok(false),
            other => Err(other),
        },
    }
}

/// Creates a VNIC. When an MTU is among the properties it is set again with `set-linkprop`
/// afterwards: `create-vnic -p mtu=N` can leave the old MTU (illumos bug 15695, reference
/// §1.5), which is also why Oxide does the same.
pub async fn create_vnic(run: &Runner, spec: &CreateVnic) -> Result<(), CreateVnicError> {
    let err = |kind| CreateVnicError {
        name: spec.name.clone(),
        over: spec.over.clone(),
        kind,
    };
    run.output(&create_vnic_cmd(spec)).await.map_err(|e| {
        err(classify(e, |s| {
            if s.contains(OBJECT_EXISTS) {
                Some(LinkFailure::AlreadyExists)
            } else if invalid_link_name(s) == Some(spec.over.as_str()) {
                Some(LinkFailure::OverNotFound)
            } else {
                None
            }
        }))
    })?;
    let mtu: Vec<LinkProp> = spec
        .props
        .iter()
        .filter(|p| matches!(p, LinkProp::Mtu(_)))
        .cloned()
        .collect();
    if !mtu.is_empty() {
        run.output(&set_linkprop_cmd(&spec.name, &mtu, spec.persistence))
            .await
            .map_err(|e| err(classify(e, |_| None)))?;
    }
    Ok(())
}

/// Deletes a VNIC. `NotFound`, `Busy` (assigned to a running zone) or `WrongClass`.
pub async fn delete_vnic(
    run: &Runner,
    name: &LinkName,
    persistence: Persistence,
) -> Result<(), DeleteVnicError> {
    run.output(&delete_vnic_cmd(name, persistence))
        .await
        .map(drop)
        .map_err(|e| DeleteVnicError {
            name: name.clone(),
            kind: classify(e, classify_delete),
        })
}

pub async fn set_linkprop(
    run: &Runner,
    name: &LinkName,
    props: &[LinkProp],
    persistence: Persistence,
) -> Result<(), SetLinkPropError> {
    run.output(&set_linkprop_cmd(name, props, persistence))
        .await
        .map(drop)
        .map_err(|e| SetLinkPropError {
            name: name.clone(),
            kind: classify(e, |s| invalid_link_name(s).map(|_| LinkFailure::NotFound)),
        })
}

fn show_error(subcommand: &'static str, e: CommandError) -> ShowError {
    ShowError {
        subcommand,
        kind: classify(e, classify_show),
    }
}

/// Runs a show command and parses it; a named show of a missing link is `Ok(None)`.
async fn show<T>(
    run: &Runner,
    subcommand: &'static str,
    cmd: Cmd,
    parse: fn(&str) -> Result<Vec<T>, ParseError>,
) -> Result<Option<Vec<T>>, ShowError> {
    match run.output(&cmd).await {
        Ok(out) => parse(&out.stdout).map(Some).map_err(|e| ShowError {
            subcommand,
            kind: e.into(),
        }),
        Err(e) => match show_error(subcommand, e) {
            ShowError {
                kind: LinkFailure::NotFound,
                ..
            } => Ok(None),
            other => Err(other),
        },
    }
}

async fn show_one<T>(
    run: &Runner,
    subcommand: &'static str,
    cmd: Cmd,
    parse: fn(&str) -> Result<Vec<T>, ParseError>,
) -> Result<Option<T>, ShowError> {
    Ok(show(run, subcommand, cmd, parse)
        .await?
        .and_then(|v| v.into_iter().next()))
}

pub async fn show_vnics(run: &Runner) -> Result<Vec<Vnic>, ShowError> {
    Ok(show(run, "show-vnic", show_vnic_cmd(None), parse_show_vnic)
        .await?
        .unwrap_or_default())
}

/// The VNIC of that name, `None` if there is no such VNIC.
pub async fn get_vnic(run: &Runner, name: &LinkName) -> Result<Option<Vnic>, ShowError> {
    show_one(run, "show-vnic", show_vnic_cmd(Some(name)), parse_show_vnic).await
}

pub async fn show_links(run: &Runner) -> Result<Vec<Link>, ShowError> {
    Ok(show(run, "show-link", show_link_cmd(None), parse_show_link)
        .await?
        .unwrap_or_default())
}

/// The link of that name, `None` if there is no such link.
pub async fn get_link(run: &Runner, name: &LinkName) -> Result<Option<Link>, ShowError> {
    show_one(run, "show-link", show_link_cmd(Some(name)), parse_show_link).await
}

pub async fn show_phys(run: &Runner) -> Result<Vec<Phys>, ShowError> {
    Ok(show(run, "show-phys", show_phys_cmd(None), parse_show_phys)
        .await?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeHost, Reply};
    use crate::runner::CommandFailed;

    fn link(s: &str) -> LinkName {
        s.parse().unwrap()
    }

    fn failed(stderr: &str) -> CommandError {
        CommandError::Failed(CommandFailed {
            argv: "dladm x".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.into(),
            hint: None,
        })
    }

    #[test]
    fn create_etherstub_argv() {
        assert_eq!(
            create_etherstub_cmd(&link("stub0"), Persistence::Persistent).argv(),
            ["dladm", "create-etherstub", "stub0"]
        );
        assert_eq!(
            create_etherstub_cmd(&link("stub0"), Persistence::Temporary).argv(),
            ["dladm", "create-etherstub", "-t", "stub0"]
        );
    }

    #[test]
    fn delete_etherstub_argv() {
        assert_eq!(
            delete_etherstub_cmd(&link("stub0"), Persistence::Temporary).argv(),
            ["dladm", "delete-etherstub", "-t", "stub0"]
        );
    }

    #[test]
    fn show_argv_asks_for_named_parsable_fields() {
        assert_eq!(
            show_etherstub_cmd(None).argv(),
            ["dladm", "show-etherstub", "-p", "-o", "LINK"]
        );
        assert_eq!(
            show_vnic_cmd(Some(&link("vm1net0"))).argv(),
            [
                "dladm",
                "show-vnic",
                "-p",
                "-o",
                "LINK,OVER,SPEED,MACADDRESS,MACADDRTYPE,VID,ZONE",
                "vm1net0"
            ]
        );
        assert_eq!(
            show_link_cmd(None).argv(),
            [
                "dladm",
                "show-link",
                "-p",
                "-o",
                "LINK,CLASS,MTU,STATE,BRIDGE,OVER"
            ]
        );
        assert_eq!(
            show_phys_cmd(None).argv(),
            [
                "dladm",
                "show-phys",
                "-p",
                "-o",
                "LINK,MEDIA,STATE,SPEED,DUPLEX,DEVICE"
            ]
        );
    }

    #[test]
    fn create_vnic_argv_with_every_option() {
        let spec = CreateVnic {
            name: link("vm1net0"),
            over: link("stub0"),
            mac: VnicMac::Fixed("2:8:20:a:b:c".parse().unwrap()),
            vlan: Some(VlanId::new(12).unwrap()),
            props: vec![LinkProp::Mtu(Mtu::new(9000).unwrap())],
            persistence: Persistence::Temporary,
        };
        assert_eq!(
            create_vnic_cmd(&spec).argv(),
            [
                "dladm",
                "create-vnic",
                "-t",
                "-l",
                "stub0",
                "-m",
                "02:08:20:0a:0b:0c",
                "-v",
                "12",
                "-p",
                "mtu=9000",
                "vm1net0"
            ]
        );
    }

    /// Several properties go in one `-p`, a list's values comma-joined after its name: dladm
    /// reads a token without `=` as one more value of the property before it.
    #[test]
    fn create_vnic_argv_joins_several_properties_in_one_list() {
        let p = |n, v| LinkProp::parse_vnic(n, v).unwrap();
        let spec = CreateVnic {
            name: link("vm1net0"),
            over: link("igb0"),
            mac: VnicMac::Auto,
            vlan: None,
            props: vec![p("maxbw", "100M"), p("cpus", "0,1"), p("priority", "low")],
            persistence: Persistence::Persistent,
        };
        assert_eq!(
            create_vnic_cmd(&spec).argv(),
            [
                "dladm",
                "create-vnic",
                "-l",
                "igb0",
                "-p",
                "maxbw=100M,cpus=0,1,priority=low",
                "vm1net0"
            ]
        );
    }

    #[test]
    fn create_vnic_argv_minimal_leaves_mac_to_dladm() {
        let spec = CreateVnic {
            name: link("provision_interconnect0"),
            over: link("estub0"),
            mac: VnicMac::Auto,
            vlan: None,
            props: vec![],
            persistence: Persistence::Persistent,
        };
        assert_eq!(
            create_vnic_cmd(&spec).argv(),
            [
                "dladm",
                "create-vnic",
                "-l",
                "estub0",
                "provision_interconnect0"
            ]
        );
        let random = CreateVnic {
            mac: VnicMac::Random,
            ..spec
        };
        assert_eq!(
            create_vnic_cmd(&random).argv()[4..6],
            ["-m".to_owned(), "random".to_owned()]
        );
    }

    #[test]
    fn delete_vnic_and_set_linkprop_argv() {
        assert_eq!(
            delete_vnic_cmd(&link("vm1net0"), Persistence::Persistent).argv(),
            ["dladm", "delete-vnic", "vm1net0"]
        );
        assert_eq!(
            set_linkprop_cmd(
                &link("vm1net0"),
                &[LinkProp::Mtu(Mtu::new(1500).unwrap())],
                Persistence::Temporary
            )
            .argv(),
            ["dladm", "set-linkprop", "-t", "-p", "mtu=1500", "vm1net0"]
        );
    }

    #[test]
    fn vnic_mac_keeps_its_colons_and_zone_is_kept() {
        // reference §1.5, verbatim: dladm show-vnic -p -o LINK,OVER,MACADDRESS,MACADDRTYPE,VID,ZONE
        let out = r"vm1net0:stub0:2\:8\:20\:a3\:1b\:5c:random:0:vm1
";
        let vnics = parse_show_vnic_fields(
            out,
            &["LINK", "OVER", "MACADDRESS", "MACADDRTYPE", "VID", "ZONE"],
        )
        .unwrap();
        assert_eq!(
            vnics,
            [Vnic {
                link: link("vm1net0"),
                over: link("stub0"),
                speed_mbps: None,
                mac: "02:08:20:a3:1b:5c".parse().unwrap(),
                mac_type: MacAddrType::Random,
                vlan: None,
                zone: Some("vm1".parse().unwrap()),
            }]
        );
    }

    #[test]
    fn vnic_in_global_zone_prints_double_dash() {
        // reference §1.5: ZONE is the literal `--` in the global zone, even with -p
        let out = "vm1net0:stub0:0:2\\:8\\:20\\:a\\:b\\:c:fixed:12:--\n";
        let v = &parse_show_vnic(out).unwrap()[0];
        assert_eq!(v.zone, None);
        assert_eq!(v.vlan, Some(VlanId::new(12).unwrap()));
        assert_eq!(v.speed_mbps, Some(0));
        assert_eq!(v.mac_type, MacAddrType::Fixed);
        assert_eq!(v.mac.to_string(), "02:08:20:0a:0b:0c");
    }

    #[test]
    fn vnic_factory_mac_type_has_a_slot() {
        assert_eq!(
            "factory, slot 1".parse::<MacAddrType>().unwrap(),
            MacAddrType::Factory { slot: 1 }
        );
        assert_eq!(
            "vrrp, v4/1".parse::<MacAddrType>().unwrap(),
            MacAddrType::Other("vrrp, v4/1".into())
        );
    }

    #[test]
    fn vnic_with_unescaped_mac_is_a_wrong_field_count() {
        let err = parse_show_vnic("vm1net0:stub0:0:2:8:20:a:b:c:fixed:0:--\n").unwrap_err();
        assert_eq!(err.line, "vm1net0:stub0:0:2:8:20:a:b:c:fixed:0:--");
    }

    #[test]
    fn show_link_physical_link_has_empty_over() {
        // reference §1.5, verbatim: dladm show-link -p -o LINK,CLASS,MTU,STATE,OVER
        let out = "net0:phys:1500:up:
stub0:etherstub:9000:unknown:
vm1net0:vnic:1500:up:stub0
";
        let links =
            parse_show_link_fields(out, &["LINK", "CLASS", "MTU", "STATE", "OVER"]).unwrap();
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].class, LinkClass::Phys);
        assert!(links[0].over.is_empty());
        assert_eq!(links[1].class, LinkClass::Etherstub);
        assert_eq!(links[1].state, LinkState::Unknown);
        assert_eq!(links[1].mtu, Some(9000));
        assert_eq!(links[2].over, [link("stub0")]);
        assert_eq!(links[2].bridge, None);
    }

    #[test]
    fn show_link_aggregation_is_over_several_links() {
        let out = "aggr1:aggr:1500:up::e1000g0 e1000g1\n";
        let l = &parse_show_link(out).unwrap()[0];
        assert_eq!(l.over, [link("e1000g0"), link("e1000g1")]);
    }

    #[test]
    fn show_link_unknown_state_is_an_error_but_unknown_class_is_kept() {
        assert!(parse_show_link("net0:phys:1500:sideways::\n").is_err());
        let l = &parse_show_link("x0:wifi:1500:up::\n").unwrap()[0];
        assert_eq!(l.class, LinkClass::Other("wifi".into()));
    }

    #[test]
    fn show_phys_sample() {
        // reference §1.5, verbatim: dladm show-phys -p -o LINK,MEDIA,STATE,SPEED,DUPLEX,DEVICE
        let out = "net0:Ethernet:up:1000:full:e1000g0\n";
        assert_eq!(
            parse_show_phys(out).unwrap(),
            [Phys {
                link: link("net0"),
                media: "Ethernet".into(),
                state: LinkState::Up,
                speed_mbps: Some(1000),
                duplex: Duplex::Full,
                device: "e1000g0".into(),
            }]
        );
    }

    #[test]
    fn show_etherstub_plain_output_has_a_header() {
        // reference §1.5, verbatim: dladm show-etherstub
        let out = "LINK\nstub0\n";
        assert_eq!(parse_show_etherstub(out).unwrap(), [link("stub0")]);
        assert_eq!(parse_show_etherstub("stub0\n").unwrap(), [link("stub0")]);
        assert!(parse_show_etherstub("bad name\n").is_err());
    }

    #[test]
    fn delete_of_unknown_link_is_not_found() {
        // reference §1.5: delete-vnic / delete-etherstub of unknown name
        let k = classify(
            failed("dladm: invalid link name 'vm9net0'\n"),
            classify_delete,
        );
        assert!(matches!(k, LinkFailure::NotFound), "{k:?}");
    }

    #[test]
    fn delete_etherstub_with_vnics_is_busy() {
        let k = classify(
            failed("dladm: vnic deletion failed: link busy\n"),
            classify_delete,
        );
        assert!(matches!(k, LinkFailure::Busy), "{k:?}");
    }

    #[test]
    fn delete_of_the_wrong_class_is_wrong_class() {
        for s in [
            "dladm: 'stub0' is not a vnic\n",
            "dladm: 'vm1net0' is not an etherstub\n",
        ] {
            let k = classify(failed(s), classify_delete);
            assert!(matches!(k, LinkFailure::WrongClass), "{k:?}");
        }
    }

    #[test]
    fn create_existing_is_already_exists() {
        for s in [
            "dladm: vnic creation over stub0 failed: object already exists\n",
            "dladm: etherstub creation failed: object already exists\n",
        ] {
            let k = classify(failed(s), |s| {
                s.contains(OBJECT_EXISTS)
                    .then_some(LinkFailure::AlreadyExists)
            });
            assert!(matches!(k, LinkFailure::AlreadyExists), "{k:?}");
        }
    }

    #[test]
    fn invalid_link_name_quotes_which_link() {
        assert_eq!(
            invalid_link_name("dladm: invalid link name 'stub9'\n"),
            Some("stub9")
        );
        assert_eq!(invalid_link_name("dladm: link busy"), None);
    }

    #[test]
    fn show_of_unknown_link_is_not_found() {
        for s in [
            "dladm: invalid vnic name 'vm9net0': object not found\n",
            "dladm: link net9 is not valid: object not found\n",
        ] {
            let k = classify(failed(s), classify_show);
            assert!(matches!(k, LinkFailure::NotFound), "{k:?}");
        }
    }

    #[test]
    fn unmatched_stderr_keeps_the_command_error() {
        let k = classify(failed("dladm: permission denied\n"), classify_delete);
        match k {
            LinkFailure::Command(e) => assert!(e.stderr().unwrap().contains("permission")),
            other => panic!("{other:?}"),
        }
        // a timeout has no stderr to classify
        let k = classify(
            CommandError::TimedOut {
                argv: "dladm".into(),
                timeout: std::time::Duration::from_secs(1),
            },
            classify_delete,
        );
        assert!(matches!(k, LinkFailure::Command(_)));
    }

    #[test]
    fn mtu_range() {
        assert!("1500".parse::<Mtu>().is_ok());
        for bad in ["67", "9001", "01500", "", "15 00", "1500;"] {
            assert!(bad.parse::<Mtu>().is_err(), "{bad}");
        }
        for v in crate::parsable::hostile_variants("1500") {
            assert!(v.parse::<Mtu>().is_err(), "{v:?}");
        }
    }

    #[tokio::test]
    async fn get_of_a_missing_vnic_is_none_but_other_failures_are_errors() {
        let show = [
            "dladm",
            "show-vnic",
            "-p",
            "-o",
            "LINK,OVER,SPEED,MACADDRESS,MACADDRTYPE,VID,ZONE",
            "vm9net0",
        ];
        let host = FakeHost::new();
        host.expect(
            show,
            Reply::fails(1, "dladm: invalid vnic name 'vm9net0': object not found\n"),
        )
        .expect(show, Reply::fails(1, "dladm: permission denied\n"));
        let run = host.runner();
        assert_eq!(get_vnic(&run, &link("vm9net0")).await.unwrap(), None);
        let err = get_vnic(&run, &link("vm9net0")).await.unwrap_err();
        assert!(matches!(err.kind, LinkFailure::Command(_)), "{err:?}");
        host.verify();
    }

    #[tokio::test]
    async fn create_vnic_with_mtu_sets_it_again() {
        let spec = CreateVnic {
            name: link("vm1net0"),
            over: link("stub0"),
            mac: VnicMac::Auto,
            vlan: None,
            props: vec![LinkProp::Mtu(Mtu::new(9000).unwrap())],
            persistence: Persistence::Temporary,
        };
        let create = [
            "dladm",
            "create-vnic",
            "-t",
            "-l",
            "stub0",
            "-p",
            "mtu=9000",
            "vm1net0",
        ];
        let host = FakeHost::new();
        host.expect(create, Reply::ok())
            .expect(
                ["dladm", "set-linkprop", "-t", "-p", "mtu=9000", "vm1net0"],
                Reply::ok(),
            )
            .expect(
                create,
                Reply::fails(1, "dladm: invalid link name 'stub0'\n"),
            );
        let run = host.runner();
        create_vnic(&run, &spec).await.unwrap();
        let err = create_vnic(&run, &spec).await.unwrap_err();
        assert!(matches!(err.kind, LinkFailure::OverNotFound), "{err:?}");
        host.verify();
    }
}
