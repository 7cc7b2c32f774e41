//! Where an emulated host lives on disk and how illumos paths map into it.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Host {
    pub dir: PathBuf,
    /// `<host>/root`: the host's file system.
    pub root: PathBuf,
}

impl Host {
    pub fn new(dir: &Path) -> Host {
        Host {
            dir: dir.to_path_buf(),
            root: dir.join("root"),
        }
    }
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("invocations.log")
    }
    pub fn faults_path(&self) -> PathBuf {
        self.dir.join("faults")
    }
    /// Where a `hold` fault announces the invocation it holds.
    pub fn held_path(&self) -> PathBuf {
        self.dir.join("held")
    }
    pub fn conf_path(&self) -> PathBuf {
        self.dir.join("sim.conf")
    }

    /// Maps a path argument to the real file: absolute illumos paths resolve under `root/`,
    /// unless they already point inside `root/` (the agent may pass either form). Relative
    /// paths are left to the caller's working directory, as on a real host.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if !path.is_absolute() || path.starts_with(&self.root) {
            return path.to_path_buf();
        }
        self.root.join(p.trim_start_matches('/'))
    }

    /// The real directory behind an illumos absolute path (never escaping `root/`).
    pub fn in_root(&self, illumos_path: &str) -> PathBuf {
        let rel: PathBuf = Path::new(illumos_path)
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        self.root.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_resolve_under_root_unless_already_inside() {
        let h = Host::new(Path::new("/tmp/h"));
        assert_eq!(
            h.resolve("/etc/ipf/ipnat.conf"),
            PathBuf::from("/tmp/h/root/etc/ipf/ipnat.conf")
        );
        assert_eq!(
            h.resolve("/tmp/h/root/etc/x"),
            PathBuf::from("/tmp/h/root/etc/x")
        );
        assert_eq!(h.resolve("rel/file"), PathBuf::from("rel/file"));
        assert_eq!(
            h.in_root("/rpool/../x"),
            PathBuf::from("/tmp/h/root/rpool/x")
        );
    }
}
