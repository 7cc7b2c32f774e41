//! The answers the Zoneweaver UI reads that the original's scan table carried: etherstub and
//! VNIC rows with dladm's columns, a VNIC's properties at creation, a VLAN's row keys, and the
//! node name (`/network/hostname`), each against the emulated host, with bad input refused
//! and the host unchanged.

use serde_json::{json, Value};

use crate::network::{argvs, completed, failed, is_mutating, put, set_faults};
use crate::support::{dump, host, TestAgent};

fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 27 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

// ---------------------------------------------------------------------------------------------
// Etherstubs and VNICs.

#[test]
fn etherstub_rows_carry_their_state_and_the_detail_its_keys_at_the_top_level() {
    let a = TestAgent::start();
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub1"})));
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "v0", "link": "stub0"})),
    );

    let l = a.get("/network/etherstubs?name=stub0");
    assert_eq!(l.status, 200, "{:?}", l.body);
    assert_eq!(l.body["total"], 1, "{:#}", l.body);
    let row = &l.body["etherstubs"][0];
    assert_eq!(row["link"], "stub0");
    assert_eq!(row["state"], "unknown", "show-link's state of an etherstub");
    assert_eq!(row["over"], Value::Null);
    assert_eq!(row["vnics"], json!(["v0"]));
    assert!(is_time(&row["scan_timestamp"]), "{row:#}");
    assert_eq!(a.get("/network/etherstubs").body["total"], 2);
    assert_eq!(a.get("/network/etherstubs?name=nope0").body["total"], 0);

    let d = a.get("/network/etherstubs/stub0?show_vnics=true");
    assert_eq!(d.status, 200, "{:?}", d.body);
    for key in ["name", "link"] {
        assert_eq!(d.body[key], "stub0", "{key}: {:#}", d.body);
    }
    assert_eq!(d.body["class"], "etherstub");
    assert_eq!(d.body["state"], "unknown");
    assert_eq!(
        d.body["vnics"],
        json!(["v0"]),
        "names, as the nested answer"
    );
    assert_eq!(d.body["etherstub"]["vnics"], json!(["v0"]));
    assert!(is_time(&d.body["scan_timestamp"]));
    let d = a.get("/network/etherstubs/stub0?show_vnics=false");
    assert_eq!(d.body["vnics"], json!([]));

    let start = argvs(&a).len();
    for (path, field) in [
        ("/network/etherstubs?name=stub-0", "name"),
        ("/network/etherstubs?limit=5", "limit"),
        ("/network/etherstubs/stub0?show_vnics=maybe", "show_vnics"),
    ] {
        let r = a.get(path);
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{path}");
    }
    assert!(argvs(&a)[start..].iter().all(|v| !is_mutating(v)));
}

#[test]
fn a_vnic_detail_reads_the_physical_link_under_it_and_its_rows_carry_a_key_and_a_time() {
    let a = TestAgent::start();
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "v0", "link": "stub0"})),
    );
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "v1", "link": "igb0"})),
    );

    let d = a.get("/network/vnics/v1");
    assert_eq!(d.status, 200, "{:?}", d.body);
    // show-phys of igb0, the link under it.
    assert_eq!(d.body["media"], "Ethernet", "{:#}", d.body);
    assert_eq!(d.body["duplex"], "full");
    assert_eq!(d.body["device"], "igb0");
    for key in ["bridge", "pause", "auto"] {
        assert_eq!(d.body[key], Value::Null, "{key}");
    }
    assert!(is_time(&d.body["scan_timestamp"]));
    assert_eq!(d.body["created_at"], d.body["scan_timestamp"]);
    assert_eq!(d.body["updated_at"], d.body["scan_timestamp"]);

    // Over an etherstub there is no physical link: null, not another link's values.
    let d = a.get("/network/vnics/v0");
    for key in ["media", "duplex", "device"] {
        assert_eq!(d.body[key], Value::Null, "{key}: {:#}", d.body);
    }

    let l = a.get("/network/vnics?over=igb0");
    assert_eq!(l.body["total"], 1, "{:#}", l.body);
    assert_eq!(l.body["vnics"][0]["id"], "v1");
    assert!(is_time(&l.body["vnics"][0]["scan_timestamp"]));
}

#[test]
fn vnic_properties_reach_dladm_and_bad_ones_change_nothing() {
    let a = TestAgent::start();
    let t = completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "v2", "link": "igb0", "created_by": "admin",
                "properties": {"maxbw": "100M", "priority": "low", "cpus": [0, 1],
                    "protection": "mac-nospoof,ip-nospoof"}}),
        ),
    );
    assert_eq!(t["requester_note"], "admin");
    let create = argvs(&a)
        .into_iter()
        .find(|v| v.get(1).is_some_and(|s| s == "create-vnic"))
        .unwrap();
    assert_eq!(
        create,
        [
            "dladm",
            "create-vnic",
            "-l",
            "igb0",
            "-p",
            "cpus=0,1,maxbw=100M,priority=low,protection=mac-nospoof,ip-nospoof",
            "v2"
        ]
    );
    let shown = host(
        &a,
        "dladm",
        &[
            "show-linkprop",
            "-c",
            "-o",
            "value",
            "-p",
            "maxbw,priority,cpus,protection",
            "v2",
        ],
    );
    assert_eq!(shown, "100M\nlow\n0,1\nmac-nospoof,ip-nospoof\n");

    let before = dump(&a);
    let start = argvs(&a).len();
    for (props, field) in [
        (json!({"zone": "z1"}), "properties"),
        (json!({"stp": "0"}), "properties"),
        (json!({"maxbw": "fast"}), "properties.maxbw"),
        (json!({"priority": "low,mtu=9000"}), "properties.priority"),
        (json!({"cpus": [0, "x"]}), "properties.cpus"),
        (
            json!({"allowed-ips": "10.0.0.1/40"}),
            "properties.allowed-ips",
        ),
        (json!({"mtu": {"value": 1500}}), "properties.mtu"),
        (json!(["maxbw"]), "properties"),
    ] {
        let r = a.post(
            "/network/vnics",
            json!({"name": "v3", "link": "igb0", "properties": props.clone()}),
        );
        assert_eq!(r.status, 400, "{props}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{props}: {:?}", r.body);
    }
    assert!(argvs(&a)[start..].iter().all(|v| !is_mutating(v)));
    assert_eq!(dump(&a), before);
}

