//! The provisioning network operations: setup (converge each component) and teardown.

use std::sync::Arc;

use illumos::dladm::{self, CreateVnic, LinkFailure, VnicMac};
use illumos::ipadm::{self, AddrFilter, IpFailure, ListedAddr};
use illumos::link::LinkName;
use illumos::persistence::Persistence;
use illumos::smf::ServiceState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{addrobj, is_provisioning_rule, nat_rules};
use crate::network::dhcp::{self, conf::SubnetConfig};
use crate::network::journal::{self, Entry};
use crate::network::nat;
use crate::network::settings::ProvisioningNet;
use crate::network::{forwarding, NetworkServices};
use crate::tasks::{Cx, OpError, RollForward, TaskOp};

pub const SETUP: &str = "provisioning_network_setup";
pub const TEARDOWN: &str = "provisioning_network_teardown";

#[derive(Clone, Copy)]
enum Action {
    Created,
    Updated,
    Unchanged,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
        }
    }
}

pub struct SetupOp(pub Arc<NetworkServices>);

impl SetupOp {
    async fn etherstub(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        if dladm::etherstub_exists(&cx.runner, &p.etherstub).await? {
            return Ok(Action::Unchanged);
        }
        cx.will_make(&Entry::Etherstub {
            name: p.etherstub.clone(),
        })
        .await?;
        let r = dladm::create_etherstub(&cx.runner, &p.etherstub, Persistence::Persistent).await;
        self.0.links_changed();
        r?;
        Ok(Action::Created)
    }

    async fn host_vnic(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        match dladm::get_vnic(&cx.runner, &p.host_vnic).await? {
            Some(v) if v.over == p.etherstub => return Ok(Action::Unchanged),
            Some(v) => {
                return Err(OpError::failed(format!(
                    "VNIC {} exists over {}, not over {}; remove it or change provisioning.network.host_vnic_name",
                    v.link, v.over, p.etherstub
                )))
            }
            None => {}
        }
        cx.will_make(&Entry::Vnic {
            name: p.host_vnic.clone(),
        })
        .await?;
        let r = dladm::create_vnic(
            &cx.runner,
            &CreateVnic {
                name: p.host_vnic.clone(),
                over: p.etherstub.clone(),
                mac: VnicMac::Auto,
                vlan: None,
                props: Vec::new(),
                persistence: Persistence::Persistent,
            },
        )
        .await;
        self.0.links_changed();
        r?;
        Ok(Action::Created)
    }

    async fn host_ip(&self, cx: &Cx<'_, Entry>, p: &ProvisioningNet) -> Result<Action, OpError> {
        let want = p.host_cidr();
        let obj = addrobj(p);
        let addrs =
            ipadm::show_addr(&cx.runner, &AddrFilter::Interface(p.host_vnic.clone())).await?;
        if addrs.iter().any(|a| a.addr == ListedAddr::V4(want)) {
            return Ok(Action::Unchanged);
        }
        let mut action = Action::Created;
        if addrs.iter().any(|a| a.addrobj().as_ref() == Some(&obj)) {
            // Our address object with another address: replace it.
            ipadm::delete_addr(&cx.runner, &obj).await?;
            action = Action::Updated;
        }
        let plumbed = !ipadm::show_if(&cx.runner, Some(&p.host_vnic))
            .await?
            .is_empty();
        if !plumbed {
            cx.will_make(&Entry::Interface {
                name: p.host_vnic.clone(),
            })
            .await?;
            match ipadm::create_if(&cx.runner, &p.host_vnic, Persistence::Persistent).await {
                Ok(()) => {}
                Err(e) if matches!(e.kind, IpFailure::AlreadyExists) => {}
                Err(e) => return Err(OpError::from(e)),
            }
        }
        cx.will_make(&Entry::Address {
            addrobj: obj.clone(),
        })
        .await?;
        ipadm::create_static_addr(&cx.runner, &obj, want, Persistence::Persistent).await?;
        Ok(action)
    }

