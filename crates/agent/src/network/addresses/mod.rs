//! `/network/addresses`: IP addresses (`ipadm show-addr`, read live on every GET) and their
//! static, DHCP and addrconf creation, deletion, enabling and disabling through tasks that hold
//! `link:INTERFACE`.

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
        op(ops::CreateAddressOp(svc.clone())),
        op(ops::DeleteAddressOp),
        op(ops::ToggleAddressOp),
    ]
}
