//! The VLAN operations, journalling what they make.

use std::sync::Arc;

use illumos::dladm::vlan::{self, CreateVlan};
use illumos::dladm::LinkFailure;
use illumos::link::{LinkName, VlanId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::network::journal::{self, Entry};
use crate::network::{persistence, NetworkServices};
use crate::tasks::{Cx, OpError, TaskOp};

pub const CREATE_VLAN: &str = "network_create_vlan";
pub const DELETE_VLAN: &str = "network_delete_vlan";

/// `network_create_vlan`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateVlanParams {
    pub name: LinkName,
    pub link: LinkName,
    pub vid: VlanId,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_vlan`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteVlanParams {
    pub name: LinkName,
    #[serde(default)]
    pub temporary: bool,
}

pub struct CreateVlanOp(pub Arc<NetworkServices>);

impl TaskOp for CreateVlanOp {
    type Params = CreateVlanParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        CREATE_VLAN
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: CreateVlanParams) -> Result<Option<Value>, OpError> {
        let spec = CreateVlan {
            name: p.name,
            over: p.link,
            vid: p.vid,
            force: p.force,
            persistence: persistence(p.temporary),
        };
        cx.progress(
            10,
            &format!(
                "creating VLAN {} (VID {}) over {}",
                spec.name, spec.vid, spec.over
            ),
        )
        .await?;
        cx.will_make(&Entry::Vlan {
            name: spec.name.clone(),
        })
        .await?;
        let r = vlan::create_vlan(&cx.runner, &spec).await;
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
        Ok(Some(json!({
            "vlan": spec.name.as_str(),
            "vid": spec.vid.get(),
            "over": spec.over.as_str(),
        })))
    }

    journal::undo_by_journal!(CreateVlanParams);
}

pub struct DeleteVlanOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteVlanOp {
    type Params = DeleteVlanParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        DELETE_VLAN
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: DeleteVlanParams) -> Result<Option<Value>, OpError> {
        let name = p.name;
        cx.progress(10, &format!("deleting VLAN {name}")).await?;
        let r = vlan::delete_vlan(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                cx.note(&format!("VLAN {name} was already gone"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Some(json!({"vlan": name.as_str()})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_vlan_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateVlanParams>(json!({"name": "igb12000", "link": "igb0",
            "vid": 12, "force": false, "temporary": true}));
        assert_same_shape::<DeleteVlanParams>(json!({"name": "igb12000", "temporary": false}));
        assert!(serde_json::from_value::<CreateVlanParams>(
            json!({"name": "igb12000", "link": "igb0", "vid": 4095})
        )
        .is_err());
    }
}
