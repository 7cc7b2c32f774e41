//! The programs the provisioning stages run on the agent's own host to reach a guest: `ssh`,
//! `rsync`, `ansible-playbook`, `ansible-galaxy`, `ssh-keygen`. The only place outside
//! `crates/illumos` that spawns a process.
//!
//! The same rules as the illumos runner, and the same supervisor (`illumos::process`): an
//! argument vector (never a local shell), a cleared environment, the child leads its own process
//! group, cancellation and timeouts signal the whole group, output streamed line by line
//! (secrets masked) to the task's log. Secrets never
//! go on a command line or into an environment: a key given inline is written to a mode-0600
//! file in a private directory that is removed after the stage; passwords are only ever typed
//! on the console, never used for SSH (key authentication only; no `sshpass`).
//!
//! What runs *inside* the guest (a provisioner's script, `ansible-playbook -c local`) is a
//! command line for the guest's shell: built here only from validated values, each quoted.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use illumos::lines::{End, Keep, Line};
use illumos::process::{BoxFuture, Ended, Leftovers, LineSink, Signal, SignalHook, Supervisor};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::config::ProvisioningToolsConfig;
use crate::provisioning::confine::Launch;
use crate::provisioning::console::sh_quote;
use crate::provisioning::transcript;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} exited with {}: {}", code.map(|c| c.to_string()).unwrap_or_else(|| "a signal".into()), stderr.trim())]
    Failed {
        program: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("{program}: the guest's SSH host key is not the one pinned for this zone at first contact; refusing to connect (only a re-created zone starts afresh)")]
    HostKeyChanged { program: String },
    #[error("{program} did not finish within {secs} s and was killed")]
    TimedOut { program: String, secs: u64 },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Setup(String),
}

/// Where a program is: an absolute path as configured, or a bare name looked up in a fixed
/// list of directories (the agent's own PATH is not trusted).
pub fn locate(program: &Path) -> PathBuf {
    if program.is_absolute() {
        return program.to_path_buf();
    }
    for dir in [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/opt/local/bin",
        "/opt/ooce/bin",
    ] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    program.to_path_buf()
}

/// Runs one host program for a stage.
pub struct Proc<'a> {
    pub cancel: &'a CancellationToken,
    pub note: &'a (dyn Fn(&str) + Send + Sync),
    pub secrets: &'a [String],
    pub kill_grace: Duration,
    /// HOME and working directory of the child: the stage's private directory.
    pub home: &'a Path,
    /// Run the child as the confined account (the `ansible` provisioner's controller).
    pub confined: Option<&'a Launch>,
}

