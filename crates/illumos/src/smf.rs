//! SMF: `svcs` (state), `svcadm` (enable, disable, refresh, restart, clear), `svccfg`
//! (setprop, listprop) and `svcprop` (reads) — reference §1.8.
//!
//! Only full instance FMRIs reach a command: abbreviations are fnmatch patterns that can match
//! more than the caller meant.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::InvalidValue;
use crate::parsable::ParseError;
use crate::persistence::Persistence;
use crate::runner::{CommandError, Runner};

// ---------------------------------------------------------------------------------------------
// Failure phrases and exit codes (reference §1.8, §2).

/// `svcs: Pattern 'X' doesn't match any instances` (also svcadm; svccfg adds `or services`).
pub const NO_MATCH: &str = "doesn't match any";
/// svccfg `No such property` (Oxide matches it for delpropvalue idempotence).
pub const NO_SUCH_PROPERTY: &str = "No such property";
/// svcprop's text for an unknown property or group: `Couldn't find property ...` /
/// `Couldn't find property group ...`. **Unverified** (reference §1.8 leaves svcprop's error
/// text open); exit status 1 either way.
pub const SVCPROP_NOT_FOUND: &str = "Couldn't find property";
/// `svcadm -s`: the instance cannot reach the wanted state because of a problem with itself
/// (e.g. it went to maintenance).
pub const EXIT_INSTANCE_PROBLEM: i32 = 3;
/// `svcadm -s`: ... because of its dependencies.
pub const EXIT_DEPENDENCY_PROBLEM: i32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum SmfFailure {
    #[error("no such service instance")]
    NotFound,
    #[error("no such property")]
    PropertyNotFound,
    #[error("the instance cannot reach the wanted state (it needs an administrator)")]
    InstanceProblem,
    #[error("the instance cannot reach the wanted state because of its dependencies")]
    DependencyProblem,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

pub(crate) fn classify(err: CommandError) -> SmfFailure {
    let kind = match &err {
        CommandError::Failed(f) if f.stderr.contains(NO_MATCH) => Some(SmfFailure::NotFound),
        CommandError::Failed(f)
            if f.stderr.contains(NO_SUCH_PROPERTY) || f.stderr.contains(SVCPROP_NOT_FOUND) =>
        {
            Some(SmfFailure::PropertyNotFound)
        }
        _ => None,
    };
    kind.unwrap_or(SmfFailure::Command(err))
}

/// svcadm: exit codes 3 and 4 only come from `-s` waits.
fn classify_svcadm(err: CommandError) -> SmfFailure {
    match &err {
        CommandError::Failed(f) if f.code == Some(EXIT_INSTANCE_PROBLEM) => {
            SmfFailure::InstanceProblem
        }
        CommandError::Failed(f) if f.code == Some(EXIT_DEPENDENCY_PROBLEM) => {
            SmfFailure::DependencyProblem
        }
        _ => classify(err),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the state of {fmri}")]
pub struct SvcsError {
    pub fmri: String,
    #[source]
    pub kind: SmfFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("svcadm {action} {fmri} failed")]
pub struct SvcadmError {
    pub action: &'static str,
    pub fmri: Fmri,
    #[source]
    pub kind: SmfFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("svccfg {action} on {fmri} failed")]
pub struct SvccfgError {
    pub action: &'static str,
    pub fmri: Fmri,
    #[source]
    pub kind: SmfFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {prop} of {fmri}")]
pub struct SvcpropError {
    pub fmri: Fmri,
    pub prop: PropName,
    #[source]
    pub kind: SmfFailure,
}

// ---------------------------------------------------------------------------------------------
// Names.

/// Max length of one name (`REP_PROTOCOL_NAME_LEN` 120 with the NUL).
const NAME_MAX: usize = 119;
/// Max length of an FMRI.
const FMRI_MAX: usize = 720;

/// One SMF name component: starts with a letter; letters, digits, `-`, `_`; optionally a
/// `VENDOR,name` stock-symbol prefix (reference §3).
fn check_component(what: &'static str, whole: &str, c: &str) -> Result<(), InvalidValue> {
    let bad = |reason| Err(InvalidValue::new(what, whole, reason));
    if c.is_empty() {
        return bad("has an empty name component");
    }
    if c.len() > NAME_MAX {
        return bad("has a name component longer than 119 characters");
    }
    let mut parts = c.splitn(2, ',');
    for part in parts.by_ref() {
        let b = part.as_bytes();
        if b.is_empty() || !b[0].is_ascii_alphabetic() {
            return bad("name components must start with a letter");
        }
        if !b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        {
            return bad("name components may contain only letters, digits, '-' and '_'");
        }
    }
    Ok(())
}

/// A full service-instance FMRI: `svc:/network/ipfilter:default`. `svc://localhost/...` is
/// accepted and normalised to `svc:/...`; abbreviations and patterns are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fmri(String);

impl Fmri {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `network/ipfilter` of `svc:/network/ipfilter:default`.
    pub fn service(&self) -> &str {
        let rest = &self.0["svc:/".len()..];
        &rest[..rest.rfind(':').expect("validated")]
    }

    /// `default` of `svc:/network/ipfilter:default`.
    pub fn instance(&self) -> &str {
        &self.0[self.0.rfind(':').expect("validated") + 1..]
    }
}

impl FromStr for Fmri {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("FMRI", s, reason));
        if s.len() > FMRI_MAX {
            return bad("is longer than 720 characters");
        }
        let rest = if let Some(r) = s.strip_prefix("svc://localhost/") {
            r
        } else if let Some(r) = s.strip_prefix("svc:/") {
            if r.starts_with('/') {
                return bad("only the localhost scope is supported");
            }
            r
        } else {
            return bad("must be a full FMRI starting with svc:/");
        };
        let Some((service, instance)) = rest.rsplit_once(':') else {
            return bad("must name an instance (svc:/SERVICE:INSTANCE)");
        };
        for c in service.split('/') {
            check_component("FMRI", s, c)?;
        }
        check_component("FMRI", s, instance)?;
        Ok(Fmri(format!("svc:/{service}:{instance}")))
    }
}

impl fmt::Display for Fmri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A property name, `pg/prop` (`config/listen_ifnames`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    group: String,
    name: String,
}

impl PropName {
    pub fn group(&self) -> &str {
        &self.group
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for PropName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (group, name) = s
            .split_once('/')
            .ok_or_else(|| InvalidValue::new("property name", s, "must be GROUP/NAME"))?;
        check_component("property name", s, group)?;
        check_component("property name", s, name)?;
        Ok(PropName {
            group: group.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for PropName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.name)
    }
}

/// A string property value the agent writes (a path, an interface name, a daemon argument).
///
/// svccfg joins its arguments with spaces and re-lexes the line, like zonecfg (reference
/// §1.8: values may be double-quoted with `\"` and `\\` escapes), so besides being quoted when
/// rendered the value is kept to a conservative set: printable ASCII without whitespace,
/// quotes, backslashes or shell/lexer metacharacters, no `..`, at most 1024 bytes. A value with
/// spaces is written as a list of several strings instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmfString(String);

impl SmfString {
    pub const MAX_LEN: usize = 1024;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SmfString {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("property value", s, reason));
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() > Self::MAX_LEN {
            return bad("must be at most 1024 bytes");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'\\;`$|&()<>{}*?#".contains(&b))
        {
            return bad(
                "may contain only printable ASCII without whitespace, quotes or metacharacters",
            );
        }
        if s.contains("..") {
            return bad("must not contain '..'");
        }
        Ok(SmfString(s.to_owned()))
    }
}

impl fmt::Display for SmfString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SMF property types (libscf's complete list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropType {
    Boolean,
    Count,
    Integer,
    Time,
    Astring,
    Ustring,
    Opaque,
    Uri,
    Fmri,
    Host,
    Hostname,
    NetAddress,
    NetAddressV4,
    NetAddressV6,
}

impl PropType {
    const ALL: [PropType; 14] = [
        PropType::Boolean,
        PropType::Count,
        PropType::Integer,
        PropType::Time,
        PropType::Astring,
        PropType::Ustring,
        PropType::Opaque,
        PropType::Uri,
        PropType::Fmri,
        PropType::Host,
        PropType::Hostname,
        PropType::NetAddress,
        PropType::NetAddressV4,
        PropType::NetAddressV6,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PropType::Boolean => "boolean",
            PropType::Count => "count",
            PropType::Integer => "integer",
            PropType::Time => "time",
            PropType::Astring => "astring",
            PropType::Ustring => "ustring",
            PropType::Opaque => "opaque",
            PropType::Uri => "uri",
            PropType::Fmri => "fmri",
            PropType::Host => "host",
            PropType::Hostname => "hostname",
            PropType::NetAddress => "net_address",
            PropType::NetAddressV4 => "net_address_v4",
            PropType::NetAddressV6 => "net_address_v6",
        }
    }
}

impl FromStr for PropType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PropType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown property type {s:?}"))
    }
}

