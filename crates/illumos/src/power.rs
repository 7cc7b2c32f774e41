//! The host's power and run level: `shutdown`, `reboot`, `halt`, `poweroff`, `init` (all
//! root's, through the profile) and `who -r` (anyone) — illumos-gate `man8/shutdown.8`,
//! `reboot.8`, `halt.8`, `init.8`, `man1/who.1`.

use std::fmt;
use std::str::FromStr;

use crate::cmd::{Cmd, Tool};
use crate::link::InvalidValue;
use crate::parsable::ParseError;
use crate::runner::{CommandError, Runner};

#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    #[error("{0} failed")]
    Command(&'static str, #[source] CommandError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// An init state (`init.8`): 0 (firmware), 1 (administrative), 2 (multi-user), 3 (multi-user
/// with NFS resources shared: OmniOS's default), 4 (unused), 5 (power off), 6 (reboot), S
/// (single-user; `s` is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLevel(char);

impl RunLevel {
    pub const SINGLE_USER: RunLevel = RunLevel('S');
    pub const MULTI_USER: RunLevel = RunLevel('2');
    pub const MULTI_USER_SERVER: RunLevel = RunLevel('3');
    pub const POWER_OFF: RunLevel = RunLevel('5');
    pub const REBOOT: RunLevel = RunLevel('6');

    pub fn as_char(self) -> char {
        self.0
    }

    /// What the level means (`init.8`).
    pub fn description(self) -> &'static str {
        match self.0 {
            '0' => "Halt: shut down to the firmware",
            '1' => "Administrative (single-user with all file systems)",
            '2' => "Multi-user mode",
            '3' => "Multi-user mode with network services (default)",
            '4' => "Alternative multi-user mode (unused)",
            '5' => "Power off",
            '6' => "Reboot",
            _ => "Single-user mode",
        }
    }
}

impl FromStr for RunLevel {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "S" => {
                Ok(RunLevel(s.chars().next().expect("one")))
            }
            "s" => Ok(RunLevel('S')),
            _ => Err(InvalidValue::new(
                "run level",
                s,
                "must be one of 0-6, S or s",
            )),
        }
    }
}

impl fmt::Display for RunLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The text `shutdown` broadcasts to users: one printable line of at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallMessage(String);

impl FromStr for WallMessage {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.chars().count() > 200 {
            return Err(InvalidValue::new(
                "message",
                s,
                "may be at most 200 characters",
            ));
        }
        // illumos' shutdown is a shell script that hands the text on to wall: plain words and
        // sentence punctuation only, nothing a shell or a terminal would read as syntax.
        // (No '/' or "..": a sentence needs no path, and refusing them keeps any path off the
        // command line.)
        if s.contains("..")
            || s.starts_with(['-', ' '])
            || s.ends_with(' ')
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || ".,:!?()-_".contains(c))
        {
            return Err(InvalidValue::new(
                "message",
                s,
                "may hold only ASCII letters, digits, spaces and . , : ! ? ( ) - _ (no '..', not starting with '-', which shutdown would read as an option, nor with a space)",
            ));
        }
        Ok(WallMessage(s.to_owned()))
    }
}

impl WallMessage {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WallMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for BootEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A boot environment name (beadm): letters, digits, `.`, `_`, `-`, at most 64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEnv(String);

impl FromStr for BootEnv {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with('-')
            && !s.starts_with('.')
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        if ok {
            Ok(BootEnv(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "boot environment",
                s,
                "must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' or '.'",
            ))
        }
    }
}

impl BootEnv {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `shutdown -y -g GRACE -i STATE [MESSAGE]`: warns logged-in users, waits the grace period
/// (seconds), then moves to the init state through the rc scripts (a clean shutdown).
pub fn shutdown_cmd(grace_secs: u32, state: RunLevel, message: Option<&WallMessage>) -> Cmd {
    Cmd::new(Tool::Shutdown)
        .args(["-y", "-g"])
        .arg(grace_secs.to_string())
        .arg("-i")
        .arg(state.to_string())
        .args(message.map(WallMessage::as_str).filter(|m| !m.is_empty()))
}

/// How `reboot` reboots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reboot {
    /// `-f`: fast reboot (skips the firmware; x86).
    pub fast: bool,
    /// `-d`: dump a kernel crash dump first.
    pub dump_core: bool,
    /// `-e BE`: fast reboot into this boot environment.
    pub boot_env: Option<BootEnv>,
}

