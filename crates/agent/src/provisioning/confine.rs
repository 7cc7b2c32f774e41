//! The `ansible` provisioner's controller runs confined.
//!
//! A playbook can run anything on its controller (`delegate_to: localhost`,
//! `lookup('pipe', ...)`, a module in `library/`, `connection: local` in its own vars), so
//! `ansible-playbook` and `ansible-galaxy` never run as the agent: they run as an account of
//! their own (`provisioning.ansible.run_as`) that holds no RBAC profile and cannot read the data
//! directory, in a per-run directory outside it that holds only copies of what the run needs.
//!
//! How the account is taken:
//! - the agent's euid is 0 (the Linux tests, a root service): the child drops to the account
//!   itself before exec (`setgroups` to the account's own groups, `setgid`, `setuid`);
//! - otherwise (the packaged agent, unprivileged on illumos): through `pfexec`, whose
//!   `exec_attr` entries for ansible-playbook and ansible-galaxy carry `uid=`/`gid=` of the
//!   account (packaging/omnios/exec_attr.d).
//!
//! Hand-over: the run directory is group-owned by the account's primary group with mode 2770
//! (setgid, so whatever either side makes in it stays in that group); the agent's files in it
//! are 0640 or 0660. Root may chgrp to any group; the packaged agent's user is a member of the
//! account's group (the package says so), which is what lets it chgrp there.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The account the controller runs as.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// The account's groups (its primary group first), for `setgroups`.
    pub groups: Vec<libc::gid_t>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("provisioning.ansible.run_as: the account {0:?} does not exist on this host; create it (the package does: zoneweaver-ansible) — Ansible never runs as the agent itself")]
    NoAccount(String),
    #[error("provisioning.ansible.run_as: {0:?} is root or the agent's own account; Ansible must run as an unprivileged account of its own")]
    Privileged(String),
    #[error("provisioning.ansible.run_dir: {path}: {source}")]
    RunDir {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl Account {
    /// Looks the account up; refuses root and the agent's own account.
    pub fn lookup(name: &str) -> Result<Account, ConfineError> {
        let c = CString::new(name).map_err(|_| ConfineError::NoAccount(name.to_owned()))?;
        // SAFETY: getpwnam_r writes into the buffers we hand it; the result points into them.
        let (uid, gid) = unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut buf = vec![0 as libc::c_char; 16 * 1024];
            let mut out: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut out);
            if rc != 0 || out.is_null() {
                return Err(ConfineError::NoAccount(name.to_owned()));
            }
            ((*out).pw_uid, (*out).pw_gid)
        };
        // SAFETY: geteuid has no preconditions.
        if uid == 0 || uid == unsafe { libc::geteuid() } {
            return Err(ConfineError::Privileged(name.to_owned()));
        }
        Ok(Account {
            name: name.to_owned(),
            uid,
            gid,
            groups: group_list(&c, gid),
        })
    }
}

/// The account's groups as the group database lists them; at least its primary group.
fn group_list(name: &CStr, gid: libc::gid_t) -> Vec<libc::gid_t> {
    let mut n: libc::c_int = 64;
    for _ in 0..4 {
        let mut groups = vec![0 as libc::gid_t; n as usize];
        let mut got = n;
        // SAFETY: `groups` holds `got` entries; getgrouplist writes at most that many.
        // The gid parameter's type differs between platforms (gid_t, int): cast.
        let rc = unsafe {
            libc::getgrouplist(name.as_ptr(), gid as _, groups.as_mut_ptr() as _, &mut got)
        };
        if rc >= 0 {
            groups.truncate(got.max(0) as usize);
            if !groups.contains(&gid) {
                groups.insert(0, gid);
            }
            return groups;
        }
        n = got.max(n * 2);
    }
    vec![gid]
}

/// How the controller's programs are started as the account.
#[derive(Debug, Clone)]
pub enum Launch {
    /// The agent is root: the child drops to the account before exec.
    Drop(Account),
    /// The agent is not root: `pfexec PROGRAM ARGS`, the exec_attr entry switches the account.
    Pfexec { pfexec: PathBuf, account: Account },
}

