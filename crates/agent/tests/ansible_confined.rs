//! The `ansible` provisioner's controller cannot reach the agent: a hostile playbook run with
//! real ansible-core against a real sshd on loopback tries every way to run code as the agent
//! or read its secrets, and none works (issue 13, finding 1).

use serde_json::{json, Value};

use crate::provisioning::task_output;
use crate::support::guest::{
    ansible_account, create_zone, e2e_ready, run_pipeline, start_sshd, start_sshd_at, targz,
    upload, Sshd,
};
use crate::support::{temp_dir, TestAgent};

/// Everything a playbook author could try on the controller. Each attempt may fail
/// (`ignore_errors`); the last task writes what they got into the guest for the test to read.
const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  vars:
    ansible_python_interpreter: /usr/bin/python3
  tasks:
    - name: delegate to the controller and write into the agent's data directory
      ansible.builtin.copy:
        dest: "{{ data_dir }}/pwned-by-delegate"
        content: "delegate_to localhost wrote here\n"
      delegate_to: localhost
      ignore_errors: true
    - name: a module from the artifact's library/, on the controller
      zw_probe:
        path: "{{ data_dir }}/pwned-by-library"
      delegate_to: localhost
      register: probe
      ignore_errors: true
    - name: read the bootstrap key through a file lookup
      ansible.builtin.set_fact:
        stolen: "{{ lookup('ansible.builtin.file', data_dir ~ '/bootstrap-api-key') }}"
      ignore_errors: true
    - name: read the bootstrap key through a delegated slurp
      ansible.builtin.slurp:
        src: "{{ data_dir }}/bootstrap-api-key"
      delegate_to: localhost
      register: slurped
      ignore_errors: true
    - name: who the play runs as in the guest
      ansible.builtin.command: id -u
      register: target_uid
    - name: report into the guest
      ansible.builtin.copy:
        dest: "{{ report }}"
        content: |
          pipe-uid={{ lookup('ansible.builtin.pipe', 'id -u') }}
          library-uid={{ probe.uid | default('none') }}
          library-wrote={{ probe.wrote | default('none') }}
          target-uid={{ target_uid.stdout }}
          stolen={{ stolen | default('') }}
          slurped={{ slurped.content | default('') }}
"#;

/// A module in `library/` beside the playbook (Ansible loads it; accepted, see confine.rs).
const MODULE: &str = r#"#!/usr/bin/python3
import os
from ansible.module_utils.basic import AnsibleModule
m = AnsibleModule(argument_spec=dict(path=dict(type='str', required=True)))
try:
    with open(m.params['path'], 'w') as f:
        f.write('a library module wrote here\n')
    wrote = 'yes'
except OSError as e:
    wrote = 'no: %s' % e.strerror
m.exit_json(changed=False, uid=os.getuid(), wrote=wrote)
"#;

/// An ansible.cfg in the playbook's folder that would run every task on the controller.
const CFG: &str = "[defaults]\ntransport = local\nlibrary = /\n";

/// The stand-in guest's address: not 127.0.0.1, which Ansible would take for `localhost`.
const GUEST: &str = "127.0.0.2";

fn report_field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("{key} missing from the report:\n{report}"))
}

fn put(agent: &TestAgent, zone: &str, provisioning: Value) -> crate::support::Response {
    agent.request(
        "PUT",
        &format!("/zones/{zone}"),
        Some(&agent.key),
        Some(&json!({ "provisioning": provisioning })),
    )
}

