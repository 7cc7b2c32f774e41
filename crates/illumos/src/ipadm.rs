//! `ipadm`: IP interfaces, static IPv4 addresses and the per-interface `forwarding` property
//! (reference §1.6).
//!
//! Interfaces are created with `create-if` rather than its newer alias `create-ip`: the older
//! ipadm builds the reference was read from predate the alias, and every build accepts
//! `create-if`. Failure texts are matched as substrings because some ipadm builds print the
//! message's newline on stdout (reference §1.6, the `die()` quirk).

use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::LinkName;
use crate::net::{AddrObj, AddrObjName, Ipv4Cidr};
use crate::parsable::{field_arg, parse_records, ParseError, Record};
use crate::persistence::Persistence;
use crate::runner::{CommandError, Runner};

pub mod addr;

// ---------------------------------------------------------------------------------------------
// Failure phrases (reference §1.6 "ipadm errors", libipadm status strings, §2).

/// `ipadm: Could not create IF : Interface already exists`.
pub const INTERFACE_EXISTS: &str = "Interface already exists";
/// `ipadm: Could not create IF : Datalink does not exist` (status marked inferred).
pub const DATALINK_MISSING: &str = "Datalink does not exist";
/// `ipadm: Could not create address: Address object already exists`.
pub const ADDROBJ_EXISTS: &str = "Address object already exists";
/// `ipadm: Could not create address: Address already in use`.
pub const ADDRESS_IN_USE: &str = "Address already in use";
/// `ipadm: could not delete address: Object not found`, and since illumos #16677
/// `ipadm: Could not get address: Object not found` from show-addr.
pub const OBJECT_NOT_FOUND: &str = "Object not found";
/// `ipadm: Address object not found`: show-addr before illumos #16677.
pub const ADDROBJ_NOT_FOUND_OLD: &str = "Address object not found";
/// `ipadm: Could not delete IF: Interface does not exist` and
/// `ipadm: no such object 'IF': Interface does not exist` (show-ifprop, set-ifprop).
pub const INTERFACE_MISSING: &str = "Interface does not exist";
/// The older libipadm spelling of [`INTERFACE_MISSING`].
pub const INTERFACE_MISSING_OLD: &str = "No such interface";

#[derive(Debug, thiserror::Error)]
pub enum IpFailure {
    #[error("no such interface")]
    InterfaceNotFound,
    #[error("no such datalink to plumb")]
    DatalinkNotFound,
    #[error("no such address object")]
    AddressNotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("the address is already configured elsewhere")]
    AddressInUse,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

fn classify(err: CommandError, rule: impl FnOnce(&str) -> Option<IpFailure>) -> IpFailure {
    let kind = err.stderr().and_then(rule);
    kind.unwrap_or(IpFailure::Command(err))
}

fn interface_missing(s: &str) -> bool {
    s.contains(INTERFACE_MISSING) || s.contains(INTERFACE_MISSING_OLD)
}

fn classify_create_if(s: &str) -> Option<IpFailure> {
    if s.contains(INTERFACE_EXISTS) {
        Some(IpFailure::AlreadyExists)
    } else if s.contains(DATALINK_MISSING) {
        Some(IpFailure::DatalinkNotFound)
    } else {
        None
    }
}

fn classify_delete_if(s: &str) -> Option<IpFailure> {
    interface_missing(s).then_some(IpFailure::InterfaceNotFound)
}

fn classify_create_addr(s: &str) -> Option<IpFailure> {
    if s.contains(ADDROBJ_EXISTS) {
        Some(IpFailure::AlreadyExists)
    } else if s.contains(ADDRESS_IN_USE) {
        Some(IpFailure::AddressInUse)
    } else if interface_missing(s) {
        Some(IpFailure::InterfaceNotFound)
    } else {
        None
    }
}

