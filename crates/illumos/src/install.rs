//! `zoneweaver-install`, the agent's one privileged write path (crate `zoneweaver-install`):
//! replaces the allow-listed config files atomically and hands a fresh provisioning
//! mountpoint to the agent's user. Run through pfexec like every tool; the profile grants it
//! `euid=0`, and the helper itself refuses any path its root-owned policy does not name.

use std::fmt;
use std::path::Path;

use crate::cmd::{Cmd, Tool};
use crate::link::InvalidValue;
use crate::names::ZoneName;
use crate::runner::{CommandError, Runner};

/// An absolute host path handed to the helper: no `..`, no control characters (the helper
/// checks the same and more; this keeps a bad value from reaching a command at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl std::str::FromStr for Target {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Err(InvalidValue::new("host path", s, reason));
        if !s.starts_with('/') {
            return bad("must be absolute");
        }
        if s.split('/').any(|c| c == "..") {
            return bad("must not contain '..'");
        }
        if s.chars().any(char::is_control) {
            return bad("must not contain control characters");
        }
        Ok(Target(s.to_owned()))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&crate::ipnat::ConfPath> for Target {
    fn from(p: &crate::ipnat::ConfPath) -> Target {
        // A ConfPath is absolute, without '..' and of plain characters: a valid target.
        Target(p.to_string())
    }
}

impl Target {
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }
}

/// The helper refused or failed: `reason` is its own message, which names what is missing.
#[derive(Debug, thiserror::Error)]
#[error("zoneweaver-install {verb} {target}: {reason}")]
pub struct InstallError {
    pub verb: &'static str,
    pub target: Target,
    pub reason: String,
    #[source]
    pub source: CommandError,
}

impl InstallError {
    /// What the operator reads: what could not be done, as whom, and the helper's reason
    /// (which names what is missing: the grant, the policy entry, a safe path).
    pub fn describe(&self, user: &str) -> String {
        let what = match self.verb {
            "own-mountpoint" => "take over",
            "read" => "read",
            _ => "replace",
        };
        format!("cannot {what} {} as {user}: {}", self.target, self.reason)
    }
}

fn verb_cmd(verb: &'static str, target: &Target) -> Cmd {
    Cmd::new(Tool::Install).arg(verb).arg(target.as_path())
}

/// `zoneweaver-install backup TARGET`: keeps TARGET as TARGET.zw-backup.
pub fn backup_cmd(target: &Target) -> Cmd {
    verb_cmd("backup", target)
}

/// `zoneweaver-install install TARGET` with the new content on stdin.
pub fn install_cmd(target: &Target, content: &[u8]) -> Cmd {
    verb_cmd("install", target).stdin(content.to_vec())
}

pub fn restore_cmd(target: &Target) -> Cmd {
    verb_cmd("restore", target)
}

pub fn remove_cmd(target: &Target) -> Cmd {
    verb_cmd("remove", target)
}

/// `zoneweaver-install read TARGET`: the file's text on stdout.
pub fn read_cmd(target: &Target) -> Cmd {
    verb_cmd("read", target)
}

/// `zoneweaver-install vnc-connect ZONE SOCKET`: stdin and stdout become a byte stream to the
/// zone's VNC socket (e.g. `<zonepath>/root/tmp/vm.vnc`), run with [`Runner::spawn_stream`].
/// The helper takes the zonepath from the host's zone index, not from us, and refuses a
/// socket outside that zone's root.
///
/// [`Runner::spawn_stream`]: crate::runner::Runner::spawn_stream
pub fn vnc_connect_cmd(zone: &ZoneName, socket: &Target) -> Cmd {
    Cmd::new(Tool::Install)
        .arg("vnc-connect")
        .arg(zone.as_str())
        .arg(socket.as_path())
}

pub fn own_mountpoint_cmd(dir: &Target) -> Cmd {
    verb_cmd("own-mountpoint", dir)
}

async fn run(
    run: &Runner,
    verb: &'static str,
    target: &Target,
    cmd: Cmd,
) -> Result<String, InstallError> {
    run.output(&cmd)
        .await
        .map(|o| o.stdout)
        .map_err(|source| InstallError {
            verb,
            target: target.clone(),
            reason: reason(&source),
            source,
        })
}

/// The helper's own words (without its name), or the runner's when it never answered.
fn reason(e: &CommandError) -> String {
    match e {
        CommandError::Failed(f) if !f.stderr.trim().is_empty() => {
            let s = f.stderr.trim();
            s.strip_prefix("zoneweaver-install: ")
                .unwrap_or(s)
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// Backs TARGET up; returns whether it existed (false: there was nothing to back up).
pub async fn backup(runner: &Runner, target: &Target) -> Result<bool, InstallError> {
    let out = run(runner, "backup", target, backup_cmd(target)).await?;
    Ok(out.trim() == "existed")
}

pub async fn install(runner: &Runner, target: &Target, content: &[u8]) -> Result<(), InstallError> {
    run(runner, "install", target, install_cmd(target, content))
        .await
        .map(drop)
}

pub async fn restore(runner: &Runner, target: &Target) -> Result<(), InstallError> {
    run(runner, "restore", target, restore_cmd(target))
        .await
        .map(drop)
}

pub async fn remove(runner: &Runner, target: &Target) -> Result<(), InstallError> {
    run(runner, "remove", target, remove_cmd(target))
        .await
        .map(drop)
}

/// TARGET's text, for a file the agent's user may not read itself.
pub async fn read(runner: &Runner, target: &Target) -> Result<String, InstallError> {
    run(runner, "read", target, read_cmd(target)).await
}

pub async fn own_mountpoint(runner: &Runner, dir: &Target) -> Result<(), InstallError> {
    run(runner, "own-mountpoint", dir, own_mountpoint_cmd(dir))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_verb_and_the_target_as_single_arguments() {
        let t: Target = "/etc/ipf/ipnat.conf".parse().unwrap();
        assert_eq!(
            install_cmd(&t, b"map x\n").argv(),
            ["zoneweaver-install", "install", "/etc/ipf/ipnat.conf"]
        );
        assert_eq!(
            install_cmd(&t, b"map x\n").get_stdin(),
            Some(&b"map x\n"[..])
        );
        let d: Target = "/rpool/zones/web 1/provisioning".parse().unwrap();
        assert_eq!(
            own_mountpoint_cmd(&d).argv(),
            [
                "zoneweaver-install",
                "own-mountpoint",
                "/rpool/zones/web 1/provisioning"
            ]
        );
        let zone: ZoneName = "vm1".parse().unwrap();
        let s: Target = "/rpool/zones/vm1/root/tmp/vm.vnc".parse().unwrap();
        assert_eq!(
            vnc_connect_cmd(&zone, &s).argv(),
            [
                "zoneweaver-install",
                "vnc-connect",
                "vm1",
                "/rpool/zones/vm1/root/tmp/vm.vnc"
            ]
        );
    }

    #[test]
    fn targets_are_absolute_without_dot_dot_or_control_characters() {
        for bad in ["etc/x", "/etc/../x", "/etc/x\n/etc/y", ""] {
            assert!(bad.parse::<Target>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_reason_is_the_helpers_own_message() {
        let e = CommandError::Failed(crate::runner::CommandFailed {
            argv: "zoneweaver-install install /etc/x".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: "zoneweaver-install: /etc/x is not a file the policy allows\n".into(),
            hint: None,
        });
        assert_eq!(reason(&e), "/etc/x is not a file the policy allows");
    }
}
