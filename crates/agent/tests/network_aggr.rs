//! Link aggregations and bridges as the Zoneweaver UI drives them: its bodies and query keys,
//! the keys it reads, values from the emulated host's dladm, refusals that leave the host as
//! it was, and the undo of a bridge deletion that failed half-way.

use serde_json::{json, Value};

use crate::network::{argvs, completed, failed, is_mutating, put, set_faults};
use crate::support::{dump, host, TestAgent};

fn has_argv(a: &TestAgent, want: &[&str]) -> bool {
    argvs(a).iter().any(|v| v == want)
}

fn list(a: &TestAgent, path: &str, key: &str) -> Vec<Value> {
    let r = a.get(path);
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    assert_eq!(r.body["total"], r.body[key].as_array().unwrap().len());
    r.body[key].as_array().unwrap().clone()
}

fn show_link(a: &TestAgent, link: &str) -> String {
    host(
        a,
        "dladm",
        &["show-link", "-p", "-o", "LINK,CLASS,BRIDGE,OVER", link],
    )
}

/// Checks a batch of requests each refused with a 400 naming its field, and that none of them
/// ran a command that changes the host.
fn refused(a: &TestAgent, path: &str, cases: &[(Value, &str)]) {
    let start = argvs(a).len();
    for (body, field) in cases {
        let r = a.post(path, body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], *field, "{body}: {:?}", r.body);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let ran = argvs(a);
    assert!(
        ran[start..].iter().all(|v| !is_mutating(v)),
        "{:?}",
        &ran[start..]
    );
}

/// A membership change's task as its readers see it: its operation, its result and the
/// progress line in its output (one task operation serves both areas; each keeps its words).
fn assert_membership_task(a: &TestAgent, t: &Value, operation: &str, result: Value, said: &str) {
    assert_eq!(t["operation"], operation, "{t:#}");
    assert_eq!(t["result"], result, "{t:#}");
    let out = a.get_text(&format!("/tasks/{}/output", t["id"].as_str().unwrap()));
    assert!(out.contains(said), "{out}");
}

#[test]
fn an_aggregation_round_trip_with_the_keys_the_ui_sends_and_reads() {
    let a = TestAgent::start();
    let t = completed(
        &a,
        a.post(
            "/network/aggregates",
            json!({"name": "aggr0", "links": ["igb1", "igb2"], "policy": "L2L3",
                "lacp_mode": "active", "lacp_timer": "long", "unicast_address": "",
                "temporary": true, "created_by": "admin"}),
        ),
    );
    assert_eq!(t["requester_note"], "admin");
    assert!(has_argv(
        &a,
        &[
            "dladm",
            "create-aggr",
            "-t",
            "-P",
            "L2,L3",
            "-L",
            "active",
            "-T",
            "long",
            "-l",
            "igb1",
            "-l",
            "igb2",
            "aggr0"
        ]
    ));
    let all = list(&a, "/network/aggregates", "aggregates");
    assert_eq!(all.len(), 1, "{all:?}");
    let g = &all[0];
    for (key, want) in [
        ("link", json!("aggr0")),
        ("class", json!("aggr")),
        ("policy", json!("L2,L3")),
        ("address_policy", json!("auto")),
        ("lacp_activity", json!("active")),
        ("lacp_timer", json!("long")),
        ("flags", json!("-----")),
        ("over", json!("igb1,igb2")),
        ("ports", json!(["igb1", "igb2"])),
        ("state", json!("up")),
        ("speed", json!(2000)),
        ("macaddress", json!("0:1b:21:a4:3c:11")),
        ("mtu", json!(1500)),
    ] {
        assert_eq!(g[key], want, "{key}: {g:#}");
    }
    assert!(g.get("ports_detail").is_none(), "{g:#}");
    // The UI's filters.
    let q = "/network/aggregates?state=up&policy=L2L3&extended=true";
    let ext = list(&a, q, "aggregates");
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0]["ports_detail"][1]["port"], "igb2");
    assert_eq!(ext[0]["ports_detail"][1]["port_state"], "attached");
    assert_eq!(ext[0]["ports_detail"][1]["speed"], 1000);
    assert!(list(&a, "/network/aggregates?policy=L4", "aggregates").is_empty());
    assert!(list(&a, "/network/aggregates?state=down", "aggregates").is_empty());
    let d = a.get("/network/aggregates/aggr0?extended=false&lacp=true");
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["ports_detail"].as_array().unwrap().len(), 2);
    assert_eq!(d.body["lacp_detail"][0]["port"], "igb1");
    assert_eq!(d.body["lacp_detail"][0]["aggregatable"], true);
    // dladm's own view: class aggr over both ports, and a temporary object.
    assert_eq!(show_link(&a, "aggr0"), "aggr0:aggr::igb1 igb2\n");
    assert_eq!(dump(&a)["aggrs"]["aggr0"]["temporary"], true);

    // The original's port change, both ways.
    let body = json!({"operation": "remove", "links": ["igb2"], "created_by": "admin"});
    let t = completed(&a, put(&a, "/network/aggregates/aggr0/links", body));
    assert_membership_task(
        &a,
        &t,
        "network_modify_aggregate_links",
        json!({"aggregate": "aggr0", "operation": "remove", "links": ["igb2"]}),
        "removing igb2 on aggregation aggr0",
    );
    assert_eq!(a.get("/network/aggregates/aggr0").body["over"], "igb1");
    let body = json!({"operation": "add", "links": ["igb2"], "temporary": true});
    completed(&a, put(&a, "/network/aggregates/aggr0/links", body));
    assert_eq!(a.get("/network/aggregates/aggr0").body["over"], "igb1,igb2");
    let last = json!({"operation": "remove", "links": ["igb1", "igb2"]});
    let r = put(&a, "/network/aggregates/aggr0/links", last);
    assert_eq!((r.status, &r.body["field"]), (400, &json!("links")));

    let again = a.post(
        "/network/aggregates",
        json!({"name": "aggr0", "links": ["igb1"]}),
    );
    assert_eq!(again.status, 409, "{:?}", again.body);
    completed(
        &a,
        a.delete("/network/aggregates/aggr0?temporary=false&created_by=admin"),
    );
    assert!(list(&a, "/network/aggregates", "aggregates").is_empty());
    assert_eq!(a.get("/network/aggregates/aggr0").status, 404);
    assert_eq!(a.delete("/network/aggregates/aggr0").status, 404);
    assert!(dump(&a).get("aggrs").is_none());
}

