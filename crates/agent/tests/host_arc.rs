//! `/system/zfs/arc/config` and `/validate`: the limits in effect from the emulated host's
//! `kstat -p zfs:0:arcstats`, and proposed limits checked against its physical memory.

use serde_json::json;

use crate::support::{host, TestAgent};

fn kstat(agent: &TestAgent, name: &str) -> u64 {
    host(agent, "kstat", &["-p", name])
        .trim_end()
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_arc_limits_are_the_hosts_and_proposals_are_checked_against_memory() {
    let agent = TestAgent::start();
    let r = agent.get("/system/zfs/arc/config");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = &r.body["available_tunables"];
    for k in [
        "zfs_arc_max",
        "zfs_arc_min",
        "zfs_arc_meta_limit",
        "zfs_arc_meta_min",
    ] {
        assert!(t[k]["effective_value"].is_u64(), "{k} in {t}");
    }
    assert_eq!(
        t["zfs_arc_max"]["effective_value"],
        kstat(&agent, "zfs:0:arcstats:c_max")
    );
    assert_eq!(
        t["zfs_arc_min"]["effective_value"],
        kstat(&agent, "zfs:0:arcstats:c_min")
    );
    let physmem = r.body["physical_memory_bytes"].as_u64().unwrap();
    assert_eq!(physmem, kstat(&agent, "unix:0:system_pages:physmem") * 4096);

    let v = |body| {
        let r = agent.post("/system/zfs/arc/validate", body);
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    };
    let gib = physmem as f64 / (1u64 << 30) as f64;
    assert_eq!(
        v(json!({"arc_max_gb": gib / 2.0, "arc_min_gb": 1}))["valid"],
        true
    );
    let too_big = v(json!({"arc_max_gb": gib}));
    assert_eq!(too_big["valid"], false);
    assert!(too_big["errors"][0]
        .as_str()
        .unwrap()
        .contains("arc_max_gb"));
    assert_eq!(v(json!({"arc_max_gb": 2, "arc_min_gb": 3}))["valid"], false);
    assert_eq!(v(json!({"arc_min_gb": 0.01}))["valid"], false);
    let unknown = agent.post("/system/zfs/arc/validate", json!({"arc_max": 2}));
    assert_eq!(
        (unknown.status, unknown.body["field"].clone()),
        (400, json!("arc_max"))
    );
}

const CONF: &str = "root/etc/system.d/zfs-arc.conf";

/// `PUT /system/zfs/arc/config` writes the boot-time tunables to /etc/system.d/zfs-arc.conf
/// (as the original), keeps what a later change does not name, marks the host as needing a
/// reboot, and `reset` removes the file; bad limits are refused naming the field and write
/// nothing; a viewer or operator may not change them.
#[test]
fn arc_limits_are_written_for_the_next_boot_and_reset_removes_them() {
    let agent = TestAgent::start();
    let file = agent.host_path(CONF);
    let put = |body| {
        agent.request(
            "PUT",
            "/system/zfs/arc/config",
            Some(&agent.key),
            Some(&body),
        )
    };

    for (body, field) in [
        (json!({"arc_max_gb": 64}), "arc_max_gb"),
        (json!({"arc_max_gb": 2, "arc_min_gb": 3}), "arc_min_gb"),
        (
            json!({"arc_max_gb": 8, "arc_meta_limit_gb": 9}),
            "arc_meta_limit_gb",
        ),
        (
            json!({"arc_max_gb": 8, "apply_method": "later"}),
            "apply_method",
        ),
        (
            json!({"arc_max_gb": 8, "vdev_max_pending": 0}),
            "vdev_max_pending",
        ),
        (json!({"arc_max": 8}), "arc_max"),
    ] {
        let r = put(body.clone());
        assert_eq!(
            (r.status, r.body["field"].clone()),
            (400, json!(field)),
            "{body}: {:?}",
            r.body
        );
    }
    assert!(!file.exists(), "a refused change wrote the file");
    let reboot = agent.get("/system/host/reboot-status");
    assert_eq!(reboot.body["reboot_required"], false);

    let r = put(
        json!({"arc_max_gb": 8, "arc_min_gb": 1, "prefetch_disable": true,
        "arc_max_percent": 50, "created_by": "admin"}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["results"]["reboot_required"], true);
    assert!(r.body["results"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("arc_max_percent"));
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("set zfs:zfs_arc_max = 8589934592\n"),
        "{text}"
    );
    assert!(
        text.contains("set zfs:zfs_arc_min = 1073741824\n"),
        "{text}"
    );
    assert!(
        text.contains("set zfs:zfs_prefetch_disable = 1\n"),
        "{text}"
    );
    assert!(!text.contains("percent"), "{text}");

    // A later change keeps what it does not name; 0 leaves a limit to the kernel.
    let r = put(json!({"arc_max_gb": 16, "arc_min_gb": 0}));
    assert_eq!(
        agent.wait(r.body["task_id"].as_str().unwrap())["status"],
        "completed"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("zfs_arc_max = 17179869184") && !text.contains("zfs_arc_min"),
        "{text}"
    );
    assert!(text.contains("zfs_prefetch_disable = 1"), "{text}");

    // What the file sets shows beside what is in effect; both wait for a reboot.
    let c = agent.get("/system/zfs/arc/config");
    let max = &c.body["available_tunables"]["zfs_arc_max"];
    assert_eq!(max["current_value"], 17_179_869_184u64, "{}", c.body);
    assert_eq!(
        max["effective_value"],
        kstat(&agent, "zfs:0:arcstats:c_max")
    );
    assert_eq!(c.body["reboot_required"], true);
    assert_eq!(c.body["config_file_path"], "/etc/system.d/zfs-arc.conf");
    let reboot = agent.get("/system/host/reboot-status");
    assert_eq!(reboot.body["reboot_required"], true, "{}", reboot.body);

    // Only admins change them.
    let op_key = crate::services::key(&agent, "operator");
    let r = agent.request(
        "PUT",
        "/system/zfs/arc/config",
        Some(&op_key),
        Some(&json!({"arc_max_gb": 4})),
    );
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = agent.request(
        "POST",
        "/system/zfs/arc/reset",
        Some(&op_key),
        Some(&json!({})),
    );
    assert_eq!(r.status, 403, "{:?}", r.body);

    let r = agent.post("/system/zfs/arc/reset", json!({"created_by": "admin"}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        agent.wait(r.body["task_id"].as_str().unwrap())["status"],
        "completed"
    );
    assert!(!file.exists(), "reset left the file");
    let c = agent.get("/system/zfs/arc/config");
    assert_eq!(c.body["config_source"], "auto-calculated");
    // `runtime` writes nothing: illumos reads these at boot.
    let r = put(json!({"arc_max_gb": 4, "apply_method": "runtime"}));
    assert_eq!(
        (r.status, &r.body["results"]["reboot_required"]),
        (200, &json!(false))
    );
    assert!(!file.exists());
}
