//! Zones through the real binary on the emulated host: every example of the spec, the error
//! cases, rollback at each stage, crash recovery, concurrency and injection.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::{dump, host, TestAgent};

fn faults(agent: &TestAgent, rules: &[Value]) {
    let text: String = rules.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(agent.host.join("faults"), text).unwrap();
}

fn create(agent: &TestAgent, body: Value) -> Value {
    let r = agent.post("/zones", body);
    assert_eq!(r.status, 202, "{:?}", r.body);
    agent.wait(r.body["task_id"].as_str().unwrap())
}

fn completed(t: &Value) {
    assert_eq!(t["status"], "completed", "{t:?}");
}

fn zone(agent: &TestAgent, name: &str) -> Value {
    let r = agent.get(&format!("/zones/{name}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn mutating(inv: &[Value]) -> Vec<String> {
    inv.iter()
        .map(|i| {
            i["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !(l.contains(" list") || l.starts_with("zfs get") || l.ends_with(" export")))
        .collect()
}

#[test]
fn a_minimal_zone_is_created_with_one_zonecfg_file() {
    let agent = TestAgent::start();
    let r = agent.post("/zones", json!({"name": "test-vm-01", "brand": "bhyve"}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    for (k, v) in [
        ("success", json!(true)),
        ("zone_name", json!("test-vm-01")),
        ("operation", json!("zone_create")),
        ("status", json!("pending")),
        ("message", json!("Zone creation task queued successfully")),
    ] {
        assert_eq!(r.body[k], v, "{k}");
    }
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    completed(&t);
    assert_eq!(t["progress_percent"], 100);
    let zonecfg_calls: Vec<_> = mutating(&agent.invocations())
        .into_iter()
        .filter(|l| l.starts_with("zonecfg"))
        .collect();
    // The command file goes on zonecfg's stdin: no file to make and remove on the way (the
    // costliest step between two commands of a create), and no password on a disk.
    assert_eq!(zonecfg_calls, ["zonecfg -z test-vm-01 -f -"]);
    // The configuration is read back once, to check it landed; the task's settle finds that
    // read current (the file has not changed since) instead of exporting the zone again.
    let task = format!("task:{}", t["id"].as_str().unwrap());
    let exports = agent
        .invocations()
        .iter()
        .filter(|i| i["origin"] == task.as_str() && i["argv"][3] == "export")
        .count();
    assert_eq!(exports, 1, "{:?}", agent.invocations());
    let z = zone(&agent, "test-vm-01");
    // ... and what the zone's configuration answers is that read.
    let cfg = agent.get("/zones/test-vm-01/config");
    assert_eq!(
        cfg.body["configuration"]["brand"], "bhyve",
        "{:?}",
        cfg.body
    );
    let by_requests = agent
        .invocations()
        .iter()
        .filter(|i| {
            i["argv"][3] == "export"
                && i["origin"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("request:"))
        })
        .count();
    assert_eq!(by_requests, 0, "{:?}", agent.invocations());
    assert_eq!(z["state"], "installed");
    assert_eq!(z["brand"], "bhyve");
    assert_eq!(z["ip_type"], "exclusive");
    assert_eq!(z["managed"], true);
    assert_eq!(z["disks"], json!([]));
    assert!(host(&agent, "zoneadm", &["list", "-cp"]).contains(":test-vm-01:installed:"));
    // The list shows it, and the task reported every stage of the spec's table.
    let list = agent.get("/zones");
    assert!(list.body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .any(|z| z["name"] == "test-vm-01"));
    let out = agent
        .get(&format!("/tasks/{}/output", t["id"].as_str().unwrap()))
        .body;
    let text = out.to_string();
    for pct in [5, 10, 40, 50, 60, 70, 75, 80, 90, 95, 100] {
        assert!(text.contains(&format!("[{pct}%]")), "stage {pct}% missing");
    }
}

#[test]
fn a_zone_with_resources_boots_after_creation() {
    let agent = TestAgent::start();
    std::fs::create_dir_all(agent.host.join("root/iso")).unwrap();
    std::fs::write(agent.host.join("root/iso/omnios-r151050.iso"), b"iso").unwrap();
    let r = agent.post(
        "/zones",
        json!({
            "name": "web-server-01", "brand": "bhyve", "ram": "2G", "vcpus": "2",
            "diskif": "virtio", "netif": "virtio", "vnc": "on",
            "boot_volume": {"create_new": true, "pool": "rpool", "dataset": "zones",
                            "volume_name": "root", "size": "30G", "sparse": true},
            "nics": [{"physical": "vnic0", "global_nic": "igb0"}],
            "cdroms": [{"path": "/iso/omnios-r151050.iso"}],
            "cloud_init": {"enabled": "on", "dns_domain": "example.com", "password": "changeme",
                           "resolvers": "8.8.8.8,8.8.4.4", "sshkey": "ssh-rsa AAAAB3Nza user@host"},
            "start_after_create": true
        }),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        r.body["message"],
        "Zone creation task queued with auto-start"
    );
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    completed(&agent.wait(r.body["start_task_id"].as_str().unwrap()));
    let z = zone(&agent, "web-server-01");
    assert_eq!(z["state"], "running");
    assert_eq!(z["attributes"]["ram"], "2G");
    assert_eq!(
        z["attributes"]["bootdisk"],
        "rpool/zones/web-server-01/root"
    );
    assert_eq!(z["nics"][0]["physical"], "vnic0");
    assert_eq!(z["nics"][0]["global_nic"], "igb0");
    assert_eq!(z["cdroms"][0]["path"], "/iso/omnios-r151050.iso");
    assert_eq!(z["cloud_init"]["password_set"], true);
    assert_eq!(z["cloud_init"]["dns_domain"], "example.com");
    let text = z.to_string();
    assert!(!text.contains("changeme"), "the password was shown");
    let root = z["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "rpool/zones/web-server-01/root")
        .expect("boot volume listed");
    assert_eq!(root["type"], "volume");
    assert_eq!(root["owned"], true);
    let owner = host(
        &agent,
        "zfs",
        &[
            "get",
            "-H",
            "-o",
            "value",
            "zoneweaver:owner",
            "rpool/zones/web-server-01/root",
        ],
    );
    assert_eq!(owner.trim(), "web-server-01");
    // The on-demand VNIC exists while the zone runs.
    assert!(host(&agent, "dladm", &["show-vnic", "-p", "-o", "LINK"]).contains("vnic0"));
    // No secret in any task's metadata or output.
    let tasks = agent.get("/tasks?zone_name=web-server-01").body.to_string();
    assert!(!tasks.contains("changeme"));
    let out = agent
        .get(&format!(
            "/tasks/{}/output",
            r.body["task_id"].as_str().unwrap()
        ))
        .body;
    assert!(!out.to_string().contains("changeme"));
}

#[test]
fn duplicates_and_concurrent_creates_of_one_name_give_one_zone() {
    let agent = TestAgent::start();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    agent
                        .post("/zones", json!({"name": "dup", "brand": "bhyve"}))
                        .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        3,
        "{statuses:?}"
    );
    let r = agent.post("/zones", json!({"name": "dup", "brand": "bhyve"}));
    assert_eq!(r.status, 409);
    assert!(r.body["error"].as_str().unwrap().contains("already exists"));
}

#[test]
fn invalid_requests_are_400_naming_the_field_and_run_nothing() {
    let agent = TestAgent::start();
    let before = agent.invocations().len();
    // Hostile values in every field: tests/injection.rs.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "global", "brand": "bhyve"}), "name"),
        (
            json!({"name": "ok1", "brand": "bhyve", "colour": "red"}),
            "colour",
        ),
        (json!({"name": "ok1", "brand": "bhyve", "ram": 2}), "ram"),
    ];
    for (body, field) in cases {
        let r = agent.post("/zones", body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
    }
    let r = agent.request(
        "PUT",
        "/zones/ok1",
        Some(&agent.key),
        Some(&json!({"ram": "1G;reboot"})),
    );
    assert_eq!(r.status, 400);
    let after = agent.invocations();
    assert_eq!(
        after.len(),
        before,
        "a rejected request ran a host command: {:?}",
        &after[before..]
    );
}

#[test]
fn templates_are_cloned_or_copied_and_must_exist() {
    let agent = TestAgent::start();
    host(&agent, "zfs", &["create", "-p", "rpool/templates"]);
    host(
        &agent,
        "zfs",
        &["create", "-V", "1G", "rpool/templates/omnios-base"],
    );
    host(
        &agent,
        "zfs",
        &["snapshot", "rpool/templates/omnios-base@v1"],
    );
    let t = create(
        &agent,
        json!({"name": "from-template", "brand": "bhyve",
               "source": {"type": "template", "template_dataset": "rpool/templates/omnios-base", "clone_strategy": "clone"},
               "boot_volume": {"pool": "rpool", "dataset": "zones", "volume_name": "root", "size": "30G"}}),
    );
    completed(&t);
    let origin = host(
        &agent,
        "zfs",
        &[
            "get",
            "-H",
            "-o",
            "value",
            "origin",
            "rpool/zones/from-template/root",
        ],
    );
    assert_eq!(origin.trim(), "rpool/templates/omnios-base@v1");
    let t = create(
        &agent,
        json!({"name": "copied", "brand": "bhyve",
               "source": {"type": "template", "template_dataset": "rpool/templates/omnios-base@v1", "clone_strategy": "copy"}}),
    );
    completed(&t);
    let origin = host(
        &agent,
        "zfs",
        &[
            "get",
            "-H",
            "-o",
            "value",
            "origin",
            "rpool/zones/copied/root",
        ],
    );
    assert_eq!(origin.trim(), "-", "a copy is independent of the template");
    let r = agent.post(
        "/zones",
        json!({"name": "nope", "brand": "bhyve", "source": {"type": "template", "template_dataset": "rpool/templates/missing"}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "source.template_dataset");
}

/// The host's swap and dump devices, as OmniOS records them.
fn swap_and_dump_on(root: &std::path::Path) {
    std::fs::write(
        root.join("etc/vfstab"),
        "#device\tto fsck\n/dev/zvol/dsk/rpool/swap\t-\t-\tswap\t-\tno\t-\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/dumpadm.conf"),
        "DUMPADM_DEVICE=/dev/zvol/dsk/rpool/dump\n",
    )
    .unwrap();
}

/// Only volumes under the datasets the host's owner named, never the host's swap or dump
/// device, never another zone's unless shared volumes are allowed; media only from the media
/// directories, links followed. Each refusal is a 400 naming the field, and nothing runs.
#[test]
fn the_hosts_own_storage_and_files_are_not_handed_to_a_guest() {
    let agent = TestAgent::start();
    for v in ["rpool/swap", "rpool/dump", "rpool/vms/v"] {
        host(&agent, "zfs", &["create", "-p", "-V", "1G", v]);
    }
    host(
        &agent,
        "zfs",
        &["create", "-p", "-V", "1G", "rpool/zones/shared/v"],
    );
    let root = agent.host_path("root");
    swap_and_dump_on(&root);
    std::fs::create_dir_all(root.join("iso")).unwrap();
    std::fs::write(root.join("iso/ok.iso"), b"").unwrap();
    std::os::unix::fs::symlink("../etc/vfstab", root.join("iso/link.iso")).unwrap();
    let before = agent.invocations().len();

    let attach = |ds: &str| json!({"create_new": false, "existing_dataset": ds});
    let refused = |body: Value, field: &str, says: &str| {
        let r = agent.post("/zones", body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["field"], field, "{body}: {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap_or_default().contains(says)
                || r.body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(says),
            "{body}: {}",
            r.body
        );
    };
    for ds in ["rpool/swap", "rpool/dump", "rpool/vms/v", "rpool/zones"] {
        refused(
            json!({"name": "g1", "brand": "bhyve", "boot_volume": attach(ds)}),
            "boot_volume.existing_dataset",
            "zones.attachable_datasets",
        );
    }
    refused(
        json!({"name": "g1", "brand": "bhyve", "boot_volume": attach("rpool/zones/shared/v"), "force": true}),
        "force",
        "zones.allow_shared_volumes",
    );
    for (iso, says) in [
        ("/etc/vfstab", "zones.media_dirs"),
        ("/iso/link.iso", "zones.media_dirs"),
    ] {
        refused(
            json!({"name": "g1", "brand": "bhyve", "cdroms": [{"path": iso}]}),
            "cdroms[0].path",
            says,
        );
    }
    refused(
        json!({"name": "g1", "brand": "bhyve", "bootrom": "/etc/vfstab"}),
        "bootrom",
        "zones.media_dirs",
    );
    let ran: Vec<_> = agent.invocations()[before..]
        .iter()
        .filter(|i| i["origin"].as_str().is_some())
        .cloned()
        .collect();
    assert!(ran.is_empty(), "a refused request ran {ran:?}");

    // The host's swap and dump devices stay refused even under an allowed parent.
    drop(agent);
    let agent = TestAgent::start_with("zones:\n  attachable_datasets: [rpool]\n");
    let root = agent.host_path("root");
    host(&agent, "zfs", &["create", "-V", "1G", "rpool/swap"]);
    host(&agent, "zfs", &["create", "-V", "1G", "rpool/dump"]);
    swap_and_dump_on(&root);
    for (ds, says) in [("rpool/swap", "swap device"), ("rpool/dump", "dump device")] {
        let r = agent.post(
            "/zones",
            json!({"name": "g2", "brand": "bhyve", "boot_volume": attach(ds)}),
        );
        assert_eq!(r.status, 400, "{ds}: {}", r.body);
        assert!(r.body.to_string().contains(says), "{ds}: {}", r.body);
    }
    // What is allowed still works.
    let ok = agent.post(
        "/zones",
        json!({"name": "g2", "brand": "bhyve", "boot_volume": attach("rpool/swap2")}),
    );
    assert_eq!(ok.status, 400, "a missing volume: {}", ok.body);
    assert!(
        ok.body.to_string().contains("does not exist"),
        "{}",
        ok.body
    );
}

#[test]
fn an_existing_volume_in_use_needs_force() {
    let agent = TestAgent::start_with(
        "zones:\n  attachable_datasets: [rpool/zones, rpool/vms]\n  allow_shared_volumes: true\n",
    );
    host(&agent, "zfs", &["create", "-p", "rpool/vms/old-server"]);
    host(
        &agent,
        "zfs",
        &["create", "-V", "4G", "rpool/vms/old-server/root"],
    );
    let existing = json!({"create_new": false, "existing_dataset": "rpool/vms/old-server/root"});
    completed(&create(
        &agent,
        json!({"name": "migrated-vm", "brand": "bhyve", "ram": "4G", "vcpus": "4", "boot_volume": existing}),
    ));
    let t = create(
        &agent,
        json!({"name": "second", "brand": "bhyve", "boot_volume": existing}),
    );
    assert_eq!(t["status"], "failed");
    assert!(
        t["error_message"]
            .as_str()
            .unwrap()
            .contains("in use by zone migrated-vm"),
        "{t:?}"
    );
    assert_eq!(
        agent.get("/zones/second").status,
        404,
        "a failed create leaves no zone"
    );
    completed(&create(
        &agent,
        json!({"name": "second", "brand": "bhyve", "boot_volume": existing, "force": true}),
    ));
    let r = agent.post("/zones", json!({"name": "third", "brand": "bhyve", "boot_volume": {"create_new": false, "existing_dataset": "rpool/vms/none"}}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "boot_volume.existing_dataset");
}

#[test]
fn a_failure_at_each_stage_leaves_the_host_as_it_was() {
    let agent = TestAgent::start();
    host(&agent, "zfs", &["create", "-p", "rpool/templates"]);
    host(
        &agent,
        "zfs",
        &["create", "-V", "1G", "rpool/templates/base"],
    );
    host(&agent, "zfs", &["snapshot", "rpool/templates/base@v1"]);
    let before = dump(&agent);
    let rules = [
        json!({"tool": "zfs", "prefix": ["create"], "nth": 1, "action": "fail", "stderr": "cannot create 'x': out of space"}),
        json!({"tool": "zfs", "prefix": ["clone"], "action": "fail", "stderr": "cannot create 'x': out of space"}),
        json!({"tool": "zonecfg", "contains": "-f", "action": "fail", "stderr": "On line 3 of FILE:\nzonecfg: invalid"}),
        json!({"tool": "zoneadm", "contains": "install", "action": "fail", "stderr": "zoneadm: zone 'x': install failed"}),
        json!({"tool": "zfs", "prefix": ["set"], "action": "fail", "stderr": "cannot set property: permission denied"}),
    ];
    for (i, rule) in rules.iter().enumerate() {
        faults(&agent, std::slice::from_ref(rule));
        let t = create(
            &agent,
            json!({"name": format!("fail{i}"), "brand": "bhyve",
                   "source": {"type": "template", "template_dataset": "rpool/templates/base"},
                   "nics": [{"physical": "vnic0", "global_nic": "igb0"}]}),
        );
        assert_eq!(t["status"], "failed", "rule {rule}: {t:?}");
        let stderr = rule["stderr"].as_str().unwrap().lines().last().unwrap();
        assert!(
            t["error_message"].as_str().unwrap().contains(stderr),
            "{t:?}"
        );
        faults(&agent, &[]);
        assert_eq!(dump(&agent), before, "rule {rule} left the host changed");
        assert_eq!(agent.get(&format!("/zones/fail{i}")).status, 404);
    }
}

#[test]
fn a_crash_during_create_is_undone_at_restart() {
    let mut agent = TestAgent::start();
    let before = dump(&agent);
    faults(
        &agent,
        &[json!({"tool": "zoneadm", "contains": "install", "action": "hang"})],
    );
    let r = agent.post(
        "/zones",
        json!({"name": "crashy", "brand": "bhyve", "boot_volume": {"size": "10G"}}),
    );
    let id = r.body["task_id"].as_str().unwrap().to_owned();
    agent.eventually(
        "install running",
        || agent.get(&format!("/tasks/{id}")).body["progress_percent"].clone(),
        |p| p == 90,
    );
    agent.kill();
    faults(&agent, &[]);
    // The hung zoneadm was the agent's child; it would die with a real pfexec session too.
    let _ = Command::new("pkill")
        .args(["-f", "zoneadm -z crashy install"])
        .status();
    agent.launch();
    let t = agent.wait(&id);
    assert_eq!(t["status"], "failed");
    assert!(t["error_message"]
        .as_str()
        .unwrap()
        .contains("agent restarted"));
    assert_eq!(
        dump(&agent),
        before,
        "the interrupted create was not undone"
    );
}

/// A modify whose settle cannot read the zone's configuration back (one failed `zonecfg
/// export`) still shows the change to the next read, which exports the zone again, instead of
/// the configuration from before.
#[test]
fn a_change_is_read_again_when_the_settle_could_not_export_it() {
    let agent = TestAgent::start();
    completed(&create(
        &agent,
        json!({"name": "web", "brand": "bhyve", "ram": "1G", "nics": [{"physical": "vnic0", "global_nic": "igb0"}]}),
    ));
    assert_eq!(zone(&agent, "web")["attributes"]["ram"], "1G");
    crate::network::set_faults(
        &agent,
        r#"{"tool":"zonecfg","prefix":["-z","web","export"],"nth":3,"action":"fail","stderr":"zonecfg: Could not open file: Resource temporarily unavailable"}"#,
    );
    let r = agent.request(
        "PUT",
        "/zones/web",
        Some(&agent.key),
        Some(&json!({"ram": "4G"})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let failed_exports = agent
        .invocations()
        .iter()
        .filter(|i| i["argv"] == json!(["zonecfg", "-z", "web", "export"]) && i["exit"] != 0)
        .count();
    assert_eq!(failed_exports, 1, "the settle's export failed once");
    assert_eq!(zone(&agent, "web")["attributes"]["ram"], "4G");
}

#[test]
fn modify_queues_changes_for_the_next_boot() {
    let agent = TestAgent::start();
    completed(&create(
        &agent,
        json!({"name": "web", "brand": "bhyve", "ram": "1G", "nics": [{"physical": "vnic0", "global_nic": "igb0"}]}),
    ));
    // Installed zone: applied, no restart needed.
    let r = agent.request(
        "PUT",
        "/zones/web",
        Some(&agent.key),
        Some(&json!({"ram": "4G", "vcpus": "4", "vnc": "on"})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["operation"], "zone_modify");
    assert_eq!(r.body["requires_restart"], false);
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(zone(&agent, "web")["attributes"]["ram"], "4G");
    // Running zone: applied to the configuration, pending until a reboot.
    let r = agent.post("/zones/web/start", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let r = agent.request(
        "PUT",
        "/zones/web",
        Some(&agent.key),
        Some(&json!({"add_nics": [{"physical": "vnic1", "global_nic": "igb0"}], "remove_nics": ["vnic0"],
                      "add_disks": [{"create_new": true, "pool": "rpool", "dataset": "zones", "volume_name": "data", "size": "10G"}]})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["requires_restart"], true);
    assert_eq!(
        r.body["message"],
        "Modification queued. Changes will take effect on next zone boot."
    );
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let z = zone(&agent, "web");
    assert_eq!(z["requires_restart"], true);
    assert_eq!(
        z["pending_changes"].as_array().unwrap().len(),
        3,
        "{:?}",
        z["pending_changes"]
    );
    // One key, one meaning: the detail lists the changes; the list counts them.
    let raw = agent.get_text("/zones/web");
    assert_eq!(raw.matches("\"pending_changes\"").count(), 1, "{raw}");
    let listed = agent.get("/zones");
    assert_eq!(
        listed.body["zones"][0]["pending_changes"], 3,
        "{:?}",
        listed.body
    );
    assert_eq!(z["nics"][0]["physical"], "vnic1");
    assert_eq!(z["disks"][0]["slot"], "disk0");
    assert_eq!(z["disks"][0]["dataset"], "rpool/zones/web/data");
    let r = agent.post("/zones/web/restart", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let z = zone(&agent, "web");
    assert_eq!(z["requires_restart"], false);
    assert_eq!(z["pending_changes"], json!([]));
    // Remove the disk again; its volume stays.
    let r = agent.request(
        "PUT",
        "/zones/web",
        Some(&agent.key),
        Some(&json!({"remove_disks": ["disk0"]})),
    );
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(zone(&agent, "web")["disks"], json!([]));
    host(&agent, "zfs", &["list", "rpool/zones/web/data"]);
}

#[test]
fn modify_errors() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "m1", "brand": "bhyve"})));
    let put = |path: &str, body: Value| agent.request("PUT", path, Some(&agent.key), Some(&body));
    let r = put("/zones/m1", json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "No modification fields specified");
    assert_eq!(put("/zones/nosuch", json!({"ram": "1G"})).status, 404);
    let r = put("/zones/m1", json!({"remove_nics": ["vnic9"]}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "remove_nics[0]");
    // Optimistic concurrency with the ETag.
    let etag = agent.get("/zones/m1").header("etag").unwrap().to_owned();
    let r = put("/zones/m1", json!({"ram": "2G"}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let req = ureq_put_if_match(&agent, "/zones/m1", &etag, json!({"ram": "3G"}));
    assert_eq!(req, 412);
    let fresh = agent.get("/zones/m1").header("etag").unwrap().to_owned();
    assert_eq!(
        ureq_put_if_match(&agent, "/zones/m1", &fresh, json!({"ram": "3G"})),
        202
    );
}

fn ureq_put_if_match(agent: &TestAgent, path: &str, etag: &str, body: Value) -> u16 {
    agent
        .request_with(
            "PUT",
            path,
            Some(&agent.key),
            &[("If-Match", etag)],
            Some(&body),
        )
        .status
}

#[test]
fn lifecycle_requests_already_satisfied_run_nothing() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "lc", "brand": "bhyve"})));
    let r = agent.post("/zones/lc/stop", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Zone is already stopped");
    let r = agent.post("/zones/lc/start", json!({}));
    assert_eq!(r.status, 202);
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(zone(&agent, "lc")["state"], "running");
    let r = agent.post("/zones/lc/start", json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Zone is already running");
    let r = agent.post("/zones/lc/stop", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(zone(&agent, "lc")["state"], "installed");
    let r = agent.post("/zones/lc/restart", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let r = agent.post("/zones/lc/halt", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(zone(&agent, "lc")["state"], "installed");
    assert_eq!(agent.post("/zones/none/start", json!({})).status, 404);
}

#[test]
fn a_stop_cancels_a_pending_start() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "sc", "brand": "bhyve"})));
    // Hold the zone's queue with a long task so the start stays pending.
    let blocker = agent.noop(json!({"zone_name": "sc", "duration_ms": 2000}));
    let start = agent.post("/zones/sc/start", json!({}));
    assert_eq!(start.status, 202);
    let stop = agent.post("/zones/sc/stop", json!({}));
    let start_task = agent.wait(start.body["task_id"].as_str().unwrap());
    assert_eq!(start_task["status"], "cancelled");
    assert!(start_task["error_message"]
        .as_str()
        .unwrap()
        .contains("zone_stop"));
    agent.wait(&blocker);
    if stop.status == 202 {
        completed(&agent.wait(stop.body["task_id"].as_str().unwrap()));
    }
    assert_eq!(zone(&agent, "sc")["state"], "installed");
}

#[test]
fn delete_keeps_datasets_unless_asked_and_never_destroys_attached_ones() {
    let agent = TestAgent::start_with("zones:\n  attachable_datasets: [rpool/vms]\n");
    host(&agent, "zfs", &["create", "-p", "rpool/vms/shared"]);
    host(
        &agent,
        "zfs",
        &["create", "-V", "1G", "rpool/vms/shared/backup-vol"],
    );
    completed(&create(
        &agent,
        json!({"name": "keep", "brand": "bhyve", "boot_volume": {"size": "10G"}}),
    ));
    completed(&create(
        &agent,
        json!({"name": "clean", "brand": "bhyve", "boot_volume": {"size": "10G"}}),
    ));
    let r = agent.request("PUT", "/zones/clean", Some(&agent.key), Some(&json!({"add_disks": [{"create_new": false, "existing_dataset": "rpool/vms/shared/backup-vol"}]})));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    let r = agent.post("/zones/clean/start", json!({}));
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));

    let r = agent.delete("/zones/keep");
    assert_eq!(r.status, 202);
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(agent.get("/zones/keep").status, 404);
    host(&agent, "zfs", &["list", "rpool/zones/keep/root"]);

    let r = agent.delete("/zones/clean?cleanup_datasets=true");
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    completed(&t);
    assert_eq!(agent.get("/zones/clean").status, 404);
    let all = host(&agent, "zfs", &["list", "-H", "-o", "name", "-r", "rpool"]);
    assert!(!all.contains("rpool/zones/clean"), "{all}");
    assert!(
        all.contains("rpool/vms/shared/backup-vol"),
        "an attached volume was destroyed"
    );
    assert!(!host(&agent, "zoneadm", &["list", "-cp"]).contains(":clean:"));
}

#[test]
fn force_delete_forgets_a_zone_whose_host_side_is_gone() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "gone", "brand": "bhyve"})));
    assert_eq!(agent.delete("/zones/gone/force").status, 409);
    host(&agent, "zoneadm", &["-z", "gone", "uninstall", "-F"]);
    host(&agent, "zonecfg", &["-z", "gone", "delete", "-F"]);
    let r = agent.delete("/zones/gone/force");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(agent.get("/zones/gone").status, 404);
    assert_eq!(agent.delete("/zones/gone/force").status, 404);
}

#[test]
fn zones_made_outside_the_agent_are_listed() {
    let agent = TestAgent::start();
    host(
        &agent,
        "zonecfg",
        &[
            "-z",
            "handmade",
            "create -b; set zonepath=/rpool/zones/handmade; set brand=bhyve; set ip-type=exclusive",
        ],
    );
    let list = agent.get("/zones?brand=bhyve");
    let z = list.body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == "handmade")
        .cloned()
        .expect("listed");
    assert_eq!(z["managed"], false);
    assert_eq!(z["state"], "configured");
    assert_eq!(agent.get("/zones?state=running").body["total"], 0);
}

