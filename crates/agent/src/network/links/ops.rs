//! The link operations: create and delete etherstubs and VNICs, journalling what they make.

use std::sync::Arc;

use illumos::dladm::{self, CreateVnic, LinkFailure, LinkProp, VnicMac};
use illumos::link::{LinkName, VlanId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::network::journal::{self, Entry};
use crate::network::{persistence, NetworkServices};
use crate::tasks::{Cx, OpError, TaskOp};

pub const CREATE_ETHERSTUB: &str = "network_create_etherstub";
pub const DELETE_ETHERSTUB: &str = "network_delete_etherstub";
pub const CREATE_VNIC: &str = "network_create_vnic";
pub const DELETE_VNIC: &str = "network_delete_vnic";

/// A VNIC's MAC in a task's parameters: `auto`, `random` or the address, as the request's
/// `mac_address` names them (absent is `auto`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacChoice(pub VnicMac);

impl Serialize for MacChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            VnicMac::Auto => s.serialize_str("auto"),
            VnicMac::Random => s.serialize_str("random"),
            VnicMac::Fixed(m) => s.collect_str(&m),
        }
    }
}

impl<'de> Deserialize<'de> for MacChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::request::vnic_mac("mac_address", s.as_deref())
            .map(MacChoice)
            .map_err(serde::de::Error::custom)
    }
}

/// A VNIC's `-p` properties in a task's parameters: `{name: value}`, the value as dladm takes
/// it (a list comma-joined). Each is checked again when the task reads it back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VnicProps(pub Vec<LinkProp>);

impl VnicProps {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for VnicProps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|p| (p.name(), p.value())))
    }
}

impl<'de> Deserialize<'de> for VnicProps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        map.iter()
            .map(|(n, v)| {
                LinkProp::parse_vnic(n, v).map_err(|e| {
                    serde::de::Error::custom(match e {
                        Some(e) => e.to_string(),
                        None => format!("{n:?} is not a VNIC property"),
                    })
                })
            })
            .collect::<Result<_, _>>()
            .map(VnicProps)
    }
}

/// `network_create_etherstub`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateEtherstub {
    pub name: LinkName,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_etherstub`; `force` also deletes the VNICs over it.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteEtherstub {
    pub name: LinkName,
    #[serde(default)]
    pub force: bool,
    /// `-t`: only the running links (theirs and the VNICs' a force deletes).
    #[serde(default)]
    pub temporary: bool,
}

pub struct CreateEtherstubOp(pub Arc<NetworkServices>);

impl TaskOp for CreateEtherstubOp {
    type Params = CreateEtherstub;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_ETHERSTUB
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateEtherstub) -> Result<Option<Value>, OpError> {
        let name = p.name;
        cx.progress(10, &format!("creating etherstub {name}"))
            .await?;
        cx.will_make(&Entry::Etherstub { name: name.clone() })
            .await?;
        let r = dladm::create_etherstub(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        if let Err(e) = r {
            if matches!(e.kind, LinkFailure::AlreadyExists) {
                cx.will_make(&Entry::Existed { name: name.clone() }).await?;
            }
            return Err(e.into());
        }
        Ok(Some(json!({"etherstub": name.as_str()})))
    }

    journal::undo_by_journal!(CreateEtherstub);
}

pub struct DeleteEtherstubOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteEtherstubOp {
    type Params = DeleteEtherstub;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_ETHERSTUB
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteEtherstub) -> Result<Option<Value>, OpError> {
        let name = p.name;
        let mut deleted = Vec::new();
        if p.force {
            let vnics = dladm::show_vnics(&cx.runner).await?;
            for v in vnics.iter().filter(|v| v.over == name) {
                cx.progress(20, &format!("deleting VNIC {}", v.link))
                    .await?;
                match dladm::delete_vnic(&cx.runner, &v.link, persistence(p.temporary)).await {
                    Ok(()) => deleted.push(v.link.to_string()),
                    Err(e) if matches!(e.kind, LinkFailure::NotFound) => {}
                    Err(e) => {
                        self.0.links_changed();
                        return Err(OpError::from(e));
                    }
                }
            }
        }
        cx.progress(60, &format!("deleting etherstub {name}"))
            .await?;
        let r = dladm::delete_etherstub(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                cx.note(&format!("etherstub {name} was already gone"));
            }
            Err(e) => return Err(OpError::from(e)),
        }
        Ok(Some(
            json!({"etherstub": name.as_str(), "deleted_vnics": deleted}),
        ))
    }
}

/// `network_create_vnic`: the request's fields, validated.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateVnicParams {
    pub name: LinkName,
    pub link: LinkName,
    #[serde(default)]
    pub mac_address: MacChoice,
    #[serde(default)]
    pub vlan_id: Option<VlanId>,
    /// `-p`; absent in the metadata of tasks queued without properties.
    #[serde(default, skip_serializing_if = "VnicProps::is_empty")]
    pub properties: VnicProps,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_vnic`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteVnic {
    pub name: LinkName,
    /// `-t`: only the running link; its persistent configuration stays.
    #[serde(default)]
    pub temporary: bool,
}

