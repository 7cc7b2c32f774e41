//! The NAT rule request, validated into the rules to write (a [`FieldError`] names the field).

use std::net::Ipv4Addr;

use illumos::ipnat::{BimapRule, MapRule, NatProto, NatRule, Port, Portmap, PortmapPorts, RdrRule};
use illumos::net::{Ipv4Cidr, Ipv4Net};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::network::validate;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NatType {
    /// `map ... portmap PROTO auto`, plus the plain `map` after it for ICMP and other
    /// protocols.
    Portmap,
    /// A plain `map` (address translation only).
    Map,
    /// 1:1 both ways: `subnet` is the internal address, `target` the external one.
    Bimap,
    /// Port forwarding: `external_ip:external_port` to `internal_ip:internal_port`.
    Rdr,
}

impl NatType {
    /// As the request names it.
    pub fn as_str(self) -> &'static str {
        match self {
            NatType::Portmap => "portmap",
            NatType::Map => "map",
            NatType::Bimap => "bimap",
            NatType::Rdr => "rdr",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNatRule {
    /// Default `portmap`.
    #[serde(rename = "type")]
    pub kind: Option<NatType>,
    /// The outside interface (`igb0`).
    pub bridge: String,
    /// map/portmap: the private network (`10.190.190.0/24`); bimap: the internal address.
    pub subnet: Option<String>,
    /// map/portmap: default `0/32` (the interface's own address); bimap: the external address.
    pub target: Option<String>,
    /// portmap: `tcp`, `udp` or `tcp/udp` (default); rdr: default `tcp`.
    pub protocol: Option<String>,
    pub external_ip: Option<String>,
    pub external_port: Option<u16>,
    pub internal_ip: Option<String>,
    pub internal_port: Option<u16>,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, FieldError> {
    v.as_deref()
        .ok_or_else(|| FieldError::new(field, format!("{field} is required")))
}

/// An address or CIDR in ipnat's forms: `0/32`, `A.B.C.D/bits`, or a bare address (`/32`).
fn cidr(field: &str, s: &str) -> Result<Ipv4Cidr, FieldError> {
    let text = match s.split_once('/') {
        Some(("0", bits)) => format!("0.0.0.0/{bits}"),
        Some(_) => s.to_owned(),
        None => format!("{s}/32"),
    };
    text.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

fn port(field: &str, v: Option<u16>) -> Result<Port, FieldError> {
    let v = v.ok_or_else(|| FieldError::new(field, format!("{field} is required")))?;
    Port::new(v).map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

fn proto(field: &str, v: Option<&str>, default: NatProto) -> Result<NatProto, FieldError> {
    match v {
        None => Ok(default),
        Some(p) => p
            .parse()
            .map_err(|e| FieldError::new(field, format!("{field}: {e}"))),
    }
}

impl CreateNatRule {
    /// The rules to add, first the one that decides "duplicate".
    pub fn rules(&self) -> Result<Vec<NatRule>, FieldError> {
        let interface = validate::link("bridge", &self.bridge)?;
        let kind = self.kind.unwrap_or(NatType::Portmap);
        let for_kind = |field: &str, present: bool| -> Result<(), FieldError> {
            if present {
                Err(FieldError::new(
                    field,
                    format!("{field} does not apply to a {} rule", kind.as_str()),
                ))
            } else {
                Ok(())
            }
        };
        match kind {
            NatType::Portmap | NatType::Map => {
                for_kind("external_ip", self.external_ip.is_some())?;
                for_kind("external_port", self.external_port.is_some())?;
                for_kind("internal_ip", self.internal_ip.is_some())?;
                for_kind("internal_port", self.internal_port.is_some())?;
                let subnet: Ipv4Net =
                    validate::network("subnet", required("subnet", &self.subnet)?)?;
                let target = cidr("target", self.target.as_deref().unwrap_or("0/32"))?;
                let plain = MapRule {
                    interface,
                    source: subnet.cidr(),
                    target,
                    portmap: None,
                };
                if kind == NatType::Map {
                    for_kind("protocol", self.protocol.is_some())?;
                    return Ok(vec![NatRule::Map(plain)]);
                }
                let pm = MapRule {
                    portmap: Some(Portmap {
                        proto: proto("protocol", self.protocol.as_deref(), NatProto::TcpUdp)?,
                        ports: PortmapPorts::Auto,
                    }),
                    ..plain.clone()
                };
                Ok(vec![NatRule::Map(pm), NatRule::Map(plain)])
            }
            NatType::Bimap => {
                for_kind("protocol", self.protocol.is_some())?;
                for_kind("external_ip", self.external_ip.is_some())?;
                for_kind("internal_ip", self.internal_ip.is_some())?;
                Ok(vec![NatRule::Bimap(BimapRule {
                    interface,
                    internal: cidr("subnet", required("subnet", &self.subnet)?)?,
                    external: cidr("target", required("target", &self.target)?)?,
                })])
            }
            NatType::Rdr => {
                for_kind("subnet", self.subnet.is_some())?;
                for_kind("target", self.target.is_some())?;
                let internal: Ipv4Addr =
                    validate::ipv4("internal_ip", required("internal_ip", &self.internal_ip)?)?;
                Ok(vec![NatRule::Rdr(RdrRule {
                    interface,
                    external: cidr("external_ip", required("external_ip", &self.external_ip)?)?,
                    external_port: port("external_port", self.external_port)?,
                    external_port_end: None,
                    internal,
                    internal_port: port("internal_port", self.internal_port)?,
                    proto: proto("protocol", self.protocol.as_deref(), NatProto::Tcp)?,
                })])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn req(v: Value) -> CreateNatRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_spec_portmap_example_writes_the_rule_and_its_companion() {
        let rules = req(
            json!({"bridge": "igb0", "subnet": "10.190.190.0/24", "target": "0/32",
            "protocol": "tcp/udp", "type": "portmap"}),
        )
        .rules()
        .unwrap();
        let texts: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto",
                "map igb0 10.190.190.0/24 -> 0/32"
            ]
        );
    }

    #[test]
    fn the_spec_rdr_example_is_valid_ipnat_syntax() {
        let rules = req(
            json!({"type": "rdr", "bridge": "igb0", "external_ip": "192.168.1.10",
            "external_port": 8080, "internal_ip": "10.190.190.10", "internal_port": 80,
            "protocol": "tcp"}),
        )
        .rules()
        .unwrap();
        assert_eq!(
            rules[0].to_string(),
            "rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp"
        );
    }

    #[test]
    fn bimap_takes_subnet_and_target() {
        let rules = req(
            json!({"type": "bimap", "bridge": "igb0", "subnet": "10.190.190.10",
            "target": "192.168.1.100"}),
        )
        .rules()
        .unwrap();
        assert_eq!(
            rules[0].to_string(),
            "bimap igb0 10.190.190.10/32 -> 192.168.1.100/32"
        );
    }

    #[test]
    fn hostile_fields_are_refused_before_any_rule_exists() {
        for (field, v) in [
            (
                "bridge",
                json!({"bridge": "igb0\nmap", "subnet": "10.0.0.0/24"}),
            ),
            (
                "subnet",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24 # x"}),
            ),
            (
                "target",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24", "target": "0/32;"}),
            ),
            (
                "protocol",
                json!({"bridge": "igb0", "subnet": "10.0.0.0/24", "protocol": "tcp}"}),
            ),
        ] {
            let e = req(v).rules().unwrap_err();
            assert_eq!(e.field, field);
        }
    }

    #[test]
    fn a_field_that_does_not_apply_names_the_rule_type_as_the_request_does() {
        let e = req(json!({"type": "rdr", "bridge": "igb0", "subnet": "10.0.0.0/24"}))
            .rules()
            .unwrap_err();
        assert_eq!(e.field, "subnet");
        assert_eq!(e.message, "subnet does not apply to a rdr rule");
    }
}