impl Launch {
    /// `pfexec`: the configured one (`host.pfexec`), else `/usr/bin/pfexec`.
    pub fn new(account: Account, pfexec: Option<&Path>) -> Launch {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            Launch::Drop(account)
        } else {
            Launch::Pfexec {
                pfexec: pfexec.unwrap_or(Path::new("/usr/bin/pfexec")).to_path_buf(),
                account,
            }
        }
    }

    pub fn account(&self) -> &Account {
        match self {
            Launch::Drop(a) | Launch::Pfexec { account: a, .. } => a,
        }
    }

    /// The program and arguments to spawn for `program args`.
    pub fn argv(&self, program: &Path, args: &[OsString]) -> (PathBuf, Vec<OsString>) {
        match self {
            Launch::Drop(_) => (program.to_path_buf(), args.to_vec()),
            Launch::Pfexec { pfexec, .. } => {
                let mut a = vec![program.as_os_str().to_owned()];
                a.extend(args.iter().cloned());
                (pfexec.clone(), a)
            }
        }
    }

    /// Makes the child take the account (root only; pfexec does it otherwise).
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        let Launch::Drop(a) = self else { return };
        let (uid, gid, groups) = (a.uid, a.gid, a.groups.clone());
        // SAFETY: between fork and exec only async-signal-safe system calls run, on data
        // prepared before the fork. std's own uid/gid would keep no groups of the account,
        // and run after any pre_exec, so all three are done here, groups first.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// A run's private directory under `provisioning.ansible.run_dir`, shared with the account
/// through its group; removed on drop.
pub struct RunDir {
    path: PathBuf,
    gid: libc::gid_t,
    /// pfexec, when the agent is not root: what the account made (its 0700 temporary
    /// directories) is removed by `rm` run as the account (`CONFINED_RM`).
    pfexec: Option<PathBuf>,
}

/// `rm`, run as the confined account through pfexec to clear its files from a run directory
/// (the exec_attr entry carries the account's uid, as for `kill`: nothing the account could
/// not do itself).
pub const CONFINED_RM: &str = "/usr/bin/rm";

impl RunDir {
    /// `BASE/NAME`, made afresh (mode 2770, group: the account's). BASE is made 0711 when
    /// missing: others may pass through it to their own run, not list the runs.
    pub fn create(base: &Path, name: &str, account: &Account) -> Result<RunDir, ConfineError> {
        let err = |path: &Path, source| ConfineError::RunDir {
            path: path.display().to_string(),
            source,
        };
        if !base.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(base)
                .map_err(|e| err(base, e))?;
        }
        let path = base.join(name);
        let _ = std::fs::remove_dir_all(&path);
        let dir = RunDir {
            path,
            gid: account.gid,
            pfexec: None,
        };
        dir.mkdir(Path::new("")).map_err(|e| err(&dir.path, e))?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn share(&self, path: &Path, mode: u32) -> io::Result<()> {
        std::os::unix::fs::chown(path, None, Some(self.gid))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    /// A directory the account may write in (2770).
    pub fn mkdir(&self, rel: &Path) -> io::Result<PathBuf> {
        let p = self.path.join(rel);
        std::fs::DirBuilder::new().mode(0o700).create(&p)?;
        self.share(&p, 0o2770)?;
        Ok(p)
    }

    /// A file the account may read (0640), or also write (`writable`: 0660).
    pub fn write(&self, rel: &str, bytes: &[u8], writable: bool) -> io::Result<PathBuf> {
        use std::io::Write;
        let p = self.path.join(rel);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)?;
        self.share(&p, if writable { 0o660 } else { 0o640 })?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(p)
    }

    /// Copies the tree at `src` to `rel`: directories and regular files (mode 0640, 0750 if
    /// executable), symbolic links as links, never followed (their targets are read, if at all,
    /// with the account's own rights). Anything else is skipped.
    pub fn copy_tree(&self, src: &Path, rel: &Path) -> io::Result<()> {
        self.mkdir(rel)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            let from = entry.path();
            let to_rel = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&from)?;
            let ft = meta.file_type();
            if ft.is_dir() {
                self.copy_tree(&from, &to_rel)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&from)?;
                let to = self.path.join(&to_rel);
                std::os::unix::fs::symlink(target, &to)?;
                std::os::unix::fs::lchown(&to, None, Some(self.gid))?;
            } else if ft.is_file() {
                let to = self.path.join(&to_rel);
                std::fs::copy(&from, &to)?;
                let exec = meta.permissions().mode() & 0o111 != 0;
                self.share(&to, if exec { 0o750 } else { 0o640 })?;
            }
        }
        Ok(())
    }
}