/// An agent listing one zone made by hand, then a `zoneadm list` fault: the first answer of the
/// list that is not a 200.
fn list_once_the_host_misbehaves(agent: &TestAgent, fault: Value) -> (u16, Value) {
    host(
        agent,
        "zonecfg",
        &[
            "-z",
            "kept",
            "create -b; set zonepath=/rpool/zones/kept; set brand=bhyve; set ip-type=exclusive",
        ],
    );
    assert_eq!(agent.get("/zones").body["total"], 1);
    faults(agent, &[fault]);
    agent.eventually(
        "the list answers the host's trouble",
        || {
            let r = agent.get("/zones");
            (r.status, r.body)
        },
        |(status, _)| *status != 200,
    )
}

/// Waits until the list answers again with its one zone.
fn listed_again(agent: &TestAgent) {
    agent.eventually(
        "the zones are listed again once the host answers",
        || {
            let r = agent.get("/zones");
            (r.status, r.body["total"].clone())
        },
        |(status, total)| *status == 200 && *total == json!(1),
    );
}

fn says(answer: &(u16, Value), what: &str) -> bool {
    answer.0 == 502 && answer.1["error"].as_str().is_some_and(|e| e.contains(what))
}

/// A host whose `zoneadm list` keeps failing is not shown as it last was for ever: once a
/// background refresh has failed and the listing has aged past twice its refresh time, the list
/// answers the host's failure (502), and the zones again once the host answers.
#[test]
fn the_zone_list_answers_the_hosts_failure_once_refreshes_keep_failing() {
    let agent = TestAgent::start();
    let failed = list_once_the_host_misbehaves(
        &agent,
        json!({"tool": "zoneadm", "prefix": ["list"], "action": "fail",
               "stderr": "zoneadm: failed to get zone list: I/O error"}),
    );
    assert!(says(&failed, "I/O error"), "{failed:?}");
    faults(&agent, &[]);
    // A refresh that read the fault file before it was emptied may still fail once.
    listed_again(&agent);
}

