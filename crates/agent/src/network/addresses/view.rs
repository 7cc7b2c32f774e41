//! What the address routes answer, read live from `ipadm show-addr`: ipadm's own columns
//! (`addrobj`, `type`, `state`, `addr`) and the original's derived keys (`interface`,
//! `ip_address`, `prefix_length`, `ip_version`).

use illumos::ipadm::{AddrState, AddrType, Address, ListedAddr, ListedAddrName};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressInfo {
    /// `INTERFACE/NAME`; `INTERFACE/?` for an address without an object name, or the name
    /// ipadm generated (`_a`).
    pub addrobj: String,
    pub interface: String,
    /// `static`, `dhcp`, `addrconf` (or `from-gz` inside a zone).
    #[serde(rename = "type")]
    pub kind: String,
    /// `ok`, `disabled`, `tentative`, `duplicate`, `down`, `inaccessible`.
    pub state: String,
    /// As ipadm prints it: `192.168.1.10/24`, `fe80::8:20ff:fe9b:1234%net0/10`, or `?` for a
    /// DHCP address not yet bound.
    pub addr: String,
    /// The address alone (no prefix, no scope); null while a DHCP address is unbound.
    pub ip_address: Option<String>,
    /// Null while a DHCP address is unbound.
    pub prefix_length: Option<u8>,
    /// `v4` or `v6`.
    pub ip_version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressList {
    pub success: bool,
    pub addresses: Vec<AddressInfo>,
    pub total: usize,
    /// Always `live`: read from ipadm for this request (the original could also answer from
    /// its scan table, `database`).
    pub source: &'static str,
}

fn kind(t: &AddrType) -> String {
    match t {
        AddrType::Static => "static".into(),
        AddrType::Dhcp => "dhcp".into(),
        AddrType::Addrconf => "addrconf".into(),
        AddrType::FromGz => "from-gz".into(),
        AddrType::Other(s) => s.clone(),
    }
}

pub fn state(s: &AddrState) -> String {
    match s {
        AddrState::Ok => "ok".into(),
        AddrState::Tentative => "tentative".into(),
        AddrState::Duplicate => "duplicate".into(),
        AddrState::Down => "down".into(),
        AddrState::Disabled => "disabled".into(),
        AddrState::Inaccessible => "inaccessible".into(),
        AddrState::Other(s) => s.clone(),
    }
}

impl From<&Address> for AddressInfo {
    fn from(a: &Address) -> Self {
        let name = match &a.name {
            ListedAddrName::Named(n) => n.to_string(),
            ListedAddrName::Unnamed => "?".into(),
            ListedAddrName::Generated(s) => s.clone(),
        };
        let (addr, ip_address, prefix_length, ip_version) = match &a.addr {
            ListedAddr::V4(c) => (
                c.to_string(),
                Some(c.addr().to_string()),
                Some(c.prefix()),
                "v4",
            ),
            ListedAddr::V6 {
                addr,
                prefix,
                scope,
            } => {
                let scoped = match scope {
                    Some(z) => format!("{addr}%{z}/{prefix}"),
                    None => format!("{addr}/{prefix}"),
                };
                (scoped, Some(addr.to_string()), Some(*prefix), "v6")
            }
            // ipadm's DHCP client is IPv4's.
            ListedAddr::Pending => ("?".into(), None, None, "v4"),
        };
        AddressInfo {
            addrobj: format!("{}/{name}", a.interface),
            interface: a.interface.to_string(),
            kind: kind(&a.kind),
            state: state(&a.state),
            addr,
            ip_address,
            prefix_length,
            ip_version,
        }
    }
}
