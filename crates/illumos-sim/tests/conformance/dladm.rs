use crate::util::Host;

#[test]
fn etherstubs_and_their_errors() {
    let h = Host::new();
    h.run("dladm", &["create-etherstub", "-t", "stub0"]).ok();
    assert_eq!(h.run("dladm", &["show-etherstub"]).ok(), "LINK\nstub0\n");
    assert_eq!(
        h.run("dladm", &["create-etherstub", "stub0"]).fails(1),
        "dladm: etherstub creation failed: object already exists\n"
    );
    assert_eq!(
        h.run("dladm", &["create-etherstub", "stub"]).fails(1),
        "dladm: invalid link name 'stub'\n"
    );
    assert_eq!(
        h.run("dladm", &["create-etherstub", "net01"]).fails(1),
        "dladm: invalid link name 'net01'\n"
    );
    let long = format!("s{}0", "x".repeat(31));
    assert_eq!(
        h.run("dladm", &["create-etherstub", &long]).fails(1),
        format!("dladm: link name too long '{long}'\n")
    );
    h.run("dladm", &["create-vnic", "-t", "-l", "stub0", "vnic0"])
        .ok();
    assert_eq!(
        h.run("dladm", &["delete-etherstub", "stub0"]).fails(1),
        "dladm: vnic deletion failed: link busy\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-vnic", "stub0"]).fails(1),
        "dladm: 'stub0' is not a vnic\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-etherstub", "vnic0"]).fails(1),
        "dladm: 'vnic0' is not an etherstub\n"
    );
    assert_eq!(
        h.run("dladm", &["show-etherstub", "nope0"]).fails(1),
        "dladm: invalid vnic name 'nope0': object not found\n"
    );
    h.run("dladm", &["delete-vnic", "vnic0"]).ok();
    h.run("dladm", &["delete-etherstub", "stub0"]).ok();
    assert_eq!(
        h.run("dladm", &["delete-etherstub", "stub0"]).fails(1),
        "dladm: invalid link name 'stub0'\n"
    );
}

#[test]
fn create_vnic_options_and_parsable_escaping() {
    let h = Host::new();
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    h.run(
        "dladm",
        &[
            "create-vnic",
            "-t",
            "-l",
            "stub0",
            "-m",
            "02:08:20:0A:0B:0C",
            "-v",
            "12",
            "-p",
            "mtu=9000",
            "vm1net0",
        ],
    )
    .ok();
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-vnic",
                "-p",
                "-o",
                "LINK,OVER,MACADDRESS,MACADDRTYPE,VID,ZONE"
            ]
        )
        .ok(),
        "vm1net0:stub0:2\\:8\\:20\\:a\\:b\\:c:fixed:12:--\n"
    );
    assert_eq!(
        h.run("dladm", &["show-vnic", "-p", "-o", "MACADDRESS", "vm1net0"])
            .ok(),
        "2:8:20:a:b:c\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-linkprop", "-c", "-o", "value", "-p", "mtu", "vm1net0"]
        )
        .ok(),
        "9000\n"
    );
    assert_eq!(
        h.run("dladm", &["create-vnic", "-l", "stub0", "vm1net0"])
            .fails(1),
        "dladm: vnic creation over stub0 failed: object already exists\n"
    );
    assert_eq!(
        h.run("dladm", &["create-vnic", "-l", "nope0", "v1"])
            .fails(1),
        "dladm: invalid link name 'nope0'\n"
    );
    assert_eq!(
        h.run("dladm", &["create-vnic", "-l", "stub0", "-v", "5000", "v1"])
            .fails(1),
        "dladm: invalid VLAN identifier '5000'\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["create-vnic", "-l", "stub0", "-m", "fixed", "v1"]
        )
        .fails(1),
        "dladm: 'fixed' is not a valid MAC address\n"
    );
    assert_eq!(
        h.run("dladm", &["create-vnic", "-l", "stub0", "-m", "zz", "v1"])
            .fails(1),
        "dladm: invalid MAC address\n"
    );
    h.run(
        "dladm",
        &["create-vnic", "--temporary", "--link=igb0", "v1"],
    )
    .ok();
    assert_eq!(
        h.run(
            "dladm",
            &["show-vnic", "-p", "-o", "MACADDRTYPE,SPEED", "v1"]
        )
        .ok(),
        "random:1000\n"
    );
    h.run("dladm", &["set-linkprop", "-t", "-p", "mtu=1400", "v1"])
        .ok();
    assert_eq!(
        h.run("dladm", &["show-link", "-p", "-o", "mtu", "v1"]).ok(),
        "1400\n"
    );
}

