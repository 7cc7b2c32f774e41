//! Aggregations and bridges as illumos-gate's dladm.8 gives them (the reference is silent on
//! both): syntax and defaults, show-aggr's three views and show-bridge's, what may be
//! aggregated or bridged, and how both appear in show-link.

use crate::util::Host;

#[test]
fn an_aggregation_is_made_of_free_physical_links_and_shows_in_every_view() {
    let h = Host::new();
    h.run(
        "dladm",
        &["create-aggr", "-l", "igb1", "-l", "igb2", "aggr0"],
    )
    .ok();
    // Defaults: policy L4, automatic address, LACP off with the short timer.
    assert_eq!(
        h.run("dladm", &["show-aggr"]).ok(),
        "LINK            POLICY   ADDRPOLICY   LACPACTIVITY  LACPTIMER   FLAGS\n\
         aggr0           L4       auto         off           short       -----\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-aggr",
                "-x",
                "-p",
                "-o",
                "LINK,PORT,SPEED,STATE,ADDRESS,PORTSTATE"
            ]
        )
        .ok(),
        "aggr0::2000Mb:up:0\\:1b\\:21\\:a4\\:3c\\:11:\n\
         aggr0:igb1:1000Mb:up:0\\:1b\\:21\\:a4\\:3c\\:11:attached\n\
         aggr0:igb2:1000Mb:up:0\\:1b\\:21\\:a4\\:3c\\:12:attached\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-aggr",
                "-L",
                "-p",
                "-o",
                "PORT,AGGREGATABLE,SYNC",
                "aggr0"
            ]
        )
        .ok(),
        "igb1:yes:no\nigb2:yes:no\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-link", "-p", "-o", "LINK,CLASS,OVER", "aggr0"]
        )
        .ok(),
        "aggr0:aggr:igb1 igb2\n"
    );
    // A bare key names aggrN, for backward compatibility.
    assert_eq!(
        h.run("dladm", &["show-aggr", "-p", "-o", "LINK", "0"]).ok(),
        "aggr0\n"
    );
    // A port in use is refused: in this aggregation, under the host's IP interface (igb0).
    for ports in [["igb1", "igb0"], ["igb0", "igb1"]] {
        assert_eq!(
            h.run(
                "dladm",
                &["create-aggr", "-l", ports[0], "-l", ports[1], "aggr1"]
            )
            .fails(1),
            "dladm: create operation failed: link busy\n"
        );
    }
    h.run("dladm", &["delete-aggr", "aggr0"]).ok();
    assert_eq!(
        h.run("dladm", &["show-aggr"]).ok(),
        "LINK            POLICY   ADDRPOLICY   LACPACTIVITY  LACPTIMER   FLAGS\n"
    );
}

#[test]
fn create_aggr_options_and_their_errors() {
    let h = Host::new();
    h.run(
        "dladm",
        &[
            "create-aggr",
            "-t",
            "-P",
            "l3,L2",
            "-L",
            "active",
            "-T",
            "long",
            "-u",
            "02:08:20:AA:BB:CC",
            "-l",
            "igb1",
            "bond1",
        ],
    )
    .ok();
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-aggr",
                "-p",
                "-o",
                "LINK,POLICY,ADDRPOLICY,LACPACTIVITY,LACPTIMER,FLAGS"
            ]
        )
        .ok(),
        "bond1:L2,L3:fixed:active:long:-----\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-aggr", "-x", "-p", "-o", "ADDRESS", "bond1"]
        )
        .ok(),
        "2:8:20:aa:bb:cc\n0:1b:21:a4:3c:11\n"
    );
    // -P: the persistent configuration has no temporary aggregation.
    assert_eq!(
        h.run("dladm", &["show-aggr", "-P", "-p", "-o", "LINK"])
            .ok(),
        ""
    );
    for (args, err) in [
        (vec!["-P", "L5"], "dladm: invalid policy 'L5'\n"),
        (vec!["-L", "on"], "dladm: invalid LACP mode 'on'\n"),
        (
            vec!["-T", "fast"],
            "dladm: invalid LACP timer value 'fast'\n",
        ),
        (
            vec!["-u", "1:0:5e:0:0:1"],
            "dladm: invalid MAC address '1:0:5e:0:0:1'\n",
        ),
    ] {
        let mut argv = vec!["create-aggr"];
        argv.extend(args);
        argv.extend(["-l", "igb2", "aggr2"]);
        assert_eq!(h.run("dladm", &argv).fails(1), err, "{argv:?}");
    }
    assert_eq!(
        h.run("dladm", &["create-aggr", "-l", "nope0", "aggr2"])
            .fails(1),
        "dladm: invalid link name 'nope0'\n"
    );
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    assert_eq!(
        h.run("dladm", &["create-aggr", "-l", "stub0", "aggr2"])
            .fails(1),
        "dladm: create operation failed: invalid argument\n"
    );
    assert_eq!(
        h.run("dladm", &["create-aggr", "-l", "igb2", "stub0"])
            .fails(1),
        "dladm: create operation failed: object already exists\n"
    );
    assert_eq!(
        h.run("dladm", &["create-aggr", "-l", "igb2", "aggr"])
            .fails(1),
        "dladm: invalid link name 'aggr'\n"
    );
    assert!(h
        .run("dladm", &["create-aggr", "aggr2"])
        .fails(1)
        .starts_with("dladm: usage: create-aggr"));
    assert_eq!(
        h.run("dladm", &["show-aggr", "nope0"]).fails(1),
        "dladm: link nope0 is not valid: object not found\n"
    );
}

