//! `/network/hostname`: the node name, read live (`hostname` for the running system's,
//! `/etc/nodename` for the one the next boot takes) and changed by a task holding
//! [`LOCK_HOSTNAME`] that writes `/etc/nodename` and, when asked, sets the running name too.

mod ops;
mod request;
mod routes;

use std::sync::Arc;

use crate::network::NetworkServices;
use crate::tasks::{op, Operation};

pub use routes::router;

/// Serialises hostname changes (the file and the running name change together).
pub const LOCK_HOSTNAME: &str = "hostname";

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![op(ops::SetHostnameOp(svc.clone()))]
}
