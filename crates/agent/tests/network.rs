//! Host networking through the API against the emulated host: etherstubs, VNICs, NAT,
//! forwarding, DHCP, the provisioning network, validation, undo and fault injection.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::{dump, Response, TestAgent};

pub(crate) fn put(a: &TestAgent, path: &str, body: Value) -> Response {
    a.request("PUT", path, Some(&a.key), Some(&body))
}

/// Queues through `resp` (a 202) and waits for the task; returns it.
pub(crate) fn done(a: &TestAgent, resp: Response) -> Value {
    assert_eq!(resp.status, 202, "{:?}", resp.body);
    let id = resp.body["task_id"].as_str().expect("task id").to_owned();
    a.wait(&id)
}

pub(crate) fn completed(a: &TestAgent, resp: Response) -> Value {
    let t = done(a, resp);
    assert_eq!(t["status"], "completed", "{t:#}");
    t
}

pub(crate) fn failed(a: &TestAgent, resp: Response) -> Value {
    let t = done(a, resp);
    assert_eq!(t["status"], "failed", "{t:#}");
    t
}

fn file(a: &TestAgent, p: &str) -> Option<String> {
    std::fs::read_to_string(a.host_path(&format!("root{p}"))).ok()
}

pub(crate) fn set_faults(a: &TestAgent, rules: &str) {
    std::fs::write(a.host.join("faults"), rules).unwrap();
}

/// argv of every tool invocation so far.
pub(crate) fn argvs(a: &TestAgent) -> Vec<Vec<String>> {
    a.invocations()
        .iter()
        .map(|i| {
            i["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

pub(crate) fn is_mutating(argv: &[String]) -> bool {
    let sub = argv.get(1).map(String::as_str).unwrap_or("");
    match argv[0].as_str() {
        "dladm" | "ipadm" => !sub.starts_with("show"),
        "svcadm" => true,
        "svccfg" => sub != "-s" || argv.get(3).map(String::as_str) != Some("listprop"),
        "routeadm" => sub != "-p",
        "ipnat" => !argv.contains(&"-l".to_owned()) && !argv.contains(&"-n".to_owned()),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Etherstubs and VNICs.

#[test]
fn etherstubs_and_vnics_are_live_and_guarded() {
    let a = TestAgent::start();
    completed(&a, a.post("/network/etherstubs", json!({"name": "stub0"})));
    // Visible to the very next GET.
    let l = a.get("/network/etherstubs");
    assert_eq!(l.status, 200);
    assert_eq!(l.body["etherstubs"][0]["name"], "stub0");
    assert_eq!(
        a.post("/network/etherstubs", json!({"name": "stub0"}))
            .status,
        409
    );

    let t = completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "vm1net0", "link": "stub0", "mac_address": "02-08-20-AB-CD-01", "vlan_id": 12}),
        ),
    );
    assert_eq!(t["result"]["mac_address"], "02:08:20:ab:cd:01");
    let v = a.get("/network/vnics/vm1net0");
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["vnic"]["link"], "stub0");
    assert_eq!(v.body["vnic"]["mac_address"], "02:08:20:ab:cd:01");
    assert_eq!(v.body["vnic"]["vlan_id"], 12);
    let l = a.get("/network/vnics?link=stub0");
    assert_eq!(l.body["total"], 1);
    assert_eq!(
        a.get("/network/etherstubs/stub0").body["etherstub"]["vnics"],
        json!(["vm1net0"])
    );

    // 409 naming the VNIC, then force.
    let r = a.delete("/network/etherstubs/stub0");
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("vm1net0"));
    completed(&a, a.delete("/network/etherstubs/stub0?force=true"));
    assert_eq!(a.get("/network/etherstubs").body["total"], 0);
    assert_eq!(a.get("/network/vnics/vm1net0").status, 404);
    assert_eq!(a.delete("/network/vnics/vm1net0").status, 404);
    assert_eq!(a.delete("/network/etherstubs/stub0").status, 404);
}

#[test]
fn vnic_requests_are_validated_before_anything_runs() {
    let a = TestAgent::start();
    for (body, field) in [
        (json!({"name": "bad-name0", "link": "igb0"}), "name"),
        (json!({"name": "vnic", "link": "igb0"}), "name"),
        (json!({"name": "v0", "link": "igb0;x"}), "link"),
        (
            json!({"name": "v0", "link": "igb0", "mac_address": "01:00:5e:00:00:01"}),
            "mac_address",
        ),
        (
            json!({"name": "v0", "link": "igb0", "mac_address": "zz"}),
            "mac_address",
        ),
        (
            json!({"name": "v0", "link": "igb0", "vlan_id": 4095}),
            "vlan_id",
        ),
        (json!({"name": "v0", "link": "nope0"}), "link"),
    ] {
        let r = a.post("/network/vnics", body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}");
    }
    assert_eq!(
        a.post("/network/vnics", json!({"name": "igb0", "link": "igb0"}))
            .status,
        409
    );
    assert!(argvs(&a).iter().all(|v| !is_mutating(v)), "{:?}", argvs(&a));
    // Over the physical NIC, random MAC, and deleted again.
    completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "v0", "link": "igb0", "mac_address": "random"}),
        ),
    );
    completed(&a, a.delete("/network/vnics/v0"));
    assert_eq!(a.get("/network/vnics").body["total"], 0);
}

#[test]
fn a_failed_vnic_create_leaves_nothing() {
    let a = TestAgent::start();
    let before = dump(&a);
    set_faults(
        &a,
        r#"{"tool":"dladm","prefix":["create-vnic"],"action":"fail","stderr":"dladm: vnic creation over igb0 failed: operation failed"}"#,
    );
    let t = failed(
        &a,
        a.post("/network/vnics", json!({"name": "v0", "link": "igb0"})),
    );
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("operation failed"),
        "{t}"
    );
    assert_eq!(dump(&a), before);
}

// ---------------------------------------------------------------------------------------------
// NAT.

const IPNAT: &str = "/etc/ipf/ipnat.conf";

