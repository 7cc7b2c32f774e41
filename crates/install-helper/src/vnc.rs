//! `vnc-connect SOCKET`: a byte pipe between the caller (stdin/stdout) and a bhyve zone's VNC
//! socket, so the agent can serve a zone's screen without reading inside a zonepath itself
//! and without any listening port.
//!
//! Only a socket inside a zone's root is reached: `<zonepath>/root/PATH`, the zonepath at
//! least two components deep (so neither the global zone's `/root` nor a `root` directory
//! at the top of a file system qualifies). bhyve runs inside the zone, so the brand's
//! `/tmp/vm.vnc` (for `vnc=on` and `wait`) and any `unix=PATH` of the zone's `vnc` option
//! string are there. The path is reached through directories opened one by one without
//! following a link (a link planted by the guest cannot lead out of its root), the last
//! one must be a socket, and root is dropped as soon as the connection is made.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use crate::beneath::{self, Dir, Kind};
use crate::policy::IPath;

/// The socket's place: `<zonepath>/root/PATH`, the zonepath (what comes before the first
/// `root` component) at least two components long, PATH at least one.
pub fn is_vnc_socket_path(p: &IPath) -> bool {
    let c = p.components();
    c.iter()
        .position(|x| x == "root")
        .is_some_and(|i| i >= 2 && c.len() > i + 1)
}

pub fn connect(root: &Dir, target: &IPath) -> Result<(), String> {
    if !is_vnc_socket_path(target) {
        return Err(format!(
            "{target} is not a socket inside a zone's root (<zonepath>/root/PATH)"
        ));
    }
    let (dir, name) = beneath::parent_of(root, target)?;
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
    fn only_a_path_inside_a_zone_root_is_reachable() {
        let ok = |s: &str| is_vnc_socket_path(&IPath::parse(s).unwrap());
        assert!(ok("/rpool/zones/vm1/root/tmp/vm.vnc"));
        assert!(ok("/zones/a/root/tmp/vm.vnc"));
        assert!(
            ok("/zones/a/root/tmp/other.sock"),
            "unix= may name another socket"
        );
        assert!(ok("/zones/a/root/var/run/vm.vnc"));
        assert!(!ok("/root/tmp/vm.vnc"), "the global zone's own /root");
        assert!(!ok("/var/root/vm.vnc"), "a zonepath of one component");
        assert!(!ok("/zones/a/root"), "the zone's root itself");
        assert!(!ok("/var/run/dbus/system_bus_socket"));
    }
}
