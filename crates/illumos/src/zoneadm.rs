//! zoneadm: list zones and drive their state machine.

use std::borrow::Cow;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::names::ZoneName;
use crate::runner::{CommandError, Runner};

// Reference §1.3 and §2.
const NO_SUCH_ZONE: &str = "No such zone configured";
const ALREADY_INSTALLED: &str = "is already installed";
const ALREADY_CONFIGURED: &str = "is already in state 'configured'";
const NOT_RUNNING: &str = "not running";

/// Zone states as `zoneadm list` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoneState {
    Configured,
    Incomplete,
    Installed,
    Ready,
    Mounted,
    Running,
    ShuttingDown,
    Down,
}

impl ZoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Configured => "configured",
            ZoneState::Incomplete => "incomplete",
            ZoneState::Installed => "installed",
            ZoneState::Ready => "ready",
            ZoneState::Mounted => "mounted",
            ZoneState::Running => "running",
            ZoneState::ShuttingDown => "shutting_down",
            ZoneState::Down => "down",
        }
    }

    /// The zone exists in the kernel (has a zone id).
    pub fn is_booted(self) -> bool {
        matches!(
            self,
            ZoneState::Ready
                | ZoneState::Running
                | ZoneState::ShuttingDown
                | ZoneState::Down
                | ZoneState::Mounted
        )
    }
}

impl FromStr for ZoneState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "configured" => ZoneState::Configured,
            "incomplete" => ZoneState::Incomplete,
            "installed" => ZoneState::Installed,
            "ready" => ZoneState::Ready,
            "mounted" => ZoneState::Mounted,
            "running" => ZoneState::Running,
            "shutting_down" => ZoneState::ShuttingDown,
            "down" => ZoneState::Down,
            other => return Err(format!("unknown zone state {other:?}")),
        })
    }
}

/// A line of `zoneadm list -p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneEntry {
    pub id: Option<u64>,
    pub name: String,
    pub state: ZoneState,
    pub zonepath: String,
    pub uuid: Option<String>,
    pub brand: String,
    /// `excl` or `shared`, as zoneadm prints it.
    pub ip_type: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("unexpected zoneadm output line {line:?}: {why}")]
pub struct ParseError {
    pub line: String,
    pub why: String,
}

/// Splits on `:` honouring `\:` (zonepath colons are escaped, reference §1.3). A line without
/// a backslash (nearly every one) is split in place, without copying its fields.
fn split_escaped(line: &str) -> Vec<Cow<'_, str>> {
    if !line.contains('\\') {
        return line.split(':').map(Cow::Borrowed).collect();
    }
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one field").push(n);
                }
            }
            ':' => fields.push(String::new()),
            _ => fields.last_mut().expect("one field").push(c),
        }
    }
    fields.into_iter().map(Cow::Owned).collect()
}