/// ipnat applies the first rule that matches, and a portmap's plain map goes with it when it
/// is deleted: a portmap whose plain map is already in the file is refused, naming that map,
/// and nothing is written; a plain map elsewhere survives the delete of a portmap.
#[test]
fn a_portmap_is_refused_while_its_plain_map_is_there_and_a_delete_keeps_others() {
    let a = TestAgent::start();
    let by_hand = "map igb0 10.190.190.0/24 -> 0/32\n";
    std::fs::write(a.host_path(&format!("root{IPNAT}")), by_hand).unwrap();
    let portmap = json!({"bridge": "igb0", "subnet": "10.190.190.0/24", "type": "portmap"});
    let r = a.post("/network/nat/rules", portmap.clone());
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("must come before"),
        "{:?}",
        r.body
    );
    assert_eq!(file(&a, IPNAT).unwrap(), by_hand);

    // Added through the API, the pair goes as one; an equal plain map that does not follow
    // the portmap is someone else's and stays.
    std::fs::write(a.host_path(&format!("root{IPNAT}")), "").unwrap();
    let t = completed(&a, a.post("/network/nat/rules", portmap));
    let id = t["result"]["rules"][0]["id"].as_str().unwrap().to_owned();
    completed(&a, a.delete(&format!("/network/nat/rules/{id}")));
    assert_eq!(file(&a, IPNAT).unwrap(), "");
    let apart =
        format!("map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto\n# by hand:\n{by_hand}");
    std::fs::write(a.host_path(&format!("root{IPNAT}")), &apart).unwrap();
    completed(&a, a.delete(&format!("/network/nat/rules/{id}")));
    assert_eq!(file(&a, IPNAT).unwrap(), format!("# by hand:\n{by_hand}"));
}

#[test]
fn nat_rules_follow_the_spec_examples() {
    let a = TestAgent::start();
    std::fs::write(
        a.host_path(&format!("root{IPNAT}")),
        "# site rules, kept\nmap-block igb0 10.9.0.0/24 -> 0/32\n",
    )
    .unwrap();
    let t = completed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.190.190.0/24", "target": "0/32", "protocol": "tcp/udp", "type": "portmap"}),
        ),
    );
    assert_eq!(t["result"]["rules"].as_array().unwrap().len(), 2);
    assert_eq!(
        file(&a, IPNAT).unwrap(),
        "# site rules, kept\nmap-block igb0 10.9.0.0/24 -> 0/32\nmap igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto\nmap igb0 10.190.190.0/24 -> 0/32\n"
    );
    let l = a.get("/network/nat/rules");
    assert_eq!(l.status, 200);
    assert_eq!(l.body["success"], true);
    assert_eq!(l.body["ipfilter_enabled"], true);
    assert_eq!(l.body["config_path"], IPNAT);
    let rules = l.body["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[1]["rule_id"], 1);
    assert_eq!(
        rules[1]["rule"],
        "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto"
    );
    assert_eq!(rules[1]["type"], "map");
    assert_eq!(rules[1]["interface"], "igb0");
    assert_eq!(rules[1]["subnet"], "10.190.190.0/24");
    assert!(rules[1]["id"].as_str().unwrap().starts_with("nat-"));

    // Active in the kernel, normalised as ipnat -l prints it.
    let s = a.get("/network/nat/status");
    assert_eq!(s.body["state"], "online");
    let active: Vec<String> = serde_json::from_value(s.body["active_rules"].clone()).unwrap();
    assert!(
        active.contains(&"map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto".to_owned()),
        "{active:?}"
    );

    // A duplicate is a 409, not a second copy.
    let r = a.post(
        "/network/nat/rules",
        json!({"bridge": "igb0", "subnet": "10.190.190.0/24"}),
    );
    assert_eq!(r.status, 409, "{:?}", r.body);

    // rdr in valid ipnat syntax.
    completed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"type": "rdr", "bridge": "igb0", "external_ip": "192.168.1.10", "external_port": 8080,
                "internal_ip": "10.190.190.10", "internal_port": 80, "protocol": "tcp"}),
        ),
    );
    assert!(file(&a, IPNAT)
        .unwrap()
        .contains("rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp\n"));
    completed(
        &a,
        a.post("/network/nat/rules", json!({"type": "bimap", "bridge": "igb0", "subnet": "10.190.190.11", "target": "192.168.1.100"})),
    );

    // Delete by index (the portmap takes its companion), then by stable id.
    completed(&a, a.delete("/network/nat/rules/1"));
    let rules = a.get("/network/nat/rules").body["rules"]
        .as_array()
        .unwrap()
        .clone();
    let texts: Vec<&str> = rules.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "map-block igb0 10.9.0.0/24 -> 0/32",
            "rdr igb0 192.168.1.10/32 port 8080 -> 10.190.190.10 port 80 tcp",
            "bimap igb0 10.190.190.11/32 -> 192.168.1.100/32"
        ]
    );
    let id = rules[1]["id"].as_str().unwrap().to_owned();
    completed(&a, a.delete(&format!("/network/nat/rules/{id}")));
    assert_eq!(a.delete(&format!("/network/nat/rules/{id}")).status, 404);
    assert_eq!(a.delete("/network/nat/rules/7").status, 404);
    assert!(file(&a, IPNAT).unwrap().starts_with("# site rules, kept\n"));
}

#[test]
fn a_failed_nat_reload_restores_the_previous_file_and_rules() {
    let a = TestAgent::start();
    completed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.1.0.0/24"}),
        ),
    );
    let before = file(&a, IPNAT).unwrap();
    let active_before = a.get("/network/nat/status").body["active_rules"].clone();
    set_faults(
        &a,
        r#"{"tool":"svcadm","prefix":["refresh"],"contains":"ipfilter","nth":1,"action":"fail","stderr":"svcadm: svc:/network/ipfilter:default: Out of memory"}"#,
    );
    let t = failed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.2.0.0/24"}),
        ),
    );
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("Out of memory"),
        "the task fails with the tool's message: {t}"
    );
    assert_eq!(file(&a, IPNAT).unwrap(), before);
    assert_eq!(
        a.get("/network/nat/status").body["active_rules"],
        active_before
    );
    // The restore reloaded the old file through the service (a second refresh, after the
    // failed one); a bare `ipnat -CF -f` never ran.
    let reloads = argvs(&a)
        .iter()
        .filter(|v| v[..] == ["svcadm", "refresh", "svc:/network/ipfilter:default"])
        .count();
    assert!(reloads >= 2, "{:?}", argvs(&a));
    assert!(
        !argvs(&a).iter().any(|v| v[0] == "ipnat" && v[1] == "-CF"),
        "{:?}",
        argvs(&a)
    );
}

