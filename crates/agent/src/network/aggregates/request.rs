//! Aggregation requests with the original's keys (`name`, `links`, `policy`, `lacp_mode`,
//! `lacp_timer`, `unicast_address`, `temporary`; `operation` and `links` to change ports).

use illumos::dladm::aggr::AggrPolicy;
use illumos::link::{LinkName, UnicastMac};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ops::{ChangePortsParams, CreateAggrParams};
use crate::error::FieldError;
use crate::network::validate;
use crate::tasks::RequesterNote;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAggregateRequest {
    /// The aggregation's link name (datalink rules: a letter first, a number last, e.g.
    /// `aggr0`).
    pub name: String,
    /// Its ports: one or more physical links that nothing else uses (no IP interface, VNIC,
    /// VLAN, bridge or other aggregation on them).
    pub links: Vec<String>,
    /// `dladm create-aggr -P`: the layers hashed to spread outbound traffic, `L2`, `L3`, `L4`
    /// or a combination (`L2L3`, `L2,L3`, `L2L3L4`...). Default `L4`.
    #[serde(default)]
    pub policy: Option<String>,
    /// `-L`: `off` (default), `active` or `passive`.
    #[serde(default)]
    pub lacp_mode: Option<String>,
    /// `-T`: `short` (default) or `long`.
    #[serde(default)]
    pub lacp_timer: Option<String>,
    /// `-u`: a fixed unicast MAC address for the aggregation; absent, empty or `auto`: taken
    /// from its ports (dladm's ADDRPOLICY `auto`).
    #[serde(default)]
    pub unicast_address: Option<String>,
    /// `dladm -t`: gone after a reboot.
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// Adding ports to a link group or taking them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    Add,
    Remove,
}

