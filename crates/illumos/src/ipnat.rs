//! IPFilter NAT: the `ipnat.conf` rules the agent writes, and the `ipnat` command that checks
//! and lists them (reference §1.10). Loading is ipfilter's: `svcadm refresh` runs its method,
//! which also loads the per-service NAT files a bare `ipnat -CF -f FILE` would drop (§1.13).
//!
//! The file is parsed into lines. Rules of the subset the agent writes (`map`, `map ...
//! portmap`, `bimap`, `rdr`) become [`NatRule`]s; comments, blank lines and every other line
//! are kept verbatim, and parsed rules keep their original text too, so
//! `NatConf::parse(x).render() == x` for any `x` and the agent rewrites the file keeping
//! everything it did not write. Rules it adds are rendered in one canonical form, the one the
//! reference gives for a bhyve NAT host.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::{InvalidValue, LinkName};
use crate::net::Ipv4Cidr;
use crate::parsable::ParseError;
use crate::runner::{CommandError, CommandFailed, Runner};

// ---------------------------------------------------------------------------------------------
// Rule values.

/// A TCP/UDP port, 1..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port(u16);

impl Port {
    pub fn new(port: u16) -> Result<Self, InvalidValue> {
        if port == 0 {
            return Err(InvalidValue::new("port", "0", "must be 1..=65535"));
        }
        Ok(Port(port))
    }
    pub fn get(&self) -> u16 {
        self.0
    }
}

