//! The rest of a fresh OmniOS host's services, beyond those the agent changes (`admin::seed`
//! makes those): what `svcs -a` shows on an installed hypervisor, with the dependencies `svcs
//! -d/-D/-l` report and the processes `svcs -p` lists. `extend` also wires the dependencies
//! and processes of the services `seed` made.

use std::collections::BTreeMap;

use crate::state::{Prop, Service, State};

/// FMRI, description, enabled, depends on (services), processes while online, properties.
type Row = (
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    &'static [&'static str],
    &'static [(&'static str, &'static str, &'static str)],
);

const MORE: &[Row] = &[
    (
        "svc:/milestone/network:default",
        "Network milestone",
        true,
        &["svc:/network/loopback", "svc:/network/physical"],
        &[],
        &[],
    ),
    (
        "svc:/milestone/single-user:default",
        "single-user milestone",
        true,
        &["svc:/system/filesystem/local"],
        &[],
        &[],
    ),
    (
        "svc:/system/cron:default",
        "clock daemon (cron)",
        true,
        &["svc:/system/filesystem/local"],
        &["cron"],
        &[("config/log", "boolean", "true")],
    ),
    (
        "svc:/system/system-log:default",
        "system log",
        true,
        &["svc:/system/filesystem/local"],
        &["syslogd"],
        &[("config/log_from_remote", "boolean", "false")],
    ),
    (
        "svc:/system/fmd:default",
        "Solaris Fault Manager",
        true,
        &["svc:/system/filesystem/local"],
        &["fmd"],
        &[],
    ),
    (
        "svc:/system/name-service-cache:default",
        "name service cache",
        true,
        &["svc:/system/filesystem/local"],
        &["nscd"],
        &[],
    ),
    (
        "svc:/network/dns/client:default",
        "DNS resolver",
        true,
        &["svc:/milestone/network"],
        &[],
        &[("config/nameserver", "net_address", "192.168.1.1")],
    ),
    (
        "svc:/network/ntp:default",
        "Network Time Protocol (NTP) Version 4",
        false,
        &["svc:/milestone/network"],
        &["ntpd"],
        &[("config/slew_always", "boolean", "false")],
    ),
    (
        "svc:/system/console-login:default",
        "Console login",
        true,
        &["svc:/milestone/single-user"],
        &["ttymon"],
        &[],
    ),
    (
        "svc:/system/identity:node",
        "system identity (nodename)",
        true,
        &["svc:/network/loopback"],
        &[],
        &[("config/nodename", "astring", "")],
    ),
    (
        "svc:/system/zoneweaver-agent:default",
        "Zoneweaver Agent",
        true,
        &[
            "svc:/milestone/network",
            "svc:/system/filesystem/local",
            "svc:/system/zones",
        ],
        &["zoneweaver-agent"],
        &[(
            "config/config_file",
            "astring",
            "/etc/zoneweaver-agent/config.yaml",
        )],
    ),
];

/// Dependencies and processes of the services `admin::seed` made.
const WIRING: &[(&str, &[&str], &[&str])] = &[
    ("svc:/system/svc/restarter:default", &[], &["svc.startd"]),
    (
        "svc:/network/physical:default",
        &["svc:/network/loopback"],
        &[],
    ),
    (
        "svc:/network/routing-setup:default",
        &["svc:/network/physical"],
        &[],
    ),
    (
        "svc:/network/ssh:default",
        &[
            "svc:/system/filesystem/local",
            "svc:/network/loopback",
            "svc:/milestone/network",
        ],
        &["sshd"],
    ),
    (
        "svc:/system/zones:default",
        &["svc:/system/filesystem/local"],
        &[],
    ),
    (
        "svc:/milestone/multi-user:default",
        &["svc:/milestone/single-user", "svc:/system/filesystem/local"],
        &[],
    ),
    (
        "svc:/network/ipfilter:default",
        &["svc:/network/physical"],
        &[],
    ),
    (
        "svc:/network/service/dhcp:ipv4",
        &["svc:/milestone/network"],
        &["dhcpd"],
    ),
    (
        "svc:/network/service/dhcp:ipv6",
        &["svc:/milestone/network"],
        &["dhcpd"],
    ),
];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn extend(st: &mut State, now: u64) {
    for (fmri, desc, enabled, deps, procs, props) in MORE {
        let mut pgs = BTreeMap::new();
        let mut map = BTreeMap::new();
        for (name, ty, value) in *props {
            pgs.insert(
                name.split('/').next().unwrap_or_default().to_owned(),
                "application".to_owned(),
            );
            map.insert(
                name.to_string(),
                Prop {
                    ty: ty.to_string(),
                    values: vec![value.to_string()],
                },
            );
        }
        st.services.insert(
            fmri.to_string(),
            Service {
                desc: desc.to_string(),
                enabled: *enabled,
                state: if *enabled { "online" } else { "disabled" }.into(),
                stime: now,
                pgs,
                running: map.clone(),
                props: map,
                deps: strs(deps),
                procs: strs(procs),
                ..Default::default()
            },
        );
    }
    for (fmri, deps, procs) in WIRING {
        if let Some(s) = st.services.get_mut(*fmri) {
            s.deps = strs(deps);
            s.procs = strs(procs);
        }
    }
}
