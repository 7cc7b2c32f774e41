//! SMF services as the Zoneweaver UI drives them (`/services*`): the listing with its
//! filters, one instance's details, dependencies and processes, its properties, and actions
//! as tasks that change the emulated instance, with the agent's own and the lifeline services
//! refused.

use serde_json::{json, Value};

use crate::support::{host, TestAgent};

/// An API key of the given role.
pub fn key(agent: &TestAgent, role: &str) -> String {
    let out = agent.key_cmd(&[
        "keys",
        "create",
        "--name",
        &format!("k-{role}"),
        "--role",
        role,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The UI's `encodeURIComponent` of an FMRI.
fn encoded(fmri: &str) -> String {
    fmri.replace(':', "%3A").replace('/', "%2F")
}

fn state(agent: &TestAgent, fmri: &str) -> String {
    host(agent, "svcs", &["-H", "-o", "state", fmri])
        .trim()
        .to_owned()
}

fn fmris(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["fmri"].as_str().unwrap())
        .collect()
}

#[test]
fn the_listing_is_svcs_with_the_uis_filters() {
    let agent = TestAgent::start();
    let r = agent.get("/services");
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The keys the UI reads of each row.
    for row in r.body.as_array().unwrap() {
        for k in ["state", "stime", "fmri"] {
            assert!(row[k].is_string(), "{k} in {row}");
        }
    }
    let enabled = fmris(&r.body);
    assert!(enabled.contains(&"svc:/network/ssh:default"));
    // Disabled instances only with all=true (svcs -a).
    assert!(!enabled.contains(&"svc:/network/ntp:default"));
    let all = agent.get("/services?all=true");
    assert!(fmris(&all.body).contains(&"svc:/network/ntp:default"));
    let ntp = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["fmri"] == "svc:/network/ntp:default")
        .unwrap();
    assert_eq!(ntp["state"], "disabled");

    let ssh = agent.get("/services?pattern=ssh&all=false");
    assert_eq!(fmris(&ssh.body), ["svc:/network/ssh:default"]);
    let none = agent.get("/services?pattern=nosuchservice");
    assert_eq!((none.status, none.body.clone()), (200, json!([])));

    let bad = agent.get("/services?pattern=-a");
    assert_eq!(
        (bad.status, bad.body["field"].clone()),
        (400, json!("pattern")),
        "{:?}",
        bad.body
    );
    let unknown = agent.get("/services?colour=red");
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body["message"].as_str().unwrap().contains("colour"),
        "{:?}",
        unknown.body
    );
}

#[test]
fn details_carry_svcs_l_dependencies_dependents_and_processes() {
    let agent = TestAgent::start();
    let r = agent.get(&format!(
        "/services/{}",
        encoded("svc:/network/ssh:default")
    ));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = r.body;
    assert_eq!(d["fmri"], "svc:/network/ssh:default");
    assert_eq!(d["name"], "SSH server");
    assert_eq!(d["state"], "online");
    assert_eq!(d["enabled"], "true");
    assert!(d["logfile"]
        .as_str()
        .unwrap()
        .ends_with("network-ssh:default.log"));
    assert!(d["dependency"]
        .as_array()
        .unwrap()
        .contains(&json!("require_all/none svc:/network/loopback (online)")));
    let deps = fmris(&d["dependencies"]);
    assert!(deps.contains(&"svc:/network/loopback:default"), "{deps:?}");
    assert!(fmris(&d["dependents"]).is_empty());
    let procs = d["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{procs:?}");
    assert_eq!(procs[0]["command"], "sshd");
    assert!(procs[0]["pid"].as_u64().unwrap() > 0);
    // What the emulated host's svcs -p says, not a made-up figure.
    let p = host(
        &agent,
        "svcs",
        &["-H", "-p", "-o", "fmri", "svc:/network/ssh:default"],
    );
    assert!(p.contains(&procs[0]["pid"].to_string()), "{p}");

    let lo = agent.get(&format!(
        "/services/{}",
        encoded("svc:/network/loopback:default")
    ));
    assert!(fmris(&lo.body["dependents"]).contains(&"svc:/network/ssh:default"));

    let missing = agent.get(&format!(
        "/services/{}",
        encoded("svc:/site/nothing:default")
    ));
    assert_eq!(missing.status, 404, "{:?}", missing.body);
    assert_eq!(agent.get("/services/ssh").status, 400);
}

