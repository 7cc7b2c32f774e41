//! `vnc-connect SOCKET`: a byte pipe between the caller (stdin/stdout) and a bhyve zone's VNC
//! socket, so the agent can serve a zone's screen without reading inside a zonepath itself
//! and without any listening port.
//!
//! Only a socket inside the named zone's root is reached: `<zonepath>/root/PATH`, the
//! zonepath read from the zones' index and checked as zoneadm checks it (`zones.rs`). bhyve
//! runs inside the zone, so the brand's `/tmp/vm.vnc` (for `vnc=on` and `wait`) and any
//! `unix=PATH` of the zone's `vnc` option string are there. Below the zonepath the path is
//! reached through directories opened one by one without following a link (a link planted by
//! the guest, even one leading back into its own root, is refused rather than resolved: no
//! resolution can then lead out), the last one must be a socket, and root is dropped as soon
//! as the connection is made.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use crate::beneath::{self, Dir, Kind};
use crate::policy::IPath;
use crate::zones;

/// Whether `target` lies inside the root of the zone at `zonepath`, by whole components: the
/// zone's root itself or a sibling such as `<zonepath>/rootfs` is not inside.
pub fn is_in_zone_root(zonepath: &IPath, target: &IPath) -> bool {
    target.is_below(&zonepath.child("root"))
}

pub fn connect(root: &Dir, zone: &str, target: &IPath) -> Result<(), String> {
    let zonepath = zones::zonepath(root, zone)?;
    if !is_in_zone_root(&zonepath, target) {
        return Err(format!(
            "{target} is not inside the root of zone {zone} ({zonepath}/root)"
        ));
    }
    let zp = zones::open_zonepath(root, &zonepath)?;
    let (dir, name) = beneath::parent_below(&zp, target, zonepath.components().len())?;
    match dir
        .kind(name)
        .map_err(|e| format!("cannot look at {target}: {e}"))?
    {
        Kind::Socket => {}
        Kind::Missing => return Err(format!("{target} does not exist (is the zone running?)")),
        Kind::Link => return Err(format!("{target} is a symbolic link")),
        _ => return Err(format!("{target} is not a socket")),
    }
    dir.chdir()
        .map_err(|e| format!("cannot enter the directory of {target}: {e}"))?;
    let stream =
        UnixStream::connect(name).map_err(|e| format!("cannot connect to {target}: {e}"))?;
    drop_root()?;
    bridge(stream)
}

/// Back to the caller's own ids: nothing after the connect needs privilege.
fn drop_root() -> Result<(), String> {
    // SAFETY: getgid/getuid cannot fail; setgid/setuid change only this process's ids.
    let ok = unsafe { libc::setgid(libc::getgid()) == 0 && libc::setuid(libc::getuid()) == 0 };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cannot drop privileges: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Copies both ways; the first side to end ends the process (the other direction has no
/// one left to talk to).
fn bridge(stream: UnixStream) -> Result<(), String> {
    let mut to_socket = stream
        .try_clone()
        .map_err(|e| format!("cannot duplicate the socket: {e}"))?;
    std::thread::spawn(move || {
        let _ = pump(&mut std::io::stdin().lock(), &mut to_socket);
        std::process::exit(0);
    });
    let mut from_socket = stream;
    let _ = pump(&mut from_socket, &mut std::io::stdout().lock());
    Ok(())
}

/// `io::copy` with a flush after every read: the viewer must see each update as it comes.
fn pump(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_inside_the_zones_own_root_is_reachable() {
        let zp = IPath::parse("/rpool/zones/vm1").unwrap();
        let ok = |s: &str| is_in_zone_root(&zp, &IPath::parse(s).unwrap());
        assert!(ok("/rpool/zones/vm1/root/tmp/vm.vnc"));
        assert!(
            ok("/rpool/zones/vm1/root/var/run/other.sock"),
            "unix= may name another socket"
        );
        assert!(!ok("/rpool/zones/vm2/root/tmp/vm.vnc"), "another zone's");
        assert!(!ok("/rpool/zones/vm1/root"), "the zone's root itself");
        assert!(!ok("/rpool/zones/vm1/rootfs/vm.vnc"), "a sibling of root");
        assert!(
            !ok("/rpool/zones/vm1/tmp/vm.vnc"),
            "the zonepath, not its root"
        );
        assert!(!ok("/export/home/root/x.sock"), "a /root elsewhere");
        assert!(!ok("/root/tmp/vm.vnc"), "the global zone's own /root");
    }
}
