//! What the provisioning network routes answer, read live from the host.

use illumos::dladm;
use illumos::ipadm::{self, AddrFilter, ListedAddr};
use illumos::ipnat::NatRule;
use illumos::smf::ServiceState;
use serde::Serialize;
use utoipa::ToSchema;

use super::{configured, is_provisioning_rule};
use crate::http::error::ApiError;
use crate::network::dhcp;
use crate::network::nat;
use crate::network::{forwarding, NetworkServices};
use crate::tasks::routes::TaskAccepted;

/// The 202 of `POST /provisioning/network/setup`: the task, and what it is going to make (the
/// names the finished task's `components` show).
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupAccepted {
    #[serde(flatten)]
    pub task: TaskAccepted,
    pub components: SetupComponents,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupComponents {
    pub etherstub: String,
    pub host_vnic: String,
    /// The host's address on the provisioning network, with its prefix.
    pub host_ip: String,
    /// The default route's interface; absent when the host has none yet (the task fails then).
    pub physical_interface: Option<String>,
    /// The portmap rule the NAT step writes, when the interface is known.
    pub nat_rule: Option<String>,
    pub dhcp_subnet: String,
    /// `first - last` address of the DHCP pool.
    pub dhcp_range: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubStatus {
    pub name: String,
    pub exists: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostVnicStatus {
    pub name: String,
    pub exists: bool,
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NatComponent {
    pub configured: bool,
    pub rule: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DhcpComponent {
    pub configured: bool,
    pub service_enabled: bool,
    pub subnet: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForwardingComponent {
    pub global_enabled: bool,
    /// Interfaces with IPv4 forwarding on.
    pub interfaces: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Components {
    pub etherstub: EtherstubStatus,
    pub host_vnic: HostVnicStatus,
    pub nat: NatComponent,
    pub dhcp: DhcpComponent,
    pub forwarding: ForwardingComponent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisioningStatus {
    pub success: bool,
    /// Every component is in place.
    pub configured: bool,
    pub components: Components,
}

/// The provisioning network's components, read from the host.
pub async fn read_status(svc: &NetworkServices) -> Result<ProvisioningStatus, ApiError> {
    let p = configured(svc)?;
    let run = &svc.runner;
    let etherstub = dladm::etherstub_exists(run, &p.etherstub)
        .await
        .map_err(ApiError::host)?;
    let vnic = dladm::get_vnic(run, &p.host_vnic)
        .await
        .map_err(ApiError::host)?;
    let ip = ipadm::show_addr(run, &AddrFilter::Interface(p.host_vnic.clone()))
        .await
        .map_err(ApiError::host)?
        .into_iter()
        .find_map(|a| match a.addr {
            ListedAddr::V4(c) if p.subnet.contains(c.addr()) => Some(c.to_string()),
            _ => None,
        });
    let nat_conf = nat::read_conf(svc, run).await?;
    let nat_rule = nat_conf
        .rules()
        .map(|(_, r)| r)
        .find(|r| is_provisioning_rule(p, r) && matches!(r, NatRule::Map(m) if m.portmap.is_some()))
        .map(ToString::to_string);
    let dhcp_conf = dhcp::read_conf(svc, run).await?;
    let dhcp_configured = dhcp_conf.subnets().any(|s| s.net() == p.subnet);
    let dhcp_state = illumos::smf::service_state(run, &svc.settings.dhcp_service)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    let fwd = forwarding::status(run).await?;
    let components = Components {
        etherstub: EtherstubStatus {
            name: p.etherstub.to_string(),
            exists: etherstub,
        },
        host_vnic: HostVnicStatus {
            name: p.host_vnic.to_string(),
            exists: vnic.is_some(),
            ip,
        },
        nat: NatComponent {
            configured: nat_rule.is_some(),
            rule: nat_rule,
        },
        dhcp: DhcpComponent {
            configured: dhcp_configured,
            service_enabled: matches!(
                dhcp_state,
                Some(ServiceState::Online | ServiceState::Degraded)
            ),
            subnet: p.subnet.to_string(),
        },
        forwarding: ForwardingComponent {
            global_enabled: fwd.global_ipv4_forwarding == "enabled",
            interfaces: fwd
                .interfaces
                .into_iter()
                .filter(|i| i.ipv4_forwarding == "on")
                .map(|i| i.name)
                .collect(),
        },
    };
    let configured = components.etherstub.exists
        && components.host_vnic.exists
        && components.host_vnic.ip.is_some()
        && components.nat.configured
        && components.dhcp.configured
        && components.dhcp.service_enabled
        && components.forwarding.global_enabled;
    Ok(ProvisioningStatus {
        success: true,
        configured,
        components,
    })
}

/// The VNICs on the provisioning etherstub that a running zone holds (`dladm show-vnic` names
/// the zone a VNIC is lent to while the zone runs): `dladm delete-vnic` refuses them as busy,
/// so even a forced teardown stops before changing anything while one is there. `None` when
/// there is none; otherwise why, for the 409 or the failed task.
pub fn held_by_running_zones(
    vnics: &[dladm::Vnic],
    p: &crate::network::settings::ProvisioningNet,
) -> Option<String> {
    let held: Vec<String> = vnics
        .iter()
        .filter(|v| v.over == p.etherstub && v.link != p.host_vnic)
        .filter_map(|v| Some(format!("VNIC {} (zone {})", v.link, v.zone.as_ref()?)))
        .collect();
    (!held.is_empty()).then(|| {
        format!(
            "the provisioning etherstub has {} of running zones: halt them first (a VNIC a running zone holds cannot be deleted, even with force=true)",
            held.join(", ")
        )
    })
}

/// The VNICs over the etherstub other than the host VNIC, by name.
pub fn vnics_on_etherstub(
    vnics: &[dladm::Vnic],
    p: &crate::network::settings::ProvisioningNet,
) -> Vec<String> {
    vnics
        .iter()
        .filter(|v| v.over == p.etherstub && v.link != p.host_vnic)
        .map(|v| match &v.zone {
            Some(z) => format!("VNIC {} (zone {z})", v.link),
            None => format!("VNIC {}", v.link),
        })
        .collect()
}

/// What still uses the etherstub: VNICs over it other than the host VNIC (of `vnics`, as
/// `dladm show-vnic` listed them), and zones whose configuration puts a NIC on it
/// (`global-nic`), by name.
pub async fn users(
    svc: &NetworkServices,
    run: &illumos::Runner,
    vnics: &[dladm::Vnic],
) -> Result<Vec<String>, ApiError> {
    let p = &svc.settings.provisioning;
    let mut out = vnics_on_etherstub(vnics, p);
    let zones = illumos::zoneadm::list(run).await.map_err(ApiError::host)?;
    for z in zones.iter().filter(|z| z.name != "global") {
        let Ok(name) = z.name.parse::<illumos::names::ZoneName>() else {
            continue;
        };
        let Some(cfg) = illumos::zonecfg::export(run, &name)
            .await
            .map_err(ApiError::host)?
        else {
            continue;
        };
        if cfg
            .nets
            .iter()
            .any(|n| n.get("global-nic") == Some(p.etherstub.as_str()))
        {
            out.push(format!("zone {}", z.name));
        }
    }
    Ok(out)
}
