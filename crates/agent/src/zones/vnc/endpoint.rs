//! Where a zone's VNC server is and how the agent reaches it.
//!
//! bhyve serves the framebuffer as its zone's attr `vnc` says (reference §1.2): `on` and
//! `wait` are the UNIX socket `/tmp/vm.vnc` inside the zone; an option string may name another
//! socket (`unix=PATH`, a path inside the zone), a TCP listener (`tcp=ADDR:PORT`, also spelled
//! `rfb=`) and a password (`password=`, VNC Authentication).
//!
//! - A socket lives under `<zonepath>/root`, 0700 root, so the agent (unprivileged) connects
//!   through its privileged helper, `zoneweaver-install vnc-connect ZONE <zonepath>/root/PATH`,
//!   whose stdin and stdout become the byte stream. The helper reads the zone's zonepath
//!   itself (from `/etc/zones/index`) and reaches only a socket inside that zone's root.
//! - A TCP listener is dialled directly, and only on loopback: bhyve binds the address it is
//!   given, and of those the agent reaches only one on this host (`127.0.0.0/8`, `::1`, or
//!   the wildcard, which bhyve binds on every address, loopback included). The agent dials
//!   nothing else, so a zone's configuration cannot point it at another machine.
//!
//! The password is the zone's own configuration (zonecfg is root's, the agent reads it like
//! every other attr); it is used for the agent's screenshot handshake only and never
//! returned, logged or stored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use illumos::install::Target;
use illumos::names::ZoneName;
use illumos::stream::ByteStream;
use illumos::zonecfg::ZoneConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// The socket inside the zone for `on` and `wait` (and an option string without `unix=`).
pub const SOCKET_IN_ZONE: &str = "/tmp/vm.vnc";

/// What a configuration kept in the database holds in place of a VNC password (see
/// `zones::store::without_secrets`): a zone whose setting shows it is read afresh.
pub const PASSWORD_NOT_KEPT: &str = "(not-kept)";

/// A VNC password from the zone's configuration. Never printed: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The stand-in of a configuration kept without its secrets, not a password.
    pub fn is_not_kept(&self) -> bool {
        self.0 == PASSWORD_NOT_KEPT
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Where bhyve listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// A UNIX socket, its path as bhyve inside the zone sees it (absolute, no `..`).
    Unix(String),
    /// A TCP listener on this address.
    Tcp(SocketAddr),
}

/// What a zone's `vnc` attribute gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Not a bhyve zone, or `vnc` absent or `off`.
    Off,
    On {
        listener: Listener,
        /// Set when the server asks for VNC Authentication.
        password: Option<Password>,
    },
    /// VNC is on, in a form the agent will not reach (why).
    Unsupported(String),
}

/// Reads an option string strictly: what the zone create and modify requests accept. The
/// error says what is wrong, for a 400 naming the field.
pub fn parse(value: &str) -> Result<Setting, String> {
    match value {
        "off" => return Ok(Setting::Off),
        "on" | "wait" => {
            return Ok(Setting::On {
                listener: Listener::Unix(SOCKET_IN_ZONE.into()),
                password: None,
            })
        }
        _ => {}
    }
    let mut listener = None;
    let mut password = None;
    for opt in value.split(',') {
        let (key, v) = opt.split_once('=').unwrap_or((opt, ""));
        let given = match key {
            "unix" => Some(Listener::Unix(in_zone_path(v)?)),
            "tcp" | "rfb" => Some(Listener::Tcp(tcp_address(v)?)),
            "password" => {
                if v.is_empty() || v.len() > 64 || !v.chars().all(|c| c.is_ascii_graphic()) {
                    return Err("password= must be 1 to 64 printable ASCII characters, \
                                no space or comma (VNC uses its first 8)"
                        .into());
                }
                password = Some(Password(v.to_owned()));
                None
            }
            "w" | "h" if v.parse::<u16>().is_ok_and(|n| n > 0) => None,
            "vga" if ["on", "off", "io"].contains(&v) => None,
            "wait" if v.is_empty() => None,
            _ => {
                return Err(format!(
                    "unknown or malformed VNC option {opt:?}: expected on, off, wait, or \
                     options unix=PATH, tcp=ADDR:PORT, password=, w=, h=, vga=, wait"
                ))
            }
        };
        if let Some(l) = given {
            if listener.replace(l).is_some() {
                return Err("VNC options name more than one listener (unix=, tcp=)".into());
            }
        }
    }
    Ok(Setting::On {
        listener: listener.unwrap_or_else(|| Listener::Unix(SOCKET_IN_ZONE.into())),
        password,
    })
}

