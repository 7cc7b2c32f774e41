//! The link properties `create-vnic -p prop=value[,...]` may set, typed.
//!
//! dladm.8 ("General Link Properties" and the Ethernet `mtu`) gives a VNIC `maxbw`,
//! `priority`, `cpus`, `allowed-ips` and `mtu`; `protection` is libdladm's link protection
//! (`mac-nospoof`, `restricted`, `ip-nospoof`, `dhcp-nospoof`), which `allowed-ips` serves.
//! The bridge properties (`stp`, `learn_limit`, `default_tag`, ...) are for "non-VLAN, non-VNIC
//! type links" only, and `zone` can only be set temporarily (zonecfg owns it), so neither is
//! offered.
//!
//! dladm splits the `-p` list on commas, and a token without `=` is one more value of the
//! property before it (`cpus=0,1,priority=low`), so a value must never hold a `,` or `=` of
//! its own: each type here admits only its own characters.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::link::InvalidValue;

use super::Mtu;

/// The property names a VNIC may be created with, in the order they are documented.
pub const VNIC_PROPS: &[&str] = &[
    "maxbw",
    "priority",
    "cpus",
    "mtu",
    "allowed-ips",
    "protection",
];

/// A link property the agent sets (`-p name=value`). Only typed properties exist, so no text
/// from a request is ever spliced into the comma-separated `-p` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkProp {
    Mtu(Mtu),
    Maxbw(Bandwidth),
    Priority(Priority),
    /// Processor ids, at least one.
    Cpus(Vec<u32>),
    /// Addresses or networks, at least one.
    AllowedIps(Vec<AllowedIp>),
    /// Protection modes, at least one.
    Protection(Vec<Protection>),
}

impl LinkProp {
    pub fn name(&self) -> &'static str {
        match self {
            LinkProp::Mtu(_) => "mtu",
            LinkProp::Maxbw(_) => "maxbw",
            LinkProp::Priority(_) => "priority",
            LinkProp::Cpus(_) => "cpus",
            LinkProp::AllowedIps(_) => "allowed-ips",
            LinkProp::Protection(_) => "protection",
        }
    }

    /// The value as dladm takes it (a list comma-joined).
    pub fn value(&self) -> String {
        fn join<T: fmt::Display>(v: &[T]) -> String {
            v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
        }
        match self {
            LinkProp::Mtu(m) => m.to_string(),
            LinkProp::Maxbw(b) => b.to_string(),
            LinkProp::Priority(p) => p.to_string(),
            LinkProp::Cpus(c) => join(c),
            LinkProp::AllowedIps(a) => join(a),
            LinkProp::Protection(p) => join(p),
        }
    }

    pub(super) fn render(&self) -> String {
        format!("{}={}", self.name(), self.value())
    }

    /// A VNIC property from its name and its value as text (a list comma-separated).
    /// `Err(None)` when `name` is not one of [`VNIC_PROPS`].
    pub fn parse_vnic(name: &str, value: &str) -> Result<LinkProp, Option<InvalidValue>> {
        let list = |what: &'static str| -> Result<Vec<&str>, InvalidValue> {
            // No blank is trimmed away: a value is taken exactly as dladm would read it.
            let items: Vec<&str> = value.split(',').collect();
            if items.iter().any(|i| i.is_empty()) {
                return Err(InvalidValue::new(
                    what,
                    value,
                    "must be a comma-separated list of one or more values",
                ));
            }
            Ok(items)
        };
        let parsed = match name {
            "mtu" => value.parse().map(LinkProp::Mtu),
            "maxbw" => value.parse().map(LinkProp::Maxbw),
            "priority" => value.parse().map(LinkProp::Priority),
            "cpus" => list("cpus").and_then(|l| {
                l.iter()
                    .map(|c| parse_cpu(c))
                    .collect::<Result<Vec<_>, _>>()
                    .map(LinkProp::Cpus)
            }),
            "allowed-ips" => list("allowed-ips").and_then(|l| {
                l.iter()
                    .map(|a| a.parse())
                    .collect::<Result<Vec<_>, _>>()
                    .map(LinkProp::AllowedIps)
            }),
            "protection" => list("protection").and_then(|l| {
                l.iter()
                    .map(|a| a.parse())
                    .collect::<Result<Vec<_>, _>>()
                    .map(LinkProp::Protection)
            }),
            _ => return Err(None),
        };
        parsed.map_err(Some)
    }
}

fn parse_cpu(s: &str) -> Result<u32, InvalidValue> {
    let bad = || InvalidValue::new("processor id", s, "must be a number from 0 to 65535");
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u32>() {
        Ok(n) if n <= 65_535 && (n == 0 || !s.starts_with('0')) => Ok(n),
        _ => Err(bad()),
    }
}

/// `maxbw`: an integer with an optional scale suffix `K`, `M` or `G` (Kbps, Mbps, Gbps);
/// without one dladm reads Mbps (dladm.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    amount: u32,
    unit: Option<char>,
}

