//! Conformance tests: each tool's formats, exit codes and error texts as the reference
//! (shared/reference/illumos-cli.md) gives them, and the cross-tool rules, run against the
//! built binary through a host's tool links.

mod devices;
mod dladm;
mod dladm_aggr;
mod framework;
mod ipadm;
mod ipnat;
mod net;
mod smf;
mod stats;
mod svcs_rel;
mod system;
mod util;
mod vnc;
mod zfs;
mod zlogin;
mod zoneadm;
mod zonecfg;
