use std::time::Duration;

use crate::util::Host;

#[test]
fn svcs_columns_and_abbreviated_fmris() {
    let h = Host::new();
    let out = h
        .run(
            "svcs",
            &[
                "-H",
                "-o",
                "state,fmri",
                "svc:/network/ipfilter:default",
                "network/dhcp/server:ipv4",
            ],
        )
        .ok();
    assert_eq!(out, "disabled       svc:/network/dhcp/server:ipv4\ndisabled       svc:/network/ipfilter:default\n");
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipfilter"]).ok(),
        "disabled\n"
    );
    assert_eq!(
        h.run("svcs", &["-H", "-o", "fmri", "dhcp/server:ipv4"])
            .ok(),
        "svc:/network/dhcp/server:ipv4\n"
    );
    let o = h.run("svcs", &["-H", "-o", "state", "ipfilter", "foo"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (
            1,
            "disabled\n",
            "svcs: Pattern 'foo' doesn't match any instances\n"
        )
    );
    let all = h.run("svcs", &[]).ok();
    assert!(all.starts_with("STATE          STIME    FMRI\n"));
    assert!(!all.contains("ipfilter"), "disabled instances only with -a");
    assert!(h
        .run("svcs", &["-a"])
        .ok()
        .contains("svc:/network/ipfilter:default"));
    assert_eq!(h.run("svcs", &["-o", "nope"]).code, 2);
    assert!(h.run("svcs", &["-l", "ipfilter"]).ok().starts_with("fmri         svc:/network/ipfilter:default\nname         IP Filter\nenabled      false\nstate        disabled\n"));
}

#[test]
fn ipfilter_loads_ipnat_conf_when_enabled_and_drops_rules_when_disabled() {
    let h = Host::new();
    h.write(
        "/etc/ipf/ipnat.conf",
        "map igb0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto\n",
    );
    h.run("svcadm", &["enable", "-s", "svc:/network/ipfilter:default"])
        .ok();
    assert_eq!(
        h.run("svcprop", &["-p", "restarter/state", "ipfilter"])
            .ok(),
        "online\n"
    );
    assert!(h
        .run("ipnat", &["-l"])
        .ok()
        .contains("map igb0 10.10.0.0/24 -> 0.0.0.0/32 portmap tcp/udp auto\n"));
    h.run("svcadm", &["disable", "ipfilter"]).ok();
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipfilter"]).ok(),
        "disabled\n"
    );
    assert_eq!(h.dump_json()["nat_rules"], serde_json::json!([]));
    assert_eq!(
        h.run("svcadm", &["enable", "nosuch"]).fails(1),
        "svcadm: Pattern 'nosuch' doesn't match any instances\n"
    );
    assert!(h
        .run("svcadm", &["enable", "dhcp/server"])
        .fails(1)
        .starts_with("svcadm: Pattern 'dhcp/server' matches multiple instances:\n"));
}

#[test]
fn dhcp_server_config_listprop_svcprop_and_maintenance() {
    let h = Host::new();
    h.run("dladm", &["create-vnic", "-l", "igb0", "vnic0"]).ok();
    h.run(
        "ipadm",
        &[
            "create-addr",
            "-T",
            "static",
            "-a",
            "10.10.0.1/24",
            "vnic0/v4",
        ],
    )
    .ok();
    h.run(
        "svccfg",
        &[
            "-s",
            "dhcp/server:ipv4",
            "setprop",
            "config/listen_ifnames",
            "=",
            "astring:",
            "(\"vnic0\")",
        ],
    )
    .ok();
    let lp = h
        .run(
            "svccfg",
            &[
                "-s",
                "dhcp/server:ipv4",
                "listprop",
                "config/listen_ifnames",
            ],
        )
        .ok();
    assert!(
        lp.starts_with("config/listen_ifnames") && lp.trim_end().ends_with("astring  vnic0"),
        "{lp}"
    );
    // svcprop reads the running snapshot: unchanged until refresh.
    assert_eq!(
        h.run(
            "svcprop",
            &["-p", "config/listen_ifnames", "dhcp/server:ipv4"]
        )
        .ok(),
        "\n"
    );
    h.run("svcadm", &["refresh", "dhcp/server:ipv4"]).ok();
    assert_eq!(
        h.run(
            "svcprop",
            &["-p", "config/listen_ifnames", "dhcp/server:ipv4"]
        )
        .ok(),
        "vnic0\n"
    );
    assert!(h
        .run("svcprop", &["-p", "config/nope", "dhcp/server:ipv4"])
        .fails(1)
        .starts_with("svcprop: Couldn't find property \"config/nope\""));
    assert!(h
        .run(
            "svccfg",
            &["-s", "dhcp/server:ipv4", "setprop", "config/newp", "=", "x"]
        )
        .fails(1)
        .contains("No such property"));
    assert_eq!(
        h.run("svccfg", &["-s", "nope", "listprop"]).fails(1),
        "svccfg: Pattern 'nope' doesn't match any instances or services\n"
    );
    // No dhcpd.conf: the start method fails and enable -s reports it with exit 3.
    let err = h
        .run("svcadm", &["enable", "-s", "dhcp/server:ipv4"])
        .fails(3);
    assert!(err.contains("svc:/network/dhcp/server:ipv4"), "{err}");
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "dhcp/server:ipv4"])
            .ok(),
        "maintenance\n"
    );
    assert!(h
        .run("svcs", &["-x"])
        .ok()
        .starts_with("svc:/network/dhcp/server:ipv4 (ISC DHCP Server)\n State: maintenance since"));
    h.write(
        "/etc/dhcpd.conf",
        "subnet 10.10.0.0 netmask 255.255.255.0 {\n  range 10.10.0.100 10.10.0.200;\n}\n",
    );
    h.run("svcadm", &["clear", "dhcp/server:ipv4"]).ok();
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "dhcp/server:ipv4"])
            .ok(),
        "online\n"
    );
}

#[test]
fn start_time_is_visible_as_a_transition() {
    let h = Host::new();
    h.config("svc_start_ms=300");
    h.run("svcadm", &["enable", "ipfilter"]).ok();
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state,nstate", "ipfilter"])
            .ok(),
        "offline*       online\n"
    );
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipfilter"]).ok(),
        "online\n"
    );
    h.run("svcadm", &["disable", "-s", "ipfilter"]).ok();
    h.run("svcadm", &["enable", "-s", "ipfilter"]).ok();
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipfilter"]).ok(),
        "online\n"
    );
}
