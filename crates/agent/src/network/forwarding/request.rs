//! The forwarding request, validated into the operation's parameters.

use illumos::link::LinkName;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::network::validate;

use super::ops::Params;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetForwardingRequest {
    /// Global IPv4 forwarding (`routeadm -u -e|-d ipv4-forwarding`).
    pub enabled: Option<bool>,
    /// Interfaces whose `forwarding` property is set: on, or off when `enabled` is false.
    /// Each must be an existing IP interface.
    pub interfaces: Option<Vec<String>>,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

impl SetForwardingRequest {
    /// The interfaces named once each, in order; `enabled`, interfaces or both must be given.
    pub fn validate(&self) -> Result<Params, FieldError> {
        let mut interfaces: Vec<LinkName> = Vec::new();
        for (i, n) in self.interfaces.iter().flatten().enumerate() {
            let l = validate::link(&format!("interfaces[{i}]"), n)?;
            if !interfaces.contains(&l) {
                interfaces.push(l);
            }
        }
        if self.enabled.is_none() && interfaces.is_empty() {
            return Err(FieldError::new(
                "enabled",
                "give enabled, interfaces, or both",
            ));
        }
        Ok(Params {
            enabled: self.enabled,
            interfaces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(enabled: Option<bool>, interfaces: Option<&[&str]>) -> SetForwardingRequest {
        SetForwardingRequest {
            enabled,
            interfaces: interfaces.map(|i| i.iter().map(|s| s.to_string()).collect()),
            created_by: None,
        }
    }

    #[test]
    fn interfaces_are_named_once_each_in_order() {
        let p = req(None, Some(&["igb1", "igb0", "igb1"]))
            .validate()
            .unwrap();
        let names: Vec<&str> = p.interfaces.iter().map(LinkName::as_str).collect();
        assert_eq!(names, ["igb1", "igb0"]);
        assert_eq!(p.enabled, None);
    }

    #[test]
    fn a_request_that_asks_nothing_or_names_a_bad_link_names_the_field() {
        assert_eq!(req(None, None).validate().unwrap_err().field, "enabled");
        assert_eq!(
            req(None, Some(&[])).validate().unwrap_err().field,
            "enabled"
        );
        let e = req(Some(true), Some(&["igb0", "igb0;x"]))
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "interfaces[1]");
    }
}