impl FromStr for Port {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidValue::new("port", s, "must be a number in 1..=65535");
        if s.is_empty()
            || s.len() > 5
            || !s.bytes().all(|b| b.is_ascii_digit())
            || s.starts_with('0')
        {
            return Err(bad());
        }
        Port::new(s.parse().map_err(|_| bad())?).map_err(|_| bad())
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The protocol of a `portmap` or an `rdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatProto {
    Tcp,
    Udp,
    TcpUdp,
}

impl NatProto {
    pub fn as_str(self) -> &'static str {
        match self {
            NatProto::Tcp => "tcp",
            NatProto::Udp => "udp",
            NatProto::TcpUdp => "tcp/udp",
        }
    }
}

impl FromStr for NatProto {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(NatProto::Tcp),
            "udp" => Ok(NatProto::Udp),
            "tcp/udp" => Ok(NatProto::TcpUdp),
            _ => Err(InvalidValue::new(
                "NAT protocol",
                s,
                "must be tcp, udp or tcp/udp",
            )),
        }
    }
}

impl fmt::Display for NatProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source ports a `portmap` may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortmapPorts {
    Auto,
    /// `LOW:HIGH`, LOW <= HIGH.
    Range {
        low: Port,
        high: Port,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Portmap {
    pub proto: NatProto,
    pub ports: PortmapPorts,
}

/// `map IF SRC/bits -> DST/bits [portmap PROTO auto|LOW:HIGH]`. A target of `0/32` means the
/// interface's own address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapRule {
    pub interface: LinkName,
    pub source: Ipv4Cidr,
    pub target: Ipv4Cidr,
    pub portmap: Option<Portmap>,
}

/// `bimap IF INTERNAL/bits -> EXTERNAL/bits`: 1:1 both ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BimapRule {
    pub interface: LinkName,
    pub internal: Ipv4Cidr,
    pub external: Ipv4Cidr,
}

/// `rdr IF EXT/bits port P[-P2] -> INT port P PROTO`: port forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RdrRule {
    pub interface: LinkName,
    pub external: Ipv4Cidr,
    pub external_port: Port,
    /// The end of a port range (`port 8080-8090`).
    pub external_port_end: Option<Port>,
    pub internal: Ipv4Addr,
    pub internal_port: Port,
    pub proto: NatProto,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NatRule {
    Map(MapRule),
    Bimap(BimapRule),
    Rdr(RdrRule),
}

impl NatRule {
    pub fn interface(&self) -> &LinkName {
        match self {
            NatRule::Map(r) => &r.interface,
            NatRule::Bimap(r) => &r.interface,
            NatRule::Rdr(r) => &r.interface,
        }
    }

    /// `map`, `bimap` or `rdr`.
    pub fn keyword(&self) -> &'static str {
        match self {
            NatRule::Map(_) => "map",
            NatRule::Bimap(_) => "bimap",
            NatRule::Rdr(_) => "rdr",
        }
    }
}

/// Writes an address the way the reference's canonical rules do: `0/32` for "the interface's
/// address", `A.B.C.D/bits` otherwise.
struct MaskedAddr(Ipv4Cidr);

impl fmt::Display for MaskedAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.addr().is_unspecified() {
            write!(f, "0/{}", self.0.prefix())
        } else {
            self.0.fmt(f)
        }
    }
}

/// The canonical rendering, one line without a newline.
impl fmt::Display for NatRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatRule::Map(r) => {
                write!(
                    f,
                    "map {} {} -> {}",
                    r.interface,
                    MaskedAddr(r.source),
                    MaskedAddr(r.target)
                )?;
                if let Some(pm) = r.portmap {
                    write!(f, " portmap {} ", pm.proto)?;
                    match pm.ports {
                        PortmapPorts::Auto => f.write_str("auto")?,
                        PortmapPorts::Range { low, high } => write!(f, "{low}:{high}")?,
                    }
                }
                Ok(())
            }
            NatRule::Bimap(r) => write!(
                f,
                "bimap {} {} -> {}",
                r.interface,
                MaskedAddr(r.internal),
                MaskedAddr(r.external)
            ),
            NatRule::Rdr(r) => {
                write!(
                    f,
                    "rdr {} {} port {}",
                    r.interface,
                    MaskedAddr(r.external),
                    r.external_port
                )?;
                if let Some(end) = r.external_port_end {
                    write!(f, "-{end}")?;
                }
                write!(f, " -> {} port {} {}", r.internal, r.internal_port, r.proto)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rule parser.

/// An address as ipnat.conf writes it: `A.B.C.D/bits`, `0/bits` (ipnat reads a lone `0` as
/// 0.0.0.0), or a bare address meaning `/32`. The netmask forms (`/255.255.255.0`,
/// `netmask M`) are outside the subset and make the line unrecognised.
fn parse_addr(s: &str) -> Option<Ipv4Cidr> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, p),
        None => (s, "32"),
    };
    let addr = if addr == "0" { "0.0.0.0" } else { addr };
    format!("{addr}/{prefix}").parse().ok()
}

fn parse_port_span(s: &str) -> Option<(Port, Option<Port>)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (Port, Port) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some((a, Some(b)))
        }
        None => Some((s.parse().ok()?, None)),
    }
}

fn parse_portmap(tokens: &[&str]) -> Option<Option<Portmap>> {
    match tokens {
        [] => Some(None),
        ["portmap", proto, ports] => {
            let ports = if *ports == "auto" {
                PortmapPorts::Auto
            } else {
                let (low, high) = ports.split_once(':')?;
                let (low, high): (Port, Port) = (low.parse().ok()?, high.parse().ok()?);
                if low > high {
                    return None;
                }
                PortmapPorts::Range { low, high }
            };
            Some(Some(Portmap {
                proto: proto.parse().ok()?,
                ports,
            }))
        }
        _ => None,
    }
}

/// Parses one rule of the subset from its text (no comment, no newline). `None` for anything
/// else, including valid ipnat rules the subset does not cover.
fn parse_rule(text: &str) -> Option<NatRule> {
    // ipnat's lexer separates tokens with ASCII blanks only; anything else that Unicode calls
    // whitespace (a no-break space) would be part of a token, so such a line is not ours.
    if !text
        .bytes()
        .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r'))
    {
        return None;
    }
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    match tokens[..] {
        ["map", interface, source, "->", target, ref rest @ ..] => Some(NatRule::Map(MapRule {
            interface: interface.parse().ok()?,
            source: parse_addr(source)?,
            target: parse_addr(target)?,
            portmap: parse_portmap(rest)?,
        })),
        ["bimap", interface, internal, "->", external] => Some(NatRule::Bimap(BimapRule {
            interface: interface.parse().ok()?,
            internal: parse_addr(internal)?,
            external: parse_addr(external)?,
        })),
        ["rdr", interface, external, "port", ports, "->", internal, "port", internal_port, proto] =>
        {
            let (external_port, external_port_end) = parse_port_span(ports)?;
            let internal = parse_addr(internal)?;
            if internal.prefix() != 32 {
                return None;
            }
            Some(NatRule::Rdr(RdrRule {
                interface: interface.parse().ok()?,
                external: parse_addr(external)?,
                external_port,
                external_port_end,
                internal: internal.addr(),
                internal_port: internal_port.parse().ok()?,
                proto: proto.parse().ok()?,
            }))
        }
        _ => None,
    }
}

impl FromStr for NatRule {
    type Err = InvalidValue;
    /// One rule of the subset, e.g. from the API. Comments are not allowed here.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(['#', '\n', '\r', '\0', ';']) {
            return Err(InvalidValue::new(
                "NAT rule",
                s,
                "must be one rule without comments",
            ));
        }
        parse_rule(s).ok_or_else(|| {
            InvalidValue::new(
                "NAT rule",
                s,
                "is not a map, bimap or rdr rule the agent supports",
            )
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The file.

/// A rule line: the rule and the text it was read from (or rendered to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    rule: NatRule,
    text: String,
}

impl RuleLine {
    pub fn rule(&self) -> &NatRule {
        &self.rule
    }
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl From<NatRule> for RuleLine {
    fn from(rule: NatRule) -> Self {
        RuleLine {
            text: rule.to_string(),
            rule,
        }
    }
}

/// One line of ipnat.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Rule(RuleLine),
    /// A line that is only whitespace and a `#` comment.
    Comment(String),
    /// Empty or whitespace only.
    Blank(String),
    /// Anything else: rules outside the subset (`map-block`, `from ... to`, `proxy`, ...),
    /// or lines ipnat itself would reject. Kept as is.
    Other(String),
}

