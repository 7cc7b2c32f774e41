//! `/monitoring/*` and `/metrics` as the Zoneweaver UI reads them: after `POST
//! /monitoring/collect` every route answers the keys the UI reads (zoneweaver-ui-calls.json)
//! with the emulated host's figures; rates come from two samples; retention prunes old rows;
//! `/metrics` parses with the official Prometheus Python parser and counts zones by state.
//!
//! The harness starts agents with `monitoring.enabled: false`, so every sample here is one a
//! test asked for.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::{host, Response, TestAgent};

const GIB: u64 = 1 << 30;

fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn collect(agent: &TestAgent) -> Value {
    let b = ok(agent.post("/monitoring/collect", json!({"type": "all"})));
    assert_eq!(b["success"], true, "{b}");
    b
}

fn completed(agent: &TestAgent, r: Response) {
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
}

/// A JSON path such as `faultStatus.hasFaults`.
fn has(v: &Value, path: &str) -> bool {
    path.split('.').try_fold(v, |v, k| v.get(k)).is_some()
}

fn rfc3339_ago(secs: u64) -> String {
    let t = SystemTime::now() - Duration::from_secs(secs);
    let d = t.duration_since(UNIX_EPOCH).unwrap();
    // Days to a civil date (Howard Hinnant's algorithm), enough for a query parameter.
    let days = (d.as_secs() / 86_400) as i64;
    let s = d.as_secs() % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Moves the emulated host's boot `secs` seconds into the past: its counters grow with the
/// time since boot, so this is time passing on the host without a sleep.
fn age_host(agent: &TestAgent, secs: u64) {
    let path = agent.host.join("state");
    let mut st: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let boot = st["system"]["boot_time"].as_u64().unwrap();
    st["system"]["boot_time"] = json!(boot - secs);
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
}

#[test]
fn after_a_collect_every_route_answers_what_the_ui_reads_from_the_host() {
    let agent = TestAgent::start();
    let c = collect(&agent);
    assert!(c["results"]["rows"]["cpu"] == 1, "{c}");
    assert!(c["results"]["duration_ms"].is_u64(), "{c}");
    assert!(c["results"]["cpu_ms"].is_number(), "{c}");
    let since = rfc3339_ago(3600);

    // The keys of zoneweaver-ui-calls.json's `reads`, with the query keys the UI sends.
    let health = ok(agent.get("/monitoring/health"));
    for k in [
        "status",
        "networkErrors",
        "storageErrors",
        "reboot_required",
        "reboot_info",
        "faultStatus.hasFaults",
        "faultStatus.faultCount",
    ] {
        assert!(has(&health, k), "{k} missing from {health}");
    }
    // Sampling is off in the harness: the sampler is not running, and says so.
    assert_eq!(health["status"], "stopped", "{health}");
    let status = ok(agent.get("/monitoring/status"));
    assert_eq!(status["isRunning"], false, "{status}");
    assert_eq!(status["isInitialized"], true, "{status}");
    assert_eq!(status["stats"]["samples"], 1, "{status}");

    // CPU: the emulator's 8 processors spend 5% in user, 3% + 0.5% in kernel and interrupts
    // since boot, which is what a first sample measures.
    let cpu = ok(agent.get(&format!(
        "/monitoring/system/cpu?limit=10&since={since}&include_cores=true"
    )));
    let row = &cpu["cpu"][0];
    assert_eq!(row["cpu_count"], 8, "{cpu}");
    assert_eq!(row["user_pct"], 5.0, "{cpu}");
    assert_eq!(row["system_pct"], 3.5, "{cpu}");
    assert_eq!(row["cpu_utilization_pct"], 8.5, "{cpu}");
    assert_eq!(row["per_core_parsed"].as_array().unwrap().len(), 8, "{cpu}");
    assert_eq!(row["load_avg_1min"], 31.0 / 256.0, "{cpu}");
    let latest = ok(agent.get("/monitoring/system/cpu"));
    assert!(
        latest["cpu"][0].get("per_core_parsed").is_none(),
        "{latest}"
    );
    let cores = ok(agent.get("/monitoring/system/cpu/cores"));
    assert_eq!(
        cores["cpu"][0]["per_core_parsed"].as_array().unwrap().len(),
        8
    );

    // Memory: 64 GiB with a quarter in use; swap -s's 16 GiB with 1.25 GiB used.
    let mem = ok(agent.get(&format!("/monitoring/system/memory?limit=10&since={since}")));
    let m = &mem["memory"][0];
    assert_eq!(m["total_memory_bytes"], 64 * GIB, "{mem}");
    assert_eq!(m["free_memory_bytes"], 48 * GIB, "{mem}");
    assert_eq!(m["swap_total_bytes"], 16 * GIB, "{mem}");
    assert_eq!(m["swap_used_bytes"], GIB + GIB / 4, "{mem}");

    // ARC: zfs:0:arcstats' size and its 90% hit ratio.
    let arc = ok(agent.get(&format!("/monitoring/storage/arc?limit=10&since={since}")));
    assert_eq!(arc["arc"][0]["arc_size"], 12 * GIB, "{arc}");
    assert_eq!(arc["arc"][0]["hit_ratio"], 90.0, "{arc}");

    // Links: every datalink dladm lists, with kstat's counters.
    let links: Vec<String> = host(&agent, "dladm", &["show-link", "-p", "-o", "LINK"])
        .lines()
        .map(str::to_owned)
        .collect();
    let usage = ok(agent.get(&format!(
        "/monitoring/network/usage?since={since}&limit=10&per_interface=true"
    )));
    let used: Vec<&str> = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["link"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = links.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(used, want, "{usage}");
    let igb0 = host(&agent, "kstat", &["-p", "link:0:igb0:rbytes64"]);
    let igb0: u64 = igb0.trim().split('\t').nth(1).unwrap().parse().unwrap();
    let row = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["link"] == "igb0")
        .unwrap();
    // Sampled before this read: never more than the host's counter now.
    assert!(row["rbytes"].as_u64().unwrap() <= igb0 && row["rbytes"].as_u64().unwrap() > 0);
    assert_eq!(row["interface_class"], "phys", "{row}");

    let ifs = ok(agent.get("/monitoring/network/interfaces"));
    let i = ifs["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["link"] == "igb0")
        .unwrap_or_else(|| panic!("{ifs}"));
    for k in [
        "state", "speed", "mtu", "class", "rbytes", "obytes", "ipackets", "opackets",
    ] {
        assert!(!i[k].is_null(), "{k}: {i}");
    }
    assert_eq!(ifs["totalCount"], links.len(), "{ifs}");
    let up = ok(agent.get("/monitoring/network/interfaces?state=up&link=igb"));
    assert!(up["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["state"] == "up"));

    let addrs = ok(agent.get("/monitoring/network/ipaddresses"));
    assert!(
        addrs["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["interface"] == "igb0" && a["ip_version"] == 4),
        "{addrs}"
    );
    let routes = ok(agent.get("/monitoring/network/routes"));
    let default: Vec<&Value> = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["is_default"] == true)
        .collect();
    assert_eq!(default.len(), 1, "{routes}");
    assert_eq!(default[0]["gateway"], "192.168.1.1", "{routes}");

    // Pools: zpool list's figures, and zpool iostat's.
    let size: u64 = host(&agent, "zpool", &["list", "-Hp", "-o", "size", "rpool"])
        .trim()
        .parse()
        .unwrap();
    let pools = ok(agent.get("/monitoring/storage/pools"));
    assert_eq!(pools["pools"][0]["pool"], "rpool", "{pools}");
    assert_eq!(pools["pools"][0]["size_bytes"], size, "{pools}");
    assert_eq!(pools["pools"][0]["health"], "ONLINE", "{pools}");
    let io_line = host(&agent, "zpool", &["iostat", "-Hp", "rpool"]);
    let io: Vec<u64> = io_line
        .trim()
        .split('\t')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let pio = ok(agent.get(&format!(
        "/monitoring/storage/pool-io?limit=10&per_pool=true&since={since}"
    )));
    let p = &pio["poolio"][0];
    assert_eq!(p["pool"], "rpool", "{pio}");
    assert_eq!(
        [
            &p["read_ops"],
            &p["write_ops"],
            &p["read_bandwidth_bytes"],
            &p["write_bandwidth_bytes"]
        ],
        [&json!(io[2]), &json!(io[3]), &json!(io[4]), &json!(io[5])],
        "{pio}"
    );
    let ds = ok(agent.get("/monitoring/storage/datasets"));
    assert!(
        ds["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "rpool"),
        "{ds}"
    );
    for (path, key) in [
        (
            format!("/monitoring/storage/disk-io?limit=10&per_device=true&since={since}"),
            "diskio",
        ),
        ("/monitoring/storage/disks".to_owned(), "disks"),
    ] {
        let b = ok(agent.get(&path));
        assert!(b[key].is_array(), "{path}: {b}");
    }
    for path in ["/monitoring/summary", "/monitoring/host"] {
        ok(agent.get(path));
    }
    assert_eq!(
        ok(agent.get("/monitoring/host"))["hostname"],
        host(&agent, "uname", &["-n"]).trim()
    );
}

#[test]
fn unknown_query_keys_and_bad_values_are_refused_naming_them() {
    let agent = TestAgent::start();
    for (path, field) in [
        ("/monitoring/system/cpu?bogus=1", "bogus"),
        (
            "/monitoring/network/usage?per_interface=true&interval=5",
            "interval",
        ),
        ("/monitoring/storage/pool-io?limit=0", "limit"),
        ("/monitoring/system/memory?since=yesterday", "since"),
        ("/monitoring/network/routes?ip_version=5", "ip_version"),
    ] {
        let r = agent.get(path);
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{path}: {:?}", r.body);
    }
    let r = agent.post("/monitoring/collect", json!({"type": "network"}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "type");
    // Before any sample the series are empty, not errors.
    let cpu = ok(agent.get("/monitoring/system/cpu"));
    assert_eq!(cpu["cpu"], json!([]), "{cpu}");
}

#[test]
fn a_second_sample_has_rates_over_the_interval() {
    let agent = TestAgent::start();
    collect(&agent);
    // 100 s pass on the host between the two samples.
    age_host(&agent, 100);
    collect(&agent);
    let usage = ok(agent.get(&format!(
        "/monitoring/network/usage?since={}&link=igb0",
        rfc3339_ago(3600)
    )));
    let rows = usage["usage"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{usage}");
    assert!(rows[0]["rbytes_delta"].is_null(), "{usage}");
    // igb0 receives at least 12 000 bytes a second on the emulated host.
    assert!(
        rows[1]["rbytes_delta"].as_u64().unwrap() >= 100 * 12_000,
        "{usage}"
    );
    assert!(rows[1]["rx_bps"].as_f64().unwrap() > 0.0, "{usage}");
    assert!(
        rows[1]["time_delta_seconds"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    // The CPU shares of those 100 s are the emulator's fixed ones.
    let cpu = ok(agent.get("/monitoring/system/cpu"));
    assert_eq!(cpu["cpu"][0]["user_pct"], 5.0, "{cpu}");
    assert_eq!(cpu["cpu"][0]["idle_pct"], 91.5, "{cpu}");
    // Without `since`: the newest row of each link only.
    let latest = ok(agent.get("/monitoring/network/usage"));
    let n = latest["usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["link"] == "igb0")
        .count();
    assert_eq!(n, 1, "{latest}");
}

#[test]
fn retention_prunes_samples_older_than_configured() {
    let agent = TestAgent::start_with("monitoring:\n  enabled: false\n  retention_hours: 24\n");
    collect(&agent);
    let row = ok(agent.get("/monitoring/system/cpu"))["cpu"][0].clone();
    // Two older samples, as a sampler running then would have stored them: 25 and 23 hours
    // ago. The next sample deletes the first (older than 24 h) and keeps the second.
    let db = rusqlite::Connection::open(agent.data_dir().join("agent.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for hours in [25, 23] {
        let mut old = row.clone();
        old["scan_timestamp"] = json!(rfc3339_ago(hours * 3600));
        db.execute(
            "INSERT INTO monitoring_samples (kind, entity, taken_at, data) VALUES ('cpu', '', ?1, ?2)",
            rusqlite::params![now_ms - hours as i64 * 3_600_000, old.to_string()],
        )
        .unwrap();
    }
    drop(db);
    let c = collect(&agent);
    assert_eq!(c["results"]["pruned"], 1, "{c}");
    let cpu = ok(agent.get(&format!(
        "/monitoring/system/cpu?since={}&limit=100",
        rfc3339_ago(3 * 86_400)
    )));
    let stamps: Vec<&str> = cpu["cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scan_timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(stamps.len(), 3, "{cpu}");
    assert!(
        stamps[0].starts_with(&rfc3339_ago(23 * 3600)[..13]),
        "{stamps:?}"
    );
    // `limit` thins a range evenly and keeps the newest.
    let two = ok(agent.get(&format!(
        "/monitoring/system/cpu?since={}&limit=2",
        rfc3339_ago(3 * 86_400)
    )));
    let got: Vec<&str> = two["cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scan_timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(got, [stamps[0], stamps[2]], "{two}");
}

/// The families of a metrics exposition as the official Python client's parser reads them:
/// the Prometheus text format 0.0.4 parser, or the strict OpenMetrics one. Never skipped:
/// `scripts/install-test-deps` installs prometheus_client, and CI runs it.
fn python_parse(text: &str, openmetrics: bool) -> Vec<Value> {
    let module = if openmetrics {
        "prometheus_client.openmetrics.parser"
    } else {
        "prometheus_client.parser"
    };
    let script = format!(
        "import json, sys\nfrom {module} import text_string_to_metric_families as parse\n\
         out = [{{'name': f.name, 'type': f.type, 'samples': [{{'name': s.name, 'labels': s.labels, 'value': s.value}} for s in f.samples]}} for f in parse(sys.stdin.read())]\n\
         print(json.dumps(out))\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (run scripts/install-test-deps)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the text (or prometheus_client is missing: run \
         scripts/install-test-deps): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn family<'a>(families: &'a [Value], name: &str) -> Option<&'a Value> {
    families.iter().find(|f| f["name"] == name)
}

/// The value of the sample of family `name` whose labels include `labels`.
fn sample(families: &[Value], name: &str, labels: Value) -> Option<f64> {
    let f = family(families, name)?;
    f["samples"].as_array().unwrap().iter().find_map(|s| {
        let l = s["labels"].as_object().unwrap();
        labels
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| l.get(k) == Some(v))
            .then(|| s["value"].as_f64().unwrap())
    })
}

fn scrape(agent: &TestAgent) -> Vec<Value> {
    let r = agent.get("/metrics");
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap().to_owned();
    let families = python_parse(&text, false);
    // Every sample belongs to a family its `# TYPE` line declared: the 0.0.4 parser files a
    // sample its TYPE line does not name as an untyped family of its own.
    for f in &families {
        assert_ne!(f["type"], "unknown", "{f}\n{text}");
        assert_ne!(f["type"], "untyped", "{f}\n{text}");
    }
    families
}

#[test]
fn metrics_parse_with_the_prometheus_parser_and_count_zones_by_state() {
    let agent = TestAgent::start();
    completed(
        &agent,
        agent.post("/zones", json!({"name": "m1", "brand": "bhyve"})),
    );
    collect(&agent);
    let families = scrape(&agent);
    // Counters are typed with their `_total` samples (the parser names the family without).
    let requests = family(&families, "zoneweaver_http_requests").expect("http_requests");
    assert_eq!(requests["type"], "counter");
    assert!(requests["samples"][0]["name"]
        .as_str()
        .unwrap()
        .ends_with("_total"));
    assert_eq!(
        sample(
            &families,
            "zoneweaver_zones",
            json!({"state": "installed", "brand": "bhyve"})
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&families, "zoneweaver_zones", json!({"state": "running"})),
        None
    );
    assert_eq!(
        sample(
            &families,
            "zoneweaver_tasks",
            json!({"status": "completed"})
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&families, "zoneweaver_task_queue_depth", json!({})),
        Some(0.0)
    );
    assert_eq!(
        sample(&families, "zoneweaver_host_memory_total_bytes", json!({})),
        Some((64 * GIB) as f64)
    );
    assert_eq!(
        sample(&families, "zoneweaver_host_swap_total_bytes", json!({})),
        Some((16 * GIB) as f64)
    );
    assert_eq!(
        sample(&families, "zoneweaver_host_arc_size_bytes", json!({})),
        Some((12 * GIB) as f64)
    );
    assert_eq!(
        sample(
            &families,
            "zoneweaver_host_cpu_utilization_percent",
            json!({})
        ),
        Some(8.5)
    );
    assert!(sample(
        &families,
        "zoneweaver_host_pool_size_bytes",
        json!({"pool": "rpool"})
    )
    .is_some());
    assert_eq!(
        sample(
            &families,
            "zoneweaver_host_pool_health",
            json!({"pool": "rpool", "health": "ONLINE"})
        ),
        Some(1.0)
    );

    // The zone boots: the gauges follow at the next scrape.
    completed(&agent, agent.post("/zones/m1/start", json!({})));
    let families = scrape(&agent);
    assert_eq!(
        sample(
            &families,
            "zoneweaver_zones",
            json!({"state": "running", "brand": "bhyve"})
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&families, "zoneweaver_zones", json!({"state": "installed"})),
        None
    );

    // The OpenMetrics form, as Prometheus asks for it, passes the strict OpenMetrics parser.
    let r = agent.request_with(
        "GET",
        "/metrics",
        Some(&agent.key),
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
        None,
    );
    let om = python_parse(r.body.as_str().unwrap(), true);
    assert_eq!(
        family(&om, "zoneweaver_http_requests").unwrap()["type"],
        "counter"
    );
    assert!(family(&om, "zoneweaver_zones").is_some());
}

#[test]
fn host_metrics_are_absent_before_the_first_sample() {
    let agent = TestAgent::start();
    let families = scrape(&agent);
    assert!(family(&families, "zoneweaver_host_memory_total_bytes").is_none());
    assert!(family(&families, "zoneweaver_task_queue_depth").is_some());
}

#[test]
fn an_enabled_sampler_samples_on_its_interval_without_being_asked() {
    let agent = TestAgent::start_with("monitoring:\n  enabled: true\n  interval_secs: 1\n");
    let status = ok(agent.get("/monitoring/status"));
    assert_eq!(status["isRunning"], true, "{status}");
    assert_eq!(status["config"]["interval_secs"], 1, "{status}");
    // Two timed samples: the second has rates against the first.
    agent.eventually(
        "two timed samples",
        || ok(agent.get("/monitoring/status"))["stats"]["samples"].as_u64(),
        |n| n.is_some_and(|n| n >= 2),
    );
    let usage = ok(agent.get(&format!(
        "/monitoring/network/usage?since={}",
        rfc3339_ago(3600)
    )));
    assert!(
        usage["usage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["time_delta_seconds"].is_number()),
        "{usage}"
    );
    let health = ok(agent.get("/monitoring/health"));
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["recentActivity"]["network"], true, "{health}");
    // The sampler's commands carry no request's origin: they are its own.
    let sampled = agent
        .invocations()
        .into_iter()
        .filter(|i| i["argv"][0] == "swap")
        .collect::<Vec<_>>();
    assert!(!sampled.is_empty());
    assert!(
        sampled
            .iter()
            .all(|i| i["origin"].as_str().unwrap_or("").is_empty()),
        "{sampled:?}"
    );
}

#[test]
fn a_host_without_datalinks_lists_no_interfaces_rather_than_failing() {
    let agent = TestAgent::start();
    // kstat exits 1 when no statistic matches, as it would for `link:0::*` here.
    let path = agent.host.join("state");
    let mut st: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    st["links"] = json!({});
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    let ifs = ok(agent.get("/monitoring/network/interfaces"));
    assert_eq!(ifs["interfaces"], json!([]), "{ifs}");
    assert_eq!(ifs["totalCount"], 0, "{ifs}");
}

/// A sample reads everything it takes from kstat (CPU, memory pages, links, ARC, disks) in one
/// `kstat -p`: the emulator's invocation log shows one per sample, the disks included.
#[test]
fn a_sample_runs_one_kstat_process() {
    let agent = TestAgent::start();
    let kstats = || {
        agent
            .invocations()
            .into_iter()
            .filter(|i| i["argv"][0] == "kstat")
            .map(|i| i["argv"].to_string())
            .collect::<Vec<_>>()
    };
    // The first sample may also read what is cached for longer (the host's facts).
    collect(&agent);
    for _ in 0..2 {
        let before = kstats().len();
        let b = collect(&agent);
        assert!(b["results"]["rows"]["disk_io"].as_u64() > Some(0), "{b}");
        let ran = kstats().split_off(before);
        assert_eq!(ran.len(), 1, "kstat processes for one sample: {ran:#?}");
        assert!(
            ran[0].contains("sd:::reads") && ran[0].contains("cpu::sys:cpu_nsec_user"),
            "{}",
            ran[0]
        );
    }
}

/// Per-disk figures: each sample stores every disk's kstat I/O counters (`sd`, `blkdev`;
/// partitions left out), with rates against the sample before; `/disks` lists the disks with
/// what the sd error kstat says of the drive.
#[test]
fn each_sample_stores_every_disks_io_and_the_disks_are_listed_with_their_identity() {
    let agent = TestAgent::start();
    let first = ok(agent.post("/monitoring/collect", json!({"type": "all"})));
    assert_eq!(first["results"]["rows"]["disk_io"], 3, "{first}");
    ok(agent.post("/monitoring/collect", json!({"type": "all"})));
    let io =
        ok(agent.get("/monitoring/storage/disk-io?device=sd0&limit=10&since=2000-01-01T00:00:00Z"));
    let rows = io["diskio"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{io}");
    assert!(rows.iter().all(|r| r["device_name"] == "sd0"), "{io}");
    // The first sample has nothing to compare with; the second has its rates.
    assert!(rows[0]["read_ops_per_sec"].is_null(), "{io}");
    assert!(
        rows[1]["time_delta_seconds"].as_f64().unwrap() > 0.0,
        "{io}"
    );
    assert!(rows[1]["reads"].as_u64().unwrap() >= rows[0]["reads"].as_u64().unwrap());
    let kstat = host(&agent, "kstat", &["-p", "sd:0:sd0:reads"]);
    let now: u64 = kstat
        .trim_end()
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(rows[1]["reads"].as_u64().unwrap() <= now, "{io} {kstat}");
    let all = ok(agent.get("/monitoring/storage/disk-io?per_device=true"));
    let mut names: Vec<&str> = all["diskio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["device_name"].as_str().unwrap())
        .collect();
    names.dedup();
    assert_eq!(names, ["blkdev0", "sd0", "sd1"], "{all}");

    let d = ok(agent.get("/monitoring/storage/disks"));
    assert_eq!(d["totalCount"], 3, "{d}");
    let sd0 = &d["disks"][1];
    assert_eq!(sd0["device_name"], "sd0");
    let serial = host(&agent, "kstat", &["-p", "sderr:0:sd0,err:Serial No"]);
    assert_eq!(
        sd0["serial_number"],
        serial.trim_end().split('\t').nth(1).unwrap()
    );
    assert_eq!(sd0["capacity_bytes"], 500_107_862_016u64);
    let nvme = ok(agent.get("/monitoring/storage/disks?type=blkdev"));
    assert_eq!(nvme["disks"][0]["device_name"], "blkdev0", "{nvme}");
    let bad = agent.get("/monitoring/storage/disk-io?device=sd0&interval=5");
    assert_eq!((bad.status, &bad.body["field"]), (400, &json!("interval")));
}
