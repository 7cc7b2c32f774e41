use crate::util::Host;

#[test]
fn interfaces_and_addresses_with_their_errors() {
    let h = Host::new();
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    h.run("dladm", &["create-vnic", "-l", "stub0", "stub0gw0"])
        .ok();
    h.run("ipadm", &["create-if", "-t", "stub0gw0"]).ok();
    assert_eq!(
        h.run("ipadm", &["create-ip", "stub0gw0"]).fails(1),
        "ipadm: Could not create stub0gw0 : Interface already exists\n"
    );
    assert_eq!(
        h.run("ipadm", &["create-if", "nope0"]).fails(1),
        "ipadm: Could not create nope0 : Datalink does not exist\n"
    );
    h.run(
        "ipadm",
        &[
            "create-addr",
            "-t",
            "-T",
            "static",
            "-a",
            "10.10.0.1/24",
            "stub0gw0/v4",
        ],
    )
    .ok();
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "create-addr",
                "-T",
                "static",
                "-a",
                "10.10.0.2/24",
                "stub0gw0/v4"
            ]
        )
        .fails(1),
        "ipadm: Could not create address: Address object already exists\n"
    );
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "create-addr",
                "-T",
                "static",
                "-a",
                "192.168.1.10/24",
                "stub0gw0/b"
            ]
        )
        .fails(1),
        "ipadm: Could not create address: Address already in use\n"
    );
    assert_eq!(
        h.run(
            "ipadm",
            &["create-addr", "-T", "static", "-a", "1.2.3.4/24", "bad"]
        )
        .fails(1),
        "ipadm: invalid address object name: bad\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-addr", "-p", "-o", "ADDROBJ,TYPE,STATE,ADDR"]).ok(),
        "lo0/v4:static:ok:127.0.0.1/8\nigb0/v4:static:ok:192.168.1.10/24\nstub0gw0/v4:static:ok:10.10.0.1/24\nlo0/v6:static:ok:\\:\\:1/128\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-addr", "-p", "-o", "ADDR", "stub0gw0/v4"])
            .ok(),
        "10.10.0.1/24\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-addr", "-p", "-o", "ADDR", "stub0gw0/"])
            .ok(),
        "10.10.0.1/24\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-addr", "nope0/v4"]).fails(1),
        "ipadm: Could not get address: Object not found\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-addr", "-p"]).fails(1),
        "ipadm: -p requires -o\n"
    );
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "show-if",
                "-p",
                "-o",
                "IFNAME,STATE,CURRENT,PERSISTENT",
                "stub0gw0"
            ]
        )
        .ok(),
        "stub0gw0:ok:bm--------4-:---\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-vnic", "stub0gw0"]).fails(1),
        "dladm: vnic deletion failed: link busy\n"
    );
    h.run("ipadm", &["delete-addr", "stub0gw0/v4"]).ok();
    assert_eq!(
        h.run("ipadm", &["delete-addr", "stub0gw0/v4"]).fails(1),
        "ipadm: could not delete address: Object not found\n"
    );
    h.run("ipadm", &["delete-if", "stub0gw0"]).ok();
    assert_eq!(
        h.run("ipadm", &["delete-if", "stub0gw0"]).fails(1),
        "ipadm: Could not delete stub0gw0: Interface does not exist\n"
    );
    h.run("dladm", &["delete-vnic", "stub0gw0"]).ok();
}

#[test]
fn forwarding_ifprop() {
    let h = Host::new();
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "show-ifprop",
                "-p",
                "forwarding",
                "-m",
                "ipv4",
                "-c",
                "-o",
                "CURRENT",
                "igb0"
            ]
        )
        .ok(),
        "off\n"
    );
    h.run(
        "ipadm",
        &[
            "set-ifprop",
            "-t",
            "-p",
            "forwarding=on",
            "-m",
            "ipv4",
            "igb0",
        ],
    )
    .ok();
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "show-ifprop",
                "-p",
                "forwarding",
                "-m",
                "ipv4",
                "-c",
                "-o",
                "IFNAME,PROPERTY,PROTO,PERM,CURRENT,PERSISTENT,DEFAULT,POSSIBLE",
                "igb0"
            ]
        )
        .ok(),
        "igb0:forwarding:ipv4:rw:on:on:off:on,off\n"
    );
    assert_eq!(
        h.run("ipadm", &["show-ifprop", "-p", "forwarding", "nope0"])
            .fails(1),
        "ipadm: no such object 'nope0': Interface does not exist\n"
    );
    assert_eq!(
        h.run(
            "ipadm",
            &["set-ifprop", "-p", "forwarding=maybe", "-m", "ipv4", "igb0"]
        )
        .fails(1),
        "ipadm: set-ifprop: forwarding: Invalid argument provided\n"
    );
}

/// dhcp and addrconf addresses, and enable-addr/disable-addr, whose only form is `-t`
/// (illumos-gate ipadm.c `do_enable_addr`: `persistent operation not supported for
/// enable-addr`).
#[test]
fn address_kinds_and_enable_disable() {
    let h = Host::new();
    h.run("ipadm", &["create-addr", "-T", "addrconf", "igb0/v6"])
        .ok();
    assert_eq!(
        h.run("ipadm", &["create-addr", "-T", "addrconf", "igb0/v6b"])
            .fails(1),
        "ipadm: Could not create address: Addrconf already in progress\n"
    );
    assert_eq!(
        h.run(
            "ipadm",
            &[
                "show-addr",
                "-p",
                "-o",
                "ADDROBJ,TYPE,STATE,ADDR",
                "igb0/v6"
            ]
        )
        .ok(),
        "igb0/v6:addrconf:ok:fe80\\:\\:21b\\:21ff\\:fea4\\:3c10%igb0/10\n"
    );
    assert!(
        h.run("ipadm", &["show-if", "-p", "-o", "IFNAME,CURRENT", "igb0"])
            .ok()
            .trim_end()
            .ends_with("46"),
        "addrconf plumbs IPv6"
    );
    h.run(
        "ipadm",
        &[
            "create-addr",
            "-t",
            "-T",
            "dhcp",
            "-1",
            "-w",
            "10",
            "igb0/dhcp",
        ],
    )
    .ok();
    assert_eq!(
        h.run(
            "ipadm",
            &["show-addr", "-p", "-o", "TYPE,ADDR", "igb0/dhcp"]
        )
        .ok(),
        "dhcp:?\n"
    );
    assert_eq!(
        h.run("ipadm", &["disable-addr", "igb0/v4"]).fails(1),
        "ipadm: persistent operation not supported for disable-addr\n"
    );
    h.run("ipadm", &["disable-addr", "-t", "igb0/v4"]).ok();
    assert_eq!(
        h.run("ipadm", &["show-addr", "-p", "-o", "STATE,ADDR", "igb0/v4"])
            .ok(),
        "disabled:192.168.1.10/24\n"
    );
    assert_eq!(
        h.run("ipadm", &["disable-addr", "-t", "igb0/v4"]).fails(1),
        "ipadm: could not disable address: Object not found\n"
    );
    h.run("ipadm", &["enable-addr", "-t", "igb0/v4"]).ok();
    assert_eq!(
        h.run("ipadm", &["enable-addr", "-t", "igb0/v4"]).fails(1),
        "ipadm: could not enable address: Address object already exists\n"
    );
    assert_eq!(
        h.run("ipadm", &["enable-addr", "-t", "igb0/none"]).fails(1),
        "ipadm: could not enable address: Object not found\n"
    );
    h.run("ipadm", &["delete-addr", "-r", "igb0/dhcp"]).ok();
}
