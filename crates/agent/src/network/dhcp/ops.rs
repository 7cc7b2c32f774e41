//! The DHCP operations: the subnet configuration, host reservations, the service.

use std::net::Ipv4Addr;
use std::sync::Arc;

use illumos::link::{LinkName, Mac};
use illumos::net::Ipv4Net;
use illumos::smf;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::conf::{HostEntry, SubnetConfig};
use super::host::{
    apply, check_not_in_maintenance, ensure_listen, read_conf, restart, service_state, start, stop,
};
use super::request::{check_host, HostName, ServiceAction};
use crate::network::journal::{self, Entry};
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub const CONFIG: &str = "network_dhcp_config";
pub const ADD_HOST: &str = "network_dhcp_host_add";
pub const DELETE_HOST: &str = "network_dhcp_host_delete";
pub const SERVICE: &str = "network_dhcp_service";

/// `network_dhcp_config`: the subnet declaration (validated as a whole by the request) and
/// the interface to listen on.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfigParams {
    pub subnet: Ipv4Net,
    pub router: Ipv4Addr,
    pub range_start: Ipv4Addr,
    pub range_end: Ipv4Addr,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    pub listen_interface: Option<LinkName>,
}

impl ConfigParams {
    pub fn subnet_config(&self) -> SubnetConfig {
        SubnetConfig {
            net: self.subnet,
            router: Some(self.router),
            range: Some((self.range_start, self.range_end)),
            dns: self.dns.clone(),
        }
    }
}

pub struct ConfigOp(pub Arc<NetworkServices>);

impl TaskOp for ConfigOp {
    type Params = ConfigParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CONFIG
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: ConfigParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        conf.upsert_subnet(&p.subnet_config());
        cx.progress(30, "writing dhcpd.conf").await?;
        let wrote = apply(&self.0, cx, &conf).await?;
        let mut listen_changed = false;
        if let Some(l) = &p.listen_interface {
            cx.progress(70, &format!("listening on {l}")).await?;
            listen_changed = ensure_listen(&self.0, cx, l).await?;
        }
        Ok(Some(
            json!({"config_changed": wrote, "listen_changed": listen_changed}),
        ))
    }

    journal::undo_by_journal!(ConfigParams);
}

/// `network_dhcp_host_add`: a reservation, validated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddHostParams {
    pub hostname: HostName,
    pub mac: Mac,
    pub ip: Ipv4Addr,
}

impl AddHostParams {
    pub fn entry(&self) -> HostEntry {
        HostEntry {
            name: self.hostname.to_string(),
            mac: Some(self.mac),
            ip: Some(self.ip),
        }
    }
}

/// `network_dhcp_host_delete`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteHostParams {
    pub hostname: HostName,
}

pub struct AddHostOp(pub Arc<NetworkServices>);

impl TaskOp for AddHostOp {
    type Params = AddHostParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        ADD_HOST
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: AddHostParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        // Checked again under the lock: another task may have taken the name meanwhile.
        check_host(&conf, &p).map_err(|e| OpError::failed(e.to_string()))?;
        conf.add_host(p.entry());
        cx.progress(30, "writing dhcpd.conf").await?;
        apply(&self.0, cx, &conf).await?;
        Ok(Some(json!({
            "hostname": p.hostname,
            "mac": p.mac.to_string(),
            "ip": p.ip.to_string(),
        })))
    }

    journal::undo_by_journal!(AddHostParams);
}

pub struct DeleteHostOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteHostOp {
    type Params = DeleteHostParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_HOST
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteHostParams) -> Result<Option<Value>, OpError> {
        let mut conf = read_conf(&self.0, &cx.runner).await?;
        if !conf.remove_host(p.hostname.as_str()) {
            cx.note(&format!("no host entry {}: already gone", p.hostname));
            return Ok(Some(json!({"removed": false})));
        }
        cx.progress(30, "writing dhcpd.conf").await?;
        apply(&self.0, cx, &conf).await?;
        Ok(Some(json!({"removed": true})))
    }

    journal::undo_by_journal!(DeleteHostParams);
}

/// `network_dhcp_service`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceParams {
    pub action: ServiceAction,
}

pub struct ServiceOp(pub Arc<NetworkServices>);

impl TaskOp for ServiceOp {
    type Params = ServiceParams;
    type Entry = ();

    fn name(&self) -> &'static str {
        SERVICE
    }

    async fn run(&self, cx: &Cx<'_, ()>, p: ServiceParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        cx.progress(20, p.action.as_str()).await?;
        match p.action {
            ServiceAction::Start => start(svc, cx).await?,
            ServiceAction::Stop => stop(svc, cx).await?,
            // The spec's "reload configuration": the refresh takes the service's
            // properties, and only a restart makes dhcpd read its file (module doc).
            ServiceAction::Refresh => {
                smf::refresh(&cx.runner, &svc.settings.dhcp_service).await?;
                restart(svc, cx).await?;
                check_not_in_maintenance(svc, cx).await?;
            }
            ServiceAction::Restart => {
                stop(svc, cx).await?;
                start(svc, cx).await?;
            }
        }
        let state = service_state(svc, &cx.runner).await?;
        Ok(Some(
            json!({"state": state.map_or("absent", |s| s.as_str())}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_of_queued_dhcp_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<ConfigParams>(json!({
            "subnet": "10.190.190.0/24", "router": "10.190.190.1",
            "range_start": "10.190.190.10", "range_end": "10.190.190.254",
            "dns": ["8.8.8.8", "8.8.4.4"], "listen_interface": "provision_interconnect0",
        }));
        crate::network::assert_same_shape::<ConfigParams>(json!({
            "subnet": "10.0.0.0/8", "router": "10.0.0.1", "range_start": "10.0.0.2",
            "range_end": "10.0.0.3", "dns": [], "listen_interface": null,
        }));
        crate::network::assert_same_shape::<AddHostParams>(
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5"}),
        );
        crate::network::assert_same_shape::<DeleteHostParams>(json!({"hostname": "web-01"}));
        crate::network::assert_same_shape::<ServiceParams>(json!({"action": "restart"}));
        for bad in [
            json!({"hostname": "a;b", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5"}),
            json!({"hostname": "a", "mac": "02:08:20:ab:cd:01", "ip": "10.0.0.5 "}),
        ] {
            assert!(
                serde_json::from_value::<AddHostParams>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