/// How a program ended, with the last [`KEEP_BYTES`] of its stdout and stderr (marked when
/// earlier output was dropped).
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Proc<'_> {
    fn mask(&self, line: &str) -> String {
        transcript::mask(line, self.secrets)
    }

    /// Runs `program args` to its end; a non-zero exit is returned, not an error (callers
    /// decide). `quiet` keeps stdout out of the log (it is still captured).
    pub async fn run(
        &self,
        program: &Path,
        args: &[OsString],
        env: &[(&str, OsString)],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
        quiet: bool,
    ) -> Result<Finished, RemoteError> {
        let program = locate(program);
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.display().to_string());
        let shown: Vec<String> = std::iter::once(name.clone())
            .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect();
        (self.note)(&format!("$ {}", self.mask(&shown.join(" "))));
        let (exe, argv) = match self.confined {
            Some(l) => l.argv(&program, args),
            None => (program.clone(), args.to_vec()),
        };
        let mut c = Command::new(&exe);
        c.args(&argv)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", self.home)
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .current_dir(self.home);
        for (k, v) in env {
            c.env(k, v);
        }
        if let Some(l) = self.confined {
            l.apply(&mut c);
        }
        let hook = self.confined.and_then(ConfinedKill::of);
        let supervisor = Supervisor {
            timeout,
            cancel: Some(self.cancel),
            kill_grace: self.kill_grace,
            hook: hook.as_ref().map(|h| h as &dyn SignalHook),
            // Whatever the program left in its group goes with it.
            leftovers: Leftovers::Kill,
        };
        let (mut stdout, mut stderr) = (self.keep(), self.keep());
        let outcome = supervisor
            .run(
                &mut c,
                stdin,
                LineSink::new(self.max_line_bytes(), &mut |l| {
                    self.line(&mut stdout, (!quiet).then_some(""), l)
                }),
                LineSink::new(self.max_line_bytes(), &mut |l| {
                    self.line(&mut stderr, Some(""), l)
                }),
            )
            .await
            .map_err(|source| RemoteError::Spawn {
                program: name.clone(),
                source,
            })?;
        match outcome {
            Ended::Done(status) => Ok(Finished {
                code: status.code(),
                stdout: stdout.into_marked(),
                stderr: stderr.into_marked(),
            }),
            Ended::TimedOut => Err(RemoteError::TimedOut {
                program: name,
                secs: timeout.as_secs(),
            }),
            Ended::Cancelled => Err(RemoteError::Cancelled),
        }
    }

    /// Like [`Proc::run`], but a non-zero exit is [`RemoteError::Failed`].
    pub async fn check(
        &self,
        program: &Path,
        args: &[OsString],
        env: &[(&str, OsString)],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Finished, RemoteError> {
        let f = self.run(program, args, env, stdin, timeout, false).await?;
        let name = || {
            locate(program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if f.code == Some(0) {
            Ok(f)
        } else if host_key_changed(&f.stderr) || host_key_changed(&f.stdout) {
            // Ansible reports ssh's refusal on stdout; rsync and ssh on stderr.
            Err(RemoteError::HostKeyChanged { program: name() })
        } else {
            Err(RemoteError::Failed {
                program: name(),
                code: f.code,
                stderr: self.mask(&f.stderr),
            })
        }
    }

    /// Read a secret's length further than the cut, so one straddling it is still masked.
    fn max_line_bytes(&self) -> usize {
        transcript::MAX_LINE_BYTES + transcript::slack(self.secrets)
    }

    fn keep(&self) -> Keep {
        Keep::new(KEEP_BYTES, End::Tail)
    }

    /// One line of the child's stdout or stderr: cut (see [`transcript`]), masked and marked,
    /// shown in the log (after `prefix`, unless `None`) and kept in `keep`'s last
    /// [`KEEP_BYTES`]. A guest decides what arrives here: nothing beyond one such line and the
    /// kept tail is ever held.
    fn line(&self, keep: &mut Keep, prefix: Option<&str>, line: Line) {
        let raw = String::from_utf8_lossy(&line.bytes);
        let (text, cut) = transcript::line(&raw, line.dropped, self.secrets);
        if let Some(p) = prefix {
            (self.note)(&format!("{p}{text}"));
        }
        keep.count_dropped(cut);
        keep.push_line(&text);
    }
}

/// How much of a program's stdout and stderr [`Finished`] keeps (the last bytes).
pub const KEEP_BYTES: usize = 64 * 1024;

/// A confined child started through pfexec runs as another account, out of an unprivileged
/// agent's reach (EPERM): its group is signalled by `kill` run as that account through the same
/// pfexec profile.
struct ConfinedKill<'a> {
    pfexec: &'a Path,
}

impl<'a> ConfinedKill<'a> {
    fn of(launch: &'a Launch) -> Option<ConfinedKill<'a>> {
        match launch {
            Launch::Pfexec { pfexec, .. } => Some(ConfinedKill { pfexec }),
            Launch::Drop(_) => None,
        }
    }
}

impl SignalHook for ConfinedKill<'_> {
    fn signal_group(&self, pgid: u32, signal: Signal) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = Command::new(self.pfexec)
                .args(confined_kill_args(pgid, signal))
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        })
    }
}

