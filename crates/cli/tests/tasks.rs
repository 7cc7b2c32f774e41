//! `zw tasks ...`.

use crate::support::{TestAgent, Zw};

#[test]
fn list_show_logs_wait_and_cancel() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let r = zw
        .run(&[
            "--json", "zones", "create", "--name", "logged", "--brand", "bhyve", "--wait",
        ])
        .ok();
    let id = r.json()["id"].as_str().unwrap().to_owned();

    let list = zw.run(&["tasks", "list"]).ok();
    assert!(list.stdout.starts_with("ID "), "{list:#?}");
    let row = list.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("zone_create") && row.contains("completed") && row.contains("100%"));
    let filtered = zw.run(&["tasks", "list", "--status", "failed"]).ok();
    assert!(!filtered.stdout.contains(&id), "{filtered:#?}");

    let show = zw.run(&["tasks", "show", &id]).ok();
    assert!(
        show.stdout.contains("operation:   zone_create"),
        "{show:#?}"
    );
    assert!(show.stdout.contains("completed"), "{show:#?}");
    for (args, path) in [
        (vec!["--json", "tasks", "show", &id], format!("/tasks/{id}")),
        (
            vec!["--json", "tasks", "logs", &id],
            format!("/tasks/{id}/output"),
        ),
    ] {
        let r = zw.run(&args).ok();
        assert_eq!(
            r.stdout.trim_end(),
            agent.get_text(&path).1.trim_end(),
            "{args:?}"
        );
    }

    let logs = zw.run(&["tasks", "logs", &id]).ok();
    let output = agent.get(&format!("/tasks/{id}/output"));
    let lines = output["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    assert_eq!(logs.stdout.lines().count(), lines.len());
    for l in lines {
        assert!(logs.stdout.contains(l["line"].as_str().unwrap()));
    }

    // wait on a task queued elsewhere; logs --follow ends with it.
    let noop = agent.noop(300);
    let r = zw.run(&["tasks", "wait", &noop]).ok();
    assert!(r.stdout.contains("noop system completed"), "{r:#?}");
    let noop = agent.noop(200);
    zw.run(&["tasks", "logs", "--follow", &noop]).ok();

    // cancel, then wait reports the cancellation with exit 3.
    let long = agent.noop(600_000);
    let r = zw.run(&["tasks", "cancel", &long]).ok();
    assert!(r.stdout.to_lowercase().contains("cancel"), "{r:#?}");
    let r = zw.run(&["tasks", "wait", &long]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stderr.contains("cancelled"), "{r:#?}");
    let r = zw.run(&["tasks", "cancel", &long]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 409"), "{r:#?}");
}