fn classify_addr_lookup(s: &str) -> Option<IpFailure> {
    if s.contains(OBJECT_NOT_FOUND) || s.contains(ADDROBJ_NOT_FOUND_OLD) {
        Some(IpFailure::AddressNotFound)
    } else if interface_missing(s) {
        Some(IpFailure::InterfaceNotFound)
    } else {
        None
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create IP interface {interface}")]
pub struct CreateIfError {
    pub interface: LinkName,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot delete IP interface {interface}")]
pub struct DeleteIfError {
    pub interface: LinkName,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create address {addrobj} ({addr})")]
pub struct CreateAddrError {
    pub addrobj: AddrObj,
    pub addr: Ipv4Cidr,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot delete address {addrobj}")]
pub struct DeleteAddrError {
    pub addrobj: AddrObj,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot set {protocol} forwarding on {interface}")]
pub struct SetForwardingError {
    pub interface: LinkName,
    pub protocol: Protocol,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("ipadm {subcommand} failed")]
pub struct ShowError {
    pub subcommand: &'static str,
    #[source]
    pub kind: IpFailure,
}

// ---------------------------------------------------------------------------------------------
// Values.

/// The `-m` protocol of the interface-property subcommands the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Ipv4,
    Ipv6,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Ipv4 => "ipv4",
            Protocol::Ipv6 => "ipv6",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipv4" => Ok(Protocol::Ipv4),
            "ipv6" => Ok(Protocol::Ipv6),
            other => Err(format!("unexpected protocol {other:?}")),
        }
    }
}

/// An `on`/`off` property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn as_str(self) -> &'static str {
        match self {
            OnOff::On => "on",
            OnOff::Off => "off",
        }
    }
}

impl From<bool> for OnOff {
    fn from(b: bool) -> Self {
        if b {
            OnOff::On
        } else {
            OnOff::Off
        }
    }
}

impl FromStr for OnOff {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" => Ok(OnOff::On),
            "off" => Ok(OnOff::Off),
            other => Err(format!("expected on or off, found {other:?}")),
        }
    }
}

/// `TYPE` of show-addr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrType {
    Static,
    Dhcp,
    Addrconf,
    /// Inside a zone: the address is assigned from the global zone.
    FromGz,
    Other(String),
}

impl FromStr for AddrType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "static" => AddrType::Static,
            "dhcp" => AddrType::Dhcp,
            "addrconf" => AddrType::Addrconf,
            "from-gz" => AddrType::FromGz,
            other => AddrType::Other(other.to_owned()),
        })
    }
}

/// `STATE` of show-addr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrState {
    Ok,
    Tentative,
    Duplicate,
    Down,
    Disabled,
    Inaccessible,
    Other(String),
}

impl FromStr for AddrState {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => AddrState::Ok,
            "tentative" => AddrState::Tentative,
            "duplicate" => AddrState::Duplicate,
            "down" => AddrState::Down,
            "disabled" => AddrState::Disabled,
            "inaccessible" => AddrState::Inaccessible,
            other => AddrState::Other(other.to_owned()),
        })
    }
}

/// `STATE` of show-if.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IfState {
    Ok,
    Down,
    Disabled,
    Failed,
    Offline,
    Other(String),
}

impl FromStr for IfState {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => IfState::Ok,
            "down" => IfState::Down,
            "disabled" => IfState::Disabled,
            "failed" => IfState::Failed,
            "offline" => IfState::Offline,
            other => IfState::Other(other.to_owned()),
        })
    }
}

/// The name half of a listed `ADDROBJ`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListedAddrName {
    /// A user-given name (`net0/v4`).
    Named(AddrObjName),
    /// `IF/?`: an address configured without an address object.
    Unnamed,
    /// A name ipadm generated itself, which the user rules refuse (e.g. `_a` for an addrconf
    /// address); kept as printed.
    Generated(String),
}

/// `ADDR` of show-addr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListedAddr {
    /// `A.B.C.D/len`; printed without `/len` when the prefix is 0.
    V4(Ipv4Cidr),
    /// `addr/len`, with the scope zone of a link-local address (`fe80::...%net0/10`).
    V6 {
        addr: Ipv6Addr,
        prefix: u8,
        scope: Option<String>,
    },
    /// `?`: a DHCP address not yet bound.
    Pending,
}

impl FromStr for ListedAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "?" {
            return Ok(ListedAddr::Pending);
        }
        let (addr, prefix) = match s.rsplit_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let bad = || format!("unexpected address {s:?}");
        if addr.contains(':') {
            let (addr, scope) = match addr.split_once('%') {
                Some((a, z)) => (a, Some(z.to_owned())),
                None => (addr, None),
            };
            let prefix = match prefix {
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= 128).ok_or_else(bad)?,
                None => 0,
            };
            Ok(ListedAddr::V6 {
                addr: addr.parse().map_err(|_| bad())?,
                prefix,
                scope,
            })
        } else {
            let text = match prefix {
                Some(_) => s.to_owned(),
                None => format!("{s}/0"),
            };
            text.parse().map(ListedAddr::V4).map_err(|_| bad())
        }
    }
}

