//! The task queue through the real binary: ordering, exclusivity, dependencies, cancellation,
//! restart recovery, events.

use std::io::BufRead;

use serde_json::{json, Value};

use crate::support::TestAgent;

fn time(t: &Value, field: &str) -> String {
    t[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {t:?}"))
        .to_owned()
}

#[test]
fn a_task_runs_to_completion_with_timestamps_and_output() {
    let agent = TestAgent::start();
    let id = agent.noop(json!({"duration_ms": 50}));
    let t = agent.wait(&id);
    assert_eq!(t["status"], "completed");
    assert_eq!(t["progress_percent"], 100);
    assert_eq!(t["operation"], "noop");
    assert_eq!(t["zone_name"], "system");
    assert_eq!(t["created_by"], "bootstrap");
    assert!(time(&t, "created_at") <= time(&t, "started_at"));
    assert!(time(&t, "started_at") <= time(&t, "completed_at"));
    assert!(time(&t, "created_at").ends_with('Z'));
    let out = agent.get(&format!("/tasks/{id}/output"));
    assert_eq!(out.status, 200);
    let lines: Vec<&str> = out.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert!(lines.iter().any(|l| l.contains("waiting")), "{lines:?}");
}

#[test]
fn a_dependent_starts_only_after_its_dependency_completes() {
    let agent = TestAgent::start();
    let a = agent.noop(json!({"duration_ms": 300}));
    let b = agent.noop(json!({"depends_on": a}));
    let tb = agent.wait(&b);
    let ta = agent.wait(&a);
    assert_eq!(tb["status"], "completed");
    assert!(time(&tb, "started_at") >= time(&ta, "completed_at"));
}

#[test]
fn a_failed_dependency_cancels_its_dependents_by_name() {
    let agent = TestAgent::start();
    let a = agent.noop(json!({"duration_ms": 30000}));
    let b = agent.noop(json!({"depends_on": a}));
    let c = agent.noop(json!({"depends_on": b}));
    let r = agent.delete(&format!("/tasks/{a}"));
    assert!(r.status == 200 || r.status == 202, "{:?}", r.body);
    assert_eq!(agent.wait(&a)["status"], "cancelled");
    let tb = agent.wait(&b);
    assert_eq!(tb["status"], "cancelled");
    assert!(tb["error_message"].as_str().unwrap().contains(&a), "{tb:?}");
    let tc = agent.wait(&c);
    assert_eq!(tc["status"], "cancelled");
    assert!(tc["error_message"].as_str().unwrap().contains(&b), "{tc:?}");
}

#[test]
fn an_unknown_dependency_is_a_400() {
    let agent = TestAgent::start();
    let r = agent.post(
        "/tasks",
        json!({"operation": "noop", "depends_on": "00000000-0000-4000-8000-000000000000"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "depends_on");
}

#[test]
fn one_zone_runs_one_task_at_a_time_while_other_zones_proceed() {
    let agent = TestAgent::start();
    let a1 = agent.noop(json!({"zone_name": "web1", "duration_ms": 400}));
    let a2 = agent.noop(json!({"zone_name": "web1", "duration_ms": 10}));
    let b1 = agent.noop(json!({"zone_name": "db1", "duration_ms": 10}));
    let (t1, t2, tb) = (agent.wait(&a1), agent.wait(&a2), agent.wait(&b1));
    assert!(
        time(&t2, "started_at") >= time(&t1, "completed_at"),
        "{t1:?} {t2:?}"
    );
    // db1's task did not queue behind web1's: it finished while web1's first was running.
    assert!(
        time(&tb, "completed_at") < time(&t1, "completed_at"),
        "{t1:?} {tb:?}"
    );
}

#[test]
fn higher_priority_runs_first_and_queue_order_breaks_ties() {
    let agent = TestAgent::start_with("zones:\n  max_concurrent_tasks: 1\n");
    let blocker = agent.noop(json!({"duration_ms": 500}));
    agent.eventually(
        "blocker running",
        || agent.get(&format!("/tasks/{blocker}")).body["status"].clone(),
        |s| s == "running",
    );
    let low1 = agent.noop(json!({}));
    let low2 = agent.noop(json!({}));
    let high = agent.noop(json!({"priority": 10}));
    let starts: Vec<String> = [&high, &low1, &low2]
        .iter()
        .map(|id| time(&agent.wait(id), "started_at"))
        .collect();
    assert!(
        starts[0] <= starts[1] && starts[1] <= starts[2],
        "{starts:?}"
    );
}

#[test]
fn cancelling_pending_running_finished_and_unknown_tasks() {
    let agent = TestAgent::start_with("zones:\n  max_concurrent_tasks: 1\n");
    let running = agent.noop(json!({"duration_ms": 30000}));
    agent.eventually(
        "running",
        || agent.get(&format!("/tasks/{running}")).body["status"].clone(),
        |s| s == "running",
    );
    let pending = agent.noop(json!({}));
    let r = agent.delete(&format!("/tasks/{pending}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    let r = agent.delete(&format!("/tasks/{running}"));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(&running);
    assert_eq!(t["status"], "cancelled");
    let r = agent.delete(&format!("/tasks/{running}"));
    assert_eq!(r.status, 409);
    let r = agent.delete("/tasks/00000000-0000-4000-8000-000000000000");
    assert_eq!(r.status, 404);
}

#[test]
fn wait_returns_at_its_timeout_with_the_current_state() {
    let agent = TestAgent::start();
    let id = agent.noop(json!({"duration_ms": 30000}));
    let r = agent.get(&format!("/tasks/{id}/wait?timeout=0.3"));
    assert_eq!(r.status, 200);
    assert!(matches!(
        r.body["status"].as_str(),
        Some("pending" | "running")
    ));
    let r = agent.get(&format!("/tasks/{id}/wait?timeout=9999"));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "timeout");
}

#[test]
fn a_restart_fails_interrupted_work_and_resumes_pending_work() {
    let mut agent = TestAgent::start_with("zones:\n  max_concurrent_tasks: 1\n");
    let running = agent.noop(json!({"duration_ms": 60000}));
    agent.eventually(
        "running",
        || agent.get(&format!("/tasks/{running}")).body["status"].clone(),
        |s| s == "running",
    );
    let pending = agent.noop(json!({"duration_ms": 10}));
    agent.kill();
    agent.launch();
    let t = agent.wait(&running);
    assert_eq!(t["status"], "failed");
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("agent restarted"),
        "{t:?}"
    );
    assert_eq!(agent.wait(&pending)["status"], "completed");
}

#[test]
fn listing_filters_pages_and_rejects_bad_parameters() {
    let agent = TestAgent::start();
    let ids: Vec<String> = (0..5)
        .map(|i| agent.noop(json!({"zone_name": format!("z{}", i % 2)})))
        .collect();
    for id in &ids {
        agent.wait(id);
    }
    let r = agent.get("/tasks?zone_name=z0&limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], 3);
    let page = r.body["tasks"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], ids[4].as_str(), "newest first");
    let r = agent.get("/tasks?status=completed&operation=noop&offset=4");
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 1);
    for (q, field) in [
        ("limit=0", "limit"),
        ("status=done", "status"),
        ("since=yesterday", "since"),
        ("colour=red", "colour"),
    ] {
        let r = agent.get(&format!("/tasks?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.body["field"], field, "{q}: {:?}", r.body);
    }
    let r = agent.get("/tasks?since=2000-01-01T00:00:00Z");
    assert_eq!(r.body["total"], 5);
}

#[test]
fn bad_bodies_name_the_field() {
    let agent = TestAgent::start();
    let r = agent.post(
        "/tasks",
        json!({"operation": "noop", "duration_ms": "soon"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "duration_ms");
    let r = agent.post("/tasks", json!({"operation": "noop", "surprise": 1}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "surprise");
    let r = agent.post("/tasks", json!({"operation": "zone_create"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "operation");
    let r = agent.post("/tasks", json!({"operation": "noop", "zone_name": "a;b"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "zone_name");
}

#[test]
fn events_stream_creation_progress_and_end() {
    let agent = TestAgent::start();
    let mut stream = agent.events("?zone_name=evz");
    let id = agent.noop(json!({"zone_name": "evz", "duration_ms": 20}));
    let mut seen = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stream.read_line(&mut line).unwrap() > 0,
            "stream ended; saw {seen:?}"
        );
        if let Some(data) = line.strip_prefix("data: ") {
            let ev: Value = serde_json::from_str(data.trim()).unwrap();
            assert_eq!(ev["task_id"], id.as_str());
            seen.push(ev["event"].as_str().unwrap().to_owned());
            if ev["event"] == "task_finished" {
                assert_eq!(ev["status"], "completed");
                break;
            }
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("task_created"));
    assert!(seen.contains(&"task_started".to_owned()), "{seen:?}");
}

/// The Zoneweaver UI polls `GET /tasks?min_priority=..&limit=50&since=<newest updatedAt seen>`
/// and shows `GET /tasks/stats` as badges.
#[test]
fn the_ui_polls_for_changed_tasks_and_reads_the_counts() {
    let agent = TestAgent::start();
    let low = agent.noop(json!({"priority": 1}));
    agent.wait(&low);
    let long = agent.noop(json!({"priority": 5, "duration_ms": 60_000}));
    // Running, with its progress written (the last change before the cancel).
    agent.eventually(
        "the long task runs",
        || agent.get(&format!("/tasks/{long}")).body,
        |t| t["status"] == "running" && t["progress_info"] == "waiting",
    );
    let r = agent.get("/tasks?min_priority=5&limit=50");
    assert_eq!(r.status, 200);
    let tasks = r.body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let seen = tasks[0]["updatedAt"].as_str().unwrap().to_owned();
    assert_eq!(tasks[0]["updated_at"], seen.as_str());
    assert!(seen >= time(&tasks[0], "started_at"));

    // Nothing changed since: the poll is empty; the cancel shows up in the next one, though
    // the task was created before `since`.
    let since = |at: &str| format!("/tasks?min_priority=5&limit=50&since={at}");
    let later = agent.get(&since(&seen)).body["tasks"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(later, 1, "a task is changed at or after its own updatedAt");
    let after_seen = {
        // One microsecond after what the client saw.
        let t = humantime::parse_rfc3339(&seen).unwrap() + std::time::Duration::from_micros(1);
        humantime::format_rfc3339_micros(t).to_string()
    };
    assert_eq!(agent.get(&since(&after_seen)).body["total"], 0);
    assert_eq!(agent.delete(&format!("/tasks/{long}")).status, 202);
    let cancelled = agent.wait(&long);
    assert_eq!(cancelled["status"], "cancelled");
    let polled = agent.get(&since(&after_seen)).body;
    assert_eq!(polled["total"], 1, "{polled:?}");
    assert_eq!(polled["tasks"][0]["id"], long.as_str());
    assert!(time(&polled["tasks"][0], "updatedAt") >= time(&cancelled, "completed_at"));

    let stats = agent.get("/tasks/stats");
    assert_eq!(stats.status, 200);
    assert_eq!(stats.body["completed"], 1);
    assert_eq!(stats.body["cancelled"], 1);
    assert_eq!(stats.body["failed"], 0);
    assert_eq!(stats.body["pending"], 0);
    assert_eq!(stats.body["total"], 2);
}

/// The Zoneweaver UI sends its signed-in user's name as `created_by` in bodies (and in DELETE
/// queries): the task keeps it, trimmed, as `requester_note` beside `created_by` (the key's
/// name, which stays what the agent authenticated), in the task and in the list.
#[test]
fn a_requests_created_by_is_kept_as_the_tasks_requester_note() {
    let agent = TestAgent::start();
    let id = agent.noop(json!({"created_by": "  Alice Admin "}));
    let t = agent.wait(&id);
    assert_eq!(t["requester_note"], "Alice Admin");
    assert_eq!(t["created_by"], "bootstrap");
    let l = agent.get("/tasks?limit=10");
    let row = l.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {:?}", l.body));
    assert_eq!(row["requester_note"], "Alice Admin");
    assert_eq!(
        agent.wait(&agent.noop(json!({})))["requester_note"],
        Value::Null
    );

    // Where the UI sends it: a create body, a DELETE query, a body on an action.
    let r = agent.post(
        "/network/etherstubs",
        json!({"name": "stub0", "temporary": false, "created_by": "alice"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(
        (&t["status"], &t["requester_note"]),
        (&json!("completed"), &json!("alice"))
    );
    let r = agent.delete("/network/etherstubs/stub0?temporary=false&force=false&created_by=bob");
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(
        (&t["status"], &t["requester_note"]),
        (&json!("completed"), &json!("bob"))
    );
    let r = agent.post("/zones/nosuch/start", json!({"created_by": "carol"}));
    assert_eq!(
        r.status, 404,
        "the note is accepted; the zone is what is missing: {:?}",
        r.body
    );
}

#[test]
fn a_created_by_that_is_empty_too_long_or_has_control_characters_is_a_400_naming_it() {
    let agent = TestAgent::start();
    for bad in [
        json!(""),
        json!("   "),
        json!("a\nb"),
        json!("x".repeat(129)),
        json!(7),
    ] {
        let r = agent.post("/tasks", json!({"operation": "noop", "created_by": bad}));
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["field"], "created_by", "{bad}: {:?}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains("created_by"),
            "{:?}",
            r.body
        );
    }
    let r = agent.delete("/network/vnics/vnic0?created_by=%1B%5B2J");
    assert_eq!(
        (r.status, &r.body["field"]),
        (400, &json!("created_by")),
        "{:?}",
        r.body
    );
    // Still, a key nobody knows is refused by name, on a body that was never read before.
    let r = agent.post("/zones/nosuch/start", json!({"requested_by": "carol"}));
    assert_eq!(
        (r.status, &r.body["field"]),
        (400, &json!("requested_by")),
        "{:?}",
        r.body
    );
}
