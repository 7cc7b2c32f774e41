//! What network operations journal before they touch the host, and the one undo that replays
//! it. Entries are data (they survive `kill -9`); each undo step treats "already gone" as done.

use std::sync::Arc;

use illumos::persistence::Persistence;
use illumos::smf::{Fmri, Wait};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::conffile::{ConfFile, Replaced};
use super::NetworkServices;
use crate::tasks::{OpCx, OpError};

/// Which service reads a replaced config file, so an undo can make it read the old one again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    Ipnat,
    Dhcpd,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    Etherstub {
        name: String,
    },
    Vnic {
        name: String,
    },
    Interface {
        name: String,
    },
    Address {
        addrobj: String,
    },
    ConfigFile {
        file: Replaced,
        reader: Reader,
    },
    ServiceEnabled {
        fmri: String,
    },
    GlobalForwarding {
        was_enabled: bool,
    },
    /// `was_persistent`: the stored value before, `None` when there was none (reset).
    IfForwarding {
        interface: String,
        was_on: bool,
        #[serde(default)]
        was_persistent: Option<bool>,
    },
    ListenIfnames {
        previous: Vec<String>,
    },
    /// The provisioning teardown is about to change the host: from here on it is finished,
    /// not undone (`roll_forward`). Nothing to undo.
    TeardownBegun,
}

/// Journals that `file` is about to be replaced (its current version kept as the backup), then
/// writes `text` to the temp file beside it and returns that for the caller to check. The entry
/// comes first so that a failure or crash at any later point, even before the temp file is
/// renamed into place, is undone by restoring the backup, which also removes the temp file.
pub async fn stage_file(
    cx: &OpCx,
    file: &ConfFile,
    text: &str,
    reader: Reader,
) -> Result<ConfFile, OpError> {
    let replaced = file.keep_backup(&cx.runner).await?;
    cx.will_make(&Made::ConfigFile {
        file: replaced,
        reader,
    })
    .await?;
    file.write_temp(text)
}

/// Replays `journal` (newest first). Every step is tried; the first failure is returned.
pub async fn undo(
    svc: &Arc<NetworkServices>,
    cx: &OpCx,
    journal: Vec<Value>,
) -> Result<(), OpError> {
    let mut first: Option<OpError> = None;
    for entry in journal {
        let made: Made = match serde_json::from_value(entry) {
            Ok(m) => m,
            Err(e) => {
                first.get_or_insert(e.into());
                continue;
            }
        };
        cx.note(&format!("undo: {made:?}"));
        if let Err(e) = undo_one(svc, cx, &made).await {
            cx.note(&format!("undo failed: {e}"));
            first.get_or_insert(e);
        }
    }
    svc.links_changed();
    first.map_or(Ok(()), Err)
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, OpError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e: T::Err| OpError::failed(format!("bad journal entry {s:?}: {e}")))
}

async fn undo_one(svc: &Arc<NetworkServices>, cx: &OpCx, made: &Made) -> Result<(), OpError> {
    use illumos::dladm::LinkFailure;
    use illumos::ipadm::IpFailure;
    let run = &cx.runner;
    match made {
        Made::Etherstub { name } => {
            match illumos::dladm::delete_etherstub(run, &parse(name)?, Persistence::Persistent)
                .await
            {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Made::Vnic { name } => {
            match illumos::dladm::delete_vnic(run, &parse(name)?, Persistence::Persistent).await {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.kind, LinkFailure::NotFound) => Ok(()),
                Err(e) => Err(OpError::from(e)),
            }
        }
        Made::Interface { name } => match illumos::ipadm::delete_if(run, &parse(name)?).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => Ok(()),
            Err(e) => Err(OpError::from(e)),
        },
        Made::Address { addrobj } => {
            match illumos::ipadm::delete_addr(run, &parse(addrobj)?).await {
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
            }
        }
        Made::ConfigFile { file, reader } => {
            let conf = ConfFile::new(&svc.config, &parse(&file.path)?);
            conf.restore(run, file).await?;
            match reader {
                Reader::Ipnat => super::nat::reload_if_online(svc, cx).await.map(drop),
                Reader::Dhcpd => super::dhcp::restart_if_running(svc, cx).await,
            }
        }
        Made::ServiceEnabled { fmri } => {
            let fmri: Fmri = parse(fmri)?;
            illumos::smf::disable(run, &fmri, Wait::ForState, Persistence::Persistent)
                .await
                .map_err(OpError::from)
        }
        Made::GlobalForwarding { was_enabled } => illumos::routeadm::ensure(
            run,
            illumos::routeadm::RoutingOption::Ipv4Forwarding,
            (*was_enabled).into(),
        )
        .await
        .map(drop)
        .map_err(OpError::from),
        Made::IfForwarding {
            interface,
            was_persistent,
            ..
        } => {
            let interface = parse(interface)?;
            let r = match was_persistent {
                None => {
                    illumos::ipadm::reset_forwarding(
                        run,
                        &interface,
                        illumos::ipadm::Protocol::Ipv4,
                        Persistence::Persistent,
                    )
                    .await
                }
                Some(p) => {
                    illumos::ipadm::set_forwarding(
                        run,
                        &interface,
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
        Made::TeardownBegun => Ok(()),
        Made::ListenIfnames { previous } => {
            let value = super::dhcp::listen_value(previous)?;
            super::dhcp::set_listen(svc, cx, value).await
        }
    }
}
