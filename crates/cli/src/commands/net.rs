//! `zw net ...`: thin wrappers over `/network/...` and `/provisioning/network/...`: the
//! request is `-f FILE` and FIELD=VALUE arguments as JSON, the answer is printed as a table
//! or a listing (or unchanged with `--json`).

use anyhow::Result;

use crate::cli::{DhcpCmd, DhcpHostsCmd, LinkCmd, NatCmd, NetCmd, ProvNetCmd, SettingCmd};
use crate::client::{enc, Body};
use crate::commands::{get, send, send_body};
use crate::Ctx;

pub fn run(ctx: &Ctx, cmd: NetCmd) -> Result<()> {
    match cmd {
        NetCmd::Etherstubs(c) => links(ctx, "/network/etherstubs", c),
        NetCmd::Vnics(c) => links(ctx, "/network/vnics", c),
        NetCmd::Nat(c) => match c {
            NatCmd::List => get(ctx, "/network/nat/rules"),
            NatCmd::Create(b) => send_body(ctx, "POST", "/network/nat/rules", &b),
            NatCmd::Delete { id } => send(
                ctx,
                "DELETE",
                &format!("/network/nat/rules/{}", enc(&id)),
                Body::None,
            ),
            NatCmd::Status => get(ctx, "/network/nat/status"),
        },
        NetCmd::Forwarding(c) => setting(ctx, "/network/forwarding", c),
        NetCmd::Dhcp(c) => match c {
            DhcpCmd::Config(c) => setting(ctx, "/network/dhcp/config", c),
            DhcpCmd::Status(c) => setting(ctx, "/network/dhcp/status", c),
            DhcpCmd::Leases => get(ctx, "/network/dhcp/leases"),
            DhcpCmd::Hosts(c) => match c {
                DhcpHostsCmd::List => get(ctx, "/network/dhcp/hosts"),
                DhcpHostsCmd::Add(b) => send_body(ctx, "POST", "/network/dhcp/hosts", &b),
                DhcpHostsCmd::Delete { hostname } => send(
                    ctx,
                    "DELETE",
                    &format!("/network/dhcp/hosts/{}", enc(&hostname)),
                    Body::None,
                ),
            },
        },
        NetCmd::Provisioning(c) => match c {
            ProvNetCmd::Status => get(ctx, "/provisioning/network/status"),
            ProvNetCmd::Setup(b) => send_body(ctx, "POST", "/provisioning/network/setup", &b),
            ProvNetCmd::Teardown => {
                send(ctx, "DELETE", "/provisioning/network/teardown", Body::None)
            }
        },
    }
}

fn links(ctx: &Ctx, base: &str, cmd: LinkCmd) -> Result<()> {
    match cmd {
        LinkCmd::List => get(ctx, base),
        LinkCmd::Show { name } => get(ctx, &format!("{base}/{}", enc(&name))),
        LinkCmd::Create(b) => send_body(ctx, "POST", base, &b),
        LinkCmd::Delete { name, force } => {
            let q = if force { "?force=true" } else { "" };
            send(
                ctx,
                "DELETE",
                &format!("{base}/{}{q}", enc(&name)),
                Body::None,
            )
        }
    }
}

fn setting(ctx: &Ctx, path: &str, cmd: SettingCmd) -> Result<()> {
    match cmd {
        SettingCmd::Show => get(ctx, path),
        SettingCmd::Set(b) => send_body(ctx, "PUT", path, &b),
    }
}
