use crate::util::Host;

const INFO: &str = "zonename: vm1
zonepath: /rpool/zones/vm1
brand: bhyve
autoboot: false
bootargs:
pool:
limitpriv:
scheduling-class:
ip-type: exclusive
hostid:
fs-allowed:
fs:
\tdir: /iso/a.iso
\tspecial: /iso/a.iso
\traw not specified
\ttype: lofs
\toptions: [ro,nodevices]
net:
\taddress not specified
\tallowed-address: 10.0.0.112/24
\tdefrouter not specified
\tglobal-nic not specified
\tmac-addr not specified
\tphysical: vm1net0
\tvlan-id not specified
device:
\tmatch: /dev/zvol/rdsk/rpool/vm1/disk0
attr:
\tname: ram
\ttype: string
\tvalue: 4G
";

const CMDS: &str = "create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/vm1; \
add fs; set dir=/iso/a.iso; set special=/iso/a.iso; set type=lofs; add options ro; add options nodevices; end; \
add net; set allowed-address=10.0.0.112/24; set physical=vm1net0; end; \
add device; set match=/dev/zvol/rdsk/rpool/vm1/disk0; end; \
add attr; set name=ram; set type=string; set value=\"4G\"; end";

#[test]
fn semicolon_string_and_token_per_argv_forms_agree_and_info_matches_the_reference() {
    let a = Host::new();
    a.zonecfg("vm1", CMDS).ok();
    assert_eq!(a.run("zonecfg", &["-z", "vm1", "info"]).ok(), INFO);
    let b = Host::new();
    let mut argv = vec!["-z", "vm1"];
    let spaced = CMDS.replace(';', " ; ");
    argv.extend(spaced.split_whitespace());
    b.run("zonecfg", &argv).ok();
    assert_eq!(b.run("zonecfg", &["-z", "vm1", "info"]).ok(), INFO);
    assert_eq!(
        a.run("zonecfg", &["-z", "vm1", "info", "zonepath"]).ok(),
        "zonepath: /rpool/zones/vm1\n"
    );
    assert_eq!(
        a.run("zonecfg", &["-z", "vm1", "info", "attr", "name=ram"])
            .ok(),
        "attr:\n\tname: ram\n\ttype: string\n\tvalue: 4G\n"
    );
}

#[test]
fn export_recreates_the_zone() {
    let h = Host::new();
    h.zonecfg("vm1", CMDS).ok();
    let export = h.run("zonecfg", &["-z", "vm1", "export"]).ok();
    assert!(export.starts_with("create -b\nset zonepath=/rpool/zones/vm1\nset brand=bhyve\nset autoboot=false\nset ip-type=exclusive\nadd fs\n"), "{export}");
    assert!(export.contains("add options ro\nadd options nodevices\nend\nadd net\nset allowed-address=10.0.0.112/24\nset physical=vm1net0\nend\n"));
    h.write(
        "/tmp/vm2.cfg",
        &export.replace("/rpool/zones/vm1", "/rpool/zones/vm2"),
    );
    h.run("zonecfg", &["-z", "vm2", "-f", "/tmp/vm2.cfg"]).ok();
    assert_eq!(
        h.run("zonecfg", &["-z", "vm2", "info"]).ok(),
        INFO.replace(
            "vm1\nzonepath: /rpool/zones/vm1",
            "vm2\nzonepath: /rpool/zones/vm2"
        )
    );
}

#[test]
fn command_file_errors_name_the_line_and_commit_nothing() {
    let h = Host::new();
    h.write(
        "/tmp/bad.cfg",
        "create -b\nset zonepath=/rpool/zones/z1\nset bogus=1\n",
    );
    let err = h
        .run("zonecfg", &["-z", "z1", "-f", "/tmp/bad.cfg"])
        .fails(1);
    assert_eq!(
        err,
        "On line 3 of /tmp/bad.cfg:\nbogus: No such property type\n"
    );
    assert_eq!(h.run("zoneadm", &["list", "-cpn"]).ok(), "");
    assert_eq!(
        h.run("zonecfg", &["-z", "z1", "-f", "/tmp/none"]).fails(1),
        "could not open file /tmp/none: No such file or directory\n"
    );
}

