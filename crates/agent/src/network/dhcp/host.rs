//! dhcpd.conf and the DHCP service on the host: read, apply a new version, restart, listen
//! interfaces (see the module doc of `network::dhcp`). Shared with the provisioning network.

use illumos::link::LinkName;
use illumos::persistence::Persistence;
use std::time::Duration;

use illumos::smf::{self, Fmri, PropName, PropValue, ServiceState, SmfString, Wait};

use super::check;
use super::conf::{DhcpConf, HostEntry};
use crate::network::conffile::{ConfFile, Loaded};
use crate::network::journal::{self, Carries, Entry, Reader};
use crate::network::paths::HostFile;
use crate::network::NetworkServices;
use crate::services::settle::{self, poll_state, Polled};
use crate::tasks::{Cx, OpCx, OpError};

/// dhcpd.conf as the service names it now (or as config.yaml overrides it).
pub async fn dhcp_file(svc: &NetworkServices, run: &illumos::Runner) -> Result<ConfFile, OpError> {
    svc.file_of(run, HostFile::DhcpConf)
        .await
        .map_err(OpError::from)
}

pub fn parse_conf(file: &ConfFile) -> Result<DhcpConf, OpError> {
    let text = file.read()?.unwrap_or_default();
    DhcpConf::parse(&text)
        .map_err(|e| OpError::failed(format!("{} cannot be edited safely: {e}", file.illumos)))
}

pub async fn read_conf(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Loaded<DhcpConf>, OpError> {
    let file = dhcp_file(svc, run).await?;
    let conf = parse_conf(&file)?;
    Ok(Loaded { file, conf })
}

fn listen_prop() -> PropName {
    "config/listen_ifnames"
        .parse()
        .expect("a valid property name")
}

/// `config/listen_ifnames` of the DHCP service (running snapshot).
pub async fn listen_ifnames(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Vec<String>, illumos::smf::SvcpropError> {
    Ok(
        smf::svcprop(run, &svc.settings.dhcp_service, &listen_prop())
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// Sets `config/listen_ifnames`, refreshes the service so the property is in its running
/// snapshot, and restarts a running server: its method reads the property only at start.
pub async fn set_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    value: PropValue,
) -> Result<(), OpError> {
    put_listen(svc, cx, &value).await?;
    restart_if_running(svc, cx).await
}

/// [`set_listen`] for an undo: see [`restart_after_restore`].
pub async fn restore_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    value: PropValue,
) -> Result<(), OpError> {
    put_listen(svc, cx, &value).await?;
    restart_after_restore(svc, cx).await
}

async fn put_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    value: &PropValue,
) -> Result<(), OpError> {
    smf::setprop(
        &cx.runner,
        &svc.settings.dhcp_service,
        &listen_prop(),
        value,
    )
    .await?;
    smf::refresh(&cx.runner, &svc.settings.dhcp_service).await?;
    Ok(())
}

/// The property value for `ifnames`; none is the package's default, one empty value (every
/// interface, reference §1.11).
pub fn listen_value(ifnames: &[String]) -> Result<PropValue, OpError> {
    if ifnames.is_empty() {
        return Ok(PropValue::EmptyAstring);
    }
    let values = ifnames
        .iter()
        .map(|v| v.parse::<SmfString>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OpError::failed(format!("bad listen_ifnames value: {e}")))?;
    Ok(PropValue::Astrings(values))
}

/// Makes the service listen on `interface`; returns whether it changed. A server already
/// running (`serving`) keeps the interfaces it serves and gains `interface`, or keeps listening
/// everywhere (an empty list, the package's default); otherwise it is to listen on `interface`
/// alone (the spec's check after a provisioning setup).
pub async fn ensure_listening_on<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    interface: &LinkName,
    serving: bool,
) -> Result<bool, OpError> {
    let now = listen_ifnames(svc, &cx.runner).await?;
    let present = now.iter().any(|n| n == interface.as_str());
    if (serving && (present || now.is_empty())) || (!serving && now == [interface.to_string()]) {
        return Ok(false);
    }
    journal::will_make(
        cx,
        Entry::ListenIfnames {
            previous: now.clone(),
        },
    )
    .await?;
    let with = if serving {
        let mut with = now;
        with.push(interface.to_string());
        with
    } else {
        vec![interface.to_string()]
    };
    set_listen(svc, cx, listen_value(&with)?).await?;
    Ok(true)
}

/// Makes the service listen on exactly `interface`; returns whether it changed.
pub async fn ensure_listen<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    interface: &LinkName,
) -> Result<bool, OpError> {
    ensure_listening_on(svc, cx, interface, false).await
}

pub async fn service_state(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Option<ServiceState>, OpError> {
    Ok(smf::service_state(run, &svc.settings.dhcp_service)
        .await?
        .map(|s| s.state))
}

pub async fn check_not_in_maintenance(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    if service_state(svc, &cx.runner).await? == Some(ServiceState::Maintenance) {
        return Err(OpError::failed(format!(
            "{} went to maintenance (see its SMF log)",
            svc.settings.dhcp_service
        )));
    }
    Ok(())
}

/// Restarts the DHCP server when it is running, so dhcpd reads its configuration again (a
/// refresh would not: see the module doc), and says so in the task output.
pub async fn restart_if_running<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
) -> Result<(), OpError> {
    restart(svc, cx).await
}

