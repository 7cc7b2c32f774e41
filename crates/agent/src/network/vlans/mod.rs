//! `/network/vlans`: VLAN links (`dladm show-vlan`, read live with their state and MTU from
//! `show-link`), created and deleted by tasks that hold `link:NAME`.

mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use super::NetworkServices;
use crate::tasks::{op, Operation};

pub use routes::router;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::CreateVlanOp(svc.clone())),
        op(ops::DeleteVlanOp(svc.clone())),
    ]
}
