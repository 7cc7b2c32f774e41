//! The bhyve framebuffer's VNC server (reference §1.2, attr `vnc`): while a bhyve zone with
//! `vnc` other than `off` runs, a small RFB server answers on the zone's UNIX socket,
//! `<zonepath>/root/tmp/vm.vnc` for `on` and `wait` (bhyve runs inside the zone, so its
//! `/tmp` is the zone root's), or the socket `unix=` names; `tcp=ADDR:PORT` listens on TCP,
//! which the emulator does only on loopback (a wildcard address binds 127.0.0.1): it never
//! opens a port other machines could reach. `zoneadm boot` binds the socket before it returns (so a client
//! may connect as soon as the zone is listed running) and leaves a detached process serving
//! it; halt removes the socket, and the process exits once it sees the zone is no longer in
//! the boot it served (or the emulated host is gone).

pub mod des;
pub mod rfb;
pub mod screen;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::host::Host;
use crate::state::{State, ZoneState};

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A socket, its path as bhyve inside the zone sees it.
    Unix(String),
    /// A loopback TCP address.
    Tcp(SocketAddr),
}

/// What the `vnc` attribute asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub listen: Listen,
    pub password: Option<String>,
}

/// Reads the attribute's value: `off` (or absent) is no VNC; `on` and `wait` the default
/// socket; an option string may name `unix=PATH`, `tcp=ADDR:PORT` (or `rfb=`) and
/// `password=`. A TCP address that is neither loopback nor the wildcard gets no server (the
/// emulator listens on loopback only), like an address bhyve could not bind.
pub fn spec(value: &str) -> Option<Spec> {
    let default = || Listen::Unix("/tmp/vm.vnc".into());
    match value {
        "" | "off" => return None,
        "on" | "wait" => {
            return Some(Spec {
                listen: default(),
                password: None,
            })
        }
        _ => {}
    }
    let mut out = Spec {
        listen: default(),
        password: None,
    };
    for opt in value.split(',') {
        match opt.split_once('=') {
            Some(("unix", p)) => out.listen = Listen::Unix(p.to_string()),
            Some(("password", p)) => out.password = Some(p.to_string()),
            Some(("tcp" | "rfb", a)) => {
                let a: SocketAddr = a.parse().ok()?;
                let ip = match a.ip() {
                    ip if ip.is_loopback() => ip,
                    ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    _ => return None,
                };
                out.listen = Listen::Tcp(SocketAddr::new(ip, a.port()));
            }
            _ => {}
        }
    }
    Some(out)
}

/// Starts the zone's VNC server if its configuration asks for one. Called by boot once the
/// zone is running; failures are ignored, as bhyve's would only show on the missing console.
pub fn start(cx: &mut Ctx, zone: &str) {
    let Some(z) = cx.st.zones.get(zone) else {
        return;
    };
    if z.cfg.brand != "bhyve" {
        return;
    }
    let value = z
        .cfg
        .resources
        .iter()
        .find(|r| r.kind == "attr" && r.get("name") == Some("vnc"))
        .and_then(|r| r.get("value"))
        .unwrap_or("off");
    let (Some(spec), Some(booted)) = (spec(value), z.booted_ms) else {
        return;
    };
    let (listener, path) = match &spec.listen {
        Listen::Unix(socket) => {
            let path = cx.host.in_root(&format!(
                "{}/root/{}",
                z.cfg.zonepath,
                socket.trim_start_matches('/')
            ));
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::remove_file(&path);
            let Ok(l) = UnixListener::bind(&path) else {
                return;
            };
            if let Some(zz) = cx.st.zones.get_mut(zone) {
                zz.guest.vnc_socket = Some(path.display().to_string());
                cx.touch();
            }
            (Listener::Unix(l), Some(path))
        }
        Listen::Tcp(addr) => match TcpListener::bind(addr) {
            Ok(l) => (Listener::Tcp(l), None),
            Err(_) => return,
        },
    };
    // The state must say "running in this boot" before the server first looks at it.
    cx.unlock();
    detach(
        cx.host.clone(),
        zone.to_string(),
        booted,
        spec,
        listener,
        path,
    );
    cx.relock();
}