#[test]
fn ports_are_added_and_removed_all_or_none_and_busy_aggregations_stay() {
    let h = Host::new();
    h.run("dladm", &["create-aggr", "-l", "igb1", "aggr0"]).ok();
    h.run("dladm", &["add-aggr", "-l", "igb2", "aggr0"]).ok();
    assert_eq!(
        h.run("dladm", &["show-link", "-p", "-o", "OVER", "aggr0"])
            .ok(),
        "igb1 igb2\n"
    );
    // One bad port and none is removed; the last port cannot go.
    assert_eq!(
        h.run(
            "dladm",
            &["remove-aggr", "-l", "igb2", "-l", "igb0", "aggr0"]
        )
        .fails(1),
        "dladm: remove operation failed: object not found\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["remove-aggr", "-l", "igb1", "-l", "igb2", "aggr0"]
        )
        .fails(1),
        "dladm: remove operation failed: invalid argument\n"
    );
    h.run("dladm", &["remove-aggr", "-l", "igb2", "aggr0"]).ok();
    assert_eq!(
        h.run("dladm", &["add-aggr", "-l", "igb0", "aggr0"])
            .fails(1),
        "dladm: add operation failed: link busy\n"
    );
    // A VNIC over the aggregation keeps it.
    h.run("dladm", &["create-vnic", "-l", "aggr0", "vnic0"])
        .ok();
    assert_eq!(
        h.run("dladm", &["delete-aggr", "aggr0"]).fails(1),
        "dladm: delete operation failed: link busy\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["create-aggr", "-l", "igb2", "-l", "igb2", "aggr1"]
        )
        .fails(1),
        "dladm: create operation failed: link busy\n"
    );
    h.run("dladm", &["delete-vnic", "vnic0"]).ok();
    assert_eq!(
        h.run("dladm", &["delete-aggr", "igb1"]).fails(1),
        "dladm: delete operation failed: invalid argument\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-aggr", "aggr9"]).fails(1),
        "dladm: delete operation failed: object not found\n"
    );
    h.run("dladm", &["delete-aggr", "aggr0"]).ok();
    assert!(h.dump_json().get("aggrs").is_none());
}