impl Line {
    pub fn text(&self) -> &str {
        match self {
            Line::Rule(r) => &r.text,
            Line::Comment(t) | Line::Blank(t) | Line::Other(t) => t,
        }
    }

    fn parse(text: &str) -> Line {
        let body = text.split('#').next().unwrap_or_default();
        let body = body.trim_end_matches('\r');
        if body.trim().is_empty() {
            if text.trim().is_empty() {
                Line::Blank(text.to_owned())
            } else {
                Line::Comment(text.to_owned())
            }
        } else {
            match parse_rule(body) {
                Some(rule) => Line::Rule(RuleLine {
                    rule,
                    text: text.to_owned(),
                }),
                None => Line::Other(text.to_owned()),
            }
        }
    }
}

/// ipnat.conf as lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatConf {
    lines: Vec<Line>,
    /// Whether the text ended with a newline (kept so an untouched file renders identically).
    trailing_newline: bool,
}

impl NatConf {
    /// Never fails: what is not understood is kept verbatim.
    pub fn parse(text: &str) -> NatConf {
        NatConf {
            lines: text.split_terminator('\n').map(Line::parse).collect(),
            trailing_newline: text.ends_with('\n'),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(line.text());
        }
        if self.trailing_newline && !self.lines.is_empty() {
            out.push('\n');
        }
        out
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The understood rules, with their 0-based line numbers.
    pub fn rules(&self) -> impl Iterator<Item = (usize, &NatRule)> {
        self.lines.iter().enumerate().filter_map(|(i, l)| match l {
            Line::Rule(r) => Some((i, &r.rule)),
            _ => None,
        })
    }

    pub fn contains(&self, rule: &NatRule) -> bool {
        self.rules().any(|(_, r)| r == rule)
    }

    /// Appends a rule in canonical form at the end of the file (ipnat applies rules in file
    /// order, so add a `portmap` map before the plain map for the same subnet).
    pub fn push(&mut self, rule: NatRule) {
        self.lines.push(Line::Rule(rule.into()));
        self.trailing_newline = true;
    }

    /// Adds the rule unless an equal rule (however written) is already there. Returns whether
    /// it was added. ipnat applies the first rule that matches a packet, so a `portmap` map goes
    /// just before a plain map of the same interface, source and target already in the file
    /// (after it, the plain map would take every packet the portmap is for); any other rule goes
    /// at the end.
    pub fn ensure(&mut self, rule: NatRule) -> bool {
        if self.contains(&rule) {
            return false;
        }
        let shadowing = match &rule {
            NatRule::Map(m) if m.portmap.is_some() => {
                let plain = NatRule::Map(MapRule {
                    portmap: None,
                    ..m.clone()
                });
                self.lines
                    .iter()
                    .position(|l| matches!(l, Line::Rule(r) if r.rule == plain))
            }
            _ => None,
        };
        match shadowing {
            Some(at) => self.lines.insert(at, Line::Rule(rule.into())),
            None => self.push(rule),
        }
        true
    }

    /// Removes every line holding an equal rule; returns how many.
    pub fn remove(&mut self, rule: &NatRule) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Rule(r) if &r.rule == rule));
        before - self.lines.len()
    }
}

