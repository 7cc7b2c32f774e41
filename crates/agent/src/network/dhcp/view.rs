//! What the DHCP routes answer.

use illumos::smf::ServiceState;
use serde::Serialize;
use utoipa::ToSchema;

use super::conf::SubnetConfig;
use super::leases;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DhcpSubnetView {
    /// Network address (`10.190.190.0`).
    pub subnet: String,
    pub netmask: String,
    pub router: Option<String>,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    /// Comma-separated (`8.8.8.8,8.8.4.4`).
    pub dns: Option<String>,
    /// The service's `config/listen_ifnames` (first value).
    pub listen_interface: Option<String>,
}

pub fn subnet_view(c: &SubnetConfig, listen: Option<&String>) -> DhcpSubnetView {
    DhcpSubnetView {
        subnet: c.net.addr().to_string(),
        netmask: c.net.netmask().to_string(),
        router: c.router.map(|r| r.to_string()),
        range_start: c.range.map(|r| r.0.to_string()),
        range_end: c.range.map(|r| r.1.to_string()),
        dns: (!c.dns.is_empty()).then(|| {
            c.dns
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }),
        listen_interface: listen.cloned(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpConfigView {
    pub success: bool,
    /// The first subnet declaration (null when there is none).
    pub config: Option<DhcpSubnetView>,
    /// Every subnet declaration of the file.
    pub subnets: Vec<DhcpSubnetView>,
    pub service_enabled: bool,
    pub config_path: String,
}

pub fn service_running(state: Option<ServiceState>) -> bool {
    matches!(state, Some(ServiceState::Online | ServiceState::Degraded))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpHost {
    pub hostname: String,
    pub mac: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpHostList {
    pub success: bool,
    pub hosts: Vec<DhcpHost>,
    pub config_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpStatus {
    pub success: bool,
    /// The service FMRI without `svc:/network/` (`service/dhcp:ipv4` on OmniOS).
    pub service: String,
    pub state: String,
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseList {
    pub success: bool,
    pub leases: Vec<leases::Lease>,
    pub leases_path: String,
}
