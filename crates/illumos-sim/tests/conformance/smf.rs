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
                "network/service/dhcp:ipv4",
            ],
        )
        .ok();
    assert_eq!(out, "disabled       svc:/network/ipfilter:default\ndisabled       svc:/network/service/dhcp:ipv4\n");
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipfilter"]).ok(),
        "disabled\n"
    );
    assert_eq!(
        h.run("svcs", &["-H", "-o", "fmri", "service/dhcp:ipv4"])
            .ok(),
        "svc:/network/service/dhcp:ipv4\n"
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
        .run("svcadm", &["enable", "service/dhcp"])
        .fails(1)
        .starts_with("svcadm: Pattern 'service/dhcp' matches multiple instances:\n"));
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
            "service/dhcp:ipv4",
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
                "service/dhcp:ipv4",
                "listprop",
                "config/listen_ifnames",
            ],
        )
        .ok();
    assert!(
        lp.starts_with("config/listen_ifnames") && lp.trim_end().ends_with("astring  vnic0"),
        "{lp}"
    );
    // svcprop reads the running snapshot: unchanged until refresh (the package's default is
    // one empty value).
    assert_eq!(
        h.run(
            "svcprop",
            &["-p", "config/listen_ifnames", "service/dhcp:ipv4"]
        )
        .ok(),
        "\"\"\n"
    );
    h.run("svcadm", &["refresh", "service/dhcp:ipv4"]).ok();
    assert_eq!(
        h.run(
            "svcprop",
            &["-p", "config/listen_ifnames", "service/dhcp:ipv4"]
        )
        .ok(),
        "vnic0\n"
    );
    assert!(h
        .run("svcprop", &["-p", "config/nope", "service/dhcp:ipv4"])
        .fails(1)
        .starts_with("svcprop: Couldn't find property \"config/nope\""));
    assert!(h
        .run(
            "svccfg",
            &[
                "-s",
                "service/dhcp:ipv4",
                "setprop",
                "config/newp",
                "=",
                "x"
            ]
        )
        .fails(1)
        .contains("No such property"));
    assert_eq!(
        h.run("svccfg", &["-s", "nope", "listprop"]).fails(1),
        "svccfg: Pattern 'nope' doesn't match any instances or services\n"
    );
    // No dhcpd.conf: the start method fails and enable -s reports it with exit 3.
    let err = h
        .run("svcadm", &["enable", "-s", "service/dhcp:ipv4"])
        .fails(3);
    assert!(err.contains("svc:/network/service/dhcp:ipv4"), "{err}");
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "service/dhcp:ipv4"])
            .ok(),
        "maintenance\n"
    );
    assert!(h.run("svcs", &["-x"]).ok().starts_with(
        "svc:/network/service/dhcp:ipv4 (ISC DHCP Server)\n State: maintenance since"
    ));
    h.write(
        "/etc/dhcpd.conf",
        "subnet 10.10.0.0 netmask 255.255.255.0 {\n  range 10.10.0.100 10.10.0.200;\n}\n",
    );
    h.run("svcadm", &["clear", "service/dhcp:ipv4"]).ok();
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "service/dhcp:ipv4"])
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

#[test]
fn the_dhcp_service_is_omnios_package_with_its_properties_and_leases_files() {
    // Reference §1.11: FMRIs, config/ properties, leases files created empty; no Solaris FMRI.
    let h = Host::new();
    for (fmri, conf, leases) in [
        (
            "svc:/network/service/dhcp:ipv4",
            "/etc/dhcpd.conf",
            "/var/db/dhcpd.leases",
        ),
        (
            "svc:/network/service/dhcp:ipv6",
            "/etc/dhcpd6.conf",
            "/var/db/dhcpd6.leases",
        ),
    ] {
        assert_eq!(
            h.run("svcs", &["-H", "-o", "state", fmri]).ok(),
            "disabled\n"
        );
        let p = |name: &str| h.run("svcprop", &["-p", name, fmri]).ok();
        assert_eq!(p("config/config_file"), format!("{conf}\n"));
        assert_eq!(p("config/lease_file"), format!("{leases}\n"));
        assert_eq!(p("config/listen_ifnames"), "\"\"\n");
        assert_eq!(p("config/debug"), "false\n");
        assert_eq!(p("config/omapi_conn_limit"), "200\n");
        assert_eq!(std::fs::read_to_string(h.root(leases)).unwrap(), "");
    }
    assert_eq!(
        h.run("svcs", &["-H", "svc:/network/dhcp/server:ipv4"])
            .fails(1),
        "svcs: Pattern 'svc:/network/dhcp/server:ipv4' doesn't match any instances\n"
    );
}

