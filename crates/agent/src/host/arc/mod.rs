//! ZFS ARC settings (`/system/zfs/arc/*`): what the ARC is doing and its effective limits
//! (`kstat -p zfs:0:arcstats`), a check of proposed limits against physical memory, and the
//! boot-time tunables in `/etc/system.d/zfs-arc.conf` (changed and reset by admin tasks).

pub mod ops;
pub mod request;
pub mod routes;
pub mod settings;
pub mod view;

use std::sync::Arc;

use crate::host::power::flag::RebootFlag;
use crate::tasks::Operation;

pub fn operations(
    config: &crate::config::Config,
    flag: &Arc<RebootFlag>,
) -> Vec<Arc<dyn Operation>> {
    [ops::CONFIGURE, ops::RESET]
        .into_iter()
        .map(|name| {
            crate::tasks::op(ops::ArcConfigOp {
                name,
                file: routes::file(config),
                flag: flag.clone(),
            })
        })
        .collect()
}
