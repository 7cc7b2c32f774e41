//! Forwarding as the host has it now (`routeadm`, `ipadm`).

use illumos::ipadm::{self, Protocol};
use illumos::routeadm::{self, RoutingOption};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct InterfaceForwarding {
    pub name: String,
    /// `on` or `off`.
    pub ipv4_forwarding: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForwardingStatus {
    pub success: bool,
    /// `enabled` or `disabled` (routeadm's current state).
    pub global_ipv4_forwarding: String,
    pub interfaces: Vec<InterfaceForwarding>,
}

pub async fn status(run: &illumos::Runner) -> Result<ForwardingStatus, ApiError> {
    let global = routeadm::show_option(run, RoutingOption::Ipv4Forwarding)
        .await
        .map_err(ApiError::host)?;
    let ifs = ipadm::show_forwarding(run, None, Protocol::Ipv4)
        .await
        .map_err(ApiError::host)?;
    Ok(ForwardingStatus {
        success: true,
        global_ipv4_forwarding: global.current.as_str().to_owned(),
        interfaces: ifs
            .into_iter()
            .map(|f| InterfaceForwarding {
                name: f.interface.to_string(),
                ipv4_forwarding: f.current.as_str().to_owned(),
            })
            .collect(),
    })
}
