//! The hostname request, validated into the operation's parameters.

use illumos::hostname::NodeName;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ops::SetHostname;
use crate::error::FieldError;
use crate::tasks::RequesterNote;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetHostnameRequest {
    /// The new node name: an RFC 1123 host name (dot-separated labels of letters, digits and
    /// `-`, each 1 to 63 characters, not starting or ending with `-`; at most 253 in all),
    /// e.g. `hv-04` or `hv-04.example.net`.
    pub hostname: String,
    /// Also set the running system's name now (`hostname NAME`); otherwise only
    /// `/etc/nodename` is written and the name changes at the next boot. Default false.
    #[serde(default)]
    pub apply_immediately: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl SetHostnameRequest {
    pub fn validate(&self) -> Result<SetHostname, FieldError> {
        let hostname: NodeName = self
            .hostname
            .parse()
            .map_err(|e| FieldError::new("hostname", format!("hostname: {e}")))?;
        Ok(SetHostname {
            hostname,
            apply_immediately: self.apply_immediately,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> SetHostnameRequest {
        SetHostnameRequest {
            hostname: name.to_owned(),
            apply_immediately: true,
            created_by: None,
        }
    }

    #[test]
    fn a_bad_hostname_names_the_field() {
        for bad in ["", "-n", "a b", "a\nb", "hv_04", "a..b", "x;reboot"] {
            let e = req(bad).validate().unwrap_err();
            assert_eq!(e.field, "hostname", "{bad:?}");
        }
        let ok = req("hv-04.example.net").validate().unwrap();
        assert_eq!(ok.hostname.as_str(), "hv-04.example.net");
        assert!(ok.apply_immediately);
    }
}
