//! Link requests, validated into the operations' parameters (a [`FieldError`] names the
//! field).

use std::collections::BTreeMap;

use illumos::dladm::prop::VNIC_PROPS;
use illumos::dladm::{LinkProp, VnicMac};
use illumos::link::{LinkName, UnicastMac, VlanId};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::ops::{CreateEtherstub, CreateVnicParams, MacChoice, VnicProps};
use crate::error::FieldError;
use crate::network::validate;
use crate::tasks::RequesterNote;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEtherstubRequest {
    /// A datalink name: letters, digits and `_`, starting with a letter, ending in a number,
    /// at most 31 characters (`estub_provision0`).
    pub name: String,
    /// `dladm -t`: gone after a reboot. Default false.
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVnicRequest {
    /// A datalink name (see etherstubs).
    pub name: String,
    /// The link it goes over: a physical NIC or an etherstub; must exist.
    pub link: String,
    /// `auto` (default), `random`, or a unicast MAC in any common notation.
    pub mac_address: Option<String>,
    /// 1 to 4094.
    pub vlan_id: Option<u16>,
    /// Link properties the VNIC is created with (`dladm create-vnic -p name=value,...`), by
    /// name: `maxbw` (`100M`: a whole number, optionally K, M or G; Mbps without), `priority`
    /// (`high`, `medium`, `low`), `cpus` (processor ids), `mtu` (68 to 9000), `allowed-ips`
    /// (addresses or CIDR networks), `protection` (`mac-nospoof`, `restricted`, `ip-nospoof`,
    /// `dhcp-nospoof`). A value is a string, a number, or (for the lists) an array or a
    /// comma-separated string. Any other name is a 400 naming `properties.NAME`.
    #[schema(value_type = Option<Object>, example = json!({"maxbw": "100M", "priority": "high"}))]
    pub properties: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// The query of a link's DELETE (etherstub or VNIC), with the keys the Zoneweaver UI sends.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteLinkQuery {
    /// Etherstubs only: also delete the VNICs still over it.
    pub force: Option<bool>,
    /// `dladm delete-... -t`: remove only the running link, keep its persistent
    /// configuration (it comes back at the next boot). Default false.
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    pub created_by: Option<RequesterNote>,
}

/// The etherstub list's query, with the key the Zoneweaver UI sends.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EtherstubQuery {
    /// Only the etherstub of this name (an empty list when there is none).
    pub name: Option<String>,
}

/// An etherstub's detail query, with the key the Zoneweaver UI sends.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EtherstubDetailQuery {
    /// `false`: leave the VNICs out (`vnics` is then empty). Default true.
    pub show_vnics: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VnicQuery {
    /// Only VNICs over this link.
    pub link: Option<String>,
    /// The same as `link`, as the Zoneweaver UI names it.
    pub over: Option<String>,
    /// Only VNICs assigned to this zone (`global`: those in the global zone).
    pub zone: Option<String>,
    /// Only VNICs in this link state (`up`, `down`, `unknown`).
    pub state: Option<String>,
}

impl CreateEtherstubRequest {
    pub fn validate(&self) -> Result<CreateEtherstub, FieldError> {
        Ok(CreateEtherstub {
            name: validate::link("name", &self.name)?,
            temporary: self.temporary,
        })
    }
}

impl CreateVnicRequest {
    pub fn validate(&self) -> Result<CreateVnicParams, FieldError> {
        Ok(CreateVnicParams {
            name: validate::link("name", &self.name)?,
            link: validate::link("link", &self.link)?,
            mac_address: MacChoice(vnic_mac("mac_address", self.mac_address.as_deref())?),
            vlan_id: self
                .vlan_id
                .map(|v| {
                    VlanId::new(v).map_err(|e| FieldError::new("vlan_id", format!("vlan_id: {e}")))
                })
                .transpose()?,
            properties: vnic_props(self.properties.as_ref())?,
            temporary: self.temporary,
        })
    }
}

