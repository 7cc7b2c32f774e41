//! Address requests, validated into the operations' parameters (a [`FieldError`] names the
//! field). The keys are the original's (`interface`, `type`, `addrobj`, `address`, `primary`,
//! `wait`, `temporary`, `down`), which the Zoneweaver UI sends.

use crate::tasks::RequesterNote;
use illumos::ipadm::addr::{AddrSource, IpCidr};
use illumos::net::AddrObj;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ops::CreateAddress;
use crate::error::FieldError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAddressRequest {
    /// The address object, `INTERFACE/NAME` (`vnic0/v4`): NAME is up to 32 letters and digits,
    /// starting with a letter.
    pub addrobj: String,
    /// The IP interface (the datalink it is plumbed on); must be the one named in `addrobj`
    /// when given. Plumbed first (with the same `temporary`) when it is not yet.
    pub interface: Option<String>,
    /// `static`, `dhcp` or `addrconf` (an IPv6 link-local address with autoconfiguration).
    #[serde(rename = "type")]
    pub kind: String,
    /// `static` only, and required there: `ADDRESS/PREFIX`, IPv4 or IPv6 (`192.168.50.1/24`).
    pub address: Option<String>,
    /// `dhcp` only (`-1`): the primary interface for the DHCP client's host name and options.
    #[serde(default)]
    pub primary: bool,
    /// `dhcp` only (`-w SECONDS`): how long ipadm waits for a lease; absent: ipadm's default.
    pub wait: Option<u32>,
    /// `static` only (`-d`): created but not marked up.
    #[serde(default)]
    pub down: bool,
    /// `ipadm -t`: gone after a reboot (an interface plumbed for it is temporary too).
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddressQuery {
    /// Only addresses on interfaces whose name contains this text (as the original matched).
    pub interface: Option<String>,
    /// `v4` or `v6`.
    pub ip_version: Option<String>,
    /// `static`, `dhcp`, `addrconf` (or another TYPE ipadm prints).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `ok`, `disabled`, `tentative`, `duplicate`, `down`, `inaccessible`.
    pub state: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteAddressQuery {
    /// `delete-addr -r`: release a DHCP lease to the server rather than just dropping it.
    pub release: Option<bool>,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// An address object named in a path, or split over two segments when the client did not
/// encode its `/` (then each segment is named as the path names it).
pub fn path_addrobj(first: &str, second: Option<&str>) -> Result<AddrObj, FieldError> {
    let Some(name) = second else {
        return addrobj("addrobj", first);
    };
    let interface = crate::network::validate::link("interface", first)?;
    let name = name
        .parse()
        .map_err(|e| FieldError::new("name", format!("name: {e}")))?;
    Ok(AddrObj::new(interface, name))
}

fn addrobj(field: &str, s: &str) -> Result<AddrObj, FieldError> {
    s.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

/// A non-empty value; the UI sends `""` for a field it leaves blank.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

impl CreateAddressRequest {
    pub fn validate(&self) -> Result<CreateAddress, FieldError> {
        let addrobj = addrobj("addrobj", &self.addrobj)?;
        if let Some(i) = given(&self.interface) {
            let i = crate::network::validate::link("interface", i)?;
            if i != addrobj.interface {
                return Err(FieldError::new(
                    "interface",
                    format!("interface: {i} is not the interface of addrobj {addrobj}"),
                ));
            }
        }
        let address = given(&self.address);
        let source = match self.kind.as_str() {
            "static" => {
                let a = address.ok_or_else(|| {
                    FieldError::new("address", "address: required for a static address")
                })?;
                let addr: IpCidr = a
                    .parse()
                    .map_err(|e| FieldError::new("address", format!("address: {e}")))?;
                AddrSource::Static {
                    addr,
                    down: self.down,
                }
            }
            "dhcp" | "addrconf" if address.is_some() => {
                return Err(FieldError::new(
                    "address",
                    format!("address: a {} address is not given one", self.kind),
                ))
            }
            "dhcp" => AddrSource::Dhcp {
                primary: self.primary,
                wait_secs: self.wait,
            },
            "addrconf" => AddrSource::Addrconf,
            other => {
                return Err(FieldError::new(
                    "type",
                    format!("type: {other:?} is not one of static, dhcp, addrconf"),
                ))
            }
        };
        Ok(CreateAddress {
            addrobj,
            source: source.into(),
            temporary: self.temporary,
        })
    }
}

impl AddressQuery {
    pub fn validate(&self) -> Result<(), FieldError> {
        match self.ip_version.as_deref() {
            None | Some("v4" | "v6") => Ok(()),
            Some(v) => Err(FieldError::new(
                "ip_version",
                format!("ip_version: {v:?} is not v4 or v6"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> Result<CreateAddress, FieldError> {
        serde_json::from_value::<CreateAddressRequest>(v)
            .unwrap()
            .validate()
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (body, field) in [
            (json!({"addrobj": "vnic0", "type": "dhcp"}), "addrobj"),
            (json!({"addrobj": "vnic0/v4;x", "type": "dhcp"}), "addrobj"),
            (json!({"addrobj": "vnic0/v4", "type": "static"}), "address"),
            (
                json!({"addrobj": "vnic0/v4", "type": "static", "address": "10.0.0.1"}),
                "address",
            ),
            (
                json!({"addrobj": "vnic0/v4", "type": "dhcp", "address": "10.0.0.1/24"}),
                "address",
            ),
            (json!({"addrobj": "vnic0/v4", "type": "manual"}), "type"),
            (
                json!({"addrobj": "vnic0/v4", "type": "dhcp", "interface": "vnic1"}),
                "interface",
            ),
        ] {
            assert_eq!(req(body.clone()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn the_uis_blank_fields_are_absent() {
        let c = req(
            json!({"addrobj": "vnic0/d", "type": "dhcp", "interface": "vnic0",
            "address": "", "primary": true, "wait": 30, "down": false, "temporary": true,
            "created_by": "admin@example.org"}),
        )
        .unwrap();
        assert_eq!(
            c.source.0,
            AddrSource::Dhcp {
                primary: true,
                wait_secs: Some(30)
            }
        );
        assert!(c.temporary);
    }
}
