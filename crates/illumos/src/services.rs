//! Reads of SMF services for people (the UI's service views): the listing with its start
//! times, `svcs -l` details, the processes (`svcs -p`), dependencies (`svcs -d`) and
//! dependents (`svcs -D`), and every property of the running snapshot (`svcprop FMRI`) —
//! reference §1.8. Changes go through [`crate::smf`].

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::InvalidValue;
use crate::names::ZoneName;
use crate::parsable::ParseError;
use crate::runner::{CommandError, Runner};
use crate::smf::{self, Fmri, ServiceState, SmfFailure};

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {target}")]
pub struct ServicesError {
    pub what: &'static str,
    pub target: String,
    /// Boxed: the command's failure is large, and every read returns this.
    #[source]
    pub kind: Box<SmfFailure>,
}

impl ServicesError {
    pub fn is_not_found(&self) -> bool {
        matches!(*self.kind, SmfFailure::NotFound)
    }
}

/// A `svcs` operand from a person: an FMRI, an abbreviation (`ssh`, `network/ssh`) or an
/// fnmatch pattern (`network/*`). It is one argv element, never a shell word; what it may not
/// do is start with `-` (svcs would read an option) or hold characters no FMRI has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Pattern {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("service pattern", s, reason));
        if s.is_empty() || s.len() > 720 {
            return bad("must be 1 to 720 characters");
        }
        if s.starts_with('-') {
            return bad("may not start with '-'");
        }
        // An FMRI starts with its scheme or a service name and has no parent-directory
        // component: a value that starts with '/' or holds '..' is a path.
        if s.starts_with('/') || s.contains("..") {
            return bad("may not start with '/' or contain '..'");
        }
        if !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/:_-.,*?[]".contains(&c))
        {
            return bad("may contain only letters, digits and / : _ - . , * ? [ ]");
        }
        Ok(Pattern(s.to_owned()))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `svcs` lists: without `all`, only enabled instances (and those in transition or in
/// maintenance); an operand is always listed.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub pattern: Option<Pattern>,
    pub zone: Option<ZoneName>,
    pub all: bool,
}

/// One line of `svcs -H -o state,stime,fmri`. The FMRI stays text: with `-a` the listing
/// also has legacy `lrc:/etc/rc2_d/...` entries, which are not instance FMRIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub state: ServiceState,
    /// A trailing `*` on the state: the instance is moving to another state.
    pub transitioning: bool,
    /// `13:26:14` today, `Dec_04` before (svcs' STIME).
    pub stime: String,
    pub fmri: String,
}

/// One process of an instance's contract (`svcs -p`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub stime: String,
    pub command: String,
}

/// One property of `svcprop FMRI`: `group/name type value...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub group: String,
    pub name: String,
    pub prop_type: String,
    pub values: Vec<String>,
}

/// Which way `svcs -d`/`-D` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `-d`: the instances this one depends on.
    Dependencies,
    /// `-D`: the instances that depend on this one.
    Dependents,
}

const COLUMNS: [&str; 3] = ["-H", "-o", "state,stime,fmri"];

pub fn list_cmd(filter: &ListFilter) -> Cmd {
    let mut cmd = Cmd::new(Tool::Svcs).args(COLUMNS);
    if filter.all {
        cmd = cmd.arg("-a");
    }
    if let Some(z) = &filter.zone {
        cmd = cmd.arg("-z").arg(z.as_str());
    }
    cmd.args(filter.pattern.as_ref().map(Pattern::as_str))
}

pub fn detail_cmd(fmri: &Fmri) -> Cmd {
    Cmd::new(Tool::Svcs).arg("-l").arg(fmri.as_str())
}

pub fn processes_cmd(fmri: &Fmri) -> Cmd {
    Cmd::new(Tool::Svcs)
        .args(["-H", "-p", "-o", "state,stime,fmri"])
        .arg(fmri.as_str())
}

pub fn related_cmd(fmri: &Fmri, direction: Direction) -> Cmd {
    let flag = match direction {
        Direction::Dependencies => "-d",
        Direction::Dependents => "-D",
    };
    Cmd::new(Tool::Svcs)
        .args(COLUMNS)
        .arg(flag)
        .arg(fmri.as_str())
}

pub fn properties_cmd(fmri: &Fmri) -> Cmd {
    Cmd::new(Tool::Svcprop).arg(fmri.as_str())
}

fn listed_line(what: &'static str, line: &str) -> Result<Listed, ParseError> {
    let bad = |r: String| ParseError::new(what, line, r);
    let cols: Vec<&str> = line.split_whitespace().collect();
    let [state, stime, fmri] = cols[..] else {
        return Err(bad(format!("expected 3 columns, found {}", cols.len())));
    };
    let (state, transitioning) = match state.strip_suffix('*') {
        Some(s) => (s, true),
        None => (state, false),
    };
    Ok(Listed {
        state: state.parse().map_err(bad)?,
        transitioning,
        stime: stime.to_owned(),
        fmri: fmri.to_owned(),
    })
}