#[test]
fn a_rule_ipnat_refuses_never_reaches_the_file() {
    let a = TestAgent::start();
    set_faults(
        &a,
        r#"{"tool":"ipnat","prefix":["-n"],"action":"fail","stderr":"ipnat: syntax error on line 1: bad"}"#,
    );
    let t = failed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.1.0.0/24"}),
        ),
    );
    assert!(t["error_message"]
        .as_str()
        .unwrap()
        .contains("syntax error"));
    assert_eq!(file(&a, IPNAT).unwrap(), "");
    assert!(!a.host_path(&format!("root{IPNAT}.zw-new")).exists());
}

// ---------------------------------------------------------------------------------------------
// Forwarding.

#[test]
fn forwarding_get_and_put() {
    let a = TestAgent::start();
    let g = a.get("/network/forwarding");
    assert_eq!(g.status, 200);
    assert_eq!(g.body["success"], true);
    assert_eq!(g.body["global_ipv4_forwarding"], "disabled");
    let r = put(
        &a,
        "/network/forwarding",
        json!({"enabled": true, "interfaces": ["igb0", "nope0"]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "interfaces[1]");
    assert!(argvs(&a).iter().all(|v| !is_mutating(v)));
    completed(
        &a,
        put(
            &a,
            "/network/forwarding",
            json!({"enabled": true, "interfaces": ["igb0"]}),
        ),
    );
    let g = a.get("/network/forwarding");
    assert_eq!(g.body["global_ipv4_forwarding"], "enabled");
    let igb0 = g.body["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "igb0")
        .unwrap()
        .clone();
    assert_eq!(igb0["ipv4_forwarding"], "on");
    assert!(argvs(&a)
        .iter()
        .any(|v| v[..] == ["routeadm", "-u", "-e", "ipv4-forwarding"]
            || (v[0] == "routeadm" && v.contains(&"-e".to_owned()))));
    assert!(argvs(&a).iter().any(|v| v[..]
        == [
            "ipadm",
            "set-ifprop",
            "-p",
            "forwarding=on",
            "-m",
            "ipv4",
            "igb0"
        ]));
    completed(
        &a,
        put(&a, "/network/forwarding", json!({"enabled": false})),
    );
    assert_eq!(
        a.get("/network/forwarding").body["global_ipv4_forwarding"],
        "disabled"
    );
}

// ---------------------------------------------------------------------------------------------
// DHCP.

const DHCPD: &str = "/etc/dhcpd.conf";

fn spec_dhcp_config() -> Value {
    json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0", "router": "10.190.190.1",
        "range_start": "10.190.190.10", "range_end": "10.190.190.254", "dns": "8.8.8.8,8.8.4.4",
        "listen_interface": "provision_interconnect0"})
}

#[test]
fn dhcp_config_hosts_and_service() {
    let a = TestAgent::start();
    std::fs::write(
        a.host_path(&format!("root{DHCPD}")),
        "# global options, kept\noption domain-name \"example.org\";\nsubnet 192.168.1.0 netmask 255.255.255.0 {\n  range 192.168.1.100 192.168.1.200;\n}\n",
    )
    .unwrap();
    let g = a.get("/network/dhcp/config");
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(g.body["config"]["subnet"], "192.168.1.0");
    assert_eq!(g.body["service_enabled"], false);
    assert_eq!(g.body["config_path"], DHCPD);

    // The spec example needs its listen interface to exist.
    let r = put(&a, "/network/dhcp/config", spec_dhcp_config());
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "listen_interface");
    let mut cfg = spec_dhcp_config();
    cfg.as_object_mut().unwrap().remove("listen_interface");
    completed(&a, put(&a, "/network/dhcp/config", cfg));
    let text = file(&a, DHCPD).unwrap();
    assert!(
        text.starts_with(
            "# global options, kept\noption domain-name \"example.org\";\nsubnet 192.168.1.0"
        ),
        "{text}"
    );
    assert!(text.contains("subnet 10.190.190.0 netmask 255.255.255.0 {\n  range 10.190.190.10 10.190.190.254;\n  option routers 10.190.190.1;\n  option domain-name-servers 8.8.8.8, 8.8.4.4;\n}\n"), "{text}");
    let subnets = a.get("/network/dhcp/config").body["subnets"].clone();
    assert_eq!(subnets[1]["dns"], "8.8.8.8,8.8.4.4");
    assert_eq!(subnets[1]["range_end"], "10.190.190.254");

    // Hosts: the spec example, then every kind of clash.
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "10.190.190.10"}),
        ),
    );
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "db-01", "mac": "0208.20ab.cd02", "ip": "10.190.190.11"}),
        ),
    );
    let h = a.get("/network/dhcp/hosts");
    assert_eq!(
        h.body["hosts"],
        json!([{"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "10.190.190.10"},
               {"hostname": "db-01", "mac": "02:08:20:ab:cd:02", "ip": "10.190.190.11"}])
    );
    assert!(file(&a, DHCPD).unwrap().contains("host web-01 {\n  hardware ethernet 02:08:20:ab:cd:01;\n  fixed-address 10.190.190.10;\n}\n"));
    for (body, what) in [
        (
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:09", "ip": "10.190.190.12"}),
            "hostname",
        ),
        (
            json!({"hostname": "x", "mac": "02-08-20-AB-CD-01", "ip": "10.190.190.12"}),
            "MAC",
        ),
        (
            json!({"hostname": "x", "mac": "02:08:20:ab:cd:09", "ip": "10.190.190.11"}),
            "IP",
        ),
    ] {
        let r = a.post("/network/dhcp/hosts", body);
        assert_eq!(r.status, 409, "{:?}", r.body);
        let e = r.body["error"].as_str().unwrap();
        assert!(
            e.contains(what) && (e.contains("web-01") || e.contains("db-01")),
            "{e}"
        );
    }
    for ip in ["10.190.191.5", "10.190.190.255", "10.190.190.0"] {
        let r = a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "x", "mac": "02:08:20:ab:cd:09", "ip": ip}),
        );
        assert_eq!(r.status, 400, "{ip}");
        assert_eq!(r.body["field"], "ip");
    }
    completed(&a, a.delete("/network/dhcp/hosts/web-01"));
    assert_eq!(a.delete("/network/dhcp/hosts/web-01").status, 404);
    assert_eq!(
        a.get("/network/dhcp/hosts").body["hosts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Updating the subnet keeps the host entries and the other subnet.
    let mut cfg = spec_dhcp_config();
    cfg.as_object_mut().unwrap().remove("listen_interface");
    cfg["range_start"] = json!("10.190.190.100");
    completed(&a, put(&a, "/network/dhcp/config", cfg));
    let text = file(&a, DHCPD).unwrap();
    assert!(
        text.contains("range 10.190.190.100 10.190.190.254;")
            && text.contains("host db-01")
            && text.contains("192.168.1.100"),
        "{text}"
    );

    // Service: status shape, start, refresh, restart, stop.
    let s = a.get("/network/dhcp/status");
    assert_eq!(
        s.body,
        json!({"success": true, "service": "service/dhcp:ipv4", "state": "disabled", "enabled": false})
    );
    completed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "start"})),
    );
    assert_eq!(a.get("/network/dhcp/status").body["state"], "online");
    for action in ["refresh", "restart"] {
        completed(
            &a,
            put(&a, "/network/dhcp/status", json!({"action": action})),
        );
        assert_eq!(a.get("/network/dhcp/status").body["state"], "online");
    }
    completed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "stop"})),
    );
    assert_eq!(a.get("/network/dhcp/status").body["state"], "disabled");
    assert_eq!(
        put(&a, "/network/dhcp/status", json!({"action": "reload"})).status,
        400
    );
    let l = a.get("/network/dhcp/leases");
    assert_eq!(l.status, 200);
    assert_eq!(l.body["leases"], json!([]));
}

