//! The aggregation operations. A create journals the aggregation before making it and a port
//! change journals the ports it moves, so an undo deletes or moves back exactly those.

use std::sync::Arc;

use illumos::dladm::aggr::{self, AggrPolicy, CreateAggr, LacpMode, LacpTimer};
use illumos::dladm::LinkFailure;
use illumos::link::{LinkName, UnicastMac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use illumos::Runner;

use super::request::Membership;
use crate::network::membership::{Change, Group};
use crate::network::{persistence, NetworkServices};
use crate::tasks::{Cx, OpError, TaskOp};

pub const CREATE_AGGR: &str = "network_create_aggregate";
pub const DELETE_AGGR: &str = "network_delete_aggregate";
pub const CHANGE_PORTS: &str = "network_modify_aggregate_links";

/// `network_create_aggregate`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateAggrParams {
    pub name: LinkName,
    pub links: Vec<LinkName>,
    pub policy: AggrPolicy,
    #[serde(default)]
    pub lacp_mode: LacpMode,
    #[serde(default)]
    pub lacp_timer: LacpTimer,
    #[serde(default)]
    pub unicast_address: Option<UnicastMac>,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_delete_aggregate`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteAggrParams {
    pub name: LinkName,
    #[serde(default)]
    pub temporary: bool,
}

/// `network_modify_aggregate_links`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangePortsParams {
    pub name: LinkName,
    pub operation: Membership,
    pub links: Vec<LinkName>,
    #[serde(default)]
    pub temporary: bool,
}

/// What an aggregation task made, journalled before it makes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    /// The aggregation is about to be created.
    Aggr { name: LinkName, temporary: bool },
    /// The create found an aggregation of that name already there: not this task's.
    Existed { name: LinkName },
    /// These ports are about to be added (`added`) to or removed from `name`.
    Ports {
        name: LinkName,
        links: Vec<LinkName>,
        added: bool,
        temporary: bool,
    },
}

pub struct CreateAggrOp(pub Arc<NetworkServices>);

impl TaskOp for CreateAggrOp {
    type Params = CreateAggrParams;
    type Entry = Made;

    fn name(&self) -> &'static str {
        CREATE_AGGR
    }

    async fn run(&self, cx: &Cx<'_, Made>, p: CreateAggrParams) -> Result<Option<Value>, OpError> {
        let spec = CreateAggr {
            name: p.name,
            ports: p.links,
            policy: p.policy,
            lacp_mode: p.lacp_mode,
            lacp_timer: p.lacp_timer,
            unicast: p.unicast_address,
            persistence: persistence(p.temporary),
        };
        let ports: Vec<&str> = spec.ports.iter().map(LinkName::as_str).collect();
        cx.progress(
            10,
            &format!(
                "creating aggregation {} over {} (policy {})",
                spec.name,
                ports.join(", "),
                spec.policy
            ),
        )
        .await?;
        cx.will_make(&Made::Aggr {
            name: spec.name.clone(),
            temporary: p.temporary,
        })
        .await?;
        let r = aggr::create_aggr(&cx.runner, &spec).await;
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
            "aggregate": spec.name.as_str(),
            "links": ports,
            "policy": spec.policy.to_string(),
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _p: CreateAggrParams,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        undo(&self.0, cx, journal).await
    }
}

pub struct DeleteAggrOp(pub Arc<NetworkServices>);

impl TaskOp for DeleteAggrOp {
    type Params = DeleteAggrParams;
    type Entry = Made;

    fn name(&self) -> &'static str {
        DELETE_AGGR
    }

    async fn run(&self, cx: &Cx<'_, Made>, p: DeleteAggrParams) -> Result<Option<Value>, OpError> {
        let name = p.name;
        cx.progress(10, &format!("deleting aggregation {name}"))
            .await?;
        let r = aggr::delete_aggr(&cx.runner, &name, persistence(p.temporary)).await;
        self.0.links_changed();
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.kind, LinkFailure::NotFound) => {
                cx.note(&format!("aggregation {name} was already gone"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Some(json!({"aggregate": name.as_str()})))
    }
}

/// An aggregation's ports, changed by [`ChangeMembersOp`]`<Ports>` (`network_modify_aggregate_links`).
///
/// [`ChangeMembersOp`]: crate::network::membership::ChangeMembersOp
pub struct Ports;

impl Group for Ports {
    type Params = ChangePortsParams;
    type Entry = Made;
    const OPERATION: &'static str = CHANGE_PORTS;
    const NOUN: &'static str = "aggregation";
    const KEY: &'static str = "aggregate";
    const VERBS: [&'static str; 2] = ["adding", "removing"];

    fn change(p: &ChangePortsParams) -> Change<'_> {
        Change {
            group: p.name.as_str(),
            operation: p.operation,
            links: &p.links,
        }
    }

    fn entry(p: &ChangePortsParams) -> Made {
        Made::Ports {
            name: p.name.clone(),
            links: p.links.clone(),
            added: p.operation.adds(),
            temporary: p.temporary,
        }
    }

    async fn apply(run: &Runner, p: &ChangePortsParams) -> Result<(), OpError> {
        let add = p.operation.adds();
        Ok(aggr::change_ports(run, &p.name, &p.links, add, persistence(p.temporary)).await?)
    }

    async fn undo(
        svc: &NetworkServices,
        cx: &Cx<'_, Made>,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        undo(svc, cx, journal).await
    }
}

/// Replays `journal` (newest first): deletes an aggregation this task created, moves ports
/// back. A port change is all or none in dladm, so a change that failed left nothing to move
/// back: "not found" / "busy" from the reverse change means it never happened.
async fn undo(svc: &NetworkServices, cx: &Cx<'_, Made>, journal: Vec<Made>) -> Result<(), OpError> {
    let existed: Vec<LinkName> = journal
        .iter()
        .filter_map(|m| match m {
            Made::Existed { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let run = &cx.runner;
    for made in journal {
        cx.note(&format!(
            "undo: {}",
            serde_json::to_string(&made).unwrap_or_default()
        ));
        // What counts as "already undone" for each step.
        let (r, done): (_, fn(&LinkFailure) -> bool) = match made {
            Made::Existed { .. } => continue,
            Made::Aggr { name, .. } if existed.contains(&name) => {
                cx.note(&format!(
                    "undo: leaving {name}: it was there before this task"
                ));
                continue;
            }
            Made::Aggr { name, temporary } => (
                aggr::delete_aggr(run, &name, persistence(temporary)).await,
                |k| matches!(k, LinkFailure::NotFound),
            ),
            Made::Ports {
                name,
                links,
                added,
                temporary,
            } => (
                aggr::change_ports(run, &name, &links, !added, persistence(temporary)).await,
                |k| {
                    matches!(
                        k,
                        LinkFailure::NotFound | LinkFailure::OverNotFound | LinkFailure::Busy
                    )
                },
            ),
        };
        if let Err(e) = r {
            if !done(&e.kind) {
                svc.links_changed();
                return Err(e.into());
            }
        }
    }
    svc.links_changed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::assert_same_shape;

    #[test]
    fn metadata_of_queued_aggregate_tasks_reads_and_keeps_its_shape() {
        assert_same_shape::<CreateAggrParams>(json!({"name": "aggr0", "links": ["igb1", "igb2"],
            "policy": "L2,L3", "lacp_mode": "active", "lacp_timer": "long",
            "unicast_address": "02:08:20:aa:bb:cc", "temporary": false}));
        assert_same_shape::<DeleteAggrParams>(json!({"name": "aggr0", "temporary": true}));
        assert_same_shape::<ChangePortsParams>(json!({"name": "aggr0", "operation": "add",
            "links": ["igb2"], "temporary": false}));
        assert!(serde_json::from_value::<CreateAggrParams>(
            json!({"name": "aggr0", "links": ["igb1"], "policy": "L5"})
        )
        .is_err());
    }
}