pub struct CreateVnicOp(pub Arc<NetworkServices>);

impl TaskOp for CreateVnicOp {
    type Params = CreateVnicParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_VNIC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateVnicParams) -> Result<Option<Value>, OpError> {
        let spec = CreateVnic {
            name: p.name,
            over: p.link,
            mac: p.mac_address.0,
            vlan: p.vlan_id,
            props: p.properties.0,
            persistence: persistence(p.temporary),
        };
        cx.progress(
            10,
            &format!("creating VNIC {} over {}", spec.name, spec.over),
        )
        .await?;
        cx.will_make(&Entry::Vnic {
            name: spec.name.clone(),
        })
        .await?;
        let r = dladm::create_vnic(&cx.runner, &spec).await;
        self.0.links_changed();
        if let Err(e) = r {
            if matches!(e.kind, LinkFailure::AlreadyExists) {
                cx.will_make(&Entry::Existed {
                    name: spec.name.clone(),
                })
                .await?;
            }
            return Err(e.into());
        }
        let vnic = dladm::get_vnic(&cx.runner, &spec.name).await?;
        Ok(Some(json!({
            "vnic": spec.name.as_str(),
            "link": spec.over.as_str(),
            "mac_address": vnic.map(|v| v.mac.to_string()),
        })))
    }

    journal::undo_by_journal!(CreateVnicParams);
}

pub struct DeleteVnicOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteVnicOp {
    type Params = DeleteVnic;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_VNIC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteVnic) -> Result<Option<Value>, OpError> {
        let name = p.name;
        cx.progress(10, &format!("deleting VNIC {name}")).await?;
        let r = dladm::delete_vnic(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                cx.note(&format!("VNIC {name} was already gone"));
            }
            Err(e) => return Err(OpError::from(e)),
        }
        Ok(Some(json!({"vnic": name.as_str()})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_link_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateEtherstub>(json!({"name": "estub0", "temporary": false}));
        assert_same_shape::<DeleteEtherstub>(
            json!({"name": "estub0", "force": true, "temporary": false}),
        );
        assert_same_shape::<DeleteVnic>(json!({"name": "vnic0", "temporary": true}));
        for (mac, vlan) in [
            (json!("auto"), json!(null)),
            (json!("random"), json!(12)),
            (json!("02:08:20:ab:cd:01"), json!(4094)),
        ] {
            assert_same_shape::<CreateVnicParams>(json!({
                "name": "vnic0", "link": "estub0", "mac_address": mac, "vlan_id": vlan,
                "temporary": true,
            }));
        }
        assert_same_shape::<CreateVnicParams>(json!({
            "name": "vnic0", "link": "igb0", "mac_address": "auto", "vlan_id": null,
            "properties": {"maxbw": "100M", "cpus": "0,1", "protection": "mac-nospoof"},
            "temporary": false,
        }));
    }

    #[test]
    fn a_link_task_with_a_bad_value_does_not_read() {
        for bad in [
            json!({"name": "vnic0;rm", "link": "estub0"}),
            json!({"name": "vnic0", "link": "estub0", "mac_address": "01:00:5e:00:00:01"}),
            json!({"name": "vnic0", "link": "estub0", "vlan_id": 4095}),
            json!({"name": "vnic0", "link": "estub0", "properties": {"zone": "z1"}}),
            json!({"name": "vnic0", "link": "estub0", "properties": {"priority": "low,mtu=1"}}),
        ] {
            assert!(
                serde_json::from_value::<CreateVnicParams>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