/// `reboot [-f] [-d] [-e BE]`: no rc scripts, no grace period.
pub fn reboot_cmd(r: &Reboot) -> Cmd {
    let mut cmd = Cmd::new(Tool::Reboot);
    if r.fast {
        cmd = cmd.arg("-f");
    }
    if r.dump_core {
        cmd = cmd.arg("-d");
    }
    if let Some(be) = &r.boot_env {
        cmd = cmd.arg("-e").arg(be.as_str());
    }
    cmd
}

/// `halt`: stops the processor at once (no rc scripts).
pub fn halt_cmd() -> Cmd {
    Cmd::new(Tool::Halt)
}

/// `poweroff`: like halt, then powers the machine off.
pub fn poweroff_cmd() -> Cmd {
    Cmd::new(Tool::Poweroff)
}

/// `init STATE`: moves to the run level through the rc scripts, at once.
pub fn init_cmd(state: RunLevel) -> Cmd {
    Cmd::new(Tool::Init).arg(state.to_string())
}

/// `who -r`: the current run level.
pub fn who_r_cmd() -> Cmd {
    Cmd::new(Tool::Who).arg("-r").quiet()
}

/// Parses `who -r`: `   .       run-level 3  Dec  5 09:00     3      0  S` — the level is the
/// word after `run-level`.
pub fn parse_who_r(text: &str) -> Result<RunLevel, ParseError> {
    let line = text
        .lines()
        .find(|l| l.contains("run-level"))
        .unwrap_or(text);
    let mut words = line.split_whitespace();
    words
        .find(|w| *w == "run-level")
        .and_then(|_| words.next())
        .ok_or_else(|| ParseError::new("who -r", line, "no run-level field"))?
        .parse()
        .map_err(|e: InvalidValue| ParseError::new("who -r", line, e))
}

async fn run(run: &Runner, what: &'static str, cmd: Cmd) -> Result<String, PowerError> {
    run.output(&cmd)
        .await
        .map(|o| o.stdout)
        .map_err(|e| PowerError::Command(what, e))
}

pub async fn runlevel(r: &Runner) -> Result<RunLevel, PowerError> {
    Ok(parse_who_r(&run(r, "who -r", who_r_cmd()).await?)?)
}

pub async fn shutdown(
    r: &Runner,
    grace_secs: u32,
    state: RunLevel,
    message: Option<&WallMessage>,
) -> Result<(), PowerError> {
    run(r, "shutdown", shutdown_cmd(grace_secs, state, message))
        .await
        .map(drop)
}

pub async fn reboot(r: &Runner, how: &Reboot) -> Result<(), PowerError> {
    run(r, "reboot", reboot_cmd(how)).await.map(drop)
}

pub async fn halt(r: &Runner) -> Result<(), PowerError> {
    run(r, "halt", halt_cmd()).await.map(drop)
}

pub async fn poweroff(r: &Runner) -> Result<(), PowerError> {
    run(r, "poweroff", poweroff_cmd()).await.map(drop)
}

pub async fn init(r: &Runner, state: RunLevel) -> Result<(), PowerError> {
    run(r, "init", init_cmd(state)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_level_is_read_from_who_r() {
        // captured: who -r
        let text = "   .       run-level 3  Dec  5 09:00     3      0  S\n";
        assert_eq!(parse_who_r(text).unwrap(), RunLevel::MULTI_USER_SERVER);
        assert!(parse_who_r("nothing here\n").is_err());
    }

    #[test]
    fn single_user_is_s_either_case() {
        assert_eq!("s".parse::<RunLevel>().unwrap(), RunLevel::SINGLE_USER);
        assert!("7".parse::<RunLevel>().is_err());
        assert!("3;reboot".parse::<RunLevel>().is_err());
    }

    #[test]
    fn shutdown_and_reboot_argv() {
        for refused in ["-rf", "/etc/passwd", "a..b", " ", "x; reboot", "ｉｇｂ０"] {
            assert!(refused.parse::<WallMessage>().is_err(), "{refused}");
        }
        let m: WallMessage = "going down, back soon".parse().unwrap();
        assert_eq!(
            shutdown_cmd(30, RunLevel::REBOOT, Some(&m)).argv(),
            [
                "shutdown",
                "-y",
                "-g",
                "30",
                "-i",
                "6",
                "going down, back soon"
            ]
        );
        let r = Reboot {
            fast: true,
            dump_core: false,
            boot_env: Some("omnios-r151054".parse().unwrap()),
        };
        assert_eq!(
            reboot_cmd(&r).argv(),
            ["reboot", "-f", "-e", "omnios-r151054"]
        );
        assert!("-x".parse::<BootEnv>().is_err());
        assert!("line\nbreak".parse::<WallMessage>().is_err());
    }
}
