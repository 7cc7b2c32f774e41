//! The address operations: create (plumbing the interface first when it is not), delete (and
//! the interface the last address leaves empty, as the original did), enable and disable.

use std::sync::Arc;

use illumos::ipadm::addr::{self, AddrSource, IpCidr};
use illumos::ipadm::{self, AddrFilter, AddrState, IpFailure};
use illumos::net::AddrObj;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::network::journal::{self, Entry};
use crate::network::{persistence, NetworkServices};
use crate::tasks::{Cx, OpError, TaskOp};

pub const CREATE_ADDRESS: &str = "network_create_address";
pub const DELETE_ADDRESS: &str = "network_delete_address";
pub const TOGGLE_ADDRESS: &str = "network_toggle_address";

/// How the address is made, in a task's parameters as the request named it (`type`,
/// `address`, `down`, `primary`, `wait`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SourceWire", into = "SourceWire")]
pub struct Source(pub AddrSource);

impl From<AddrSource> for Source {
    fn from(s: AddrSource) -> Self {
        Source(s)
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SourceWire {
    Static {
        #[serde(with = "crate::network::serde_text")]
        address: IpCidr,
        #[serde(default)]
        down: bool,
    },
    Dhcp {
        #[serde(default)]
        primary: bool,
        #[serde(default)]
        wait: Option<u32>,
    },
    Addrconf,
}

impl From<SourceWire> for Source {
    fn from(w: SourceWire) -> Self {
        Source(match w {
            SourceWire::Static { address, down } => AddrSource::Static {
                addr: address,
                down,
            },
            SourceWire::Dhcp { primary, wait } => AddrSource::Dhcp {
                primary,
                wait_secs: wait,
            },
            SourceWire::Addrconf => AddrSource::Addrconf,
        })
    }
}

impl From<Source> for SourceWire {
    fn from(s: Source) -> Self {
        match s.0 {
            AddrSource::Static { addr, down } => SourceWire::Static {
                address: addr,
                down,
            },
            AddrSource::Dhcp { primary, wait_secs } => SourceWire::Dhcp {
                primary,
                wait: wait_secs,
            },
            AddrSource::Addrconf => SourceWire::Addrconf,
        }
    }
}

/// `network_create_address`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateAddress {
    #[serde(with = "crate::network::serde_text")]
    pub addrobj: AddrObj,
    #[serde(flatten)]
    pub source: Source,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_address`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteAddress {
    #[serde(with = "crate::network::serde_text")]
    pub addrobj: AddrObj,
    #[serde(default)]
    pub release: bool,
}

/// `network_toggle_address`: `enable-addr -t` or `disable-addr -t`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ToggleAddress {
    #[serde(with = "crate::network::serde_text")]
    pub addrobj: AddrObj,
    pub enable: bool,
}

pub struct CreateAddressOp(pub Arc<NetworkServices>);

impl TaskOp for CreateAddressOp {
    type Params = CreateAddress;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_ADDRESS
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateAddress) -> Result<Option<Value>, OpError> {
        let interface = p.addrobj.interface.clone();
        let persistence = persistence(p.temporary);
        let plumb = ipadm::show_if(&cx.runner, Some(&interface))
            .await?
            .is_empty();
        if plumb {
            cx.progress(10, &format!("plumbing IP interface {interface}"))
                .await?;
            cx.will_make(&Entry::Interface {
                name: interface.clone(),
            })
            .await?;
            ipadm::create_if(&cx.runner, &interface, persistence).await?;
        }
        cx.progress(
            50,
            &format!("creating {} address {}", p.source.0.kind(), p.addrobj),
        )
        .await?;
        cx.will_make(&Entry::Address {
            addrobj: p.addrobj.clone(),
        })
        .await?;
        let r = addr::create_addr(&cx.runner, &p.addrobj, &p.source.0, persistence).await;
        if let Err(e) = r {
            if matches!(e.kind, IpFailure::AlreadyExists) {
                // Not ours: the undo must not delete the address that was already there.
                cx.will_make(&Entry::ExistedAddress {
                    addrobj: p.addrobj.clone(),
                })
                .await?;
            }
            return Err(e.into());
        }
        Ok(Some(json!({
            "addrobj": p.addrobj.to_string(),
            "interface": interface.as_str(),
            "type": p.source.0.kind(),
            "created_interface": plumb,
        })))
    }

    journal::undo_by_journal!(CreateAddress);
}

pub struct DeleteAddressOp;

impl TaskOp for DeleteAddressOp {
    type Params = DeleteAddress;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_ADDRESS
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteAddress) -> Result<Option<Value>, OpError> {
        let interface = p.addrobj.interface.clone();
        cx.progress(10, &format!("deleting address {}", p.addrobj))
            .await?;
        match addr::delete_addr_release(&cx.runner, &p.addrobj, p.release).await {
            Ok(()) => {}
            Err(e) if matches!(e.kind, IpFailure::AddressNotFound) => {
                cx.note(&format!("address {} was already gone", p.addrobj));
            }
            Err(e) => return Err(e.into()),
        }
        // The original unplumbed an interface its last address left empty, so that the link
        // under it can be deleted next; lo0 is never unplumbed.
        let left = ipadm::show_addr(&cx.runner, &AddrFilter::Interface(interface.clone())).await?;
        let mut deleted_interface = false;
        if left.is_empty() && interface.as_str() != "lo0" {
            cx.progress(60, &format!("unplumbing empty IP interface {interface}"))
                .await?;
            match ipadm::delete_if(&cx.runner, &interface).await {
                Ok(()) => deleted_interface = true,
                Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(json!({
            "addrobj": p.addrobj.to_string(),
            "deleted_interface": deleted_interface,
        })))
    }
}

pub struct ToggleAddressOp;

impl TaskOp for ToggleAddressOp {
    type Params = ToggleAddress;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        TOGGLE_ADDRESS
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: ToggleAddress) -> Result<Option<Value>, OpError> {
        let verb = if p.enable { "enabling" } else { "disabling" };
        cx.progress(10, &format!("{verb} address {}", p.addrobj))
            .await?;
        let r = if p.enable {
            addr::enable_addr(&cx.runner, &p.addrobj).await
        } else {
            addr::disable_addr(&cx.runner, &p.addrobj).await
        };
        if let Err(e) = r {
            // Already in the state asked for: enable says the object exists, disable finds
            // no active object while show-addr still lists it as disabled.
            let listed = ipadm::show_addr(&cx.runner, &AddrFilter::Object(p.addrobj.clone()))
                .await?
                .into_iter()
                .next();
            let already = match (&e.kind, listed) {
                (IpFailure::AlreadyExists, Some(_)) => p.enable,
                (IpFailure::AddressNotFound, Some(a)) => {
                    !p.enable && a.state == AddrState::Disabled
                }
                _ => false,
            };
            if !already {
                return Err(e.into());
            }
            cx.note(&format!("address {} was already so", p.addrobj));
        }
        Ok(Some(json!({
            "addrobj": p.addrobj.to_string(),
            "enabled": p.enable,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_address_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateAddress>(serde_json::json!({
            "addrobj": "vnic0/v4", "type": "static", "address": "10.0.0.1/24", "down": false,
            "temporary": true,
        }));
        assert_same_shape::<CreateAddress>(serde_json::json!({
            "addrobj": "igb0/d", "type": "dhcp", "primary": true, "wait": null,
            "temporary": false,
        }));
        assert_same_shape::<CreateAddress>(
            serde_json::json!({"addrobj": "igb0/v6", "type": "addrconf", "temporary": false}),
        );
        assert_same_shape::<DeleteAddress>(
            serde_json::json!({"addrobj": "igb0/d", "release": true}),
        );
        assert_same_shape::<ToggleAddress>(
            serde_json::json!({"addrobj": "igb0/v4", "enable": false}),
        );
    }

    #[test]
    fn an_address_task_with_a_bad_value_does_not_read() {
        for bad in [
            serde_json::json!({"addrobj": "igb0", "type": "addrconf"}),
            serde_json::json!({"addrobj": "igb0/v4", "type": "static", "address": "10.0.0.1"}),
            serde_json::json!({"addrobj": "igb0/v4", "type": "bogus"}),
        ] {
            assert!(
                serde_json::from_value::<CreateAddress>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
