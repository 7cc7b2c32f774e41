//! `/network/nat/*`: ipfilter NAT rules in `ipnat.conf`.
//!
//! The file is parsed by [`illumos::ipnat::NatConf`], which keeps every line it did not write.
//! The file is ipfilter's `config/ipnat_config_file` unless config.yaml names one
//! ([`super::paths`]). A change is applied by [`apply`]: temp file beside the target,
//! `ipnat -n -f` check, fsync, backup, rename, then `svcadm refresh` of ipfilter (or enabling
//! it): the service's own load flushes the rules and loads its per-service NAT files and then
//! this file (reference §1.13), where a bare `ipnat -CF -f FILE` would drop the per-service
//! rules. Then `ipnat -l` is compared with the file, as advice only: a difference is a warning
//! in the task output, since the text of `ipnat -l` on a current host is unverified and a
//! refresh may still be running. A failure after the rename fails the task, and its undo
//! restores the previous file and reloads it.

mod host;
mod ops;
mod request;
mod routes;
mod view;

use std::sync::Arc;

use crate::network::NetworkServices;
use crate::tasks::{op, Operation};

pub use host::{apply, apply_with, read_conf, reload_if_online, remove_rules, Activate};
pub use routes::router;
pub use view::rule_id;

pub fn operations(svc: &Arc<NetworkServices>) -> Vec<Arc<dyn Operation>> {
    vec![
        op(ops::AddRulesOp(svc.clone())),
        op(ops::DeleteRuleOp(svc.clone())),
    ]
}