/// A typed value for `svccfg setprop`. The type is always written, so setprop also creates a
/// missing property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    Astring(SmfString),
    /// Several astring values: `astring: ("a" "b")`; empty clears the property's values.
    Astrings(Vec<SmfString>),
    /// One empty astring value, `astring: ""`: how some manifests say "none set" (OmniOS's
    /// DHCP `config/listen_ifnames`, reference §1.11).
    EmptyAstring,
    Boolean(bool),
    Count(u64),
    Integer(i64),
    NetAddressV4(Ipv4Addr),
}

impl PropValue {
    pub fn prop_type(&self) -> PropType {
        match self {
            PropValue::Astring(_) | PropValue::Astrings(_) | PropValue::EmptyAstring => {
                PropType::Astring
            }
            PropValue::Boolean(_) => PropType::Boolean,
            PropValue::Count(_) => PropType::Count,
            PropValue::Integer(_) => PropType::Integer,
            PropValue::NetAddressV4(_) => PropType::NetAddressV4,
        }
    }

    /// The value tokens after `TYPE:`; strings always double-quoted and escaped.
    fn tokens(&self) -> Vec<String> {
        fn quote(s: &SmfString) -> String {
            let mut out = String::with_capacity(s.0.len() + 2);
            out.push('"');
            for c in s.0.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            out
        }
        match self {
            PropValue::Astring(s) => vec![quote(s)],
            PropValue::Astrings(list) => std::iter::once("(".to_owned())
                .chain(list.iter().map(quote))
                .chain(std::iter::once(")".to_owned()))
                .collect(),
            PropValue::EmptyAstring => vec!["\"\"".to_owned()],
            PropValue::Boolean(b) => vec![b.to_string()],
            PropValue::Count(n) => vec![n.to_string()],
            PropValue::Integer(n) => vec![n.to_string()],
            PropValue::NetAddressV4(a) => vec![a.to_string()],
        }
    }
}

