//! Service requests, validated once into host types.

use crate::tasks::RequesterNote;
use illumos::names::ZoneName;
use illumos::services::{ListFilter, Pattern};
use illumos::smf::Fmri;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ops::{Action, Params};
use super::{LIFELINES, OWN_FMRI};
use crate::error::FieldError;

/// `GET /services` filters (the original's `svcs [pattern] [-z zone] [-a]`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// An FMRI, abbreviation (`ssh`) or fnmatch pattern (`network/*`); none matching is an
    /// empty list.
    pattern: Option<String>,
    /// The services of this (running) zone instead of the global zone's (`svcs -z`).
    zone: Option<String>,
    /// Also disabled instances (`svcs -a`); by default only enabled ones, those in transition
    /// and those in maintenance.
    all: Option<bool>,
}

impl ListQuery {
    pub fn validate(&self) -> Result<ListFilter, FieldError> {
        Ok(ListFilter {
            pattern: match self.pattern.as_deref() {
                None | Some("") => None,
                Some(p) => Some(
                    p.parse::<Pattern>()
                        .map_err(|e| FieldError::new("pattern", e.to_string()))?,
                ),
            },
            zone: match self.zone.as_deref() {
                None | Some("") | Some("global") => None,
                Some(z) => Some(
                    z.parse::<ZoneName>()
                        .map_err(|e| FieldError::new("zone", e.to_string()))?,
                ),
            },
            all: self.all.unwrap_or(false),
        })
    }
}

/// `svcadm` flags the UI may send in `options`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionOptions {
    /// `-t`: enable or disable until the next reboot only (enable and disable).
    pub temporary: Option<bool>,
    /// `-s`: the task waits until the instance is online (enable) or disabled (disable), and
    /// fails if it cannot get there without an administrator.
    pub sync: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// A full instance FMRI (`svc:/network/ntp:default`); the UI sends it URL-encoded, which
    /// is decoded.
    pub fmri: String,
    /// `enable`, `disable`, `restart`, `refresh` or `clear`.
    pub action: Action,
    #[serde(default)]
    pub options: Option<ActionOptions>,
    /// The UI's note of who asked; recorded as the task's requester note.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// Undoes the UI's `encodeURIComponent` (`svc%3A%2Fnetwork%2Fntp%3Adefault`). No FMRI holds a
/// `%`, so a value with none is taken as it is.
pub fn percent_decoded(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A full instance FMRI from a body or path value (URL-encoded or not).
pub fn fmri(field: &str, raw: &str) -> Result<Fmri, FieldError> {
    let text = percent_decoded(raw)
        .ok_or_else(|| FieldError::new(field, "is not valid percent-encoding"))?;
    text.parse()
        .map_err(|e: illumos::link::InvalidValue| FieldError::new(field, e.to_string()))
}

/// Why the API does not act on this instance, if it does not.
pub fn refusal(fmri: &Fmri, action: Action) -> Option<String> {
    if fmri.as_str() == OWN_FMRI {
        return Some(format!(
            "{fmri} is the agent's own service: change it on the host (svcadm), not through the agent"
        ));
    }
    let stops = matches!(action, Action::Disable | Action::Restart);
    if stops && LIFELINES.contains(&fmri.as_str()) {
        return Some(format!(
            "{fmri} keeps administrators able to reach the host; it is not {} through the API",
            action.past()
        ));
    }
    None
}

impl ActionRequest {
    pub fn validate(&self) -> Result<Params, FieldError> {
        let fmri = fmri("fmri", &self.fmri)?;
        let options = self.options.as_ref();
        let temporary = options.and_then(|o| o.temporary).unwrap_or(false);
        let sync = options.and_then(|o| o.sync).unwrap_or(false);
        if (temporary || sync) && !matches!(self.action, Action::Enable | Action::Disable) {
            let which = if temporary { "temporary" } else { "sync" };
            return Err(FieldError::new(
                format!("options.{which}"),
                format!(
                    "applies to enable and disable only, not {}",
                    self.action.as_str()
                ),
            ));
        }
        Ok(Params {
            fmri,
            action: self.action,
            temporary,
            sync,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uis_encoded_fmri_is_decoded_once() {
        assert_eq!(
            fmri("fmri", "svc%3A%2Fnetwork%2Fntp%3Adefault")
                .unwrap()
                .as_str(),
            "svc:/network/ntp:default"
        );
        assert_eq!(
            fmri("fmri", "svc:/network/ntp:default").unwrap().as_str(),
            "svc:/network/ntp:default"
        );
        assert_eq!(fmri("fmri", "svc%3").unwrap_err().field, "fmri");
        assert!(fmri("fmri", "ntp").is_err());
    }

    #[test]
    fn the_agent_and_the_lifelines_are_refused_what_would_stop_them() {
        let own: Fmri = OWN_FMRI.parse().unwrap();
        let ssh: Fmri = "svc:/network/ssh:default".parse().unwrap();
        let ntp: Fmri = "svc:/network/ntp:default".parse().unwrap();
        assert!(refusal(&own, Action::Refresh).is_some());
        assert!(refusal(&ssh, Action::Disable).unwrap().contains("disabled"));
        assert!(refusal(&ssh, Action::Restart)
            .unwrap()
            .contains("restarted"));
        assert!(refusal(&ssh, Action::Refresh).is_none());
        assert!(refusal(&ntp, Action::Disable).is_none());
    }
}
