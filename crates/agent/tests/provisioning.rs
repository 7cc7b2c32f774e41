//! Provisioning through the real binary: artifacts, recipes, and the whole pipeline against the
//! emulated host, with a real sshd (started here, on 127.0.0.1) standing in for the guest,
//! real rsync and real Ansible.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::guest::{
    ansible_account, create_zone, e2e_ready, start_sshd, targz, upload, STAGES,
};
use crate::support::{free_port, temp_dir, TestAgent};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn artifacts_upload_stream_verify_list_and_delete() {
    let agent = TestAgent::start_with("provisioning:\n  max_artifact_bytes: 4096\n");
    let bytes = targz(&[("a.txt", "hello\n", 0o644)]);
    let sha = sha256_hex(&bytes);
    let r = upload(&agent, "../../etc/passwd.tgz", &bytes, Some(&sha));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["sha256"], sha);
    assert_eq!(r.body["size"], bytes.len());
    assert_eq!(r.body["filename"], "passwd.tgz");
    // Stored under its id, never under the client's name.
    let dir = agent.data_dir().join("artifacts");
    assert!(dir.join(&id).is_file());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let r = upload(&agent, "x.tgz", &bytes, Some(&"0".repeat(64)));
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("sha256")),
        "{:?}",
        r.body
    );
    let r = upload(&agent, "x.txt", b"not an archive at all", None);
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("file")),
        "{:?}",
        r.body
    );
    let big = vec![0x1f; 8192];
    let r = upload(&agent, "big.tgz", &big, None);
    assert_eq!(r.status, 413, "{:?}", r.body);
    // Refused uploads leave nothing behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let list = agent.get("/artifacts");
    assert_eq!(list.body["total"], 1);
    assert_eq!(agent.get(&format!("/artifacts/{id}")).body["sha256"], sha);
    assert_eq!(agent.get("/artifacts/nope").status, 400);
    assert_eq!(agent.delete(&format!("/artifacts/{id}")).status, 200);
    assert_eq!(agent.get(&format!("/artifacts/{id}")).status, 404);
    assert!(!dir.join(&id).exists());
}