impl FromStr for Bandwidth {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidValue::new(
                "maxbw",
                s,
                "must be a positive whole number with an optional K, M or G (100M)",
            )
        };
        let (digits, unit) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], Some(c.to_ascii_uppercase())),
            _ => (s, None),
        };
        if unit.is_some_and(|u| !matches!(u, 'K' | 'M' | 'G'))
            || digits.is_empty()
            || digits.len() > 9
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        Ok(Bandwidth {
            amount: digits.parse().map_err(|_| bad())?,
            unit,
        })
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.amount)?;
        match self.unit {
            Some(u) => write!(f, "{u}"),
            None => Ok(()),
        }
    }
}

/// `priority`: `high` (dladm's default), `medium` or `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    High,
    Medium,
    Low,
}

impl FromStr for Priority {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Priority::High),
            "medium" => Ok(Priority::Medium),
            "low" => Ok(Priority::Low),
            _ => Err(InvalidValue::new(
                "priority",
                s,
                "must be high, medium or low",
            )),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        })
    }
}

/// One `allowed-ips` entry: an address, or a network in CIDR form (any address on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowedIp {
    addr: IpAddr,
    prefix: Option<u8>,
}

impl FromStr for AllowedIp {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidValue::new(
                "allowed-ips entry",
                s,
                "must be an IPv4 or IPv6 address, optionally /PREFIX",
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        // Only the characters of an address: `IpAddr` also takes nothing else, but say so.
        if !addr
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        {
            return Err(bad());
        }
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => Some(n),
                    _ => return Err(bad()),
                }
            }
            Some(_) => return Err(bad()),
        };
        Ok(AllowedIp { addr, prefix })
    }
}

impl fmt::Display for AllowedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// A `protection` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    MacNospoof,
    Restricted,
    IpNospoof,
    DhcpNospoof,
}

impl FromStr for Protection {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mac-nospoof" => Ok(Protection::MacNospoof),
            "restricted" => Ok(Protection::Restricted),
            "ip-nospoof" => Ok(Protection::IpNospoof),
            "dhcp-nospoof" => Ok(Protection::DhcpNospoof),
            _ => Err(InvalidValue::new(
                "protection",
                s,
                "must be mac-nospoof, restricted, ip-nospoof or dhcp-nospoof",
            )),
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protection::MacNospoof => "mac-nospoof",
            Protection::Restricted => "restricted",
            Protection::IpNospoof => "ip-nospoof",
            Protection::DhcpNospoof => "dhcp-nospoof",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, value: &str) -> String {
        LinkProp::parse_vnic(name, value)
            .unwrap_or_else(|e| panic!("{name}={value}: {e:?}"))
            .render()
    }

    #[test]
    fn each_vnic_property_renders_as_dladm_takes_it() {
        assert_eq!(ok("maxbw", "100M"), "maxbw=100M");
        assert_eq!(ok("maxbw", "2g"), "maxbw=2G");
        assert_eq!(ok("maxbw", "500"), "maxbw=500");
        assert_eq!(ok("priority", "low"), "priority=low");
        assert_eq!(ok("cpus", "0,2,3"), "cpus=0,2,3");
        assert_eq!(ok("mtu", "9000"), "mtu=9000");
        assert_eq!(
            ok("allowed-ips", "10.0.0.5,192.168.10.0/24,fe80::1/64"),
            "allowed-ips=10.0.0.5,192.168.10.0/24,fe80::1/64"
        );
        assert_eq!(
            ok("protection", "mac-nospoof,ip-nospoof"),
            "protection=mac-nospoof,ip-nospoof"
        );
    }

    /// A value that could end the property (`,`, `=`) or start another never passes: dladm
    /// would read `priority=low,maxbw=1` as two properties.
    #[test]
    fn values_that_would_smuggle_another_property_are_refused() {
        for (name, value) in [
            ("priority", "low,maxbw=1"),
            ("maxbw", "100M,priority=low"),
            ("maxbw", "0"),
            ("maxbw", "10T"),
            ("maxbw", "M"),
            ("cpus", "0,,1"),
            ("cpus", "0, 1"),
            ("protection", "ip-nospoof "),
            ("cpus", "1=2"),
            ("cpus", "65536"),
            ("cpus", "01"),
            ("allowed-ips", "10.0.0.1/33"),
            ("allowed-ips", "10.0.0.1,zone=x"),
            ("allowed-ips", ""),
            ("protection", "nospoof"),
            ("mtu", "9001"),
        ] {
            assert!(
                matches!(LinkProp::parse_vnic(name, value), Err(Some(_))),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn a_property_a_vnic_does_not_take_is_unknown() {
        for name in ["zone", "stp", "learn_limit", "MAXBW", "maxbw ", ""] {
            assert_eq!(LinkProp::parse_vnic(name, "1"), Err(None), "{name}");
        }
        for name in VNIC_PROPS {
            assert_ne!(LinkProp::parse_vnic(name, "x"), Err(None), "{name}");
        }
    }
}
