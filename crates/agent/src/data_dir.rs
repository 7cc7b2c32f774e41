//! The data directory holds every secret the agent has (the database with its WAL, the
//! bootstrap key, the TLS key, the provisioning keys, artifacts): only the agent's own user may
//! read it. Modes are made right at every start, not only when the directory is created, since
//! an operator's `cp -r`, a restore from backup or an older version may have left them open.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot prepare the data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "refusing to use the data directory {path}: it is owned by uid {owner}, not by the agent's user (uid {me})"
    )]
    NotOwned { path: String, owner: u32, me: u32 },
    #[error(
        "refusing to use the data directory {path}: its mode {mode:04o} lets other users write into it; make it 0700 (chmod 0700 {path}) after checking what is inside"
    )]
    Writable { path: String, mode: u32 },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates `dir` (0700) or checks the one there: it must belong to the agent's user and must
/// not be writable by anyone else (someone who could write in it could have planted a file the
/// agent trusts). Then it is made 0700, its subdirectories 0700 and its files 0600, except the
/// trees in `foreign` (the demo's emulated host lives there and stands for `/`, not for data).
pub fn secure(dir: &Path, foreign: &[PathBuf]) -> Result<(), DataDirError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    // Followed: the directory may be a link to another disk.
    let meta = fs::metadata(dir).map_err(io_err(dir))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(DataDirError::NotOwned {
            path: dir.display().to_string(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(DataDirError::Writable {
            path: dir.display().to_string(),
            mode,
        });
    }
    restrict(dir, foreign)
}

/// Makes what is under `dir` private, without following symbolic links.
fn restrict(dir: &Path, foreign: &[PathBuf]) -> Result<(), DataDirError> {
    set_mode(dir, 0o700)?;
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if foreign.contains(&path) {
            continue;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed meanwhile (a temp file of a stopping agent).
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&path)(e)),
        };
        if meta.is_dir() {
            restrict(&path, foreign)?;
        } else if meta.is_file() {
            set_mode(&path, 0o600)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DataDirError> {
    let current = fs::symlink_metadata(path).map_err(io_err(path))?.mode() & 0o7777;
    if current == mode {
        return Ok(());
    }
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(io_err(path))
}

/// Creates `path` empty with mode 0600 unless it exists. SQLite gives its `-wal` and `-shm`
/// files the mode of the database file, so creating that one private keeps all three private.
pub fn create_private_file(path: &Path) -> Result<(), DataDirError> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zw-datadir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_open_directory_is_closed_and_its_files_made_private() {
        let d = scratch("open");
        fs::create_dir_all(d.join("ssh")).unwrap();
        fs::create_dir_all(d.join("host/bin")).unwrap();
        fs::write(d.join("agent.db"), b"").unwrap();
        fs::write(d.join("ssh/provision_key"), b"k").unwrap();
        fs::write(d.join("host/bin/zfs"), b"").unwrap();
        for (p, m) in [
            (d.clone(), 0o755),
            (d.join("ssh"), 0o755),
            (d.join("agent.db"), 0o644),
            (d.join("ssh/provision_key"), 0o640),
            (d.join("host/bin/zfs"), 0o755),
        ] {
            fs::set_permissions(&p, Permissions::from_mode(m)).unwrap();
        }
        secure(&d, &[d.join("host")]).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("ssh")), 0o700);
        assert_eq!(mode(&d.join("agent.db")), 0o600);
        assert_eq!(mode(&d.join("ssh/provision_key")), 0o600);
        assert_eq!(
            mode(&d.join("host/bin/zfs")),
            0o755,
            "the emulated host is left alone"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused_and_left_as_it_is() {
        let d = scratch("writable");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("agent.db"), b"").unwrap();
        fs::set_permissions(d.join("agent.db"), Permissions::from_mode(0o644)).unwrap();
        for m in [0o777, 0o775, 0o1777] {
            fs::set_permissions(&d, Permissions::from_mode(m)).unwrap();
            let e = secure(&d, &[]).unwrap_err();
            assert!(matches!(e, DataDirError::Writable { .. }), "{m:o}: {e}");
            assert!(e.to_string().contains("chmod 0700"), "{e}");
        }
        assert_eq!(mode(&d.join("agent.db")), 0o644);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_new_directory_is_private() {
        let d = scratch("new").join("nested/data");
        secure(&d, &[]).unwrap();
        assert_eq!(mode(&d), 0o700);
        create_private_file(&d.join("agent.db")).unwrap();
        assert_eq!(mode(&d.join("agent.db")), 0o600);
        fs::remove_dir_all(d.parent().unwrap().parent().unwrap()).unwrap();
    }
}