// ---------------------------------------------------------------------------------------------
// `ipnat -l`.

const RULES_HEADER: &str = "List of active MAP/Redirect filters:";
const SESSIONS_HEADER: &str = "List of active sessions:";

/// A rule as `ipnat -l` prints it (normalised by the kernel: `0/32` comes back `0.0.0.0/32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveRule {
    Rule(NatRule),
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActiveNat {
    pub rules: Vec<ActiveRule>,
    /// Session lines as printed (their layout is illustrative in the reference).
    pub sessions: Vec<String>,
}

/// Parses `ipnat -l`: the rules header, the rules, a blank line, the sessions header, the
/// sessions.
pub fn parse_list(text: &str) -> Result<ActiveNat, ParseError> {
    let mut lines = text.lines();
    match lines.next() {
        Some(RULES_HEADER) => {}
        other => {
            return Err(ParseError::new(
                "ipnat -l",
                other.unwrap_or_default(),
                format!("expected {RULES_HEADER:?}"),
            ))
        }
    }
    let mut out = ActiveNat::default();
    let mut in_sessions = false;
    for line in lines {
        if line == SESSIONS_HEADER {
            if in_sessions {
                return Err(ParseError::new("ipnat -l", line, "second sessions header"));
            }
            in_sessions = true;
        } else if line.trim().is_empty() {
            continue;
        } else if in_sessions {
            out.sessions.push(line.to_owned());
        } else {
            out.rules.push(match parse_rule(line) {
                Some(r) => ActiveRule::Rule(r),
                None => ActiveRule::Other(line.to_owned()),
            });
        }
    }
    if !in_sessions {
        return Err(ParseError::new(
            "ipnat -l",
            text.lines().last().unwrap_or_default(),
            format!("no {SESSIONS_HEADER:?} line"),
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Commands.

/// An absolute path to a rules file: no whitespace, control characters, `..` components or
/// non-ASCII, so it is the same file in a log line as in the argv, and never `-` (stdin).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfPath(String);

impl ConfPath {
    pub const MAX_LEN: usize = 1024;

    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl FromStr for ConfPath {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("rules file path", s, reason));
        if !s.starts_with('/') {
            return bad("must be absolute");
        }
        if s.len() > Self::MAX_LEN {
            return bad("is too long");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@,".contains(&b))
        {
            return bad("may contain only ASCII letters, digits and / . _ - + @ ,");
        }
        if s.split('/').any(|c| c == "..") || s.contains("..") {
            return bad("must not contain '..'");
        }
        Ok(ConfPath(s.to_owned()))
    }
}

impl fmt::Display for ConfPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ipnat -n -f FILE`: parse only, nothing loaded; a non-zero exit means the file is invalid.
pub fn check_cmd(file: &ConfPath) -> Cmd {
    Cmd::new(Tool::Ipnat).args(["-n", "-f"]).arg(file.as_path())
}

/// `ipnat -l`: active rules and sessions.
pub fn list_cmd() -> Cmd {
    Cmd::new(Tool::Ipnat).arg("-l")
}

#[derive(Debug, thiserror::Error)]
pub enum IpnatFailure {
    /// ipnat refused the rules (its message names the line; wording unverified).
    #[error("ipnat rejected the rules: {}", .0.stderr.trim())]
    Rejected(CommandFailed),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

#[derive(Debug, thiserror::Error)]
#[error("ipnat {action} failed")]
pub struct IpnatError {
    pub action: &'static str,
    #[source]
    pub kind: IpnatFailure,
}

fn rejected_or_command(e: CommandError) -> IpnatFailure {
    match e {
        CommandError::Failed(f) => IpnatFailure::Rejected(f),
        other => IpnatFailure::Command(other),
    }
}

/// Validates a rules file without touching the kernel.
pub async fn check(run: &Runner, file: &ConfPath) -> Result<(), IpnatError> {
    run.output(&check_cmd(file))
        .await
        .map(drop)
        .map_err(|e| IpnatError {
            action: "check",
            kind: rejected_or_command(e),
        })
}

pub async fn list(run: &Runner) -> Result<ActiveNat, IpnatError> {
    let err = |kind| IpnatError {
        action: "list",
        kind,
    };
    let out = run
        .output(&list_cmd())
        .await
        .map_err(|e| err(IpnatFailure::Command(e)))?;
    parse_list(&out.stdout).map_err(|e| err(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsable::hostile_variants;

    fn rule(s: &str) -> NatRule {
        s.parse().unwrap()
    }

    // reference §1.10, verbatim: canonical rules for a bhyve NAT host
    const CANONICAL: &str = "map net0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto
map net0 10.10.0.0/24 -> 0/32
rdr net0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp
bimap net0 10.10.0.6/32 -> 192.168.1.20/32
";

    #[test]
    fn canonical_rules_parse_and_render_identically() {
        let conf = NatConf::parse(CANONICAL);
        assert_eq!(conf.rules().count(), 4);
        for (line, (_, r)) in CANONICAL.lines().zip(conf.rules()) {
            assert_eq!(r.to_string(), line);
        }
        assert_eq!(conf.render(), CANONICAL);
    }

    #[test]
    fn map_zero_slash_32_is_the_interface_address() {
        let NatRule::Map(m) = rule("map net0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto") else {
            panic!()
        };
        assert!(m.target.addr().is_unspecified());
        assert_eq!(m.target.prefix(), 32);
        assert_eq!(
            m.portmap,
            Some(Portmap {
                proto: NatProto::TcpUdp,
                ports: PortmapPorts::Auto
            })
        );
    }

    #[test]
    fn portmap_port_range_and_single_protocols() {
        let r = rule("map igb0 10.190.190.0/24 -> 0/32 portmap tcp 10000:20000");
        assert_eq!(
            r.to_string(),
            "map igb0 10.190.190.0/24 -> 0/32 portmap tcp 10000:20000"
        );
        assert!(matches!(
            r,
            NatRule::Map(MapRule {
                portmap: Some(Portmap {
                    proto: NatProto::Tcp,
                    ports: PortmapPorts::Range { .. }
                }),
                ..
            })
        ));
        assert!("map igb0 10.0.0.0/8 -> 0/32 portmap udp auto"
            .parse::<NatRule>()
            .is_ok());
        assert!("map igb0 10.0.0.0/8 -> 0/32 portmap tcp 20000:10000"
            .parse::<NatRule>()
            .is_err());
        assert!("map igb0 10.0.0.0/8 -> 0/32 portmap icmp auto"
            .parse::<NatRule>()
            .is_err());
        assert!("map igb0 10.0.0.0/8 -> 0/32 portmap tcp/udp"
            .parse::<NatRule>()
            .is_err());
    }

    #[test]
    fn rdr_port_range_and_bare_external_address() {
        let r = rule("rdr igb0 192.168.1.10 port 8080-8090 -> 10.190.190.10 port 80 tcp/udp");
        let NatRule::Rdr(rdr) = &r else { panic!() };
        assert_eq!(rdr.external.prefix(), 32);
        assert_eq!(rdr.external_port.get(), 8080);
        assert_eq!(rdr.external_port_end.map(|p| p.get()), Some(8090));
        assert_eq!(
            r.to_string(),
            "rdr igb0 192.168.1.10/32 port 8080-8090 -> 10.190.190.10 port 80 tcp/udp"
        );
        // the same rule however the external address is written
        assert_eq!(
            r,
            rule("rdr igb0 192.168.1.10/32 port 8080-8090 -> 10.190.190.10 port 80 tcp/udp")
        );
    }

    #[test]
    fn rdr_without_protocol_is_outside_the_subset() {
        // the spec's example omits the protocol; the reference grammar requires one, so the
        // agent never writes it, and reads it as an unrecognised line it keeps
        let text = "rdr igb0 192.168.1.10 port 8080 -> 10.190.190.10 port 80\n";
        let conf = NatConf::parse(text);
        assert!(matches!(conf.lines()[0], Line::Other(_)));
        assert_eq!(conf.render(), text);
    }

    #[test]
    fn bimap_bare_addresses_mean_slash_32() {
        assert_eq!(
            rule("bimap igb0 10.190.190.10 -> 192.168.1.100"),
            rule("bimap igb0 10.190.190.10/32 -> 192.168.1.100/32")
        );
    }

    #[test]
    fn comments_blank_and_foreign_lines_are_kept_verbatim() {
        let text = "# NAT for the lab\r
\t  \n\
map net0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto   # outbound\n\
map-block net0 10.1.0.0/16 -> 192.168.1.0/24 ports auto\n\
map net0 from 10.2.0.0/16 to any -> 0/32\n\
rdr net0 0/0 port 21 -> 127.0.0.1 port 8021 tcp proxy ftp\n\
garbage line\n\
map  net0\t10.3.0.0/24  ->  0/32";
        let conf = NatConf::parse(text);
        let kinds: Vec<&str> = conf
            .lines()
            .iter()
            .map(|l| match l {
                Line::Rule(_) => "rule",
                Line::Comment(_) => "comment",
                Line::Blank(_) => "blank",
                Line::Other(_) => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            ["comment", "blank", "rule", "other", "other", "other", "other", "rule"]
        );
        assert_eq!(conf.render(), text);
        // a rule's trailing comment does not change the rule
        assert!(conf.contains(&rule("map net0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto")));
        // odd spacing is still the same rule, and keeps its spacing
        assert!(conf.contains(&rule("map net0 10.3.0.0/24 -> 0/32")));
    }

    #[test]
    fn ensure_and_remove_touch_only_the_agents_lines() {
        let text = "# keep me\nmap net0 10.9.0.0/24 -> 0/32\n";
        let mut conf = NatConf::parse(text);
        let pm = rule("map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto");
        assert!(conf.ensure(pm.clone()));
        assert!(!conf.ensure(pm.clone()));
        assert_eq!(
            conf.render(),
            "# keep me\nmap net0 10.9.0.0/24 -> 0/32\nmap igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto\n"
        );
        assert_eq!(conf.remove(&pm), 1);
        assert_eq!(conf.render(), text);
        assert_eq!(conf.remove(&pm), 0);
    }

    #[test]
    fn a_portmap_goes_before_the_plain_map_it_would_otherwise_follow() {
        let text = "map net0 10.9.0.0/24 -> 0/32\nmap igb0 10.190.190.0/24 -> 0/32 # by hand\n";
        let mut conf = NatConf::parse(text);
        let pm = rule("map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto");
        assert!(conf.ensure(pm));
        assert!(!conf.ensure(rule("map igb0 10.190.190.0/24 -> 0/32")));
        assert_eq!(
            conf.render(),
            "map net0 10.9.0.0/24 -> 0/32\nmap igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto\nmap igb0 10.190.190.0/24 -> 0/32 # by hand\n"
        );
        // A portmap with nothing to shadow it, and other kinds, go at the end.
        assert!(conf.ensure(rule("map igb0 10.191.0.0/24 -> 0/32 portmap tcp auto")));
        assert!(conf
            .render()
            .ends_with("map igb0 10.191.0.0/24 -> 0/32 portmap tcp auto\n"));
    }

    #[test]
    fn push_onto_a_file_without_final_newline_adds_one() {
        let mut conf = NatConf::parse("# x");
        conf.push(rule("map net0 10.10.0.0/24 -> 0/32"));
        assert_eq!(conf.render(), "# x\nmap net0 10.10.0.0/24 -> 0/32\n");
        let mut empty = NatConf::parse("");
        assert_eq!(empty.render(), "");
        empty.push(rule("map net0 10.10.0.0/24 -> 0/32"));
        assert_eq!(empty.render(), "map net0 10.10.0.0/24 -> 0/32\n");
    }

    #[test]
    fn rules_report_their_line_numbers() {
        let conf = NatConf::parse("# c\n\nmap net0 10.10.0.0/24 -> 0/32\n");
        let idx: Vec<usize> = conf.rules().map(|(i, _)| i).collect();
        assert_eq!(idx, [2]);
    }

    #[test]
    fn rule_from_api_refuses_comments_and_injection() {
        for bad in [
            "map net0 10.10.0.0/24 -> 0/32 # x",
            "map net0 10.10.0.0/24 -> 0/32\nmap net0 0/0 -> 0/32",
            "map net0 10.10.0.0/24 -> 0/32; rdr",
            "map net-0 10.10.0.0/24 -> 0/32",
            "map net0 10.10.0.0/33 -> 0/32",
            "map net0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto extra",
            "rdr net0 1.2.3.4/32 port 0 -> 10.0.0.1 port 80 tcp",
            "rdr net0 1.2.3.4/32 port 80 -> 10.0.0.0/24 port 80 tcp",
            "rdr net0 1.2.3.4/32 port 90-80 -> 10.0.0.1 port 80 tcp",
            "",
        ] {
            assert!(bad.parse::<NatRule>().is_err(), "{bad:?}");
        }
        for v in hostile_variants("map net0 10.10.0.0/24 -> 0/32") {
            // whitespace variants may still be one valid rule; everything else must fail
            if v.chars()
                .all(|c| c.is_ascii() && c != '\0' && c != ';' && c != '\n' && c != '\r')
                && v.split_whitespace().collect::<Vec<_>>().join(" ")
                    == "map net0 10.10.0.0/24 -> 0/32"
            {
                continue;
            }
            assert!(v.parse::<NatRule>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn ipnat_l_rules_are_normalised_and_compare_equal_to_the_file() {
        // reference §1.10, verbatim: ipnat -l
        let out = "List of active MAP/Redirect filters:
map net0 10.10.0.0/24 -> 0.0.0.0/32 portmap tcp/udp auto
map net0 10.10.0.0/24 -> 0.0.0.0/32
rdr net0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp

List of active sessions:
MAP 10.10.0.5       41234 <- -> 192.168.1.10    61001 [93.184.216.34 443]
";
        let active = parse_list(out).unwrap();
        let file = NatConf::parse(CANONICAL);
        let file_rules: Vec<&NatRule> = file.rules().map(|(_, r)| r).collect();
        assert_eq!(active.rules.len(), 3);
        for (a, f) in active.rules.iter().zip(file_rules) {
            assert_eq!(a, &ActiveRule::Rule(f.clone()));
        }
        assert_eq!(active.sessions.len(), 1);
        assert!(active.sessions[0].starts_with("MAP 10.10.0.5"));
    }

    #[test]
    fn ipnat_l_with_no_rules() {
        // reference §1.10: exactly this text with no rules
        let out = "List of active MAP/Redirect filters:\n\nList of active sessions:\n";
        assert_eq!(parse_list(out).unwrap(), ActiveNat::default());
    }

    #[test]
    fn ipnat_l_keeps_rules_outside_the_subset() {
        let out = "List of active MAP/Redirect filters:
map net0 from 10.0.0.0/8 to any -> 0.0.0.0/32 age 30/30

List of active sessions:
";
        let a = parse_list(out).unwrap();
        assert!(matches!(&a.rules[0], ActiveRule::Other(s) if s.contains("from")));
    }

    #[test]
    fn ipnat_l_without_headers_is_an_error() {
        assert!(parse_list("").is_err());
        assert!(parse_list("map net0 10.0.0.0/8 -> 0/32\n").is_err());
        assert!(parse_list("List of active MAP/Redirect filters:\n").is_err());
    }

    #[test]
    fn ipnat_argv() {
        let p: ConfPath = "/etc/ipf/ipnat.conf".parse().unwrap();
        assert_eq!(
            check_cmd(&p).argv(),
            ["ipnat", "-n", "-f", "/etc/ipf/ipnat.conf"]
        );
        assert_eq!(list_cmd().argv(), ["ipnat", "-l"]);
    }

    #[test]
    fn conf_path_is_absolute_and_plain() {
        assert!("/etc/ipf/.ipnat.conf.tmp-1".parse::<ConfPath>().is_ok());
        for bad in ["-", "ipnat.conf", "/etc/../x", "/etc/ipf/ipnat conf", ""] {
            assert!(bad.parse::<ConfPath>().is_err(), "{bad}");
        }
        for v in hostile_variants("/etc/ipf/ipnat.conf") {
            assert!(v.parse::<ConfPath>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn port_values() {
        assert!("65535".parse::<Port>().is_ok());
        for bad in ["0", "65536", "080", "-1", "+80", ""] {
            assert!(bad.parse::<Port>().is_err(), "{bad}");
        }
        for v in hostile_variants("8080") {
            assert!(v.parse::<Port>().is_err(), "{v:?}");
        }
    }

    /// A small deterministic generator (no property-testing crate in this workspace).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len() as u64) as usize]
        }
    }

    fn random_ip(rng: &mut Rng) -> Ipv4Addr {
        Ipv4Addr::from(rng.next() as u32)
    }

    fn random_port(rng: &mut Rng) -> Port {
        Port::new(1 + rng.below(65535) as u16).unwrap()
    }

    fn random_rule(rng: &mut Rng) -> NatRule {
        let iface: LinkName = rng
            .pick(&[
                "net0",
                "igb0",
                "e1000g12",
                "provision_interconnect0",
                "vnic_a9",
            ])
            .parse()
            .unwrap();
        let cidr = |rng: &mut Rng| {
            let addr = if rng.below(4) == 0 {
                Ipv4Addr::UNSPECIFIED
            } else {
                random_ip(rng)
            };
            Ipv4Cidr::new(addr, rng.below(33) as u8).unwrap()
        };
        let proto = |rng: &mut Rng| *rng.pick(&[NatProto::Tcp, NatProto::Udp, NatProto::TcpUdp]);
        match rng.below(3) {
            0 => NatRule::Map(MapRule {
                interface: iface,
                source: cidr(rng),
                target: cidr(rng),
                portmap: match rng.below(3) {
                    0 => None,
                    1 => Some(Portmap {
                        proto: proto(rng),
                        ports: PortmapPorts::Auto,
                    }),
                    _ => {
                        let (a, b) = (random_port(rng), random_port(rng));
                        Some(Portmap {
                            proto: proto(rng),
                            ports: PortmapPorts::Range {
                                low: a.min(b),
                                high: a.max(b),
                            },
                        })
                    }
                },
            }),
            1 => NatRule::Bimap(BimapRule {
                interface: iface,
                internal: cidr(rng),
                external: cidr(rng),
            }),
            _ => {
                let (a, b) = (random_port(rng), random_port(rng));
                NatRule::Rdr(RdrRule {
                    interface: iface,
                    external: cidr(rng),
                    external_port: a.min(b),
                    external_port_end: (rng.below(2) == 0).then_some(a.max(b)),
                    internal: random_ip(rng),
                    internal_port: random_port(rng),
                    proto: proto(rng),
                })
            }
        }
    }

    #[test]
    fn property_rendered_rules_parse_back_to_themselves() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..5000 {
            let r = random_rule(&mut rng);
            let text = r.to_string();
            assert_eq!(parse_rule(&text).as_ref(), Some(&r), "{text}");
            // and a file of it is one rule line that renders back
            let conf = NatConf::parse(&format!("{text}\n"));
            assert_eq!(conf.rules().next().map(|(_, x)| x), Some(&r), "{text}");
        }
    }

    #[test]
    fn property_render_of_parse_is_the_identity() {
        const FRAGMENTS: &[&str] = &[
            "map",
            "bimap",
            "rdr",
            "map-block",
            "net0",
            "igb0",
            "0/32",
            "0/0",
            "10.10.0.0/24",
            "192.168.1.10",
            "->",
            "port",
            "80",
            "8080-8090",
            "portmap",
            "tcp/udp",
            "tcp",
            "udp",
            "auto",
            "1:65535",
            "#",
            "# comment",
            "from",
            "to",
            "any",
            "proxy",
            " ",
            "  ",
            "\t",
            "\r",
            "é",
            "\u{FF10}",
            ";",
            "\"",
            "\\",
            "",
        ];
        let mut rng = Rng(0xdead_beef_0bad_f00d);
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..rng.below(8) {
                match rng.below(3) {
                    // a valid rule with random spacing around its tokens
                    0 => {
                        let r = random_rule(&mut rng).to_string();
                        for (i, tok) in r.split(' ').enumerate() {
                            if i > 0 {
                                text.push_str(rng.pick::<&str>(&[" ", "  ", "\t", " \t "]));
                            }
                            text.push_str(tok);
                        }
                        if rng.below(3) == 0 {
                            text.push_str(" # why");
                        }
                    }
                    // token soup
                    1 => {
                        for _ in 0..rng.below(10) {
                            text.push_str(rng.pick::<&str>(FRAGMENTS));
                            text.push(' ');
                        }
                    }
                    _ => text.push_str(rng.pick::<&str>(&["", "# c", "   ", "\r"])),
                }
                text.push('\n');
            }
            if rng.below(2) == 0 {
                text.pop();
            }
            let conf = NatConf::parse(&text);
            assert_eq!(conf.render(), text);
            // and parsing what we render gives the same structure
            assert_eq!(NatConf::parse(&conf.render()), conf);
        }
    }

    #[test]
    fn property_canonicalising_is_idempotent() {
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let r = random_rule(&mut rng);
            let once = r.to_string();
            let twice = parse_rule(&once).unwrap().to_string();
            assert_eq!(once, twice);
        }
    }
}
