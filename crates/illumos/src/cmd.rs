//! Commands as data: a tool and its argument vector, never a shell string.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::Duration;

/// The illumos tools the agent runs. Nothing else is ever executed through the runner, so this
/// list, less the unprivileged readers ([`Tool::privileged`]), is also the set of programs the
/// agent's RBAC profile must grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    Zonecfg,
    Zoneadm,
    Zlogin,
    Dladm,
    Ipadm,
    Routeadm,
    Route,
    Svcs,
    Svcadm,
    Svccfg,
    Svcprop,
    Zfs,
    Zpool,
    Ipnat,
    /// The machine's own figures: read-only, run with the agent's own ids (no profile entry).
    Uname,
    Kstat,
    Psrinfo,
    Pagesize,
    /// Swap areas and totals (read-only here).
    Swap,
    Netstat,
    /// The host's power and run level (root's); `who -r` is anyone's.
    Shutdown,
    Reboot,
    Halt,
    Poweroff,
    Init,
    Who,
    /// Reads and sets the running node name (setting needs privilege).
    Hostname,
    /// The agent's own privileged helper (`crates/install-helper`): the one program its
    /// profile lets write root's files, limited to an allow-list.
    Install,
    /// The profile shell (the host terminal): runs as the agent's account, each command with
    /// what the account's RBAC profile grants. Not itself privileged.
    Pfsh,
    /// The device tree and the passthrough devices (read-only, anyone's).
    Prtconf,
    Pptadm,
}

impl Tool {
    pub const ALL: [Tool; 31] = [
        Tool::Zonecfg,
        Tool::Zoneadm,
        Tool::Zlogin,
        Tool::Dladm,
        Tool::Ipadm,
        Tool::Routeadm,
        Tool::Route,
        Tool::Svcs,
        Tool::Svcadm,
        Tool::Svccfg,
        Tool::Svcprop,
        Tool::Zfs,
        Tool::Zpool,
        Tool::Ipnat,
        Tool::Uname,
        Tool::Kstat,
        Tool::Psrinfo,
        Tool::Pagesize,
        Tool::Swap,
        Tool::Netstat,
        Tool::Shutdown,
        Tool::Reboot,
        Tool::Halt,
        Tool::Poweroff,
        Tool::Init,
        Tool::Who,
        Tool::Hostname,
        Tool::Install,
        Tool::Pfsh,
        Tool::Prtconf,
        Tool::Pptadm,
    ];

    /// Whether the agent's RBAC profile must grant the tool `euid=0`. The read-only tools that
    /// describe the machine need no privilege; pfexec runs a program no profile names with the
    /// caller's own ids, so they are not in the profile at all.
    pub fn privileged(self) -> bool {
        !matches!(
            self,
            Tool::Uname
                | Tool::Kstat
                | Tool::Psrinfo
                | Tool::Pagesize
                | Tool::Pfsh
                | Tool::Swap
                | Tool::Netstat
                | Tool::Who
                | Tool::Prtconf
                | Tool::Pptadm
        )
    }

