//! Who asked for a task, in the client's own words: the Zoneweaver UI sends `created_by` (its
//! signed-in user's name) in every body and DELETE query. The task's `created_by` keeps the
//! API key's name (the spec's field, what the agent can vouch for); this note is kept beside
//! it as `requester_note`, a free label the agent only checks for shape.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::FieldError;

/// The request field the note arrives in.
pub const FIELD: &str = "created_by";
/// Longer than any user name the UI has; short enough for a list row.
pub const MAX_CHARS: usize = 128;

/// A requester's label: trimmed, 1 to 128 characters, no control characters (it is shown in
/// lists and written to logs, so no line breaks or terminal escapes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct RequesterNote(String);

impl RequesterNote {
    pub fn new(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let refuse = |why: &str| Err(FieldError::new(FIELD, format!("{FIELD}: {why}")));
        if s.is_empty() {
            return refuse("must not be empty");
        }
        if s.chars().count() > MAX_CHARS {
            return refuse(&format!("at most {MAX_CHARS} characters"));
        }
        if s.chars().any(char::is_control) {
            return refuse("must not contain control characters");
        }
        Ok(RequesterNote(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequesterNote {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // serde_path_to_error already names the field; keep only the reason.
        RequesterNote::new(&s).map_err(|e| {
            e.message
                .strip_prefix(&format!("{FIELD}: "))
                .unwrap_or(&e.message)
                .to_owned()
        })
    }
}

impl From<RequesterNote> for String {
    fn from(n: RequesterNote) -> String {
        n.0
    }
}

/// The body of a request that carries nothing but the requester's note (zone start, stop,
/// provisioning setup...): absent, `{}` or `{"created_by": "..."}`; any other key is a 400.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

/// A query that carries nothing but the requester's note (DELETE calls, where the UI sends it
/// in the query).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoteQuery {
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    pub created_by: Option<RequesterNote>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_and_bounded() {
        assert_eq!(RequesterNote::new("  admin ").unwrap().as_str(), "admin");
        assert_eq!(
            RequesterNote::new(&"é".repeat(128))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            128
        );
        for bad in ["", "   ", "a\nb", "a\u{1b}[2J", "x\u{0}"] {
            let e = RequesterNote::new(bad).unwrap_err();
            assert_eq!(e.field, "created_by", "{bad:?}");
        }
        assert!(RequesterNote::new(&"a".repeat(129)).is_err());
    }

    #[test]
    fn a_body_with_a_bad_note_names_created_by() {
        let e = crate::http::extract::parse_json::<NoteBody>(br#"{"created_by":"a\u0007"}"#)
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("created_by"));
        assert!(e.message.contains("control"), "{}", e.message);
        let e = crate::http::extract::parse_json::<NoteBody>(br#"{"creator":"x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("creator"));
    }
}
