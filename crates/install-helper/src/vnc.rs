//! `vnc-connect SOCKET`: a byte pipe between the caller (stdin/stdout) and a bhyve zone's VNC
//! socket, so the agent can serve a zone's screen without reading inside a zonepath itself
//! and without any listening port.
//!
//! Only a socket named `vm.vnc` in a `root/tmp` directory is reached (the brand's socket for
//! `vnc=on` and `wait`: bhyve runs inside the zone, whose `/tmp` is `<zonepath>/root/tmp`),
//! through directories opened one by one without following a link, and root is dropped as
//! soon as the connection is made.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use crate::beneath::{self, Dir, Kind};
use crate::policy::IPath;

/// The socket's place: `.../root/tmp/vm.vnc`.
pub fn is_vnc_socket_path(p: &IPath) -> bool {
    let c = p.components();
    c.len() >= 4 && c[c.len() - 3..] == ["root", "tmp", "vm.vnc"]
}

pub fn connect(root: &Dir, target: &IPath) -> Result<(), String> {
    if !is_vnc_socket_path(target) {
        return Err(format!(
            "{target} is not a bhyve zone's VNC socket (<zonepath>/root/tmp/vm.vnc)"
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
    fn only_a_zone_roots_vm_vnc_is_reachable() {
        let ok = |s: &str| is_vnc_socket_path(&IPath::parse(s).unwrap());
        assert!(ok("/rpool/zones/vm1/root/tmp/vm.vnc"));
        assert!(ok("/zones/a/root/tmp/vm.vnc"));
        assert!(!ok("/root/tmp/vm.vnc"), "the global zone's own /root");
        assert!(!ok("/var/run/dbus/system_bus_socket"));
        assert!(!ok("/zones/a/root/tmp/other.sock"));
        assert!(!ok("/zones/a/root/var/tmp/vm.vnc"));
    }
}
