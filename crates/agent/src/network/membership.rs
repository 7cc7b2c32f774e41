//! Changing which links belong to a link group: an aggregation's ports (`dladm add-aggr` /
//! `remove-aggr`) or a bridge's links (`add-bridge` / `remove-bridge`). Both are one dladm
//! call each way, all or none, so one task operation serves both; each area says what its
//! group is called, which dladm call changes it and what its journal entry looks like (the
//! area's own, so the area's undo reads it beside its create and delete entries).

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use illumos::link::LinkName;
use illumos::Runner;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::aggregates::Membership;
use super::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

/// The requested change, as the area's task parameters hold it.
pub struct Change<'a> {
    /// The group's name.
    pub group: &'a str,
    pub operation: Membership,
    pub links: &'a [LinkName],
}

/// A kind of link group.
pub trait Group: Send + Sync + 'static {
    /// The area's task parameters (kept as they are, so stored task metadata keeps its shape).
    type Params: DeserializeOwned + Send + Sync;
    /// The area's journal entry.
    type Entry: Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync;
    /// The `operation` name stored on tasks.
    const OPERATION: &'static str;
    /// What the group is called in progress messages (`aggregation`, `bridge`).
    const NOUN: &'static str;
    /// The result's key naming the group (`aggregate`, `bridge`).
    const KEY: &'static str;
    /// The progress verbs for adding and for removing.
    const VERBS: [&'static str; 2];

    fn change(p: &Self::Params) -> Change<'_>;
    /// The journal entry written before the change is made.
    fn entry(p: &Self::Params) -> Self::Entry;
    /// Makes the change with dladm.
    fn apply(run: &Runner, p: &Self::Params) -> impl Future<Output = Result<(), OpError>> + Send;
    /// The area's undo, newest entry first.
    fn undo(
        svc: &NetworkServices,
        cx: &Cx<'_, Self::Entry>,
        journal: Vec<Self::Entry>,
    ) -> impl Future<Output = Result<(), OpError>> + Send;
}

/// The task operation changing a `G`'s members: journals the links it moves, then moves them.
pub struct ChangeMembersOp<G>(Arc<NetworkServices>, PhantomData<fn() -> G>);

impl<G> ChangeMembersOp<G> {
    pub fn new(svc: Arc<NetworkServices>) -> Self {
        ChangeMembersOp(svc, PhantomData)
    }
}

impl<G: Group> TaskOp for ChangeMembersOp<G> {
    type Params = G::Params;
    type Entry = G::Entry;

    fn name(&self) -> &'static str {
        G::OPERATION
    }

    async fn run(&self, cx: &Cx<'_, G::Entry>, p: G::Params) -> Result<Option<Value>, OpError> {
        let change = G::change(&p);
        let add = change.operation.adds();
        let links: Vec<&str> = change.links.iter().map(LinkName::as_str).collect();
        let verb = G::VERBS[usize::from(!add)];
        cx.progress(
            10,
            &format!(
                "{verb} {} on {} {}",
                links.join(", "),
                G::NOUN,
                change.group
            ),
        )
        .await?;
        cx.will_make(&G::entry(&p)).await?;
        let r = G::apply(&cx.runner, &p).await;
        self.0.links_changed();
        r?;
        Ok(Some(json!({
            (G::KEY): change.group,
            "operation": change.operation,
            "links": links,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, G::Entry>,
        _p: G::Params,
        journal: Vec<G::Entry>,
    ) -> Result<(), OpError> {
        G::undo(&self.0, cx, journal).await
    }
}
