//! The address forms beyond a static IPv4 address: `create-addr -T static|dhcp|addrconf`,
//! `delete-addr -r`, and `enable-addr -t` / `disable-addr -t` (reference §1.6 for the synopses;
//! illumos-gate `usr/src/cmd/cmd-inet/usr.sbin/ipadm/ipadm.c` for enable/disable, which accept
//! only the temporary form: `persistent operation not supported for enable-addr`).

use std::net::IpAddr;

use crate::cmd::{Cmd, Tool};
use crate::net::AddrObj;
use crate::persistence::Persistence;
use crate::runner::Runner;

use super::{classify, classify_addr_lookup, classify_create_addr, IpFailure};

/// `ipadm: could not enable address: Address object already exists`, for an address that is
/// already enabled (libipadm status text; which status enable returns is inferred).
pub const ALREADY_ENABLED: &str = super::ADDROBJ_EXISTS;

/// An address and its prefix length, IPv4 or IPv6 (`192.168.50.1/24`, `fd00::1/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

impl IpCidr {
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, crate::link::InvalidValue> {
        let (max, reason) = if addr.is_ipv4() {
            (32, "an IPv4 prefix length is at most 32")
        } else {
            (128, "an IPv6 prefix length is at most 128")
        };
        if prefix > max {
            return Err(crate::link::InvalidValue::new(
                "address",
                &format!("{addr}/{prefix}"),
                reason,
            ));
        }
        Ok(IpCidr { addr, prefix })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl std::str::FromStr for IpCidr {
    type Err = crate::link::InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |r: &'static str| crate::link::InvalidValue::new("address", s, r);
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("must be ADDRESS/PREFIX (e.g. 192.168.50.1/24)"))?;
        let addr: IpAddr = a.parse().map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| bad("the prefix length must be a number"))?;
        IpCidr::new(addr, prefix)
    }
}

impl std::fmt::Display for IpCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// How `create-addr` gets the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSource {
    /// `-T static [-d] -a ADDR/PREFIX`; `down`: created but not marked up.
    Static { addr: IpCidr, down: bool },
    /// `-T dhcp [-1] [-w SECONDS]`; `primary`: this interface is the primary one for the
    /// client's host name and options.
    Dhcp {
        primary: bool,
        wait_secs: Option<u32>,
    },
    /// `-T addrconf`: an IPv6 link-local address (and stateless/stateful autoconfiguration).
    Addrconf,
}

