//! ZFS ARC settings (`/system/zfs/arc/*`): what the ARC is doing and its effective limits
//! (`kstat -p zfs:0:arcstats`), and a check of proposed limits against physical memory.
//! Persisting limits (`/etc/system.d`, applied at boot) is not done yet: `PUT` and `reset` are
//! not served.

pub mod routes;
pub mod view;
