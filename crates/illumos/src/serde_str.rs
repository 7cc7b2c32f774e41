//! Serde for the validated types, behind the `serde` feature: a value is written as the text
//! the tool takes and read back through its `FromStr`, so a task spec stored as JSON holds a
//! `ZoneName`, never a string that must be parsed again (and an invalid one cannot be read).

/// Implements `Serialize` (the `Display` text) and `Deserialize` (`FromStr`, its error as the
/// message) for each type.
macro_rules! serde_via_str {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_via_str!(
    crate::names::ZoneName,
    crate::names::DatasetName,
    crate::names::Pool,
    crate::names::SnapshotName,
    crate::names::Size,
    crate::names::ZonecfgValue,
    crate::names::AttrName,
    crate::names::HostPath,
    crate::link::LinkName,
    crate::dladm::aggr::AggrPolicy,
    crate::dladm::bridge::BridgeName,
    crate::link::Mac,
    crate::link::UnicastMac,
    crate::net::Ipv4Cidr,
    crate::net::Ipv4Net,
    crate::net::AddrObjName,
    crate::ipnat::NatRule,
    crate::smf::Fmri,
    crate::hostname::NodeName,
    crate::power::RunLevel,
    crate::power::WallMessage,
    crate::power::BootEnv,
);

/// A VLAN id is a number on the wire, as in every request that names one.
impl serde::Serialize for crate::link::VlanId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.get())
    }
}

impl<'de> serde::Deserialize<'de> for crate::link::VlanId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u16::deserialize(d)?;
        crate::link::VlanId::new(n).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::names::{DatasetName, ZoneName};

    #[test]
    fn a_name_round_trips_as_its_text() {
        let z: ZoneName = "web-1".parse().unwrap();
        assert_eq!(serde_json::to_string(&z).unwrap(), "\"web-1\"");
        assert_eq!(serde_json::from_str::<ZoneName>("\"web-1\"").unwrap(), z);
    }

    #[test]
    fn a_vlan_id_is_a_number() {
        let v: crate::link::VlanId = serde_json::from_str("12").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "12");
        assert!(serde_json::from_str::<crate::link::VlanId>("4095").is_err());
    }

    #[test]
    fn an_invalid_name_cannot_be_read_back() {
        let e = serde_json::from_str::<ZoneName>("\"global\"").unwrap_err();
        assert!(e.to_string().contains("Invalid zone name"), "{e}");
        assert!(serde_json::from_str::<DatasetName>("\"rpool/../x\"").is_err());
        assert!(serde_json::from_str::<ZoneName>("7").is_err());
    }
}
