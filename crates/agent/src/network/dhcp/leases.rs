//! dhcpd's leases file, read-only: `lease IP { starts W YYYY/MM/DD HH:MM:SS; ends ...;
//! binding state S; hardware ethernet MAC; client-hostname "x"; }`. dhcpd appends a new
//! block for each change, so the last block for an address wins.

use std::net::Ipv4Addr;

use serde::Serialize;
use utoipa::ToSchema;

use super::conf::{tokens, ParseError, Tok};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Lease {
    pub ip: String,
    pub mac: Option<String>,
    pub hostname: Option<String>,
    /// UTC, RFC 3339; absent for `never`.
    pub starts: Option<String>,
    pub ends: Option<String>,
    /// `active`, `free`, `expired`, `released`, `abandoned`, `backup`, ...
    pub state: Option<String>,
}

/// 9999-12-31T23:59:59Z.
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// `W YYYY/MM/DD HH:MM:SS` (UTC) or `epoch N` to RFC 3339.
fn time(words: &[String]) -> Option<String> {
    match words {
        [_, date, time] => {
            let d: Vec<&str> = date.split('/').collect();
            if d.len() != 3 || time.len() != 8 {
                return None;
            }
            Some(format!("{}-{}-{}T{time}Z", d[0], d[1], d[2]))
        }
        [e, secs] if e == "epoch" => {
            let secs: u64 = secs.parse().ok()?;
            // RFC 3339 has four-digit years: a later time is not a time dhcpd wrote.
            if secs > LAST_RFC3339_SECOND {
                return None;
            }
            Some(crate::time::rfc3339(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            ))
        }
        _ => None,
    }
}

pub fn parse(text: &str) -> Result<Vec<Lease>, ParseError> {
    let toks = tokens(text, 0, text.len())?;
    let mut out: Vec<Lease> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let is_lease = matches!(&toks[i].1.tok, Tok::Word(w) if w == "lease")
            && matches!(toks.get(i + 2).map(|t| &t.1.tok), Some(Tok::Punct('{')));
        if !is_lease {
            i += 1;
            continue;
        }
        let ip: Option<Ipv4Addr> = match &toks[i + 1].1.tok {
            Tok::Word(w) => w.parse().ok(),
            _ => None,
        };
        let mut lease = Lease {
            ip: ip.map(|a| a.to_string()).unwrap_or_default(),
            mac: None,
            hostname: None,
            starts: None,
            ends: None,
            state: None,
        };
        let mut j = i + 3;
        let mut stmt: Vec<String> = Vec::new();
        while j < toks.len() {
            match &toks[j].1.tok {
                Tok::Punct('}') => break,
                Tok::Punct(';') => {
                    let s: Vec<&str> = stmt.iter().map(String::as_str).collect();
                    match s.as_slice() {
                        ["starts", ..] => lease.starts = time(&stmt[1..]),
                        ["ends", ..] => lease.ends = time(&stmt[1..]),
                        ["binding", "state", st] => lease.state = Some((*st).to_owned()),
                        ["hardware", "ethernet", m] => {
                            lease.mac = m.parse::<illumos::link::Mac>().ok().map(|m| m.to_string())
                        }
                        ["client-hostname", h] => lease.hostname = Some((*h).to_owned()),
                        _ => {}
                    }
                    stmt.clear();
                }
                Tok::Word(w) | Tok::Str(w) => stmt.push(w.clone()),
                Tok::Punct(_) => {}
            }
            j += 1;
        }
        if ip.is_some() {
            out.retain(|l| l.ip != lease.ip);
            out.push(lease);
        }
        i = j + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_past_year_9999_is_no_time() {
        // Found by the dhcpd_leases fuzz target: formatting it panicked (and a larger one
        // overflowed the clock), which took down the leases request.
        let text = "lease 10.0.0.5 {\n  starts epoch 850000050000000;\n  ends epoch 18446744073709551615;\n}\nlease 10.0.0.6 {\n  starts epoch 253402300799;\n}\n";
        let l = parse(text).unwrap();
        assert_eq!((l[0].starts.as_deref(), l[0].ends.as_deref()), (None, None));
        assert_eq!(l[1].starts.as_deref(), Some("9999-12-31T23:59:59.000000Z"));
    }

    #[test]
    fn the_last_block_for_an_address_wins() {
        let text = r#"# The format of this file is documented in the dhcpd.leases(5) manual page.
authoring-byte-order little-endian;

lease 10.190.190.50 {
  starts 3 2024/01/03 10:00:00;
  ends 3 2024/01/03 22:00:00;
  binding state active;
  hardware ethernet 2:8:20:ab:cd:1;
  client-hostname "web-01";
}
lease 10.190.190.51 {
  starts epoch 1700000000;
  ends never;
  binding state free;
}
lease 10.190.190.50 {
  starts 3 2024/01/03 10:00:00;
  ends 3 2024/01/03 12:00:00;
  binding state expired;
  hardware ethernet 02:08:20:ab:cd:01;
}
"#;
        let l = parse(text).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].ip, "10.190.190.51");
        assert_eq!(l[0].ends, None);
        assert!(l[0]
            .starts
            .as_deref()
            .unwrap()
            .starts_with("2023-11-14T22:13:20"));
        assert_eq!(l[1].state.as_deref(), Some("expired"));
        assert_eq!(l[1].mac.as_deref(), Some("02:08:20:ab:cd:01"));
        assert_eq!(l[1].ends.as_deref(), Some("2024-01-03T12:00:00Z"));
    }
}
