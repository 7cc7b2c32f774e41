//! Integration tests: each starts the real `zoneweaver-agent` binary on an emulated host
//! (`illumos-sim`) and talks to it over HTTPS.

mod support;

mod access;
mod ansible_confined;
mod cli;
mod crash;
mod exhaustion;
mod faults;
mod fuzz_replay;
mod host_stats;
mod hostile_guest;
mod injection;
mod load;
mod network;
mod network_views;
mod packaging;
mod privilege;
mod privileged;
mod provisioning;
mod provisioning_secrets;
mod revocation;
mod secrets;
mod tasks;
mod zones;
