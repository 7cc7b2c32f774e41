//! `/network/aggregates`: link aggregations (`dladm show-aggr`, with `-x` for the ports and
//! `-L` for LACP, and `show-link` for state and MTU), created, deleted and re-membered by tasks
//! holding `link:NAME` of the aggregation and of every port.

mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use super::membership::ChangeMembersOp;
use super::NetworkServices;
use crate::tasks::{op, Operation};

pub(crate) use request::{link_list, Membership};
pub(crate) use routes::enqueue;
pub use routes::router;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::CreateAggrOp(svc.clone())),
        op(ops::DeleteAggrOp(svc.clone())),
        op(ChangeMembersOp::<ops::Ports>::new(svc.clone())),
    ]
}
