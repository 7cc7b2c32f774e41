//! `zw zones ...`, `--wait` on success and on failure, errors naming the field.

use serde_json::json;

use crate::support::{TestAgent, Zw};

#[test]
fn create_with_wait_follows_the_task_to_completion() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let r = zw
        .run(&[
            "zones",
            "create",
            "--name",
            "web01",
            "--brand",
            "bhyve",
            "--ram",
            "1G",
            "--vcpus",
            "2",
            "--disk-size",
            "10G",
            "--wait",
        ])
        .ok();
    assert!(r.stdout.contains("zone_create web01 completed"), "{r:#?}");
    // Without a terminal there are no bars, but each change is a line on stderr.
    assert!(
        r.stderr.contains("zone_create web01  completed 100%"),
        "{r:#?}"
    );

    let list = zw.run(&["zones", "list"]).ok();
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("web01 "))
        .unwrap_or_else(|| panic!("{list:#?}"));
    assert!(
        line.contains("bhyve") && line.contains("installed"),
        "{line}"
    );
    assert!(list.stdout.starts_with("NAME "), "a header: {list:#?}");

    let show = zw.run(&["zones", "show", "web01"]).ok();
    assert!(
        show.stdout.contains("ram:") && show.stdout.contains("1G"),
        "{show:#?}"
    );
    assert!(show.stdout.contains("rpool/zones/web01/root"), "{show:#?}");

    // --json is the API's answer, byte for byte.
    for (args, path) in [
        (vec!["--json", "zones", "list"], "/zones"),
        (vec!["--json", "zones", "show", "web01"], "/zones/web01"),
    ] {
        let r = zw.run(&args).ok();
        let (status, text) = agent.get_text(path);
        assert_eq!(status, 200);
        // zone_info.last_seen is the time of the host listing each answer came from, which
        // a background refresh may move between the two reads.
        let without_listing_time = |t: &str| {
            let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("zone_info");
            }
            v
        };
        assert_eq!(
            without_listing_time(r.stdout.trim_end()),
            without_listing_time(text.trim_end()),
            "{args:?}"
        );
    }

    // Lifecycle with --wait, then delete.
    let r = zw.run(&["zones", "start", "web01", "--wait"]).ok();
    assert!(r.stdout.contains("zone_start web01 completed"), "{r:#?}");
    assert_eq!(agent.get("/zones/web01")["state"], "running");
    let r = zw.run(&["zones", "start", "web01"]).ok();
    assert!(r.stdout.contains("already running"), "{r:#?}");
    zw.run(&["zones", "halt", "web01", "--wait"]).ok();
    let r = zw
        .run(&["zones", "modify", "web01", "--ram", "2G", "--wait"])
        .ok();
    assert!(r.stdout.contains("zone_modify web01 completed"), "{r:#?}");
    assert_eq!(agent.get("/zones/web01")["attributes"]["ram"], "2G");
    zw.run(&["zones", "delete", "web01", "--cleanup-datasets", "--wait"])
        .ok();
    let (status, _) = agent.get_text("/zones/web01");
    assert_eq!(status, 404);
}

#[test]
fn a_failed_task_exits_3_with_its_error() {
    let agent = TestAgent::start();
    agent.faults(&[
        json!({"tool": "zoneadm", "contains": "install", "action": "fail",
        "stderr": "zoneadm: zone 'bad01': install failed"}),
    ]);
    let zw = Zw::new();
    zw.login(&agent);
    let r = zw.run(&[
        "zones", "create", "--name", "bad01", "--brand", "bhyve", "--wait",
    ]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stderr.contains("zone_create bad01) failed"), "{r:#?}");
    assert!(r.stderr.contains("install failed"), "{r:#?}");

    // --json --wait prints the final task as /tasks/{id} answers it.
    let r = zw.run(&[
        "--json", "zones", "create", "--name", "bad02", "--brand", "bhyve", "--wait",
    ]);
    assert_eq!(r.code, 3, "{r:#?}");
    let task = r.json();
    assert_eq!(task["status"], "failed");
    let (_, text) = agent.get_text(&format!("/tasks/{}", task["id"].as_str().unwrap()));
    assert_eq!(r.stdout.trim_end(), text.trim_end());
}

#[test]
fn refused_requests_print_the_api_error_and_field() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let r = zw.run(&[
        "zones",
        "create",
        "--name",
        "t1",
        "--brand",
        "bhyve",
        "--template",
        "rpool/nope",
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("does not exist"), "{r:#?}");
    assert!(
        r.stderr.contains("(field: source.template_dataset)"),
        "{r:#?}"
    );
    assert!(r.stderr.contains("HTTP 400"), "{r:#?}");

    let r = zw.run(&[
        "--json", "zones", "create", "--name", "t1", "--brand", "bhyve", "--ram", "lots",
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["field"], "ram", "{r:#?}");
    assert_eq!(r.json()["success"], false);

    let r = zw.run(&["zones", "show", "nosuchzone"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not found") && r.stderr.contains("HTTP 404"),
        "{r:#?}"
    );
}

#[test]
fn create_from_a_yaml_file_with_flags_over_it() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let spec = zw.home.0.join("spec.yaml");
    std::fs::write(
        &spec,
        "name: fromfile\nbrand: bhyve\nram: 1G\nboot_volume:\n  size: 5G\n",
    )
    .unwrap();
    zw.run(&[
        "zones",
        "create",
        "-f",
        spec.to_str().unwrap(),
        "--vcpus",
        "3",
        "--wait",
    ])
    .ok();
    let z = agent.get("/zones/fromfile");
    assert_eq!(z["attributes"]["ram"], "1G");
    assert_eq!(z["attributes"]["vcpus"], "3");
    // A bad file is refused before anything is sent.
    std::fs::write(&spec, "name: [unclosed\n").unwrap();
    let r = zw.run(&["zones", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not valid YAML"), "{r:#?}");
}