#[test]
fn a_dhcp_start_that_fails_says_why() {
    let a = TestAgent::start();
    // A subnet that covers no interface: the server cannot start.
    completed(
        &a,
        put(
            &a,
            "/network/dhcp/config",
            json!({"subnet": "10.5.0.0", "netmask": "255.255.0.0", "router": "10.5.0.1", "range_start": "10.5.0.10", "range_end": "10.5.0.20"}),
        ),
    );
    let t = failed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "start"})),
    );
    assert!(t["error_message"].as_str().unwrap().contains("dhcp"), "{t}");
}

/// A dhcpd.conf whose subnet covers igb0's address.
const SERVING_IGB0: &str =
    "subnet 192.168.1.0 netmask 255.255.255.0 {\n  range 192.168.1.100 192.168.1.200;\n}\n";

/// Starts the DHCP server on `conf` after making the emulated host's service starts and
/// restarts take 300 ms (`offline*`, `online*`), as a real host's take their own time.
fn dhcp_online_slowly(a: &TestAgent, conf: &str) {
    std::fs::write(a.host_path(&format!("root{DHCPD}")), conf).unwrap();
    let sim = Command::new(crate::support::sim_bin())
        .arg("config")
        .arg(&a.host)
        .arg("svc_start_ms=300")
        .output()
        .unwrap();
    assert!(sim.status.success());
    completed(
        a,
        put(a, "/network/dhcp/status", json!({"action": "start"})),
    );
    assert_eq!(a.get("/network/dhcp/status").body["state"], "online");
}

/// `svcadm restart` returns before svc.startd has stopped and started the server (the
/// emulated host takes 300 ms here, as a real one does at its own pace): a new configuration
/// the server cannot start with must fail the task once it goes to maintenance, not pass as
/// done while the instance still shows its old contract online.
#[test]
fn a_dhcp_server_that_cannot_start_after_its_restart_fails_the_task() {
    let a = TestAgent::start();
    dhcp_online_slowly(&a, SERVING_IGB0);
    // The admin's edit leaves a subnet that covers none of the host's interfaces, and the
    // server is asked to reload its configuration: dhcpd exits at start.
    std::fs::write(
        a.host_path(&format!("root{DHCPD}")),
        "subnet 10.5.0.0 netmask 255.255.0.0 {\n  range 10.5.0.10 10.5.0.20;\n}\n",
    )
    .unwrap();
    let t = failed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "refresh"})),
    );
    let why = t["error_message"].as_str().unwrap();
    assert!(why.contains("maintenance"), "{t}");
    assert!(why.contains("svc:/network/service/dhcp:ipv4"), "{t}");
    assert_eq!(a.get("/network/dhcp/status").body["state"], "maintenance");
}

/// A change the server cannot start with is undone, and the undo starts the server again
/// on what it ran before (it had gone to maintenance with the change), with `svcadm clear`
/// alone: the administrator enabled it until the next boot, and so it stays.
#[test]
fn a_dhcp_change_the_server_cannot_start_with_is_undone_and_the_server_runs_again() {
    let a = TestAgent::start();
    let before = SERVING_IGB0;
    dhcp_online_slowly(&a, before);
    let sim = |tool: &str, args: &[&str]| crate::support::host(&a, tool, args);
    sim("svcadm", &["disable", "-s", DHCP4]);
    sim("svcadm", &["enable", "-s", "-t", DHCP4]);
    let enabled = |a: &TestAgent| {
        crate::support::host(a, "svcs", &["-l", DHCP4])
            .lines()
            .find(|l| l.starts_with("enabled"))
            .map(str::to_owned)
    };
    assert_eq!(
        enabled(&a).as_deref(),
        Some("enabled      true (temporary)")
    );
    // igb1 is plumbed but has no address: dhcpd cannot listen on it.
    crate::support::host(&a, "ipadm", &["create-if", "igb1"]);
    let t = failed(
        &a,
        put(
            &a,
            "/network/dhcp/config",
            json!({"subnet": "192.168.1.0", "netmask": "255.255.255.0", "router": "192.168.1.1",
                   "range_start": "192.168.1.100", "range_end": "192.168.1.150",
                   "listen_interface": "igb1"}),
        ),
    );
    assert!(
        t["error_message"].as_str().unwrap().contains("maintenance"),
        "{t}"
    );
    assert_eq!(file(&a, DHCPD).as_deref(), Some(before));
    assert_eq!(a.get("/network/dhcp/status").body["state"], "online");
    assert_eq!(
        sim("svcprop", &["-p", "config/listen_ifnames", DHCP4]),
        "\"\"\n"
    );
    assert_eq!(
        enabled(&a).as_deref(),
        Some("enabled      true (temporary)")
    );
}

