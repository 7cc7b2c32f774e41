//! Where a zone's VNC server is and how the agent reaches it.
//!
//! bhyve serves the framebuffer on a UNIX socket inside the zone (reference §1.2, attr `vnc`:
//! `on` = `unix=/tmp/vm.vnc`, `wait` the same, or an option string). The zonepath is 0700
//! root, so the agent (unprivileged) connects through its privileged helper,
//! `zoneweaver-install vnc-connect <zonepath>/root/tmp/vm.vnc`, whose stdin and stdout become
//! the byte stream; the agent never opens a port of its own for it.

use std::time::Duration;

use illumos::install::Target;
use illumos::stream::ByteStream;
use illumos::zonecfg::ZoneConfig;
use tokio::io::AsyncReadExt;
use tokio::process::{ChildStdin, ChildStdout};

/// The only socket path inside the zone the helper reaches (the brand's for `on`/`wait`).
pub const SOCKET_IN_ZONE: &str = "/tmp/vm.vnc";

/// What a zone's `vnc` attribute gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Not a bhyve zone, or `vnc` absent or `off`.
    Off,
    /// A socket the agent can bridge; `password` when VNC Authentication is on.
    Socket { password: bool },
    /// VNC is on, in a form the agent cannot bridge (a TCP listener, another socket path).
    Unsupported(String),
}

impl Setting {
    pub fn of(config: &ZoneConfig) -> Setting {
        if config.brand.as_deref() != Some("bhyve") {
            return Setting::Off;
        }
        Setting::parse(config.attr("vnc").unwrap_or("off"))
    }

    pub fn parse(value: &str) -> Setting {
        match value {
            "" | "off" => return Setting::Off,
            "on" | "wait" => return Setting::Socket { password: false },
            _ => {}
        }
        let mut password = false;
        for opt in value.split(',') {
            match opt.split_once('=') {
                Some(("unix", p)) if p != SOCKET_IN_ZONE => {
                    return Setting::Unsupported(format!(
                        "the VNC socket is {p}; the agent reaches only {SOCKET_IN_ZONE}"
                    ))
                }
                Some(("tcp", _)) => {
                    return Setting::Unsupported(
                        "the VNC server listens on TCP (tcp=); the agent bridges only the zone's UNIX socket"
                            .into(),
                    )
                }
                Some(("password", _)) => password = true,
                _ => {}
            }
        }
        Setting::Socket { password }
    }

    pub fn enabled(&self) -> bool {
        !matches!(self, Setting::Off)
    }
}

/// The socket's host path for a zone at `zonepath`.
pub fn socket_path(zonepath: &str) -> Result<Target, String> {
    format!("{}/root{SOCKET_IN_ZONE}", zonepath.trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("{e}"))
}

/// An open connection to the zone's VNC server, its RFB greeting already read (so a refusal
/// is known before a WebSocket is accepted).
pub struct Connection {
    pub process: ByteStream,
    pub to_server: ChildStdin,
    pub from_server: ChildStdout,
    pub greeting: [u8; 12],
}

/// Opens the stream and reads the server's 12-byte version greeting within `wait`.
pub async fn connect(
    runner: &illumos::Runner,
    socket: &Target,
    wait: Duration,
) -> Result<Connection, String> {
    let (mut process, to_server, mut from_server) = runner
        .spawn_stream(&illumos::install::vnc_connect_cmd(socket))
        .map_err(|e| e.to_string())?;
    let mut greeting = [0u8; 12];
    match tokio::time::timeout(wait, from_server.read_exact(&mut greeting)).await {
        Ok(Ok(_)) if greeting.starts_with(b"RFB ") => Ok(Connection {
            process,
            to_server,
            from_server,
            greeting,
        }),
        Ok(Ok(_)) => Err("the zone's VNC socket did not greet in RFB".into()),
        Ok(Err(_)) => {
            let said = process.ended().await;
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

    #[test]
    fn the_attribute_says_whether_and_how_vnc_is_reached() {
        assert_eq!(Setting::parse("off"), Setting::Off);
        assert_eq!(Setting::parse("on"), Setting::Socket { password: false });
        assert_eq!(Setting::parse("wait"), Setting::Socket { password: false });
        assert_eq!(
            Setting::parse("unix=/tmp/vm.vnc,password=x,wait"),
            Setting::Socket { password: true }
        );
        assert!(matches!(
            Setting::parse("tcp=0.0.0.0:5900"),
            Setting::Unsupported(_)
        ));
        assert!(matches!(
            Setting::parse("unix=/tmp/o.vnc"),
            Setting::Unsupported(_)
        ));
        assert_eq!(
            socket_path("/rpool/zones/vm1/").unwrap().to_string(),
            "/rpool/zones/vm1/root/tmp/vm.vnc"
        );
    }
}
