//! IPv4 values and ipadm address-object names: [`Ipv4Cidr`], [`Ipv4Net`], [`Ipv4Netmask`],
//! [`AddrObjName`] and [`AddrObj`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::link::{InvalidValue, LinkName};

/// Parses a dotted quad strictly: four decimal octets, no leading zeros (which some C parsers
/// read as octal), nothing else. `std`'s parser has exactly these rules.
fn parse_ipv4(what: &'static str, s: &str) -> Result<Ipv4Addr, InvalidValue> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| InvalidValue::new(what, s, "must be a dotted-quad IPv4 address"))
}

/// A prefix length `0..=32`, decimal, no sign, no leading zero.
fn parse_prefix(what: &'static str, whole: &str, s: &str) -> Result<u8, InvalidValue> {
    let bad = || InvalidValue::new(what, whole, "prefix length must be 0..=32");
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad());
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 32 => Ok(p),
        _ => Err(bad()),
    }
}

fn mask_bits(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// An IPv4 address with its prefix length, as `ipadm create-addr -T static -a` takes it and
/// `ipadm show-addr` prints it: `10.190.190.1/24`. Host bits may be set (it is an interface's
/// address, not a network); see [`Ipv4Net`] for networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, InvalidValue> {
        if prefix > 32 {
            return Err(InvalidValue::new(
                "IPv4 CIDR",
                &format!("{addr}/{prefix}"),
                "prefix length must be 0..=32",
            ));
        }
        Ok(Ipv4Cidr { addr, prefix })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn netmask(&self) -> Ipv4Netmask {
        Ipv4Netmask::from_prefix(self.prefix).expect("prefix validated")
    }

    /// The network this address is on (`10.190.190.1/24` -> `10.190.190.0/24`).
    pub fn network(&self) -> Ipv4Net {
        Ipv4Net(Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & mask_bits(self.prefix)),
            prefix: self.prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = mask_bits(self.prefix);
        u32::from(ip) & m == u32::from(self.addr) & m
    }
}

impl FromStr for Ipv4Cidr {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| InvalidValue::new("IPv4 CIDR", s, "must be ADDRESS/PREFIX"))?;
        Ok(Ipv4Cidr {
            addr: parse_ipv4("IPv4 CIDR", addr)
                .map_err(|_| InvalidValue::new("IPv4 CIDR", s, "bad IPv4 address"))?,
            prefix: parse_prefix("IPv4 CIDR", s, prefix)?,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4 network: a [`Ipv4Cidr`] whose host bits are all zero (`10.190.190.0/24`). A NAT
/// subnet or a DHCP subnet; `10.190.190.1/24` is refused rather than silently masked, because
/// the user probably meant something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net(Ipv4Cidr);

impl Ipv4Net {
    pub fn cidr(&self) -> Ipv4Cidr {
        self.0
    }
    pub fn addr(&self) -> Ipv4Addr {
        self.0.addr
    }
    pub fn prefix(&self) -> u8 {
        self.0.prefix
    }
    pub fn netmask(&self) -> Ipv4Netmask {
        self.0.netmask()
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.0.contains(ip)
    }
}

impl TryFrom<Ipv4Cidr> for Ipv4Net {
    type Error = InvalidValue;
    fn try_from(c: Ipv4Cidr) -> Result<Self, Self::Error> {
        if c.network().0 != c {
            return Err(InvalidValue::new(
                "IPv4 network",
                &c.to_string(),
                "host bits must be zero",
            ));
        }
        Ok(Ipv4Net(c))
    }
}

impl FromStr for Ipv4Net {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Ipv4Cidr>()?.try_into()
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A contiguous IPv4 netmask in dotted form (`255.255.255.0`), as dhcpd.conf and the API's
/// `netmask` field use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Netmask(u8);

impl Ipv4Netmask {
    pub fn from_prefix(prefix: u8) -> Result<Self, InvalidValue> {
        if prefix > 32 {
            return Err(InvalidValue::new(
                "netmask",
                &prefix.to_string(),
                "prefix length must be 0..=32",
            ));
        }
        Ok(Ipv4Netmask(prefix))
    }

    pub fn prefix(&self) -> u8 {
        self.0
    }

    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.0))
    }
}

impl FromStr for Ipv4Netmask {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bits = u32::from(parse_ipv4("netmask", s)?);
        let prefix = bits.leading_ones();
        if mask_bits(prefix as u8) != bits {
            return Err(InvalidValue::new(
                "netmask",
                s,
                "must be contiguous ones then zeros",
            ));
        }
        Ok(Ipv4Netmask(prefix as u8))
    }
}

impl fmt::Display for Ipv4Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr().fmt(f)
    }
}

/// The name part of an ipadm address object (`v4` of `net0/v4`).
///
/// Reference §3 (ipadm.8): up to 32 ASCII alphanumerics, the first alphabetic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrObjName(String);

impl AddrObjName {
    pub const MAX_LEN: usize = 32;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AddrObjName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("address object name", s, reason));
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() > Self::MAX_LEN {
            return bad("must be at most 32 characters");
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad("may contain only ASCII letters and digits");
        }
        if !s.as_bytes()[0].is_ascii_alphabetic() {
            return bad("must start with a letter");
        }
        Ok(AddrObjName(s.to_owned()))
    }
}

