//! Bridge requests with the original's keys (`name`, `protection`, `priority`, `max_age`,
//! `hello_time`, `forward_delay`, `force_protocol`, `links`; `operation` and `links` to
//! change the attached links).

use illumos::dladm::bridge::{BridgeName, Protection, StpParams};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ops::{ChangeLinksParams, CreateBridgeParams};
use crate::error::FieldError;
use crate::network::aggregates::{link_list, Membership};
use crate::tasks::RequesterNote;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBridgeRequest {
    /// The bridge's name: letters, digits and `_`, starting and ending with a letter, at most
    /// 31 characters; `default` and `SUNW...` are reserved. Its observability link is the name
    /// with `0` appended.
    pub name: String,
    /// `dladm create-bridge -P`: `stp` (default) or `trill`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub protection: Option<Protection>,
    /// `-p`: the bridge priority, 0 to 61440 in steps of 4096 (default 32768).
    pub priority: Option<u32>,
    /// `-m`: max age in seconds, 6 to 40 (default 20).
    pub max_age: Option<u32>,
    /// `-h`: hello time in seconds, 1 to 10 (default 2).
    pub hello_time: Option<u32>,
    /// `-d`: forward delay in seconds, 4 to 30 (default 15). The three times must satisfy
    /// `2 * (forward_delay - 1) >= max_age >= 2 * (hello_time + 1)`.
    pub forward_delay: Option<u32>,
    /// `-f`: the forced maximum protocol (default 3).
    pub force_protocol: Option<u32>,
    /// Links to attach (physical links, aggregations or etherstubs in no other bridge); may
    /// be empty.
    #[serde(default)]
    pub links: Vec<String>,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyBridgeLinksRequest {
    /// `add` (`dladm add-bridge`) or `remove` (`remove-bridge`).
    pub operation: Membership,
    /// The links to attach or detach, all or none.
    pub links: Vec<String>,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BridgeQuery {
    /// Only the bridge of this name.
    pub name: Option<String>,
    /// Accepted for the UI: every row carries all of show-bridge's fields.
    #[allow(dead_code)] // read by serde only: the UI sends it
    pub extended: Option<bool>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BridgeDetailQuery {
    /// Add `links`: each attached link's STP state (`show-bridge -l`).
    pub show_links: Option<bool>,
    /// Add `forwarding_table` (`show-bridge -f`).
    pub show_forwarding: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteBridgeQuery {
    /// Detach its links first; without it a bridge with links is refused (409).
    pub force: Option<bool>,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

pub fn bridge_name(field: &str, s: &str) -> Result<BridgeName, FieldError> {
    s.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

impl CreateBridgeRequest {
    pub fn validate(&self) -> Result<CreateBridgeParams, FieldError> {
        let d = StpParams::default();
        let stp = StpParams {
            priority: self.priority.unwrap_or(d.priority),
            max_age: self.max_age.unwrap_or(d.max_age),
            hello_time: self.hello_time.unwrap_or(d.hello_time),
            forward_delay: self.forward_delay.unwrap_or(d.forward_delay),
            force_protocol: self.force_protocol.unwrap_or(d.force_protocol),
        };
        let name = bridge_name("name", &self.name)?;
        stp.check()
            .map_err(|e| FieldError::new(e.field, e.to_string()))?;
        let links = if self.links.is_empty() {
            Vec::new()
        } else {
            link_list("links", &self.links)?
        };
        Ok(CreateBridgeParams {
            name,
            protection: self.protection.unwrap_or_default(),
            stp,
            links,
        })
    }
}

impl ModifyBridgeLinksRequest {
    pub fn validate(&self, name: BridgeName) -> Result<ChangeLinksParams, FieldError> {
        Ok(ChangeLinksParams {
            name,
            operation: self.operation,
            links: link_list("links", &self.links)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<CreateBridgeParams, FieldError> {
        serde_json::from_value::<CreateBridgeRequest>(body)
            .unwrap()
            .validate()
    }

    #[test]
    fn the_uis_body_reads_with_dladms_defaults() {
        let p = create(
            json!({"name": "lab", "protection": "stp", "priority": 32768,
            "max_age": 20, "hello_time": 2, "forward_delay": 15, "force_protocol": 3,
            "links": [], "created_by": "admin"}),
        )
        .unwrap();
        assert_eq!(p.stp, StpParams::default());
        assert!(p.links.is_empty());
        let p = create(json!({"name": "lab", "protection": "trill", "links": ["igb1"]})).unwrap();
        assert_eq!(p.protection, Protection::Trill);
        assert_eq!(p.links[0].as_str(), "igb1");
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (body, field) in [
            (json!({"name": "lab0"}), "name"),
            (json!({"name": "default"}), "name"),
            (json!({"name": "lab", "priority": 100}), "priority"),
            (json!({"name": "lab", "max_age": 50}), "max_age"),
            (json!({"name": "lab", "hello_time": 11}), "hello_time"),
            (json!({"name": "lab", "forward_delay": 5}), "forward_delay"),
            (
                json!({"name": "lab", "links": ["igb1", "igb1"]}),
                "links[1]",
            ),
            (json!({"name": "lab", "links": ["br-1"]}), "links[0]"),
        ] {
            assert_eq!(create(body.clone()).unwrap_err().field, field, "{body}");
        }
        assert!(serde_json::from_value::<CreateBridgeRequest>(
            json!({"name": "lab", "protection": "rstp"})
        )
        .is_err());
    }
}