#[test]
fn recipes_crud_filter_builtins_and_dry_run() {
    let agent = TestAgent::start();
    let list = agent.get("/provisioning/recipes");
    let names: Vec<&str> = list.body["recipes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for b in [
        "debian-netplan",
        "omnios-dladm",
        "cloud-init-wait",
        "linux-ifconfig",
    ] {
        assert!(names.contains(&b), "{names:?}");
    }
    let illumos = agent.get("/provisioning/recipes?os_family=illumos");
    assert_eq!(illumos.body["total"], 1);

    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "mine", "os_family": "linux", "steps": [
            {"type": "command", "command": "ip addr add {{ip}}/{{prefix}} dev {{nic}}"}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["shell_prompt"], r"[#$]\s*$");
    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "mine", "os_family": "linux", "steps": []}),
    );
    assert_eq!(r.status, 409);
    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "x", "os_family": "linux",
        "steps": [{"type": "wait", "pattern": "("}]}),
    );
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("steps[0].pattern"))
    );
    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "x", "os_family": "linux"}),
    );
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("steps")));

    let r = agent.post(
        &format!("/provisioning/recipes/{id}/test"),
        json!({"dry_run": true, "variables": {"ip": "10.190.190.20"}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["steps"][0]["command"],
        "ip addr add 10.190.190.20/24 dev {{nic}}"
    );
    assert_eq!(r.body["unresolved"], json!(["nic"]));

    let r = agent.request(
        "PUT",
        &format!("/provisioning/recipes/{id}"),
        Some(&agent.key),
        Some(&json!({"name": "mine2", "os_family": "bsd", "steps": []})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        agent.get("/provisioning/recipes?os_family=bsd").body["total"],
        1
    );
    let r = agent.request(
        "PUT",
        "/provisioning/recipes/debian-netplan",
        Some(&agent.key),
        Some(&json!({"name": "d", "os_family": "linux", "steps": []})),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        agent.delete("/provisioning/recipes/debian-netplan").status,
        409
    );
    assert_eq!(
        agent.delete(&format!("/provisioning/recipes/{id}")).status,
        200
    );
    assert_eq!(
        agent.get(&format!("/provisioning/recipes/{id}")).status,
        404
    );
}

#[test]
fn provisioning_settings_are_validated_and_secrets_masked() {
    let agent = TestAgent::start();
    create_zone(&agent, "vz1", "pw-not-shown-1");
    let put = |body: Value| {
        agent.request(
            "PUT",
            "/zones/vz1",
            Some(&agent.key),
            Some(&json!({ "provisioning": body })),
        )
    };
    let r = put(json!({"sync_folders": [{"source": "/etc", "dest": "/x"}]}));
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("provisioning.sync_folders[0].source"))
    );
    let r = put(json!({"provisioners": [{"type": "shell", "script": "../../etc/shadow"}]}));
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("provisioning.provisioners[0].script"))
    );
    let r = put(
        json!({"credentials": {"username": "root", "password": "Sup3r-Secret!"},
        "variables": {"ip": "127.0.0.1"}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let z = agent.get("/zones/vz1");
    let text = z.body.to_string();
    assert!(!text.contains("Sup3r-Secret!"), "{text}");
    assert_eq!(z.body["provisioning"]["credentials"]["password_set"], true);
    // No recipe, no artifact: still a valid pipeline, but a zone without settings is refused.
    assert_eq!(agent.post("/zones/nope/provision", json!({})).status, 404);
}

fn host(agent: &TestAgent, tool: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(agent.host.join("bin").join(tool))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A real sshd on 127.0.0.1 with a throwaway host key, accepting one key the test made.
/// Scans every process's argv and environment for `needle` until stopped; returns what it saw.
pub(crate) fn watch_proc(
    needle: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut procs = std::collections::HashSet::new();
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let name = e.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if pid == std::process::id().to_string() {
                    continue;
                }
                for what in ["cmdline", "environ"] {
                    if let Ok(bytes) = std::fs::read(e.path().join(what)) {
                        let text = String::from_utf8_lossy(&bytes);
                        if what == "cmdline" {
                            procs.insert(text.replace('\0', " "));
                        }
                        if text.contains(&needle) {
                            seen.push(format!("{pid} {what}: {}", text.replace('\0', " ")));
                        }
                    }
                }
            }
        }
        seen.push(format!("(watched {} distinct command lines)", procs.len()));
        seen
    })
}

