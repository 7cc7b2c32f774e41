//! The `network:` and `provisioning.network:` settings, checked once at start-up and held typed,
//! so a bad config.yaml stops the agent naming the key instead of failing a task later.

use std::net::Ipv4Addr;

use illumos::ipnat::ConfPath;
use illumos::link::LinkName;
use illumos::net::{Ipv4Cidr, Ipv4Net};
use illumos::smf::Fmri;

use crate::config::Config;

/// The provisioning network as configured (`provisioning.network.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningNet {
    pub enabled: bool,
    pub etherstub: LinkName,
    pub host_vnic: LinkName,
    pub subnet: Ipv4Net,
    pub host_ip: Ipv4Addr,
    pub range_start: Ipv4Addr,
    pub range_end: Ipv4Addr,
}

impl ProvisioningNet {
    /// Whether the addresses fit together: host and pool inside the subnet, pool ordered. Not
    /// checked at start-up (an original agent's file that changed only `subnet` must still
    /// load); setup, status and teardown refuse an inconsistent configuration naming the key.
    pub fn consistency(&self) -> Result<(), Bad> {
        for (key, a) in [
            ("provisioning.network.host_ip", self.host_ip),
            ("provisioning.network.dhcp_range_start", self.range_start),
            ("provisioning.network.dhcp_range_end", self.range_end),
        ] {
            if !usable_in(self.subnet, a) {
                return Err((
                    key,
                    format!("{a} is not a usable host address of {}", self.subnet),
                ));
            }
        }
        if u32::from(self.range_start) > u32::from(self.range_end) {
            return Err((
                "provisioning.network.dhcp_range_end",
                "must not come before dhcp_range_start".into(),
            ));
        }
        if self.etherstub == self.host_vnic {
            return Err((
                "provisioning.network.host_vnic_name",
                "must differ from etherstub_name".into(),
            ));
        }
        Ok(())
    }

    /// The host's address with the subnet's prefix (`10.190.190.1/24`).
    pub fn host_cidr(&self) -> Ipv4Cidr {
        Ipv4Cidr::new(self.host_ip, self.subnet.prefix()).expect("prefix of a valid net")
    }
}

/// Everything the network area reads from the configuration, validated. A file path that is
/// `None` is the service's own (see `network::paths`).
#[derive(Debug, Clone)]
pub struct NetSettings {
    pub ipnat_conf: Option<ConfPath>,
    pub ipfilter: Fmri,
    pub dhcp_conf: Option<ConfPath>,
    pub dhcp_leases: Option<ConfPath>,
    pub dhcp_service: Fmri,
    pub dhcpd_path: std::path::PathBuf,
    pub provisioning: ProvisioningNet,
}