/// Parses `svcs -H -o state,stime,fmri` (and its `-d`/`-D` forms): three whitespace-separated
/// columns (STATE padded to 14, STIME to 8).
pub fn parse_list(text: &str) -> Result<Vec<Listed>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| listed_line("svcs", l))
        .collect()
}

/// Parses `svcs -l FMRI`: `key` padded to 12, then the value (which may hold spaces). Keys
/// repeat (`dependency` once per dependency group), so the order is kept.
pub fn parse_detail(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let line = line.trim_end();
            match line.split_once(char::is_whitespace) {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.trim_start().to_owned())),
                _ => Err(ParseError::new(
                    "svcs -l",
                    line,
                    "expected a key and a value",
                )),
            }
        })
        .collect()
}

/// Parses `svcs -H -p -o state,stime,fmri FMRI`: the instance's line, then one indented line
/// per process of its contract: STIME, PID, command name.
pub fn parse_processes(text: &str) -> Result<Vec<Process>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && l.starts_with(char::is_whitespace))
        .map(|line| {
            let bad = |r: String| ParseError::new("svcs -p", line, r);
            let mut it = line.split_whitespace();
            let (Some(stime), Some(pid)) = (it.next(), it.next()) else {
                return Err(bad("expected STIME PID COMMAND".into()));
            };
            let command = it.collect::<Vec<_>>().join(" ");
            if command.is_empty() {
                return Err(bad("no command".into()));
            }
            Ok(Process {
                pid: pid.parse().map_err(|e| bad(format!("pid: {e}")))?,
                stime: stime.to_owned(),
                command,
            })
        })
        .collect()
}

/// Parses `svcprop FMRI`: `group/name type value...` per property, values escaped as in
/// `svcprop -p` (a property may have no value).
pub fn parse_properties(text: &str) -> Result<Vec<Property>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let bad = |r: String| ParseError::new("svcprop", line, r);
            let mut it = line.splitn(3, ' ');
            let (Some(full), Some(ty)) = (it.next(), it.next()) else {
                return Err(bad("expected NAME TYPE VALUE...".into()));
            };
            let Some((group, name)) = full.split_once('/') else {
                return Err(bad("a property name is group/name".into()));
            };
            Ok(Property {
                group: group.to_owned(),
                name: name.to_owned(),
                prop_type: ty.to_owned(),
                values: smf::split_values(it.next().unwrap_or_default()).map_err(bad)?,
            })
        })
        .collect()
}

async fn read(
    run: &Runner,
    cmd: Cmd,
    what: &'static str,
    target: &str,
) -> Result<String, ServicesError> {
    run.output(&cmd)
        .await
        .map(|o| o.stdout)
        .map_err(|e| ServicesError {
            what,
            target: target.to_owned(),
            kind: Box::new(smf::classify(e)),
        })
}

fn parsed<T>(
    r: Result<T, ParseError>,
    what: &'static str,
    target: &str,
) -> Result<T, ServicesError> {
    r.map_err(|e| ServicesError {
        what,
        target: target.to_owned(),
        kind: Box::new(e.into()),
    })
}

/// The services a filter selects. A pattern that matches nothing is an empty list (svcs
/// says so on stderr with exit 1), not an error.
pub async fn list(run: &Runner, filter: &ListFilter) -> Result<Vec<Listed>, ServicesError> {
    const WHAT: &str = "list services";
    let target = filter.pattern.as_ref().map_or("", Pattern::as_str);
    let stdout = match run.output(&list_cmd(filter)).await {
        Ok(o) => o.stdout,
        Err(CommandError::Failed(f))
            if filter.pattern.is_some() && f.stderr.contains(smf::NO_MATCH) =>
        {
            f.stdout
        }
        Err(e) => {
            return Err(ServicesError {
                what: WHAT,
                target: target.to_owned(),
                kind: Box::new(smf::classify(e)),
            })
        }
    };
    parsed(parse_list(&stdout), WHAT, target)
}

/// `svcs -l`: key/value lines in the tool's order. Not found: [`ServicesError::is_not_found`].
pub async fn detail(run: &Runner, fmri: &Fmri) -> Result<Vec<(String, String)>, ServicesError> {
    const WHAT: &str = "describe";
    let out = read(run, detail_cmd(fmri), WHAT, fmri.as_str()).await?;
    parsed(parse_detail(&out), WHAT, fmri.as_str())
}