/// A socket path inside the zone: absolute, no `..` (which could leave the zone's root), no
/// control character; `//` and `/./` collapse.
fn in_zone_path(p: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("unix={p}: the socket path {why}"));
    if !p.starts_with('/') {
        return bad("must be absolute (a path inside the zone)");
    }
    if p.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return bad("must not contain '..': it would leave the zone's root"),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return bad("must name a file, not the zone's root");
    }
    Ok(format!("/{}", parts.join("/")))
}

fn tcp_address(v: &str) -> Result<SocketAddr, String> {
    match v.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok(a),
        _ => Err(format!(
            "tcp={v}: expected an IP address and a port, e.g. 127.0.0.1:5900 or [::1]:5900"
        )),
    }
}

impl Setting {
    pub fn of(config: &ZoneConfig) -> Setting {
        if config.brand.as_deref() != Some("bhyve") {
            return Setting::Off;
        }
        Setting::parse(config.attr("vnc").unwrap_or("off"))
    }

    /// Reads what a zone has: a value the agent cannot use is `Unsupported`, with why.
    pub fn parse(value: &str) -> Setting {
        match value {
            "" => Setting::Off,
            v => parse(v).unwrap_or_else(Setting::Unsupported),
        }
    }

    pub fn enabled(&self) -> bool {
        !matches!(self, Setting::Off)
    }

    pub fn password(&self) -> Option<&Password> {
        match self {
            Setting::On { password, .. } => password.as_ref(),
            _ => None,
        }
    }

    /// How the agent reaches the server of `zone`, whose zonepath is `zonepath`.
    pub fn route(&self, zone: &ZoneName, zonepath: &str) -> Result<Route, String> {
        match self {
            Setting::Off => Err("VNC is off".into()),
            Setting::Unsupported(why) => Err(why.clone()),
            Setting::On {
                listener: Listener::Unix(p),
                ..
            } => socket_path(zonepath, p).map(|socket| Route::Helper {
                zone: zone.clone(),
                socket,
            }),
            Setting::On {
                listener: Listener::Tcp(a),
                ..
            } => dial_address(*a).map(Route::Tcp),
        }
    }
}

/// The loopback address the agent dials for a `tcp=` listener, if it dials one.
pub fn dial_address(a: SocketAddr) -> Result<SocketAddr, String> {
    let ip = match a.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip if ip.is_loopback() => ip,
        ip => {
            return Err(format!(
                "the VNC server listens on {ip}; the agent dials only a loopback or wildcard \
                 listener (tcp=127.0.0.1:PORT), never another address"
            ))
        }
    };
    Ok(SocketAddr::new(ip, a.port()))
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through the privileged helper, to this socket on the host inside `zone`'s root.
    Helper { zone: ZoneName, socket: Target },
    /// Directly, over loopback TCP.
    Tcp(SocketAddr),
}

/// The host path of the socket `in_zone` of a zone at `zonepath`.
pub fn socket_path(zonepath: &str, in_zone: &str) -> Result<Target, String> {
    format!("{}/root{in_zone}", zonepath.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("{e}"))
}

/// An open connection to the zone's VNC server, its RFB greeting already read (so a refusal
/// is known before a WebSocket is accepted).
pub struct Connection {
    /// The helper, for a socket (dropping it kills the helper).
    pub process: Option<ByteStream>,
    pub to_server: Box<dyn AsyncWrite + Send + Unpin>,
    pub from_server: Box<dyn AsyncRead + Send + Unpin>,
    pub greeting: [u8; 12],
}