#[test]
fn show_views_and_parsable_rules() {
    let h = Host::new();
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    h.run("dladm", &["create-vnic", "-l", "stub0", "vm1net0"])
        .ok();
    assert_eq!(
        h.run(
            "dladm",
            &["show-link", "-p", "-o", "LINK,CLASS,MTU,STATE,OVER"]
        )
        .ok(),
        "igb0:phys:1500:up:\nigb1:phys:1500:up:\nigb2:phys:1500:up:\nstub0:etherstub:9000:unknown:\nvm1net0:vnic:1500:up:stub0\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-phys",
                "-p",
                "-o",
                "LINK,MEDIA,STATE,SPEED,DUPLEX,DEVICE"
            ]
        )
        .ok(),
        "igb0:Ethernet:up:1000:full:igb0\nigb1:Ethernet:up:1000:full:igb1\nigb2:Ethernet:up:1000:full:igb2\n"
    );
    assert_eq!(
        h.run("dladm", &["show-phys", "-m", "-p", "-o", "ADDRESS", "igb0"])
            .ok(),
        "0:1b:21:a4:3c:10\n"
    );
    assert_eq!(
        h.run("dladm", &["show-link", "-p"]).fails(1),
        "dladm: -p requires -o\n"
    );
    assert_eq!(
        h.run("dladm", &["show-link", "-p", "-o", "all"]).fails(1),
        "dladm: \"-o all\" is invalid with -p\n"
    );
    assert_eq!(
        h.run("dladm", &["show-link", "nope0"]).fails(1),
        "dladm: link nope0 is not valid: object not found\n"
    );
    assert_eq!(
        h.run("dladm", &["show-vnic", "nope0"]).fails(1),
        "dladm: invalid vnic name 'nope0': object not found\n"
    );
    let s = h
        .run(
            "dladm",
            &[
                "show-link",
                "-s",
                "-p",
                "-o",
                "LINK,IPACKETS,OERRORS",
                "vm1net0",
            ],
        )
        .ok();
    assert_eq!(s, "vm1net0:0:0\n");
    assert!(h
        .run("dladm", &["show-link"])
        .ok()
        .starts_with("LINK         CLASS      MTU     STATE     BRIDGE      OVER\n"));
    assert!(
        h.run("dladm", &["show-ether", "-p", "-o", "LINK,STATE", "igb0"])
            .ok()
            == "igb0:up\n"
    );
}

