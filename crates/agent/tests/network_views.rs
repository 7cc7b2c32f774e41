//! The network views the Zoneweaver UI drives beyond etherstubs and VNICs: IP addresses,
//! VLANs, aggregations, bridges and the host name, each with the keys the UI reads, values
//! from the emulated host, round trips, undo and validation.

use serde_json::{json, Value};

use crate::network::{argvs, completed, failed, is_mutating, put, set_faults};
use crate::support::{dump, TestAgent};

fn has_argv(a: &TestAgent, want: &[&str]) -> bool {
    argvs(a).iter().any(|v| v == want)
}

fn address<'a>(list: &'a Value, addrobj: &str) -> Option<&'a Value> {
    list["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["addrobj"] == addrobj)
}

fn addresses(a: &TestAgent, query: &str) -> Value {
    let r = a.get(&format!("/network/addresses{query}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

// ---------------------------------------------------------------------------------------------
// Addresses.

#[test]
fn addresses_list_the_keys_the_ui_reads_with_its_filters() {
    let a = TestAgent::start();
    let all = addresses(&a, "");
    assert_eq!(all["total"], 3, "{all:#}");
    assert_eq!(
        address(&all, "igb0/v4").unwrap(),
        &json!({"addrobj": "igb0/v4", "interface": "igb0", "type": "static", "state": "ok",
            "addr": "192.168.1.10/24", "ip_address": "192.168.1.10", "prefix_length": 24,
            "ip_version": "v4"})
    );
    let lo6 = address(&all, "lo0/v6").unwrap();
    assert_eq!(lo6["ip_address"], "::1");
    assert_eq!(lo6["prefix_length"], 128);
    assert_eq!(lo6["ip_version"], "v6");

    let igb = addresses(&a, "?interface=igb0");
    assert_eq!(igb["total"], 1);
    let v6 = addresses(&a, "?ip_version=v6");
    assert_eq!(v6["addresses"][0]["addrobj"], "lo0/v6");
    assert_eq!(v6["total"], 1);
    assert_eq!(addresses(&a, "?type=dhcp")["total"], 0);
    assert_eq!(addresses(&a, "?state=ok&type=static")["total"], 3);
    for (query, field) in [("?ip_version=v5", "ip_version"), ("?limit=5", "limit")] {
        let r = a.get(&format!("/network/addresses{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.body["field"], field, "{query}");
    }
}

#[test]
fn a_static_address_round_trip_plumbs_toggles_and_unplumbs() {
    let a = TestAgent::start();
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "v0", "link": "stub0"})),
    );
    // Every key the UI sends.
    let t = completed(
        &a,
        a.post(
            "/network/addresses",
            json!({"interface": "v0", "type": "static", "addrobj": "v0/v4",
                "address": "10.9.0.1/24", "primary": false, "wait": 30, "temporary": true,
                "down": false, "created_by": "admin"}),
        ),
    );
    assert_eq!(t["result"]["created_interface"], true, "{t:#}");
    assert!(has_argv(&a, &["ipadm", "create-if", "-t", "v0"]));
    assert!(has_argv(
        &a,
        &[
            "ipadm",
            "create-addr",
            "-t",
            "-T",
            "static",
            "-a",
            "10.9.0.1/24",
            "v0/v4"
        ]
    ));
    let l = addresses(&a, "?interface=v0");
    assert_eq!(l["addresses"][0]["addr"], "10.9.0.1/24", "{l:#}");
    assert_eq!(l["addresses"][0]["state"], "ok");
    assert_eq!(dump(&a)["addrs"]["v0/v4"]["temporary"], true);

    // Disable twice (the second does nothing), through the encoded path.
    completed(&a, put(&a, "/network/addresses/v0%2Fv4/disable", json!({})));
    assert_eq!(
        addresses(&a, "?interface=v0")["addresses"][0]["state"],
        "disabled"
    );
    completed(&a, put(&a, "/network/addresses/v0%2Fv4/disable", json!({})));
    assert!(has_argv(&a, &["ipadm", "disable-addr", "-t", "v0/v4"]));
    // Enable through the raw path.
    completed(&a, put(&a, "/network/addresses/v0/v4/enable", json!({})));
    assert_eq!(
        addresses(&a, "?state=ok&interface=v0")["total"],
        1,
        "enabled again"
    );

    // Deleting the last address unplumbs the interface, so the VNIC can go next.
    let t = completed(&a, a.delete("/network/addresses/v0%2Fv4"));
    assert_eq!(t["result"]["deleted_interface"], true, "{t:#}");
    assert_eq!(addresses(&a, "?interface=v0")["total"], 0);
    assert!(dump(&a)["ifs"].get("v0").is_none());
    completed(&a, a.delete("/network/vnics/v0"));
    assert_eq!(a.delete("/network/addresses/v0/v4").status, 404);
}

#[test]
fn dhcp_and_addrconf_addresses_show_what_ipadm_shows() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/addresses",
            json!({"interface": "igb0", "type": "dhcp", "addrobj": "igb0/dhcp",
                "primary": true, "wait": 10, "address": ""}),
        ),
    );
    assert!(has_argv(
        &a,
        &[
            "ipadm",
            "create-addr",
            "-T",
            "dhcp",
            "-1",
            "-w",
            "10",
            "igb0/dhcp"
        ]
    ));
    completed(
        &a,
        a.post(
            "/network/addresses",
            json!({"type": "addrconf", "addrobj": "igb0/v6"}),
        ),
    );
    let l = addresses(&a, "?interface=igb0");
    let dhcp = address(&l, "igb0/dhcp").unwrap();
    assert_eq!(dhcp["addr"], "?");
    assert_eq!(dhcp["ip_address"], Value::Null);
    assert_eq!(dhcp["type"], "dhcp");
    let v6 = address(&l, "igb0/v6").unwrap();
    assert_eq!(v6["ip_version"], "v6");
    assert_eq!(v6["prefix_length"], 10);
    assert_eq!(v6["addr"], "fe80::21b:21ff:fea4:3c10%igb0/10");
    assert_eq!(v6["ip_address"], "fe80::21b:21ff:fea4:3c10");

    let t = completed(
        &a,
        a.delete("/network/addresses/igb0%2Fdhcp?release=true&created_by=admin"),
    );
    assert_eq!(
        t["result"]["deleted_interface"], false,
        "igb0 keeps its other addresses"
    );
    assert!(has_argv(&a, &["ipadm", "delete-addr", "-r", "igb0/dhcp"]));
}

