//! VLAN requests with the original's keys (`vid`, `link`, `name`, `force`, `temporary`).

use crate::tasks::RequesterNote;
use illumos::link::{LinkName, VlanId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ops::CreateVlanParams;
use crate::error::FieldError;
use crate::network::validate;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVlanRequest {
    /// The VLAN ID, 1 to 4094.
    pub vid: u16,
    /// The link it goes over: a physical link or an aggregation; must exist.
    pub link: String,
    /// The VLAN link's name; absent or empty: dladm's convention, `<letters of link><1000 *
    /// vid + number of link>` (`igb0`, VID 12: `igb12000`), as the original derived it.
    pub name: Option<String>,
    /// `dladm create-vlan -f`: create it even if the link's MTU may then be too large for
    /// tagged frames.
    #[serde(default)]
    pub force: bool,
    /// `dladm -t`: gone after a reboot.
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VlanQuery {
    /// Only this VLAN ID.
    pub vid: Option<u16>,
    /// Only VLANs over this link.
    pub over: Option<String>,
    /// Only VLANs in this link state (`up`, `down`, `unknown`).
    pub state: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteVlanQuery {
    /// `dladm delete-vlan -t`: delete it until the next boot only (its persistent
    /// configuration stays).
    pub temporary: Option<bool>,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// dladm's default VLAN name, computed as the original did from the link's name.
fn default_name(link: &LinkName, vid: VlanId) -> Result<LinkName, FieldError> {
    let s = link.as_str();
    let base = s.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = 1000 * u64::from(vid.get()) + u64::from(link.instance());
    let name = format!("{base}{number}");
    validate::link("name", &name)
}

impl CreateVlanRequest {
    pub fn validate(&self) -> Result<CreateVlanParams, FieldError> {
        let vid = VlanId::new(self.vid).map_err(|e| FieldError::new("vid", format!("vid: {e}")))?;
        let link = validate::link("link", &self.link)?;
        let name = match self.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => validate::link("name", n)?,
            None => default_name(&link, vid)?,
        };
        Ok(CreateVlanParams {
            name,
            link,
            vid,
            force: self.force,
            temporary: self.temporary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_name_is_dladms() {
        let r: CreateVlanRequest =
            serde_json::from_value(json!({"vid": 12, "link": "igb0", "name": ""})).unwrap();
        assert_eq!(r.validate().unwrap().name.as_str(), "igb12000");
        let r: CreateVlanRequest =
            serde_json::from_value(json!({"vid": 7, "link": "aggr1"})).unwrap();
        assert_eq!(r.validate().unwrap().name.as_str(), "aggr7001");
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (body, field) in [
            (json!({"vid": 0, "link": "igb0"}), "vid"),
            (json!({"vid": 4095, "link": "igb0"}), "vid"),
            (json!({"vid": 5, "link": "igb0;id"}), "link"),
            (json!({"vid": 5, "link": "igb0", "name": "v-5"}), "name"),
        ] {
            let r: CreateVlanRequest = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(r.validate().unwrap_err().field, field, "{body}");
        }
    }
}