#[test]
fn create_and_delete_refusals() {
    let h = Host::new();
    assert_eq!(
        h.run("zonecfg", &["-z", "z1", "info"]).fails(1),
        "z1: No such zone configured\n"
    );
    h.bhyve_zone("z1", "");
    assert_eq!(h.zonecfg("z1", "create -b").fails(1), "Zone exists, input not from terminal and -F not specified:\ncreate command ignored, exiting.\n");
    assert_eq!(
        h.zonecfg("z1", "delete").fails(1),
        "Input not from terminal and -F not specified:\ndelete command ignored, exiting.\n"
    );
    assert_eq!(
        h.zonecfg("SUNWx", "create").fails(1),
        "SUNWx: zones beginning with SUNW are read-only.\n"
    );
    h.run("zoneadm", &["-z", "z1", "install"]).ok();
    assert_eq!(
        h.zonecfg("z1", "create -F -b").fails(1),
        "Zone z1 already installed; create not allowed.\n"
    );
    assert_eq!(
        h.zonecfg("z1", "delete").fails(1),
        "Zone z1 not in configured state; delete not allowed.  Use -F to force delete.\n"
    );
    h.run("zoneadm", &["-z", "z1", "uninstall", "-F"]).ok();
    h.zonecfg("z1", "delete -F").ok();
    assert_eq!(h.run("zoneadm", &["list", "-cpn"]).ok(), "");
    h.run("zonecfg", &[]).fails(2);
}

#[test]
fn verify_rules_bhyve_exclusive_net_and_attrs() {
    let h = Host::new();
    let err = h
        .zonecfg(
            "z1",
            "create -b; set brand=bhyve; set zonepath=/rpool/zones/z1",
        )
        .fails(1);
    assert!(err.contains("bhyve"), "{err}");
    let err = h
        .zonecfg(
            "z1",
            "create -t SYSbhyve; set zonepath=/rpool/zones/z1; add net; set global-nic=igb0; end",
        )
        .fails(1);
    assert_eq!(err, "physical not specified\n");
    let err = h.zonecfg("z1", "create -t SYSbhyve; set zonepath=/rpool/zones/z1; add net; set physical=v0; set address=1.2.3.4; end").fails(1);
    assert_eq!(
        err,
        "address cannot be specified for an exclusive IP type\n"
    );
    assert!(h.zonecfg("z1", "create -t SYSbhyve; set zonepath=/a; add attr; set name=-x; set type=string; set value=1; end").fails(1).contains("invalid attr name"));
    assert!(h.zonecfg("z1", "create -t SYSbhyve; set zonepath=/a; add attr; set name=zonex; set type=string; set value=1; end").fails(1).contains("reserved"));
    assert_eq!(
        h.zonecfg("z1", "create -t SYSnope").fails(1),
        "SYSnope: No such zone configured\n"
    );
    assert_eq!(
        h.zonecfg("z1", "create -b").fails(1),
        "zonepath not specified\n"
    );
    h.zonecfg("z1", "create -t SYSbhyve; set zonepath=/rpool/zones/z1")
        .ok();
    assert_eq!(
        h.run("zoneadm", &["list", "-cpn"]).ok(),
        "-:z1:configured:/rpool/zones/z1::bhyve:excl\n"
    );
}

#[test]
fn select_remove_and_value_with_semicolon_in_quotes() {
    let h = Host::new();
    h.bhyve_zone(
        "z1",
        "; add net; set physical=a0; end; add net; set physical=b0; end",
    );
    h.zonecfg(
        "z1",
        "select net physical=b0; set vlan-id=12; end; remove net physical=a0",
    )
    .ok();
    assert_eq!(
        h.run("zonecfg", &["-z", "z1", "info", "net"])
            .ok()
            .matches("net:")
            .count(),
        1
    );
    assert!(h
        .run("zonecfg", &["-z", "z1", "info", "net"])
        .ok()
        .contains("\tvlan-id: 12\n"));
    assert_eq!(
        h.zonecfg("z1", "select net physical=zz0").fails(1),
        "net: No such resource with that id\n"
    );
    h.zonecfg(
        "z1",
        "add attr; set name=note; set type=string; set value=\"a b;c\"; end",
    )
    .ok();
    assert!(h
        .run("zonecfg", &["-z", "z1", "info", "attr"])
        .ok()
        .contains("\tvalue: a b;c\n"));
}
