//! The Zoneweaver web UI's contract: the agent answers the calls the UI makes, as it makes
//! them, with the keys it reads.

use serde_json::{json, Value};

use crate::support::TestAgent;

/// The UI's backend keeps only an error body's `message` (it replaces the body with
/// `{success: false, message}`), so every refusal carries it beside `error` and `code`,
/// including the ones axum answers by itself (405, an undecodable path parameter).
#[test]
fn every_error_answer_carries_message_beside_error_and_code() {
    let agent = TestAgent::start();
    let no_key = agent.request("GET", "/zones", None, None);
    let cases = [
        ("no key", no_key),
        ("unknown route", agent.get("/no/such/route")),
        (
            "wrong method",
            agent.request("PATCH", "/zones", Some(&agent.key), None),
        ),
        ("bad path encoding", agent.get("/zones/%FF%FE")),
        (
            "unknown body key",
            agent.post("/zones/z1/start", json!({"bogus": 1})),
        ),
        ("missing zone", agent.get("/zones/nosuchzone")),
        ("bad query value", agent.get("/tasks?limit=many")),
    ];
    for (what, r) in cases {
        assert!(r.status >= 400, "{what}: {} {:?}", r.status, r.body);
        let message = r.body["message"].as_str();
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "{what}: no message in {:?}",
            r.body
        );
        assert_eq!(r.body["error"].as_str(), message, "{what}: {:?}", r.body);
        assert!(r.body["code"].is_string(), "{what}: {:?}", r.body);
        assert_eq!(
            r.body["success"],
            Value::Bool(false),
            "{what}: {:?}",
            r.body
        );
    }
}

/// The UI's calls in scope, copied from its call inventory (the file's `_source` says from
/// where): method, path, the query and body keys it sends, the keys it reads.
const CALLS: &str = include_str!("data/zoneweaver-ui-calls.json");

/// Calls whose routes other work adds (network views, monitoring, services and host power,
/// devices, swap, ARC). Each must still FAIL here: a listed call that passes fails the test,
/// so the list only shrinks as those routes arrive.
const NOT_YET_SERVED: &[&str] = &[];

/// Routes that exist but do not yet answer as the UI calls them. Like [`NOT_YET_SERVED`],
/// each must still fail, so the list only shrinks.
const KNOWN_GAPS: &[&str] = &[];

/// Keys the UI reads that this agent answers in another shape on purpose (call, key prefix),
/// and why; the rest of each call's keys are checked.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // An etherstub's `vnics` stays a list of VNIC names (this agent's documented answer,
    // which its CLI and clients read); the UI's details modal reads objects there
    // (`{link, name, over, zone, state}`) and shows those cells blank. `GET
    // /network/vnics?over=STUB` has the rows.
    ("GET /network/etherstubs/{etherstub}", "vnics[]."),
    // `details` is the UI's own wrapper (`{...row, details: answer}`), not a key of the
    // answer (VnicManagement.jsx, VlanManagement.jsx).
    ("GET /network/vnics/{vnic}", "details"),
    ("GET /network/vlans/{vlan}", "details"),
];

/// Calls the agent answers on purpose with a refusal, and why (the UI shows the message).
const DECLINED: &[(&str, u16)] = &[
    // The agent never takes zone boot over from svc:/system/zones (zones/orchestration.rs).
    ("POST /zones/orchestration/enable", 409),
    ("POST /zones/orchestration/disable", 409),
];

/// Keys the UI reads that exist only when a zone sets them (zonecfg attributes the fixture
/// zone has no reason to set), so their absence here is no failure.
const PER_ZONE: &[&str] = &[
    "configuration.type",
    "configuration.uefivars",
    "configuration.rng",
    "configuration.cloud-init",
    "configuration.vnc.port",
    "configuration.hostbridge",
    // Not a zonecfg net property on illumos (the original read it from elsewhere).
    "configuration.net[].mac-addr-type",
];