/// The request's `properties`, each checked against what dladm takes for a VNIC; a failure
/// names `properties.NAME` (or `properties` alone for a name no property could have).
pub fn vnic_props(props: Option<&BTreeMap<String, Value>>) -> Result<VnicProps, FieldError> {
    let mut out = Vec::new();
    for (name, value) in props.into_iter().flatten() {
        let known = VNIC_PROPS.contains(&name.as_str());
        let field = if known {
            format!("properties.{name}")
        } else {
            "properties".to_owned()
        };
        let bad = |why: String| FieldError::new(field.clone(), format!("{field}: {why}"));
        if !known {
            // The name is not echoed: it may be anything a client sent.
            return Err(bad(format!(
                "a VNIC takes only these properties: {}",
                VNIC_PROPS.join(", ")
            )));
        }
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let text = match value {
            Value::Array(items) => items
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join(",")),
            v => scalar(v),
        }
        .ok_or_else(|| bad("must be a string, a number or an array of them".to_owned()))?;
        match LinkProp::parse_vnic(name, &text) {
            Ok(p) => out.push(p),
            Err(e) => {
                return Err(bad(
                    e.map_or_else(|| "unknown property".to_owned(), |e| e.to_string())
                ))
            }
        }
    }
    Ok(VnicProps(out))
}

/// A link named in a path.
pub fn path_link(name: &str) -> Result<LinkName, FieldError> {
    validate::link("name", name)
}

/// `auto` (or absent), `random`, or a unicast MAC in any common notation.
pub fn vnic_mac(field: &str, s: Option<&str>) -> Result<VnicMac, FieldError> {
    match s {
        None | Some("auto") => Ok(VnicMac::Auto),
        Some("random") => Ok(VnicMac::Random),
        Some(m) => {
            let mac = validate::mac(field, m)?;
            UnicastMac::try_from(mac)
                .map(VnicMac::Fixed)
                .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Result<VnicProps, FieldError> {
        let map: BTreeMap<String, Value> = serde_json::from_value(v).unwrap();
        vnic_props(Some(&map))
    }

    #[test]
    fn vnic_properties_take_strings_numbers_and_lists() {
        let p = props(json!({"maxbw": "100M", "mtu": 9000, "cpus": [0, 1],
            "allowed-ips": "10.0.0.5,10.0.1.0/24", "priority": "low",
            "protection": ["mac-nospoof", "ip-nospoof"]}))
        .unwrap();
        let rendered: Vec<String> =
            p.0.iter()
                .map(|p| format!("{}={}", p.name(), p.value()))
                .collect();
        assert_eq!(
            rendered,
            [
                "allowed-ips=10.0.0.5,10.0.1.0/24",
                "cpus=0,1",
                "maxbw=100M",
                "mtu=9000",
                "priority=low",
                "protection=mac-nospoof,ip-nospoof"
            ]
        );
        assert!(props(json!({})).unwrap().0.is_empty());
    }

    #[test]
    fn a_bad_vnic_property_names_itself_and_an_unknown_one_is_not_echoed() {
        for (v, field) in [
            (json!({"maxbw": "fast"}), "properties.maxbw"),
            (json!({"priority": "low,maxbw=1"}), "properties.priority"),
            (json!({"cpus": [0, [1]]}), "properties.cpus"),
            (json!({"mtu": true}), "properties.mtu"),
            (json!({"zone": "z1"}), "properties"),
            (json!({"maxbw=1,priority": "low"}), "properties"),
        ] {
            let e = props(v.clone()).unwrap_err();
            assert_eq!(e.field, field, "{v}");
            assert!(!e.message.contains("maxbw=1,"), "{}", e.message);
        }
    }

    #[test]
    fn vnic_mac_names_its_field() {
        assert_eq!(vnic_mac("mac_address", None).unwrap(), VnicMac::Auto);
        assert_eq!(
            vnic_mac("mac_address", Some("0208.20ab.cd01")).unwrap(),
            VnicMac::Fixed("02:08:20:ab:cd:01".parse().unwrap())
        );
        for bad in ["01:00:5e:00:00:01", "factory", "02:08:20:ab:cd"] {
            let e = vnic_mac("mac_address", Some(bad)).unwrap_err();
            assert_eq!(e.field, "mac_address", "{bad}");
        }
    }
}
