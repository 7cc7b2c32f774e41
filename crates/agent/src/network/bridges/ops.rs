//! The bridge operations. A create journals the bridge before making it, a link change the
//! links it moves; the undo detaches what this task attached and deletes what it created.

use std::sync::Arc;

use illumos::dladm::bridge::{self, BridgeName, CreateBridge, Protection, StpParams};
use illumos::dladm::LinkFailure;
use illumos::link::LinkName;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use illumos::Runner;

use crate::network::aggregates::Membership;
use crate::network::membership::{Change, Group};
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub const CREATE_BRIDGE: &str = "network_create_bridge";
pub const DELETE_BRIDGE: &str = "network_delete_bridge";
pub const CHANGE_LINKS: &str = "network_modify_bridge_links";

/// `network_create_bridge`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateBridgeParams {
    pub name: BridgeName,
    #[serde(default)]
    pub protection: Protection,
    pub stp: StpParams,
    #[serde(default)]
    pub links: Vec<LinkName>,
}

/// `network_delete_bridge`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteBridgeParams {
    pub name: BridgeName,
    /// Detach its links first.
    #[serde(default)]
    pub force: bool,
}

/// `network_modify_bridge_links`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangeLinksParams {
    pub name: BridgeName,
    pub operation: Membership,
    pub links: Vec<LinkName>,
}

/// What a bridge task made, journalled before it makes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    /// The bridge is about to be created (with the links the create attaches).
    Bridge { name: BridgeName },
    /// The create found a bridge of that name already there: not this task's.
    Existed { name: BridgeName },
    /// These links are about to be attached (`added`) to or detached from `name`.
    Links {
        name: BridgeName,
        links: Vec<LinkName>,
        added: bool,
    },
}

pub struct CreateBridgeOp(pub Arc<NetworkServices>);

impl TaskOp for CreateBridgeOp {
    type Params = CreateBridgeParams;
    type Entry = Made;

    fn name(&self) -> &'static str {
        CREATE_BRIDGE
    }

    async fn run(
        &self,
        cx: &Cx<'_, Made>,
        p: CreateBridgeParams,
    ) -> Result<Option<Value>, OpError> {
        let spec = CreateBridge {
            name: p.name,
            protection: p.protection,
            stp: p.stp,
            links: p.links,
        };
        let links: Vec<&str> = spec.links.iter().map(LinkName::as_str).collect();
        cx.progress(10, &format!("creating bridge {}", spec.name))
            .await?;
        cx.will_make(&Made::Bridge {
            name: spec.name.clone(),
        })
        .await?;
        let r = bridge::create_bridge(&cx.runner, &spec).await;
        self.0.links_changed();
        if let Err(e) = r {
            if matches!(e.kind, LinkFailure::AlreadyExists) {
                cx.will_make(&Made::Existed {
                    name: spec.name.clone(),
                })
                .await?;
            }
            return Err(e.into());
        }
        Ok(Some(json!({
            "bridge": spec.name.as_str(),
            "protection": spec.protection.as_str(),
            "links": links,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _p: CreateBridgeParams,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        undo(&self.0, cx, journal).await
    }
}

pub struct DeleteBridgeOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteBridgeOp {
    type Params = DeleteBridgeParams;
    type Entry = Made;

    fn name(&self) -> &'static str {
        DELETE_BRIDGE
    }

    async fn run(
        &self,
        cx: &Cx<'_, Made>,
        p: DeleteBridgeParams,
    ) -> Result<Option<Value>, OpError> {
        let name = p.name;
        let run = &cx.runner;
        let mut detached = Vec::new();
        if p.force {
            let links: Vec<LinkName> = bridge::bridge_links(run, &name)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.link)
                .collect();
            if !links.is_empty() {
                cx.progress(10, &format!("detaching the links of bridge {name}"))
                    .await?;
                // Journalled so that a failed delete attaches them again.
                cx.will_make(&Made::Links {
                    name: name.clone(),
                    links: links.clone(),
                    added: false,
                })
                .await?;
                let r = bridge::change_links(run, &name, &links, false).await;
                self.0.links_changed();
                r?;
                detached = links;
            }
        }
        cx.progress(50, &format!("deleting bridge {name}")).await?;
        let r = bridge::delete_bridge(run, &name).await;
        self.0.links_changed();
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                cx.note(&format!("bridge {name} was already gone"));
            }
            Err(e) => return Err(e.into()),
        }
        let detached: Vec<&str> = detached.iter().map(LinkName::as_str).collect();
        Ok(Some(json!({"bridge": name.as_str(), "detached": detached})))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _p: DeleteBridgeParams,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        undo(&self.0, cx, journal).await
    }
}