#[test]
fn aggregation_refusals_leave_the_host_unchanged() {
    let a = TestAgent::start();
    // igb2 carries a VNIC: in use.
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "held0", "link": "igb2"})),
    );
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    let before = dump(&a);
    let ok = |extra: Value| {
        let mut b = json!({"name": "aggr0", "links": ["igb1"]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    refused(
        &a,
        "/network/aggregates",
        &[
            (ok(json!({"links": ["igb1", "igb2"]})), "links"),
            (ok(json!({"links": ["stub0"]})), "links"),
            (ok(json!({"links": ["nope0"]})), "links"),
            (ok(json!({"links": []})), "links"),
            (ok(json!({"links": ["igb1", "igb1"]})), "links[1]"),
            (ok(json!({"links": ["igb1;id"]})), "links[0]"),
            (ok(json!({"unicast_address": " "})), "unicast_address"),
            (ok(json!({"policy": "L5"})), "policy"),
            (ok(json!({"policy": "L2;id"})), "policy"),
            (ok(json!({"lacp_mode": "on"})), "lacp_mode"),
            (ok(json!({"lacp_timer": "fast"})), "lacp_timer"),
            (
                ok(json!({"unicast_address": "01:00:5e:00:00:01"})),
                "unicast_address",
            ),
            (ok(json!({"name": "aggr"})), "name"),
            (ok(json!({"name": "aggr-0"})), "name"),
            (ok(json!({"mode": "x"})), "mode"),
        ],
    );
    assert_eq!(
        a.get("/network/aggregates?policy=L9").body["field"],
        "policy"
    );
    // igb0 has the host's IP interface: dladm refuses it ("link busy"), the task fails and
    // its undo finds nothing to remove.
    let t = failed(
        &a,
        a.post(
            "/network/aggregates",
            json!({"name": "aggr0", "links": ["igb1", "igb0"]}),
        ),
    );
    assert!(
        t["error_message"].as_str().unwrap().contains("busy"),
        "{t:#}"
    );
    assert_eq!(dump(&a), before);
}

#[test]
fn a_bridge_round_trip_with_the_keys_the_ui_sends_and_reads() {
    let a = TestAgent::start();
    let t = completed(
        &a,
        a.post(
            "/network/bridges",
            json!({"name": "lab", "protection": "stp", "priority": 32768, "max_age": 20,
                "hello_time": 2, "forward_delay": 15, "force_protocol": 3, "links": ["igb1"],
                "created_by": "admin"}),
        ),
    );
    assert_eq!(t["requester_note"], "admin");
    let all = list(&a, "/network/bridges", "bridges");
    assert_eq!(all.len(), 1, "{all:?}");
    let b = &all[0];
    for (key, want) in [
        ("bridge", json!("lab")),
        ("link", json!("lab0")),
        ("class", json!("bridge")),
        ("address", json!("0:1b:21:a4:3c:11")),
        ("priority", json!(32768)),
        ("max_age", json!(20)),
        ("hello_time", json!(2)),
        ("forward_delay", json!(15)),
        ("force_protocol", json!(3)),
        ("designated_root", json!("32768/0:1b:21:a4:3c:11")),
        ("topology_change", json!(false)),
        ("attached_links", json!(["igb1"])),
        ("over", json!("igb1")),
    ] {
        assert_eq!(b[key], want, "{key}: {b:#}");
    }
    assert_eq!(
        list(&a, "/network/bridges?name=lab&extended=true", "bridges").len(),
        1
    );
    assert_eq!(a.get("/network/bridges?name=other").body["total"], 0);
    // dladm's own view: the observability link and the member's BRIDGE column.
    assert_eq!(show_link(&a, "lab0"), "lab0:bridge::igb1\n");
    assert_eq!(show_link(&a, "igb1"), "igb1:phys:lab:\n");

    let d = a.get("/network/bridges/lab?show_links=true&show_forwarding=true");
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["links"][0]["link"], "igb1");
    assert_eq!(d.body["links"][0]["state"], "forwarding");
    assert_eq!(
        d.body["forwarding_table"][0],
        json!({"destination": "0:1b:21:a4:3c:11", "age": null, "flags": "L", "output": "igb1"})
    );
    let plain = a.get("/network/bridges/lab?show_links=false&show_forwarding=false");
    assert!(plain.body.get("links").is_none(), "{:?}", plain.body);

    let t = completed(
        &a,
        put(
            &a,
            "/network/bridges/lab/links",
            json!({"operation": "add", "links": ["igb2"], "created_by": "admin"}),
        ),
    );
    assert_membership_task(
        &a,
        &t,
        "network_modify_bridge_links",
        json!({"bridge": "lab", "operation": "add", "links": ["igb2"]}),
        "attaching igb2 on bridge lab",
    );
    assert_eq!(
        a.get("/network/bridges/lab").body["attached_links"],
        json!(["igb1", "igb2"])
    );
    // Links attached: refused without force, and nothing changes.
    let before = dump(&a);
    let r = a.delete("/network/bridges/lab?force=false&created_by=admin");
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("igb1, igb2"));
    assert_eq!(dump(&a), before);
    completed(
        &a,
        a.delete("/network/bridges/lab?force=true&created_by=admin"),
    );
    assert_eq!(a.get("/network/bridges/lab").status, 404);
    assert!(list(&a, "/network/bridges", "bridges").is_empty());
    assert_eq!(show_link(&a, "igb1"), "igb1:phys::\n");
    assert!(dump(&a).get("bridges").is_none());
    assert_eq!(a.delete("/network/bridges/lab").status, 404);
}