#[test]
fn dhcpd_reads_its_configuration_at_start_and_a_refresh_changes_nothing() {
    let h = Host::new();
    let fmri = "svc:/network/service/dhcp:ipv4";
    let first = "subnet 192.168.1.0 netmask 255.255.255.0 {\n}\n";
    h.write("/etc/dhcpd.conf", first);
    h.run("svcadm", &["enable", "-s", fmri]).ok();
    let loaded = |h: &Host| h.dump_json()["dhcpd"][fmri].clone();
    assert_eq!(loaded(&h)["config"], first);
    assert_eq!(loaded(&h)["listen_ifnames"], serde_json::json!([]));
    assert_eq!(loaded(&h)["lease_file"], "/var/db/dhcpd.leases");
    // A new reservation and a new listen interface: a refresh takes the property into the
    // running snapshot, but the daemon keeps what it loaded (the refresh method is `:true`).
    let second = format!(
        "{first}host a {{ hardware ethernet 2:8:20:0:0:1; fixed-address 192.168.1.50; }}\n"
    );
    h.write("/etc/dhcpd.conf", &second);
    h.run(
        "svccfg",
        &[
            "-s",
            fmri,
            "setprop",
            "config/listen_ifnames",
            "=",
            "astring:",
            "(\"igb0\")",
        ],
    )
    .ok();
    h.run("svcadm", &["refresh", fmri]).ok();
    assert_eq!(
        h.run("svcprop", &["-p", "config/listen_ifnames", fmri])
            .ok(),
        "igb0\n"
    );
    assert_eq!(loaded(&h)["config"], first);
    assert_eq!(loaded(&h)["listen_ifnames"], serde_json::json!([]));
    // A restart runs the start method again: now it serves both.
    h.run("svcadm", &["restart", fmri]).ok();
    assert_eq!(loaded(&h)["config"], second.as_str());
    assert_eq!(loaded(&h)["listen_ifnames"], serde_json::json!(["igb0"]));
    // Stopped, it serves nothing.
    h.run("svcadm", &["disable", "-s", fmri]).ok();
    assert!(h.dump_json()["dhcpd"].get(fmri).is_none());
}

#[test]
fn an_ipfilter_refresh_reloads_the_file_the_service_names() {
    // Reference §1.13: start and refresh both run the method's load of config/ipnat_config_file.
    let h = Host::new();
    h.write("/etc/ipf/ipnat.conf", "map igb0 10.10.0.0/24 -> 0/32\n");
    h.run("svcadm", &["enable", "-s", "svc:/network/ipfilter:default"])
        .ok();
    h.write("/etc/ipf/site-nat.conf", "map igb0 10.20.0.0/24 -> 0/32\n");
    h.run(
        "svccfg",
        &[
            "-s",
            "svc:/network/ipfilter:default",
            "setprop",
            "config/ipnat_config_file",
            "=",
            "astring:",
            "\"/etc/ipf/site-nat.conf\"",
        ],
    )
    .ok();
    h.run("svcadm", &["refresh", "svc:/network/ipfilter:default"])
        .ok();
    assert_eq!(
        h.dump_json()["nat_rules"],
        serde_json::json!(["map igb0 10.20.0.0/24 -> 0.0.0.0/32"])
    );
}

/// `svcadm restart` returns once svc.startd has the request; the instance shows `online*`
/// until it has been stopped and started again, on a new contract.
#[test]
fn a_restart_returns_at_once_and_starts_a_new_contract() {
    let h = Host::new();
    h.run("svcadm", &["enable", "-s", "ipfilter"]).ok();
    let cols = |h: &Host| -> Vec<String> {
        h.run("svcs", &["-H", "-o", "state,ctid", "ipfilter"])
            .ok()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let before = cols(&h);
    assert_eq!(before[0], "online");
    // Long enough that the next svcs runs before it ends, even on a loaded machine.
    h.config("svc_start_ms=5000");
    h.run("svcadm", &["restart", "ipfilter"]).ok();
    assert_eq!(cols(&h), ["online*", before[1].as_str()]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = cols(&h);
        if now[0] != "online*" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "still restarting");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(after[0], "online");
    assert_ne!(after[1], before[1], "a restart is a new contract");
}
