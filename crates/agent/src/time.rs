//! Timestamps: RFC 3339, UTC, microsecond precision, fixed width, so they also sort as text.

use std::time::{Duration, SystemTime};

pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// Parses an RFC 3339 timestamp (with `Z` or without a zone, as UTC).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

pub fn ago(d: Duration) -> String {
    rfc3339(SystemTime::now() - d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_fixed_width_and_round_trip() {
        let s = rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(s, "1970-01-01T00:00:01.500000Z");
        assert_eq!(
            parse_rfc3339(&s),
            Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_500))
        );
        assert_eq!(now_rfc3339().len(), s.len());
    }
}