pub async fn processes(run: &Runner, fmri: &Fmri) -> Result<Vec<Process>, ServicesError> {
    const WHAT: &str = "list the processes of";
    let out = read(run, processes_cmd(fmri), WHAT, fmri.as_str()).await?;
    parsed(parse_processes(&out), WHAT, fmri.as_str())
}

pub async fn related(
    run: &Runner,
    fmri: &Fmri,
    direction: Direction,
) -> Result<Vec<Listed>, ServicesError> {
    const WHAT: &str = "list the dependencies of";
    let out = read(run, related_cmd(fmri, direction), WHAT, fmri.as_str()).await?;
    parsed(parse_list(&out), WHAT, fmri.as_str())
}

pub async fn properties(run: &Runner, fmri: &Fmri) -> Result<Vec<Property>, ServicesError> {
    const WHAT: &str = "read the properties of";
    let out = read(run, properties_cmd(fmri), WHAT, fmri.as_str()).await?;
    parsed(parse_properties(&out), WHAT, fmri.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmri(s: &str) -> Fmri {
        s.parse().unwrap()
    }

    #[test]
    fn a_pattern_cannot_be_an_option_or_hold_shell_characters() {
        assert!("network/*".parse::<Pattern>().is_ok());
        assert!("svc:/network/ssh:default".parse::<Pattern>().is_ok());
        assert!("-a".parse::<Pattern>().is_err());
        assert!("ssh;reboot".parse::<Pattern>().is_err());
        assert!("ssh x".parse::<Pattern>().is_err());
        assert!("".parse::<Pattern>().is_err());
        assert!("../../../etc/passwd".parse::<Pattern>().is_err());
        assert!("/etc/passwd".parse::<Pattern>().is_err());
    }

    #[test]
    fn list_argv_names_the_columns_then_the_filters() {
        let f = ListFilter {
            pattern: Some("ssh".parse().unwrap()),
            zone: Some("web01".parse().unwrap()),
            all: true,
        };
        assert_eq!(
            list_cmd(&f).argv(),
            [
                "svcs",
                "-H",
                "-o",
                "state,stime,fmri",
                "-a",
                "-z",
                "web01",
                "ssh"
            ]
        );
        assert_eq!(
            related_cmd(&fmri("svc:/network/ssh:default"), Direction::Dependents).argv(),
            [
                "svcs",
                "-H",
                "-o",
                "state,stime,fmri",
                "-D",
                "svc:/network/ssh:default"
            ]
        );
    }

    #[test]
    fn a_listing_keeps_legacy_entries_and_transitions() {
        // captured: svcs -a -H -o state,stime,fmri
        let text = "online         11:02:41 svc:/network/ssh:default\n\
                    legacy_run     Dec_04   lrc:/etc/rc2_d/S20sysetup\n\
                    offline*       11:03:00 svc:/network/ntp:default\n";
        let l = parse_list(text).unwrap();
        assert_eq!(l[1].fmri, "lrc:/etc/rc2_d/S20sysetup");
        assert_eq!(l[1].state, ServiceState::LegacyRun);
        assert_eq!(l[1].stime, "Dec_04");
        assert!(l[2].transitioning && l[2].state == ServiceState::Offline);
        assert!(parse_list("online svc:/a:b\n").is_err());
    }

    #[test]
    fn detail_values_keep_their_spaces_and_repeated_keys() {
        let text = "fmri         svc:/network/ssh:default\n\
                    name         SSH server\n\
                    dependency   require_all/none svc:/system/filesystem/local (online)\n\
                    dependency   require_all/none svc:/network/loopback (online)\n";
        let d = parse_detail(text).unwrap();
        assert_eq!(d[1], ("name".into(), "SSH server".into()));
        assert_eq!(d.iter().filter(|(k, _)| k == "dependency").count(), 2);
    }

    #[test]
    fn processes_are_the_indented_lines() {
        // captured: svcs -H -p -o state,stime,fmri svc:/network/ssh:default
        let text = "online         11:02:41 svc:/network/ssh:default\n               11:02:41      588 sshd\n";
        assert_eq!(
            parse_processes(text).unwrap(),
            vec![Process {
                pid: 588,
                stime: "11:02:41".into(),
                command: "sshd".into()
            }]
        );
        assert!(parse_processes("x\n   11:02:41 abc sshd\n").is_err());
    }

    #[test]
    fn properties_split_group_type_and_escaped_values() {
        let text = "config/port count 22\ngeneral/comment astring SSH\\ server\nconfig/list astring \"\"\n";
        let p = parse_properties(text).unwrap();
        assert_eq!(p[0].group, "config");
        assert_eq!(p[0].values, ["22"]);
        assert_eq!(p[1].values, ["SSH server"]);
        assert_eq!(p[2].values, [""]);
        assert!(parse_properties("noslash astring x\n").is_err());
    }
}
