//! What network operations journal before they touch the host, and the one undo that replays
//! it. Entries are data (they survive `kill -9`); each undo step treats "already gone" as done.

use std::sync::Arc;

use illumos::link::LinkName;
use illumos::net::AddrObj;
use illumos::persistence::Persistence;
use illumos::smf::{Fmri, Wait};
use serde::{Deserialize, Serialize};

use super::conffile::{ConfFile, Replaced};
use super::NetworkServices;
use crate::tasks::{Cx, OpError};

/// Which service reads a replaced config file, so an undo can make it read the old one again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    Ipnat,
    Dhcpd,
}

/// What a network operation is about to make, journalled before it makes it. Names are typed:
/// an entry is written as the tool's text and one that does not read back fails the undo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Etherstub {
        name: LinkName,
    },
    Vnic {
        name: LinkName,
    },
    Vlan {
        name: LinkName,
    },
    Interface {
        name: LinkName,
    },
    Address {
        #[serde(with = "super::serde_text")]
        addrobj: AddrObj,
    },
    ConfigFile {
        file: Replaced,
        reader: Reader,
    },
    ServiceEnabled {
        fmri: Fmri,
    },
    GlobalForwarding {
        was_enabled: bool,
    },
    /// `was_persistent`: the stored value before, `None` when there was none (reset).
    IfForwarding {
        interface: LinkName,
        was_on: bool,
        #[serde(default)]
        was_persistent: Option<bool>,
    },
    /// The service's `config/listen_ifnames` before, as `svcprop` showed it.
    ListenIfnames {
        previous: Vec<String>,
    },
    /// A create found a link of this name already there (another task's, or made outside the
    /// agent): the entry journalled before the create names a link this task did not make, and
    /// the undo leaves it alone.
    Existed {
        name: LinkName,
    },
    /// The same for an address object: a create found it already there.
    ExistedAddress {
        #[serde(with = "super::serde_text")]
        addrobj: AddrObj,
    },
    /// The provisioning teardown is about to change the host: from here on it is finished,
    /// not undone (`roll_forward`). Nothing to undo.
    TeardownBegun,
}

/// A journal that can carry network entries: the network operations' own ([`Entry`]), or
/// another area's enum with a variant for them (provisioning's), so the functions that
/// journal can be shared.
pub trait Carries: From<Entry> + Serialize + Send + Sync {}

impl<E: From<Entry> + Serialize + Send + Sync> Carries for E {}

/// Journals `entry` in `cx`'s own entry type.
pub async fn will_make<E: Carries>(cx: &Cx<'_, E>, entry: Entry) -> Result<(), OpError> {
    cx.will_make(&E::from(entry)).await
}

/// The `undo` of a network operation whose service is `self.0`: replay its journal (inside
/// `impl TaskOp`, with the operation's parameter type).
macro_rules! undo_by_journal {
    ($params:ty) => {
        async fn undo(
            &self,
            cx: &$crate::tasks::Cx<'_, $crate::network::journal::Entry>,
            _params: $params,
            journal: Vec<$crate::network::journal::Entry>,
        ) -> Result<(), $crate::tasks::OpError> {
            $crate::network::journal::undo(&self.0, cx, journal).await
        }
    };
}
pub(crate) use undo_by_journal;

/// Journals that `file` is about to be replaced (its current version kept as the backup), then
/// writes `text` to the temp file beside it and returns that for the caller to check. The entry
/// comes first so that a failure or crash at any later point, even before the temp file is
/// renamed into place, is undone by restoring the backup, which also removes the temp file.
pub async fn stage_file<E: Carries>(
    cx: &Cx<'_, E>,
    file: &ConfFile,
    text: &str,
    reader: Reader,
) -> Result<ConfFile, OpError> {
    let replaced = file.keep_backup(&cx.runner).await?;
    will_make(
        cx,
        Entry::ConfigFile {
            file: replaced,
            reader,
        },
    )
    .await?;
    file.write_temp(text)
}

/// Replays `journal` (newest first). Every step is tried; the first failure is returned.
pub async fn undo<E: Carries>(
    svc: &Arc<NetworkServices>,
    cx: &Cx<'_, E>,
    journal: Vec<Entry>,
) -> Result<(), OpError> {
    let mut first: Option<OpError> = None;
    // Newest first, so an `Existed` is read before the entry it withdraws.
    let mut existed: Vec<LinkName> = Vec::new();
    let mut existed_addrs: Vec<AddrObj> = Vec::new();
    for made in journal {
        match &made {
            Entry::Existed { name } => {
                existed.push(name.clone());
                continue;
            }
            Entry::ExistedAddress { addrobj } => {
                existed_addrs.push(addrobj.clone());
                continue;
            }
            Entry::Etherstub { name } | Entry::Vnic { name } | Entry::Vlan { name }
                if existed.contains(name) =>
            {
                cx.note(&format!(
                    "undo: leaving {name}: it was there before this task"
                ));
                continue;
            }
            Entry::Address { addrobj } if existed_addrs.contains(addrobj) => {
                cx.note(&format!(
                    "undo: leaving {addrobj}: it was there before this task"
                ));
                continue;
            }
            _ => {}
        }
        // The entry as journalled (its data, not its Debug form).
        let text = serde_json::to_string(&made).unwrap_or_default();
        cx.note(&format!("undo: {text}"));
        if let Err(e) = undo_one(svc, cx, &made).await {
            cx.note(&format!("undo failed: {e}"));
            first.get_or_insert(e);
        }
    }
    svc.links_changed();
    first.map_or(Ok(()), Err)
}