#[test]
fn a_bridge_takes_physical_links_aggregations_and_etherstubs_once() {
    let h = Host::new();
    h.run("dladm", &["create-bridge", "-l", "igb1", "lab"]).ok();
    assert_eq!(
        h.run("dladm", &["show-bridge"]).ok(),
        "BRIDGE       ADDRESS            PRIORITY  DESROOT\n\
         lab          0:1b:21:a4:3c:11   32768     32768/0:1b:21:a4:3c:11\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &[
                "show-bridge",
                "-p",
                "-o",
                "BRIDGE,BMAXAGE,BHELLOTIME,BFWDDELAY,FORCEPROTO,TCHANGE"
            ]
        )
        .ok(),
        "lab:20:2:15:3:no\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-link", "-p", "-o", "LINK,CLASS,BRIDGE,OVER"]
        )
        .ok(),
        "igb0:phys::\nigb1:phys:lab:\nigb2:phys::\nlab0:bridge::igb1\n"
    );
    assert_eq!(
        h.run(
            "dladm",
            &["show-bridge", "-l", "-p", "-o", "LINK,INDEX,STATE", "lab"]
        )
        .ok(),
        "igb1:1:forwarding\n"
    );
    assert_eq!(
        h.run("dladm", &["show-bridge", "-f", "lab"]).ok(),
        "DEST               AGE      FLAGS  OUTPUT\n0:1b:21:a4:3c:11   --       L      igb1\n"
    );
    // A link is in at most one bridge; VNICs and VLANs cannot be bridged.
    h.run("dladm", &["create-vnic", "-l", "igb2", "vnic0"]).ok();
    assert_eq!(
        h.run("dladm", &["create-bridge", "-l", "igb1", "lab_two"])
            .fails(1),
        "dladm: unable to add link igb1 to bridge lab_two: link busy\n"
    );
    assert_eq!(
        h.run("dladm", &["create-bridge", "-l", "vnic0", "lab_two"])
            .fails(1),
        "dladm: unable to add link vnic0 to bridge lab_two: invalid argument\n"
    );
    // All or nothing: the failed creates made no bridge.
    assert_eq!(
        h.run("dladm", &["show-bridge", "-p", "-o", "BRIDGE"]).ok(),
        "lab\n"
    );
    h.run("dladm", &["create-etherstub", "stub0"]).ok();
    h.run("dladm", &["add-bridge", "-l", "stub0", "-l", "igb0", "lab"])
        .ok();
    assert_eq!(
        h.run("dladm", &["delete-bridge", "lab"]).fails(1),
        "dladm: delete operation failed: link busy\n"
    );
    assert_eq!(
        h.run("dladm", &["remove-bridge", "-l", "igb2", "lab"])
            .fails(1),
        "dladm: unable to remove link igb2 from bridge lab: object not found\n"
    );
    h.run(
        "dladm",
        &[
            "remove-bridge",
            "-l",
            "igb1",
            "-l",
            "stub0",
            "-l",
            "igb0",
            "lab",
        ],
    )
    .ok();
    h.run("dladm", &["delete-bridge", "lab"]).ok();
    assert_eq!(
        h.run("dladm", &["show-link", "-p", "-o", "LINK", "lab0"])
            .fails(1),
        "dladm: link lab0 is not valid: object not found\n"
    );
    assert!(h.dump_json().get("bridges").is_none());
}

#[test]
fn create_bridge_checks_names_ranges_and_the_stp_constraints() {
    let h = Host::new();
    for name in ["lab0", "0lab", "default", "SUNWlab", "la-b"] {
        assert_eq!(
            h.run("dladm", &["create-bridge", name]).fails(1),
            format!("dladm: invalid bridge name '{name}'\n")
        );
    }
    for (args, err) in [
        (vec!["-P", "rstp"], "dladm: invalid protection method 'rstp'\n"),
        (vec!["-p", "61441"], "dladm: invalid priority '61441'\n"),
        (vec!["-m", "5"], "dladm: invalid max age '5'\n"),
        (vec!["-h", "11"], "dladm: invalid hello time '11'\n"),
        (vec!["-d", "31"], "dladm: invalid forward delay '31'\n"),
        (
            vec!["-d", "10"],
            "dladm: forward delay 10 is too short for max age 20: use a forward delay of at least 11 or a max age of at most 18\n",
        ),
        (
            vec!["-m", "6", "-h", "3"],
            "dladm: max age 6 is too short for hello time 3: use a max age of at least 8 or a hello time of at most 2\n",
        ),
    ] {
        let mut argv = vec!["create-bridge"];
        argv.extend(args);
        argv.push("lab");
        assert_eq!(h.run("dladm", &argv).fails(1), err, "{argv:?}");
    }
    // A priority between the steps of 4096 is rounded down, silently.
    h.run(
        "dladm",
        &["create-bridge", "-P", "trill", "-p", "5000", "lab"],
    )
    .ok();
    assert_eq!(
        h.run("dladm", &["show-bridge", "-p", "-o", "PRIORITY", "lab"])
            .ok(),
        "4096\n"
    );
    assert_eq!(
        h.run("dladm", &["create-bridge", "lab"]).fails(1),
        "dladm: create operation failed: object already exists\n"
    );
    assert_eq!(
        h.run("dladm", &["show-bridge", "-l"]).fails(1),
        "dladm: bridge name required for -l and -f\n"
    );
    assert_eq!(
        h.run("dladm", &["show-bridge", "nope"]).fails(1),
        "dladm: bridge nope is not valid: object not found\n"
    );
    assert_eq!(
        h.run("dladm", &["delete-bridge", "nope"]).fails(1),
        "dladm: delete operation failed: object not found\n"
    );
}