/// One line of show-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub interface: LinkName,
    pub name: ListedAddrName,
    pub kind: AddrType,
    pub state: AddrState,
    pub addr: ListedAddr,
}

impl Address {
    /// The address object, when it has a user-style name.
    pub fn addrobj(&self) -> Option<AddrObj> {
        match &self.name {
            ListedAddrName::Named(n) => Some(AddrObj::new(self.interface.clone(), n.clone())),
            _ => None,
        }
    }
}

/// One line of show-if.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: LinkName,
    pub state: IfState,
    /// The 12 positional flags (`b m p v I s i V a Z 4 6`, `-` when clear), as printed.
    pub current: String,
    pub persistent: String,
}

impl Interface {
    /// `4` in CURRENT: IPv4 is plumbed.
    pub fn has_ipv4(&self) -> bool {
        self.current.contains('4')
    }
}

/// One line of show-ifprop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfProp {
    pub interface: LinkName,
    pub property: String,
    pub protocol: Protocol,
    pub perm: String,
    pub current: String,
    /// Empty when only set with `-t`.
    pub persistent: Option<String>,
    pub default: String,
    pub possible: Vec<String>,
}

/// The `forwarding` property of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfForwarding {
    pub interface: LinkName,
    pub protocol: Protocol,
    pub current: OnOff,
    /// `None` when no persistent value is stored.
    pub persistent: Option<OnOff>,
}

// ---------------------------------------------------------------------------------------------
// Commands.

pub const ADDR_FIELDS: &[&str] = &["ADDROBJ", "TYPE", "STATE", "ADDR"];
pub const IF_FIELDS: &[&str] = &["IFNAME", "STATE", "CURRENT", "PERSISTENT"];
pub const IFPROP_FIELDS: &[&str] = &[
    "IFNAME",
    "PROPERTY",
    "PROTO",
    "PERM",
    "CURRENT",
    "PERSISTENT",
    "DEFAULT",
    "POSSIBLE",
];

/// What show-addr lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrFilter {
    All,
    /// `IF/`: every address on one interface.
    Interface(LinkName),
    Object(AddrObj),
}

pub fn create_if_cmd(interface: &LinkName, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("create-if")
        .args(persistence.flag())
        .arg(interface.as_str())
}

pub fn delete_if_cmd(interface: &LinkName) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("delete-if")
        .arg(interface.as_str())
}

pub fn create_static_addr_cmd(addrobj: &AddrObj, addr: Ipv4Cidr, persistence: Persistence) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("create-addr")
        .args(persistence.flag())
        .args(["-T", "static", "-a"])
        .arg(addr.to_string())
        .arg(addrobj.to_string())
}

pub fn delete_addr_cmd(addrobj: &AddrObj) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("delete-addr")
        .arg(addrobj.to_string())
}

pub fn show_addr_cmd(filter: &AddrFilter) -> Cmd {
    let cmd = Cmd::new(Tool::Ipadm)
        .arg("show-addr")
        .args(["-p", "-o"])
        .arg(field_arg(ADDR_FIELDS));
    match filter {
        AddrFilter::All => cmd,
        AddrFilter::Interface(i) => cmd.arg(format!("{i}/")),
        AddrFilter::Object(a) => cmd.arg(a.to_string()),
    }
}

pub fn show_if_cmd(interface: Option<&LinkName>) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("show-if")
        .args(["-p", "-o"])
        .arg(field_arg(IF_FIELDS))
        .args(interface.map(LinkName::as_str))
}

/// `set-ifprop [-t] -p forwarding=on|off -m PROTO IF`.
pub fn set_forwarding_cmd(
    interface: &LinkName,
    protocol: Protocol,
    value: OnOff,
    persistence: Persistence,
) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("set-ifprop")
        .args(persistence.flag())
        .arg("-p")
        .arg(format!("forwarding={}", value.as_str()))
        .args(["-m", protocol.as_str()])
        .arg(interface.as_str())
}