    /// The program's name, as found in its directory.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Zonecfg => "zonecfg",
            Tool::Zoneadm => "zoneadm",
            Tool::Zlogin => "zlogin",
            Tool::Dladm => "dladm",
            Tool::Ipadm => "ipadm",
            Tool::Routeadm => "routeadm",
            Tool::Route => "route",
            Tool::Svcs => "svcs",
            Tool::Svcadm => "svcadm",
            Tool::Svccfg => "svccfg",
            Tool::Svcprop => "svcprop",
            Tool::Zfs => "zfs",
            Tool::Zpool => "zpool",
            Tool::Ipnat => "ipnat",
            Tool::Uname => "uname",
            Tool::Kstat => "kstat",
            Tool::Psrinfo => "psrinfo",
            Tool::Pagesize => "pagesize",
            Tool::Swap => "swap",
            Tool::Netstat => "netstat",
            Tool::Shutdown => "shutdown",
            Tool::Reboot => "reboot",
            Tool::Halt => "halt",
            Tool::Poweroff => "poweroff",
            Tool::Init => "init",
            Tool::Who => "who",
            Tool::Hostname => "hostname",
            Tool::Install => "zoneweaver-install",
            Tool::Pfsh => "pfsh",
            Tool::Prtconf => "prtconf",
            Tool::Pptadm => "pptadm",
        }
    }

    /// Where OmniOS installs the tool.
    pub fn default_path(self) -> &'static str {
        match self {
            Tool::Svcs => "/usr/bin/svcs",
            Tool::Svcprop => "/usr/bin/svcprop",
            Tool::Zonecfg => "/usr/sbin/zonecfg",
            Tool::Zoneadm => "/usr/sbin/zoneadm",
            Tool::Zlogin => "/usr/sbin/zlogin",
            Tool::Dladm => "/usr/sbin/dladm",
            Tool::Ipadm => "/usr/sbin/ipadm",
            Tool::Routeadm => "/usr/sbin/routeadm",
            Tool::Route => "/usr/sbin/route",
            Tool::Svcadm => "/usr/sbin/svcadm",
            Tool::Svccfg => "/usr/sbin/svccfg",
            Tool::Zfs => "/usr/sbin/zfs",
            Tool::Zpool => "/usr/sbin/zpool",
            Tool::Ipnat => "/usr/sbin/ipnat",
            Tool::Uname => "/usr/bin/uname",
            Tool::Kstat => "/usr/bin/kstat",
            Tool::Psrinfo => "/usr/sbin/psrinfo",
            Tool::Pagesize => "/usr/bin/pagesize",
            Tool::Swap => "/usr/sbin/swap",
            Tool::Netstat => "/usr/bin/netstat",
            Tool::Shutdown => "/usr/sbin/shutdown",
            Tool::Reboot => "/usr/sbin/reboot",
            Tool::Halt => "/usr/sbin/halt",
            Tool::Poweroff => "/usr/sbin/poweroff",
            Tool::Init => "/usr/sbin/init",
            Tool::Who => "/usr/bin/who",
            Tool::Hostname => "/usr/bin/hostname",
            Tool::Install => "/opt/zoneweaver/lib/zoneweaver-install",
            Tool::Pfsh => "/usr/bin/pfsh",
            Tool::Prtconf => "/usr/sbin/prtconf",
            Tool::Pptadm => "/usr/sbin/pptadm",
        }
    }

    /// The file the tool's path names once symbolic links are followed: what pfexec matches
    /// against the profile's exec_attr entries. On illumos `/usr/sbin/dladm`, `ipadm`, `route`,
    /// `routeadm`, `zfs` and `zpool` are links into `/sbin`, so an entry naming the
    /// `/usr/sbin` form never matches and the tool runs unprivileged.
    pub fn resolved_path(self) -> &'static str {
        match self {
            Tool::Dladm => "/sbin/dladm",
            Tool::Ipadm => "/sbin/ipadm",
            Tool::Route => "/sbin/route",
            Tool::Routeadm => "/sbin/routeadm",
            Tool::Zfs => "/sbin/zfs",
            Tool::Zpool => "/sbin/zpool",
            // /usr/sbin/init is a link to ../../sbin/init (illumos-gate cmd/init's manifest).
            Tool::Init => "/sbin/init",
            other => other.default_path(),
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One invocation of a host tool: one argv element per token, optional bytes for stdin, and an
/// optional timeout that overrides the runner's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    tool: Tool,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    quiet: bool,
}

impl Cmd {
    pub fn new(tool: Tool) -> Self {
        Cmd {
            tool,
            args: Vec::new(),
            stdin: None,
            timeout: None,
            quiet: false,
        }
    }

    /// Keeps stdout out of the task's output log (it is still captured and parsed): for reads
    /// whose output is data, not progress, and may hold secrets (`zonecfg export`).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn tool(&self) -> Tool {
        self.tool
    }

    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    pub fn get_stdin(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The tool name followed by its arguments, for assertions and log lines (never for running).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.tool.name().to_owned())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }
}

impl fmt::Display for Cmd {
    /// A readable rendering for logs; arguments with spaces or quotes are quoted so the line is
    /// unambiguous, but nothing ever parses this text back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tool.name())?;
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                write!(f, " {a:?}")?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_keeps_one_element_per_token() {
        let cmd = Cmd::new(Tool::Dladm)
            .arg("create-vnic")
            .args(["-l", "igb0"])
            .arg("a b;c");
        assert_eq!(cmd.argv(), ["dladm", "create-vnic", "-l", "igb0", "a b;c"]);
        assert_eq!(cmd.to_string(), r#"dladm create-vnic -l igb0 "a b;c""#);
    }

    #[test]
    fn every_tool_has_an_absolute_default_path_ending_in_its_name() {
        for tool in Tool::ALL {
            let p = tool.default_path();
            assert!(p.starts_with('/'), "{p}");
            assert!(p.ends_with(&format!("/{}", tool.name())), "{p}");
        }
    }
}