async fn undo_one<E: Carries>(
    svc: &Arc<NetworkServices>,
    cx: &Cx<'_, E>,
    made: &Entry,
) -> Result<(), OpError> {
    use illumos::dladm::LinkFailure;
    use illumos::ipadm::IpFailure;
    let run = &cx.runner;
    match made {
        Entry::Etherstub { name } => {
            match illumos::dladm::delete_etherstub(run, name, Persistence::Persistent).await {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Entry::Vnic { name } => {
            match illumos::dladm::delete_vnic(run, name, Persistence::Persistent).await {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Entry::Vlan { name } => {
            match illumos::dladm::vlan::delete_vlan(run, name, Persistence::Persistent).await {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Entry::Interface { name } => match illumos::ipadm::delete_if(run, name).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => Ok(()),
            Err(e) => Err(OpError::from(e)),
        },
        Entry::Address { addrobj } => match illumos::ipadm::delete_addr(run, addrobj).await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind,
                    IpFailure::AddressNotFound | IpFailure::InterfaceNotFound
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(OpError::from(e)),
        },
        Entry::ConfigFile { file, reader } => {
            let conf = ConfFile::new(&svc.config, &file.path);
            conf.restore(run, file).await?;
            match reader {
                Reader::Ipnat => super::nat::reload_if_online(svc, cx).await.map(drop),
                Reader::Dhcpd => super::dhcp::restart_after_restore(svc, cx).await,
            }
        }
        Entry::ServiceEnabled { fmri } => {
            illumos::smf::disable(run, fmri, Wait::ForState, Persistence::Persistent)
                .await
                .map_err(OpError::from)
        }
        Entry::GlobalForwarding { was_enabled } => illumos::routeadm::ensure(
            run,
            illumos::routeadm::RoutingOption::Ipv4Forwarding,
            (*was_enabled).into(),
        )
        .await
        .map(drop)
        .map_err(OpError::from),
        Entry::IfForwarding {
            interface,
            was_persistent,
            ..
        } => {
            let r = match was_persistent {
                None => {
                    illumos::ipadm::reset_forwarding(
                        run,
                        interface,
                        illumos::ipadm::Protocol::Ipv4,
                        Persistence::Persistent,
                    )
                    .await
                }
                Some(p) => {
                    illumos::ipadm::set_forwarding(
                        run,
                        interface,
                        illumos::ipadm::Protocol::Ipv4,
                        (*p).into(),
                        Persistence::Persistent,
                    )
                    .await
                }
            };
            match r {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Entry::TeardownBegun | Entry::Existed { .. } | Entry::ExistedAddress { .. } => Ok(()),
        Entry::ListenIfnames { previous } => {
            let value = super::dhcp::listen_value(previous)?;
            super::dhcp::restore_listen(svc, cx, value).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[test]
    fn journals_written_before_read_back_as_typed_entries() {
        for stored in [
            json!({"kind": "etherstub", "name": "estub0"}),
            json!({"kind": "vnic", "name": "vnic0"}),
            json!({"kind": "vlan", "name": "igb12000"}),
            json!({"kind": "existed_address", "addrobj": "igb0/v4"}),
            json!({"kind": "interface", "name": "vnic0"}),
            json!({"kind": "address", "addrobj": "vnic0/v4"}),
            json!({"kind": "config_file", "file": {"path": "/etc/ipf/ipnat.conf", "existed": true},
                "reader": "ipnat"}),
            json!({"kind": "service_enabled", "fmri": "svc:/network/ipfilter:default"}),
            json!({"kind": "global_forwarding", "was_enabled": false}),
            json!({"kind": "if_forwarding", "interface": "igb0", "was_on": true,
                "was_persistent": null}),
            json!({"kind": "listen_ifnames", "previous": ["igb0"]}),
            json!({"kind": "teardown_begun"}),
        ] {
            crate::network::assert_same_shape::<Entry>(stored);
        }
        // Written before was_persistent existed.
        let old: Entry = serde_json::from_value(
            json!({"kind": "if_forwarding", "interface": "igb0", "was_on": true}),
        )
        .unwrap();
        assert!(matches!(
            old,
            Entry::IfForwarding {
                was_persistent: None,
                ..
            }
        ));
    }

    #[test]
    fn an_entry_naming_an_invalid_link_does_not_read() {
        for bad in [
            json!({"kind": "vnic", "name": "vnic0;rm"}),
            json!({"kind": "address", "addrobj": "vnic0"}),
            json!({"kind": "config_file", "file": {"path": "relative", "existed": true},
                "reader": "dhcpd"}),
        ] {
            assert!(
                serde_json::from_value::<Entry>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