    async fn physical(&self, cx: &Cx<'_, Entry>) -> Result<LinkName, OpError> {
        let route = illumos::route::get_default(&cx.runner)
            .await?
            .ok_or_else(|| {
                OpError::failed(
                    "the host has no default route: cannot tell which interface to NAT through",
                )
            })?;
        route.link().ok_or_else(|| {
            OpError::failed(format!(
                "the default route (via {}) names no usable interface",
                route.gateway
            ))
        })
    }

    async fn nat(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
        phys: &LinkName,
    ) -> Result<Action, OpError> {
        let mut conf = nat::read_conf(&self.0, &cx.runner).await?;
        let mut added = false;
        for r in nat_rules(p, phys) {
            added |= conf.ensure(r);
        }
        let applied = nat::apply(&self.0, cx, &conf).await?;
        Ok(match (added, applied) {
            (true, _) => Action::Created,
            (false, true) => Action::Updated,
            (false, false) => Action::Unchanged,
        })
    }

    async fn forwarding(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
        phys: &LinkName,
    ) -> Result<Action, OpError> {
        let mut changed = forwarding::ensure_global(cx, true).await?;
        changed |= forwarding::ensure_interface(cx, phys, true).await?;
        changed |= forwarding::ensure_interface(cx, &p.host_vnic, true).await?;
        Ok(if changed {
            Action::Updated
        } else {
            Action::Unchanged
        })
    }

    async fn dhcp_subnet(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
    ) -> Result<Action, OpError> {
        let mut conf = dhcp::read_conf(&self.0, &cx.runner).await?;
        let existed = conf.subnets().any(|s| s.net() == p.subnet);
        let subnet = SubnetConfig {
            net: p.subnet,
            router: Some(p.host_ip),
            range: Some((p.range_start, p.range_end)),
            dns: dhcp_dns(&conf, p),
        };
        let changed = conf.upsert_subnet(&subnet);
        dhcp::apply(&self.0, cx, &conf).await?;
        Ok(match (existed, changed) {
            (false, _) => Action::Created,
            (true, true) => Action::Updated,
            (true, false) => Action::Unchanged,
        })
    }

    async fn dhcp_service(
        &self,
        cx: &Cx<'_, Entry>,
        p: &ProvisioningNet,
    ) -> Result<Action, OpError> {
        let state = illumos::smf::service_state(&cx.runner, &self.0.settings.dhcp_service)
            .await?
            .map(|s| s.state);
        // A server the admin enabled (running, or waiting for a dependency, or in maintenance)
        // keeps the interfaces it serves, the VNIC added; one setup starts listens on the VNIC
        // alone.
        let enabled = !matches!(state, Some(ServiceState::Disabled) | None);
        let listen_changed = dhcp::ensure_listening_on(&self.0, cx, &p.host_vnic, enabled).await?;
        if matches!(state, Some(ServiceState::Online | ServiceState::Degraded)) {
            return Ok(if listen_changed {
                Action::Updated
            } else {
                Action::Unchanged
            });
        }
        cx.will_make(&Entry::ServiceEnabled {
            fmri: self.0.settings.dhcp_service.clone(),
        })
        .await?;
        dhcp::start(&self.0, cx).await?;
        Ok(Action::Created)
    }
}

/// Setup keeps whatever DNS servers the provisioning subnet already hands out.
fn dhcp_dns(conf: &dhcp::conf::DhcpConf, p: &ProvisioningNet) -> Vec<std::net::Ipv4Addr> {
    conf.subnets()
        .find(|s| s.net() == p.subnet)
        .map(|s| s.config().dns)
        .unwrap_or_default()
}

/// A setup task carries no parameters (the settings are config.yaml's); an object is
/// accepted so old and new tasks alike read.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NoParams {}

