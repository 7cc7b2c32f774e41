//! ipnat.conf on the host: read it, apply a new version, reload ipfilter (see the module
//! doc of `network::nat`).

use illumos::ipnat::{self, ActiveRule, NatConf, NatRule};
use illumos::persistence::Persistence;
use illumos::smf::{self, ServiceState, Wait};

use crate::network::conffile::{ConfFile, Loaded};
use crate::network::journal::{self, Carries, Entry, Reader};
use crate::network::paths::HostFile;
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpCx, OpError};

/// ipnat.conf as ipfilter names it now (or as config.yaml overrides it).
pub async fn nat_file(svc: &NetworkServices, run: &illumos::Runner) -> Result<ConfFile, OpError> {
    svc.file_of(run, HostFile::IpnatConf)
        .await
        .map_err(OpError::from)
}

pub async fn read_conf(
    svc: &NetworkServices,
    run: &illumos::Runner,
) -> Result<Loaded<NatConf>, OpError> {
    let file = nat_file(svc, run).await?;
    let conf = NatConf::parse(&file.read()?.unwrap_or_default());
    Ok(Loaded { file, conf })
}

// ---------------------------------------------------------------------------------------------
// Applying a new file.

/// Has ipfilter reload its rules the way its method does (see the module doc). A refresh
/// whose load failed leaves the service in maintenance: that fails the task too.
async fn reload(svc: &NetworkServices, cx: &OpCx) -> Result<(), OpError> {
    let fmri = &svc.settings.ipfilter;
    smf::refresh(&cx.runner, fmri).await?;
    cx.note(&format!(
        "svcadm refresh {fmri}: ipfilter reloads its NAT rules"
    ));
    let state = smf::service_state(&cx.runner, fmri).await?;
    if state.is_some_and(|s| s.state == ServiceState::Maintenance) {
        return Err(OpError::failed(format!(
            "{fmri} went to maintenance reloading its rules (see its SMF log)"
        )));
    }
    Ok(())
}

/// Reloads the rules from the file when ipfilter is online; says whether it did.
pub async fn reload_if_online(svc: &NetworkServices, cx: &OpCx) -> Result<bool, OpError> {
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter).await?;
    if state.is_some_and(|s| s.state == ServiceState::Online) {
        reload(svc, cx).await?;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Writes `conf` atomically and makes it the active rule set (see the module doc). Returns
/// false when the file already had exactly this text (nothing done).
pub async fn apply<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<NatConf>,
) -> Result<bool, OpError> {
    apply_with(svc, cx, conf, Activate::Yes).await
}

/// Whether [`apply_with`] may enable ipfilter to make the rules active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activate {
    Yes,
    /// Only reload when ipfilter already runs (removing rules needs no firewall).
    IfOnline,
}

pub async fn apply_with<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    conf: &Loaded<NatConf>,
    activate: Activate,
) -> Result<bool, OpError> {
    let file = &conf.file;
    let text = conf.render();
    let current = file.read()?;
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter)
        .await?
        .map(|s| s.state);
    let online = state == Some(ServiceState::Online);
    if current.as_deref() == Some(text.as_str()) && (online || activate == Activate::IfOnline) {
        return Ok(false);
    }
    if current.as_deref() != Some(text.as_str()) {
        let temp = journal::stage_file(cx, file, &text, Reader::Ipnat).await?;
        if let Err(e) = ipnat::check(&cx.runner, &temp.illumos).await {
            file.discard_temp();
            return Err(OpError::from(e));
        }
        file.commit_temp(&cx.runner).await?;
        cx.note(&format!("wrote {}", file.illumos));
    }
    if online {
        reload(svc, cx).await?;
    } else if activate == Activate::IfOnline {
        return Ok(true);
    } else {
        journal::will_make(
            cx,
            Entry::ServiceEnabled {
                fmri: svc.settings.ipfilter.clone(),
            },
        )
        .await?;
        if state == Some(ServiceState::Maintenance) {
            let _ = smf::clear(&cx.runner, &svc.settings.ipfilter).await;
        }
        smf::enable(
            &cx.runner,
            &svc.settings.ipfilter,
            Wait::ForState,
            Persistence::Persistent,
        )
        .await?;
    }
    verify(cx, conf).await;
    Ok(true)
}

/// Removes every rule `selected` picks from the file and makes the active rules follow, without
/// enabling ipfilter for it; returns whether the file held any. When the file holds none but
/// the active rules still do (a run stopped between writing the file and reloading it), reloads:
/// running it again finishes the removal.
pub async fn remove_rules<E: Carries>(
    svc: &NetworkServices,
    cx: &Cx<'_, E>,
    selected: impl Fn(&NatRule) -> bool,
) -> Result<bool, OpError> {
    let mut conf = read_conf(svc, &cx.runner).await?;
    let found: Vec<NatRule> = conf
        .rules()
        .map(|(_, r)| r.clone())
        .filter(|r| selected(r))
        .collect();
    if !found.is_empty() {
        for r in &found {
            conf.remove(r);
        }
        apply_with(svc, cx, &conf, Activate::IfOnline).await?;
        return Ok(true);
    }
    let state = smf::service_state(&cx.runner, &svc.settings.ipfilter).await?;
    if state.is_some_and(|s| s.state == ServiceState::Online) {
        let active = ipnat::list(&cx.runner).await?;
        if active
            .rules
            .iter()
            .any(|a| matches!(a, ActiveRule::Rule(r) if selected(r)))
        {
            reload(svc, cx).await?;
        }
    }
    Ok(false)
}

/// Whether every rule the file holds is active: advice only (see the module doc), so what does
/// not match, or a listing that fails, is a warning line in the task output.
async fn verify(cx: &OpCx, conf: &NatConf) {
    let active = match ipnat::list(&cx.runner).await {
        Ok(a) => a,
        Err(e) => {
            cx.note(&format!(
                "warning: cannot check the active NAT rules: {}",
                crate::error::chain(&e)
            ));
            return;
        }
    };
    let missing: Vec<String> = conf
        .rules()
        .filter(|(_, r)| {
            !active
                .rules
                .iter()
                .any(|a| a == &ActiveRule::Rule((*r).clone()))
        })
        .map(|(_, r)| r.to_string())
        .collect();
    if !missing.is_empty() {
        cx.note(&format!(
            "warning: ipnat -l does not show the rules {} (yet); the file is in place",
            missing.join("; ")
        ));
    }
}