/// Arrays the UI reads that may be empty here (so the keys of their elements go unchecked).
const MAY_BE_EMPTY: &[&str] = &["configuration.disk"];

#[derive(Debug)]
struct Call {
    method: String,
    path: String,
    query: Vec<String>,
    body: Vec<String>,
    reads: Vec<String>,
}

impl Call {
    fn id(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn calls() -> Vec<Call> {
    let v: Value = serde_json::from_str(CALLS).unwrap();
    let strings = |c: &Value, k: &str| -> Vec<String> {
        c[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    v["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Call {
            method: c["method"].as_str().unwrap().to_owned(),
            path: c["path"].as_str().unwrap().to_owned(),
            query: strings(c, "query"),
            body: strings(c, "body"),
            reads: strings(c, "reads"),
        })
        .collect()
}

/// The names the replay works on: made before it (`ui-vm`, `uistub0`, `uivnic0`, the VLAN
/// `uivlan0`, the address `igb0/uifix`, `uiaggr0`, `uibridge`) or by the UI's own create calls
/// (`uistub1`, `uivnic1`, `uivlan1`, `uiaggr1`, `uilab`), which its delete calls then remove.
struct Fixture {
    task: String,
}

fn path_of(call: &Call, f: &Fixture) -> String {
    let deleting = call.method == "DELETE";
    call.path
        .replace("{zoneName}", "ui-vm")
        .replace("{taskId}", &f.task)
        .replace("{etherstub}", if deleting { "uistub1" } else { "uistub0" })
        .replace("{vnic}", if deleting { "uivnic1" } else { "uivnic0" })
        .replace("{addrobj}", "igb0%2Fui")
        .replace("{aggregate}", if deleting { "uiaggr1" } else { "uiaggr0" })
        .replace("{bridge}", if deleting { "uilab" } else { "uibridge" })
        .replace("{vlan}", if deleting { "uivlan1" } else { "uivlan0" })
        .replace("{fmri}", "svc%3A%2Fnetwork%2Fssh%3Adefault")
}

/// A plausible value for a key the UI sends, as it sends it.
fn value_of(call: &Call, key: &str, since: &str) -> Value {
    let s = |v: &str| Value::String(v.to_owned());
    match key {
        "created_by" => s("admin"),
        "temporary" | "extended" | "primary" | "down" | "release" | "apply_immediately"
        | "per_interface" | "per_pool" | "per_device" | "include_cores" | "lacp" | "show_links"
        | "show_forwarding" | "all" | "prefetch_disable" => json!(false),
        // The halt dialog's acknowledgement; the original's dhcp wait in seconds (default 30).
        "emergency" => json!(true),
        "wait" => json!(30),
        // A bridge's delete detaches the link its create attached.
        "force" => json!(call.path.ends_with("/stop") || call.path.starts_with("/network/bridges")),
        "confirm" => json!(true),
        "show_vnics" => json!(true),
        "limit" => json!(50),
        "min_priority" => json!(0),
        "since" => s(since),
        "name" if call.path == "/network/etherstubs" && call.method == "GET" => s("uistub0"),
        "name" if call.path == "/network/etherstubs" => s("uistub1"),
        "name" if call.path == "/network/vnics" => s("uivnic1"),
        "name" if call.path == "/network/bridges" && call.method == "GET" => s("uibridge"),
        "name" if call.path == "/network/bridges" => s("uilab"),
        "name" if call.path == "/network/vlans" => s("uivlan1"),
        "name" if call.path == "/network/aggregates" => s("uiaggr1"),
        "link" if call.path == "/network/vnics" => s("uistub0"),
        // The fixture's VNIC is over the fixture's etherstub, in the global zone (a zone's
        // VNIC shows its zone only while the zone runs).
        "over" if call.path == "/network/vnics" => s("uistub0"),
        "zone" if call.path == "/network/vnics" => s("global"),
        "link" | "over" | "interface" => s("igb0"),
        // The spare NICs: igb1 is the fixture aggregation's port, igb2 free for the UI's.
        "links" if call.path == "/network/aggregates" => json!(["igb2"]),
        "links" => json!(["igb0"]),
        "zone" => s("ui-vm"),
        // ipadm's address states are ok, disabled, ...; the links' are up, down, unknown.
        "state" if call.path == "/network/addresses" => s("ok"),
        "state" => s("up"),
        "strategy" => s("parallel_by_priority"),
        // The fixture's VLAN has VID 12 (the list's filter); the UI's create makes another.
        "vid" if call.method == "POST" => json!(13),
        "vlan_id" | "vid" => json!(12),
        "mac_address" => s("auto"),
        "properties" => json!({}),
        "ip_version" => s("v4"),
        "type" => s("static"),
        "addrobj" => s("igb0/ui"),
        "address" => s("192.168.1.50/24"),
        "policy" => s("L4"),
        "lacp_mode" => s("off"),
        "lacp_timer" => s("short"),
        "unicast_address" => s("auto"),
        "protection" => s("stp"),
        "priority" => json!(32768),
        "max_age" => json!(20),
        "hello_time" => json!(2),
        "forward_delay" => json!(15),
        "force_protocol" => json!(3),
        "hostname" => s("ui-host"),
        "action" => s("refresh"),
        "fmri" => s("svc%3A%2Fnetwork%2Fssh%3Adefault"),
        "options" => json!({}),
        "pattern" => s("ssh"),
        "apply_method" => s("runtime"),
        "arc_max_gb" => json!(4),
        "arc_min_gb" => json!(1),
        "arc_max_percent" => json!(50),
        "user_reserve_hint_pct" => json!(0),
        "arc_meta_limit_gb" => json!(1),
        "arc_meta_min_gb" => json!(0),
        "vdev_max_pending" => json!(10),
        "grace_period" => json!(60),
        "message" => s("maintenance"),
        "boot_environment" => s("omnios"),
        other => panic!(
            "no plausible value for the UI's key {other} ({})",
            call.id()
        ),
    }
}

fn query_string(call: &Call, since: &str) -> String {
    let mut parts = Vec::new();
    for k in &call.query {
        if k.starts_with('(') {
            continue; // "(filters passthrough)": the UI sends none by default
        }
        if call.path == "/tasks" && k == "parent_task_id" {
            continue; // a call of its own (a group's children, limit=100): sent after
        }
        let v = match value_of(call, k, since) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let v: String = url_escape(&v);
        parts.push(format!("{k}={v}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'%' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The key paths a read names: `a[].{b,c}` is `a[].b` and `a[].c`; `metadata (JSON string)`
/// is `metadata`; `(success/message only)` is `success` and `message`; other parenthesised
/// descriptions name no key.
fn key_paths(read: &str) -> Vec<String> {
    if read.starts_with("(success/message") {
        return vec!["success".into(), "message".into()];
    }
    if read.starts_with('(') {
        return Vec::new();
    }
    let read = read.split(" (").next().unwrap().trim();
    match (read.find(".{"), read.strip_suffix('}')) {
        (Some(i), Some(_)) => read[i + 2..read.len() - 1]
            .split(',')
            .map(|k| format!("{}.{}", &read[..i], k.trim()))
            .collect(),
        _ => vec![read.to_owned()],
    }
}

/// Whether `path` (dotted, `[]` for every element of an array) is present in `v`. An empty
/// array is an error unless the path to it is in [`MAY_BE_EMPTY`].
fn check_key(v: &Value, path: &str) -> Result<(), String> {
    fn walk(v: &Value, parts: &[&str], done: &str) -> Result<(), String> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(());
        };
        // `a.*`: every entry of the object `a` (which may not be empty).
        if *first == "*" {
            let o = v
                .as_object()
                .filter(|o| !o.is_empty())
                .ok_or_else(|| format!("{done} is not an object with entries"))?;
            return o
                .iter()
                .try_for_each(|(k, c)| walk(c, rest, &format!("{done}.{k}")));
        }
        let (key, each) = match first.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (*first, false),
        };
        let here = if done.is_empty() {
            key.to_owned()
        } else {
            format!("{done}.{key}")
        };
        let child = v
            .as_object()
            .and_then(|o| o.get(key))
            .ok_or_else(|| format!("{here} missing"))?;
        if !each {
            return walk(child, rest, &here);
        }
        let items = child
            .as_array()
            .ok_or_else(|| format!("{here} is not an array"))?;
        if items.is_empty() && !rest.is_empty() && !MAY_BE_EMPTY.contains(&here.as_str()) {
            return Err(format!(
                "{here} is empty: its elements' keys cannot be checked"
            ));
        }
        items.iter().try_for_each(|i| walk(i, rest, &here))
    }
    let parts: Vec<&str> = path.split('.').collect();
    walk(v, &parts, "")
}

/// Sends one call as the UI does; `Ok` when it answered a success and had every key the UI
/// reads, `Err` saying what was wrong.
fn replay(agent: &TestAgent, call: &Call, f: &Fixture, since: &str) -> Result<Value, String> {
    let path = format!("{}{}", path_of(call, f), query_string(call, since));
    let body = (!call.body.is_empty()).then(|| {
        Value::Object(
            call.body
                .iter()
                .map(|k| (k.clone(), value_of(call, k, since)))
                .collect(),
        )
    });
    let r = agent.request(&call.method, &path, Some(&agent.key), body.as_ref());
    if !(200..300).contains(&r.status) {
        return Err(format!("{path}: {} {}", r.status, r.body));
    }
    if let Some(id) = r.body["task_id"].as_str().filter(|_| r.status == 202) {
        let t = agent.wait(id);
        if t["status"] != "completed" {
            return Err(format!(
                "{path}: task {} {}",
                t["status"], t["error_message"]
            ));
        }
    }
    for read in &call.reads {
        for key in key_paths(read) {
            if PER_ZONE.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let id = call.id();
            if KNOWN_DIFFERENCES
                .iter()
                .any(|(c, k)| *c == id && key.starts_with(k))
            {
                continue;
            }
            check_key(&r.body, &key).map_err(|e| format!("{path}: {e} in {}", r.body))?;
        }
    }
    Ok(r.body)
}

/// Order of the replay: reads first, then changes, then deletions; a zone is started before
/// it is stopped (the UI's restart boots a stopped zone as well).
fn phase(call: &Call) -> u8 {
    match call.method.as_str() {
        "GET" => 0,
        "DELETE" => 3,
        _ if call.path.ends_with("/stop") => 2,
        _ => 1,
    }
}

#[test]
fn the_ui_calls_in_scope_answer_with_the_keys_it_reads() {
    let agent = TestAgent::start();
    let ok = |r: crate::support::Response| {
        assert!((200..300).contains(&r.status), "{:?}", r.body);
        if let Some(id) = r.body["task_id"].as_str() {
            let t = agent.wait(id);
            assert_eq!(t["status"], "completed", "{t}");
        }
    };
    ok(agent.post("/network/etherstubs", json!({"name": "uistub0"})));
    ok(agent.post(
        "/network/vnics",
        json!({"name": "uivnic0", "link": "uistub0"}),
    ));
    // What the UI's address and VLAN lists filter for (interface igb0, static v4, state ok;
    // VID 12 over igb0, state up), so their rows' keys are checked.
    ok(agent.post(
        "/network/vlans",
        json!({"vid": 12, "link": "igb0", "name": "uivlan0"}),
    ));
    ok(agent.post(
        "/network/addresses",
        json!({"interface": "igb0", "type": "static", "addrobj": "igb0/uifix",
            "address": "192.168.1.60/24"}),
    ));
    ok(agent.post(
        "/zones",
        json!({"name": "ui-vm", "brand": "bhyve", "ram": "1G", "vcpus": "1", "bootrom": "BHYVE",
            "diskif": "virtio", "netif": "virtio", "acpi": "on", "xhci": "on", "vnc": "on",
            "boot_volume": {"create_new": true, "pool": "rpool", "dataset": "zones",
                "volume_name": "root", "size": "1G", "sparse": true},
            "nics": [{"physical": "uivm0", "global_nic": "uistub0"}],
            "created_by": "admin"}),
    ));
    ok(agent.post(
        "/network/aggregates",
        json!({"name": "uiaggr0", "links": ["igb1"]}),
    ));
    ok(agent.post("/network/bridges", json!({"name": "uibridge"})));
    let task = agent.noop(json!({"created_by": "admin"}));
    agent.wait(&task);
    let since = "2000-01-01T00:00:00.000Z";
    let f = Fixture { task };

    let mut calls = calls();
    assert_eq!(calls.len(), 75, "the inventory's in-scope rows");
    calls.sort_by_key(phase);
    let mut failures = Vec::new();
    let mut still_failing = Vec::new();
    for call in &calls {
        let id = call.id();
        let result = replay(&agent, call, &f, since);
        if let Some((_, status)) = DECLINED.iter().find(|(d, _)| *d == id) {
            let path = path_of(call, &f);
            let body = (!call.body.is_empty()).then(|| json!({"confirm": true}));
            let r = agent.request(&call.method, &path, Some(&agent.key), body.as_ref());
            assert_eq!(r.status, *status, "{id}: {:?}", r.body);
            assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
            continue;
        }
        let listed = NOT_YET_SERVED.contains(&id.as_str()) || KNOWN_GAPS.contains(&id.as_str());
        match (result, listed) {
            (Ok(_), true) => failures.push(format!(
                "{id} now passes: take it off NOT_YET_SERVED or KNOWN_GAPS"
            )),
            (Err(e), false) => failures.push(format!("{id}: {e}")),
            (Err(_), true) => still_failing.push(id),
            (Ok(_), false) => {}
        }
    }
    // The task poll as the UI's task drawer sends it for a pipeline's children.
    let r = agent.get(&format!("/tasks?parent_task_id={}&limit=100", f.task));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        still_failing.len(),
        NOT_YET_SERVED.len() + KNOWN_GAPS.len(),
        "{still_failing:?}"
    );
}

/// The UI's "kill" is `POST /zones/{name}/stop?force=true`: a halt, not a shutdown; and the
/// zone's autoboot priority shows in `/zones/priorities`.
#[test]
fn a_forced_stop_halts_and_priorities_group_autoboot_zones() {
    let agent = TestAgent::start();
    let r = agent.post(
        "/zones",
        json!({"name": "kill-me", "brand": "bhyve", "autoboot": true, "start_after_create": true}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let start = r.body["start_task_id"].as_str().unwrap().to_owned();
    assert_eq!(agent.wait(&start)["status"], "completed");
    let r = agent.request(
        "POST",
        "/zones/kill-me/stop?force=true",
        Some(&agent.key),
        None,
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["operation"], "zone_halt");
    assert_eq!(
        agent.wait(r.body["task_id"].as_str().unwrap())["status"],
        "completed"
    );
    let p = agent.get("/zones/priorities");
    assert_eq!(p.status, 200, "{:?}", p.body);
    assert_eq!(p.body["total_zones"], 1, "{:?}", p.body);
    assert_eq!(p.body["priority_groups"]["100"][0]["name"], "kill-me");
    assert_eq!(p.body["zones"][0]["priority"], 95);
    let s = agent.get("/zones/orchestration/status");
    assert_eq!(
        (&s.body["orchestration_enabled"], &s.body["controller"]),
        (&json!(false), &json!("system/zones")),
        "{:?}",
        s.body
    );
}