impl TaskOp for SetupOp {
    type Params = NoParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        SETUP
    }

    async fn run(&self, cx: &Cx<'_, Entry>, _p: NoParams) -> Result<Option<Value>, OpError> {
        {
            let p = self.0.settings.provisioning.clone();
            let mut actions = Map::new();
            let mut note = |k: &str, a: Action| {
                cx.note(&format!("{k}: {}", a.as_str()));
                actions.insert(k.to_owned(), json!(a.as_str()));
            };
            cx.progress(5, "etherstub").await?;
            note("etherstub", self.etherstub(cx, &p).await?);
            cx.progress(15, "host VNIC").await?;
            note("host_vnic", self.host_vnic(cx, &p).await?);
            cx.progress(25, "host address").await?;
            note("host_ip", self.host_ip(cx, &p).await?);
            cx.progress(35, "physical interface").await?;
            let phys = self.physical(cx).await?;
            note("physical_interface", Action::Unchanged);
            cx.progress(45, "NAT").await?;
            note("nat_rule", self.nat(cx, &p, &phys).await?);
            cx.progress(60, "IP forwarding").await?;
            note("forwarding", self.forwarding(cx, &p, &phys).await?);
            cx.progress(75, "DHCP subnet").await?;
            note("dhcp_subnet", self.dhcp_subnet(cx, &p).await?);
            cx.progress(90, "DHCP service").await?;
            note("dhcp_service", self.dhcp_service(cx, &p).await?);
            let [portmap, _] = nat_rules(&p, &phys);
            Ok(Some(json!({
                "success": true,
                "message": "Provisioning network setup completed",
                "components": {
                    "etherstub": p.etherstub.as_str(),
                    "host_vnic": p.host_vnic.as_str(),
                    "host_ip": p.host_cidr().to_string(),
                    "physical_interface": phys.as_str(),
                    "nat_rule": portmap.to_string(),
                    "dhcp_subnet": p.subnet.to_string(),
                    "dhcp_range": format!("{} - {}", p.range_start, p.range_end),
                },
                "actions": actions,
            })))
        }
    }

    journal::undo_by_journal!(NoParams);
}

/// `provisioning_network_teardown`; `force` also deletes the VNICs of zones on the etherstub.
#[derive(Debug, Serialize, Deserialize)]
pub struct TeardownParams {
    #[serde(default)]
    pub force: bool,
}

pub struct TeardownOp(pub Arc<NetworkServices>);

