//! Datalink values: [`LinkName`], [`Mac`] / [`UnicastMac`] and [`VlanId`].
//!
//! These are the values that reach `dladm` and `ipadm` argv and the ipnat.conf / dhcpd.conf
//! files, so each one is checked against the illumos rules before it exists.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid value of one of this module's types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl InvalidValue {
    pub(crate) fn new(what: &'static str, value: &str, reason: &'static str) -> Self {
        // Keep error messages bounded even for a megabyte of garbage.
        let value: String = value.chars().take(80).collect();
        InvalidValue {
            what,
            value,
            reason,
        }
    }
}

/// A datalink name (VNIC, etherstub, physical link), which is also the name of the IP interface
/// plumbed on it.
///
/// Reference §3 (dladm.8): ASCII letters, digits and `_` only; starts with a letter; ends with a
/// number in 0..=4294967294 written without a leading zero (`net0`, `vm1net10`; not `net01`,
/// `vm-net0`, `vnic`); at most 31 characters (`MAXLINKNAMELEN` 32). libdladm's own check
/// (`dladm_valid_linkname`) only refuses a leading digit; we keep the manual's stricter rule
/// so a name is never accepted here and refused by a newer dladm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkName(String);

impl LinkName {
    pub const MAX_LEN: usize = 31;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trailing instance number (`3` of `vm1net3`).
    pub fn instance(&self) -> u32 {
        let start = self
            .0
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        self.0[start..]
            .parse()
            .expect("validation guarantees a trailing number <= u32::MAX - 1")
    }
}

impl FromStr for LinkName {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("link name", s, reason));
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() > Self::MAX_LEN {
            return bad("must be at most 31 characters");
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return bad("may contain only ASCII letters, digits and '_'");
        }
        if !s.as_bytes()[0].is_ascii_alphabetic() {
            return bad("must start with a letter");
        }
        let start = s.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
        let number = &s[start..];
        if number.is_empty() {
            return bad("must end with a number");
        }
        if number.len() > 1 && number.starts_with('0') {
            return bad("the trailing number must not have a leading zero");
        }
        match number.parse::<u64>() {
            Ok(n) if n <= 4_294_967_294 => Ok(LinkName(s.to_owned())),
            _ => bad("the trailing number must be at most 4294967294"),
        }
    }
}

impl TryFrom<String> for LinkName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for LinkName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A 48-bit MAC address as any tool may print it (unicast, multicast or broadcast).
///
/// Parses both dladm's unpadded form (`2:8:20:a:b:c`, reference §1.5) and the padded form;
/// hex digits in either case. Displays canonically: lowercase, zero-padded, colon-separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

impl Mac {
    pub const fn new(octets: [u8; 6]) -> Self {
        Mac(octets)
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The I/G bit: group (multicast) address. Broadcast is a multicast address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// The U/L bit: set for locally administered addresses (dladm's `random` VNIC MACs).
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl FromStr for Mac {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| InvalidValue::new("MAC address", s, reason);
        let mut octets = [0u8; 6];
        let mut parts = s.split(':');
        for octet in &mut octets {
            let part = parts
                .next()
                .ok_or_else(|| bad("must have six ':'-separated octets"))?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("each octet must be one or two hex digits"));
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad("bad octet"))?;
        }
        if parts.next().is_some() {
            return Err(bad("must have six ':'-separated octets"));
        }
        Ok(Mac(octets))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A MAC address a VNIC may be given with `create-vnic -m`: unicast (which rules out broadcast
/// and every multicast address) and not all zeros. dladm refuses these with `invalid MAC
/// address`; refusing them here names the field before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnicastMac(Mac);

impl UnicastMac {
    pub fn mac(&self) -> Mac {
        self.0
    }
}

impl TryFrom<Mac> for UnicastMac {
    type Error = InvalidValue;
    fn try_from(mac: Mac) -> Result<Self, Self::Error> {
        let text = mac.to_string();
        if mac.is_broadcast() {
            Err(InvalidValue::new(
                "VNIC MAC address",
                &text,
                "is the broadcast address",
            ))
        } else if mac.is_multicast() {
            Err(InvalidValue::new(
                "VNIC MAC address",
                &text,
                "is a multicast address (low bit of the first octet set)",
            ))
        } else if mac.is_zero() {
            Err(InvalidValue::new("VNIC MAC address", &text, "is all zeros"))
        } else {
            Ok(UnicastMac(mac))
        }
    }
}

impl FromStr for UnicastMac {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Mac>()?.try_into()
    }
}

impl fmt::Display for UnicastMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IEEE 802.1Q VLAN id as `create-vnic -v` takes it: 1..=4094 (0 means "no VLAN" in
/// show-vnic output and is modelled as `Option<VlanId>` there; 4095 is reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VlanId(u16);

impl VlanId {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 4094;

    pub fn new(id: u16) -> Result<Self, InvalidValue> {
        if (Self::MIN..=Self::MAX).contains(&id) {
            Ok(VlanId(id))
        } else {
            Err(InvalidValue::new(
                "VLAN id",
                &id.to_string(),
                "must be between 1 and 4094",
            ))
        }
    }

    pub fn get(&self) -> u16 {
        self.0
    }
}

impl FromStr for VlanId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| InvalidValue::new("VLAN id", s, reason);
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("must be a decimal number between 1 and 4094"));
        }
        if s.len() > 1 && s.starts_with('0') {
            return Err(bad("must not have a leading zero"));
        }
        let n: u16 = s.parse().map_err(|_| bad("must be a number"))?;
        VlanId::new(n).map_err(|_| bad("must be between 1 and 4094"))
    }
}

impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsable::hostile_variants;

    #[test]
    fn link_names_from_the_manual() {
        for ok in [
            "net0",
            "vm1net10",
            "e1000g0",
            "natstub0",
            "provision_interconnect0",
            "a0",
        ] {
            assert_eq!(ok.parse::<LinkName>().unwrap().as_str(), ok);
        }
        // dladm.8: leading zero, '-', no trailing number
        for bad in ["net01", "vm-net0", "vnic", "0net0", "_net0", "net", "net.0"] {
            assert!(bad.parse::<LinkName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn link_name_is_at_most_31_characters() {
        let max = format!("{}0", "a".repeat(30));
        assert!(max.parse::<LinkName>().is_ok());
        let over = format!("{}0", "a".repeat(31));
        assert!(over.parse::<LinkName>().is_err());
    }

    #[test]
    fn link_name_trailing_number_is_bounded_by_uint32_max_minus_one() {
        assert!("net4294967294".parse::<LinkName>().is_ok());
        assert!("net4294967295".parse::<LinkName>().is_err());
        assert!("net99999999999999999999".parse::<LinkName>().is_err());
        assert_eq!("vm1net3".parse::<LinkName>().unwrap().instance(), 3);
    }

    #[test]
    fn link_name_rejects_hostile_input() {
        for v in hostile_variants("vm1net0") {
            assert!(v.parse::<LinkName>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn mac_parses_dladm_unpadded_octets_and_prints_padded() {
        // reference §1.5: "MAC addresses are printed without zero padding"
        let mac: Mac = "2:8:20:a3:1b:5c".parse().unwrap();
        assert_eq!(mac.to_string(), "02:08:20:a3:1b:5c");
        let mac: Mac = "2:8:20:a:b:c".parse().unwrap();
        assert_eq!(mac.to_string(), "02:08:20:0a:0b:0c");
        assert_eq!(mac.octets(), [2, 8, 0x20, 0xa, 0xb, 0xc]);
    }

    #[test]
    fn mac_accepts_uppercase_and_prints_lowercase() {
        let mac: Mac = "02:08:20:AB:CD:01".parse().unwrap();
        assert_eq!(mac.to_string(), "02:08:20:ab:cd:01");
    }

    #[test]
    fn mac_rejects_wrong_shapes() {
        for bad in [
            "",
            "2:8:20:a:b",
            "2:8:20:a:b:c:d",
            "02:08:20:0a:0b:0c:",
            "002:08:20:0a:0b:0c",
            "02-08-20-0a-0b-0c",
            "0208.200a.0b0c",
            "02:08:20:0a:0b:0g",
            "02::20:0a:0b:0c",
            "+2:08:20:0a:0b:0c",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
        for v in hostile_variants("02:08:20:0a:0b:0c") {
            assert!(v.parse::<Mac>().is_err(), "{v:?}");
        }
    }

    #[test]
    fn vnic_mac_must_be_unicast_and_not_zero() {
        assert!("02:08:20:0a:0b:0c".parse::<UnicastMac>().is_ok());
        assert!("ff:ff:ff:ff:ff:ff".parse::<UnicastMac>().is_err());
        // IPv4 multicast range, and any address with the I/G bit set
        assert!("01:00:5e:00:00:01".parse::<UnicastMac>().is_err());
        assert!("33:33:00:00:00:01".parse::<UnicastMac>().is_err());
        assert!("0:0:0:0:0:0".parse::<UnicastMac>().is_err());
        // but a multicast MAC is still a Mac (dladm may print one)
        assert!("01:00:5e:00:00:01".parse::<Mac>().unwrap().is_multicast());
    }

    #[test]
    fn vlan_id_is_1_to_4094() {
        assert_eq!("1".parse::<VlanId>().unwrap().get(), 1);
        assert_eq!("4094".parse::<VlanId>().unwrap().get(), 4094);
        for bad in ["0", "4095", "65536", "-1", "+5", "010", "1e3", "0x10"] {
            assert!(bad.parse::<VlanId>().is_err(), "{bad}");
        }
        assert!(VlanId::new(0).is_err());
        for v in hostile_variants("100") {
            assert!(v.parse::<VlanId>().is_err(), "{v:?}");
        }
    }
}
