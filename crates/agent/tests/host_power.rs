//! `/system/host/*`: the host's status, uptime and run level from its own tools, and power
//! actions as admin-only tasks that the emulated host's stand-in tools record (never this
//! machine's own `reboot`).

use serde_json::{json, Value};

use crate::services::key;
use crate::support::{dump, TestAgent};

fn requests(agent: &TestAgent) -> Vec<Vec<String>> {
    serde_json::from_value(dump(agent)["power"]["requests"].clone()).unwrap_or_default()
}

fn done(agent: &TestAgent, r: &crate::support::Response) -> Value {
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["id"], r.body["task_id"], "the UI reads both");
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    t
}

#[test]
fn viewers_and_operators_are_refused_power_and_nothing_runs() {
    let agent = TestAgent::start();
    for role in ["viewer", "operator"] {
        let k = key(&agent, role);
        for path in [
            "/system/host/reboot",
            "/system/host/halt",
            "/system/host/poweroff",
            "/system/host/runlevel",
        ] {
            let r = agent.request(
                "POST",
                path,
                Some(&k),
                Some(&json!({"confirm": true, "emergency": true, "runlevel": "S"})),
            );
            assert_eq!(r.status, 403, "{role} {path}: {:?}", r.body);
        }
        let r = agent.request("DELETE", "/system/host/reboot-status", Some(&k), None);
        assert_eq!(r.status, 403);
        // Reads are a viewer's.
        assert_eq!(
            agent
                .request("GET", "/system/host/status", Some(&k), None)
                .status,
            200
        );
    }
    assert!(requests(&agent).is_empty());
}

#[test]
fn an_admins_reboot_is_recorded_by_the_emulated_host() {
    let agent = TestAgent::start();
    let r = agent.post(
        "/system/host/reboot",
        json!({"confirm": true, "dump_core": true}),
    );
    let t = done(&agent, &r);
    assert_eq!(t["operation"], "system_host_reboot");
    let r = agent.post(
        "/system/host/reboot/fast",
        json!({"confirm": true, "boot_environment": "omnios-r151054"}),
    );
    done(&agent, &r);
    let r = agent.post(
        "/system/host/restart",
        json!({"confirm": true, "grace_period": 5, "message": "back soon", "created_by": "api"}),
    );
    assert_eq!(r.body["message"], "Host restart scheduled in 5 seconds");
    done(&agent, &r);
    let r = agent.post(
        "/system/host/poweroff",
        json!({"confirm": true, "grace_period": 0}),
    );
    done(&agent, &r);
    let r = agent.post(
        "/system/host/halt",
        json!({"confirm": true, "emergency": true}),
    );
    done(&agent, &r);
    assert_eq!(
        requests(&agent),
        [
            vec!["reboot", "-d"],
            vec!["reboot", "-f", "-e", "omnios-r151054"],
            vec!["shutdown", "-y", "-g", "5", "-i", "6", "back soon"],
            vec!["poweroff"],
            vec!["halt"],
        ]
    );
}

#[test]
fn stops_need_confirmation_and_unknown_keys_are_named() {
    let agent = TestAgent::start();
    let field = |path: &str, body: Value| {
        let r = agent.post(path, body);
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        r.body["field"].as_str().unwrap().to_owned()
    };
    assert_eq!(field("/system/host/reboot", json!({})), "confirm");
    assert_eq!(
        field("/system/host/shutdown", json!({"confirm": false})),
        "confirm"
    );
    assert_eq!(
        field("/system/host/halt", json!({"confirm": true})),
        "emergency"
    );
    assert_eq!(
        field(
            "/system/host/runlevel",
            json!({"confirm": true, "runlevel": "9"})
        ),
        "runlevel"
    );
    assert_eq!(
        field(
            "/system/host/restart",
            json!({"confirm": true, "grace_period": 9000})
        ),
        "grace_period"
    );
    assert_eq!(
        field(
            "/system/host/reboot",
            json!({"confirm": true, "zone_orchestration": {}})
        ),
        "zone_orchestration"
    );
    assert_eq!(
        field(
            "/system/host/reboot",
            json!({"confirm": true, "boot_environment": "be"})
        ),
        "boot_environment"
    );
    assert!(requests(&agent).is_empty());
}

#[test]
fn status_uptime_and_run_level_come_from_the_emulated_host() {
    let agent = TestAgent::start();
    let s = agent.get("/system/host/status");
    assert_eq!(s.status, 200, "{:?}", s.body);
    for k in [
        "hostname",
        "uptime",
        "load_average",
        "memory",
        "runlevel",
        "reboot_required",
        "reboot_info",
    ] {
        assert!(s.body.get(k).is_some(), "{k} in {:?}", s.body);
    }
    assert_eq!(s.body["runlevel"]["current"], "3");
    assert_eq!(s.body["reboot_required"], false);
    assert!(s.body["memory"]["total"].as_u64().unwrap() > 0);
    let u = agent.get("/system/host/uptime");
    for k in [
        "uptime_seconds",
        "uptime_formatted",
        "boot_time",
        "load_averages",
    ] {
        assert!(u.body.get(k).is_some(), "{k} in {:?}", u.body);
    }
    let r = agent.post("/system/host/single-user", json!({"confirm": true}));
    done(&agent, &r);
    let l = agent.get("/system/host/runlevel");
    assert_eq!(l.body["current_runlevel"], "S", "{:?}", l.body);
    assert_eq!(
        l.body["available_runlevels"]["3"],
        "Multi-user mode with network services (default)"
    );
    let r = agent.post("/system/host/multi-user", json!({"network_services": true}));
    done(&agent, &r);
    assert_eq!(
        agent.get("/system/host/runlevel").body["current_runlevel"],
        "3"
    );
    assert_eq!(requests(&agent), [vec!["init", "S"], vec!["init", "3"]]);

    let rs = agent.get("/system/host/reboot-status");
    assert_eq!(
        (rs.status, rs.body["reboot_required"].clone()),
        (200, json!(false))
    );
    assert_eq!(agent.delete("/system/host/reboot-status").status, 200);
}
