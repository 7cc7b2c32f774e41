//! The Zoneweaver agent: an HTTPS API over the host's zones, virtual network and provisioning,
//! every change an asynchronous, durable task.
//!
//! `main.rs` parses flags and calls [`server::serve`] or the key and config commands here.

pub mod config;
pub mod consoles;
pub mod data_dir;
pub mod db;
pub mod demo;
pub mod error;
pub mod host;
pub mod http;
pub mod keys;
pub mod monitoring;
pub mod network;
pub mod provisioning;
pub mod server;
pub mod services;
pub mod tasks;
pub mod time;
pub mod zones;
