//! `pfexec PROGRAM args...` as illumos runs it: the program's path is resolved (symbolic links
//! followed), the caller's RBAC profiles are searched for that resolved path, and the program
//! runs with the matched entry's ids, or with the caller's own when no profile lists it.
//!
//! `init` run as root installs this binary setuid-root as `<host>/bin/pfexec`, so the boundary
//! is real: an agent started as an unprivileged user changes the emulated host only through
//! what its profile grants, exactly as on OmniOS. Elsewhere (a host made by an ordinary user,
//! or a caller that is root) pfexec changes nothing and only runs the program.

use std::ffi::CString;
use std::path::{Component, Path, PathBuf};

use crate::host::Host;
use crate::rbac::{self, Grant};

/// The program as pfexec sees it: its illumos path once links are followed, and whether that
/// file is one of the emulated tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// An illumos path (`/sbin/zfs`) for files of the emulated root; the real path otherwise.
    pub path: String,
    /// The emulated tool it is, by the resolved file's name.
    pub tool: Option<&'static str>,
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Follows `program`'s links while they stay inside the host directory: the emulated root's
/// files are what illumos would see; the link from `<root>/sbin/zfs` to the emulator's own
/// binary (outside) is where the emulation begins, not part of the emulated file system.
pub fn resolve(host: &Host, program: &str) -> Resolved {
    // A bare name is looked up in PATH, as pfexec's exec does.
    let found = (!program.contains('/'))
        .then(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .flatten();
    let given = found.unwrap_or_else(|| PathBuf::from(program));
    let mut p = normalize(&std::env::current_dir().unwrap_or_default().join(given));
    let dir = normalize(&host.dir);
    let root = normalize(&host.root);
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&p) else {
            break;
        };
        let next = normalize(&p.parent().unwrap_or(Path::new("/")).join(target));
        if !next.starts_with(&dir) {
            break;
        }
        p = next;
    }
    let path = match p.strip_prefix(&root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) if p.starts_with(&dir) => p.display().to_string(),
        Err(_) => std::fs::canonicalize(&p)
            .unwrap_or(p.clone())
            .display()
            .to_string(),
    };
    let name = crate::basename(&path);
    let tool = crate::TOOLS
        .iter()
        .copied()
        .find(|t| *t == name && *t != "pfexec");
    Resolved { path, tool }
}

/// Whether this process is the setuid pfexec acting for an unprivileged caller.
pub fn enforcing() -> bool {
    // SAFETY: getuid/geteuid cannot fail and touch no memory.
    unsafe { libc::geteuid() == 0 && libc::getuid() != 0 }
}

pub fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid out-parameter; getpwuid_r writes only into it and
    // `buf` (its length given), and `res` points to `pw` or is null.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut res);
        if rc != 0 || res.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pw.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

pub fn uid_of(v: &str) -> Result<libc::uid_t, String> {
    if let Ok(n) = v.parse() {
        return Ok(n);
    }
    let name = CString::new(v).map_err(|_| format!("bad user {v:?}"))?;
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: as in user_name.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        );
        if rc != 0 || res.is_null() {
            return Err(format!("unknown user {v}"));
        }
        Ok(pw.pw_uid)
    }
}

pub fn gid_of(v: &str) -> Result<libc::gid_t, String> {
    if let Ok(n) = v.parse() {
        return Ok(n);
    }
    let name = CString::new(v).map_err(|_| format!("bad group {v:?}"))?;
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: as in user_name, for getgrnam_r and a group record.
    unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut res: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            name.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        );
        if rc != 0 || res.is_null() {
            return Err(format!("unknown group {v}"));
        }
        Ok(gr.gr_gid)
    }
}

fn check(rc: libc::c_int, what: &str) -> Result<(), String> {
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("{what}: {}", std::io::Error::last_os_error()))
    }
}

/// Takes on the ids `grant` gives, or drops to the caller's own when there is none. Group ids
/// first (changing them needs euid 0). Supplementary groups are the caller's, as pfexec leaves
/// them.
pub fn assume(grant: Option<&Grant>) -> Result<(), String> {
    // SAFETY: getuid/getgid cannot fail.
    let (ruid, rgid) = unsafe { (libc::getuid(), libc::getgid()) };
    let keep = libc::gid_t::MAX;
    let g = grant.cloned().unwrap_or_default();
    // SAFETY: set*id calls take plain integers; failures are reported through errno.
    unsafe {
        match (&g.gid, &g.egid) {
            (Some(gid), _) => {
                let gid = gid_of(gid)?;
                check(libc::setresgid(gid, gid, gid), "setresgid")?;
            }
            (None, Some(egid)) => {
                let egid = gid_of(egid)?;
                check(libc::setresgid(keep, egid, egid), "setresgid")?;
            }
            (None, None) => check(libc::setresgid(rgid, rgid, rgid), "setresgid")?,
        }
        match (&g.uid, &g.euid) {
            (Some(uid), _) => {
                let uid = uid_of(uid)?;
                check(libc::setresuid(uid, uid, uid), "setresuid")?;
            }
            // The real uid stays the caller's, so the caller can still signal the program
            // (the reason the package gives zonecfg `euid=0`, not the stock `uid=0`).
            (None, Some(euid)) => {
                let euid = uid_of(euid)?;
                check(libc::setresuid(ruid, euid, euid), "setresuid")?;
            }
            (None, None) => check(libc::setresuid(ruid, ruid, ruid), "setresuid")?,
        }
    }
    Ok(())
}

/// Applies the caller's profile to `resolved` when enforcing; a no-op otherwise.
pub fn apply_profile(host: &Host, resolved: &Resolved) -> Result<(), String> {
    if !enforcing() {
        return Ok(());
    }
    // SAFETY: getuid cannot fail.
    let ruid = unsafe { libc::getuid() };
    let user = user_name(ruid).unwrap_or_else(|| ruid.to_string());
    let grant = rbac::lookup(&host.root, &user, &resolved.path);
    assume(grant.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_followed_inside_the_host_only() {
        let dir = std::env::temp_dir().join(format!("sim-pfexec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let host = Host::new(&dir);
        let exe = dir.join("elsewhere/illumos-sim");
        for d in [
            "bin",
            "root/sbin",
            "root/usr/sbin",
            "root/usr/bin",
            "elsewhere",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(&exe, "").unwrap();
        let outside = std::env::temp_dir().join(format!("sim-pfexec-out-{}", std::process::id()));
        std::fs::write(&outside, "").unwrap();
        use std::os::unix::fs::symlink;
        symlink(&outside, dir.join("root/sbin/zfs")).unwrap();
        symlink("../../sbin/zfs", dir.join("root/usr/sbin/zfs")).unwrap();
        symlink("../root/usr/sbin/zfs", dir.join("bin/zfs")).unwrap();
        symlink(&outside, dir.join("root/usr/sbin/zoneadm")).unwrap();
        symlink("../root/usr/sbin/zoneadm", dir.join("bin/zoneadm")).unwrap();
        let r = resolve(&host, &dir.join("bin/zfs").display().to_string());
        assert_eq!(r.path, "/sbin/zfs");
        assert_eq!(r.tool, Some("zfs"));
        let r = resolve(
            &host,
            &dir.join("root/usr/sbin/zoneadm").display().to_string(),
        );
        assert_eq!(r.path, "/usr/sbin/zoneadm");
        let r = resolve(&host, &outside.display().to_string());
        assert_eq!(r.tool, None);
        assert!(r.path.starts_with('/') && !r.path.starts_with(&*dir.display().to_string()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&outside);
    }
}