#[test]
fn dhcp_leases_are_read_from_the_leases_file() {
    let a = TestAgent::start();
    // OmniOS's package: config/lease_file of svc:/network/service/dhcp:ipv4.
    let p = a.host_path("root/var/db/dhcpd.leases");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "lease 10.190.190.50 {\n  starts 3 2024/01/03 10:00:00;\n  ends 3 2024/01/03 22:00:00;\n  binding state active;\n  hardware ethernet 2:8:20:ab:cd:1;\n  client-hostname \"web-01\";\n}\n").unwrap();
    let l = a.get("/network/dhcp/leases");
    assert_eq!(
        l.body["leases"],
        json!([{"ip": "10.190.190.50", "mac": "02:08:20:ab:cd:01", "hostname": "web-01",
            "starts": "2024-01-03T10:00:00Z", "ends": "2024-01-03T22:00:00Z", "state": "active"}])
    );
}

/// The lines a task printed.
fn output(a: &TestAgent, t: &Value) -> Vec<String> {
    a.get(&format!("/tasks/{}/output", t["id"].as_str().unwrap()))
        .body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const DHCP4: &str = "svc:/network/service/dhcp:ipv4";

#[test]
fn a_new_reservation_is_served_only_after_the_restart_the_agent_does() {
    // OmniOS's dhcpd reads its configuration at start and its refresh method is `:true`: the
    // emulated daemon records what it loaded, so this shows what a real guest would be given.
    let a = TestAgent::start();
    std::fs::write(
        a.host_path(&format!("root{DHCPD}")),
        "subnet 192.168.1.0 netmask 255.255.255.0 {\n  range 192.168.1.100 192.168.1.200;\n}\n",
    )
    .unwrap();
    completed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "start"})),
    );
    assert!(!served(&a).contains("web-01"));
    let t = completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "192.168.1.50"}),
        ),
    );
    assert!(served(&a).contains("host web-01 {"), "{}", served(&a));
    assert!(
        output(&a, &t)
            .iter()
            .any(|l| l.starts_with(&format!("svcadm restart {DHCP4}"))),
        "the task output names the restart: {:?}",
        output(&a, &t)
    );
    // A new listen interface: set, refreshed into the running snapshot, then restarted.
    let t = completed(
        &a,
        put(
            &a,
            "/network/dhcp/config",
            json!({"subnet": "192.168.1.0", "netmask": "255.255.255.0", "router": "192.168.1.1",
                "range_start": "192.168.1.100", "range_end": "192.168.1.200", "listen_interface": "igb0"}),
        ),
    );
    assert_eq!(dump(&a)["dhcpd"][DHCP4]["listen_ifnames"], json!(["igb0"]));
    let v = argvs(&a);
    let at = |want: &[&str]| {
        v.iter()
            .rposition(|x| x[..] == *want)
            .unwrap_or_else(|| panic!("{want:?} not run: {v:?}"))
    };
    let set = at(&[
        "svccfg",
        "-s",
        DHCP4,
        "setprop",
        "config/listen_ifnames",
        "=",
        "astring:",
        "(",
        "\"igb0\"",
        ")",
    ]);
    let refresh = at(&["svcadm", "refresh", DHCP4]);
    let restart = at(&["svcadm", "restart", DHCP4]);
    assert!(set < refresh && refresh < restart, "{v:?}");
    assert!(output(&a, &t)
        .iter()
        .any(|l| l.starts_with("svcadm restart")));
    // The API's "refresh" (the spec's "reload configuration") makes dhcpd read a file an
    // administrator edited by hand: a bare svcadm refresh would not.
    let edited = format!("{}# edited by hand\n", file(&a, DHCPD).unwrap());
    std::fs::write(a.host_path(&format!("root{DHCPD}")), &edited).unwrap();
    completed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "refresh"})),
    );
    assert_eq!(served(&a), edited);
}

/// What an administrator adds to `/etc/zoneweaver-agent/privileged-paths` so that the agent
/// may replace other files than the default ones.
fn allow_files(a: &TestAgent, files: &[&str]) {
    use std::io::Write;
    let mut policy = std::fs::OpenOptions::new()
        .append(true)
        .open(a.host_path("root/etc/zoneweaver-agent/privileged-paths"))
        .unwrap();
    for f in files {
        writeln!(policy, "file {f}").unwrap();
    }
}

#[test]
fn the_files_are_the_ones_the_services_name_now() {
    let a = TestAgent::start();
    let sim = |tool: &str, args: &[&str]| crate::support::host(&a, tool, args);
    // An administrator repoints both services (and refreshes them, as svccfg requires), and
    // lets the agent's privileged writer replace the new files.
    allow_files(&a, &["/etc/site/dhcpd.conf", "/etc/site/ipnat.conf"]);
    std::fs::create_dir_all(a.host_path("root/etc/site")).unwrap();
    std::fs::write(
        a.host_path("root/etc/site/dhcpd.conf"),
        "subnet 192.168.1.0 netmask 255.255.255.0 {\n}\n",
    )
    .unwrap();
    std::fs::write(
        a.host_path("root/etc/site/dhcpd.leases"),
        "lease 192.168.1.60 {\n  binding state active;\n  hardware ethernet 2:8:20:ab:cd:9;\n}\n",
    )
    .unwrap();
    std::fs::write(a.host_path("root/etc/site/ipnat.conf"), "").unwrap();
    for (fmri, prop, value) in [
        (DHCP4, "config/config_file", "/etc/site/dhcpd.conf"),
        (DHCP4, "config/lease_file", "/etc/site/dhcpd.leases"),
        (
            "svc:/network/ipfilter:default",
            "config/ipnat_config_file",
            "/etc/site/ipnat.conf",
        ),
    ] {
        sim(
            "svccfg",
            &[
                "-s",
                fmri,
                "setprop",
                prop,
                "=",
                "astring:",
                &format!("\"{value}\""),
            ],
        );
        sim("svcadm", &["refresh", fmri]);
    }
    assert_eq!(
        a.get("/network/dhcp/config").body["config_path"],
        "/etc/site/dhcpd.conf"
    );
    assert_eq!(
        a.get("/network/dhcp/leases").body["leases"][0]["ip"],
        "192.168.1.60"
    );
    assert_eq!(
        a.get("/network/dhcp/leases").body["leases_path"],
        "/etc/site/dhcpd.leases"
    );
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "192.168.1.50"}),
        ),
    );
    assert!(file(&a, "/etc/site/dhcpd.conf")
        .unwrap()
        .contains("host web-01 {"));
    assert_eq!(file(&a, DHCPD), None, "the default path is not written");
    completed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.1.0.0/24"}),
        ),
    );
    assert!(file(&a, "/etc/site/ipnat.conf")
        .unwrap()
        .contains("map igb0 10.1.0.0/24"));
    assert_eq!(file(&a, IPNAT).unwrap(), "");
    assert_eq!(
        a.get("/network/nat/rules").body["config_path"],
        "/etc/site/ipnat.conf"
    );
    // ipfilter's own load took the rules from the file it names.
    let active = a.get("/network/nat/status").body["active_rules"].clone();
    assert!(active.to_string().contains("10.1.0.0/24"), "{active}");
}

