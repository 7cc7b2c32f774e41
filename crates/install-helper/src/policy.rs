//! The allow-list (`/etc/zoneweaver-agent/privileged-paths`) and the paths it names.
//!
//! Paths are compared lexically, after normalisation, never by resolving them: what is on
//! the disk is checked separately, component by component, without following a link
//! (`beneath.rs`). A path with `..` is refused outright rather than normalised, so no spelling
//! of a path reaches a file the policy does not name.

use std::fmt;

/// An absolute illumos path as a list of its components: no empty, `.` or `..` component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IPath(Vec<String>);

impl IPath {
    /// Normalises `s` lexically (`//` and `/./` collapse); refuses a relative path, `..`, the
    /// root itself and a component that is not valid UTF-8 text.
    pub fn parse(s: &str) -> Result<IPath, String> {
        if !s.starts_with('/') {
            return Err(format!("{s:?} is not an absolute path"));
        }
        let mut parts = Vec::new();
        for c in s.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(format!("{s:?} contains '..'")),
                c => parts.push(c.to_owned()),
            }
        }
        if parts.is_empty() {
            return Err(format!("{s:?} names the root directory"));
        }
        Ok(IPath(parts))
    }

    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// Whether `self` lies strictly below `parent` (never `parent` itself).
    pub fn is_below(&self, parent: &IPath) -> bool {
        self.0.len() > parent.0.len() && self.0.starts_with(&parent.0)
    }

    /// This path with `name` (one component) appended.
    pub fn child(&self, name: &str) -> IPath {
        let mut c = self.0.clone();
        c.push(name.to_owned());
        IPath(c)
    }

    /// The path of the first `n` components (for messages naming a parent).
    pub fn prefix(&self, n: usize) -> IPath {
        IPath(self.0[..n].to_vec())
    }
}

impl fmt::Display for IPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.0 {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// What the helper may touch: files it may replace, files of one name in zonepaths below a
/// directory, and parents under which a dataset's mountpoint may be handed to the caller.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub files: Vec<IPath>,
    /// `zonepath-file DIR NAME`: `<zonepath>/NAME` for a zonepath strictly below DIR (the
    /// verb also checks the zonepath is root's and closed to others, as zoneadm makes it).
    pub zonepath_files: Vec<(IPath, String)>,
    pub mountpoints_under: Vec<IPath>,
}

impl Policy {
    /// Parses the policy text. Any line it does not understand makes the whole file invalid:
    /// a typo must not silently narrow (or widen) what is allowed.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let mut p = Policy::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = |why: String| format!("line {}: {raw:?}: {why}", n + 1);
            match words.as_slice() {
                [] => {}
                ["file", path] => p.files.push(IPath::parse(path).map_err(bad)?),
                ["mountpoints-under", path] => {
                    p.mountpoints_under.push(IPath::parse(path).map_err(bad)?)
                }
                ["zonepath-file", dir, name] => {
                    if name.contains('/') || matches!(*name, "." | "..") {
                        return Err(bad(format!("{name:?} is not a file name")));
                    }
                    let dir = IPath::parse(dir).map_err(bad)?;
                    p.zonepath_files.push((dir, (*name).to_owned()));
                }
                _ => return Err(bad(
                    "expected `file PATH`, `zonepath-file DIR NAME` or `mountpoints-under PATH`"
                        .into(),
                )),
            }
        }
        Ok(p)
    }

    pub fn allows_file(&self, p: &IPath) -> bool {
        self.files.contains(p)
    }

    /// Whether `p` is `<zonepath>/NAME` for a `zonepath-file DIR NAME` line, the zonepath
    /// strictly below DIR.
    pub fn allows_zonepath_file(&self, p: &IPath) -> bool {
        let c = p.components();
        self.zonepath_files.iter().any(|(dir, name)| {
            c.last() == Some(name) && c.len() >= 2 && p.prefix(c.len() - 1).is_below(dir)
        })
    }

    pub fn allows_mountpoint(&self, p: &IPath) -> bool {
        self.mountpoints_under
            .iter()
            .any(|parent| p.is_below(parent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> IPath {
        IPath::parse(s).unwrap()
    }

    #[test]
    fn paths_normalise_lexically_and_refuse_dot_dot_and_relative_forms() {
        assert_eq!(
            path("//etc/./ipf//ipnat.conf/").to_string(),
            "/etc/ipf/ipnat.conf"
        );
        for bad in [
            "etc/dhcpd.conf",
            "",
            "/",
            "/./",
            "/etc/ipf/../dhcpd.conf",
            "/etc/..",
        ] {
            assert!(IPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_shipped_policy_parses_to_its_three_entries() {
        let text = "# comment\n\nfile /etc/ipf/ipnat.conf\nfile /etc/dhcpd.conf  # trailing\n\
                    mountpoints-under /rpool/zones\n";
        let p = Policy::parse(text).unwrap();
        assert_eq!(
            p.files,
            [path("/etc/ipf/ipnat.conf"), path("/etc/dhcpd.conf")]
        );
        assert_eq!(p.mountpoints_under, [path("/rpool/zones")]);
    }

    #[test]
    fn an_unknown_or_malformed_line_invalidates_the_whole_policy() {
        for bad in [
            "file /etc/dhcpd.conf\nfiles /etc/passwd\n",
            "file\n",
            "file /etc/a /etc/b\n",
            "file etc/dhcpd.conf\n",
            "mountpoints-under /rpool/../etc\n",
            "zonepath-file /rpool/zones\n",
            "zonepath-file /rpool/zones a/b\n",
            "zonepath-file /rpool/zones ..\n",
        ] {
            let e = Policy::parse(bad).unwrap_err();
            assert!(e.starts_with("line "), "{e}");
        }
    }

    #[test]
    fn files_match_exactly_and_mountpoints_only_strictly_below_a_parent() {
        let p = Policy::parse("file /etc/dhcpd.conf\nmountpoints-under /rpool/zones\n").unwrap();
        assert!(p.allows_file(&path("/etc//dhcpd.conf")));
        assert!(!p.allows_file(&path("/etc/dhcpd.conf.zw-backup")));
        assert!(!p.allows_file(&path("/etc")));
        assert!(p.allows_mountpoint(&path("/rpool/zones/web/provisioning")));
        assert!(!p.allows_mountpoint(&path("/rpool/zones")));
        assert!(!p.allows_mountpoint(&path("/rpool/zonesx/a")));
        assert!(!p.allows_mountpoint(&path("/etc/ipf")));
    }

    #[test]
    fn a_zonepath_file_is_its_name_directly_in_a_directory_strictly_below_the_parent() {
        let p = Policy::parse("zonepath-file /rpool/zones cloud-init-sshkeys\n").unwrap();
        assert!(p.allows_zonepath_file(&path("/rpool/zones/web/path/cloud-init-sshkeys")));
        assert!(p.allows_zonepath_file(&path("/rpool/zones/web/cloud-init-sshkeys")));
        // Not directly in the parent, not another name, not elsewhere, not a plain `file`.
        assert!(!p.allows_zonepath_file(&path("/rpool/zones/cloud-init-sshkeys")));
        assert!(!p.allows_zonepath_file(&path("/rpool/zones/web/path/other")));
        assert!(!p.allows_zonepath_file(&path("/etc/cloud-init-sshkeys")));
        assert!(!p.allows_file(&path("/rpool/zones/web/path/cloud-init-sshkeys")));
    }
}