// ---------------------------------------------------------------------------------------------
// VLANs.

#[test]
fn a_vlan_detail_carries_the_original_rows_keys() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/vlans",
            json!({"vid": 12, "link": "igb0", "name": "web12"}),
        ),
    );
    let d = a.get("/network/vlans/web12");
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["class"], "vlan");
    assert_eq!(d.body["source"], "live");
    assert!(is_time(&d.body["scan_timestamp"]), "{:#}", d.body);
    assert_eq!(d.body["created_at"], d.body["scan_timestamp"]);
    assert_eq!(d.body["updated_at"], d.body["scan_timestamp"]);
    let l = a.get("/network/vlans?vid=12&over=igb0&state=up");
    assert_eq!(l.body["total"], 1, "{:#}", l.body);
    assert!(is_time(&l.body["vlans"][0]["scan_timestamp"]));
}

// ---------------------------------------------------------------------------------------------
// The node name.

fn nodename(a: &TestAgent) -> String {
    std::fs::read_to_string(a.host_path("root/etc/nodename")).unwrap()
}

#[test]
fn the_hostname_is_read_live_and_a_change_writes_etc_nodename() {
    let a = TestAgent::start();
    let g = a.get("/network/hostname");
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(
        g.body,
        json!({"success": true, "hostname": "omnios-sim", "system_hostname": "omnios-sim",
            "nodename_file": "omnios-sim", "matches": true, "warning": null})
    );

    // Without apply_immediately: the file only; the running name changes at the next boot.
    let t = completed(
        &a,
        put(
            &a,
            "/network/hostname",
            json!({"hostname": "hv-04", "apply_immediately": false, "created_by": "admin"}),
        ),
    );
    assert_eq!(t["requester_note"], "admin");
    assert_eq!(nodename(&a), "hv-04\n");
    assert_eq!(host(&a, "hostname", &[]), "omnios-sim\n");
    let g = a.get("/network/hostname").body;
    assert_eq!(g["hostname"], "omnios-sim");
    assert_eq!(g["nodename_file"], "hv-04");
    assert_eq!(g["matches"], false);
    assert!(g["warning"].is_string(), "{g:#}");

    // With it: the running name too.
    completed(
        &a,
        put(
            &a,
            "/network/hostname",
            json!({"hostname": "hv-05.example.net", "apply_immediately": true}),
        ),
    );
    assert_eq!(nodename(&a), "hv-05.example.net\n");
    assert_eq!(host(&a, "hostname", &[]), "hv-05.example.net\n");
    assert!(argvs(&a).contains(&vec!["hostname".to_owned(), "hv-05.example.net".to_owned()]));
    let g = a.get("/network/hostname").body;
    assert_eq!(g["hostname"], "hv-05.example.net");
    assert_eq!(g["matches"], true);
}

#[test]
fn a_bad_hostname_is_a_400_naming_the_field_and_changes_nothing() {
    let a = TestAgent::start();
    let start = argvs(&a).len();
    for (body, field) in [
        (json!({"hostname": "bad name"}), "hostname"),
        (json!({"hostname": "-n"}), "hostname"),
        (json!({"hostname": ""}), "hostname"),
        (json!({"hostname": "hv04\nhv05"}), "hostname"),
        (json!({"hostname": "hv_04"}), "hostname"),
        (json!({"hostname": "a".repeat(64)}), "hostname"),
        (json!({"hostname": "hv-04", "reboot": true}), "reboot"),
        (
            json!({"hostname": "hv-04", "created_by": "a\u{7}b"}),
            "created_by",
        ),
    ] {
        let r = put(&a, "/network/hostname", body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}");
    }
    assert_eq!(nodename(&a), "omnios-sim\n");
    assert!(
        argvs(&a)[start..]
            .iter()
            .all(|v| v.len() == 1 || v[0] != "hostname"),
        "{:?}",
        argvs(&a)
    );
}

/// The file is written first; when setting the running name then fails, the undo puts the
/// previous file back.
#[test]
fn a_failed_hostname_change_puts_etc_nodename_back() {
    let a = TestAgent::start();
    set_faults(
        &a,
        r#"{"tool":"hostname","prefix":["hv-06"],"action":"fail","stderr":"hostname: error in setting name: Not owner"}"#,
    );
    let t = failed(
        &a,
        put(
            &a,
            "/network/hostname",
            json!({"hostname": "hv-06", "apply_immediately": true}),
        ),
    );
    assert!(
        t["error_message"].as_str().unwrap().contains("Not owner"),
        "{t:#}"
    );
    assert_eq!(nodename(&a), "omnios-sim\n");
    assert_eq!(host(&a, "hostname", &[]), "omnios-sim\n");
}