#[test]
fn config_yaml_can_still_name_the_files() {
    let a = TestAgent::start_with(
        "network:\n  dhcp_config_path: /etc/site-dhcpd.conf\n  ipnat_config_path: /etc/site-ipnat.conf\n",
    );
    allow_files(&a, &["/etc/site-dhcpd.conf", "/etc/site-ipnat.conf"]);
    std::fs::write(
        a.host_path("root/etc/site-dhcpd.conf"),
        "subnet 192.168.1.0 netmask 255.255.255.0 {\n}\n",
    )
    .unwrap();
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "192.168.1.50"}),
        ),
    );
    assert!(file(&a, "/etc/site-dhcpd.conf")
        .unwrap()
        .contains("host web-01 {"));
    assert_eq!(
        a.get("/network/nat/rules").body["config_path"],
        "/etc/site-ipnat.conf"
    );
    assert!(!argvs(&a).iter().any(|v| v[0] == "svcprop"
        && (v[2] == "config/config_file" || v[2] == "config/ipnat_config_file")));
}

#[test]
fn a_nat_listing_that_differs_is_a_warning_not_a_failure() {
    // §1.13: the text of `ipnat -l` on a current host is unverified: the check is advice. Here
    // ipnat -l answers (exit 0) with an empty listing.
    let a = TestAgent::start();
    set_faults(
        &a,
        r#"{"tool":"ipnat","prefix":["-l"],"action":"fail","exit":0,"stdout":"List of active MAP/Redirect filters:\n\nList of active sessions:\n"}"#,
    );
    let t = completed(
        &a,
        a.post(
            "/network/nat/rules",
            json!({"bridge": "igb0", "subnet": "10.1.0.0/24"}),
        ),
    );
    assert!(file(&a, IPNAT).unwrap().contains("map igb0 10.1.0.0/24"));
    assert!(
        output(&a, &t).iter().any(
            |l| l.starts_with("warning: ipnat -l does not show the rules map igb0 10.1.0.0/24")
        ),
        "{:?}",
        output(&a, &t)
    );
}

// ---------------------------------------------------------------------------------------------
// Injection corpus: every field of every writing endpoint, hostile values, 400, files and host
// untouched, no command run.

// ---------------------------------------------------------------------------------------------
// The provisioning network.

