//! Link requests, validated into the operations' parameters (a [`FieldError`] names the
//! field).

use illumos::dladm::VnicMac;
use illumos::link::{LinkName, UnicastMac, VlanId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ops::{CreateEtherstub, CreateVnicParams, MacChoice};
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
            temporary: self.temporary,
        })
    }
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
