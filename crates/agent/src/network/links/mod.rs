//! `/network/etherstubs` and `/network/vnics`: read live from `dladm` on every GET (no table to
//! go stale), changed by tasks that hold `link:NAME`.

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
        op(ops::CreateEtherstubOp(svc.clone())),
        op(ops::DeleteEtherstubOp(svc.clone())),
        op(ops::CreateVnicOp(svc.clone())),
        op(ops::DeleteVnicOp(svc.clone())),
    ]
}