#[test]
fn bridge_refusals_leave_the_host_unchanged() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/bridges",
            json!({"name": "lab", "links": ["igb1"]}),
        ),
    );
    completed(
        &a,
        a.post("/network/vnics", json!({"name": "held0", "link": "igb2"})),
    );
    let before = dump(&a);
    refused(
        &a,
        "/network/bridges",
        &[
            (json!({"name": "lab0"}), "name"),
            (json!({"name": "SUNWbr"}), "name"),
            (json!({"name": "br;id"}), "name"),
            (json!({"name": "br", "protection": "rstp"}), "protection"),
            (json!({"name": "br", "priority": 100}), "priority"),
            (json!({"name": "br", "max_age": 41}), "max_age"),
            (json!({"name": "br", "hello_time": 0}), "hello_time"),
            (json!({"name": "br", "forward_delay": 10}), "forward_delay"),
            (json!({"name": "br", "links": ["held0"]}), "links"),
            (json!({"name": "br", "links": ["igb1"]}), "links"),
            (json!({"name": "br", "links": ["nope0"]}), "links"),
            (json!({"name": "br", "temporary": true}), "temporary"),
        ],
    );
    let dup = a.post("/network/bridges", json!({"name": "lab"}));
    assert_eq!(dup.status, 409, "{:?}", dup.body);
    let r = put(
        &a,
        "/network/bridges/lab/links",
        json!({"operation": "remove", "links": ["igb2"]}),
    );
    assert_eq!((r.status, &r.body["field"]), (400, &json!("links")));
    assert_eq!(a.get("/network/bridges/nope").status, 404);
    assert_eq!(a.get("/network/bridges/lab0").body["field"], "bridge");
    assert_eq!(dump(&a), before);
}

#[test]
fn a_forced_bridge_delete_that_fails_attaches_its_links_again() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/bridges",
            json!({"name": "lab", "links": ["igb1", "igb2"]}),
        ),
    );
    let before = dump(&a);
    set_faults(
        &a,
        r#"{"tool":"dladm","prefix":["delete-bridge"],"action":"fail","stderr":"dladm: delete operation failed: operation failed"}"#,
    );
    let t = failed(&a, a.delete("/network/bridges/lab?force=true"));
    assert!(has_argv(
        &a,
        &["dladm", "remove-bridge", "-l", "igb1", "-l", "igb2", "lab"]
    ));
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("operation failed"),
        "{t:#}"
    );
    assert_eq!(dump(&a), before);
    assert_eq!(
        a.get("/network/bridges/lab").body["attached_links"],
        json!(["igb1", "igb2"])
    );
}
