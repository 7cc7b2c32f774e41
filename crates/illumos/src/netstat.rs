//! netstat: the IPv4 routing table (`netstat -rn -f inet`).
//!
//! The reference documents `route get` only (§1.7); this follows illumos-gate `man8/netstat.8`
//! and `cmd/cmd-inet/usr.bin/netstat/netstat.c` (`ire_report_item_v4`): a `Routing Table: IPv4`
//! title, a header, a line of dashes, then one route per line: destination, gateway, flags,
//! ref, use and the interface, which is empty for a route through a gateway that names none.
//! It needs no privilege.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `default`, a host or a network address (netstat prints no prefix length).
    pub destination: String,
    pub gateway: String,
    /// `U` up, `G` through a gateway, `H` host, `S` static, `D` redirect, ...
    pub flags: String,
    pub refs: u64,
    pub uses: u64,
    pub interface: Option<String>,
}

pub fn routes_cmd() -> Cmd {
    Cmd::new(Tool::Netstat)
        .args(["-r", "-n", "-f", "inet"])
        .quiet()
}

pub fn parse_routes(text: &str) -> Result<Vec<Route>, ReadError> {
    let mut lines = text.lines();
    // Everything up to the dashes is the title and header.
    if !lines.any(|l| l.trim_start().starts_with("---")) {
        return Err(ReadError::parse(Tool::Netstat, "no routing table header"));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |v: &str| {
                v.parse::<u64>().map_err(|_| {
                    ReadError::parse(Tool::Netstat, format!("not a route line: {line:?}"))
                })
            };
            if !(5..=6).contains(&f.len()) {
                return Err(ReadError::parse(
                    Tool::Netstat,
                    format!("not a route line: {line:?}"),
                ));
            }
            Ok(Route {
                destination: f[0].to_owned(),
                gateway: f[1].to_owned(),
                flags: f[2].to_owned(),
                refs: num(f[3])?,
                uses: num(f[4])?,
                interface: f.get(5).map(|s| (*s).to_owned()),
            })
        })
        .collect()
}

pub async fn routes(run: &Runner) -> Result<Vec<Route>, ReadError> {
    parse_routes(&run.output(&routes_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    // netstat.8's layout: a blank line, the title, the header and the dashes.
    const SAMPLE: &str = "
Routing Table: IPv4
  Destination           Gateway           Flags  Ref     Use     Interface
-------------------- -------------------- ----- ----- ---------- ---------
default              192.168.1.1          UG        2      14003
127.0.0.1            127.0.0.1            UH        2        412 lo0
192.168.1.0          192.168.1.10         U         3        560 net0
";

    #[test]
    fn a_gateway_route_may_name_no_interface() {
        let r = parse_routes(SAMPLE).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].destination, "default");
        assert_eq!(r[0].gateway, "192.168.1.1");
        assert_eq!(
            (r[0].flags.as_str(), r[0].refs, r[0].uses),
            ("UG", 2, 14003)
        );
        assert_eq!(r[0].interface, None);
        assert_eq!(r[2].interface.as_deref(), Some("net0"));
        assert_eq!(routes_cmd().argv(), ["netstat", "-r", "-n", "-f", "inet"]);
    }

    #[test]
    fn output_without_the_table_is_refused() {
        assert!(parse_routes("netstat: bad\n").is_err());
        assert!(parse_routes("---\nx y\n").is_err());
    }
}