pub(crate) fn task_output(agent: &TestAgent, id: &str) -> String {
    let r = agent.get(&format!("/tasks/{id}/output?limit=10000"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body.to_string()
}

#[test]
fn the_whole_pipeline_against_the_emulator_and_a_real_sshd() {
    let Some(ansible) = e2e_ready() else { return };
    ansible_account();
    let sshd = start_sshd(ansible.parent().unwrap());
    let agent = TestAgent::start_with(&format!(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 60\n    wait_interval_seconds: 1\n  tools:\n    ansible_playbook: {}\n",
        ansible.display()
    ));
    const SECRET: &str = "Zw-console-S3cret";
    create_zone(&agent, "prov1", SECRET);
    let guest = temp_dir("guest");
    let g = guest.0.display().to_string();

    let artifact = targz(&[
        ("files/hello.txt", "hello from the artifact\n", 0o644),
        ("files/skip.tmp", "excluded\n", 0o644),
        ("scripts/setup.sh", "#!/bin/sh\nset -e\nprintf '%s %s\\n' \"$GREETING\" \"$(cat \"$2\")\" > \"$1\"\n", 0o755),
        (
            "ansible/site.yml",
            "- hosts: all\n  gather_facts: false\n  vars:\n    ansible_python_interpreter: /usr/bin/python3\n  tasks:\n    - name: leave a marker\n      ansible.builtin.copy:\n        dest: \"{{ marker }}\"\n        content: \"ansible was here on {{ zone_name }}\\n\"\n",
            0o644,
        ),
        (
            "local/site.yml",
            "- hosts: all\n  gather_facts: false\n  vars:\n    ansible_python_interpreter: /usr/bin/python3\n  tasks:\n    - name: leave a marker from inside the guest\n      ansible.builtin.copy:\n        dest: \"{{ local_marker }}\"\n        content: \"ansible_local ran in the guest for {{ zone_name }}\\n\"\n",
            0o644,
        ),
    ]);
    let r = upload(&agent, "site.tgz", &artifact, None);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let artifact_id = r.body["id"].as_str().unwrap().to_owned();

    let r = agent.request(
        "PUT",
        "/zones/prov1",
        Some(&agent.key),
        Some(&json!({"provisioning": {
            "recipe_id": "linux-ifconfig",
            "mode": "shell",
            "artifact_id": artifact_id,
            "credentials": {"username": "root", "password": SECRET,
                            "ssh_key_path": sshd.client_key.display().to_string()},
            "sync_folders": [{"source": "provisioning_dataset/files", "dest": format!("{g}/synced"),
                              "exclude": ["*.tmp"]},
                             {"source": "provisioning_dataset/local", "dest": format!("{g}/local")}],
            "provisioners": [
                {"type": "shell", "script": "scripts/setup.sh",
                 "args": [format!("{g}/shell-marker"), format!("{g}/synced/hello.txt")],
                 "env": {"GREETING": "shell says"}},
                // The stand-in guest is this machine: the playbooks name its system Python (a
                // pyenv shim in root's PATH would otherwise be discovered); extra_vars may not.
                {"type": "ansible", "playbook": "ansible/site.yml",
                 "extra_vars": {"marker": format!("{g}/ansible-marker")}},
                {"type": "ansible_local", "playbook": format!("{g}/local/site.yml"),
                 "extra_vars": {"local_marker": format!("{g}/ansible-local-marker")}}
            ],
            "variables": {"ip": "127.0.0.1", "dns": "192.0.2.53", "vnic_name": "eth0"},
            "ssh_port": sshd.port,
            "remove_provisioning_nic": true
        }})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_proc(SECRET.to_owned(), stop.clone());
    let started = Instant::now();
    let r = agent.post("/zones/prov1/provision", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["operation"], "zone_provision");
    assert_eq!(r.body["message"], "Provisioning pipeline started");
    let group = r.body["task_id"].as_str().unwrap().to_owned();
    let stages = r.body["pipeline_tasks"].clone();
    for s in STAGES {
        assert!(stages[s].is_string(), "{stages}");
    }
    // The provisioning network was not set up: the pipeline waits for its setup.
    let setup_net = r.body["network_setup_task_id"].as_str().unwrap().to_owned();
    // A second pipeline while one runs is refused.
    assert_eq!(agent.post("/zones/prov1/provision", json!({})).status, 409);
    let mut statuses = Vec::new();
    let done = loop {
        let s = agent.get("/zones/prov1/provision/status");
        assert_eq!(s.status, 200);
        statuses.push(s.body.clone());
        let t = agent.get(&format!("/tasks/{group}")).body;
        if matches!(
            t["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "pipeline stuck: {s:?}",
            s = statuses.last()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    let outputs: Vec<(String, String)> = STAGES
        .iter()
        .map(|s| {
            (
                s.to_string(),
                task_output(&agent, stages[*s].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(done["status"], "completed", "{done:?}\n{outputs:#?}");
    assert_eq!(done["progress_percent"], 100);
    eprintln!("pipeline took {:?}", started.elapsed());

    // Status as the spec shows it.
    let s = agent.get("/zones/prov1/provision/status").body;
    assert_eq!(s["status"], "provisioned", "{s}");
    assert!(s["last_provisioned_at"].is_string(), "{s}");
    for st in STAGES {
        assert_eq!(s["progress"][st], "completed", "{s}");
    }
    assert_eq!(
        agent.get(&format!("/tasks/{setup_net}")).body["status"],
        "completed"
    );
    assert_eq!(
        agent.get("/provisioning/network/status").body["configured"],
        true
    );
    assert!(
        statuses
            .iter()
            .any(|s| s["status"] == "provisioning" && s["current_stage"].is_string()),
        "{statuses:?}"
    );

    // The console recipe ran through the emulator's zlogin -C: its files are in the guest.
    let (ok, resolv) = host(&agent, "zlogin", &["prov1", "cat", "/etc/resolv.conf"]);
    assert!(ok, "{resolv}");
    assert_eq!(resolv, "nameserver 192.0.2.53\n");
    let setup_out = &outputs[3].1;
    // The recipe installed the agent's own key, which the API hands out.
    let k = agent.get("/provisioning/ssh-key");
    assert_eq!(k.status, 200, "{:?}", k.body);
    let public = k.body["public_key"].as_str().unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    assert!(
        setup_out.contains(public),
        "the recipe did not install {public}"
    );
    assert!(setup_out.contains("console: "), "{setup_out}");
    assert!(
        setup_out.contains("ifconfig eth0 127.0.0.1/24 up"),
        "{setup_out}"
    );

    // rsync, the shell provisioner and Ansible each left their mark in the "guest".
    assert_eq!(
        std::fs::read_to_string(guest.0.join("synced/hello.txt")).unwrap(),
        "hello from the artifact\n"
    );
    assert!(!guest.0.join("synced/skip.tmp").exists());
    assert_eq!(
        std::fs::read_to_string(guest.0.join("shell-marker")).unwrap(),
        "shell says hello from the artifact\n"
    );
    assert_eq!(
        std::fs::read_to_string(guest.0.join("ansible-marker")).unwrap(),
        "ansible was here on prov1\n"
    );
    assert_eq!(
        std::fs::read_to_string(guest.0.join("ansible-local-marker")).unwrap(),
        "ansible_local ran in the guest for prov1\n"
    );

    // The provisioning NIC had a reservation while the pipeline ran, and
    // remove_provisioning_nic took both away at the end.
    let nic = agent
        .get(&format!("/tasks/{}", stages["network"].as_str().unwrap()))
        .body;
    assert_eq!(nic["result"]["nic"], "prov1_prov0", "{nic}");
    assert!(
        nic["result"]["ip"]
            .as_str()
            .unwrap()
            .starts_with("10.190.190."),
        "{nic}"
    );
    let prov = agent
        .get(&format!("/tasks/{}", stages["provision"].as_str().unwrap()))
        .body;
    assert_eq!(
        prov["result"]["provisioning_nic"]["removed"], true,
        "{prov}"
    );
    assert_eq!(
        prov["result"]["provisioning_nic"]["reservation_removed"], true,
        "{prov}"
    );
    // The zone still runs with it: the removal waits for its next boot.
    let z = agent.get("/zones/prov1").body;
    assert_eq!(z["nics"], json!([]), "{}", z["nics"]);
    assert_eq!(z["pending_changes"], json!(["remove nic prov1_prov0"]));
    let hosts = agent.get("/network/dhcp/hosts").body;
    assert_eq!(hosts["hosts"], json!([]), "{hosts}");

    // Snapshots of the provisioning dataset and the boot volume, before and after.
    let (_, snaps) = host(
        &agent,
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot",
            "-r",
            "rpool/zones/prov1",
        ],
    );
    for s in [
        "rpool/zones/prov1/provisioning@pre-provision",
        "rpool/zones/prov1/provisioning@post-provision",
        "rpool/zones/prov1/root@pre-provision",
        "rpool/zones/prov1/root@post-provision",
    ] {
        assert!(snaps.lines().any(|l| l == s), "{s} missing from {snaps}");
    }

    // The secret never showed: not in any process, task output or API answer.
    assert_eq!(seen.len(), 1, "the password was visible in /proc: {seen:?}");
    for (stage, out) in &outputs {
        assert!(
            !out.contains(SECRET),
            "{stage} output shows the password: {out}"
        );
    }
    for path in [
        "/zones/prov1",
        "/tasks?limit=100",
        &format!("/tasks/{group}"),
        "/zones/prov1/provision/status",
    ] {
        let body = agent.get(path).body.to_string();
        assert!(!body.contains(SECRET), "{path} shows the password");
    }
    for s in stages.as_object().unwrap().values() {
        let body = agent
            .get(&format!("/tasks/{}", s.as_str().unwrap()))
            .body
            .to_string();
        assert!(
            !body.contains(SECRET),
            "task {s} shows the password: {body}"
        );
    }

    // Rollback: halts the zone, rolls both datasets back to @pre-provision.
    let r = agent.post("/zones/prov1/provision/rollback", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    assert_eq!(
        t["result"]["rolled_back"],
        json!([
            "rpool/zones/prov1/provisioning@pre-provision",
            "rpool/zones/prov1/root@pre-provision"
        ])
    );
    let (_, snaps) = host(
        &agent,
        "zfs",
        &[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot",
            "-r",
            "rpool/zones/prov1",
        ],
    );
    assert!(!snaps.contains("post-provision"), "{snaps}");
    let (_, state) = host(&agent, "zoneadm", &["-z", "prov1", "list", "-p"]);
    assert!(state.contains(":installed:"), "{state}");
}

#[test]
fn a_failing_stage_fails_the_chain_and_cancel_stops_the_console() {
    let agent = TestAgent::start_with(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 2\n    wait_interval_seconds: 1\n",
    );
    create_zone(&agent, "fz1", "pw1");
    // A recipe that waits for something that never comes.
    let r = agent.post(
        "/provisioning/recipes",
        json!({"name": "stuck", "os_family": "linux", "timeout_seconds": 600,
               "steps": [{"type": "wait", "pattern": "never-shown-\\d+"}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let stuck = r.body["id"].as_str().unwrap().to_owned();
    let put = |recipe: &str| {
        let r = agent.request(
            "PUT",
            "/zones/fz1",
            Some(&agent.key),
            Some(&json!({"provisioning": {
            "recipe_id": recipe, "credentials": {"username": "root", "password": "pw1"},
            "variables": {"ip": "127.0.0.1", "dns": "192.0.2.53"}, "ssh_port": free_port()}})),
        );
        assert_eq!(r.status, 200, "{:?}", r.body);
    };
    put(&stuck);
    let r = agent.post("/zones/fz1/provision", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let group = r.body["task_id"].as_str().unwrap().to_owned();
    let setup = r.body["pipeline_tasks"]["setup"]
        .as_str()
        .unwrap()
        .to_owned();
    agent.eventually(
        "the console stage runs",
        || {
            agent
                .get(&format!("/tasks/{setup}/output"))
                .body
                .to_string()
        },
        |o| o.contains("Last login"),
    );
    // The zlogin -C of the stage is a live process until the cancel.
    let zlogin_alive = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("zlogin\0-C\0fz1"))
                .unwrap_or(false)
        })
    };
    assert!(zlogin_alive());
    let r = agent.post("/zones/fz1/provision/cancel", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let g = agent.wait(&group);
    assert_eq!(g["status"], "cancelled", "{g:?}");
    let s = agent.get("/zones/fz1/provision/status").body;
    assert_eq!(s["status"], "cancelled");
    assert_eq!(s["progress"]["setup"], "cancelled", "{s}");
    assert_eq!(s["progress"]["provision"], "cancelled", "{s}");
    agent.eventually("zlogin is gone", zlogin_alive, |alive| !alive);
    assert_eq!(
        agent.post("/zones/fz1/provision/cancel", json!({})).status,
        409
    );

    // Now a chain whose wait-for-SSH fails (nothing listens): the rest is cancelled.
    put("linux-ifconfig");
    let r = agent.post("/zones/fz1/provision", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let g = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(g["status"], "failed", "{g:?}");
    let s = agent.get("/zones/fz1/provision/status").body;
    assert_eq!(s["progress"]["setup"], "completed", "{s}");
    assert_eq!(s["progress"]["wait_ssh"], "failed", "{s}");
    assert_eq!(s["progress"]["sync"], "cancelled", "{s}");
    assert_eq!(s["progress"]["provision"], "cancelled", "{s}");
    // No @pre-provision: nothing to roll back to.
    assert_eq!(
        agent
            .post("/zones/fz1/provision/rollback", json!({}))
            .status,
        409
    );
}

/// The `allowed-address` of the zone's `net` resource `physical`, from `zonecfg export` on the
/// emulated host ("" when unset).
fn allowed_address(agent: &TestAgent, zone: &str, physical: &str) -> String {
    let (ok, export) = host(agent, "zonecfg", &["-z", zone, "export"]);
    assert!(ok, "{export}");
    let net = export
        .split("add net")
        .skip(1)
        .map(|block| block.split("\nend").next().unwrap_or(""))
        .find(|block| {
            block
                .lines()
                .any(|l| l.trim() == format!("set physical={physical}"))
        })
        .unwrap_or_else(|| panic!("no net {physical}: {export}"));
    net.lines()
        .find_map(|l| l.trim().strip_prefix("set allowed-address="))
        .unwrap_or("")
        .to_owned()
}

/// The network stage without a guest: the zone's boot is made to fail, so nothing is ever
/// dialled at the reserved address.
#[test]
fn the_pipeline_gives_the_zone_a_provisioning_nic_and_a_reservation() {
    let agent = TestAgent::start();
    create_zone(&agent, "nic1", "pw1");
    std::fs::write(
        agent.host.join("faults"),
        "{\"tool\":\"zoneadm\",\"contains\":\"boot\",\"action\":\"fail\",\"stderr\":\"zoneadm: zone 'nic1': boot refused by the test\"}\n",
    )
    .unwrap();
    let put = |provisioning: Value| {
        let r = agent.request(
            "PUT",
            "/zones/nic1",
            Some(&agent.key),
            Some(&json!({ "provisioning": provisioning })),
        );
        assert_eq!(r.status, 200, "{:?}", r.body);
    };
    let run = || {
        let r = agent.post("/zones/nic1/provision", json!({}));
        assert_eq!(r.status, 202, "{:?}", r.body);
        let g = agent.wait(r.body["task_id"].as_str().unwrap());
        assert_eq!(g["status"], "failed", "{g:?}");
        let s = agent.get("/zones/nic1/provision/status").body;
        assert_eq!(s["progress"]["network"], "completed", "{s}");
        assert_eq!(s["progress"]["boot"], "failed", "{s}");
        assert_eq!(s["progress"]["setup"], "cancelled", "{s}");
        let nic = agent.get(&format!(
            "/tasks/{}",
            r.body["pipeline_tasks"]["network"].as_str().unwrap()
        ));
        (r.body, nic.body["result"].clone())
    };
    // No address given: the network is set up first, then a reservation outside the pool.
    put(json!({"credentials": {"username": "root"}}));
    let (first, nic) = run();
    assert!(first["network_setup_task_id"].is_string(), "{first}");
    assert_eq!(nic["nic"], "nic1_prov0", "{nic}");
    assert_eq!(nic["nic_added"], true);
    assert_eq!(nic["ip"], "10.190.190.2", "{nic}");
    // The NIC may only use its reservation (ip-nospoof on boot), as the host's zonecfg says.
    assert_eq!(
        allowed_address(&agent, "nic1", "nic1_prov0"),
        "10.190.190.2/24"
    );
    assert_eq!(nic["allowed_address"], "10.190.190.2/24", "{nic}");
    // The NIC's configuration change goes on zonecfg's stdin, as a create's does: no command
    // file is made and removed in the agent's scratch directory.
    let applied: Vec<String> = agent
        .invocations()
        .iter()
        .map(|i| {
            let argv: Vec<&str> = i["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            argv.join(" ")
        })
        .filter(|l| l.starts_with("zonecfg -z nic1 -f"))
        .collect();
    assert!(
        applied.len() >= 2,
        "the create's and the NIC's: {applied:?}"
    );
    assert!(
        applied.iter().all(|l| l == "zonecfg -z nic1 -f -"),
        "{applied:?}"
    );
    let mac = nic["mac"].as_str().unwrap().to_owned();
    assert!(mac.starts_with("02:08:20:"), "{mac}");
    let z = agent.get("/zones/nic1").body;
    let nics = z["nics"].to_string();
    assert!(
        nics.contains("nic1_prov0") && nics.contains("estub_provision0") && nics.contains(&mac),
        "{nics}"
    );
    let hosts = agent.get("/network/dhcp/hosts").body;
    assert_eq!(
        hosts["hosts"],
        json!([{"hostname": "nic1_prov0", "mac": mac, "ip": "10.190.190.2"}])
    );
    // A second run finds both and changes nothing; the network is ready now.
    let (second, again) = run();
    assert!(second.get("network_setup_task_id").is_none(), "{second}");
    assert_eq!(again["nic_added"], false);
    assert_eq!((&again["mac"], &again["ip"]), (&nic["mac"], &nic["ip"]));
    assert_eq!(
        agent.get("/network/dhcp/hosts").body["hosts"],
        hosts["hosts"]
    );
    // An address of the provisioning subnet in the settings becomes the reservation.
    put(json!({"credentials": {"username": "root"}, "variables": {"ip": "10.190.190.77"}}));
    let (_, moved) = run();
    assert_eq!(moved["ip"], "10.190.190.77");
    assert_eq!(moved["mac"], nic["mac"]);
    assert_eq!(
        allowed_address(&agent, "nic1", "nic1_prov0"),
        "10.190.190.77/24"
    );
    // The recipe sees the NIC: a dry run for the zone resolves mac, provisioning_nic, and the
    // DNS server the provisioning subnet hands out.
    let r = agent.request(
        "PUT",
        "/network/dhcp/config",
        Some(&agent.key),
        Some(
            &json!({"subnet": "10.190.190.0", "netmask": "255.255.255.0",
                     "router": "10.190.190.1", "range_start": "10.190.190.10",
                     "range_end": "10.190.190.254", "dns": "192.0.2.53, 192.0.2.54"}),
        ),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        agent.wait(r.body["task_id"].as_str().unwrap())["status"],
        "completed"
    );
    let r = agent.post(
        "/provisioning/recipes/linux-ifconfig/test",
        json!({"zone_name": "nic1", "dry_run": true}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["variables"]["provisioning_nic"], "nic1_prov0",
        "{:?}",
        r.body
    );
    assert_eq!(r.body["variables"]["mac"], json!(mac));
    assert_eq!(r.body["variables"]["dns"], "192.0.2.53");
    assert_eq!(r.body["variables"]["ip"], "10.190.190.77");
}

/// The emulated host's guests exist only in the emulator: a pipeline aimed at one of its
/// addresses fails at its first SSH stage, naming what to set, and dials nothing.
#[test]
fn on_the_emulated_host_a_guest_is_dialled_only_on_loopback() {
    let agent = TestAgent::start_with(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 600\n    wait_interval_seconds: 1\n",
    );
    create_zone(&agent, "lan1", "pw1");
    let r = agent.request(
        "PUT",
        "/zones/lan1",
        Some(&agent.key),
        Some(&json!({"provisioning": {
            "recipe_id": "linux-ifconfig", "credentials": {"username": "root", "password": "pw1"},
            "variables": {"ip": "10.190.190.77", "dns": "192.0.2.53"}}})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = agent.post("/zones/lan1/provision", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let wait_ssh = r.body["pipeline_tasks"]["wait_ssh"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = r.body["task_id"].as_str().unwrap().to_owned();
    let g = agent.eventually(
        "the pipeline ends",
        || agent.get(&format!("/tasks/{group}")).body,
        |g| g["status"] != "pending" && g["status"] != "running",
    );
    assert_eq!(g["status"], "failed", "{g:?}");
    let t = agent.get(&format!("/tasks/{wait_ssh}")).body;
    assert_eq!(t["status"], "failed", "{t}");
    let why = t["error_message"].as_str().unwrap_or_default();
    assert!(
        why.contains("emulated")
            && why.contains("provisioning.variables.ip")
            && why.contains("ssh_port")
            && why.contains("10.190.190.77:22"),
        "{t}"
    );
    let s = agent.get("/zones/lan1/provision/status").body;
    assert_eq!(s["progress"]["setup"], "completed", "{s}");
    assert_eq!(s["progress"]["sync"], "cancelled", "{s}");
}
