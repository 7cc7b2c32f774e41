//! The Zoneweaver agent's package, installed into an emulated host as `pkg install` would:
//! its RBAC fragments (which the emulated pfexec reads), the helper's allow-list, and the
//! privileged helper itself. The files are the ones `packaging/omnios/` ships, compiled in, so
//! the emulated host's profile is the package's, never a copy that could drift.

use std::path::Path;

use crate::host::Host;

/// (path under the root, content): what the p5m delivers, root-owned, mode 0444.
const FILES: [(&str, &str); 4] = [
    (
        "etc/security/exec_attr.d/zoneweaver-agent",
        include_str!("../../../packaging/omnios/exec_attr.d/zoneweaver-agent"),
    ),
    (
        "etc/security/prof_attr.d/zoneweaver-agent",
        include_str!("../../../packaging/omnios/prof_attr.d/zoneweaver-agent"),
    ),
    (
        "etc/user_attr.d/zoneweaver-agent",
        include_str!("../../../packaging/omnios/user_attr.d/zoneweaver-agent"),
    ),
    (
        "etc/zoneweaver-agent/privileged-paths",
        include_str!("../../../packaging/omnios/privileged-paths"),
    ),
];

/// Where the package puts the helper, under the root.
pub const HELPER: &str = "opt/zoneweaver/lib/zoneweaver-install";
/// The helper's executable name, looked for beside this emulator's executable.
const HELPER_NAME: &str = "zoneweaver-install";

/// Installs the package's files into `host`, and the helper when `helper` (the built
/// `zoneweaver-install`) is given: a copy (not a link) at `<root>/opt/zoneweaver/lib/`, so it
/// finds its root from its own path, and `<host>/bin/zoneweaver-install` leading to it, where
/// the agent's `host.tool_dir` looks. Run as root, everything is root's, as the p5m says; run
/// as anyone else it is theirs, and the helper will rightly refuse to trust its allow-list.
pub fn install(host: &Host, helper: Option<&Path>) -> Result<(), String> {
    let e = |what: &str, p: &Path, err: std::io::Error| format!("{what} {}: {err}", p.display());
    for (rel, text) in FILES {
        let path = host.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|x| e("create", dir, x))?;
        }
        replace(&path, text.as_bytes(), 0o444).map_err(|x| e("install", &path, x))?;
    }
    let Some(helper) = helper else {
        return Ok(());
    };
    let copy = host.root.join(HELPER);
    if let Some(dir) = copy.parent() {
        std::fs::create_dir_all(dir).map_err(|x| e("create", dir, x))?;
    }
    let bytes = std::fs::read(helper).map_err(|x| e("read", helper, x))?;
    replace(&copy, &bytes, 0o555).map_err(|x| e("install", &copy, x))?;
    let link = host.dir.join("bin").join(HELPER_NAME);
    let to = Path::new("../root").join(HELPER);
    if std::fs::read_link(&link).ok().as_deref() != Some(to.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&to, &link).map_err(|x| e("link", &link, x))?;
    }
    Ok(())
}

/// The built helper beside `exe` (the emulator's own executable), if there is one.
pub fn helper_beside(exe: &Path) -> Option<std::path::PathBuf> {
    let p = exe.parent()?.join(HELPER_NAME);
    p.is_file().then_some(p)
}

/// Writes `path` through a temp file and a rename: a copy of the helper that a running
/// agent may be executing is replaced, never written into (that fails with ETXTBSY).
fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".sim-new");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_packages_files_and_the_helper_land_where_pkg_would_put_them() {
        let dir = std::env::temp_dir().join(format!("sim-package-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let host = Host::new(&dir);
        let built = dir.join("built-helper");
        std::fs::write(&built, "#!/bin/true\n").unwrap();
        install(&host, None).unwrap();
        assert!(!dir.join("bin/zoneweaver-install").exists());
        install(&host, Some(&built)).unwrap();
        // Twice: a refresh of an existing host.
        install(&host, Some(&built)).unwrap();
        let exec = std::fs::read_to_string(host.root.join(FILES[0].0)).unwrap();
        assert!(
            exec.contains("/opt/zoneweaver/lib/zoneweaver-install:euid=0"),
            "{exec}"
        );
        for (rel, text) in FILES {
            let p = host.root.join(rel);
            assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
            assert_eq!(p.metadata().unwrap().permissions().mode() & 0o7777, 0o444);
        }
        let copy = host.root.join(HELPER);
        assert!(
            !copy.symlink_metadata().unwrap().is_symlink(),
            "a copy, not a link"
        );
        assert_eq!(
            copy.metadata().unwrap().permissions().mode() & 0o7777,
            0o555
        );
        assert_eq!(
            std::fs::canonicalize(dir.join("bin/zoneweaver-install")).unwrap(),
            std::fs::canonicalize(&copy).unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
