//! Config files the agent rewrites (`ipnat.conf`, `dhcpd.conf`), changed atomically: the
//! previous version is kept as `FILE.zw-backup` (and the replacement journalled, see
//! `journal::stage_file`); the new text goes to a temp file, fsynced, and is validated by the
//! caller; then it replaces the target by a rename and the directory is fsynced. A reader sees
//! the old file or the new one, never half of either, and a crash at any point leaves one of
//! the two (and an undo removes the temp file).
//!
//! Two ways to do it, chosen per file by whether the agent may write the target's directory:
//! - **direct** (the agent runs as root, or owns the directory): the temp file is written
//!   beside the target (so the rename never crosses a file system) and renamed by the agent;
//! - **through the helper** (the packaged agent, user `zoneweaver`, facing root's `/etc`): the
//!   new text is staged in the agent's scratch directory, where the check reads it, and
//!   `zoneweaver-install` (granted `euid=0` by the profile, limited to an allow-list) keeps the
//!   backup, installs the staged text atomically beside the target, restores or removes.

use std::io::Write;
use std::path::{Path, PathBuf};

use illumos::install::Target;
use illumos::ipnat::ConfPath;
use illumos::Runner;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::tasks::OpError;

/// A host file, by its illumos path (what tools are given) and where the agent reaches it.
#[derive(Debug, Clone)]
pub struct ConfFile {
    pub illumos: ConfPath,
    pub local: PathBuf,
    /// Where a new version is staged when the helper installs it: the agent's scratch
    /// directory, by its illumos path and its local one.
    scratch: (String, PathBuf),
    via_helper: bool,
}

/// A config file's parsed content together with the file it was read from, so that an
/// operation that reads, edits and writes it back resolves the file's path (a `svcprop`) once.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub file: ConfFile,
    pub conf: T,
}

impl<T> std::ops::Deref for Loaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.conf
    }
}

impl<T> std::ops::DerefMut for Loaded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.conf
    }
}

/// Journal entry written before a config file is replaced: undo puts the previous version back
/// (or removes the file if there was none).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Replaced {
    #[serde(with = "super::serde_text")]
    pub path: ConfPath,
    pub existed: bool,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A direct write that failed, naming the user it was attempted as.
fn io_err(what: &str, p: &Path, e: std::io::Error) -> OpError {
    OpError::failed(format!(
        "cannot {what} {} as {}: {e}",
        p.display(),
        illumos::runner::agent_user()
    ))
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Whether the agent may create and rename files in `dir`. A directory that does not exist
/// yet is the direct path's to create (an emulated or fresh host).
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access(2) reads nothing else of ours. The agent's real
    // and effective ids are the same, so access answers for the effective user.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().kind() == std::io::ErrorKind::NotFound
}

impl ConfFile {
    pub fn new(config: &Config, illumos: &ConfPath) -> ConfFile {
        let local = config.host_file(&illumos.to_string());
        let scratch_illumos = config.host.scratch_dir.to_string_lossy().into_owned();
        let via_helper = !local.parent().is_none_or(writable);
        ConfFile {
            scratch: (scratch_illumos.clone(), config.host_file(&scratch_illumos)),
            illumos: illumos.clone(),
            local,
            via_helper,
        }
    }

    /// Forces the way the file is replaced (see the module doc); `new` picks it from the
    /// directory's permissions. For tests of the helper path run as root, who may write anywhere.
    pub fn with_helper(mut self, via_helper: bool) -> ConfFile {
        self.via_helper = via_helper;
        self
    }

    pub fn via_helper(&self) -> bool {
        self.via_helper
    }

    fn target(&self) -> Target {
        Target::from(&self.illumos)
    }