/// create-vlan/delete-vlan/show-vlan as illumos-gate dladm.c prints them (the reference is
/// silent on VLANs): `die_dlerr` texts, the `<driver><1000*VID+instance>` default name, and a
/// VLAN only over a physical link or an aggregation.
#[test]
fn vlans_and_their_errors() {
    let h = Host::new();
    h.run("dladm", &["create-vlan", "-t", "-l", "igb0", "-v", "12"])
        .ok();
    h.run("dladm", &["create-vlan", "-l", "igb0", "-v", "30", "web30"])
        .ok();
    assert_eq!(
        h.run("dladm", &["show-vlan", "-p", "-o", "LINK,VID,OVER,FLAGS"])
            .ok(),
        "igb12000:12:igb0:-----\nweb30:30:igb0:-----\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-link", "-p", "-o", "LINK,CLASS,STATE,OVER", "web30"]
        )
        .ok(),
        "web30:vlan:up:igb0\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["create-vlan", "-l", "igb0", "-v", "30", "other30"]
        )
        .fails(1),
        "dladm: create operation failed: object already exists\n",
        "the VID is taken over igb0"
    );
    assert_eq!(
        h.run("dladm", &["create-vlan", "-l", "igb0", "-v", "4095", "x1"])
            .fails(1),
        "dladm: invalid VLAN identifier '4095'\n"
    );
    assert_eq!(
        h.run("dladm", &["create-vlan", "-l", "nope0", "-v", "5", "x1"])
            .fails(1),
        "dladm: invalid link name 'nope0'\n"
    );
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    assert_eq!(
        h.run("dladm", &["create-vlan", "-l", "stub0", "-v", "5", "x1"])
            .fails(1),
        "dladm: create operation failed: invalid argument\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-vlan", "stub0"]).fails(1),
        "dladm: delete operation failed: invalid argument\n"
    );
    h.run("ipadm", &["create-if", "web30"]).ok();
    assert_eq!(
        h.run("dladm", &["delete-vlan", "web30"]).fails(1),
        "dladm: delete operation failed: link busy\n"
    );
    h.run("ipadm", &["delete-if", "web30"]).ok();
    h.run("dladm", &["delete-vlan", "web30"]).ok();
    assert_eq!(
        h.run("dladm", &["delete-vlan", "web30"]).fails(1),
        "dladm: delete operation failed: object not found\n"
    );
    assert_eq!(
        h.run("dladm", &["show-vlan", "-p", "-o", "LINK", "web30"])
            .fails(1),
        "dladm: link web30 is not valid: object not found\n"
    );
}

/// `create-vnic -p` as libdladm reads the list: a token without `=` is one more value of the
/// property before it; the values show in show-linkprop (in the order `-p` names them), and a
/// name dladm.8 does not give a
/// VNIC, or a value its description refuses, fails the create and makes nothing.
#[test]
fn create_vnic_properties_and_their_errors() {
    let h = Host::new();
    h.run(
        "dladm",
        &[
            "create-vnic",
            "-l",
            "igb0",
            "-p",
            "maxbw=100M,cpus=0,1,priority=low,protection=mac-nospoof,ip-nospoof",
            "v1",
        ],
    )
    .ok();
    let shown = h
        .run(
            "dladm",
            &[
                "show-linkprop",
                "-c",
                "-o",
                "property,value",
                "-p",
                "maxbw,cpus,priority,protection,allowed-ips",
                "v1",
            ],
        )
        .ok();
    assert_eq!(
        shown,
        "maxbw:100M\ncpus:0,1\npriority:low\nprotection:mac-nospoof,ip-nospoof\nallowed-ips:--\n"
    );
    for (props, err) in [
        ("zone=z1", "dladm: invalid vnic property 'zone'\n"),
        ("0,maxbw=1", "dladm: invalid vnic property\n"),
        (
            "priority=urgent",
            "dladm: vnic creation over igb0 failed: invalid argument\n",
        ),
        (
            "maxbw=fast",
            "dladm: vnic creation over igb0 failed: invalid argument\n",
        ),
        (
            "allowed-ips=10.0.0.1/33",
            "dladm: vnic creation over igb0 failed: invalid argument\n",
        ),
    ] {
        assert_eq!(
            h.run("dladm", &["create-vnic", "-l", "igb0", "-p", props, "v2"])
                .fails(1),
            err,
            "{props}"
        );
    }
    assert_eq!(
        h.run("dladm", &["show-vnic", "-p", "-o", "link"]).ok(),
        "v1\n"
    );
    h.run("dladm", &["delete-vnic", "v1"]).ok();
    h.run("dladm", &["create-vnic", "-l", "igb0", "v1"]).ok();
    assert_eq!(
        h.run(
            "dladm",
            &["show-linkprop", "-c", "-o", "value", "-p", "maxbw", "v1"]
        )
        .ok(),
        "--\n",
        "a deleted VNIC's properties do not come back with its name"
    );
}