impl RunDir {
    /// Clears the account's files through `pfexec rm` when the agent cannot (not root).
    pub fn removed_through(mut self, launch: &Launch) -> RunDir {
        if let Launch::Pfexec { pfexec, .. } = launch {
            self.pfexec = Some(pfexec.clone());
        }
        self
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.path).is_ok() || !self.path.exists() {
            return;
        }
        // What is left is the account's own (its 0700 temporary directories), out of an
        // unprivileged agent's reach: `rm` as the account empties what it can (all of it but
        // the run directory itself, which sits in the agent's base), then the agent finishes.
        if let Some(pfexec) = &self.pfexec {
            let _ = std::process::Command::new(pfexec)
                .args([CONFINED_RM, "-rf", "--"])
                .arg(&self.path)
                .env_clear()
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The `ansible.cfg` the agent writes for a run (`ANSIBLE_CONFIG` points at it, so a config
/// the artifact carries is never read): plugin and module paths name only an empty directory
/// of the run, collections only the run's own folder (what ansible-galaxy installed from the
/// allow-list), temporary files stay in the run directory.
///
/// A `library/` (or `*_plugins/`) folder beside the playbook is still loaded by Ansible: it is
/// copied with the playbook and accepted. The playbook can run anything on the controller
/// anyway; what keeps that harmless is the account, not the paths.
///
/// `ssh_options`: the agent's options for reaching the guest, as one string of quoted tokens
/// (given here rather than as `--ssh-common-args`, which ansible-core 2.14's command line
/// passes on to ssh as a single argument).
pub fn ansible_cfg(run: &Path, ssh_options: &str) -> String {
    let empty = run.join("empty");
    let e = empty.display();
    let mut cfg = String::from("[defaults]\n");
    for key in [
        "library",
        "module_utils",
        "action_plugins",
        "become_plugins",
        "cache_plugins",
        "callback_plugins",
        "cliconf_plugins",
        "connection_plugins",
        "doc_fragment_plugins",
        "filter_plugins",
        "httpapi_plugins",
        "inventory_plugins",
        "lookup_plugins",
        "netconf_plugins",
        "strategy_plugins",
        "terminal_plugins",
        "test_plugins",
        "vars_plugins",
        "roles_path",
    ] {
        cfg.push_str(&format!("{key} = {e}\n"));
    }
    cfg.push_str(&format!(
        "collections_path = {c}\ncollections_scan_sys_path = False\nlocal_tmp = {t}\n\
         retry_files_enabled = False\nnocolor = True\nhost_key_checking = True\n\
         interpreter_python = auto_silent\n\
         [ssh_connection]\n\
         # No ControlMaster: its socket path under the run directory can exceed the Unix\n\
         # socket limit, and a persisting master would outlive the stage. No ssh_config\n\
         # from the account's home either.\n\
         ssh_args = -F /dev/null -o ControlMaster=no {ssh_options}\n",
        c = run.join("collections").display(),
        t = run.join("tmp").display(),
    ));
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            name: "zoneweaver-ansible".into(),
            uid: 901,
            gid: 901,
            groups: vec![901],
        }
    }

    #[test]
    fn a_missing_account_is_named_and_never_replaced_by_the_agent() {
        let e = Account::lookup("zw-no-such-account-x").unwrap_err();
        assert!(
            e.to_string()
                .contains("\"zw-no-such-account-x\" does not exist"),
            "{e}"
        );
        assert!(matches!(
            Account::lookup("root"),
            Err(ConfineError::Privileged(_))
        ));
    }

    #[test]
    fn unprivileged_agents_go_through_pfexec_with_the_program_as_first_argument() {
        let l = Launch::Pfexec {
            pfexec: "/usr/bin/pfexec".into(),
            account: account(),
        };
        let (p, a) = l.argv(Path::new("/opt/ooce/bin/ansible-playbook"), &["-i".into()]);
        assert_eq!(p, Path::new("/usr/bin/pfexec"));
        assert_eq!(a, ["/opt/ooce/bin/ansible-playbook", "-i"]);
        let (p, a) = Launch::Drop(account()).argv(Path::new("/usr/bin/ansible-playbook"), &[]);
        assert_eq!(
            (p.as_path(), a.len()),
            (Path::new("/usr/bin/ansible-playbook"), 0)
        );
    }

    #[test]
    fn the_written_config_names_only_the_runs_own_places() {
        let cfg = ansible_cfg(Path::new("/var/tmp/zw/run1"), "'-o' 'BatchMode=yes'");
        for line in cfg.lines().filter(|l| l.contains(" = /")) {
            assert!(line.contains("= /var/tmp/zw/run1/"), "{line}");
        }
        assert!(cfg.contains("library = /var/tmp/zw/run1/empty\n"));
        assert!(cfg.contains("collections_path = /var/tmp/zw/run1/collections\n"));
        assert!(cfg.ends_with("ssh_args = -F /dev/null -o ControlMaster=no '-o' 'BatchMode=yes'\n"));
    }
}