fn actions(t: &Value) -> Vec<(String, String)> {
    t["result"]["actions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn provisioning_setup_is_idempotent_and_teardown_undoes_it() {
    let a = TestAgent::start();
    let s = a.get("/provisioning/network/status");
    assert_eq!(s.body["configured"], false);

    let components = json!({"etherstub": "estub_provision0", "host_vnic": "provision_interconnect0",
        "host_ip": "10.190.190.1/24", "physical_interface": "igb0",
        "nat_rule": "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto",
        "dhcp_subnet": "10.190.190.0/24", "dhcp_range": "10.190.190.10 - 10.190.190.254"});
    // The 202 already says what the setup is going to make, as the network guide shows it.
    let accepted = a.post("/provisioning/network/setup", json!({}));
    assert_eq!(
        accepted.body["components"], components,
        "{:#}",
        accepted.body
    );
    let t = completed(&a, accepted);
    assert_eq!(t["result"]["components"], components);
    for (k, v) in actions(&t) {
        if k != "physical_interface" {
            assert!(v == "created" || v == "updated", "{k}: {v}");
        }
    }
    let s = a.get("/provisioning/network/status");
    assert_eq!(s.body["configured"], true, "{:#}", s.body);
    assert_eq!(
        s.body["components"]["host_vnic"],
        json!({"name": "provision_interconnect0", "exists": true, "ip": "10.190.190.1/24"})
    );
    assert_eq!(
        s.body["components"]["nat"]["rule"],
        "map igb0 10.190.190.0/24 -> 0/32 portmap tcp/udp auto"
    );
    assert_eq!(
        s.body["components"]["dhcp"],
        json!({"configured": true, "service_enabled": true, "subnet": "10.190.190.0/24"})
    );
    assert_eq!(s.body["components"]["forwarding"]["global_enabled"], true);
    let ifs = s.body["components"]["forwarding"]["interfaces"]
        .as_array()
        .unwrap();
    assert!(ifs.contains(&json!("igb0")) && ifs.contains(&json!("provision_interconnect0")));
    // The spec's DHCP view now reads back the same subnet, listening on the host VNIC.
    let c = a.get("/network/dhcp/config").body;
    assert_eq!(c["config"]["listen_interface"], "provision_interconnect0");
    assert_eq!(c["config"]["router"], "10.190.190.1");
    assert_eq!(c["service_enabled"], true);

    // Again: nothing changes, no mutating command runs.
    let host_before = dump(&a);
    let n = a.invocations().len();
    let t = completed(&a, a.post("/provisioning/network/setup", json!({})));
    assert!(
        actions(&t).iter().all(|(_, v)| v == "unchanged"),
        "{:?}",
        actions(&t)
    );
    let mutating: Vec<Vec<String>> = argvs(&a)[n..]
        .iter()
        .filter(|v| is_mutating(v))
        .cloned()
        .collect();
    assert!(mutating.is_empty(), "{mutating:?}");
    assert_eq!(dump(&a), host_before);

    // A zone configured with a NIC on the etherstub (created when it boots) blocks teardown.
    let zc = Command::new(a.host.join("bin/zonecfg"))
        .args(["-z", "web01", "create -b; set zonepath=/rpool/zones/web01; set brand=bhyve; set ip-type=exclusive; add net; set physical=web01_prov0; set global-nic=estub_provision0; end"])
        .output()
        .unwrap();
    assert!(
        zc.status.success(),
        "{}",
        String::from_utf8_lossy(&zc.stderr)
    );
    let r = a.delete("/provisioning/network/teardown");
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("zone web01"),
        "{:?}",
        r.body
    );
    let zc = Command::new(a.host.join("bin/zonecfg"))
        .args(["-z", "web01", "delete", "-F"])
        .output()
        .unwrap();
    assert!(
        zc.status.success(),
        "{}",
        String::from_utf8_lossy(&zc.stderr)
    );
    // A zone NIC on the etherstub blocks teardown, naming it.
    completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "web01_prov0", "link": "estub_provision0"}),
        ),
    );
    let r = a.delete("/provisioning/network/teardown");
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("web01_prov0"));
    // A host entry in another subnet survives teardown; one inside goes with its subnet.
    completed(
        &a,
        put(
            &a,
            "/network/dhcp/config",
            json!({"subnet": "192.168.1.0", "netmask": "255.255.255.0", "router": "192.168.1.1", "range_start": "192.168.1.100", "range_end": "192.168.1.200"}),
        ),
    );
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "other", "mac": "02:08:20:00:00:01", "ip": "192.168.1.50"}),
        ),
    );
    completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "prov", "mac": "02:08:20:00:00:02", "ip": "10.190.190.50"}),
        ),
    );
    completed(&a, a.delete("/provisioning/network/teardown?force=true"));
    let s = a.get("/provisioning/network/status").body;
    assert_eq!(s["configured"], false);
    assert_eq!(s["components"]["etherstub"]["exists"], false);
    assert_eq!(s["components"]["host_vnic"]["exists"], false);
    assert_eq!(s["components"]["nat"]["configured"], false);
    assert_eq!(s["components"]["dhcp"]["configured"], false);
    // Started by setup and listening on the VNIC alone: stopped.
    assert_eq!(s["components"]["dhcp"]["service_enabled"], false);
    let text = file(&a, DHCPD).unwrap();
    assert!(
        !text.contains("10.190.190.") && text.contains("host other"),
        "{text}"
    );
    assert_eq!(file(&a, IPNAT).unwrap(), "");
    assert_eq!(a.get("/network/vnics").body["total"], 0);
    // Teardown of nothing is fine too.
    completed(&a, a.delete("/provisioning/network/teardown"));
}

/// The configuration the emulated dhcpd loaded at its last start.
fn served(a: &TestAgent) -> String {
    dump(a)["dhcpd"][DHCP4]["config"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The interfaces the DHCP service's start method would pass dhcpd (`config/listen_ifnames`
/// as the emulated `svcprop` prints it; none is every interface).
fn listening(a: &TestAgent) -> Vec<String> {
    crate::support::host(a, "svcprop", &["-p", "config/listen_ifnames", DHCP4])
        .split_whitespace()
        .filter(|v| *v != "\"\"")
        .map(str::to_owned)
        .collect()
}

/// A dhcpd the admin runs for the site's own network goes on serving it: setup adds the
/// provisioning VNIC to the interfaces it listens on (or leaves it listening everywhere), and
/// teardown takes only that VNIC and its subnet away. One that was not running is started on
/// the VNIC alone, as before.
#[test]
fn provisioning_keeps_the_interfaces_dhcpd_already_serves() {
    let a = TestAgent::start();
    let site = json!({"subnet": "192.168.1.0", "netmask": "255.255.255.0", "router": "192.168.1.1",
        "range_start": "192.168.1.100", "range_end": "192.168.1.200", "listen_interface": "igb0"});
    completed(&a, put(&a, "/network/dhcp/config", site.clone()));
    completed(
        &a,
        put(&a, "/network/dhcp/status", json!({"action": "start"})),
    );
    assert_eq!(listening(&a), ["igb0"]);
    completed(&a, a.post("/provisioning/network/setup", json!({})));
    assert_eq!(listening(&a), ["igb0", "provision_interconnect0"]);
    let text = file(&a, DHCPD).unwrap();
    assert!(
        text.contains("subnet 192.168.1.0 ") && text.contains("subnet 10.190.190.0 "),
        "{text}"
    );
    completed(&a, a.delete("/provisioning/network/teardown"));
    assert_eq!(listening(&a), ["igb0"]);
    assert!(file(&a, DHCPD).unwrap().contains("subnet 192.168.1.0 "));
    // The server goes on serving the site, without the provisioning subnet.
    let s = a.get("/provisioning/network/status").body;
    assert_eq!(s["components"]["dhcp"]["service_enabled"], true);
    assert!(!served(&a).contains("10.190.190."), "{}", served(&a));

    // Listening everywhere (the package's default) with the site's subnet declared: setup
    // leaves the list alone, so dhcpd keeps serving the site.
    let b = TestAgent::start();
    let mut everywhere = site;
    everywhere
        .as_object_mut()
        .unwrap()
        .remove("listen_interface");
    completed(&b, put(&b, "/network/dhcp/config", everywhere.clone()));
    completed(
        &b,
        put(&b, "/network/dhcp/status", json!({"action": "start"})),
    );
    completed(&b, b.post("/provisioning/network/setup", json!({})));
    assert_eq!(listening(&b), Vec::<String>::new());
    completed(&b, b.delete("/provisioning/network/teardown"));
    assert_eq!(listening(&b), Vec::<String>::new());
    assert!(!served(&b).contains("10.190.190."), "{}", served(&b));
    assert_eq!(
        b.get("/provisioning/network/status").body["components"]["dhcp"]["service_enabled"],
        true
    );
    // Not running, even with the site's subnet declared: started on the VNIC alone (the
    // spec's check), and stopped again by teardown.
    let c = TestAgent::start();
    completed(&c, put(&c, "/network/dhcp/config", everywhere));
    completed(&c, c.post("/provisioning/network/setup", json!({})));
    assert_eq!(listening(&c), ["provision_interconnect0"]);
    completed(&c, c.delete("/provisioning/network/teardown"));
    assert_eq!(
        c.get("/provisioning/network/status").body["components"]["dhcp"]["service_enabled"],
        false
    );
}

#[test]
fn concurrent_setups_do_the_work_once() {
    let a = TestAgent::start();
    let (r1, r2) = std::thread::scope(|s| {
        let h1 = s.spawn(|| a.post("/provisioning/network/setup", json!({})));
        let h2 = s.spawn(|| a.post("/provisioning/network/setup", json!({})));
        (h1.join().unwrap(), h2.join().unwrap())
    });
    let (t1, t2) = (completed(&a, r1), completed(&a, r2));
    let creates = argvs(&a)
        .iter()
        .filter(|v| v[0] == "dladm" && v[1] == "create-etherstub")
        .count();
    assert_eq!(creates, 1);
    if t1["id"] != t2["id"] {
        let second = if t1["completed_at"].as_str() < t2["completed_at"].as_str() {
            &t2
        } else {
            &t1
        };
        assert!(actions(second).iter().all(|(_, v)| v == "unchanged"));
    }
}

#[test]
fn a_setup_that_fails_late_leaves_the_host_as_it_was() {
    let a = TestAgent::start();
    let before = dump(&a);
    set_faults(
        &a,
        r#"{"tool":"svcadm","prefix":["enable","-s"],"contains":"dhcp","action":"fail","exit":3,"stderr":"svcadm: Instance \"svc:/network/service/dhcp:ipv4\" is in maintenance state."}"#,
    );
    let t = failed(&a, a.post("/provisioning/network/setup", json!({})));
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("svc:/network/service/dhcp:ipv4"),
        "{t}"
    );
    let after = dump(&a);
    assert_eq!(after, before, "undo left the host changed");
}

#[test]
fn a_disabled_provisioning_network_cannot_be_set_up() {
    let a = TestAgent::start_with("provisioning:\n  network:\n    enabled: false\n");
    assert_eq!(a.post("/provisioning/network/setup", json!({})).status, 409);
}

#[test]
fn an_inconsistent_provisioning_config_is_refused_naming_the_key() {
    let a = TestAgent::start_with("provisioning:\n  network:\n    subnet: 10.1.2.0/24\n");
    let r = a.post("/provisioning/network/setup", json!({}));
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("provisioning.network.host_ip"));
    assert!(a.invocations().is_empty() || argvs(&a).iter().all(|v| !is_mutating(v)));
}

