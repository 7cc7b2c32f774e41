//! DHCP requests, validated into the operations' parameters (a [`FieldError`] names the
//! field).

use std::net::Ipv4Addr;

use illumos::net::{Ipv4Cidr, Ipv4Net};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::conf::{DhcpConf, SubnetConfig};
use super::host::host_conflict;
use super::ops::{AddHostParams, ConfigParams};
use crate::error::FieldError;
use crate::http::error::ApiError;
use crate::network::settings::usable_in;
use crate::network::validate;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DhcpConfigRequest {
    /// Network address (`10.190.190.0`); with `netmask`, names the subnet declaration to
    /// create or update. Other subnets are left alone.
    pub subnet: String,
    pub netmask: String,
    /// Default gateway handed to clients; inside the subnet.
    pub router: String,
    pub range_start: String,
    pub range_end: String,
    /// DNS servers, comma-separated IPv4 addresses.
    pub dns: Option<String>,
    /// IP interface the server listens on (`config/listen_ifnames`); must exist.
    pub listen_interface: Option<String>,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

/// Validates a subnet configuration: every address inside the subnet, the range ordered and
/// clear of the network and broadcast addresses.
pub fn subnet_config(
    net: Ipv4Net,
    router: Ipv4Addr,
    start: Ipv4Addr,
    end: Ipv4Addr,
    dns: Vec<Ipv4Addr>,
) -> Result<SubnetConfig, FieldError> {
    for (field, a) in [
        ("router", router),
        ("range_start", start),
        ("range_end", end),
    ] {
        if !usable_in(net, a) {
            return Err(FieldError::new(
                field,
                format!("{field}: {a} is not a usable host address of {net}"),
            ));
        }
    }
    if u32::from(start) > u32::from(end) {
        return Err(FieldError::new(
            "range_end",
            "range_end must not come before range_start",
        ));
    }
    Ok(SubnetConfig {
        net,
        router: Some(router),
        range: Some((start, end)),
        dns,
    })
}

impl DhcpConfigRequest {
    /// The task's parameters: the subnet's declaration and the interface to listen on.
    pub fn validate(&self) -> Result<ConfigParams, FieldError> {
        let addr = validate::ipv4("subnet", &self.subnet)?;
        let mask: illumos::net::Ipv4Netmask = self
            .netmask
            .parse()
            .map_err(|e| FieldError::new("netmask", format!("netmask: {e}")))?;
        let net = Ipv4Cidr::new(addr, mask.prefix())
            .and_then(Ipv4Net::try_from)
            .map_err(|_| {
                FieldError::new(
                    "subnet",
                    format!(
                        "subnet: {addr} is not the network address of a /{} subnet",
                        mask.prefix()
                    ),
                )
            })?;
        let router = validate::ipv4("router", &self.router)?;
        let start = validate::ipv4("range_start", &self.range_start)?;
        let end = validate::ipv4("range_end", &self.range_end)?;
        let mut dns = Vec::new();
        if let Some(d) = &self.dns {
            // Empty means none; otherwise every comma-separated part is an address, blanks
            // around it allowed (`a, b`); an empty part is a mistake worth naming, not
            // something to skip. The file gets the parsed addresses, never this text.
            if !d.is_empty() {
                for part in d.split(',') {
                    dns.push(validate::ipv4("dns", part.trim())?);
                }
            }
            if dns.len() > 8 {
                return Err(FieldError::new("dns", "dns: at most 8 servers"));
            }
        }
        let cfg = subnet_config(net, router, start, end, dns)?;
        let listen_interface = self
            .listen_interface
            .as_deref()
            .map(|l| validate::link("listen_interface", l))
            .transpose()?;
        Ok(ConfigParams {
            subnet: net,
            router,
            range_start: start,
            range_end: end,
            dns: cfg.dns,
            listen_interface,
        })
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHostRequest {
    /// Unique: 1 to 63 letters, digits, `-`, `_`, `.`.
    pub hostname: String,
    /// Any common notation; stored as `02:08:20:ab:cd:01`. Unique.
    pub mac: String,
    /// Inside a configured subnet, not its network or broadcast address. Unique.
    pub ip: String,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

impl AddHostRequest {
    pub fn validate(&self) -> Result<AddHostParams, FieldError> {
        Ok(AddHostParams {
            hostname: HostName::new("hostname", &self.hostname)?,
            mac: validate::mac("mac", &self.mac)?,
            ip: validate::ipv4("ip", &self.ip)?,
        })
    }
}

/// A DHCP host declaration's name, validated (see [`validate::hostname`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName(String);

impl HostName {
    pub fn new(field: &str, s: &str) -> Result<HostName, FieldError> {
        validate::hostname(field, s).map(HostName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for HostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for HostName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        HostName::new("hostname", &s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Why a host reservation cannot be added: a value refused (400) or a clash (409).
#[derive(Debug, thiserror::Error)]
pub enum HostRefused {
    #[error("{}", .0.message)]
    Field(FieldError),
    #[error("{0}")]
    Conflict(String),
}

impl From<HostRefused> for ApiError {
    fn from(e: HostRefused) -> Self {
        match e {
            HostRefused::Field(f) => f.into(),
            HostRefused::Conflict(c) => ApiError::conflict(c),
        }
    }
}

/// The address must be usable in a configured subnet, and nothing may already use the name,
/// MAC or address.
pub fn check_host(conf: &DhcpConf, host: &AddHostParams) -> Result<(), HostRefused> {
    let ip = host.ip;
    if !conf.subnets().any(|s| usable_in(s.net(), ip)) {
        return Err(HostRefused::Field(FieldError::new(
            "ip",
            format!("ip: {ip} is not a usable address of any configured DHCP subnet"),
        )));
    }
    if let Some(c) = host_conflict(conf, &host.entry()) {
        return Err(HostRefused::Conflict(c));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Start,
    Stop,
    Refresh,
    Restart,
}

impl ServiceAction {
    /// As the request names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Refresh => "refresh",
            ServiceAction::Restart => "restart",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    pub action: ServiceAction,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

#[cfg(test)]
mod tests {
    use super::super::conf::HostEntry;
    use super::*;
    use serde_json::{json, Value};

    fn req(v: Value) -> DhcpConfigRequest {
        serde_json::from_value(v).unwrap()
    }

    fn spec_example() -> Value {
        json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0", "router": "10.190.190.1",
            "range_start": "10.190.190.10", "range_end": "10.190.190.254",
            "dns": "8.8.8.8,8.8.4.4", "listen_interface": "provision_interconnect0"})
    }

    #[test]
    fn the_spec_example_validates() {
        let spec = req(spec_example()).validate().unwrap();
        assert_eq!(spec.subnet.to_string(), "10.190.190.0/24");
        assert_eq!(spec.dns.len(), 2);
        assert_eq!(
            spec.listen_interface.unwrap().as_str(),
            "provision_interconnect0"
        );
    }

    #[test]
    fn bad_ranges_name_their_field() {
        for (k, v, field) in [
            ("subnet", "10.190.190.1", "subnet"),
            ("netmask", "255.0.255.0", "netmask"),
            ("router", "10.190.191.1", "router"),
            ("range_start", "10.190.190.0", "range_start"),
            ("range_end", "10.190.190.255", "range_end"),
            ("range_end", "10.190.190.5", "range_end"),
            ("dns", "8.8.8.8;", "dns"),
            ("listen_interface", "vnic0\n}", "listen_interface"),
        ] {
            let mut body = spec_example();
            body[k] = json!(v);
            let e = req(body).validate().unwrap_err();
            assert_eq!(e.field, field, "{k}={v}");
        }
    }

    #[test]
    fn conflicts_name_the_clashing_entry() {
        let conf = DhcpConf::parse(
            "subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.10 10.0.0.20; }\nhost a { hardware ethernet 2:8:20:0:0:1; fixed-address 10.0.0.5; }\n",
        )
        .unwrap();
        let h = |n: &str, m: &str, i: &str| HostEntry {
            name: n.into(),
            mac: Some(m.parse().unwrap()),
            ip: Some(i.parse().unwrap()),
        };
        let c = host_conflict(&conf, &h("b", "02:08:20:00:00:01", "10.0.0.6")).unwrap();
        assert!(
            c.contains("MAC address") && c.contains("host entry a"),
            "{c}"
        );
        assert!(
            host_conflict(&conf, &h("b", "02:08:20:00:00:02", "10.0.0.5"))
                .unwrap()
                .contains("IP address")
        );
        assert!(
            host_conflict(&conf, &h("a", "02:08:20:00:00:02", "10.0.0.6"))
                .unwrap()
                .contains("hostname")
        );
        assert!(host_conflict(&conf, &h("b", "02:08:20:00:00:02", "10.0.0.6")).is_none());
        let add = |ip: &str| AddHostParams {
            hostname: HostName::new("hostname", "b").unwrap(),
            mac: "02:08:20:00:00:02".parse().unwrap(),
            ip: ip.parse().unwrap(),
        };
        assert!(matches!(
            check_host(&conf, &add("10.0.1.6")),
            Err(HostRefused::Field(f)) if f.field == "ip"
        ));
        assert!(check_host(&conf, &add("10.0.0.255")).is_err());
        assert!(matches!(
            check_host(&conf, &add("10.0.0.5")),
            Err(HostRefused::Conflict(c)) if c.contains("IP address")
        ));
        assert!(check_host(&conf, &add("10.0.0.6")).is_ok());
    }

    #[test]
    fn a_host_request_validates_each_field() {
        let ok = AddHostRequest {
            hostname: "web-01".into(),
            mac: "0208.20AB.CD01".into(),
            ip: "10.0.0.5".into(),
            created_by: None,
        };
        let p = ok.validate().unwrap();
        assert_eq!(p.mac.to_string(), "02:08:20:ab:cd:01");
        for (field, req) in [
            (
                "hostname",
                AddHostRequest {
                    hostname: "a b".into(),
                    ..ok.clone()
                },
            ),
            (
                "mac",
                AddHostRequest {
                    mac: "02:08:20:ab:cd".into(),
                    ..ok.clone()
                },
            ),
            (
                "ip",
                AddHostRequest {
                    ip: "10.0.0.256".into(),
                    ..ok.clone()
                },
            ),
        ] {
            assert_eq!(req.validate().unwrap_err().field, field);
        }
    }
}