/// A `zoneadm list` that hangs is not waited for by every read, nor hidden behind the last
/// listing: once it has run past the hang limit (10 s) and the listing is twice as old as the
/// spacing allows, the list answers that the host has not answered (502); after the command
/// ends, the zones again.
#[test]
fn the_zone_list_says_so_when_the_hosts_listing_hangs() {
    let agent = TestAgent::start();
    let hung = list_once_the_host_misbehaves(
        &agent,
        json!({"tool": "zoneadm", "prefix": ["list"], "nth": 1, "action": "hang", "ms": 15000,
               "stderr": "zoneadm: interrupted"}),
    );
    assert!(says(&hung, "has not answered"), "{hung:?}");
    listed_again(&agent);
}

/// The list is served from what the agent last read, but never after the agent's own change:
/// a modify shows at once; a change made outside the agent shows once its TTL has passed.
#[test]
fn the_zone_list_is_fresh_after_the_agents_own_changes() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "fresh1", "brand": "bhyve"})));
    let autoboot = |agent: &TestAgent| {
        agent.get("/zones").body["zones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["name"] == "fresh1")
            .map(|z| z["autoboot"].clone())
            .unwrap()
    };
    assert_eq!(autoboot(&agent), false);
    assert_eq!(autoboot(&agent), false);
    let r = agent.request(
        "PUT",
        "/zones/fresh1",
        Some(&agent.key),
        Some(&json!({"autoboot": true})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
    assert_eq!(autoboot(&agent), true);
    // Outside the agent: the listing's TTL is 2 s, after which one request refreshes it in
    // the background.
    host(
        &agent,
        "zonecfg",
        &[
            "-z",
            "outside1",
            "create -b; set zonepath=/rpool/zones/outside1; set brand=bhyve; set ip-type=exclusive",
        ],
    );
    agent.eventually(
        "a zone made by hand is listed",
        || agent.get("/zones").body["total"].clone(),
        |t| *t == json!(2),
    );
}

#[test]
fn parallel_work_on_different_zones_and_one_zone() {
    let agent = TestAgent::start();
    let ids: Vec<String> = (0..6)
        .map(|i| {
            let r = agent.post(
                "/zones",
                json!({"name": format!("p{i}"), "brand": "bhyve", "boot_volume": {"size": "1G"}}),
            );
            r.body["task_id"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in &ids {
        completed(&agent.wait(id));
    }
    // Parallel modifies of one zone all land, one after another.
    let mods: Vec<String> = (0..4)
        .map(|i| {
            let r = agent.request(
                "PUT",
                "/zones/p0",
                Some(&agent.key),
                Some(&json!({"ram": format!("{}G", i + 1)})),
            );
            assert_eq!(r.status, 202);
            r.body["task_id"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in &mods {
        completed(&agent.wait(id));
    }
    assert_eq!(zone(&agent, "p0")["attributes"]["ram"], "4G");
    assert_eq!(agent.get("/zones").body["total"], 6);
}

/// The zones whose `zonecfg export` ran since the invocation log was `from` lines long.
fn exported_since(agent: &TestAgent, from: usize) -> Vec<String> {
    let mut zones: Vec<String> = agent.invocations()[from..]
        .iter()
        .filter_map(|i| {
            let argv: Vec<&str> = i["argv"]
                .as_array()?
                .iter()
                .filter_map(|a| a.as_str())
                .collect();
            (argv.first()?.ends_with("zonecfg") && argv.last() == Some(&"export"))
                .then(|| argv.get(2).map(|z| z.to_string()))
                .flatten()
        })
        .collect();
    zones.sort();
    zones
}

/// The zone's entry in `GET /zones` (`null` when not listed).
fn listed(agent: &TestAgent, name: &str) -> Value {
    agent.get("/zones").body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

fn autoboot_of(agent: &TestAgent, name: &str) -> Value {
    listed(agent, name)["autoboot"].clone()
}

/// A configuration changed behind the agent's back (zonecfg run by hand) shows in the list
/// within a few listing TTLs (2 s): the background refresh notices the zone's
/// /etc/zones/<zone>.xml changed and exports that zone again, and only that one.
#[test]
fn a_configuration_changed_outside_the_agent_shows_in_the_list() {
    let agent = TestAgent::start();
    for n in ["side1", "side2"] {
        completed(&create(&agent, json!({"name": n, "brand": "bhyve"})));
    }
    assert_eq!(autoboot_of(&agent, "side1"), false);
    let from = agent.invocations().len();
    host(&agent, "zonecfg", &["-z", "side1", "set autoboot=true"]);
    // The documented time is about one TTL; five leave room for a slow machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while autoboot_of(&agent, "side1") != true {
        assert!(
            std::time::Instant::now() < deadline,
            "the change made by hand is not listed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(exported_since(&agent, from), ["side1"]);
}

/// The same while tasks keep changing another zone: each task's end lists the host but
/// examines only the files of the zones it changed, so the listing stays young; the change
/// made by hand still shows within a few TTLs, since what ages toward the background refresh
/// is the last examination of every file.
#[test]
fn a_configuration_changed_outside_the_agent_shows_while_tasks_keep_settling() {
    let agent = TestAgent::start();
    for n in ["busy1", "busy2"] {
        completed(&create(&agent, json!({"name": n, "brand": "bhyve"})));
    }
    assert_eq!(autoboot_of(&agent, "busy1"), false);
    host(&agent, "zonecfg", &["-z", "busy1", "set autoboot=true"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut flip = true;
    while autoboot_of(&agent, "busy1") != true {
        assert!(
            std::time::Instant::now() < deadline,
            "the change made by hand is not listed while tasks settle"
        );
        let r = agent.request(
            "PUT",
            "/zones/busy2",
            Some(&agent.key),
            Some(&json!({ "autoboot": flip })),
        );
        assert_eq!(r.status, 202, "{:?}", r.body);
        completed(&agent.wait(r.body["task_id"].as_str().unwrap()));
        flip = !flip;
    }
}

/// The configurations read are kept in the database with their file's signature: after a
/// restart the list is answered without exporting every zone again, only the one changed while
/// the agent was down, and it shows that change.
#[test]
fn after_a_restart_only_a_zone_changed_meanwhile_is_exported_again() {
    let mut agent = TestAgent::start();
    for n in ["kept1", "kept2", "kept3"] {
        host(
            &agent,
            "zonecfg",
            &[
                "-z",
                n,
                &format!("create -b; set zonepath=/rpool/zones/{n}; set brand=bhyve; set ip-type=exclusive"),
            ],
        );
    }
    agent.eventually(
        "the zones made by hand are listed",
        || agent.get("/zones").body["total"].clone(),
        |t| *t == json!(3),
    );
    agent.kill();
    host(&agent, "zonecfg", &["-z", "kept2", "set autoboot=true"]);
    let from = agent.invocations().len();
    agent.launch();
    assert_eq!(autoboot_of(&agent, "kept2"), true);
    assert_eq!(autoboot_of(&agent, "kept1"), false);
    assert_eq!(exported_since(&agent, from), ["kept2"]);
}

/// While a task that changed a zone still runs, the list answers from what it had instead of
/// waiting for the host (here, a `zoneadm list` slowed to 10 s); once the task has finished,
/// the next read shows its change (read-your-writes).
#[test]
fn the_list_does_not_wait_for_the_host_while_a_change_is_unpublished() {
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "warm1", "brand": "bhyve"})));
    assert_eq!(agent.get("/zones").body["total"], 1);
    faults(
        &agent,
        &[
            json!({"tool": "zoneadm", "prefix": ["-z", "slow1", "install"], "action": "hold"}),
            json!({"tool": "zoneadm", "prefix": ["list"], "action": "delay", "ms": 10000}),
        ],
    );
    let r = agent.post(
        "/zones",
        json!({"name": "slow1", "brand": "bhyve", "boot_volume": {"size": "1G"}}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["task_id"].as_str().unwrap().to_owned();
    let held = agent.host.join("held");
    agent.eventually("the install is held", || held.exists(), |h| *h);
    // zonecfg has configured the zone, but its task has not settled: the list answers from
    // what it had (the agent's own record) instead of running the slowed zoneadm list.
    let slow = listed(&agent, "slow1");
    assert_eq!(slow["state"], "creating", "{slow}");
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    std::fs::remove_file(&held).unwrap();
    completed(&agent.wait(&id));
    let slow = listed(&agent, "slow1");
    assert_eq!(slow["state"], "installed", "{slow}");
}

/// Queues a create of zone `name` with a hold fault already set, and waits until its host
/// command (`what`) is held; the faults are cleared, so nothing after it is held. Returns the
/// task's id and the file whose removal lets the held command go on.
fn create_held(agent: &TestAgent, name: &str, what: &str) -> (String, std::path::PathBuf) {
    let r = agent.post("/zones", json!({"name": name, "brand": "bhyve"}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["task_id"].as_str().unwrap().to_owned();
    let held = agent.host.join("held");
    agent.eventually(
        &format!("the create's {what} is held"),
        || held.exists(),
        |h| *h,
    );
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    (id, held)
}

/// Someone configures a zone of the same name while a create is on its way (after its check
/// that the name is free, before its zonecfg): the create fails, and its undo leaves that zone
/// alone instead of deleting a configuration it did not make.
#[test]
fn a_failed_create_leaves_alone_a_zone_of_its_name_made_meanwhile() {
    let agent = TestAgent::start();
    faults(
        &agent,
        &[json!({"tool": "zonecfg", "prefix": ["-z", "race1"], "action": "hold"})],
    );
    let (id, held) = create_held(&agent, "race1", "zonecfg");
    host(
        &agent,
        "zonecfg",
        &[
            "-z",
            "race1",
            "create -b; set zonepath=/rpool/zones/theirs; set brand=bhyve; set ip-type=exclusive",
        ],
    );
    std::fs::remove_file(&held).unwrap();
    let t = agent.wait(&id);
    assert_eq!(t["status"], "failed", "{t}");
    let theirs = host(&agent, "zonecfg", &["-z", "race1", "info", "zonepath"]);
    assert!(theirs.contains("/rpool/zones/theirs"), "{theirs}");
}

/// The same race one step earlier, and at the very place the create meant to use: between the
/// create's checks and its `zfs create`, someone makes the zone's dataset and a zone of its
/// name in it, at the zonepath the create journalled. The create fails at `zfs create`; its
/// undo finds a zone where it expected its own, but in a dataset without the zone's ownership
/// mark, and leaves both alone.
#[test]
fn a_failed_create_leaves_alone_a_zone_made_meanwhile_at_its_own_zonepath() {
    let agent = TestAgent::start();
    faults(
        &agent,
        &[json!({"tool": "zfs", "prefix": ["create"], "action": "hold"})],
    );
    let (id, held) = create_held(&agent, "race2", "zfs create");
    host(&agent, "zfs", &["create", "rpool/zones/race2"]);
    host(
        &agent,
        "zonecfg",
        &[
            "-z",
            "race2",
            "create -b; set zonepath=/rpool/zones/race2/path; set brand=bhyve; set ip-type=exclusive",
        ],
    );
    std::fs::remove_file(&held).unwrap();
    let t = agent.wait(&id);
    assert_eq!(t["status"], "failed", "{t}");
    let theirs = host(&agent, "zonecfg", &["-z", "race2", "info", "zonepath"]);
    assert!(theirs.contains("/rpool/zones/race2/path"), "{theirs}");
    host(&agent, "zfs", &["list", "rpool/zones/race2"]);
}

/// A client that takes gzip (browsers, Node's fetch) gets the list gzip-encoded, the same JSON
/// once decoded; one that does not gets it plain. Both are told the answer varies with
/// Accept-Encoding.
#[test]
fn the_list_is_gzip_encoded_for_a_client_that_takes_it() {
    use std::io::Read;
    let agent = TestAgent::start();
    completed(&create(&agent, json!({"name": "gz1", "brand": "bhyve"})));
    let header = |h: &[(String, String)], name: &str| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (status, plain_headers, plain) = agent.get_raw_with("/zones", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&plain_headers, "content-encoding"), None);
    assert_eq!(
        header(&plain_headers, "vary").as_deref(),
        Some("accept-encoding")
    );
    for _ in 0..2 {
        let (status, headers, gz) =
            agent.get_raw_with("/zones", &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-encoding").as_deref(),
            Some("gzip")
        );
        assert_eq!(header(&headers, "vary").as_deref(), Some("accept-encoding"));
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut decoded)
            .unwrap();
        let a: Value = serde_json::from_slice(&decoded).unwrap();
        let b: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["zones"][0]["name"], "gz1");
    }
    let (_, headers, _) = agent.get_raw_with("/zones", &[("Accept-Encoding", "gzip;q=0")]);
    assert_eq!(header(&headers, "content-encoding"), None);
}
