//! Typed control of the illumos host tools the Zoneweaver agent drives.
//!
//! Every call has three parts that can be tested alone: a `*_cmd` function builds the argument
//! vector ([`Cmd`]), the one [`Runner`] runs it, and a pure `parse_*` function turns the tool's
//! output into types. This crate knows tools, not HTTP, SQL or tasks.

pub mod arc;
pub mod cmd;
pub mod diskstat;
pub mod dladm;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
pub mod hostname;
pub mod install;
pub mod ipadm;
pub mod ipnat;
pub mod kstat;
pub mod lines;
pub mod link;
pub mod names;
pub mod net;
pub mod netstat;
pub mod pagesize;
pub mod parsable;
pub mod persistence;
pub mod power;
pub mod pptadm;
pub mod process;
pub mod prtconf;
pub mod psrinfo;
pub mod read;
pub mod route;
pub mod routeadm;
pub mod runner;
#[cfg(feature = "serde")]
mod serde_str;
pub mod services;
pub mod smf;
pub mod stream;
pub mod swap;
pub mod uname;
pub mod zfs;
pub mod zlogin;
pub mod zoneadm;
pub mod zonecfg;
pub mod zpool;

pub use cmd::{Cmd, Tool};
pub use runner::{CommandError, CommandFailed, Output, OutputSink, Runner, RunnerConfig, Stream};
pub use zlogin::PtySession;