/// A zone whose one provisioner is `playbook` (an artifact's `site.yml`), against `sshd` at
/// `ip`.
fn playbook_zone(agent: &TestAgent, zone: &str, playbook: &str, sshd: &Sshd, ip: &str) {
    create_zone(agent, zone, &format!("pw-{zone}"));
    let r = upload(
        agent,
        "site.tgz",
        &targz(&[("site.yml", playbook, 0o644)]),
        None,
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = put(
        agent,
        zone,
        json!({
            "artifact_id": r.body["id"],
            "credentials": {"username": "root",
                            "ssh_key_path": sshd.client_key.display().to_string()},
            "provisioners": [{"type": "ansible", "playbook": "site.yml"}],
            "variables": {"ip": ip},
            "ssh_port": sshd.port,
        }),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Runs the pipeline; returns the group task and the provision stage's task id.
fn provision(agent: &TestAgent, zone: &str) -> (Value, String) {
    let (done, stages) = run_pipeline(agent, zone);
    (done, stages["provision"].as_str().unwrap().to_owned())
}

#[test]
fn a_hostile_playbook_cannot_reach_the_agents_identity_or_secrets() {
    let Some(ansible) = e2e_ready() else { return };
    let confined_uid = ansible_account();
    let sshd = start_sshd_at(ansible.parent().unwrap(), GUEST);
    let run_dir = temp_dir("ansible-runs");
    crate::support::give_to_agent(&run_dir.0);
    let agent = TestAgent::start_with(&format!(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 60\n    wait_interval_seconds: 1\n  tools:\n    ansible_playbook: {}\n  ansible:\n    run_dir: {}\n",
        ansible.display(),
        run_dir.0.join("runs").display()
    ));
    let data = agent.data_dir().canonicalize().unwrap();
    create_zone(&agent, "evil1", "pw-evil1");
    let guest = temp_dir("guest");
    let report = guest.0.join("report");
    let artifact = targz(&[
        ("ansible/site.yml", PLAYBOOK, 0o644),
        ("ansible/library/zw_probe.py", MODULE, 0o755),
        ("ansible/ansible.cfg", CFG, 0o644),
    ]);
    let r = upload(&agent, "evil.tgz", &artifact, None);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let artifact_id = r.body["id"].as_str().unwrap().to_owned();
    let settings = |provisioners: Value| {
        json!({
            "artifact_id": artifact_id,
            "credentials": {"username": "root",
                            "ssh_key_path": sshd.client_key.display().to_string()},
            "provisioners": provisioners,
            "variables": {"ip": GUEST},
            "ssh_port": sshd.port,
        })
    };

    // Extra vars cannot name Ansible's own variables, for either provisioner, and
    // collections come only from the host's allow-list (none here).
    for (ty, book) in [
        ("ansible", "ansible/site.yml"),
        ("ansible_local", "/x/site.yml"),
    ] {
        let r = put(
            &agent,
            "evil1",
            settings(json!([{"type": ty, "playbook": book,
                             "extra_vars": {"ansible_connection": "local"}}])),
        );
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (
                400,
                Some("provisioning.provisioners[0].extra_vars.ansible_connection")
            ),
            "{ty}: {:?}",
            r.body
        );
        let r = put(
            &agent,
            "evil1",
            settings(json!([{"type": ty, "playbook": book,
                             "collections": ["community.general"]}])),
        );
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (400, Some("provisioning.provisioners[0].collections[0]")),
            "{ty}: {:?}",
            r.body
        );
    }

    let r = put(
        &agent,
        "evil1",
        settings(json!([{"type": "ansible", "playbook": "ansible/site.yml",
            "extra_vars": {"data_dir": data.display().to_string(),
                           "report": report.display().to_string()}}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (done, stage) = provision(&agent, "evil1");
    let out = task_output(&agent, &stage);
    assert_eq!(done["status"], "completed", "{done}\n{out}");

    let report = std::fs::read_to_string(&report).unwrap();
    // The play itself reached the guest over SSH (the artifact's ansible.cfg, which would
    // have made every task local, was not read) ...
    assert_eq!(report_field(&report, "target-uid"), "0", "{report}");
    // ... while everything on the controller ran as the confined account, not the agent.
    let confined = confined_uid.to_string();
    assert_eq!(report_field(&report, "pipe-uid"), confined, "{report}");
    assert_eq!(report_field(&report, "library-uid"), confined, "{report}");
    assert!(
        report_field(&report, "library-wrote").starts_with("no"),
        "{report}"
    );
    // Nothing written into the data directory, nothing of the bootstrap key read.
    for marker in ["pwned-by-delegate", "pwned-by-library"] {
        assert!(!data.join(marker).exists(), "{marker} exists\n{out}");
    }
    assert_eq!(report_field(&report, "stolen"), "", "{report}");
    assert_eq!(report_field(&report, "slurped"), "", "{report}");
    assert!(!report.contains(&agent.key), "{report}");
    assert!(!out.contains(&agent.key), "{out}");
    // The run's private directory is gone with the stage.
    let left: Vec<_> = std::fs::read_dir(run_dir.0.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn without_its_account_the_ansible_stage_fails_naming_it() {
    let Some(ansible) = e2e_ready() else { return };
    let sshd = start_sshd(ansible.parent().unwrap());
    let agent = TestAgent::start_with(&format!(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 60\n    wait_interval_seconds: 1\n  tools:\n    ansible_playbook: {}\n  ansible:\n    run_as: zw-test-no-such-account\n",
        ansible.display(),
    ));
    playbook_zone(
        &agent,
        "noacct1",
        "- hosts: all\n  gather_facts: false\n  tasks: []\n",
        &sshd,
        "127.0.0.1",
    );
    let (done, stage) = provision(&agent, "noacct1");
    assert_eq!(done["status"], "failed", "{done}");
    let t = agent.get(&format!("/tasks/{stage}")).body;
    let error = t["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("\"zw-test-no-such-account\" does not exist"),
        "{t}\n{}",
        task_output(&agent, &stage)
    );
    assert!(error.contains("provisioning.ansible.run_as"), "{t}");
    let out = task_output(&agent, &stage);
    assert!(!out.contains("$ ansible-playbook"), "{out}");
}

/// The processes whose argv contains `needle`, with their real uid.
fn procs_with(needle: &str) -> Vec<(String, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let argv = std::fs::read(e.path().join("cmdline")).ok()?;
            let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
            if !argv.contains(needle) {
                return None;
            }
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))?
                .split_whitespace()
                .next()?
                .to_owned();
            Some((uid, argv))
        })
        .collect()
}

#[test]
fn cancel_reaches_the_confined_controller() {
    let Some(ansible) = e2e_ready() else { return };
    let confined_uid = ansible_account().to_string();
    let sshd = start_sshd_at(ansible.parent().unwrap(), GUEST);
    let agent = TestAgent::start_with(&format!(
        "provisioning:\n  ssh:\n    wait_timeout_seconds: 60\n    wait_interval_seconds: 1\n  tools:\n    ansible_playbook: {}\n",
        ansible.display(),
    ));
    // A marker only this test's controller carries on its command line.
    let marker = format!("{}", 600 + std::process::id() % 1000);
    playbook_zone(
        &agent,
        "slow1",
        &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep {marker}\n      delegate_to: localhost\n"),
        &sshd,
        GUEST,
    );
    let r = agent.post("/zones/slow1/provision", json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let group = r.body["task_id"].as_str().unwrap().to_owned();
    let sleep = format!("sleep {marker}");
    let running = agent.eventually(
        "the playbook's command runs on the controller",
        || procs_with(&sleep),
        |p| !p.is_empty(),
    );
    assert!(
        running.iter().all(|(uid, _)| *uid == confined_uid),
        "{running:?}"
    );
    let r = agent.post("/zones/slow1/provision/cancel", json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(agent.wait(&group)["status"], "cancelled");
    agent.eventually(
        "the controller's processes are gone",
        || procs_with(&sleep),
        |p| p.is_empty(),
    );
}