/// Parses `zoneadm list -p` / `-cp`: `zoneid:zonename:state:zonepath:uuid:brand:ip-type`,
/// tolerating extra trailing fields.
pub fn parse_list(text: &str) -> Result<Vec<ZoneEntry>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let err = |why: String| ParseError {
                line: line.to_owned(),
                why,
            };
            let f = split_escaped(line);
            if f.len() < 7 {
                return Err(err(format!(
                    "expected at least 7 fields, found {}",
                    f.len()
                )));
            }
            let id = match &*f[0] {
                "-" => None,
                n => Some(
                    n.parse()
                        .map_err(|_| err("zone id is not a number".into()))?,
                ),
            };
            let state = f[2].parse().map_err(err)?;
            // Only the fields kept are copied: a settle parses every zone of the host.
            let mut fields = f.into_iter();
            // The field `skip` fields after the last one taken (seven are there).
            let mut take = |skip| fields.nth(skip).map(Cow::into_owned).unwrap_or_default();
            let name = take(1);
            let zonepath = take(1);
            let (uuid, brand, ip_type) = (take(0), take(0), take(0));
            Ok(ZoneEntry {
                id,
                name,
                state,
                zonepath,
                uuid: (!uuid.is_empty()).then_some(uuid),
                brand,
                ip_type,
            })
        })
        .collect()
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ZoneadmFailure {
    #[error("no such zone configured")]
    NotFound,
    #[error("the zone is not in a state that allows this")]
    InvalidState,
    #[error(transparent)]
    Command(CommandError),
    /// A listing still running long after it should have ended (a hung `zoneadm`), for a
    /// caller that will not wait for it.
    #[error("{argv} has not answered for {}s", waited.as_secs())]
    Unanswered {
        argv: String,
        waited: std::time::Duration,
    },
    #[error(transparent)]
    Parse(#[from] ParseError),
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("zoneadm {op} of zone {zone}: {kind}")]
pub struct ZoneadmError {
    pub op: &'static str,
    pub zone: String,
    #[source]
    pub kind: ZoneadmFailure,
}

impl ZoneadmError {
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ZoneadmFailure::NotFound)
    }

    pub fn detail(&self) -> String {
        match &self.kind {
            ZoneadmFailure::Command(CommandError::Failed(f)) => f.stderr.trim().to_owned(),
            ZoneadmFailure::Command(e) => e.to_string(),
            other => other.to_string(),
        }
    }
}

fn classify(op: &'static str, zone: &str, e: CommandError) -> ZoneadmError {
    let kind = match e.stderr() {
        Some(s) if s.contains(NO_SUCH_ZONE) => ZoneadmFailure::NotFound,
        Some(s)
            if s.contains(ALREADY_INSTALLED)
                || s.contains(ALREADY_CONFIGURED)
                || s.contains(NOT_RUNNING)
                || s.contains("operation is invalid") =>
        {
            ZoneadmFailure::InvalidState
        }
        _ => ZoneadmFailure::Command(e),
    };
    ZoneadmError {
        op,
        zone: zone.to_owned(),
        kind,
    }
}

pub fn list_all_cmd() -> Cmd {
    Cmd::new(Tool::Zoneadm).args(["list", "-cp"]).quiet()
}

pub fn list_one_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zoneadm)
        .args(["-z", zone.as_str(), "list", "-p"])
        .quiet()
}

fn zone_cmd(zone: &ZoneName, args: &[&str]) -> Cmd {
    Cmd::new(Tool::Zoneadm)
        .args(["-z", zone.as_str()])
        .args(args)
}

pub fn install_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["install"])
}

pub fn uninstall_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["uninstall", "-F"])
}

pub fn boot_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["boot"])
}

pub fn halt_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["halt"])
}

pub fn shutdown_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["shutdown"])
}

pub fn reboot_cmd(zone: &ZoneName) -> Cmd {
    zone_cmd(zone, &["reboot"])
}

/// Every zone on the host, the global zone included.
pub async fn list(run: &Runner) -> Result<Vec<ZoneEntry>, ZoneadmError> {
    let out = run
        .output(&list_all_cmd())
        .await
        .map_err(|e| classify("list", "*", e))?;
    parse_list(&out.stdout).map_err(|e| ZoneadmError {
        op: "list",
        zone: "*".into(),
        kind: e.into(),
    })
}