type Bad = (&'static str, String);

fn parse<T: std::str::FromStr>(key: &'static str, v: &str) -> Result<T, Bad>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e: T::Err| (key, e.to_string()))
}

/// An optional path key: unset or empty means "ask the service".
fn parse_opt(key: &'static str, v: &Option<String>) -> Result<Option<ConfPath>, Bad> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse(key, s))
        .transpose()
}

/// A DHCP pool bound: inside the subnet, not its network or broadcast address.
pub fn usable_in(net: Ipv4Net, ip: Ipv4Addr) -> bool {
    let host_bits = 32 - u32::from(net.prefix());
    let broadcast = if host_bits == 0 {
        u32::from(net.addr())
    } else {
        u32::from(net.addr()) | ((1u64 << host_bits) - 1) as u32
    };
    net.contains(ip)
        && (net.prefix() >= 31
            || (u32::from(ip) != u32::from(net.addr()) && u32::from(ip) != broadcast))
}

impl NetSettings {
    pub fn from_config(c: &Config) -> Result<NetSettings, Bad> {
        let n = &c.network;
        let p = &c.provisioning.network;
        let subnet: Ipv4Net = parse("provisioning.network.subnet", &p.subnet)?;
        let provisioning = ProvisioningNet {
            enabled: p.enabled,
            etherstub: parse("provisioning.network.etherstub_name", &p.etherstub_name)?,
            host_vnic: parse("provisioning.network.host_vnic_name", &p.host_vnic_name)?,
            subnet,
            host_ip: parse("provisioning.network.host_ip", &p.host_ip)?,
            range_start: parse("provisioning.network.dhcp_range_start", &p.dhcp_range_start)?,
            range_end: parse("provisioning.network.dhcp_range_end", &p.dhcp_range_end)?,
        };
        if !n.dhcpd_path.is_absolute() {
            return Err(("network.dhcpd_path", "must be an absolute path".into()));
        }
        Ok(NetSettings {
            ipnat_conf: parse_opt("network.ipnat_config_path", &n.ipnat_config_path)?,
            ipfilter: parse("network.ipfilter_service", &n.ipfilter_service)?,
            dhcp_conf: parse_opt("network.dhcp_config_path", &n.dhcp_config_path)?,
            dhcp_leases: parse_opt("network.dhcp_leases_path", &n.dhcp_leases_path)?,
            dhcp_service: parse("network.dhcp_service", &n.dhcp_service)?,
            dhcpd_path: n.dhcpd_path.clone(),
            provisioning,
        })
    }
}

impl Config {
    /// The network keys' rules; called from [`Config::check`].
    pub(crate) fn check_network(&self) -> Result<(), Bad> {
        NetSettings::from_config(self).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        let s = NetSettings::from_config(&Config::default()).unwrap();
        assert_eq!(s.provisioning.etherstub.as_str(), "estub_provision0");
        assert_eq!(s.provisioning.host_cidr().to_string(), "10.190.190.1/24");
    }

    #[test]
    fn the_defaults_are_omnios_and_ask_the_services_for_their_files() {
        let s = NetSettings::from_config(&Config::default()).unwrap();
        assert_eq!(s.dhcp_service.as_str(), "svc:/network/service/dhcp:ipv4");
        assert_eq!(s.dhcpd_path, std::path::PathBuf::from("/usr/sbin/dhcpd"));
        assert!(s.ipnat_conf.is_none() && s.dhcp_conf.is_none() && s.dhcp_leases.is_none());
        let c = Config::parse(
            "network:\n  dhcp_config_path: /etc/site/dhcpd.conf\n  dhcp_leases_path:\n",
            "c.yaml",
        )
        .unwrap();
        let s = NetSettings::from_config(&c).unwrap();
        assert_eq!(s.dhcp_conf.unwrap().to_string(), "/etc/site/dhcpd.conf");
        assert!(s.dhcp_leases.is_none());
        let err = Config::parse("network:\n  dhcp_leases_path: var/db/x\n", "c.yaml").unwrap_err();
        assert!(
            err.to_string().contains("network.dhcp_leases_path"),
            "{err}"
        );
    }

    #[test]
    fn the_original_etherstub_name_is_refused_by_key() {
        let err = Config::parse(
            "provisioning:\n  network:\n    etherstub_name: estub_provision\n",
            "c.yaml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("provisioning.network.etherstub_name"),
            "{err}"
        );
    }

    #[test]
    fn an_inconsistent_pool_loads_but_is_refused_by_key() {
        let c = Config::parse(
            "provisioning:\n  network:\n    dhcp_range_end: 10.190.191.5\n",
            "c.yaml",
        )
        .unwrap();
        let p = NetSettings::from_config(&c).unwrap().provisioning;
        assert_eq!(
            p.consistency().unwrap_err().0,
            "provisioning.network.dhcp_range_end"
        );
        let c = Config::parse(
            "provisioning:\n  network:\n    dhcp_range_start: 10.190.190.200\n    dhcp_range_end: 10.190.190.100\n",
            "c.yaml",
        )
        .unwrap();
        let p = NetSettings::from_config(&c).unwrap().provisioning;
        assert_eq!(
            p.consistency().unwrap_err().0,
            "provisioning.network.dhcp_range_end"
        );
        assert!(NetSettings::from_config(&Config::default())
            .unwrap()
            .provisioning
            .consistency()
            .is_ok());
    }

    #[test]
    fn usable_excludes_network_and_broadcast() {
        let net: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        assert!(!usable_in(net, "10.0.0.0".parse().unwrap()));
        assert!(!usable_in(net, "10.0.0.255".parse().unwrap()));
        assert!(usable_in(net, "10.0.0.1".parse().unwrap()));
        assert!(!usable_in(net, "10.0.1.1".parse().unwrap()));
    }
}
