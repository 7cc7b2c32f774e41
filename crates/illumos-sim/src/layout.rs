//! The emulated host's file system as OmniOS lays it out, for what the agent touches: the tools
//! at their real paths (`/usr/sbin/zfs` a link to `../../sbin/zfs`, as illumos-gate's manifests
//! make it), `<host>/bin/` pointing at them, and, when `init` runs as root, owners and modes:
//! root's `/etc`, `/etc/ipf`, `/var/db`, the package's own directories with the package's
//! owners, and `<host>/bin/pfexec` installed setuid-root so that an unprivileged agent meets the
//! privilege boundary it meets on a real host.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::host::Host;

/// Every tool's illumos path. `/usr/sbin/<x>` for the `/sbin` ones is a link.
pub const TOOL_PATHS: &[(&str, &str)] = &[
    ("zonecfg", "/usr/sbin/zonecfg"),
    ("zoneadm", "/usr/sbin/zoneadm"),
    ("zlogin", "/usr/sbin/zlogin"),
    ("dladm", "/sbin/dladm"),
    ("ipadm", "/sbin/ipadm"),
    ("routeadm", "/sbin/routeadm"),
    ("route", "/sbin/route"),
    ("svcs", "/usr/bin/svcs"),
    ("svcadm", "/usr/sbin/svcadm"),
    ("svccfg", "/usr/sbin/svccfg"),
    ("svcprop", "/usr/bin/svcprop"),
    ("zfs", "/sbin/zfs"),
    ("zpool", "/sbin/zpool"),
    ("ipnat", "/usr/sbin/ipnat"),
    ("uname", "/usr/bin/uname"),
    ("kstat", "/usr/bin/kstat"),
    ("psrinfo", "/usr/sbin/psrinfo"),
    ("pagesize", "/usr/bin/pagesize"),
    ("pfsh", "/usr/bin/pfsh"),
    ("swap", "/usr/sbin/swap"),
    ("netstat", "/usr/bin/netstat"),
    ("shutdown", "/usr/sbin/shutdown"),
    ("reboot", "/usr/sbin/reboot"),
    ("halt", "/usr/sbin/halt"),
    ("poweroff", "/usr/sbin/poweroff"),
    ("init", "/sbin/init"),
    ("who", "/usr/bin/who"),
    ("prtconf", "/usr/sbin/prtconf"),
    ("pptadm", "/usr/sbin/pptadm"),
    ("hostname", "/usr/bin/hostname"),
];

/// The package's manifest: its `dir` actions are laid out in the emulated root.
const P5M: &str = include_str!("../../../packaging/omnios/zoneweaver-agent.p5m");

fn err(what: &str, p: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", p.display())
}

/// Makes `link` a symlink to `target` unless it already is one.
fn link(target: &Path, link: &Path) -> Result<(), String> {
    if std::fs::read_link(link).ok().as_deref() == Some(target) {
        return Ok(());
    }
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err("create", dir, e))?;
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).map_err(|e| err("link", link, e))
}

/// `../..` enough to climb from `illumos_path`'s directory to the root.
fn up_to_root(illumos_path: &str) -> String {
    let depth = illumos_path.trim_start_matches('/').matches('/').count();
    vec![".."; depth].join("/")
}

pub fn tool_links(host: &Host, exe: &Path) -> Result<(), String> {
    for (tool, path) in TOOL_PATHS {
        link(exe, &host.in_root(path))?;
        if let Some(name) = path.strip_prefix("/sbin/") {
            let usr = format!("/usr/sbin/{name}");
            link(
                Path::new(&format!("{}/sbin/{name}", up_to_root(&usr))),
                &host.in_root(&usr),
            )?;
        }
        // `<host>/bin/zfs` → `../root/usr/sbin/zfs`: the path the agent runs (`tool_dir`), through
        // the same links as on illumos.
        let shown = if path.starts_with("/sbin/") {
            format!("/usr{path}")
        } else {
            path.to_string()
        };
        link(
            Path::new(&format!("../root{shown}")),
            &host.dir.join("bin").join(tool),
        )?;
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn nosuid(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: an all-zero statvfs is a valid out-parameter, and `c` is a NUL-terminated path.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut s) == 0 && (s.f_flag & libc::ST_NOSUID) != 0
    }
}