/// One zone, or `None` when no such zone is configured.
pub async fn get(run: &Runner, zone: &ZoneName) -> Result<Option<ZoneEntry>, ZoneadmError> {
    match run.output(&list_one_cmd(zone)).await {
        Ok(out) => {
            let mut v = parse_list(&out.stdout).map_err(|e| ZoneadmError {
                op: "list",
                zone: zone.to_string(),
                kind: e.into(),
            })?;
            Ok((!v.is_empty()).then(|| v.remove(0)))
        }
        Err(e) => {
            let e = classify("list", zone.as_str(), e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

async fn run_op(
    run: &Runner,
    op: &'static str,
    zone: &ZoneName,
    cmd: Cmd,
) -> Result<(), ZoneadmError> {
    run.output(&cmd)
        .await
        .map(drop)
        .map_err(|e| classify(op, zone.as_str(), e))
}

pub async fn install(run: &Runner, zone: &ZoneName) -> Result<(), ZoneadmError> {
    run_op(run, "install", zone, install_cmd(zone)).await
}

pub async fn uninstall(run: &Runner, zone: &ZoneName) -> Result<(), ZoneadmError> {
    run_op(run, "uninstall", zone, uninstall_cmd(zone)).await
}

pub async fn boot(run: &Runner, zone: &ZoneName) -> Result<(), ZoneadmError> {
    run_op(run, "boot", zone, boot_cmd(zone)).await
}

pub async fn halt(run: &Runner, zone: &ZoneName) -> Result<(), ZoneadmError> {
    run_op(run, "halt", zone, halt_cmd(zone)).await
}

/// Graceful shutdown, bounded by `timeout` (the caller halts if it runs out).
pub async fn shutdown(
    run: &Runner,
    zone: &ZoneName,
    timeout: std::time::Duration,
) -> Result<(), ZoneadmError> {
    run_op(run, "shutdown", zone, shutdown_cmd(zone).timeout(timeout)).await
}

pub async fn reboot(run: &Runner, zone: &ZoneName) -> Result<(), ZoneadmError> {
    run_op(run, "reboot", zone, reboot_cmd(zone)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_listing_parses() {
        // reference §1.3, list -p format
        let text = "0:global:running:/::ipkg:shared\n-:vm1:configured:/zones/vm1::bhyve:excl\n-:vm2:installed:/zones/vm2:52c9e1a4-6b4e-4f1b-a3d2-2a7a0b54c1de:bhyve:excl\n12:vm3:running:/zones/vm3:0f8d6a3e-8a1f-4c6e-9b77-6f1f0e2c9a10:bhyve:excl\n";
        let z = parse_list(text).unwrap();
        assert_eq!(z.len(), 4);
        assert_eq!(z[0].id, Some(0));
        assert_eq!(z[1].state, ZoneState::Configured);
        assert_eq!(z[1].uuid, None);
        assert_eq!(z[3].id, Some(12));
        assert_eq!(z[3].ip_type, "excl");
    }

    #[test]
    fn escaped_colons_stay_in_the_zonepath_and_extra_fields_are_tolerated() {
        let z = parse_list(r"-:vm1:installed:/zones/a\:b:u:bhyve:excl:extra").unwrap();
        assert_eq!(z[0].zonepath, "/zones/a:b");
    }

    #[test]
    fn a_line_with_and_without_escapes_gives_the_same_fields() {
        let plain = parse_list("-:vm1:installed:/zones/ab:u:bhyve:excl").unwrap();
        let escaped = parse_list(r"-:vm\1:installed:/zones/a\b:u:bhyve:excl").unwrap();
        assert_eq!(plain, escaped);
        assert_eq!(plain[0].name, "vm1");
        assert_eq!(plain[0].zonepath, "/zones/ab");
        assert_eq!(plain[0].uuid.as_deref(), Some("u"));
        assert_eq!(plain[0].brand, "bhyve");
    }

    #[test]
    fn unknown_states_and_short_lines_are_errors() {
        assert!(parse_list("-:vm1:exploded:/z::bhyve:excl").is_err());
        assert!(parse_list("-:vm1:installed").is_err());
    }

    #[test]
    fn argv_of_the_state_changes() {
        let z: ZoneName = "vm1".parse().unwrap();
        assert_eq!(
            uninstall_cmd(&z).argv(),
            ["zoneadm", "-z", "vm1", "uninstall", "-F"]
        );
        assert_eq!(
            list_one_cmd(&z).argv(),
            ["zoneadm", "-z", "vm1", "list", "-p"]
        );
        assert_eq!(list_all_cmd().argv(), ["zoneadm", "list", "-cp"]);
    }
}
