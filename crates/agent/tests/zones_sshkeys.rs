//! Several SSH keys in one `cloud_init.sshkey`: written to `<zonepath>/cloud-init-sshkeys`,
//! which the zone's `sshkey` attribute names and the bhyve brand reads at boot (the emulator
//! models the brand and cloud-init: the guest's root gets the keys at its first boot).

use std::os::unix::fs::MetadataExt;

use serde_json::{json, Value};

use zoneweaver_agent::zones::sshkeys::HEADER;

use crate::support::{dump, host, Response, TestAgent};

const KEYS: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n\
sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX0 bob@yubikey\n\
ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";

fn wait_ok(agent: &TestAgent, r: &Response) -> Value {
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    t
}

fn detail(agent: &TestAgent, name: &str) -> Value {
    let r = agent.get(&format!("/zones/{name}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn put_keys(agent: &TestAgent, zone: &str, keys: &str) -> Response {
    agent.request(
        "PUT",
        &format!("/zones/{zone}"),
        Some(&agent.key),
        Some(&json!({"cloud_init": {"sshkey": keys}})),
    )
}

fn key_file(agent: &TestAgent, zonepath: &str) -> std::path::PathBuf {
    agent.host_path(&format!("root{zonepath}/cloud-init-sshkeys"))
}

/// The key file's text for `keys`: the agent's header line, then the lines as sent.
fn file_text(keys: &str) -> String {
    format!("{HEADER}\n{keys}\n")
}

/// Creates and boots a bhyve zone with cloud-init on and `keys`, and answers root's
/// `authorized_keys` in the guest after its first boot.
fn guest_keys_after_boot(agent: &TestAgent, name: &str, keys: &str) -> String {
    let r = agent.post(
        "/zones",
        json!({"name": name, "brand": "bhyve", "start_after_create": true,
               "cloud_init": {"enabled": "on", "sshkey": keys}}),
    );
    wait_ok(agent, &r);
    let t = agent.wait(r.body["start_task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    host(
        agent,
        "zlogin",
        &[name, "cat", "/root/.ssh/authorized_keys"],
    )
}

#[test]
fn several_keys_are_a_root_file_in_the_zonepath_that_the_brand_reads_at_boot() {
    let agent = TestAgent::start();
    let r = agent.post(
        "/zones",
        json!({"name": "keys", "brand": "bhyve", "start_after_create": true,
               "cloud_init": {"enabled": "on", "sshkey": KEYS}}),
    );
    wait_ok(&agent, &r);
    let t = agent.wait(r.body["start_task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");

    let z = detail(&agent, "keys");
    let zonepath = z["configuration"]["zonepath"].as_str().unwrap().to_owned();
    let file = key_file(&agent, &zonepath);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), file_text(KEYS));
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!(m.mode() & 0o7777 & !0o644, 0, "mode {:o}", m.mode());
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(m.uid(), 0, "the key file is root's");
    }
    // The attribute names the file (absolute, as the brand wants it to read it as one).
    assert_eq!(
        z["attributes"]["sshkey"],
        format!("{zonepath}/cloud-init-sshkeys")
    );
    // The detail shows the keys back as sent, in the same field.
    assert_eq!(z["cloud_init"]["sshkey"], KEYS);
    // What the guest got from the brand and cloud-init at its first boot: every key, each
    // on its own line (cloud-init's second pass for root repeats the lines after the first).
    let guest = host(
        &agent,
        "zlogin",
        &["keys", "cat", "/root/.ssh/authorized_keys"],
    );
    assert!(guest.starts_with(&file_text(KEYS)), "{guest}");
    for k in KEYS.lines() {
        assert!(guest.lines().any(|l| l == k), "{k} missing from {guest}");
    }

    // A change of keys rewrites the file at once; the brand reads it at the next boot.
    let new_keys = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY carol@desk\n\
                    ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDave dave@home";
    wait_ok(&agent, &put_keys(&agent, "keys", new_keys));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), file_text(new_keys));
    let z = detail(&agent, "keys");
    assert_eq!(z["cloud_init"]["sshkey"], new_keys);
    assert_eq!(z["requires_restart"], true);
    assert!(z["pending_changes"]
        .to_string()
        .contains("set cloud-init sshkey (2 keys)"));

    // Back to one key: the attribute holds it again, and the file it no longer names is gone.
    let one = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne eve@host";
    wait_ok(&agent, &put_keys(&agent, "keys", one));
    let z = detail(&agent, "keys");
    assert_eq!(z["attributes"]["sshkey"], one);
    assert_eq!(z["cloud_init"]["sshkey"], one);
    assert!(!file.exists(), "a key file no attribute names was left");
    // And several again: the file comes back.
    wait_ok(&agent, &put_keys(&agent, "keys", KEYS));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), file_text(KEYS));

    // The file goes with the zone (and its backup with it).
    let r = agent.delete("/zones/keys");
    wait_ok(&agent, &r);
    assert!(!file.exists(), "the key file outlived its zone");
}