#[path = "network_dhcpd.rs"]
mod dhcpd_e2e;

/// A listing whose file the service cannot name reads as any host failure does: a 502
/// `host-command-failed` saying what is missing and where to name it (it was a 500 with the
/// cause only in the log).
#[test]
fn a_listing_whose_service_cannot_name_its_file_is_a_502_saying_so() {
    let agent = TestAgent::start();
    std::fs::write(
        agent.host.join("faults"),
        r#"{"tool":"svcprop","action":"fail","exit":1,"stderr":"svcprop: Couldn't find property group `config' for instance `svc:/network/ipfilter:default'."}"#,
    )
    .unwrap();
    for path in ["/network/nat/rules", "/network/dhcp/hosts"] {
        let r = agent.get(path);
        assert_eq!(r.status, 502, "{path}: {:?}", r.body);
        assert_eq!(r.body["code"], "host-command-failed", "{path}");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains("cannot tell where"), "{path}: {message}");
        assert!(message.contains("in config.yaml"), "{path}: {message}");
    }
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    assert_eq!(agent.get("/network/nat/rules").status, 200);
}

/// A running zone holds its VNIC on the etherstub, and `dladm delete-vnic` refuses a busy link:
/// a forced teardown is refused (409, naming the zone) with nothing changed, instead of failing
/// halfway through; once the zone is halted it deletes the zone's VNIC with the rest.
#[test]
fn a_forced_teardown_waits_for_running_zones_on_the_etherstub() {
    use crate::support::host;
    let a = TestAgent::start();
    completed(&a, a.post("/provisioning/network/setup", json!({})));
    // Made ahead (not on demand at boot), so it outlives the zone's halt.
    completed(
        &a,
        a.post(
            "/network/vnics",
            json!({"name": "web02_prov0", "link": "estub_provision0"}),
        ),
    );
    host(
        &a,
        "zonecfg",
        &["-z", "web02", "create -b; set zonepath=/rpool/zones/web02; set brand=bhyve; set ip-type=exclusive; add net; set physical=web02_prov0; end"],
    );
    host(&a, "zoneadm", &["-z", "web02", "install"]);
    host(&a, "zoneadm", &["-z", "web02", "boot"]);
    assert!(
        host(&a, "dladm", &["show-vnic", "-p", "-o", "link,zone"]).contains("web02_prov0:web02"),
        "the booted zone holds its VNIC"
    );
    let before = dump(&a);
    let r = a.delete("/provisioning/network/teardown?force=true");
    assert_eq!(r.status, 409, "{:?}", r.body);
    let why = r.body["error"].as_str().unwrap();
    assert!(
        why.contains("web02_prov0") && why.contains("zone web02") && why.contains("halt"),
        "{why}"
    );
    assert_eq!(dump(&a), before, "nothing on the host changed");
    host(&a, "zoneadm", &["-z", "web02", "halt"]);
    assert!(
        host(&a, "dladm", &["show-vnic", "-p", "-o", "link"]).contains("web02_prov0"),
        "the halted zone's VNIC is still there for the teardown to delete"
    );
    // Without force, the task itself refuses it before changing anything.
    let r = a.delete("/provisioning/network/teardown");
    assert_eq!(r.status, 409, "{:?}", r.body);
    completed(&a, a.delete("/provisioning/network/teardown?force=true"));
    let s = a.get("/provisioning/network/status").body;
    assert_eq!(s["configured"], false, "{s}");
    assert!(!host(&a, "dladm", &["show-vnic", "-p", "-o", "link"]).contains("web02_prov0"));
}
