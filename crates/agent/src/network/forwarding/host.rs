//! Forwarding changes that journal the previous state, shared with the provisioning network.

use illumos::ipadm::{self, OnOff, Protocol};
use illumos::link::LinkName;
use illumos::persistence::Persistence;
use illumos::routeadm::{self, RoutingOption};

use crate::network::journal::{self, Carries, Entry};
use crate::tasks::{Cx, OpError};

/// Makes global forwarding `want`, journalling the previous state; returns whether it changed.
pub async fn ensure_global<E: Carries>(cx: &Cx<'_, E>, want: bool) -> Result<bool, OpError> {
    let now = routeadm::show_option(&cx.runner, RoutingOption::Ipv4Forwarding).await?;
    if now.current.is_enabled() == want && now.persistent.is_enabled() == want {
        return Ok(false);
    }
    journal::will_make(
        cx,
        Entry::GlobalForwarding {
            was_enabled: now.current.is_enabled(),
        },
    )
    .await?;
    routeadm::ensure(&cx.runner, RoutingOption::Ipv4Forwarding, want.into())
        .await
        .map_err(OpError::from)
}

/// Sets one interface's IPv4 forwarding when it differs; returns whether it changed.
pub async fn ensure_interface<E: Carries>(
    cx: &Cx<'_, E>,
    interface: &LinkName,
    want: bool,
) -> Result<bool, OpError> {
    let now = ipadm::show_forwarding(&cx.runner, Some(interface), Protocol::Ipv4).await?;
    let current = now.first().map(|f| f.current);
    let persistent = now.first().and_then(|f| f.persistent);
    let want_v = OnOff::from(want);
    if current == Some(want_v) && persistent == Some(want_v) {
        return Ok(false);
    }
    if now.is_empty() {
        return Err(OpError::failed(format!(
            "no IP interface named {interface}"
        )));
    }
    journal::will_make(
        cx,
        Entry::IfForwarding {
            interface: interface.clone(),
            was_on: current == Some(OnOff::On),
            was_persistent: persistent.map(|p| p == OnOff::On),
        },
    )
    .await?;
    ipadm::set_forwarding(
        &cx.runner,
        interface,
        Protocol::Ipv4,
        want_v,
        Persistence::Persistent,
    )
    .await?;
    Ok(true)
}