/// `reset-ifprop [-t] -p forwarding -m PROTO IF`: back to the default, with no persistent value.
pub fn reset_forwarding_cmd(
    interface: &LinkName,
    protocol: Protocol,
    persistence: Persistence,
) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("reset-ifprop")
        .args(persistence.flag())
        .args(["-p", "forwarding", "-m", protocol.as_str()])
        .arg(interface.as_str())
}

/// `show-ifprop -c -o FIELDS -p forwarding -m PROTO [IF]` (show-ifprop's parsable flag is
/// `-c`, reference §1.6).
pub fn show_forwarding_cmd(interface: Option<&LinkName>, protocol: Protocol) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("show-ifprop")
        .args(["-c", "-o"])
        .arg(field_arg(IFPROP_FIELDS))
        .args(["-p", "forwarding", "-m", protocol.as_str()])
        .args(interface.map(LinkName::as_str))
}

// ---------------------------------------------------------------------------------------------
// Parsers.

fn parse_address(r: &Record<'_>) -> Result<Address, ParseError> {
    let raw = r.require("ADDROBJ")?;
    let (interface, name) = raw
        .split_once('/')
        .ok_or_else(|| r.error(format!("ADDROBJ {raw:?} has no '/'")))?;
    let interface = interface
        .parse()
        .map_err(|e| r.error(format!("bad ADDROBJ interface: {e}")))?;
    let name = if name == "?" {
        ListedAddrName::Unnamed
    } else if let Ok(n) = name.parse() {
        ListedAddrName::Named(n)
    } else if name.starts_with('_')
        && name.len() <= AddrObjName::MAX_LEN
        && name[1..].bytes().all(|b| b.is_ascii_alphanumeric())
    {
        ListedAddrName::Generated(name.to_owned())
    } else {
        return Err(r.error(format!("bad ADDROBJ name {name:?}")));
    };
    Ok(Address {
        interface,
        name,
        kind: r.parse("TYPE")?,
        state: r.parse("STATE")?,
        addr: r.parse("ADDR")?,
    })
}

/// Parses `show-addr -p -o ADDROBJ,TYPE,STATE,ADDR`.
pub fn parse_show_addr(text: &str) -> Result<Vec<Address>, ParseError> {
    parse_records("ipadm show-addr", text, ADDR_FIELDS, parse_address)
}

/// Parses `show-if -p -o IFNAME,STATE,CURRENT,PERSISTENT`.
pub fn parse_show_if(text: &str) -> Result<Vec<Interface>, ParseError> {
    parse_records("ipadm show-if", text, IF_FIELDS, |r| {
        Ok(Interface {
            name: r.parse("IFNAME")?,
            state: r.parse("STATE")?,
            current: r.require("CURRENT")?.to_owned(),
            persistent: r.require("PERSISTENT")?.to_owned(),
        })
    })
}

