//! The node name: `hostname(1)` reads and sets the running system's, `/etc/nodename` holds the
//! one the next boot takes.
//!
//! The reference is silent on both; this follows illumos-gate `man1/hostname.1` (`hostname
//! [-s] [name-of-host]`: no operand prints the name, an operand sets it for the running system
//! only, "it does not persist the change"; the persistent name "is stored in the file
//! /etc/nodename") and `man5/nodename.5` (a single line holding the system's name), with
//! `cmd/hostname/hostname.c` for the output (the name and a newline) and the failure
//! (`hostname: error in setting name: <strerror>`, exit 1).

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::InvalidValue;
use crate::read::ReadError;
use crate::runner::{CommandError, Runner};

/// Where the persistent node name lives (nodename(5)).
pub const NODENAME_PATH: &str = "/etc/nodename";

/// A host name as RFC 1123 (section 2.1) allows one: dot-separated labels of ASCII letters,
/// digits and `-`, each 1 to 63 characters, neither starting nor ending with `-`; at most 253
/// characters in all (so it also fits `MAXHOSTNAMELEN`, 256). Nothing else can reach the
/// `hostname` argv or the nodename file: no space, newline, `/` or leading `-` (an option).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeName(String);

impl NodeName {
    pub const MAX_LEN: usize = 253;

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text of `/etc/nodename` naming this host: the name on a single line.
    pub fn nodename_file(&self) -> String {
        format!("{}\n", self.0)
    }
}

impl FromStr for NodeName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| Err(InvalidValue::new("host name", s, why));
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return bad("must be 1 to 253 characters");
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return bad("each dot-separated label must be 1 to 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return bad("may hold only ASCII letters, digits, '-' and '.'");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return bad("a label may not start or end with '-'");
            }
        }
        Ok(NodeName(s.to_owned()))
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `hostname`: prints the running system's name.
pub fn show_cmd() -> Cmd {
    Cmd::new(Tool::Hostname).quiet()
}

/// `hostname NAME`: sets the running system's name (not persistent).
pub fn set_cmd(name: &NodeName) -> Cmd {
    Cmd::new(Tool::Hostname).arg(name.as_str())
}

/// Parses `hostname`'s output: one line, the name.
pub fn parse_show(text: &str) -> Result<String, ReadError> {
    match text.strip_suffix('\n').unwrap_or(text) {
        name if !name.is_empty() && !name.contains('\n') => Ok(name.to_owned()),
        _ => Err(ReadError::parse(
            Tool::Hostname,
            format!("expected one line holding the name, found {text:?}"),
        )),
    }
}

/// Parses `/etc/nodename`: its first line, trimmed; `None` when that is empty.
pub fn parse_nodename_file(text: &str) -> Option<String> {
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

/// The running system's node name (as printed: it may be one this type would refuse).
pub async fn current(run: &Runner) -> Result<String, ReadError> {
    parse_show(&run.output(&show_cmd()).await?.stdout)
}

/// Sets the running system's node name; `/etc/nodename` is the caller's to write.
pub async fn set(run: &Runner, name: &NodeName) -> Result<(), CommandError> {
    run.output(&set_cmd(name)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1123_names_are_taken_and_anything_else_refused() {
        for ok in [
            "hv-04",
            "h",
            "3com",
            "hv-04.home.m4kr.net",
            &format!("{}.{}", "a".repeat(63), "b".repeat(63)),
        ] {
            assert_eq!(ok.parse::<NodeName>().unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "-n",
            "hv-",
            "hv_04",
            "hv 04",
            "hv04\n",
            "hv04.",
            ".hv04",
            "a..b",
            "hv/04",
            "hv;04",
            &"a".repeat(64),
            &vec!["a".repeat(63); 4].join("."),
        ] {
            assert!(bad.parse::<NodeName>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_argv_sets_one_name_and_the_read_takes_none() {
        assert_eq!(show_cmd().argv(), ["hostname"]);
        let name: NodeName = "ui-host".parse().unwrap();
        assert_eq!(set_cmd(&name).argv(), ["hostname", "ui-host"]);
        assert_eq!(name.nodename_file(), "ui-host\n");
    }

    #[test]
    fn output_and_the_file_read_as_one_name() {
        // captured: hostname.c prints the name and a newline.
        assert_eq!(parse_show("omnios-sim\n").unwrap(), "omnios-sim");
        assert!(parse_show("").is_err());
        assert!(parse_show("a\nb\n").is_err());
        assert_eq!(parse_nodename_file("hv-04\n").as_deref(), Some("hv-04"));
        assert_eq!(
            parse_nodename_file("  hv-04  \nignored\n").as_deref(),
            Some("hv-04")
        );
        assert_eq!(parse_nodename_file("\n"), None);
        assert_eq!(parse_nodename_file(""), None);
    }
}
