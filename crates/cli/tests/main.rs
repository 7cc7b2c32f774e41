//! `zw` against a real agent on an emulated host: one test binary, a module per area.

mod support;

mod login;
mod meta;
mod network;
mod provisioning;
mod tasks;
mod zones;