/// `kill -s SIG -- -PGID` for pfexec (the exec_attr entry for /usr/bin/kill carries the
/// confined account's uid).
fn confined_kill_args(pgid: u32, signal: Signal) -> Vec<String> {
    [
        "/usr/bin/kill",
        "-s",
        signal.name(),
        "--",
        &format!("-{pgid}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Makes the agent's provisioning key pair once (ed25519, no passphrase, mode 0600).
pub async fn ensure_key(
    proc: &Proc<'_>,
    tools: &ProvisioningToolsConfig,
    key: &Path,
) -> Result<(), RemoteError> {
    if key.is_file() && key.with_extension("pub").is_file() {
        return Ok(());
    }
    if let Some(dir) = key.parent() {
        private_dir(dir).map_err(|e| RemoteError::Setup(format!("{}: {e}", dir.display())))?;
    }
    let _ = std::fs::remove_file(key);
    let _ = std::fs::remove_file(key.with_extension("pub"));
    proc.check(
        &tools.ssh_keygen,
        &[
            "-q".into(),
            "-t".into(),
            "ed25519".into(),
            "-N".into(),
            "".into(),
            "-C".into(),
            "zoneweaver-agent".into(),
            "-f".into(),
            key.into(),
        ],
        &[],
        None,
        Duration::from_secs(30),
    )
    .await
    .map(drop)
}

/// A directory only the agent can read (0700), made if missing.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes a file only the agent can read (0600), never readable in between.
pub fn private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// What OpenSSH prints when the host key differs from the recorded one (with
/// `StrictHostKeyChecking=accept-new` an unknown key is recorded, so a refusal means a change).
const HOST_KEY_CHANGED: [&str; 2] = [
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "Host key verification failed",
];

/// Whether a program's output says ssh refused a changed host key.
pub fn host_key_changed(output: &str) -> bool {
    HOST_KEY_CHANGED.iter().any(|p| output.contains(p))
}

/// Where the host key of one zone is pinned: a file per zone *instance*, named by the zone and
/// the uuid zoneadm gave it at install. No other zone ever reads it, and a zone deleted and
/// created again under the same name (a new guest, a new key) starts with a new file.
pub fn known_hosts_file(
    dir: &Path,
    zone: &str,
    uuid: Option<&str>,
) -> Result<PathBuf, RemoteError> {
    let uuid = uuid.unwrap_or("uninstalled");
    // Both become a file name: a zone name cannot hold '/' or '@', the uuid is checked here.
    if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(RemoteError::Setup(format!(
            "zone {zone} has an unusable uuid {uuid:?}"
        )));
    }
    Ok(dir.join(format!("{zone}@{uuid}")))
}

/// How to reach one guest over SSH.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: IpAddr,
    pub port: u16,
    pub user: String,
    pub key: PathBuf,
    /// The zone's own known_hosts ([`known_hosts_file`]): the key is recorded at first
    /// contact, and any other key is refused after.
    pub known_hosts: PathBuf,
    /// The name the host key is recorded under ([`Target::host_key_alias`]).
    pub alias: String,
    pub connect_timeout_secs: u64,
}

impl Target {
    /// The address and port as ssh writes them into known_hosts (`[addr]:port`): a key is
    /// pinned for the zone's address only, and ssh, rsync and Ansible all look it up the same.
    pub fn host_key_alias(addr: IpAddr, port: u16) -> String {
        format!("[{addr}]:{port}")
    }

    /// `-o` options shared by ssh, rsync's ssh and ansible's ssh. Every value is a path the
    /// agent chose or a validated name.
    pub fn ssh_options(&self) -> Vec<OsString> {
        let mut o: Vec<OsString> = Vec::new();
        let mut opt = |s: String| {
            o.push("-o".into());
            o.push(s.into());
        };
        opt("BatchMode=yes".into());
        opt("IdentitiesOnly=yes".into());
        opt("PasswordAuthentication=no".into());
        opt("KbdInteractiveAuthentication=no".into());
        opt(format!("IdentityFile={}", self.key.display()));
        opt(format!("UserKnownHostsFile={}", self.known_hosts.display()));
        opt("GlobalKnownHostsFile=/dev/null".into());
        opt("StrictHostKeyChecking=accept-new".into());
        opt(format!("HostKeyAlias={}", self.alias));
        opt(format!("ConnectTimeout={}", self.connect_timeout_secs));
        opt("ServerAliveInterval=15".into());
        opt("LogLevel=ERROR".into());
        opt(format!("Port={}", self.port));
        opt(format!("User={}", self.user));
        o
    }

    /// `ssh [options] -F /dev/null ADDR -- REMOTE`: the remote command line runs in the
    /// guest's shell.
    pub fn ssh_args(&self, remote: &str) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["-F".into(), "/dev/null".into(), "-T".into()];
        a.extend(self.ssh_options());
        a.push(self.addr.to_string().into());
        a.push("--".into());
        a.push(remote.into());
        a
    }

    /// The ssh command as one string for `rsync -e` and ansible's `--ssh-common-args`, which
    /// split it themselves (on blanks, honouring quotes): every token is quoted and none may
    /// hold a quote.
    pub fn ssh_command_string(&self, ssh: &Path) -> Result<String, RemoteError> {
        let mut parts = vec![
            locate(ssh).display().to_string(),
            "-F".into(),
            "/dev/null".into(),
        ];
        parts.extend(
            self.ssh_options()
                .iter()
                .map(|s| s.to_string_lossy().into_owned()),
        );
        for p in &parts {
            if p.contains(['\'', '"', '\\']) {
                return Err(RemoteError::Setup(format!(
                    "{p:?}: quotes and backslashes cannot pass through rsync's -e"
                )));
            }
        }
        Ok(parts
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// `rsync -a -s -e SSH [--exclude=P]... SRC/ ADDR:DEST/` (contents of SRC into DEST).
    pub fn rsync_args(
        &self,
        ssh: &Path,
        src: &Path,
        dest: &str,
        exclude: &[String],
    ) -> Result<Vec<OsString>, RemoteError> {
        let mut a: Vec<OsString> = vec![
            "-a".into(),
            // Protect args: the remote path is not split by the guest's shell.
            "-s".into(),
            "-e".into(),
            self.ssh_command_string(ssh)?.into(),
        ];
        for e in exclude {
            a.push(format!("--exclude={e}").into());
        }
        let mut s: OsString = src.as_os_str().to_owned();
        s.push("/");
        a.push(s);
        let host = match self.addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        a.push(format!("{host}:{}/", dest.trim_end_matches('/')).into());
        Ok(a)
    }
}

/// The guest command line for a shell provisioner: always this, whatever the provisioner's
/// arguments and environment, which travel on stdin (see [`shell_stdin`]) and so never show on
/// a command line (`ps` on the host or in the guest).
pub const SHELL_REMOTE: &str = "sh -s";

/// What `sh -s` reads: `set --` with the arguments and an `export` per variable (each value
/// quoted), then the script.
pub fn shell_stdin(
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    script: &[u8],
) -> Vec<u8> {
    let mut head = String::from("set --");
    for a in args {
        head.push(' ');
        head.push_str(&sh_quote(a));
    }
    head.push('\n');
    for (k, v) in env {
        head.push_str(&format!("export {k}={}\n", sh_quote(v)));
    }
    let mut all = head.into_bytes();
    all.extend_from_slice(script);
    all
}

/// The guest command line for `ansible_local`: install Ansible when missing, the collections,
/// then run the playbook locally with the extra vars file.
pub fn ansible_local_remote(playbook: &str, vars_file: &str, collections: &[String]) -> String {
    let mut cmd = String::from(
        "command -v ansible-playbook >/dev/null 2>&1 || { \
         if command -v apt-get >/dev/null 2>&1; then \
         DEBIAN_FRONTEND=noninteractive apt-get install -y ansible-core || apt-get install -y ansible; \
         elif command -v pkg >/dev/null 2>&1; then pkg install -y ansible || pkg install ansible; \
         else python3 -m pip install ansible-core; fi; }",
    );
    for c in collections {
        cmd.push_str(" && ansible-galaxy collection install ");
        cmd.push_str(&sh_quote(c));
    }
    cmd.push_str(" && ansible-playbook -i localhost, -c local -e @");
    cmd.push_str(&sh_quote(vars_file));
    cmd.push(' ');
    cmd.push_str(&sh_quote(playbook));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            addr: "10.190.190.10".parse().unwrap(),
            port: 2222,
            user: "root".into(),
            key: "/var/lib/zw/ssh/provision_key".into(),
            known_hosts: "/var/lib/zw/provisioning/known_hosts/web01@52c9e1a4-6b4e".into(),
            alias: Target::host_key_alias("10.190.190.10".parse().unwrap(), 2222),
            connect_timeout_secs: 10,
        }
    }

    #[test]
    fn ssh_takes_the_remote_command_as_one_argument_after_the_options() {
        let a = target().ssh_args("uname -a");
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(&a[a.len() - 3..], ["10.190.190.10", "--", "uname -a"]);
        assert!(a.contains(&"StrictHostKeyChecking=accept-new".to_owned()));
        assert!(a.contains(&"Port=2222".to_owned()));
        assert!(a.contains(&"BatchMode=yes".to_owned()));
    }

    #[test]
    fn host_keys_are_pinned_per_zone_instance_and_address() {
        let dir = Path::new("/d");
        let a = known_hosts_file(dir, "web01", Some("52c9e1a4-6b4e")).unwrap();
        assert_eq!(a, Path::new("/d/web01@52c9e1a4-6b4e"));
        // Another zone, or the same name re-created (a new uuid), never shares the file.
        assert_ne!(
            a,
            known_hosts_file(dir, "web02", Some("52c9e1a4-6b4e")).unwrap()
        );
        assert_ne!(
            a,
            known_hosts_file(dir, "web01", Some("0f8d6a3e-8a1f")).unwrap()
        );
        assert!(known_hosts_file(dir, "web01", Some("../x")).is_err());
        let o: Vec<String> = target()
            .ssh_options()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert!(
            o.contains(&"HostKeyAlias=[10.190.190.10]:2222".to_owned()),
            "{o:?}"
        );
        assert!(o.contains(
            &"UserKnownHostsFile=/var/lib/zw/provisioning/known_hosts/web01@52c9e1a4-6b4e"
                .to_owned()
        ));
        assert!(o.contains(&"GlobalKnownHostsFile=/dev/null".to_owned()));
        assert!(host_key_changed("@@@\nHost key verification failed.\r\n"));
        assert!(!host_key_changed("Connection refused"));
    }

    #[test]
    fn rsync_copies_contents_into_dest_with_protected_args() {
        let a = target()
            .rsync_args(
                Path::new("/usr/bin/ssh"),
                Path::new("/rpool/zones/web01/provisioning"),
                "/vagrant",
                &["*.tmp".into()],
            )
            .unwrap();
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(a[0..3], ["-a", "-s", "-e"]);
        assert!(a[3].starts_with("'/usr/bin/ssh' '-F' '/dev/null' '-o' 'BatchMode=yes'"));
        assert_eq!(
            a[4..],
            [
                "--exclude=*.tmp",
                "/rpool/zones/web01/provisioning/",
                "10.190.190.10:/vagrant/"
            ]
        );
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    /// Proc's wiring of the shared supervisor, on real processes (`/bin/sh -c`): output is
    /// masked in the log and in what is kept, whatever a program leaves in its group goes with
    /// it, and a timeout is reported with the program's name.
    #[tokio::test]
    async fn a_program_is_masked_and_its_leftovers_and_overruns_are_killed() {
        let home = std::env::temp_dir().join(format!("zw-remote-{}", std::process::id()));
        private_dir(&home).unwrap();
        let pidfile = home.join("job.pid");
        let cancel = CancellationToken::new();
        let lines = std::sync::Mutex::new(Vec::new());
        let note = |l: &str| lines.lock().unwrap().push(l.to_owned());
        let secrets = ["hunter22".to_owned()];
        let proc = Proc {
            cancel: &cancel,
            note: &note,
            secrets: &secrets,
            kill_grace: Duration::from_millis(200),
            home: &home,
            confined: None,
        };
        let script = format!(
            "sleep 600 >/dev/null 2>&1 & echo $! > {}; echo token hunter22; echo oops >&2; exit 4",
            pidfile.display()
        );
        let f = proc
            .run(
                Path::new("/bin/sh"),
                &["-c".into(), script.into()],
                &[],
                None,
                Duration::from_secs(60),
                false,
            )
            .await
            .unwrap();
        assert_eq!(f.code, Some(4));
        assert_eq!(f.stdout, "token ********\n");
        assert_eq!(f.stderr, "oops\n");
        assert!(lines.lock().unwrap().contains(&"token ********".to_owned()));
        let job: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while alive(job) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(job), "the program's background job outlived it");

        let err = proc
            .run(
                Path::new("/bin/sh"),
                &["-c".into(), "sleep 600".into()],
                &[],
                None,
                Duration::from_millis(200),
                false,
            )
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "sh did not finish within 0 s and was killed"
        );
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn a_confined_group_is_signalled_by_kill_as_its_account() {
        assert_eq!(
            confined_kill_args(4242, Signal::Term),
            ["/usr/bin/kill", "-s", "TERM", "--", "-4242"]
        );
        assert_eq!(confined_kill_args(7, Signal::Kill)[2], "KILL");
    }

    #[test]
    fn a_quote_cannot_sneak_into_rsyncs_ssh_string() {
        let mut t = target();
        t.key = "/tmp/it's".into();
        assert!(t.ssh_command_string(Path::new("/usr/bin/ssh")).is_err());
    }

    #[test]
    fn guest_command_lines_quote_every_value() {
        let env =
            std::collections::BTreeMap::from([("GREETING".to_owned(), "it's $HOME".to_owned())]);
        assert_eq!(
            String::from_utf8(shell_stdin(
                &["a b".into(), "$(id)".into()],
                &env,
                b"echo hi\n"
            ))
            .unwrap(),
            "set -- 'a b' '$(id)'\nexport GREETING='it'\\''s $HOME'\necho hi\n"
        );
        let l = ansible_local_remote("/vagrant/p.yml", "/tmp/v.json", &["a.b".into()]);
        assert!(l.ends_with("ansible-galaxy collection install 'a.b' && ansible-playbook -i localhost, -c local -e @'/tmp/v.json' '/vagrant/p.yml'"), "{l}");
    }
}