impl AddrSource {
    /// The `-T` value.
    pub fn kind(&self) -> &'static str {
        match self {
            AddrSource::Static { .. } => "static",
            AddrSource::Dhcp { .. } => "dhcp",
            AddrSource::Addrconf => "addrconf",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot create {kind} address {addrobj}", kind = source_kind.kind())]
pub struct CreateAddrError {
    pub addrobj: AddrObj,
    pub source_kind: AddrSource,
    #[source]
    pub kind: IpFailure,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {verb} address {addrobj}")]
pub struct ToggleAddrError {
    pub addrobj: AddrObj,
    pub verb: &'static str,
    #[source]
    pub kind: IpFailure,
}

pub fn create_addr_cmd(addrobj: &AddrObj, source: &AddrSource, persistence: Persistence) -> Cmd {
    let cmd = Cmd::new(Tool::Ipadm)
        .arg("create-addr")
        .args(persistence.flag())
        .args(["-T", source.kind()]);
    let cmd = match source {
        AddrSource::Static { addr, down } => cmd
            .args(down.then_some("-d"))
            .arg("-a")
            .arg(addr.to_string()),
        AddrSource::Dhcp { primary, wait_secs } => {
            let cmd = cmd.args(primary.then_some("-1"));
            match wait_secs {
                Some(w) => cmd.arg("-w").arg(w.to_string()),
                None => cmd,
            }
        }
        AddrSource::Addrconf => cmd,
    };
    cmd.arg(addrobj.to_string())
}

/// `delete-addr [-r] ADDROBJ`; `release`: a DHCP address is released to the server rather
/// than dropped.
pub fn delete_addr_release_cmd(addrobj: &AddrObj, release: bool) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .arg("delete-addr")
        .args(release.then_some("-r"))
        .arg(addrobj.to_string())
}

/// `enable-addr -t ADDROBJ`: brings back a disabled address from its persistent configuration.
pub fn enable_addr_cmd(addrobj: &AddrObj) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .args(["enable-addr", "-t"])
        .arg(addrobj.to_string())
}

/// `disable-addr -t ADDROBJ`: takes the address down until enabled again or the next boot.
pub fn disable_addr_cmd(addrobj: &AddrObj) -> Cmd {
    Cmd::new(Tool::Ipadm)
        .args(["disable-addr", "-t"])
        .arg(addrobj.to_string())
}

/// Creates an address of any kind. `AlreadyExists` (the address object is taken),
/// `AddressInUse`, `InterfaceNotFound`.
pub async fn create_addr(
    run: &Runner,
    addrobj: &AddrObj,
    source: &AddrSource,
    persistence: Persistence,
) -> Result<(), CreateAddrError> {
    run.output(&create_addr_cmd(addrobj, source, persistence))
        .await
        .map(drop)
        .map_err(|e| CreateAddrError {
            addrobj: addrobj.clone(),
            source_kind: source.clone(),
            kind: classify(e, classify_create_addr),
        })
}

pub async fn delete_addr_release(
    run: &Runner,
    addrobj: &AddrObj,
    release: bool,
) -> Result<(), super::DeleteAddrError> {
    run.output(&delete_addr_release_cmd(addrobj, release))
        .await
        .map(drop)
        .map_err(|e| super::DeleteAddrError {
            addrobj: addrobj.clone(),
            kind: classify(e, classify_addr_lookup),
        })
}

fn toggle_failure(s: &str) -> Option<IpFailure> {
    if s.contains(ALREADY_ENABLED) {
        Some(IpFailure::AlreadyExists)
    } else {
        classify_addr_lookup(s)
    }
}

/// Enables a disabled address. `AlreadyExists` when it is enabled already, `AddressNotFound`.
pub async fn enable_addr(run: &Runner, addrobj: &AddrObj) -> Result<(), ToggleAddrError> {
    run.output(&enable_addr_cmd(addrobj))
        .await
        .map(drop)
        .map_err(|e| ToggleAddrError {
            addrobj: addrobj.clone(),
            verb: "enable",
            kind: classify(e, toggle_failure),
        })
}

/// Disables an address. `AddressNotFound` when there is no such (enabled) address.
pub async fn disable_addr(run: &Runner, addrobj: &AddrObj) -> Result<(), ToggleAddrError> {
    run.output(&disable_addr_cmd(addrobj))
        .await
        .map(drop)
        .map_err(|e| ToggleAddrError {
            addrobj: addrobj.clone(),
            verb: "disable",
            kind: classify(e, toggle_failure),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> AddrObj {
        s.parse().unwrap()
    }

    #[test]
    fn create_addr_argv_for_each_source() {
        let static4 = AddrSource::Static {
            addr: "10.0.0.5/24".parse().unwrap(),
            down: true,
        };
        assert_eq!(
            create_addr_cmd(&obj("vnic0/v4"), &static4, Persistence::Temporary).argv(),
            [
                "ipadm",
                "create-addr",
                "-t",
                "-T",
                "static",
                "-d",
                "-a",
                "10.0.0.5/24",
                "vnic0/v4"
            ]
        );
        let dhcp = AddrSource::Dhcp {
            primary: true,
            wait_secs: Some(30),
        };
        assert_eq!(
            create_addr_cmd(&obj("igb0/dhcp"), &dhcp, Persistence::Persistent).argv(),
            [
                "ipadm",
                "create-addr",
                "-T",
                "dhcp",
                "-1",
                "-w",
                "30",
                "igb0/dhcp"
            ]
        );
        assert_eq!(
            create_addr_cmd(
                &obj("igb0/v6"),
                &AddrSource::Addrconf,
                Persistence::Persistent
            )
            .argv(),
            ["ipadm", "create-addr", "-T", "addrconf", "igb0/v6"]
        );
    }

    #[test]
    fn enable_and_disable_are_always_temporary() {
        assert_eq!(
            enable_addr_cmd(&obj("igb0/v4")).argv(),
            ["ipadm", "enable-addr", "-t", "igb0/v4"]
        );
        assert_eq!(
            disable_addr_cmd(&obj("igb0/v4")).argv(),
            ["ipadm", "disable-addr", "-t", "igb0/v4"]
        );
        assert_eq!(
            delete_addr_release_cmd(&obj("igb0/dhcp"), true).argv(),
            ["ipadm", "delete-addr", "-r", "igb0/dhcp"]
        );
    }

    #[test]
    fn cidr_reads_both_families_and_bounds_the_prefix() {
        assert_eq!("fd00::1/64".parse::<IpCidr>().unwrap().prefix(), 64);
        assert_eq!(
            "192.168.50.1/24".parse::<IpCidr>().unwrap().to_string(),
            "192.168.50.1/24"
        );
        for bad in [
            "192.168.50.1",
            "192.168.50.1/33",
            "fd00::1/129",
            "x/24",
            "1.2.3.4/ 8",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
    }
}