#[test]
fn a_bad_key_line_is_a_400_naming_the_field_and_the_line_and_changes_nothing() {
    let agent = TestAgent::start();
    let before = dump(&agent);
    let calls = agent.invocations().len();
    let bad = format!("{}\nnot-a-key AAAA\n", KEYS.lines().next().unwrap());
    let r = agent.post(
        "/zones",
        json!({"name": "badkeys", "brand": "bhyve", "cloud_init": {"sshkey": bad}}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "cloud_init.sshkey");
    assert!(
        r.body["error"].as_str().unwrap().contains("(line 2)"),
        "{:?}",
        r.body
    );
    assert_eq!(agent.invocations().len(), calls, "a host command ran");
    assert_eq!(dump(&agent), before);
    assert_eq!(agent.get("/zones/badkeys").status, 404);

    // The same on a modify: the zone's key file and attribute stay as they were.
    let r = agent.post(
        "/zones",
        json!({"name": "k2", "brand": "bhyve", "cloud_init": {"sshkey": KEYS}}),
    );
    wait_ok(&agent, &r);
    let z = detail(&agent, "k2");
    let file = key_file(&agent, z["configuration"]["zonepath"].as_str().unwrap());
    let before = dump(&agent);
    let r = put_keys(&agent, "k2", &bad);
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "cloud_init.sshkey");
    assert_eq!(dump(&agent), before);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), file_text(KEYS));
}

