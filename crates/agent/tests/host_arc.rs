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