    /// The file's text; `None` when it does not exist.
    pub fn read(&self) -> Result<Option<String>, OpError> {
        match std::fs::read_to_string(&self.local) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &self.local, e)),
        }
    }

    /// The temp file a new version is written to: beside the target, or in the scratch
    /// directory when the helper installs it (named after the whole path, so two targets with
    /// one base name never share it).
    pub fn temp(&self) -> Result<ConfFile, OpError> {
        let (illumos, local) = if self.via_helper {
            let name = format!(
                "{}.zw-new",
                self.illumos
                    .to_string()
                    .trim_start_matches('/')
                    .replace('/', "_")
            );
            (
                format!("{}/{name}", self.scratch.0.trim_end_matches('/')),
                self.scratch.1.join(name),
            )
        } else {
            (
                format!("{}.zw-new", self.illumos),
                with_suffix(&self.local, ".zw-new"),
            )
        };
        Ok(ConfFile {
            illumos: illumos
                .parse()
                .map_err(|e| OpError::failed(format!("host.scratch_dir: {e}")))?,
            local,
            scratch: self.scratch.clone(),
            via_helper: self.via_helper,
        })
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.local, ".zw-backup")
    }

    /// Writes `text` to [`ConfFile::temp`], fsynced, and returns it for validation.
    pub fn write_temp(&self, text: &str) -> Result<ConfFile, OpError> {
        let temp = self.temp()?;
        if let Some(dir) = temp.local.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
        }
        let mut f = fresh_file(&temp.local)?;
        // The new version keeps the owner and mode of the one it replaces.
        keep_mode(&f, &self.local, &temp.local)?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err("write", &temp.local, e))?;
        Ok(temp)
    }

    pub fn discard_temp(&self) {
        if let Ok(t) = self.temp() {
            let _ = std::fs::remove_file(t.local);
        }
    }

    /// Keeps the current version as the backup (fsynced) and says whether there was one.
    pub async fn keep_backup(&self, run: &Runner) -> Result<Replaced, OpError> {
        let existed = if self.via_helper {
            illumos::install::backup(run, &self.target()).await?
        } else {
            self.keep_backup_direct()?
        };
        Ok(Replaced {
            path: self.illumos.clone(),
            existed,
        })
    }

    fn keep_backup_direct(&self) -> Result<bool, OpError> {
        match std::fs::read(&self.local) {
            Ok(bytes) => {
                let b = self.backup_path();
                let mut f = fresh_file(&b)?;
                keep_mode(&f, &self.local, &b)?;
                f.write_all(&bytes)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io_err("write", &b, e))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("read", &self.local, e)),
        }
    }

    /// Puts the temp file in place of the target: a rename and a directory fsync, or the
    /// helper's `install` of the staged text (then the staged copy is removed).
    pub async fn commit_temp(&self, run: &Runner) -> Result<(), OpError> {
        let temp = self.temp()?;
        if self.via_helper {
            let text = std::fs::read(&temp.local).map_err(|e| io_err("read", &temp.local, e))?;
            illumos::install::install(run, &self.target(), &text).await?;
            self.discard_temp();
            return Ok(());
        }
        std::fs::rename(&temp.local, &self.local).map_err(|e| io_err("replace", &self.local, e))?;
        if let Some(dir) = self.local.parent() {
            fsync_dir(dir).map_err(|e| io_err("sync", dir, e))?;
        }
        Ok(())
    }

    /// Puts back what [`ConfFile::keep_backup`] recorded and removes a temp file left by an
    /// interrupted write. Safe to run twice.
    pub async fn restore(&self, run: &Runner, replaced: &Replaced) -> Result<(), OpError> {
        self.discard_temp();
        if self.via_helper {
            let target = self.target();
            let r = if replaced.existed {
                illumos::install::restore(run, &target).await
            } else {
                illumos::install::remove(run, &target).await
            };
            return Ok(r?);
        }
        if replaced.existed {
            let bytes = std::fs::read(self.backup_path())
                .map_err(|e| io_err("read", &self.backup_path(), e))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            self.write_temp(&text)?;
            self.commit_temp(run).await
        } else {
            match std::fs::remove_file(&self.local) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err("remove", &self.local, e)),
            }
        }
    }
}

/// Creates `path` anew, exclusively and readable by the agent alone until [`keep_mode`] sets
/// its mode: a copy left before (a backup kept read-only, like its file) is removed first, as
/// its mode could refuse the write.
fn fresh_file(path: &Path) -> Result<std::fs::File, OpError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("replace", path, e)),
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("write", path, e))
}

