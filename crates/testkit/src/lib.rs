//! Starts the real `zoneweaver-agent` binary on an emulated host (`illumos-sim`), for the
//! agent's integration tests, the CLI's tests and the benchmarks. Dev-only: nothing shipped
//! depends on it.
//!
//! The pieces, in the order a caller uses them:
//! - [`binary`]: the workspace's built binaries, beside the running test or bench executable;
//! - [`EmulatedHost`]: `illumos-sim init DIR`, through the same function as `serve --demo`;
//! - [`AgentConfig`]: the agent's config.yaml for that host;
//! - [`serve_command`], [`wait_healthy`], [`bootstrap_key`]: run `serve`, wait until `/health`
//!   answers 200 over TLS, read the key it made;
//! - [`terminate`] / [`kill`]: stop it gracefully or as a crash would;
//! - [`TempDir`], [`free_port`], [`client`]: the scratch directory, port and HTTPS client.
//!
//! Callers keep what is theirs: the agent's tests run the agent as an unprivileged user with a
//! setuid pfexec, the bench measures; both build on these pieces.

mod bins;
mod config;
mod host;
mod http;
mod process;
mod temp;

pub use bins::{binary, target_dir};
pub use config::AgentConfig;
pub use host::EmulatedHost;
pub use http::{client, client_with, free_port};
pub use process::{
    append_log, bootstrap_key, kill, log_tail, serve_command, terminate, wait_healthy, Exited, Wait,
};
pub use temp::TempDir;