/// A bridge's links, changed by [`ChangeMembersOp`]`<Links>` (`network_modify_bridge_links`).
///
/// [`ChangeMembersOp`]: crate::network::membership::ChangeMembersOp
pub struct Links;

impl Group for Links {
    type Params = ChangeLinksParams;
    type Entry = Made;
    const OPERATION: &'static str = CHANGE_LINKS;
    const NOUN: &'static str = "bridge";
    const KEY: &'static str = "bridge";
    const VERBS: [&'static str; 2] = ["attaching", "detaching"];

    fn change(p: &ChangeLinksParams) -> Change<'_> {
        Change {
            group: p.name.as_str(),
            operation: p.operation,
            links: &p.links,
        }
    }

    fn entry(p: &ChangeLinksParams) -> Made {
        Made::Links {
            name: p.name.clone(),
            links: p.links.clone(),
            added: p.operation.adds(),
        }
    }

    async fn apply(run: &Runner, p: &ChangeLinksParams) -> Result<(), OpError> {
        Ok(bridge::change_links(run, &p.name, &p.links, p.operation.adds()).await?)
    }

    async fn undo(
        svc: &NetworkServices,
        cx: &Cx<'_, Made>,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        undo(svc, cx, journal).await
    }
}

/// Detaches every link of a bridge this task created, then deletes it.
async fn remove_bridge(cx: &Cx<'_, Made>, name: &BridgeName) -> Result<(), OpError> {
    let run = &cx.runner;
    let Some(links) = bridge::bridge_links(run, name).await? else {
        return Ok(()); // never created
    };
    let links: Vec<LinkName> = links.into_iter().map(|l| l.link).collect();
    if !links.is_empty() {
        bridge::change_links(run, name, &links, false).await?;
    }
    match bridge::delete_bridge(run, name).await {
        Err(e) if !matches!(e.kind, LinkFailure::NotFound) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Replays `journal` (newest first). A link change is all or none in dladm, so a change that
/// failed left nothing to move back: "not found" or "busy" from the reverse means just that.
async fn undo(svc: &NetworkServices, cx: &Cx<'_, Made>, journal: Vec<Made>) -> Result<(), OpError> {
    let existed: Vec<BridgeName> = journal
        .iter()
        .filter_map(|m| match m {
            Made::Existed { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let mut result = Ok(());
    for made in journal {
        cx.note(&format!(
            "undo: {}",
            serde_json::to_string(&made).unwrap_or_default()
        ));
        let r = match made {
            Made::Existed { .. } => Ok(()),
            Made::Bridge { name } if existed.contains(&name) => {
                cx.note(&format!(
                    "undo: leaving {name}: it was there before this task"
                ));
                Ok(())
            }
            Made::Bridge { name } => remove_bridge(cx, &name).await,
            Made::Links { name, links, added } => {
                match bridge::change_links(&cx.runner, &name, &links, !added).await {
                    Err(e)
                        if !matches!(
                            e.kind,
                            LinkFailure::NotFound | LinkFailure::OverNotFound | LinkFailure::Busy
                        ) =>
                    {
                        Err(e.into())
                    }
                    _ => Ok(()),
                }
            }
        };
        if let Err(e) = r {
            result = Err(e);
            break;
        }
    }
    svc.links_changed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_bridge_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateBridgeParams>(json!({"name": "lab", "protection": "stp",
            "stp": {"priority": 32768, "max_age": 20, "hello_time": 2, "forward_delay": 15,
                "force_protocol": 3},
            "links": ["igb1"]}));
        assert_same_shape::<DeleteBridgeParams>(json!({"name": "lab", "force": true}));
        assert_same_shape::<ChangeLinksParams>(json!({"name": "lab", "operation": "remove",
            "links": ["igb1"]}));
        assert!(
            serde_json::from_value::<CreateBridgeParams>(json!({"name": "lab0",
            "stp": {"priority": 0, "max_age": 20, "hello_time": 2, "forward_delay": 15,
                "force_protocol": 3}}))
            .is_err()
        );
    }
}