/// Parses `show-ifprop -c -o` with [`IFPROP_FIELDS`].
pub fn parse_show_ifprop(text: &str) -> Result<Vec<IfProp>, ParseError> {
    parse_records("ipadm show-ifprop", text, IFPROP_FIELDS, |r| {
        let persistent = r.require("PERSISTENT")?;
        Ok(IfProp {
            interface: r.parse("IFNAME")?,
            property: r.require("PROPERTY")?.to_owned(),
            protocol: r.parse("PROTO")?,
            perm: r.require("PERM")?.to_owned(),
            current: r.require("CURRENT")?.to_owned(),
            persistent: (!persistent.is_empty()).then(|| persistent.to_owned()),
            default: r.require("DEFAULT")?.to_owned(),
            possible: r
                .require("POSSIBLE")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    })
}

/// Parses show-ifprop output for `-p forwarding` into typed on/off values.
pub fn parse_forwarding(text: &str) -> Result<Vec<IfForwarding>, ParseError> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    parse_show_ifprop(text)?
        .into_iter()
        .zip(lines)
        .map(|(p, line)| {
            let bad = |e: String| ParseError::new("ipadm show-ifprop", line, e);
            if p.property != "forwarding" {
                return Err(bad(format!("expected forwarding, found {:?}", p.property)));
            }
            Ok(IfForwarding {
                current: p.current.parse().map_err(bad)?,
                persistent: p
                    .persistent
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(bad)?,
                interface: p.interface,
                protocol: p.protocol,
            })
        })
        .collect()
}

/// The interfaces among `wanted` whose current forwarding is not `want` (and which therefore
/// need `set-ifprop`). Interfaces missing from `current` are included: the set-ifprop will
/// report them as not found.
pub fn forwarding_changes(
    current: &[IfForwarding],
    wanted: &[LinkName],
    want: OnOff,
) -> Vec<LinkName> {
    wanted
        .iter()
        .filter(|name| {
            !current
                .iter()
                .any(|f| &f.interface == *name && f.current == want)
        })
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running.

/// Plumbs an IP interface on a datalink. `AlreadyExists` when it is already plumbed (which an
/// `ensure` caller treats as success), `DatalinkNotFound` when there is no such link.
pub async fn create_if(
    run: &Runner,
    interface: &LinkName,
    persistence: Persistence,
) -> Result<(), CreateIfError> {
    run.output(&create_if_cmd(interface, persistence))
        .await
        .map(drop)
        .map_err(|e| CreateIfError {
            interface: interface.clone(),
            kind: classify(e, classify_create_if),
        })
}

pub async fn delete_if(run: &Runner, interface: &LinkName) -> Result<(), DeleteIfError> {
    run.output(&delete_if_cmd(interface))
        .await
        .map(drop)
        .map_err(|e| DeleteIfError {
            interface: interface.clone(),
            kind: classify(e, classify_delete_if),
        })
}

/// Adds a static IPv4 address. `AlreadyExists` (the address object name is taken),
/// `AddressInUse`, or `InterfaceNotFound`.
pub async fn create_static_addr(
    run: &Runner,
    addrobj: &AddrObj,
    addr: Ipv4Cidr,
    persistence: Persistence,
) -> Result<(), CreateAddrError> {
    run.output(&create_static_addr_cmd(addrobj, addr, persistence))
        .await
        .map(drop)
        .map_err(|e| CreateAddrError {
            addrobj: addrobj.clone(),
            addr,
            kind: classify(e, classify_create_addr),
        })
}

pub async fn delete_addr(run: &Runner, addrobj: &AddrObj) -> Result<(), DeleteAddrError> {
    run.output(&delete_addr_cmd(addrobj))
        .await
        .map(drop)
        .map_err(|e| DeleteAddrError {
            addrobj: addrobj.clone(),
            kind: classify(e, classify_addr_lookup),
        })
}

fn show_err(subcommand: &'static str) -> impl Fn(ParseError) -> ShowError {
    move |e| ShowError {
        subcommand,
        kind: e.into(),
    }
}

/// Lists addresses. A filter naming a missing address object or interface is an empty list.
pub async fn show_addr(run: &Runner, filter: &AddrFilter) -> Result<Vec<Address>, ShowError> {
    match run.output(&show_addr_cmd(filter)).await {
        Ok(out) => parse_show_addr(&out.stdout).map_err(show_err("show-addr")),
        Err(e) => match classify(e, classify_addr_lookup) {
            IpFailure::AddressNotFound | IpFailure::InterfaceNotFound => Ok(Vec::new()),
            kind => Err(ShowError {
                subcommand: "show-addr",
                kind,
            }),
        },
    }
}

/// Lists IP interfaces; a named interface that does not exist is an empty list.
pub async fn show_if(
    run: &Runner,
    interface: Option<&LinkName>,
) -> Result<Vec<Interface>, ShowError> {
    match run.output(&show_if_cmd(interface)).await {
        Ok(out) => parse_show_if(&out.stdout).map_err(show_err("show-if")),
        Err(e) => match classify(e, classify_delete_if) {
            IpFailure::InterfaceNotFound => Ok(Vec::new()),
            kind => Err(ShowError {
                subcommand: "show-if",
                kind,
            }),
        },
    }
}

/// The forwarding property of one or all interfaces; a named interface that does not exist is
/// an empty list.
pub async fn show_forwarding(
    run: &Runner,
    interface: Option<&LinkName>,
    protocol: Protocol,
) -> Result<Vec<IfForwarding>, ShowError> {
    match run.output(&show_forwarding_cmd(interface, protocol)).await {
        Ok(out) => parse_forwarding(&out.stdout).map_err(show_err("show-ifprop")),
        Err(e) => match classify(e, classify_delete_if) {
            IpFailure::InterfaceNotFound => Ok(Vec::new()),
            kind => Err(ShowError {
                subcommand: "show-ifprop",
                kind,
            }),
        },
    }
}

/// Resets an interface's forwarding property to its default (no stored value).
pub async fn reset_forwarding(
    run: &Runner,
    interface: &LinkName,
    protocol: Protocol,
    persistence: Persistence,
) -> Result<(), SetForwardingError> {
    run.output(&reset_forwarding_cmd(interface, protocol, persistence))
        .await
        .map(drop)
        .map_err(|e| SetForwardingError {
            interface: interface.clone(),
            protocol,
            kind: classify(e, classify_delete_if),
        })
}

pub async fn set_forwarding(
    run: &Runner,
    interface: &LinkName,
    protocol: Protocol,
    value: OnOff,
    persistence: Persistence,
) -> Result<(), SetForwardingError> {
    run.output(&set_forwarding_cmd(interface, protocol, value, persistence))
        .await
        .map(drop)
        .map_err(|e| SetForwardingError {
            interface: interface.clone(),
            protocol,
            kind: classify(e, classify_delete_if),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::CommandFailed;

    fn link(s: &str) -> LinkName {
        s.parse().unwrap()
    }

    fn failed(stderr: &str) -> CommandError {
        CommandError::Failed(CommandFailed {
            argv: "ipadm x".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.into(),
            hint: None,
        })
    }

    #[test]
    fn reset_forwarding_argv() {
        assert_eq!(
            reset_forwarding_cmd(&link("net0"), Protocol::Ipv4, Persistence::Persistent).argv(),
            [
                "ipadm",
                "reset-ifprop",
                "-p",
                "forwarding",
                "-m",
                "ipv4",
                "net0"
            ]
        );
    }

    #[test]
    fn create_and_delete_if_argv() {
        assert_eq!(
            create_if_cmd(&link("stub0vnic0"), Persistence::Temporary).argv(),
            ["ipadm", "create-if", "-t", "stub0vnic0"]
        );
        assert_eq!(
            create_if_cmd(&link("stub0vnic0"), Persistence::Persistent).argv(),
            ["ipadm", "create-if", "stub0vnic0"]
        );
        assert_eq!(
            delete_if_cmd(&link("stub0vnic0")).argv(),
            ["ipadm", "delete-if", "stub0vnic0"]
        );
    }

    #[test]
    fn create_static_addr_argv_matches_the_agent_flow() {
        // reference §1.6: ipadm create-addr -t -T static -a 10.10.0.1/24 stub0vnic0/v4
        let a: AddrObj = "stub0vnic0/v4".parse().unwrap();
        assert_eq!(
            create_static_addr_cmd(&a, "10.10.0.1/24".parse().unwrap(), Persistence::Temporary)
                .argv(),
            [
                "ipadm",
                "create-addr",
                "-t",
                "-T",
                "static",
                "-a",
                "10.10.0.1/24",
                "stub0vnic0/v4"
            ]
        );
        assert_eq!(
            delete_addr_cmd(&a).argv(),
            ["ipadm", "delete-addr", "stub0vnic0/v4"]
        );
    }

    #[test]
    fn show_argv() {
        assert_eq!(
            show_addr_cmd(&AddrFilter::All).argv(),
            ["ipadm", "show-addr", "-p", "-o", "ADDROBJ,TYPE,STATE,ADDR"]
        );
        assert_eq!(
            show_addr_cmd(&AddrFilter::Interface(link("net0"))).argv()[5],
            "net0/"
        );
        assert_eq!(
            show_addr_cmd(&AddrFilter::Object("net0/v4".parse().unwrap())).argv()[5],
            "net0/v4"
        );
        assert_eq!(
            show_if_cmd(Some(&link("net0"))).argv(),
            [
                "ipadm",
                "show-if",
                "-p",
                "-o",
                "IFNAME,STATE,CURRENT,PERSISTENT",
                "net0"
            ]
        );
    }

    #[test]
    fn forwarding_argv() {
        // spec: pfexec ipadm set-ifprop -p forwarding=on -m ipv4 {iface}
        assert_eq!(
            set_forwarding_cmd(
                &link("igb0"),
                Protocol::Ipv4,
                OnOff::On,
                Persistence::Persistent
            )
            .argv(),
            [
                "ipadm",
                "set-ifprop",
                "-p",
                "forwarding=on",
                "-m",
                "ipv4",
                "igb0"
            ]
        );
        assert_eq!(
            set_forwarding_cmd(
                &link("igb0"),
                Protocol::Ipv4,
                OnOff::Off,
                Persistence::Temporary
            )
            .argv(),
            [
                "ipadm",
                "set-ifprop",
                "-t",
                "-p",
                "forwarding=off",
                "-m",
                "ipv4",
                "igb0"
            ]
        );
        assert_eq!(
            show_forwarding_cmd(Some(&link("net0")), Protocol::Ipv4).argv(),
            [
                "ipadm",
                "show-ifprop",
                "-c",
                "-o",
                "IFNAME,PROPERTY,PROTO,PERM,CURRENT,PERSISTENT,DEFAULT,POSSIBLE",
                "-p",
                "forwarding",
                "-m",
                "ipv4",
                "net0"
            ]
        );
    }

    #[test]
    fn show_addr_ipv6_loopback_is_unescaped() {
        // reference §1.6, verbatim: ipadm show-addr -p -o ADDROBJ,TYPE,STATE,ADDR
        let out = r"lo0/v4:static:ok:127.0.0.1/8
net0/v4:static:ok:192.168.1.10/24
stub0vnic0/v4:static:ok:10.10.0.1/24
lo0/v6:static:ok:\:\:1/128
";
        let addrs = parse_show_addr(out).unwrap();
        assert_eq!(addrs.len(), 4);
        assert_eq!(
            addrs[2],
            Address {
                interface: link("stub0vnic0"),
                name: ListedAddrName::Named("v4".parse().unwrap()),
                kind: AddrType::Static,
                state: AddrState::Ok,
                addr: ListedAddr::V4("10.10.0.1/24".parse().unwrap()),
            }
        );
        assert_eq!(addrs[2].addrobj().unwrap().to_string(), "stub0vnic0/v4");
        assert_eq!(
            addrs[3].addr,
            ListedAddr::V6 {
                addr: Ipv6Addr::LOCALHOST,
                prefix: 128,
                scope: None
            }
        );
    }

    #[test]
    fn show_addr_link_local_scope_pending_dhcp_and_unnamed() {
        // reference §1.6: link-local with scope; `?` for an unbound DHCP address; `IF/?`
        let out = "net0/v6:addrconf:ok:fe80\\:\\:8\\:20ff\\:fe9b\\:1234%net0/10
net1/dhcp:dhcp:tentative:?
net2/?:static:ok:10.0.0.2/8
net3/_a:addrconf:ok:fe80\\:\\:1%net3/10
net4/v4:static:ok:10.0.0.4
";
        let a = parse_show_addr(out).unwrap();
        assert_eq!(
            a[0].addr,
            ListedAddr::V6 {
                addr: "fe80::8:20ff:fe9b:1234".parse().unwrap(),
                prefix: 10,
                scope: Some("net0".into())
            }
        );
        assert_eq!(a[1].addr, ListedAddr::Pending);
        assert_eq!(a[1].state, AddrState::Tentative);
        assert_eq!(a[2].name, ListedAddrName::Unnamed);
        assert_eq!(a[2].addrobj(), None);
        assert_eq!(a[3].name, ListedAddrName::Generated("_a".into()));
        // "no /len if prefix 0"
        assert_eq!(a[4].addr, ListedAddr::V4("10.0.0.4/0".parse().unwrap()));
    }

    #[test]
    fn show_addr_bad_lines_are_quoted() {
        for bad in [
            "net0:static:ok:1.2.3.4/8",
            "net0/v4:static:ok:1.2.3.400/8",
            "net0/v;4:static:ok:1.2.3.4/8",
            "net0/v4:static:ok",
        ] {
            let err = parse_show_addr(bad).unwrap_err();
            assert_eq!(err.line, bad);
        }
    }

    #[test]
    fn show_if_sample() {
        // reference §1.6, verbatim: ipadm show-if -p -o IFNAME,STATE,CURRENT,PERSISTENT
        let out = "lo0:ok:-m-v------46:---
net0:ok:bm--------4-:-4-
";
        let ifs = parse_show_if(out).unwrap();
        assert_eq!(ifs[1].name, link("net0"));
        assert_eq!(ifs[1].state, IfState::Ok);
        assert_eq!(ifs[1].current, "bm--------4-");
        assert!(ifs[1].has_ipv4());
        assert_eq!(ifs[0].persistent, "---");
    }

    #[test]
    fn show_ifprop_forwarding_sample_has_empty_persistent() {
        // reference §1.6, verbatim: ipadm show-ifprop -p forwarding -m ipv4 -c -o IFNAME,...
        let out = "net0:forwarding:ipv4:rw:on::off:on,off\n";
        let props = parse_show_ifprop(out).unwrap();
        assert_eq!(props[0].persistent, None);
        assert_eq!(props[0].possible, ["on", "off"]);
        let fwd = parse_forwarding(out).unwrap();
        assert_eq!(
            fwd,
            [IfForwarding {
                interface: link("net0"),
                protocol: Protocol::Ipv4,
                current: OnOff::On,
                persistent: None
            }]
        );
    }

    #[test]
    fn forwarding_value_other_than_on_off_is_an_error() {
        let err = parse_forwarding("net0:forwarding:ipv4:rw:maybe::off:on,off\n").unwrap_err();
        assert_eq!(err.line, "net0:forwarding:ipv4:rw:maybe::off:on,off");
        assert!(parse_forwarding("net0:mtu:ipv4:rw:1500::1500:\n").is_err());
    }

    #[test]
    fn forwarding_changes_only_lists_what_differs() {
        let current = parse_forwarding(
            "igb0:forwarding:ipv4:rw:on:on:off:on,off\nstub0vnic0:forwarding:ipv4:rw:off::off:on,off\n",
        )
        .unwrap();
        let wanted = [link("igb0"), link("stub0vnic0"), link("vnic9")];
        assert_eq!(
            forwarding_changes(&current, &wanted, OnOff::On),
            [link("stub0vnic0"), link("vnic9")]
        );
        assert_eq!(
            forwarding_changes(&current, &wanted[..1], OnOff::On),
            Vec::<LinkName>::new()
        );
        assert_eq!(
            forwarding_changes(&current, &wanted[..2], OnOff::Off),
            [link("igb0")]
        );
    }

    #[test]
    fn create_if_existing_is_already_exists_despite_the_space_before_the_colon() {
        let k = classify(
            failed("ipadm: Could not create stub0vnic0 : Interface already exists\n"),
            classify_create_if,
        );
        assert!(matches!(k, IpFailure::AlreadyExists), "{k:?}");
        let k = classify(
            failed("ipadm: Could not create vnic9 : Datalink does not exist\n"),
            classify_create_if,
        );
        assert!(matches!(k, IpFailure::DatalinkNotFound), "{k:?}");
    }

    #[test]
    fn create_addr_failures() {
        let k = classify(
            failed("ipadm: Could not create address: Address object already exists\n"),
            classify_create_addr,
        );
        assert!(matches!(k, IpFailure::AlreadyExists), "{k:?}");
        let k = classify(
            failed("ipadm: Could not create address: Address already in use\n"),
            classify_create_addr,
        );
        assert!(matches!(k, IpFailure::AddressInUse), "{k:?}");
    }

    #[test]
    fn address_lookup_not_found_old_and_new_wording() {
        for s in [
            "ipadm: could not delete address: Object not found\n",
            "ipadm: Could not get address: Object not found\n",
            "ipadm: Address object not found\n",
        ] {
            let k = classify(failed(s), classify_addr_lookup);
            assert!(matches!(k, IpFailure::AddressNotFound), "{s}: {k:?}");
        }
    }

    #[test]
    fn interface_missing_old_and_new_wording() {
        for s in [
            "ipadm: Could not delete IF: Interface does not exist\n",
            "ipadm: no such object 'net9': Interface does not exist\n",
            "ipadm: set-ifprop: forwarding: No such interface\n",
        ] {
            let k = classify(failed(s), classify_delete_if);
            assert!(matches!(k, IpFailure::InterfaceNotFound), "{s}: {k:?}");
        }
    }
}
