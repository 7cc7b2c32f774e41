//! `route -n get default`: the host's default route, used to find the physical interface to
//! NAT through.
//!
//! The reference (§2, §4.4) fixes only the exit status: 3 (ESRCH) means there is no such route.
//! The output layout is not in the reference; this parser reads illumos `route get`'s
//! `key: value` lines (`   route to: default`, `    gateway: 192.168.1.1`,
//! `  interface: igb0`, `      flags: <UP,GATEWAY,DONE,STATIC>`) and ignores the metrics table
//! after them, so it depends on the labels only, not on their padding. To be confirmed on a
//! real host.

use std::net::Ipv4Addr;

use crate::cmd::{Cmd, Tool};
use crate::link::LinkName;
use crate::parsable::ParseError;
use crate::runner::{CommandError, Runner};

/// `route -n get` exit status when the route does not exist (ESRCH; reference §2).
pub const EXIT_NO_SUCH_ROUTE: i32 = 3;

/// The default route as `route get` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    pub gateway: Ipv4Addr,
    /// The outgoing IP interface as printed (may be a logical interface such as `igb0:1`).
    pub interface: Option<String>,
    /// The words between `<` and `>` on the flags line.
    pub flags: Vec<String>,
}

impl DefaultRoute {
    /// The datalink under the outgoing interface (`igb0` for `igb0` or `igb0:1`).
    pub fn link(&self) -> Option<LinkName> {
        let name = self.interface.as_deref()?;
        name.split(':').next()?.parse().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouteFailure {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Command(CommandError),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the default route")]
pub struct GetDefaultError {
    #[source]
    pub kind: RouteFailure,
}

/// `route -n get default` (`-n`: no name lookups, which could hang without DNS).
pub fn get_default_cmd() -> Cmd {
    Cmd::new(Tool::Route).args(["-n", "get", "default"])
}

/// Parses `route -n get default`.
pub fn parse_get(text: &str) -> Result<DefaultRoute, ParseError> {
    let mut gateway = None;
    let mut interface = None;
    let mut flags = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "gateway" => {
                gateway = Some(value.parse::<Ipv4Addr>().map_err(|_| {
                    ParseError::new("route get", line, "gateway is not an IPv4 address")
                })?)
            }
            "interface" => interface = Some(value.to_owned()),
            "flags" => {
                flags = value
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            _ => {}
        }
    }
    let gateway = gateway.ok_or_else(|| ParseError::new("route get", text, "no gateway line"))?;
    Ok(DefaultRoute {
        gateway,
        interface,
        flags,
    })
}

/// The default route, or `None` when there is none (exit status 3).
pub async fn get_default(run: &Runner) -> Result<Option<DefaultRoute>, GetDefaultError> {
    match run.output(&get_default_cmd()).await {
        Ok(out) => parse_get(&out.stdout)
            .map(Some)
            .map_err(|e| GetDefaultError { kind: e.into() }),
        Err(CommandError::Failed(f)) if f.code == Some(EXIT_NO_SUCH_ROUTE) => Ok(None),
        Err(e) => Err(GetDefaultError {
            kind: RouteFailure::Command(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layout of illumos `route get` (not from the reference; see the module comment).
    const ROUTE_GET: &str = "   route to: default
destination: default
       mask: default
    gateway: 192.168.1.1
  interface: igb0
      flags: <UP,GATEWAY,DONE,STATIC>
 recvpipe  sendpipe  ssthresh    rtt,ms rttvar,ms  hopcount      mtu     expire
       0         0         0         0         0         0      1500         0
";

    #[test]
    fn default_route_reads_labels_not_columns() {
        let r = parse_get(ROUTE_GET).unwrap();
        assert_eq!(r.gateway, Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(r.interface.as_deref(), Some("igb0"));
        assert_eq!(r.link().unwrap().as_str(), "igb0");
        assert_eq!(r.flags, ["UP", "GATEWAY", "DONE", "STATIC"]);
    }

    #[test]
    fn logical_interface_maps_to_its_link() {
        let r = parse_get("gateway: 10.0.0.1\ninterface: igb0:1\n").unwrap();
        assert_eq!(r.link().unwrap().as_str(), "igb0");
    }

    #[test]
    fn no_gateway_is_an_error() {
        assert!(parse_get("   route to: default\n").is_err());
        assert!(parse_get("gateway: router.example\n").is_err());
    }

    #[test]
    fn get_default_argv() {
        assert_eq!(get_default_cmd().argv(), ["route", "-n", "get", "default"]);
    }

    #[tokio::test]
    async fn exit_3_means_no_default_route() {
        use crate::fake::{FakeHost, Reply};
        let get = ["route", "-n", "get", "default"];
        let host = FakeHost::new();
        host.expect(
            get,
            Reply::fails(3, "route: writing to routing socket: No such process\n"),
        )
        .expect(get, Reply::fails(1, "boom\n"));
        let run = host.runner();
        assert_eq!(get_default(&run).await.unwrap(), None);
        assert!(get_default(&run).await.is_err());
        host.verify();
    }
}