impl fmt::Display for AddrObjName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ipadm address object, `<interface>/<name>` (`provision_interconnect0/v4`). The interface
/// is an IP interface, named after the datalink it is plumbed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrObj {
    pub interface: LinkName,
    pub name: AddrObjName,
}

impl AddrObj {
    pub fn new(interface: LinkName, name: AddrObjName) -> Self {
        AddrObj { interface, name }
    }
}

impl FromStr for AddrObj {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (interface, name) = s
            .split_once('/')
            .ok_or_else(|| InvalidValue::new("address object", s, "must be INTERFACE/NAME"))?;
        let wrap = |e: InvalidValue| InvalidValue::new("address object", s, e.reason);
        Ok(AddrObj {
            interface: interface.parse().map_err(wrap)?,
            name: name.parse().map_err(wrap)?,
        })
    }
}

impl fmt::Display for AddrObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.interface, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsable::hostile_variants;

    #[test]
    fn cidr_keeps_host_bits_and_knows_its_network() {
        let c: Ipv4Cidr = "10.190.190.1/24".parse().unwrap();
        assert_eq!(c.addr(), Ipv4Addr::new(10, 190, 190, 1));
        assert_eq!(c.prefix(), 24);
        assert_eq!(c.to_string(), "10.190.190.1/24");
        assert_eq!(c.network().to_string(), "10.190.190.0/24");
        assert_eq!(c.netmask().to_string(), "255.255.255.0");
        assert!(c.contains(Ipv4Addr::new(10, 190, 190, 254)));
        assert!(!c.contains(Ipv4Addr::new(10, 190, 191, 1)));
    }

    #[test]
    fn cidr_prefix_edges() {
        assert_eq!("0.0.0.0/0".parse::<Ipv4Cidr>().unwrap().prefix(), 0);
        assert_eq!("1.2.3.4/32".parse::<Ipv4Cidr>().unwrap().prefix(), 32);
        for bad in [
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4",
            "1.2.3.4/024",
            "1.2.3.4/+4",
            "1.2.3.4/-1",
            "1.2.3/24",
            "01.2.3.4/24", // leading zero: octal in inet_aton
            "1.2.3.4/24/1",
            "256.1.1.1/8",
            "::1/128",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn network_refuses_host_bits() {
        assert!("10.190.190.0/24".parse::<Ipv4Net>().is_ok());
        assert!("10.190.190.1/24".parse::<Ipv4Net>().is_err());
        assert!("0.0.0.0/0".parse::<Ipv4Net>().is_ok());
    }

    #[test]
    fn netmask_must_be_contiguous() {
        assert_eq!("255.255.255.0".parse::<Ipv4Netmask>().unwrap().prefix(), 24);
        assert_eq!("0.0.0.0".parse::<Ipv4Netmask>().unwrap().prefix(), 0);
        assert_eq!(
            "255.255.255.255".parse::<Ipv4Netmask>().unwrap().prefix(),
            32
        );
        assert!("255.0.255.0".parse::<Ipv4Netmask>().is_err());
        assert!("255.255.255.1".parse::<Ipv4Netmask>().is_err());
        assert_eq!(
            Ipv4Netmask::from_prefix(20).unwrap().to_string(),
            "255.255.240.0"
        );
    }

    #[test]
    fn addrobj_is_interface_slash_alnum_name() {
        let a: AddrObj = "provision_interconnect0/v4".parse().unwrap();
        assert_eq!(a.interface.as_str(), "provision_interconnect0");
        assert_eq!(a.name.as_str(), "v4");
        assert_eq!(a.to_string(), "provision_interconnect0/v4");
        for bad in [
            "net0",
            "net0/",
            "/v4",
            "net0/4v",
            "net0/v_4",
            "net0/v4/x",
            "net0/?",
            "net-0/v4",
            "net0/_a",
        ] {
            assert!(bad.parse::<AddrObj>().is_err(), "{bad}");
        }
        let max = format!("net0/a{}", "1".repeat(31));
        assert!(max.parse::<AddrObj>().is_ok());
        let over = format!("net0/a{}", "1".repeat(32));
        assert!(over.parse::<AddrObj>().is_err());
    }

    #[test]
    fn every_net_value_rejects_hostile_input() {
        for v in hostile_variants("10.190.190.1/24") {
            assert!(v.parse::<Ipv4Cidr>().is_err(), "{v:?}");
            assert!(v.parse::<Ipv4Net>().is_err(), "{v:?}");
        }
        for v in hostile_variants("255.255.255.0") {
            assert!(v.parse::<Ipv4Netmask>().is_err(), "{v:?}");
        }
        for v in hostile_variants("net0/v4") {
            assert!(v.parse::<AddrObj>().is_err(), "{v:?}");
        }
        for v in hostile_variants("public") {
            assert!(v.parse::<AddrObjName>().is_err(), "{v:?}");
        }
    }
}
