//! Integration tests: each starts the real `zoneweaver-agent` binary on an emulated host
//! (`illumos-sim`) and talks to it over HTTPS.

mod support;

mod access;
mod ansible_confined;
mod browser;
mod cli;
mod consoles;
mod crash;
mod exhaustion;
mod faults;
mod fuzz_replay;
mod host_arc;
mod host_devices;
mod host_power;
mod host_stats;
mod host_swap;
mod hostile_guest;
mod injection;
mod load;
mod monitoring;
mod network;
mod network_aggr;
mod network_ui;
mod network_views;
mod packaging;
mod privilege;
mod privileged;
mod provisioning;
mod provisioning_secrets;
mod revocation;
mod secrets;
mod services;
mod tasks;
mod tls;
mod ui_contract;
mod vnc;
mod zones;
mod zones_sshkeys;
