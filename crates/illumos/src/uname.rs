//! uname: the machine's identity.
//!
//! The reference is silent on uname; this follows illumos-gate `man1/uname.1` and POSIX: with
//! several flags the fields are printed one space apart in uname(2)'s order (sysname,
//! nodename, release, version, machine, then illumos' processor), whatever the order of the
//! flags. The version is the one field that may hold spaces, so it is read on its own.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

/// What `uname -s -n -r -m -p` and `uname -v` print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uname {
    /// `-s`: `SunOS`.
    pub sysname: String,
    /// `-n`: the node (host) name.
    pub nodename: String,
    /// `-r`: `5.11`.
    pub release: String,
    /// `-v`: the build, e.g. `omnios-r151054-7c1bde5a86`.
    pub version: String,
    /// `-m`: the hardware class, `i86pc` on x86.
    pub machine: String,
    /// `-p`: the instruction set, `i386` on x86 (even on a 64-bit kernel).
    pub processor: String,
}

pub fn ids_cmd() -> Cmd {
    Cmd::new(Tool::Uname)
        .args(["-s", "-n", "-r", "-m", "-p"])
        .quiet()
}

pub fn version_cmd() -> Cmd {
    Cmd::new(Tool::Uname).arg("-v").quiet()
}

/// Parses `uname -s -n -r -m -p`: exactly five fields, none of which can hold a space.
pub fn parse_ids(text: &str) -> Result<[String; 5], ReadError> {
    let f: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    f.try_into().map_err(|f: Vec<String>| {
        ReadError::parse(
            Tool::Uname,
            format!("expected 5 fields, found {} in {text:?}", f.len()),
        )
    })
}

/// Runs `uname` twice: the five one-word fields, then the version.
pub async fn read(run: &Runner) -> Result<Uname, ReadError> {
    let ids = run.output(&ids_cmd()).await?;
    let [sysname, nodename, release, machine, processor] = parse_ids(&ids.stdout)?;
    let version = run.output(&version_cmd()).await?.stdout.trim().to_owned();
    Ok(Uname {
        sysname,
        nodename,
        release,
        version,
        machine,
        processor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_fields_in_uname_order() {
        // `uname -s -n -r -m -p` on OmniOS.
        let f = parse_ids("SunOS omnios 5.11 i86pc i386\n").unwrap();
        assert_eq!(f, ["SunOS", "omnios", "5.11", "i86pc", "i386"]);
        assert_eq!(ids_cmd().argv(), ["uname", "-s", "-n", "-r", "-m", "-p"]);
    }

    #[test]
    fn a_missing_or_extra_field_is_an_error_quoting_the_output() {
        let e = parse_ids("SunOS omnios 5.11\n").unwrap_err().to_string();
        assert!(e.contains("found 3") && e.contains("SunOS omnios"), "{e}");
        assert!(parse_ids("a b c d e f").is_err());
    }
}
