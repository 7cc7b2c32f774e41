//! Request values turned into the illumos crate's validated types, each failure a
//! [`FieldError`] naming the field (a 400 in a handler). Nothing reaches a command or a config file without passing through here (or the
//! typed parsers it calls), so no request can smuggle a newline, `;`, `}`, `#` or a quote into
//! `ipnat.conf` or `dhcpd.conf`.

use std::net::Ipv4Addr;

use illumos::link::{LinkName, Mac};
use illumos::net::Ipv4Net;

use crate::error::FieldError;

pub fn link(field: &str, s: &str) -> Result<LinkName, FieldError> {
    s.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

/// Who asked for a change, as the Zoneweaver UI names the user (`created_by`): a label of up
/// to 64 ASCII letters, digits and `._@+-`, starting with a letter or digit (a user name or an
/// e-mail address), so it can be shown and logged as it is.
pub fn requester(field: &str, s: &str) -> Result<String, FieldError> {
    let ok = s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "{field}: must be up to 64 letters, digits and ._@+- starting with a letter or digit"
            ),
        ))
    }
}

/// A request's optional `created_by` ([`requester`]); empty is absent. Accepted now, recorded
/// once tasks carry a requester note.
pub fn created_by(value: &Option<String>) -> Result<(), FieldError> {
    match value.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => requester("created_by", c).map(drop),
        None => Ok(()),
    }
}

pub fn ipv4(field: &str, s: &str) -> Result<Ipv4Addr, FieldError> {
    s.parse().map_err(|_| {
        FieldError::new(
            field,
            format!("{field}: {s:?} is not a dotted-quad IPv4 address"),
        )
    })
}

/// A network in CIDR form (`10.190.190.0/24`), host bits zero.
pub fn network(field: &str, s: &str) -> Result<Ipv4Net, FieldError> {
    s.parse()
        .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
}

/// A MAC address in any common notation: `02:08:20:ab:cd:01`, `2:8:20:ab:cd:1`,
/// `02-08-20-AB-CD-01`, `0208.20ab.cd01`, `020820abcd01`. Normalised to lowercase, padded,
/// colon-separated by its `Display`.
pub fn mac(field: &str, s: &str) -> Result<Mac, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!("{field}: {s:?} is not a MAC address (six hex octets, e.g. 02:08:20:ab:cd:01)"),
        )
    };
    if s.len() > 17
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b":-.".contains(&b))
    {
        return Err(bad());
    }
    let text = if s.contains(':') {
        s.to_owned()
    } else if s.contains('-') {
        s.replace('-', ":")
    } else {
        let hex: String = if s.contains('.') {
            let groups: Vec<&str> = s.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return Err(bad());
            }
            groups.concat()
        } else {
            s.to_owned()
        };
        if hex.len() != 12 {
            return Err(bad());
        }
        (0..6)
            .map(|i| &hex[2 * i..2 * i + 2])
            .collect::<Vec<_>>()
            .join(":")
    };
    text.parse().map_err(|_| bad())
}

/// A DHCP host declaration name: 1 to 63 ASCII letters, digits, `-`, `_` and `.`, starting with
/// a letter or digit. dhcpd reads the name as one token, so nothing else may appear; it reads
/// dots as label separators, so an empty label (`a..b`, `a.`) is refused too.
pub fn hostname(field: &str, s: &str) -> Result<String, FieldError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.split('.').all(|label| !label.is_empty());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{field}: must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_mac_notation_normalises() {
        for s in [
            "02:08:20:ab:cd:01",
            "2:8:20:AB:CD:1",
            "02-08-20-AB-CD-01",
            "0208.20ab.cd01",
            "020820ABCD01",
        ] {
            assert_eq!(
                mac("mac", s).unwrap().to_string(),
                "02:08:20:ab:cd:01",
                "{s}"
            );
        }
    }

    #[test]
    fn hostile_values_are_refused() {
        for s in [
            "02:08:20:ab:cd:01;",
            "02:08:20:ab:cd:01\n}",
            "0208.20ab.cd0",
            "",
            "02:08:20:ab:cd:01:02",
        ] {
            assert!(mac("mac", s).is_err(), "{s:?}");
        }
        for s in [
            "a;b",
            "a b",
            "a}",
            "a#",
            "a\"",
            "-x",
            "a\nb",
            "a'b",
            &"x".repeat(64),
        ] {
            assert!(hostname("hostname", s).is_err(), "{s:?}");
        }
        for s in ["web..01", "web."] {
            assert!(hostname("hostname", s).is_err(), "{s:?}");
        }
        assert!(hostname("hostname", "web-01.example").is_ok());
        assert!(link("name", "vnic0;rm").is_err());
        assert!(ipv4("ip", "10.0.0.1\n").is_err());
        assert!(network("subnet", "10.0.0.1/24").is_err());
    }
}