#[test]
fn a_failed_address_create_unplumbs_the_interface_it_plumbed() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "v0", "link": "igb0"})),
    );
    let before = dump(&a);
    set_faults(
        &a,
        r#"{"tool":"ipadm","prefix":["create-addr"],"action":"fail","stderr":"ipadm: Could not create address: Operation failed"}"#,
    );
    let t = failed(
        &a,
        a.post(
            "/network/addresses",
            json!({"type": "static", "addrobj": "v0/v4", "address": "10.9.0.1/24"}),
        ),
    );
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("Operation failed"),
        "{t:#}"
    );
    assert!(has_argv(&a, &["ipadm", "create-if", "v0"]), "it did plumb");
    assert_eq!(dump(&a), before);
}

#[test]
fn a_bad_address_request_is_a_400_naming_the_field_and_runs_nothing() {
    let a = TestAgent::start();
    for (body, field) in [
        (json!({"type": "static", "addrobj": "v0/v4"}), "address"),
        (
            json!({"type": "static", "addrobj": "igb0/x", "address": "10.0.0.300/24"}),
            "address",
        ),
        (json!({"type": "manual", "addrobj": "igb0/x"}), "type"),
        (json!({"type": "dhcp", "addrobj": "igb0"}), "addrobj"),
        (
            json!({"type": "dhcp", "addrobj": "igb0/x;reboot"}),
            "addrobj",
        ),
        (
            json!({"type": "dhcp", "addrobj": "igb0/x", "interface": "v0"}),
            "interface",
        ),
        (json!({"type": "dhcp", "addrobj": "nope0/x"}), "interface"),
        (
            json!({"type": "dhcp", "addrobj": "igb0/x", "foo": 1}),
            "foo",
        ),
    ] {
        let r = a.post("/network/addresses", body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}");
    }
    let r = a.post(
        "/network/addresses",
        json!({"type": "static", "addrobj": "igb0/v4", "address": "10.0.0.1/24"}),
    );
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        put(&a, "/network/addresses/igb0%2Fnope/enable", json!({})).status,
        404
    );
    assert_eq!(
        a.delete("/network/addresses/igb0%2Fv4?force=true").status,
        400
    );
    assert!(argvs(&a).iter().all(|v| !is_mutating(v)), "{:?}", argvs(&a));
}

// ---------------------------------------------------------------------------------------------
// VLANs.

#[test]
fn a_vlan_round_trip_with_the_keys_the_ui_reads() {
    let a = TestAgent::start();
    // Every key the UI sends; no name: dladm's convention names it.
    completed(
        &a,
        a.post(
            "/network/vlans",
            json!({"vid": 12, "link": "igb0", "force": false, "temporary": true,
                "created_by": "admin", "name": ""}),
        ),
    );
    assert!(has_argv(
        &a,
        &[
            "dladm",
            "create-vlan",
            "-t",
            "-l",
            "igb0",
            "-v",
            "12",
            "igb12000"
        ]
    ));
    let l = a.get("/network/vlans");
    assert_eq!(l.status, 200);
    assert_eq!(l.body["total"], 1, "{:#}", l.body);
    let v = &l.body["vlans"][0];
    for (key, want) in [
        ("link", json!("igb12000")),
        ("vid", json!(12)),
        ("over", json!("igb0")),
        ("state", json!("up")),
        ("mtu", json!(1500)),
        ("flags", json!("-----")),
        ("class", json!("vlan")),
    ] {
        assert_eq!(v[key], want, "{key}: {v:#}");
    }
    assert_eq!(a.get("/network/vlans?vid=12&over=igb0").body["total"], 1);
    assert_eq!(a.get("/network/vlans?vid=13").body["total"], 0);
    assert_eq!(a.get("/network/vlans?state=down").body["total"], 0);
    let d = a.get("/network/vlans/igb12000");
    assert_eq!(d.status, 200);
    assert_eq!(d.body["vid"], 12);
    assert_eq!(d.body["over"], "igb0");
    assert_eq!(d.body["state"], "up");
    assert_eq!(dump(&a)["links"]["igb12000"]["temporary"], true);

    let again = a.post("/network/vlans", json!({"vid": 12, "link": "igb0"}));
    assert_eq!(again.status, 409, "{:?}", again.body);

    completed(
        &a,
        a.delete("/network/vlans/igb12000?temporary=false&created_by=admin"),
    );
    assert_eq!(a.get("/network/vlans").body["total"], 0);
    assert_eq!(a.get("/network/vlans/igb12000").status, 404);
    assert_eq!(a.delete("/network/vlans/igb12000").status, 404);
}