/// `STATE` of svcs (and `restarter/state` from svcprop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceState {
    Online,
    Offline,
    Disabled,
    Maintenance,
    Degraded,
    Uninitialized,
    LegacyRun,
    /// `?`: svcs has no state for the instance.
    Absent,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Online => "online",
            ServiceState::Offline => "offline",
            ServiceState::Disabled => "disabled",
            ServiceState::Maintenance => "maintenance",
            ServiceState::Degraded => "degraded",
            ServiceState::Uninitialized => "uninitialized",
            ServiceState::LegacyRun => "legacy_run",
            ServiceState::Absent => "?",
        }
    }

    /// Online or degraded: what `svcadm enable -s` waits for.
    pub fn is_running(self) -> bool {
        matches!(self, ServiceState::Online | ServiceState::Degraded)
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "online" => ServiceState::Online,
            "offline" => ServiceState::Offline,
            "disabled" => ServiceState::Disabled,
            "maintenance" => ServiceState::Maintenance,
            "degraded" => ServiceState::Degraded,
            "uninitialized" => ServiceState::Uninitialized,
            "legacy_run" => ServiceState::LegacyRun,
            "?" => ServiceState::Absent,
            other => return Err(format!("unknown service state {other:?}")),
        })
    }
}

/// One line of `svcs -H -o state,ctid,fmri`: the state and the instance's primary contract
/// (`None`: `-`, none). Each start of a contract service is a new contract, so a restart is
/// over once the instance has settled on another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractStatus {
    pub status: ServiceStatus,
    pub ctid: Option<u64>,
}

/// One line of `svcs -H -o state,fmri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub fmri: Fmri,
    pub state: ServiceState,
    /// A trailing `*` on the state: the instance is moving to another state.
    pub transitioning: bool,
}

/// One line of `svccfg listprop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A property group line: its name and group type (`application`, `framework`, ...).
    Group { name: String, group_type: String },
    Property {
        name: PropName,
        prop_type: PropType,
        values: Vec<String>,
    },
}

// ---------------------------------------------------------------------------------------------
// Commands.

/// Whether `svcadm` waits for the end state (`-s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wait {
    /// Return once the request is recorded; the instance gets there on its own.
    No,
    /// `-s`: wait until online/degraded (enable) or disabled (disable); exit 3/4 when it
    /// cannot get there without an administrator.
    ForState,
}

pub fn svcs_cmd(fmris: &[Fmri]) -> Cmd {
    Cmd::new(Tool::Svcs)
        .args(["-H", "-o", "state,fmri"])
        .args(fmris.iter().map(Fmri::as_str))
}

pub fn svcs_contract_cmd(fmri: &Fmri) -> Cmd {
    Cmd::new(Tool::Svcs)
        .args(["-H", "-o", "state,ctid,fmri"])
        .arg(fmri.as_str())
}

fn svcadm(action: &'static str, flags: &[&str], fmri: &Fmri) -> Cmd {
    Cmd::new(Tool::Svcadm)
        .arg(action)
        .args(flags)
        .arg(fmri.as_str())
}

fn wait_flags(wait: Wait, persistence: Persistence) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if wait == Wait::ForState {
        flags.push("-s");
    }
    flags.extend(persistence.flag());
    flags
}

pub fn enable_cmd(fmri: &Fmri, wait: Wait, persistence: Persistence) -> Cmd {
    svcadm("enable", &wait_flags(wait, persistence), fmri)
}

pub fn disable_cmd(fmri: &Fmri, wait: Wait, persistence: Persistence) -> Cmd {
    svcadm("disable", &wait_flags(wait, persistence), fmri)
}

pub fn refresh_cmd(fmri: &Fmri) -> Cmd {
    svcadm("refresh", &[], fmri)
}

pub fn restart_cmd(fmri: &Fmri) -> Cmd {
    svcadm("restart", &[], fmri)
}

pub fn clear_cmd(fmri: &Fmri) -> Cmd {
    svcadm("clear", &[], fmri)
}