impl Membership {
    pub fn adds(self) -> bool {
        self == Membership::Add
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyAggregateLinksRequest {
    /// `add` (`dladm add-aggr`) or `remove` (`remove-aggr`).
    pub operation: Membership,
    /// The ports to add or remove, all or none.
    pub links: Vec<String>,
    /// `dladm -t`: the change lasts until the next reboot only.
    #[serde(default)]
    pub temporary: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AggregateQuery {
    /// Only aggregations in this link state (`up`, `down`, `unknown`).
    pub state: Option<String>,
    /// Only aggregations with this policy (`L4`, `L2,L3` or `L2L3`).
    pub policy: Option<String>,
    /// Add each aggregation's `ports_detail` (`show-aggr -x`).
    pub extended: Option<bool>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AggregateDetailQuery {
    /// Accepted for the UI: the detail always has `ports_detail`.
    #[allow(dead_code)] // read by serde only: the UI sends it
    pub extended: Option<bool>,
    /// Add `lacp_detail` (`show-aggr -L`).
    pub lacp: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteAggregateQuery {
    /// `dladm delete-aggr -t`: delete it until the next boot only.
    pub temporary: Option<bool>,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

pub fn policy(s: &str) -> Result<AggrPolicy, FieldError> {
    s.parse()
        .map_err(|e| FieldError::new("policy", format!("policy: {e}")))
}

/// One or more distinct link names under `field`.
pub fn link_list(field: &str, links: &[String]) -> Result<Vec<LinkName>, FieldError> {
    if links.is_empty() {
        return Err(FieldError::new(
            field,
            format!("{field}: name at least one link"),
        ));
    }
    let mut out: Vec<LinkName> = Vec::with_capacity(links.len());
    for (i, l) in links.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name = validate::link(&at, l)?;
        if out.contains(&name) {
            return Err(FieldError::new(
                &at,
                format!("{at}: {name} is listed twice"),
            ));
        }
        out.push(name);
    }
    Ok(out)
}

fn unicast(s: Option<&str>) -> Result<Option<UnicastMac>, FieldError> {
    const FIELD: &str = "unicast_address";
    match s {
        None | Some("" | "auto") => Ok(None),
        Some(s) => {
            let mac = validate::mac(FIELD, s)?;
            UnicastMac::try_from(mac)
                .map(Some)
                .map_err(|e| FieldError::new(FIELD, format!("{FIELD}: {e}")))
        }
    }
}

/// One of a tool's keywords, its default when absent.
fn choice<T>(field: &str, v: Option<&str>) -> Result<T, FieldError>
where
    T: std::str::FromStr + Default,
    T::Err: std::fmt::Display,
{
    v.map_or(Ok(T::default()), |s| {
        s.parse()
            .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
    })
}

impl CreateAggregateRequest {
    pub fn validate(&self) -> Result<CreateAggrParams, FieldError> {
        Ok(CreateAggrParams {
            name: validate::link("name", &self.name)?,
            links: link_list("links", &self.links)?,
            policy: self
                .policy
                .as_deref()
                .map(policy)
                .transpose()?
                .unwrap_or_default(),
            lacp_mode: choice("lacp_mode", self.lacp_mode.as_deref())?,
            lacp_timer: choice("lacp_timer", self.lacp_timer.as_deref())?,
            unicast_address: unicast(self.unicast_address.as_deref())?,
            temporary: self.temporary,
        })
    }
}

impl ModifyAggregateLinksRequest {
    pub fn validate(&self, name: LinkName) -> Result<ChangePortsParams, FieldError> {
        Ok(ChangePortsParams {
            name,
            operation: self.operation,
            links: link_list("links", &self.links)?,
            temporary: self.temporary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use illumos::dladm::aggr::{LacpMode, LacpTimer};
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<CreateAggrParams, FieldError> {
        serde_json::from_value::<CreateAggregateRequest>(body)
            .unwrap()
            .validate()
    }

    #[test]
    fn the_uis_body_reads_with_dladms_defaults() {
        let p = create(
            json!({"name": "aggr0", "links": ["igb1", "igb2"], "policy": "L2L3",
            "lacp_mode": "active", "lacp_timer": "long", "unicast_address": "auto",
            "temporary": true, "created_by": "admin"}),
        )
        .unwrap();
        assert_eq!(p.policy.to_string(), "L2,L3");
        assert_eq!(p.lacp_mode, LacpMode::Active);
        assert_eq!(p.lacp_timer, LacpTimer::Long);
        assert_eq!(p.unicast_address, None);
        let p = create(json!({"name": "aggr1", "links": ["igb1"]})).unwrap();
        assert_eq!(p.policy.to_string(), "L4");
        assert_eq!(
            (p.lacp_mode, p.lacp_timer),
            (LacpMode::Off, LacpTimer::Short)
        );
        let p = create(json!({"name": "aggr1", "links": ["igb1"],
            "unicast_address": "02-08-20-AA-BB-CC"}))
        .unwrap();
        assert_eq!(
            p.unicast_address.map(|m| m.to_string()).as_deref(),
            Some("02:08:20:aa:bb:cc")
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (body, field) in [
            (json!({"name": "aggr", "links": ["igb1"]}), "name"),
            (json!({"name": "aggr0", "links": []}), "links"),
            (
                json!({"name": "aggr0", "links": ["igb1", "igb1"]}),
                "links[1]",
            ),
            (json!({"name": "aggr0", "links": ["igb1;id"]}), "links[0]"),
            (
                json!({"name": "aggr0", "links": ["igb1"], "unicast_address": " "}),
                "unicast_address",
            ),
            (
                json!({"name": "aggr0", "links": ["igb1"], "policy": "L5"}),
                "policy",
            ),
            (
                json!({"name": "aggr0", "links": ["igb1"], "lacp_mode": "on"}),
                "lacp_mode",
            ),
            (
                json!({"name": "aggr0", "links": ["igb1"], "lacp_timer": "fast"}),
                "lacp_timer",
            ),
            (
                json!({"name": "aggr0", "links": ["igb1"], "unicast_address": "01:00:5e:00:00:01"}),
                "unicast_address",
            ),
            (
                json!({"name": "aggr0", "links": ["igb1"], "unicast_address": "zz"}),
                "unicast_address",
            ),
        ] {
            assert_eq!(create(body.clone()).unwrap_err().field, field, "{body}");
        }
        assert!(serde_json::from_value::<CreateAggregateRequest>(
            json!({"name": "aggr0", "links": ["igb1"], "mode": "x"})
        )
        .is_err());
    }
}
