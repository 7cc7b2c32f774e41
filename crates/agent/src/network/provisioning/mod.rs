//! `/provisioning/network/*`: the provisioning network in one idempotent task.
//!
//! Setup converges each component (etherstub, host VNIC, host address, NAT through the
//! default route's interface, forwarding, DHCP subnet and service): it reads the host, changes
//! only what is missing or different, and reports each component as `created`, `updated` or
//! `unchanged`. It holds every lock it may need, so two setups run one after the other and the
//! second finds nothing to do; a setup asked for while one is queued joins that task.

mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use illumos::ipnat::{MapRule, NatProto, NatRule, Portmap, PortmapPorts};
use illumos::link::LinkName;
use illumos::net::{AddrObj, Ipv4Cidr};

use crate::http::error::ApiError;
use crate::network::settings::ProvisioningNet;
use crate::network::{
    link_lock, NetworkServices, LOCK_DHCPD, LOCK_FORWARDING, LOCK_IPNAT, LOCK_PROVISIONING,
};
use crate::tasks::{op, NewTask, Operation};

pub use routes::{queue_setup, router};
pub use view::read_status;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::SetupOp(svc.clone())),
        op(ops::TeardownOp(svc.clone())),
    ]
}

/// The host's address object on the provisioning VNIC (`VNIC/v4`).
pub fn addrobj(p: &ProvisioningNet) -> AddrObj {
    AddrObj::new(p.host_vnic.clone(), "v4".parse().expect("a valid name"))
}

/// The two rules setup writes: the portmap for TCP/UDP, then the plain map for the rest.
pub fn nat_rules(p: &ProvisioningNet, physical: &LinkName) -> [NatRule; 2] {
    let plain = MapRule {
        interface: physical.clone(),
        source: p.subnet.cidr(),
        target: Ipv4Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 32).expect("valid"),
        portmap: None,
    };
    let portmap = MapRule {
        portmap: Some(Portmap {
            proto: NatProto::TcpUdp,
            ports: PortmapPorts::Auto,
        }),
        ..plain.clone()
    };
    [NatRule::Map(portmap), NatRule::Map(plain)]
}

/// Map rules (portmap or plain, to the interface's address) for the provisioning subnet on any
/// interface: what teardown removes and status looks for.
pub fn is_provisioning_rule(p: &ProvisioningNet, r: &NatRule) -> bool {
    matches!(r, NatRule::Map(m) if m.source == p.subnet.cidr() && m.target.addr().is_unspecified())
}

/// The configured provisioning network, or a 409 naming the config.yaml key that is wrong.
pub fn configured(svc: &NetworkServices) -> Result<&ProvisioningNet, ApiError> {
    let p = &svc.settings.provisioning;
    p.consistency()
        .map_err(|(key, e)| ApiError::conflict(format!("config.yaml {key}: {e}")))?;
    Ok(p)
}

pub fn all_locks(p: &ProvisioningNet, new: NewTask) -> NewTask {
    new.lock(LOCK_PROVISIONING)
        .lock(LOCK_IPNAT)
        .lock(LOCK_DHCPD)
        .lock(LOCK_FORWARDING)
        .lock(link_lock(p.etherstub.as_str()))
        .lock(link_lock(p.host_vnic.as_str()))
}