#[test]
fn properties_are_grouped_with_type_and_value() {
    let agent = TestAgent::start();
    let r = agent.get(&format!(
        "/services/{}/properties",
        encoded("svc:/network/ssh:default")
    ));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["config"]["port"],
        json!({"type": "count", "value": "22", "values": ["22"]})
    );
    assert_eq!(r.body["general"]["enabled"]["value"], "true");
    assert_eq!(r.body["restarter"]["state"]["value"], "online");
    let missing = agent.get(&format!(
        "/services/{}/properties",
        encoded("svc:/site/nothing:default")
    ));
    assert_eq!(missing.status, 404, "{:?}", missing.body);
}

#[test]
fn an_action_is_a_task_that_changes_the_instance() {
    let agent = TestAgent::start();
    let ntp = "svc:/network/ntp:default";
    assert_eq!(state(&agent, ntp), "disabled");
    // As the UI sends it: URL-encoded FMRI, created_by, empty options.
    let r = agent.post(
        "/services/action",
        json!({"fmri": encoded(ntp), "action": "enable", "created_by": "api", "options": {}}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["operation"], "service_enable");
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    agent.eventually("ntp online", || state(&agent, ntp), |s| s == "online");

    // temporary → svcadm disable -t: the persistent setting stays enabled.
    let r = agent.post(
        "/services/action",
        json!({"fmri": ntp, "action": "disable", "options": {"temporary": true}}),
    );
    assert_eq!(
        agent.wait(r.body["task_id"].as_str().unwrap())["status"],
        "completed"
    );
    assert_eq!(state(&agent, ntp), "disabled");
    let enabled = host(&agent, "svcprop", &["-p", "general/enabled", ntp]);
    assert_eq!(
        enabled.trim(),
        "true",
        "a temporary disable keeps the persistent setting"
    );
    let l = host(&agent, "svcs", &["-l", ntp]);
    assert!(l.contains("false (temporary)"), "{l}");
}

/// Makes the emulated host's service starts and restarts take `ms` (`offline*`, `online*`
/// until then), as a real host's take their own time.
fn slow_starts(agent: &TestAgent, ms: u64) {
    let out = std::process::Command::new(crate::support::sim_bin())
        .arg("config")
        .arg(&agent.host)
        .arg(format!("svc_start_ms={ms}"))
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// The instance's state as `svcs` shows it (`online*` while it restarts) and its contract.
fn shown(agent: &TestAgent, fmri: &str) -> (String, String) {
    let line = host(agent, "svcs", &["-H", "-o", "state,ctid", fmri]);
    let mut cols = line.split_whitespace().map(str::to_owned);
    (cols.next().unwrap(), cols.next().unwrap_or_default())
}

/// The task of a restart through the API, once it has ended.
fn restarted(agent: &TestAgent, fmri: &str) -> Value {
    let r = agent.post(
        "/services/action",
        json!({"fmri": fmri, "action": "restart"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap())
}

/// `svcadm restart` returns before svc.startd has stopped and started the instance: the task
/// ends once it runs again (on a new contract), not while it still shows `online*`, and says
/// the state it ended in.
#[test]
fn a_restart_ends_once_the_instance_runs_again() {
    let agent = TestAgent::start();
    let fmri = "svc:/network/ipfilter:default";
    host(&agent, "svcadm", &["enable", "-s", fmri]);
    let before = shown(&agent, fmri);
    assert_eq!(before.0, "online");
    // Long enough that a task ending at svcadm's return would be seen restarting below.
    slow_starts(&agent, 1500);
    let t = restarted(&agent, fmri);
    let after = shown(&agent, fmri);
    assert_eq!(t["status"], "completed", "{t:?}");
    assert_eq!(
        after.0, "online",
        "the task ended while the instance restarted"
    );
    assert_ne!(after.1, before.1, "restarted on a new contract");
    assert_eq!(t["result"]["state"], "online", "{t:?}");
}

/// A restart whose start fails puts the instance in maintenance a moment after `svcadm`
/// returned: the task fails and says so, rather than passing as done.
#[test]
fn a_restart_whose_start_fails_fails_the_task() {
    let agent = TestAgent::start();
    let fmri = "svc:/network/ipfilter:default";
    host(&agent, "svcadm", &["enable", "-s", fmri]);
    assert_eq!(state(&agent, fmri), "online");
    // An edit by hand that ipnat cannot load: the next start fails.
    std::fs::write(
        agent.host_path("root/etc/ipf/ipnat.conf"),
        "map igb0 this is not a rule\n",
    )
    .unwrap();
    slow_starts(&agent, 300);
    let t = restarted(&agent, fmri);
    assert_eq!(t["status"], "failed", "{t:?}");
    let why = t["error_message"].as_str().unwrap();
    assert!(why.contains("maintenance") && why.contains(fmri), "{t:?}");
    assert_eq!(state(&agent, fmri), "maintenance");
}

#[test]
fn refused_actions_say_why_and_queue_nothing() {
    let agent = TestAgent::start();
    let post = |body: Value| agent.post("/services/action", body);
    for (fmri, action) in [
        ("svc:/system/zoneweaver-agent:default", "restart"),
        ("svc:/system/zoneweaver-agent:default", "refresh"),
        ("svc:/network/ssh:default", "disable"),
        ("svc:/network/physical:default", "restart"),
    ] {
        let r = post(json!({"fmri": encoded(fmri), "action": action}));
        assert_eq!(r.status, 403, "{fmri} {action}: {:?}", r.body);
        assert_eq!(r.body["code"], "protected-service");
        assert!(
            r.body["message"].as_str().unwrap().contains(fmri),
            "{:?}",
            r.body
        );
    }
    assert_eq!(state(&agent, "svc:/network/ssh:default"), "online");
    // Refreshing ssh cuts no one off.
    assert_eq!(
        post(json!({"fmri": "svc:/network/ssh:default", "action": "refresh"})).status,
        202
    );

    let unknown = post(json!({"fmri": "svc:/site/nothing:default", "action": "enable"}));
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    let bad = post(json!({"fmri": "ntp", "action": "enable"}));
    assert_eq!(
        (bad.status, bad.body["field"].clone()),
        (400, json!("fmri"))
    );
    let verb = post(json!({"fmri": "svc:/network/ntp:default", "action": "explode"}));
    assert_eq!(
        (verb.status, verb.body["field"].clone()),
        (400, json!("action"))
    );
    let extra =
        post(json!({"fmri": "svc:/network/ntp:default", "action": "enable", "force": true}));
    assert_eq!(
        (extra.status, extra.body["field"].clone()),
        (400, json!("force"))
    );
    let opt = post(
        json!({"fmri": "svc:/network/ntp:default", "action": "enable", "options": {"recursive": true}}),
    );
    assert_eq!(
        (opt.status, opt.body["field"].clone()),
        (400, json!("options.recursive"))
    );

    let viewer = key(&agent, "viewer");
    let r = agent.request(
        "POST",
        "/services/action",
        Some(&viewer),
        Some(&json!({"fmri": "svc:/network/ntp:default", "action": "enable"})),
    );
    assert_eq!(r.status, 403);
    assert_eq!(state(&agent, "svc:/network/ntp:default"), "disabled");
}
