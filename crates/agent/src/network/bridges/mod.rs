//! `/network/bridges`: 802.1D bridges (`dladm show-bridge`, with `-l` for the attached links
//! and `-f` for the forwarding table), created, deleted and re-membered by tasks holding
//! `bridge:NAME` and `link:NAME` of every link they attach or detach.

mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use super::membership::ChangeMembersOp;
use super::NetworkServices;
use crate::tasks::{op, Operation};

pub use routes::router;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::CreateBridgeOp(svc.clone())),
        op(ops::DeleteBridgeOp(svc.clone())),
        op(ChangeMembersOp::<ops::Links>::new(svc.clone())),
    ]
}

/// The task lock of a bridge instance.
pub fn bridge_lock(name: &str) -> String {
    format!("bridge:{name}")
}