/// Opens the stream and reads the server's 12-byte version greeting within `wait`.
pub async fn connect(
    runner: &illumos::Runner,
    route: &Route,
    wait: Duration,
) -> Result<Connection, String> {
    let (mut process, to_server, mut from_server) = match route {
        Route::Helper { zone, socket } => {
            let (p, w, r) = runner
                .spawn_stream(&illumos::install::vnc_connect_cmd(zone, socket))
                .map_err(|e| e.to_string())?;
            let w: Box<dyn AsyncWrite + Send + Unpin> = Box::new(w);
            let r: Box<dyn AsyncRead + Send + Unpin> = Box::new(r);
            (Some(p), w, r)
        }
        Route::Tcp(addr) => {
            let s = tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr))
                .await
                .map_err(|_| format!("{addr} did not accept within {} s", wait.as_secs()))?
                .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            let w: Box<dyn AsyncWrite + Send + Unpin> = Box::new(w);
            let r: Box<dyn AsyncRead + Send + Unpin> = Box::new(r);
            (None, w, r)
        }
    };
    let mut greeting = [0u8; 12];
    match tokio::time::timeout(wait, from_server.read_exact(&mut greeting)).await {
        Ok(Ok(_)) if greeting.starts_with(b"RFB ") => Ok(Connection {
            process,
            to_server,
            from_server,
            greeting,
        }),
        Ok(Ok(_)) => Err("the zone's VNC server did not greet in RFB".into()),
        Ok(Err(_)) => {
            let said = match process.as_mut() {
                Some(p) => p.ended().await,
                None => String::new(),
            };
            Err(if said.is_empty() {
                "the zone's VNC server closed the connection".into()
            } else {
                said
            })
        }
        Err(_) => Err(format!(
            "the zone's VNC server did not answer within {} s",
            wait.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(p: &str, password: Option<&str>) -> Setting {
        Setting::On {
            listener: Listener::Unix(p.into()),
            password: password.map(|p| Password(p.into())),
        }
    }

    #[test]
    fn the_attribute_says_whether_and_how_vnc_is_reached() {
        assert_eq!(Setting::parse("off"), Setting::Off);
        assert_eq!(Setting::parse("on"), unix("/tmp/vm.vnc", None));
        assert_eq!(Setting::parse("wait"), unix("/tmp/vm.vnc", None));
        assert_eq!(
            Setting::parse("unix=/tmp/vm.vnc,password=x,wait"),
            unix("/tmp/vm.vnc", Some("x"))
        );
        assert_eq!(
            Setting::parse("unix=/var//run/./o.vnc,w=1024,h=768"),
            unix("/var/run/o.vnc", None)
        );
        assert_eq!(
            Setting::parse("tcp=127.0.0.1:5901,password=pw"),
            Setting::On {
                listener: Listener::Tcp("127.0.0.1:5901".parse().unwrap()),
                password: Some(Password("pw".into())),
            }
        );
        assert_eq!(
            socket_path("/rpool/zones/vm1/", "/tmp/vm.vnc")
                .unwrap()
                .to_string(),
            "/rpool/zones/vm1/root/tmp/vm.vnc"
        );
    }

    #[test]
    fn a_socket_outside_the_zone_root_or_a_bad_option_is_refused() {
        for bad in [
            "unix=/../../etc/sock",
            "unix=/tmp/../../x",
            "unix=tmp/vm.vnc",
            "unix=/",
            "tcp=localhost:5900",
            "tcp=127.0.0.1:0",
            "unix=/a,tcp=127.0.0.1:5900",
            "password=",
            "bogus",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
            assert!(matches!(Setting::parse(bad), Setting::Unsupported(_)));
        }
        assert!(parse("unix=/tmp/../../etc/x").unwrap_err().contains(".."));
    }

    #[test]
    fn only_loopback_is_dialled() {
        let dial = |s: &str| dial_address(s.parse().unwrap());
        assert_eq!(
            dial("127.0.0.1:5900").unwrap().to_string(),
            "127.0.0.1:5900"
        );
        assert_eq!(dial("0.0.0.0:5900").unwrap().to_string(), "127.0.0.1:5900");
        assert_eq!(dial("[::]:5900").unwrap().to_string(), "[::1]:5900");
        assert!(dial("192.168.1.5:5900").is_err());
        assert!(dial("10.190.190.2:5900").is_err());
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = Setting::parse("password=s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
