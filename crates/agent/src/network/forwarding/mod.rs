//! `/network/forwarding`: the global IPv4 forwarding switch (`routeadm`) and the per-interface
//! `forwarding` property (`ipadm`), read live and changed by a task holding `forwarding`.

mod host;
mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use crate::network::NetworkServices;
use crate::tasks::{op, Operation};

pub use host::{ensure_global, ensure_interface};
pub use routes::router;
pub use view::{status, ForwardingStatus};

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![op(ops::SetForwardingOp(svc.clone()))]
}
