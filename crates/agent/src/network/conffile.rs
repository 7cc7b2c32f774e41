//! Config files the agent rewrites (`ipnat.conf`, `dhcpd.conf`), changed atomically: the
//! previous version is kept as `FILE.zw-backup` (and the replacement journalled, see
//! `journal::stage_file`); the new text goes to a temp file beside the target (so the rename
//! never crosses a file system), fsynced, and is validated by the caller; then the temp file is
//! renamed over the target and the directory fsynced. A reader sees the old file or the new one,
//! never half of either, and a crash at any point leaves one of the two (and an undo removes
//! the temp file).

use std::io::Write;
use std::path::{Path, PathBuf};

use illumos::ipnat::ConfPath;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::tasks::OpError;

/// A host file, by its illumos path (what tools are given) and where the agent reaches it.
#[derive(Debug, Clone)]
pub struct ConfFile {
    pub illumos: ConfPath,
    pub local: PathBuf,
}

/// Journal entry written before a config file is replaced: undo puts the previous version back
/// (or removes the file if there was none).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Replaced {
    pub path: String,
    pub existed: bool,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> OpError {
    OpError::failed(format!("cannot {what} {}: {e}", p.display()))
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl ConfFile {
    pub fn new(config: &Config, illumos: &ConfPath) -> ConfFile {
        ConfFile {
            local: config.host_file(&illumos.to_string()),
            illumos: illumos.clone(),
        }
    }

    /// The file's text; `None` when it does not exist.
    pub fn read(&self) -> Result<Option<String>, OpError> {
        match std::fs::read_to_string(&self.local) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &self.local, e)),
        }
    }

    /// The temp file a new version is written to, beside the target.
    pub fn temp(&self) -> ConfFile {
        ConfFile {
            illumos: format!("{}.zw-new", self.illumos)
                .parse()
                .expect("a valid path with a plain suffix is valid"),
            local: with_suffix(&self.local, ".zw-new"),
        }
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.local, ".zw-backup")
    }

    /// Writes `text` to [`ConfFile::temp`], fsynced, and returns it for validation.
    pub fn write_temp(&self, text: &str) -> Result<ConfFile, OpError> {
        let temp = self.temp();
        if let Some(dir) = temp.local.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
        }
        let mut f =
            std::fs::File::create(&temp.local).map_err(|e| io_err("write", &temp.local, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err("write", &temp.local, e))?;
        Ok(temp)
    }

    pub fn discard_temp(&self) {
        let _ = std::fs::remove_file(self.temp().local);
    }

    /// Keeps the current version as the backup (fsynced) and says whether there was one.
    pub fn keep_backup(&self) -> Result<Replaced, OpError> {
        let existed = match std::fs::read(&self.local) {
            Ok(bytes) => {
                let b = self.backup_path();
                let mut f = std::fs::File::create(&b).map_err(|e| io_err("write", &b, e))?;
                f.write_all(&bytes)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io_err("write", &b, e))?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("read", &self.local, e)),
        };
        Ok(Replaced {
            path: self.illumos.to_string(),
            existed,
        })
    }

    /// Renames the temp file over the target and fsyncs the directory.
    pub fn commit_temp(&self) -> Result<(), OpError> {
        let temp = self.temp();
        std::fs::rename(&temp.local, &self.local).map_err(|e| io_err("replace", &self.local, e))?;
        if let Some(dir) = self.local.parent() {
            fsync_dir(dir).map_err(|e| io_err("sync", dir, e))?;
        }
        Ok(())
    }

    /// Puts back what [`ConfFile::keep_backup`] recorded and removes a temp file left by an
    /// interrupted write. Safe to run twice.
    pub fn restore(&self, replaced: &Replaced) -> Result<(), OpError> {
        self.discard_temp();
        if replaced.existed {
            let bytes = std::fs::read(self.backup_path())
                .map_err(|e| io_err("read", &self.backup_path(), e))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            self.write_temp(&text)?;
            self.commit_temp()
        } else {
            match std::fs::remove_file(&self.local) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err("remove", &self.local, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path) -> ConfFile {
        let mut c = Config::default();
        c.host.root = dir.to_path_buf();
        ConfFile::new(&c, &"/etc/x.conf".parse().unwrap())
    }

    #[test]
    fn replace_then_restore_gives_back_the_old_bytes() {
        let dir = std::env::temp_dir().join(format!("zw-conffile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
        std::fs::write(&f.local, "old\n").unwrap();
        let t = f.write_temp("new\n").unwrap();
        assert_eq!(t.illumos.to_string(), "/etc/x.conf.zw-new");
        let r = f.keep_backup().unwrap();
        assert!(r.existed);
        f.commit_temp().unwrap();
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "new\n");
        assert!(!t.local.exists());
        f.restore(&r).unwrap();
        f.restore(&r).unwrap();
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "old\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn restoring_a_file_that_did_not_exist_removes_it() {
        let dir = std::env::temp_dir().join(format!("zw-conffile2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        f.write_temp("new\n").unwrap();
        let r = f.keep_backup().unwrap();
        assert!(!r.existed);
        f.commit_temp().unwrap();
        f.restore(&r).unwrap();
        assert!(!f.local.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn restoring_after_an_interrupted_write_removes_the_temp_file() {
        let dir = std::env::temp_dir().join(format!("zw-conffile3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let f = file(&dir);
        std::fs::create_dir_all(f.local.parent().unwrap()).unwrap();
        std::fs::write(&f.local, "old\n").unwrap();
        let r = f.keep_backup().unwrap();
        let t = f.write_temp("new\n").unwrap();
        // The agent stops here (crash, failed check); the undo restores.
        f.restore(&r).unwrap();
        assert!(!t.local.exists());
        assert_eq!(std::fs::read_to_string(&f.local).unwrap(), "old\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