/// `<host>/bin/pfexec`: made by root, a setuid-root copy of this binary (the boundary is then
/// real); otherwise a link, and pfexec only runs the program.
pub fn pfexec(host: &Host, exe: &Path) -> Result<(), String> {
    let dest = host.dir.join("bin/pfexec");
    if !is_root() || nosuid(&host.dir) {
        if is_root() {
            eprintln!(
                "illumos-sim: {} is on a nosuid file system: pfexec cannot raise privilege there",
                host.dir.display()
            );
        }
        return link(exe, &dest);
    }
    let src = std::fs::metadata(exe).map_err(|e| err("read", exe, e))?;
    let current = std::fs::symlink_metadata(&dest).ok();
    let fresh = current.as_ref().is_some_and(|m| {
        m.is_file()
            && m.len() == src.len()
            && m.mtime() >= src.mtime()
            && m.mode() & 0o7777 == 0o4755
    });
    if !fresh {
        let tmp = host.dir.join("bin/.pfexec.new");
        let _ = std::fs::remove_file(&tmp);
        // A setuid-root copy kept beside the emulator (the test harness makes one) is linked
        // rather than copied: 25 MB per host adds up over a test suite.
        let prepared = exe.with_file_name("illumos-sim-pfexec");
        let usable = std::fs::symlink_metadata(&prepared).is_ok_and(|m| {
            m.is_file() && m.uid() == 0 && m.mode() & 0o7777 == 0o4755 && m.len() == src.len()
        });
        // Never chown the linked inode: that clears its setuid bit under every other host's
        // pfexec until the chmod puts it back.
        if !(usable && std::fs::hard_link(&prepared, &tmp).is_ok()) {
            std::fs::copy(exe, &tmp).map_err(|e| err("copy to", &tmp, e))?;
            std::os::unix::fs::chown(&tmp, Some(0), Some(0)).map_err(|e| err("chown", &tmp, e))?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o4755))
                .map_err(|e| err("chmod", &tmp, e))?;
        }
        std::fs::rename(&tmp, &dest).map_err(|e| err("install", &dest, e))?;
    }
    Ok(())
}

fn set(p: &Path, uid: u32, gid: u32, mode: u32) -> Result<(), String> {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).map_err(|e| err("chown", p, e))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err("chmod", p, e))
}

/// Owners and modes, when made by root: the emulator's own files (the state writable only by
/// euid 0; the lock and the invocation log by anyone, since a tool pfexec did not raise still
/// locks and logs), root's directories, and the package's `dir` actions (owners that do not
/// exist on this machine fall back to root).
pub fn ownership(host: &Host) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    set(&host.dir, 0, 0, 0o755)?;
    set(&host.dir.join("bin"), 0, 0, 0o755)?;
    set(&host.state_path(), 0, 0, 0o644)?;
    for f in [host.lock_path(), host.log_path()] {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&f)
            .map_err(|e| err("create", &f, e))?;
        set(&f, 0, 0, 0o666)?;
    }
    for (d, mode) in [
        ("/", 0o755),
        ("/etc", 0o755),
        ("/etc/ipf", 0o755),
        ("/etc/system.d", 0o755),
        ("/var", 0o755),
        ("/var/db", 0o755),
        ("/var/lib", 0o755),
        ("/var/tmp", 0o1777),
        ("/tmp", 0o1777),
        ("/rpool", 0o755),
        ("/rpool/zones", 0o755),
    ] {
        let p = host.in_root(d);
        std::fs::create_dir_all(&p).map_err(|e| err("create", &p, e))?;
        set(&p, 0, 0, mode)?;
    }
    let ipnat = host.in_root("/etc/ipf/ipnat.conf");
    if ipnat.exists() {
        set(&ipnat, 0, 0, 0o644)?;
    }
    for line in P5M.lines().filter(|l| l.starts_with("dir ")) {
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
        };
        let (Some(path), Some(mode)) = (field("path"), field("mode")) else {
            continue;
        };
        let mode = u32::from_str_radix(mode, 8).map_err(|e| format!("p5m mode: {e}"))?;
        let uid = field("owner")
            .and_then(|o| crate::pfexec::uid_of(o).ok())
            .unwrap_or(0);
        let gid = field("group")
            .and_then(|g| crate::pfexec::gid_of(g).ok())
            .unwrap_or(0);
        let p = host.in_root(&format!("/{path}"));
        std::fs::create_dir_all(&p).map_err(|e| err("create", &p, e))?;
        set(&p, uid, gid, mode)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_climb_to_the_root() {
        assert_eq!(up_to_root("/usr/sbin/zfs"), "../..");
        assert_eq!(up_to_root("/sbin/zfs"), "..");
    }

    #[test]
    fn the_manifest_names_the_agents_home() {
        assert!(P5M
            .lines()
            .any(|l| l.starts_with("dir path=var/lib/zoneweaver-agent owner=zoneweaver")));
    }
}