/// After an undo put back dhcpd.conf (or the listen interfaces): a running server is
/// restarted on it, and one in maintenance (the failed change's doing, or already so) is
/// cleared, `svcadm clear` alone: an instance in maintenance is still enabled, and enabling it
/// again would make an administrator's temporary enable persistent. If it does not come up
/// with the restored configuration, the task output says so; the undo has put back what was.
pub async fn restart_after_restore<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
) -> Result<(), OpError> {
    let fmri = &svc.settings.dhcp_service;
    let before = smf::contract_status(&cx.runner, fmri).await?;
    if before.as_ref().map(|b| b.status.state) != Some(ServiceState::Maintenance) {
        return restart_seen(cx, fmri, before).await;
    }
    smf::clear(&cx.runner, fmri).await?;
    cx.note(&format!(
        "svcadm clear {fmri}: it was in maintenance; it starts again with the restored configuration"
    ));
    let up = poll_state(cx, fmri, CLEAR_WAIT, |now| match now {
        Some(s) if s.status.state.is_running() && !s.status.transitioning => Ok(Some(())),
        None => Err(()),
        Some(s) if s.status.state == ServiceState::Disabled => Err(()),
        Some(_) => Ok(None),
    })
    .await?;
    if !matches!(up, Polled::Decided(Ok(()))) {
        cx.note(&format!(
            "{fmri} is not online with the restored configuration either (see svcs -xv {fmri})"
        ));
    }
    Ok(())
}

/// How long a cleared instance may take to be online again before the undo says it is not.
const CLEAR_WAIT: Duration = Duration::from_secs(15);

/// [`restart_if_running`], for a task whose journal holds no network entries.
pub async fn restart(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.dhcp_service;
    let before = smf::contract_status(&cx.runner, fmri).await?;
    restart_seen(cx, fmri, before).await
}

/// Restarts the instance if `before` (its state just read) says it runs, and waits for it.
async fn restart_seen(
    cx: &OpCx,
    fmri: &Fmri,
    before: Option<smf::ContractStatus>,
) -> Result<(), OpError> {
    let Some(before) = before.filter(|b| b.status.state.is_running()) else {
        return Ok(());
    };
    smf::restart(&cx.runner, fmri).await?;
    cx.note(&format!(
        "svcadm restart {fmri}: dhcpd reads its configuration only at start"
    ));
    settle::await_restart(cx, fmri, before.ctid)
        .await?
        .required(fmri)
}

/// Writes `conf` atomically (see the module doc). Returns false when the file already had
/// exactly this text.
pub async fn apply<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<DhcpConf>,
) -> Result<bool, OpError> {
    let file = &conf.file;
    let text = conf.render();
    if file.read()?.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    let temp = journal::stage_file(cx, file, &text, Reader::Dhcpd).await?;
    match check::check(&svc.settings.dhcpd_path, &temp.local).await {
        Ok(check::Checked::Valid) => cx.note("dhcpd -t: configuration OK"),
        Ok(check::Checked::Skipped) => cx.note(&format!(
            "{} not found: configuration check skipped",
            svc.settings.dhcpd_path.display()
        )),
        Err(e) => {
            file.discard_temp();
            return Err(OpError::failed(e));
        }
    }
    file.commit_temp(&cx.runner).await?;
    cx.note(&format!("wrote {}", file.illumos));
    restart_if_running(svc, cx).await?;
    Ok(true)
}

/// The entry `host` would clash with (same name, MAC or address), described for a 409.
pub fn host_conflict(conf: &DhcpConf, host: &HostEntry) -> Option<String> {
    conf.hosts().into_iter().find_map(|h| {
        let what = if h.name == host.name {
            "hostname"
        } else if h.mac.is_some() && h.mac == host.mac {
            "MAC address"
        } else if h.ip.is_some() && h.ip == host.ip {
            "IP address"
        } else {
            return None;
        };
        Some(format!(
            "{what} already used by host entry {} ({}, {})",
            h.name,
            h.mac
                .map(|m| m.to_string())
                .unwrap_or_else(|| "no MAC".into()),
            h.ip.map(|i| i.to_string())
                .unwrap_or_else(|| "no address".into()),
        ))
    })
}

/// Enables the DHCP service and waits for it; a start that ends in maintenance fails.
pub async fn start(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.dhcp_service;
    if service_state(svc, &cx.runner).await? == Some(ServiceState::Maintenance) {
        smf::clear(&cx.runner, fmri).await?;
    }
    smf::enable(&cx.runner, fmri, Wait::ForState, Persistence::Persistent).await?;
    check_not_in_maintenance(svc, cx).await
}

pub async fn stop(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    smf::disable(
        &cx.runner,
        &svc.settings.dhcp_service,
        Wait::ForState,
        Persistence::Persistent,
    )
    .await
    .map_err(OpError::from)
}