#[test]
fn a_failed_vlan_create_leaves_nothing() {
    let a = TestAgent::start();
    let before = dump(&a);
    set_faults(
        &a,
        r#"{"tool":"dladm","prefix":["create-vlan"],"action":"fail","stderr":"dladm: create operation failed: operation failed"}"#,
    );
    let t = failed(
        &a,
        a.post(
            "/network/vlans",
            json!({"vid": 30, "link": "igb0", "name": "web30"}),
        ),
    );
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("operation failed"),
        "{t:#}"
    );
    assert_eq!(dump(&a), before);
}

#[test]
fn a_bad_vlan_request_is_a_400_naming_the_field_and_runs_nothing() {
    let a = TestAgent::start();
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    let start = argvs(&a).len();
    for (body, field) in [
        (json!({"vid": 0, "link": "igb0"}), "vid"),
        (json!({"vid": 4095, "link": "igb0"}), "vid"),
        (json!({"vid": 5, "link": "nope0"}), "link"),
        (json!({"vid": 5, "link": "stub0"}), "link"),
        (json!({"vid": 5, "link": "igb0", "name": "web-5"}), "name"),
        (json!({"vid": 5, "link": "igb0", "mtu": 1500}), "mtu"),
        (
            json!({"vid": 5, "link": "igb0", "created_by": "a\u{7}b"}),
            "created_by",
        ),
    ] {
        let r = a.post("/network/vlans", body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}");
    }
    assert_eq!(
        a.post(
            "/network/vlans",
            json!({"vid": 5, "link": "igb0", "name": "stub0"})
        )
        .status,
        409
    );
    let r = a.get("/network/vlans?over=igb0;id");
    assert_eq!(r.body["field"], "over");
    assert!(
        argvs(&a)[start..].iter().all(|v| !is_mutating(v)),
        "{:?}",
        argvs(&a)
    );
}

// ---------------------------------------------------------------------------------------------
// Etherstubs and VNICs: the UI's keys beside the agent's, and the keys it sends.

#[test]
fn etherstubs_and_vnics_answer_and_accept_the_uis_keys() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/etherstubs",
            json!({"name": "stub0", "temporary": false, "created_by": "admin"}),
        ),
    );
    completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "v0", "link": "stub0", "temporary": true, "created_by": "admin"}),
        ),
    );
    let stubs = a.get("/network/etherstubs");
    assert_eq!(stubs.body["etherstubs"][0]["link"], "stub0");
    assert_eq!(stubs.body["etherstubs"][0]["class"], "etherstub");

    let l = a.get("/network/vnics?over=stub0&zone=global&state=up");
    assert_eq!(l.status, 200, "{:?}", l.body);
    assert_eq!(l.body["total"], 1, "{:#}", l.body);
    let v = &l.body["vnics"][0];
    assert_eq!(v["name"], "v0");
    assert_eq!(v["link"], "stub0", "the agent's key keeps its meaning");
    assert_eq!(v["over"], "stub0");
    assert_eq!(v["macaddress"], v["mac_address"]);
    assert_eq!(v["macaddrtype"], "random");
    assert_eq!(v["vid"], 0);
    assert_eq!(v["state"], "up");
    assert_eq!(v["mtu"], 1500);
    assert_eq!(a.get("/network/vnics?zone=web1").body["total"], 0);

    let d = a.get("/network/vnics/v0");
    assert_eq!(
        d.body["link"], "v0",
        "the detail's top-level keys are the original's"
    );
    assert_eq!(d.body["over"], "stub0");
    assert_eq!(d.body["state"], "up");
    assert_eq!(d.body["macaddress"], d.body["vnic"]["mac_address"]);

    completed(
        &a,
        a.delete("/network/vnics/v0?temporary=true&created_by=admin"),
    );
    assert!(has_argv(&a, &["dladm", "delete-vnic", "-t", "v0"]));
    completed(
        &a,
        a.delete("/network/etherstubs/stub0?temporary=false&force=false&created_by=admin"),
    );
    assert!(has_argv(&a, &["dladm", "delete-etherstub", "stub0"]));
    // A requester note is a label: a control character is refused, naming it.
    let r = a.delete("/network/etherstubs/stub0?created_by=a%07b");
    assert_eq!(r.body["field"], "created_by");
}