/// Removes the socket of the boot that ends (halt, reboot): a client connecting from now on
/// is refused at once; the serving process notices and exits.
pub fn stop(cx: &mut Ctx, zone: &str) {
    if let Some(p) = cx
        .st
        .zones
        .get_mut(zone)
        .and_then(|z| z.guest.vnc_socket.take())
    {
        let _ = std::fs::remove_file(p);
        cx.touch();
    }
}

/// A bound listener, either kind.
enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    fn raw_fd(&self) -> i32 {
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

/// Forks the serving process: a new session, stdio on /dev/null (the caller of zoneadm reads
/// its output to the end and must not wait for this process), and no descriptor of the
/// parent's but the listener (the host lock above all). A socket's `path` is watched: when
/// it is removed or replaced, the server exits; a TCP listener ends with the zone's boot.
fn detach(
    host: Host,
    zone: String,
    booted: u64,
    spec: Spec,
    listener: Listener,
    path: Option<PathBuf>,
) {
    // SAFETY: zoneadm is single-threaded, so the child may allocate and spawn threads; it
    // never returns into the caller's code (it ends with _exit).
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        return; // the parent (or a failed fork): its copy of the listener closes on drop
    }
    let keep = listener.raw_fd();
    // SAFETY: plain descriptor calls in the child on descriptors it owns.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        for fd in 3..4096 {
            if fd != keep {
                libc::close(fd);
            }
        }
    }
    serve(&host, &zone, booted, spec, listener, path.as_deref());
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(0) }
}

fn inode(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).ok().map(|m| m.ino())
}

fn serve(
    host: &Host,
    zone: &str,
    booted: u64,
    spec: Spec,
    listener: Listener,
    path: Option<&Path>,
) {
    let shared = Arc::new(rfb::Shared {
        screen: Mutex::new(screen::Screen::new(zone)),
        started: Instant::now(),
        password: spec.password,
    });
    let ours = path.map(inode);
    let (host, zone, path) = (host.clone(), zone.to_string(), path.map(Path::to_path_buf));
    std::thread::spawn(move || loop {
        // The state file is replaced by rename, so reading it without the lock sees a whole
        // state; a missing one means the emulated host was removed.
        let live = State::load(&host.state_path()).ok().is_some_and(|st| {
            st.zones
                .get(&zone)
                .is_some_and(|z| z.state == ZoneState::Running && z.booted_ms == Some(booted))
        });
        let still_ours = match (&path, ours) {
            (Some(p), Some(ours)) => ours.is_some() && inode(p) == ours,
            _ => true,
        };
        if !live || !still_ours {
            if let (true, Some(p)) = (still_ours, &path) {
                let _ = std::fs::remove_file(p);
            }
            // SAFETY: ends the whole process (every connection) without exit handlers.
            unsafe { libc::_exit(0) }
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    match listener {
        Listener::Unix(l) => {
            for conn in l.incoming().flatten() {
                let sh = shared.clone();
                std::thread::spawn(move || rfb::serve(conn, sh));
            }
        }
        Listener::Tcp(l) => {
            for conn in l.incoming().flatten() {
                let _ = conn.set_nodelay(true);
                let sh = shared.clone();
                std::thread::spawn(move || rfb::serve(conn, sh));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_names_the_socket_and_the_password() {
        assert_eq!(spec("off"), None);
        let unix = |p: &str| Listen::Unix(p.into());
        assert_eq!(spec("on").unwrap().listen, unix("/tmp/vm.vnc"));
        assert_eq!(spec("wait").unwrap().password, None);
        let s = spec("unix=/tmp/other.vnc,password=secret,wait").unwrap();
        assert_eq!(s.listen, unix("/tmp/other.vnc"));
        assert_eq!(s.password.as_deref(), Some("secret"));
        assert_eq!(spec("password=x").unwrap().listen, unix("/tmp/vm.vnc"));
        let tcp = |a: &str| Some(Listen::Tcp(a.parse().unwrap()));
        assert_eq!(
            spec("tcp=127.0.0.1:5900").map(|s| s.listen),
            tcp("127.0.0.1:5900")
        );
        assert_eq!(
            spec("tcp=0.0.0.0:5900").map(|s| s.listen),
            tcp("127.0.0.1:5900")
        );
        assert_eq!(spec("tcp=192.168.1.5:5900"), None, "only loopback is bound");
    }
}