impl TaskOp for TeardownOp {
    type Params = TeardownParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        TEARDOWN
    }

    async fn run(
        &self,
        cx: &Cx<'_, Entry>,
        params: TeardownParams,
    ) -> Result<Option<Value>, OpError> {
        {
            let svc = &self.0;
            let p = svc.settings.provisioning.clone();
            let run = &cx.runner;
            let mut removed = Vec::new();

            // What would stop the teardown halfway is found now, before anything changes (the
            // request checked too; a zone may have booted or a VNIC been made since): a running
            // zone's VNIC cannot be deleted, and without force no other VNIC may be over the
            // etherstub, which cannot be deleted under one.
            let vnics = dladm::show_vnics(run).await?;
            if let Some(why) = super::view::held_by_running_zones(&vnics, &p) {
                return Err(OpError::failed(why));
            }
            let others = super::view::vnics_on_etherstub(&vnics, &p);
            if !params.force && !others.is_empty() {
                return Err(OpError::failed(format!(
                    "the provisioning etherstub is still in use by {}; tear down with force=true to delete them",
                    others.join(", ")
                )));
            }
            cx.progress(10, "DHCP service").await?;
            // Read before anything changes: a file that cannot be read stops the teardown with
            // nothing done.
            let mut conf = dhcp::read_conf(svc, run).await?;
            let serves_others = conf.subnets().any(|s| s.net() != p.subnet);
            let state = illumos::smf::service_state(run, &svc.settings.dhcp_service)
                .await?
                .map(|s| s.state);
            let listening = dhcp::listen_ifnames(svc, run).await?;
            let had_vnic = listening.iter().any(|n| n == p.host_vnic.as_str());
            let rest: Vec<String> = listening
                .into_iter()
                .filter(|n| n != p.host_vnic.as_str())
                .collect();
            // The server stops when the provisioning network was all it served (the spec's
            // teardown): no other subnet declared, or it listened on the VNIC alone. One that
            // also serves the site's interfaces goes on serving them, without the VNIC and the
            // provisioning subnet.
            let stop = !serves_others || (had_vnic && rest.is_empty());
            cx.will_make(&Entry::TeardownBegun).await?;
            if stop && !matches!(state, Some(ServiceState::Disabled) | None) {
                dhcp::stop(svc, cx).await?;
                removed.push("dhcp_service");
            }
            if had_vnic {
                dhcp::set_listen(svc, cx, dhcp::listen_value(&rest)?).await?;
            }
            cx.progress(20, "DHCP subnet").await?;
            if conf.remove_subnet(p.subnet) {
                removed.push("dhcp_subnet");
            }
            let inside: Vec<String> = conf
                .hosts()
                .iter()
                .filter(|h| h.ip.is_some_and(|ip| p.subnet.contains(ip)))
                .map(|h| h.name.clone())
                .collect();
            for h in &inside {
                conf.remove_host(h);
            }
            dhcp::apply(svc, cx, &conf).await?;

            cx.progress(35, "NAT rules").await?;
            if nat::remove_rules(svc, cx, |r| is_provisioning_rule(&p, r)).await? {
                removed.push("nat_rule");
            }

            cx.progress(50, "host address").await?;
            match ipadm::delete_addr(run, &addrobj(&p)).await {
                Ok(()) => removed.push("host_ip"),
                Err(e)
                    if matches!(
                        e.kind,
                        IpFailure::AddressNotFound | IpFailure::InterfaceNotFound
                    ) => {}
                Err(e) => return Err(OpError::from(e)),
            }
            match ipadm::delete_if(run, &p.host_vnic).await {
                Ok(()) => {}
                Err(e) if matches!(e.kind, IpFailure::InterfaceNotFound) => {}
                Err(e) => return Err(OpError::from(e)),
            }

            cx.progress(65, "VNICs").await?;
            let vnics = dladm::show_vnics(run).await?;
            let result = async {
                if params.force {
                    for v in vnics
                        .iter()
                        .filter(|v| v.over == p.etherstub && v.link != p.host_vnic)
                    {
                        match dladm::delete_vnic(run, &v.link, Persistence::Persistent).await {
                            Ok(())
                            | Err(dladm::DeleteVnicError {
                                kind: LinkFailure::NotFound,
                                ..
                            }) => {}
                            Err(e) => return Err(OpError::from(e)),
                        }
                    }
                }
                match dladm::delete_vnic(run, &p.host_vnic, Persistence::Persistent).await {
                    Ok(())
                    | Err(dladm::DeleteVnicError {
                        kind: LinkFailure::NotFound,
                        ..
                    }) => {}
                    Err(e) => return Err(OpError::from(e)),
                }
                cx.progress(85, "etherstub").await?;
                match dladm::delete_etherstub(run, &p.etherstub, Persistence::Persistent).await {
                    Ok(())
                    | Err(dladm::DeleteEtherstubError {
                        kind: LinkFailure::NotFound,
                        ..
                    }) => Ok(()),
                    Err(e) => Err(OpError::from(e)),
                }
            }
            .await;
            svc.links_changed();
            result?;
            removed.extend(["host_vnic", "etherstub"]);
            Ok(Some(json!({
                "success": true,
                "message": "Provisioning network removed",
                "removed": removed,
                "dhcp_hosts_removed": inside,
            })))
        }
    }

    /// Once it began changing the host, teardown cannot be taken back, only finished: it runs
    /// again (each step skips what is already gone), so the host ends with the provisioning
    /// network either whole or removed. Before that there is nothing to undo.
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Entry>,
        p: TeardownParams,
        journal: &[Entry],
    ) -> Result<RollForward, OpError> {
        if !journal.contains(&Entry::TeardownBegun) {
            return Ok(RollForward::Undo);
        }
        self.run(cx, p).await.map(RollForward::Completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_of_queued_provisioning_network_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<NoParams>(json!({}));
        crate::network::assert_same_shape::<TeardownParams>(json!({"force": true}));
        assert!(
            !serde_json::from_value::<TeardownParams>(json!({}))
                .unwrap()
                .force
        );
    }
}
