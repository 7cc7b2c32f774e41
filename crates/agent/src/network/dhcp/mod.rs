//! `/network/dhcp/*`: ISC dhcpd's configuration (subnets and host reservations in
//! `dhcpd.conf`, edited through [`conf::DhcpConf`]), its SMF service, and its leases.
//!
//! The files are the service's (`config/config_file`, `config/lease_file`) unless config.yaml
//! names them ([`super::paths`]). Every change: render, `dhcpd -t -cf` on a temp file beside
//! the target (when a dhcpd binary is there), fsync, backup, rename, then restart the service
//! if it runs: OmniOS's dhcpd reads its configuration only at start and the service's refresh
//! method is `:true` (reference §1.11). A service that goes to maintenance fails the task,
//! whose undo restores the previous file.

pub mod check;
pub mod conf;
mod host;
pub mod leases;
mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use crate::network::NetworkServices;
use crate::tasks::{op, Operation};

pub use host::{
    apply, dhcp_file, ensure_listen, ensure_listening_on, host_conflict, listen_ifnames,
    listen_value, read_conf, restart_after_restore, restart_if_running, restore_listen, set_listen,
    start, stop,
};
pub use routes::router;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::ConfigOp(svc.clone())),
        op(ops::AddHostOp(svc.clone())),
        op(ops::DeleteHostOp(svc.clone())),
        op(ops::ServiceOp(svc.clone())),
    ]
}