/// `svccfg -s FMRI setprop pg/name = TYPE: VALUE`. Takes effect after a refresh.
pub fn setprop_cmd(fmri: &Fmri, prop: &PropName, value: &PropValue) -> Cmd {
    Cmd::new(Tool::Svccfg)
        .args(["-s", fmri.as_str(), "setprop"])
        .arg(prop.to_string())
        .arg("=")
        .arg(format!("{}:", value.prop_type().as_str()))
        .args(value.tokens())
}

/// `svccfg -s FMRI listprop [pg/name]`.
pub fn listprop_cmd(fmri: &Fmri, prop: Option<&PropName>) -> Cmd {
    Cmd::new(Tool::Svccfg)
        .args(["-s", fmri.as_str(), "listprop"])
        .args(prop.map(PropName::to_string))
}

/// `svcprop -p pg/name FMRI`.
pub fn svcprop_cmd(fmri: &Fmri, prop: &PropName) -> Cmd {
    Cmd::new(Tool::Svcprop)
        .arg("-p")
        .arg(prop.to_string())
        .arg(fmri.as_str())
}

// ---------------------------------------------------------------------------------------------
// Parsers.

/// Parses `svcs -H -o state,fmri`: two whitespace-separated columns (the STATE column is
/// padded to 14). Legacy `lrc:/` entries are not instance FMRIs and are an error; they only
/// appear when listing everything, which the agent does not do.
pub fn parse_svcs(text: &str) -> Result<Vec<ServiceStatus>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [state, fmri] = cols[..] else {
                return Err(ParseError::new(
                    "svcs",
                    line,
                    format!("expected 2 columns, found {}", cols.len()),
                ));
            };
            status(line, state, fmri)
        })
        .collect()
}

/// The lines of `svcs -H -o state,ctid,fmri`.
pub fn parse_svcs_contracts(text: &str) -> Result<Vec<ContractStatus>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = |r: String| ParseError::new("svcs", line, r);
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [state, ctid, fmri] = cols[..] else {
                return Err(bad(format!("expected 3 columns, found {}", cols.len())));
            };
            // svcs marks with `*` an instance that names more than one primary contract.
            let ctid = match ctid.trim_end_matches('*') {
                "-" => None,
                n => Some(
                    n.parse()
                        .map_err(|_| bad(format!("bad contract id {ctid:?}")))?,
                ),
            };
            Ok(ContractStatus {
                status: status(line, state, fmri)?,
                ctid,
            })
        })
        .collect()
}

fn status(line: &str, state: &str, fmri: &str) -> Result<ServiceStatus, ParseError> {
    let bad = |r: String| ParseError::new("svcs", line, r);
    let (state, transitioning) = match state.strip_suffix('*') {
        Some(s) => (s, true),
        None => (state, false),
    };
    Ok(ServiceStatus {
        fmri: fmri.parse().map_err(|e: InvalidValue| bad(e.to_string()))?,
        state: state.parse().map_err(bad)?,
        transitioning,
    })
}

/// Splits a line of svcprop/listprop values: whitespace separates values, `\` escapes the next
/// character, and a double-quoted run is one value (listprop quotes strings with spaces;
/// svcprop prints an empty string as `""`).
pub(crate) fn split_values(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut value = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !quoted {
                break;
            }
            chars.next();
            match c {
                '\\' => value.push(chars.next().ok_or("line ends in a lone backslash")?),
                '"' => quoted = !quoted,
                _ => value.push(c),
            }
        }
        if quoted {
            return Err("unterminated quote".into());
        }
        out.push(value);
    }
}

/// Parses `svcprop -p pg/name FMRI`: the property's values on one line.
pub fn parse_svcprop(text: &str) -> Result<Vec<String>, ParseError> {
    let line = text.trim_end_matches('\n');
    if line.contains('\n') {
        return Err(ParseError::new("svcprop", line, "expected one line"));
    }
    split_values(line).map_err(|e| ParseError::new("svcprop", line, e))
}