/// Gives `f` (at `path`) the permission bits of `like` less write access for others, and its
/// owner and group when the agent runs as root; 0644 when there is no `like`. The helper does
/// the same for root's files (a dhcpd.conf that holds a TSIG key stays readable by its owner
/// alone).
fn keep_mode(f: &std::fs::File, like: &Path, path: &Path) -> Result<(), OpError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = match std::fs::metadata(like) {
        Ok(m) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } == 0 {
                std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid()))
                    .map_err(|e| io_err("write", path, e))?;
            }
            m.mode() & 0o775
        }
        Err(_) => 0o644,
    };
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> Runner {
        Runner::new(illumos::RunnerConfig::default())
    }

    fn file(dir: &Path) -> ConfFile {
        let mut c = Config::default();
        c.host.root = dir.to_path_buf();
        ConfFile::new(&c, &"/etc/x.conf".parse().unwrap())
    }

    #[tokio::test]
    async fn replace_then_restore_gives_back_the_old_bytes() {
        let dir = std::env::temp_dir().join(format!("zw-conffile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
        std::fs::write(&f.local, "old\n").unwrap();
        let t = f.write_temp("new\n").unwrap();
        assert_eq!(t.illumos.to_string(), "/etc/x.conf.zw-new");
        let r = f.keep_backup(&runner()).await.unwrap();
        assert!(r.existed);
        f.commit_temp(&runner()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "new\n");
        assert!(!t.local.exists());
        f.restore(&runner(), &r).await.unwrap();
        f.restore(&runner(), &r).await.unwrap();
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "old\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_replaced_file_and_its_backup_keep_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("zw-conffile5-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
        std::fs::write(&f.local, "key secret\n").unwrap();
        std::fs::set_permissions(&f.local, std::fs::Permissions::from_mode(0o640)).unwrap();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::os::unix::fs::chown(&f.local, Some(7), Some(4)).unwrap();
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let owner = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(p).unwrap();
            (m.uid(), m.gid())
        };
        let before = owner(&f.local);
        f.write_temp("new\n").unwrap();
        f.keep_backup(&runner()).await.unwrap();
        f.commit_temp(&runner()).await.unwrap();
        assert_eq!(mode(&f.local), 0o640);
        assert_eq!(mode(&f.backup_path()), 0o640);
        assert_eq!(owner(&f.local), before);
        assert_eq!(owner(&f.backup_path()), before);
        // A file that did not exist is made 0644.
        std::fs::remove_file(&f.local).unwrap();
        f.write_temp("fresh\n").unwrap();
        f.commit_temp(&runner()).await.unwrap();
        assert_eq!(mode(&f.local), 0o644);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn restoring_a_file_that_did_not_exist_removes_it() {
        let dir = std::env::temp_dir().join(format!("zw-conffile2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        f.write_temp("new\n").unwrap();
        let r = f.keep_backup(&runner()).await.unwrap();
        assert!(!r.existed);
        f.commit_temp(&runner()).await.unwrap();
        f.restore(&runner(), &r).await.unwrap();
        assert!(!f.local.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn restoring_after_an_interrupted_write_removes_the_temp_file() {
        let dir = std::env::temp_dir().join(format!("zw-conffile3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
        std::fs::write(&f.local, "old\n").unwrap();
        let r = f.keep_backup(&runner()).await.unwrap();
        let t = f.write_temp("new\n").unwrap();
        // The agent stops here (crash, failed check); the undo restores.
        f.restore(&runner(), &r).await.unwrap();
        assert!(!t.local.exists());
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "old\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The packaged agent cannot write `/etc/ipf`: the new text is staged in its scratch
    /// directory (which the checking tool can read), never beside the target.
    #[test]
    fn through_the_helper_the_new_text_is_staged_in_the_scratch_directory() {
        let dir = std::env::temp_dir().join(format!("zw-conffile4-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        assert!(
            !f.via_helper(),
            "root (or a fresh directory) writes directly"
        );
        let f = f.with_helper(true);
        let t = f.write_temp("new\n").unwrap();
        assert_eq!(
            t.illumos.to_string(),
            "/var/lib/zoneweaver-agent/tmp/etc_x.conf.zw-new"
        );
        assert_eq!(
            t.local,
            dir.join("var/lib/zoneweaver-agent/tmp/etc_x.conf.zw-new")
        );
        assert_eq!(std::fs::read_to_string(&t.local).unwrap(), "new\n");
        assert!(!f.local.exists() && !with_suffix(&f.local, ".zw-new").exists());
        f.discard_temp();
        assert!(!t.local.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
