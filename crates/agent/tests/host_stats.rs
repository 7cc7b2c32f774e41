//! `GET /stats`: the Zoneweaver UI's zone list and its health/credential probe, answered from
//! the emulated host's own tools (uname, kstat, psrinfo, pagesize, ipadm, zoneadm).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::{host, TestAgent};

fn completed(agent: &TestAgent, r: crate::support::Response) {
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
}

fn stats(agent: &TestAgent) -> Value {
    let r = agent.get("/stats");
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// One statistic as the emulated host's kstat prints it.
fn kstat(agent: &TestAgent, name: &str) -> u64 {
    let out = host(agent, "kstat", &["-p", name]);
    out.trim_end().split('\t').nth(1).unwrap().parse().unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn stats_answers_the_hosts_figures_and_its_zones_by_state() {
    let agent = TestAgent::start();
    completed(
        &agent,
        agent.post("/zones", json!({"name": "idle", "brand": "bhyve"})),
    );
    completed(
        &agent,
        agent.post("/zones", json!({"name": "busy", "brand": "bhyve"})),
    );
    completed(&agent, agent.post("/zones/busy/start", json!({})));

    let before = now();
    let s = stats(&agent);
    let after = now();
    // Every key the UI reads (zoneweaver-ui-calls.json, `/stats`).
    for k in [
        "allzones",
        "runningzones",
        "hostname",
        "type",
        "release",
        "arch",
        "version",
        "uptime",
        "loadavg",
        "totalmem",
        "freemem",
        "cpus",
        "networkInterfaces",
    ] {
        assert!(s.get(k).is_some(), "{k} missing from {s}");
    }
    let mut all: Vec<&str> = s["allzones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, ["busy", "idle"], "the global zone is not listed");
    assert_eq!(s["runningzones"], json!(["busy"]));

    // The emulated host's identity, not this machine's.
    assert_eq!(s["hostname"], host(&agent, "uname", &["-n"]).trim());
    assert_eq!(s["hostname"], "omnios-sim");
    assert_eq!(s["type"], "SunOS");
    assert_eq!(s["platform"], "sunos");
    assert_eq!(s["release"], "5.11");
    assert_eq!(s["version"], host(&agent, "uname", &["-v"]).trim());
    assert_eq!(s["arch"], "x64");

    // Memory in bytes: kstat's pages times the page size.
    let page: u64 = host(&agent, "pagesize", &[]).trim().parse().unwrap();
    assert_eq!(
        s["totalmem"],
        kstat(&agent, "unix:0:system_pages:physmem") * page
    );
    assert_eq!(
        s["freemem"],
        kstat(&agent, "unix:0:system_pages:freemem") * page
    );
    let load: Vec<f64> = ["1min", "5min", "15min"]
        .iter()
        .map(|m| kstat(&agent, &format!("unix:0:system_misc:avenrun_{m}")) as f64 / 256.0)
        .collect();
    assert_eq!(s["loadavg"], json!(load));
    // Uptime runs from the host's boot time (kstat), as the agent's clock read it.
    let boot = kstat(&agent, "unix:0:system_misc:boot_time");
    assert_eq!(s["boot_time"], boot);
    let up = s["uptime"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&(boot + up)),
        "uptime {up} from boot {boot}"
    );

    // One entry per virtual processor of psrinfo -p -v.
    let cpus = s["cpus"].as_array().unwrap();
    assert_eq!(cpus.len(), 8, "{cpus:?}");
    assert_eq!(
        cpus[0]["model"],
        "Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz"
    );
    assert_eq!(cpus[0]["speed"], 2100);
    assert_eq!(cpus[7]["id"], 7);
    let t = &cpus[0]["times"];
    // kstat cpu:0:sys:cpu_nsec_* in milliseconds; illumos has no nice time.
    for k in ["user", "sys", "idle", "irq"] {
        assert!(t[k].as_u64().unwrap() > 0, "times.{k} in {t}");
    }
    assert_eq!(t["nice"], 0);

    // The host's addresses, shaped as Node's os.networkInterfaces().
    let igb0 = &s["networkInterfaces"]["igb0"];
    let v4 = igb0
        .as_array()
        .unwrap_or_else(|| panic!("no igb0 in {s}"))
        .iter()
        .find(|a| a["family"] == "IPv4")
        .unwrap();
    assert_eq!(v4["address"], "192.168.1.10");
    assert_eq!(v4["netmask"], "255.255.255.0");
    assert_eq!(v4["cidr"], "192.168.1.10/24");
    assert_eq!(v4["internal"], false);
    let lo0 = s["networkInterfaces"]["lo0"].as_array().unwrap();
    assert!(
        lo0.iter()
            .any(|a| a["address"] == "127.0.0.1" && a["internal"] == true),
        "{lo0:?}"
    );

    // The zone lists follow the agent's own changes at once, whatever the cache.
    completed(&agent, agent.post("/zones/busy/stop", json!({})));
    assert_eq!(stats(&agent)["runningzones"], json!([]));
}

#[test]
fn a_failing_host_tool_is_a_502_with_its_words_and_is_not_cached() {
    let agent = TestAgent::start();
    std::fs::write(
        agent.host.join("faults"),
        r#"{"tool":"kstat","action":"fail","exit":3,"stderr":"kstat: kstat_open() failed: Resource temporarily unavailable"}"#,
    )
    .unwrap();
    let r = agent.get("/stats");
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert_eq!(r.body["code"], "host-command-failed");
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains("kstat_open() failed"), "{message}");
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    assert_eq!(agent.get("/stats").status, 200);
}