/// Parses `svccfg listprop`: `NAME  TYPE  VALUE...` per property and `NAME  TYPE` per group.
/// A name with a `/` is a property (which may have no values); without one, a group.
pub fn parse_listprop(text: &str) -> Result<Vec<Listed>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = |r: String| ParseError::new("svccfg listprop", line, r);
            let mut it = line.trim_start().splitn(2, char::is_whitespace);
            let name = it.next().unwrap_or_default();
            let rest = it.next().unwrap_or_default().trim_start();
            let (ty, values) = match rest.split_once(char::is_whitespace) {
                Some((t, v)) => (t, v),
                None => (rest, ""),
            };
            if ty.is_empty() {
                return Err(bad("no type column".into()));
            }
            if name.contains('/') {
                Ok(Listed::Property {
                    name: name.parse().map_err(|e: InvalidValue| bad(e.to_string()))?,
                    prop_type: ty.parse().map_err(bad)?,
                    values: split_values(values).map_err(bad)?,
                })
            } else {
                if !values.trim().is_empty() {
                    return Err(bad("a property group line has no values".into()));
                }
                Ok(Listed::Group {
                    name: name.to_owned(),
                    group_type: ty.to_owned(),
                })
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running.

/// Whether a failed svcs said only that some operands match no instance. An exit 1 with
/// nothing on stderr is a failure like any other, not "no such instance".
fn only_unmatched(stderr: &str) -> bool {
    let mut lines = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
    lines.peek().is_some() && lines.all(|l| l.contains(NO_MATCH))
}

/// The states of the given instances. Instances that do not exist are left out: svcs reports
/// them on stderr and still prints the others (exit 1).
pub async fn svcs(run: &Runner, fmris: &[Fmri]) -> Result<Vec<ServiceStatus>, SvcsError> {
    let named = fmris.iter().map(Fmri::as_str).collect::<Vec<_>>().join(" ");
    let stdout = svcs_output(run, &svcs_cmd(fmris), &named).await?;
    parse_svcs(&stdout).map_err(|e| SvcsError {
        fmri: named,
        kind: e.into(),
    })
}

/// What an `svcs` printed: an operand that matches no instance is reported on stderr (exit 1)
/// and the others still printed, so that is not a failure.
async fn svcs_output(run: &Runner, cmd: &Cmd, named: &str) -> Result<String, SvcsError> {
    match run.output(cmd).await {
        Ok(out) => Ok(out.stdout),
        Err(CommandError::Failed(f)) if only_unmatched(&f.stderr) => Ok(f.stdout),
        Err(e) => Err(SvcsError {
            fmri: named.to_owned(),
            kind: classify(e),
        }),
    }
}

/// The state of one instance, `None` if it does not exist.
pub async fn service_state(run: &Runner, fmri: &Fmri) -> Result<Option<ServiceStatus>, SvcsError> {
    Ok(svcs(run, std::slice::from_ref(fmri))
        .await?
        .into_iter()
        .find(|s| &s.fmri == fmri))
}

/// One instance's state and primary contract, `None` if it does not exist.
pub async fn contract_status(
    run: &Runner,
    fmri: &Fmri,
) -> Result<Option<ContractStatus>, SvcsError> {
    let stdout = svcs_output(run, &svcs_contract_cmd(fmri), fmri.as_str()).await?;
    Ok(parse_svcs_contracts(&stdout)
        .map_err(|e| SvcsError {
            fmri: fmri.as_str().to_owned(),
            kind: e.into(),
        })?
        .into_iter()
        .find(|s| &s.status.fmri == fmri))
}

async fn svcadm_run(
    run: &Runner,
    action: &'static str,
    cmd: Cmd,
    fmri: &Fmri,
) -> Result<(), SvcadmError> {
    run.output(&cmd).await.map(drop).map_err(|e| SvcadmError {
        action,
        fmri: fmri.clone(),
        kind: classify_svcadm(e),
    })
}

pub async fn enable(
    run: &Runner,
    fmri: &Fmri,
    wait: Wait,
    persistence: Persistence,
) -> Result<(), SvcadmError> {
    svcadm_run(run, "enable", enable_cmd(fmri, wait, persistence), fmri).await
}

pub async fn disable(
    run: &Runner,
    fmri: &Fmri,
    wait: Wait,
    persistence: Persistence,
) -> Result<(), SvcadmError> {
    svcadm_run(run, "disable", disable_cmd(fmri, wait, persistence), fmri).await
}

pub async fn refresh(run: &Runner, fmri: &Fmri) -> Result<(), SvcadmError> {
    svcadm_run(run, "refresh", refresh_cmd(fmri), fmri).await
}

/// Restarts an online or degraded instance (svcadm does nothing for others).
pub async fn restart(run: &Runner, fmri: &Fmri) -> Result<(), SvcadmError> {
    svcadm_run(run, "restart", restart_cmd(fmri), fmri).await
}

/// Clears maintenance (or degraded) so the instance tries to come online again.
pub async fn clear(run: &Runner, fmri: &Fmri) -> Result<(), SvcadmError> {
    svcadm_run(run, "clear", clear_cmd(fmri), fmri).await
}

/// Sets a property in the editing snapshot; call [`refresh`] for it to take effect.
pub async fn setprop(
    run: &Runner,
    fmri: &Fmri,
    prop: &PropName,
    value: &PropValue,
) -> Result<(), SvccfgError> {
    run.output(&setprop_cmd(fmri, prop, value))
        .await
        .map(drop)
        .map_err(|e| SvccfgError {
            action: "setprop",
            fmri: fmri.clone(),
            kind: classify(e),
        })
}

pub async fn listprop(
    run: &Runner,
    fmri: &Fmri,
    prop: Option<&PropName>,
) -> Result<Vec<Listed>, SvccfgError> {
    let err = |kind| SvccfgError {
        action: "listprop",
        fmri: fmri.clone(),
        kind,
    };
    let out = run
        .output(&listprop_cmd(fmri, prop))
        .await
        .map_err(|e| err(classify(e)))?;
    parse_listprop(&out.stdout).map_err(|e| err(e.into()))
}

/// The values of a property, `None` when the property (or its group) does not exist.
pub async fn svcprop(
    run: &Runner,
    fmri: &Fmri,
    prop: &PropName,
) -> Result<Option<Vec<String>>, SvcpropError> {
    let err = |kind| SvcpropError {
        fmri: fmri.clone(),
        prop: prop.clone(),
        kind,
    };
    match run.output(&svcprop_cmd(fmri, prop)).await {
        Ok(out) => parse_svcprop(&out.stdout)
            .map(Some)
            .map_err(|e| err(e.into())),
        Err(e) => match classify(e) {
            SmfFailure::PropertyNotFound => Ok(None),
            kind => Err(err(kind)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsable::hostile_variants;
    use crate::runner::CommandFailed;

    fn fmri(s: &str) -> Fmri {
        s.parse().unwrap()
    }

    fn failed(code: i32, stderr: &str) -> CommandError {
        CommandError::Failed(CommandFailed {
            argv: "svcadm x".into(),
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
            hint: None,
        })
    }

    #[test]
    fn fmri_full_forms() {
        let f = fmri("svc:/network/ipfilter:default");
        assert_eq!(f.service(), "network/ipfilter");
        assert_eq!(f.instance(), "default");
        assert_eq!(
            fmri("svc://localhost/network/service/dhcp:ipv4").as_str(),
            "svc:/network/service/dhcp:ipv4"
        );
        assert_eq!(
            fmri("svc:/site/SUNW,foo-bar_1:i0").as_str(),
            "svc:/site/SUNW,foo-bar_1:i0"
        );
    }

    #[test]
    fn fmri_refuses_abbreviations_patterns_and_legacy() {
        for bad in [
            "network/ipfilter",
            "ipfilter:default",
            ":default",
            "svc:/network/ipfilter",
            "svc:/network/*:default",
            "svc:/network//ipfilter:default",
            "svc://otherhost/network/ipfilter:default",
            "svc:/1net/ipfilter:default",
            "svc:/network/ipfilter:",
            "lrc:/etc/rc2_d/S20sysetup",
            "svc:/a,b,c:default",
        ] {
            assert!(bad.parse::<Fmri>().is_err(), "{bad}");
        }
        let long = format!("svc:/{}:default", "a".repeat(120));
        assert!(long.parse::<Fmri>().is_err());
        for v in hostile_variants("svc:/network/ipfilter:default") {
            assert!(v.parse::<Fmri>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn prop_names_and_values_are_validated() {
        let p: PropName = "config/listen_ifnames".parse().unwrap();
        assert_eq!((p.group(), p.name()), ("config", "listen_ifnames"));
        for bad in ["config", "config/", "/x", "config/a/b", "config/1x"] {
            assert!(bad.parse::<PropName>().is_err(), "{bad}");
        }
        for v in hostile_variants("config/listen_ifnames") {
            assert!(v.parse::<PropName>().is_err(), "{v:?}");
        }
        assert!("/etc/ipf/ipnat.conf".parse::<SmfString>().is_ok());
        for v in hostile_variants("/etc/ipf/ipnat.conf") {
            assert!(v.parse::<SmfString>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn svcs_columns_are_padded_and_parsed_by_whitespace() {
        // reference §1.8, verbatim: svcs -H -o state,fmri ...
        let out = "online         svc:/network/ipfilter:default
disabled       svc:/network/ipv4-forwarding:default
";
        let s = parse_svcs(out).unwrap();
        assert_eq!(
            s[0],
            ServiceStatus {
                fmri: fmri("svc:/network/ipfilter:default"),
                state: ServiceState::Online,
                transitioning: false
            }
        );
        assert_eq!(s[1].state, ServiceState::Disabled);
    }

    #[test]
    fn svcs_star_marks_a_transition_and_question_mark_is_absent() {
        let s = parse_svcs(
            "offline*       svc:/network/service/dhcp:ipv4\n?              svc:/site/x:default\n",
        )
        .unwrap();
        assert_eq!(s[0].state, ServiceState::Offline);
        assert!(s[0].transitioning);
        assert_eq!(s[1].state, ServiceState::Absent);
    }

    #[test]
    fn svcs_every_state_name() {
        for st in [
            "online",
            "offline",
            "disabled",
            "maintenance",
            "degraded",
            "uninitialized",
            "legacy_run",
        ] {
            let parsed: ServiceState = st.parse().unwrap();
            assert_eq!(parsed.as_str(), st);
        }
        assert!("running".parse::<ServiceState>().is_err());
        assert!(ServiceState::Degraded.is_running());
    }

    #[test]
    fn svcs_contract_ids_are_numbers_or_a_dash() {
        let s = parse_svcs_contracts(
            "online*          83 svc:/network/service/dhcp:ipv4\ndisabled          - svc:/network/ipv4-forwarding:default\n",
        )
        .unwrap();
        assert_eq!(s[0].ctid, Some(83));
        assert!(s[0].status.transitioning);
        assert_eq!(s[0].status.state, ServiceState::Online);
        assert_eq!(s[1].ctid, None);
        let many = parse_svcs_contracts("online 91* svc:/a:b\n").unwrap();
        assert_eq!(many[0].ctid, Some(91));
        assert!(parse_svcs_contracts("online 8x svc:/a:b\n").is_err());
        assert!(parse_svcs_contracts("online svc:/a:b\n").is_err());
    }

    #[test]
    fn svcs_bad_lines_are_errors() {
        // the legacy line of the reference's svcs -Za sample: not an instance FMRI
        let err = parse_svcs("legacy_run     lrc:/etc/rc2_d/S20sysetup\n").unwrap_err();
        assert!(err.line.contains("lrc:/"));
        assert!(parse_svcs("online\n").is_err());
        assert!(parse_svcs("sleepy   svc:/a:b\n").is_err());
    }

    #[test]
    fn svcadm_argv() {
        let f = fmri("svc:/network/ipfilter:default");
        assert_eq!(
            enable_cmd(&f, Wait::ForState, Persistence::Persistent).argv(),
            ["svcadm", "enable", "-s", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            enable_cmd(&f, Wait::ForState, Persistence::Temporary).argv(),
            [
                "svcadm",
                "enable",
                "-s",
                "-t",
                "svc:/network/ipfilter:default"
            ]
        );
        assert_eq!(
            disable_cmd(&f, Wait::No, Persistence::Temporary).argv(),
            ["svcadm", "disable", "-t", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            disable_cmd(&f, Wait::No, Persistence::Persistent).argv(),
            ["svcadm", "disable", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            refresh_cmd(&f).argv(),
            ["svcadm", "refresh", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            restart_cmd(&f).argv(),
            ["svcadm", "restart", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            clear_cmd(&f).argv(),
            ["svcadm", "clear", "svc:/network/ipfilter:default"]
        );
        assert_eq!(
            svcs_cmd(std::slice::from_ref(&f)).argv(),
            [
                "svcs",
                "-H",
                "-o",
                "state,fmri",
                "svc:/network/ipfilter:default"
            ]
        );
    }

    #[test]
    fn setprop_argv_quotes_strings_for_svccfg_relexing() {
        let f = fmri("svc:/network/service/dhcp:ipv4");
        let p: PropName = "config/listen_ifnames".parse().unwrap();
        let v = PropValue::Astrings(vec!["provision_interconnect0".parse().unwrap()]);
        assert_eq!(
            setprop_cmd(&f, &p, &v).argv(),
            [
                "svccfg",
                "-s",
                "svc:/network/service/dhcp:ipv4",
                "setprop",
                "config/listen_ifnames",
                "=",
                "astring:",
                "(",
                "\"provision_interconnect0\"",
                ")"
            ]
        );
        // reference §1.8 example: setprop config/port = count: 8080
        let port: PropName = "config/port".parse().unwrap();
        assert_eq!(
            setprop_cmd(
                &fmri("svc:/site/foo:default"),
                &port,
                &PropValue::Count(8080)
            )
            .argv()[4..],
            ["config/port", "=", "count:", "8080"]
        );
        assert_eq!(
            setprop_cmd(&f, &p, &PropValue::Boolean(true)).argv()[6..],
            ["boolean:", "true"]
        );
        // OmniOS's DHCP default for listen_ifnames: one empty value (reference §1.11).
        assert_eq!(
            setprop_cmd(&f, &p, &PropValue::EmptyAstring).argv()[6..],
            ["astring:", "\"\""]
        );
        assert_eq!(
            setprop_cmd(
                &f,
                &p,
                &PropValue::Astring("/etc/dhcpd.conf".parse().unwrap())
            )
            .argv()[6..],
            ["astring:", "\"/etc/dhcpd.conf\""]
        );
    }

    #[test]
    fn listprop_and_svcprop_argv() {
        let f = fmri("svc:/network/ipfilter:default");
        let p: PropName = "config/ipnat_config_file".parse().unwrap();
        assert_eq!(
            listprop_cmd(&f, Some(&p)).argv(),
            [
                "svccfg",
                "-s",
                "svc:/network/ipfilter:default",
                "listprop",
                "config/ipnat_config_file"
            ]
        );
        assert_eq!(
            svcprop_cmd(&f, &p).argv(),
            [
                "svcprop",
                "-p",
                "config/ipnat_config_file",
                "svc:/network/ipfilter:default"
            ]
        );
    }

    #[test]
    fn listprop_name_column_is_padded() {
        // reference §1.8, verbatim
        let out = "config/ipf6_config_file                       astring  /etc/ipf/ipf6.conf
config/ipnat_config_file                      astring  /etc/ipf/ipnat.conf
";
        let l = parse_listprop(out).unwrap();
        assert_eq!(
            l[1],
            Listed::Property {
                name: "config/ipnat_config_file".parse().unwrap(),
                prop_type: PropType::Astring,
                values: vec!["/etc/ipf/ipnat.conf".into()]
            }
        );
        let l = parse_listprop("general/enabled  boolean false\n").unwrap();
        assert!(matches!(&l[0], Listed::Property { values, .. } if values == &["false"]));
    }

    #[test]
    fn listprop_group_lines_and_quoted_values() {
        let out = "config                       application
config/listen_ifnames        astring  \"a b\" c
config/empty                 astring
";
        let l = parse_listprop(out).unwrap();
        assert_eq!(
            l[0],
            Listed::Group {
                name: "config".into(),
                group_type: "application".into()
            }
        );
        assert!(matches!(&l[1], Listed::Property { values, .. } if values == &["a b", "c"]));
        assert!(matches!(&l[2], Listed::Property { values, .. } if values.is_empty()));
        assert!(parse_listprop("config/x  sometype  v\n").is_err());
    }

    #[test]
    fn svcprop_values_are_backslash_escaped() {
        assert_eq!(
            parse_svcprop("provision_interconnect0 net1\n").unwrap(),
            ["provision_interconnect0", "net1"]
        );
        assert_eq!(parse_svcprop("a\\ b c\n").unwrap(), ["a b", "c"]);
        assert_eq!(parse_svcprop("\"\"\n").unwrap(), [""]);
        assert_eq!(parse_svcprop("online\n").unwrap(), ["online"]);
        assert!(parse_svcprop("a\nb\n").is_err());
    }

    #[test]
    fn unknown_fmri_is_not_found() {
        let k = classify(failed(
            1,
            "svcadm: Pattern 'svc:/site/nope:default' doesn't match any instances\n",
        ));
        assert!(matches!(k, SmfFailure::NotFound), "{k:?}");
        let k = classify(failed(
            1,
            "svccfg: Pattern 'svc:/site/nope:default' doesn't match any instances or services\n",
        ));
        assert!(matches!(k, SmfFailure::NotFound), "{k:?}");
    }

    #[test]
    fn svcadm_wait_exit_codes() {
        let k = classify_svcadm(failed(3, "svc:/site/x:default is in maintenance\n"));
        assert!(matches!(k, SmfFailure::InstanceProblem), "{k:?}");
        let k = classify_svcadm(failed(
            4,
            "svc:/site/x:default has unsatisfied dependencies\n",
        ));
        assert!(matches!(k, SmfFailure::DependencyProblem), "{k:?}");
        let k = classify_svcadm(failed(2, "usage\n"));
        assert!(matches!(k, SmfFailure::Command(_)), "{k:?}");
    }

    #[test]
    fn missing_property_is_property_not_found() {
        let k = classify(failed(1, "svccfg: No such property config/x.\n"));
        assert!(matches!(k, SmfFailure::PropertyNotFound), "{k:?}");
    }

    /// `svcs -H -o state,fmri FMRI...`, as the fake host expects it.
    fn svcs_argv(fmris: &[&str]) -> Vec<String> {
        ["svcs", "-H", "-o", "state,fmri"]
            .iter()
            .chain(fmris)
            .map(|s| s.to_string())
            .collect()
    }

    #[tokio::test]
    async fn svcs_still_reports_the_instances_that_exist() {
        // reference §1.8: an unmatched operand is reported on stderr (exit 1), others printed
        use crate::fake::{FakeHost, Reply};
        let host = FakeHost::new();
        host.expect(
            svcs_argv(&["svc:/network/ipfilter:default", "svc:/site/nope:default"]),
            Reply {
                stdout: "online         svc:/network/ipfilter:default\n".into(),
                stderr: "svcs: Pattern 'svc:/site/nope:default' doesn't match any instances\n"
                    .into(),
                code: 1,
            },
        )
        .expect(
            svcs_argv(&["svc:/site/nope:default"]),
            Reply::fails(
                1,
                "svcs: Pattern 'svc:/site/nope:default' doesn't match any instances\n",
            ),
        );
        let run = host.runner();
        let all = svcs(
            &run,
            &[
                fmri("svc:/network/ipfilter:default"),
                fmri("svc:/site/nope:default"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            service_state(&run, &fmri("svc:/site/nope:default"))
                .await
                .unwrap(),
            None
        );
        host.verify();
    }

    #[tokio::test]
    async fn a_svcs_that_fails_without_a_word_is_an_error_not_an_absent_instance() {
        // Taken for "absent", it made a NAT change enable (and its undo disable) a running
        // ipfilter.
        use crate::fake::{FakeHost, Reply};
        let host = FakeHost::new();
        host.expect(
            svcs_argv(&["svc:/network/ipfilter:default"]),
            Reply::fails(1, ""),
        );
        assert!(
            service_state(&host.runner(), &fmri("svc:/network/ipfilter:default"))
                .await
                .is_err()
        );
        host.verify();
    }
}