/// A create that fails after the key file was written takes it away again, itself: here the
/// zonepath survives the undo (its uninstall and the datasets' destroy are made to fail), and
/// the file is gone from it.
#[test]
fn a_create_failing_after_the_key_file_was_written_removes_it() {
    let agent = TestAgent::start();
    let rules = [
        json!({"tool": "zfs", "prefix": ["set"], "action": "fail", "stderr": "cannot set property: permission denied"}),
        json!({"tool": "zoneadm", "contains": "uninstall", "action": "fail", "stderr": "zoneadm: zone 'undo': uninstall failed"}),
        json!({"tool": "zfs", "prefix": ["destroy"], "action": "fail", "stderr": "cannot destroy: dataset is busy"}),
    ];
    let text: String = rules.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(agent.host.join("faults"), text).unwrap();
    let r = agent.post(
        "/zones",
        json!({"name": "undo", "brand": "bhyve", "cloud_init": {"sshkey": KEYS}}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "failed", "{t:?}");
    let zonepath = "/rpool/zones/undo/path";
    assert!(
        agent.host_path(&format!("root{zonepath}")).is_dir(),
        "the zonepath should have survived the failed uninstall"
    );
    assert!(
        !key_file(&agent, zonepath).exists(),
        "the key file was left behind"
    );
}

/// A modify whose configuration change fails puts the previous key file back.
#[test]
fn a_failed_change_of_keys_puts_the_previous_file_back() {
    let agent = TestAgent::start();
    wait_ok(
        &agent,
        &agent.post(
            "/zones",
            json!({"name": "keep", "brand": "bhyve", "cloud_init": {"sshkey": KEYS}}),
        ),
    );
    let file = key_file(&agent, "/rpool/zones/keep/path");
    let rule = json!({"tool": "zonecfg", "contains": "-f", "action": "fail", "stderr": "zonecfg: invalid"});
    std::fs::write(agent.host.join("faults"), format!("{rule}\n")).unwrap();
    let r = put_keys(
        &agent,
        "keep",
        "ssh-rsa AAAAB3Nza x@y\nssh-ed25519 AAAAC3Nz z@w",
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "failed", "{t:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), file_text(KEYS));
    assert_eq!(detail(&agent, "keep")["cloud_init"]["sshkey"], KEYS);
}

/// Several keys, the first without a comment: each reaches the guest's authorized_keys on its
/// own line (without the agent's first line, cloud-init would make the later keys the first
/// key's comment).
#[test]
fn several_keys_the_first_without_a_comment_reach_the_guest_each_on_its_own_line() {
    let agent = TestAgent::start();
    let keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0\n\
                ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@host\n\
                ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY";
    let guest = guest_keys_after_boot(&agent, "nocomment", keys);
    for k in keys.lines() {
        assert!(
            guest.lines().any(|l| l == k),
            "{k:?} is not a line of {guest}"
        );
    }
    assert_eq!(detail(&agent, "nocomment")["cloud_init"]["sshkey"], keys);
}

/// A key with options and a `#` line reach the guest verbatim; the attribute names the file
/// (a zonecfg value cannot hold the quotes), and the detail shows the value as sent.
#[test]
fn a_key_with_options_and_a_comment_line_reach_the_guest_verbatim() {
    let agent = TestAgent::start();
    let keys = "# the build host: only its uptime\n\
                restrict,command=\"echo hi\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuild build@ci";
    let guest = guest_keys_after_boot(&agent, "opts", keys);
    assert!(guest.starts_with(&file_text(keys)), "{guest}");
    assert!(guest.lines().any(|l| l == keys.lines().nth(1).unwrap()));
    let z = detail(&agent, "opts");
    assert_eq!(z["cloud_init"]["sshkey"], keys);
    assert_eq!(
        z["attributes"]["sshkey"],
        "/rpool/zones/opts/path/cloud-init-sshkeys"
    );
    // One key with options is no plain key: it goes to the file too, its options kept.
    let one = "no-pty,from=\"10.0.0.0/8\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@h";
    let guest = guest_keys_after_boot(&agent, "oneopt", one);
    assert!(guest.lines().any(|l| l == one), "{guest}");
}

/// An option sshd does not know is a 400 naming the field and the line, and nothing on the
/// host changes.
#[test]
fn an_unknown_key_option_is_a_400_naming_the_line_and_changes_nothing() {
    let agent = TestAgent::start();
    let before = dump(&agent);
    let calls = agent.invocations().len();
    let bad = format!(
        "{}\nno-such-thing ssh-ed25519 AAAAC3Nz x@y",
        KEYS.lines().next().unwrap()
    );
    let r = agent.post(
        "/zones",
        json!({"name": "badopt", "brand": "bhyve", "cloud_init": {"sshkey": bad}}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["field"], "cloud_init.sshkey");
    let e = r.body["error"].as_str().unwrap();
    assert!(
        e.contains("(line 2)")
            && e.contains("\"no-such-thing\"")
            && e.contains("no-such-thing ssh-ed25519 AAAAC3Nz x@y"),
        "{e}"
    );
    assert_eq!(agent.invocations().len(), calls, "a host command ran");
    assert_eq!(dump(&agent), before);
}
