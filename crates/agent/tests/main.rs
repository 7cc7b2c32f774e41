//! Integration tests: each starts the real `zoneweaver-agent` binary on an emulated host
//! (`illumos-sim`) and talks to it over HTTPS.

mod support;

mod access;
mod cli;
mod crash;
mod exhaustion;
mod faults;
mod fuzz_replay;
mod injection;
mod load;
mod network;
mod packaging;
mod provisioning;
mod revocation;
mod secrets;
mod tasks;
mod zones;
