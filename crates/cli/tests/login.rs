//! `zw login`, pinning, stored hosts and the environment overrides.

use std::os::unix::fs::PermissionsExt;

use sha2::{Digest, Sha256};

use crate::support::{pem_der, TestAgent, Zw};

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn login_pins_the_certificate_and_a_changed_one_is_refused() {
    let mut agent = TestAgent::start();
    let zw = Zw::new();
    let cert = agent.data_dir().join("tls/agent.crt");
    let fp = hex(&Sha256::digest(pem_der(&cert)));

    // Without --yes and without a terminal to ask on, nothing is accepted or stored.
    let r = zw.run_with_stdin(&["login", &agent.base()], Some(&key_line(&agent.key)));
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains(&colons(&fp)),
        "the fingerprint is shown: {r:#?}"
    );
    assert!(r.stderr.contains("not accepted"), "{r:#?}");
    assert!(!zw.config_file().exists());

    let r = zw
        .run_with_stdin(
            &["login", &agent.base(), "--yes"],
            Some(&key_line(&agent.key)),
        )
        .ok();
    assert!(r.stdout.contains(&colons(&fp)), "{r:#?}");
    let mode = std::fs::metadata(zw.config_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(zw.config_file()).unwrap();
    assert!(text.contains(&format!("fingerprint = \"{fp}\"")), "{text}");
    assert!(text.contains(&agent.key));
    zw.run(&["zones", "list"]).ok();

    // The agent gets a new certificate (same address, same data): refused, with both
    // fingerprints and what to do.
    agent.stop();
    std::fs::remove_dir_all(agent.data_dir().join("tls")).unwrap();
    agent.launch();
    let new_fp = hex(&Sha256::digest(pem_der(&cert)));
    assert_ne!(new_fp, fp);
    let r = zw.run(&["zones", "list"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("certificate has changed"), "{r:#?}");
    assert!(
        r.stderr.contains(&colons(&fp)) && r.stderr.contains(&colons(&new_fp)),
        "{r:#?}"
    );
    assert!(r.stderr.contains("zw login"), "{r:#?}");
    assert!(r.stdout.is_empty());

    // Logging in again shows the change, and --yes pins the new one.
    let r = zw
        .run_with_stdin(
            &["login", &agent.base(), "--yes"],
            Some(&key_line(&agent.key)),
        )
        .ok();
    assert!(r.stderr.contains("not the one pinned"), "{r:#?}");
    zw.run(&["zones", "list"]).ok();
}

#[test]
fn a_refused_key_is_not_stored_and_a_piped_key_is_read() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    let r = zw.run_with_stdin(&["login", &agent.base(), "--yes"], Some("hw_0000\n"));
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("refused the API key"), "{r:#?}");
    assert!(!zw.config_file().exists());

    let r = zw.run_with_stdin(
        &["--host", "lab", "login", &agent.base(), "--yes"],
        Some(&format!("{}\n", agent.key)),
    );
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("\"lab\""), "{r:#?}");
    let hosts = zw.run(&["hosts", "list"]).ok();
    assert!(hosts.stdout.contains("lab") && hosts.stdout.contains(&agent.base()));
}

#[test]
fn several_hosts_are_picked_by_name_and_the_environment_overrides() {
    let a = TestAgent::start();
    let b = TestAgent::start();
    let zw = Zw::new();
    zw.run_with_stdin(
        &["--host", "a", "login", &a.base(), "--yes"],
        Some(&key_line(&a.key)),
    )
    .ok();
    zw.run_with_stdin(
        &["--host", "b", "login", &b.base(), "--yes"],
        Some(&key_line(&b.key)),
    )
    .ok();
    // The first login made "a" the default.
    let hosts = zw.run(&["--json", "hosts", "list"]).ok().json();
    assert_eq!(hosts.as_array().unwrap().len(), 2);
    assert!(hosts[0]["default"].as_bool().unwrap());

    // A task queued on b only is seen through --host b.
    let id = b.noop(0);
    let on_b = zw.run(&["--host", "b", "tasks", "list"]).ok();
    assert!(on_b.stdout.contains(&id));
    let on_a = zw.run(&["tasks", "list"]).ok();
    assert!(!on_a.stdout.contains(&id));
    zw.run(&["hosts", "use", "b"]).ok();
    assert!(zw.run(&["tasks", "list"]).ok().stdout.contains(&id));

    // ZW_URL of a stored host keeps that host's pin; ZW_API_KEY replaces the key.
    let mut env_zw = Zw::new();
    env_zw.env = vec![
        ("ZW_URL".into(), b.base()),
        ("ZW_API_KEY".into(), b.key.clone()),
    ];
    let r = env_zw.run(&["tasks", "list"]);
    assert_eq!(r.code, 1, "nothing is pinned in an empty config: {r:#?}");
    assert!(r.stderr.contains("no certificate is pinned"), "{r:#?}");
    let fp = hex(&Sha256::digest(pem_der(
        &b.data_dir().join("tls/agent.crt"),
    )));
    env_zw.env.push(("ZW_FINGERPRINT".into(), colons(&fp)));
    assert!(env_zw.run(&["tasks", "list"]).ok().stdout.contains(&id));
    // A wrong key through the environment gets the API's own error.
    env_zw.env[1].1 = "hw_nope".into();
    let r = env_zw.run(&["tasks", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 401"), "{r:#?}");
}

/// A key as piped on standard input.
fn key_line(key: &str) -> String {
    format!("{key}\n")
}

/// The key is never taken from the command line, where every user sees it in `ps`.
#[test]
fn a_key_on_the_command_line_is_refused() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    let r = zw.run(&["login", &agent.base(), "--api-key", &agent.key, "--yes"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("ps"), "{r:#?}");
    assert!(!zw.config_file().exists());
}

/// A stored key goes only to the URL it was stored for: ZW_URL pointing elsewhere, with a
/// stored host named, needs its own ZW_API_KEY.
#[test]
fn a_stored_key_does_not_follow_zw_url_elsewhere() {
    let agent = TestAgent::start();
    let mut zw = Zw::new();
    zw.login(&agent);
    let other = TestAgent::start();
    zw.env.push(("ZW_URL".into(), other.base()));
    let r = zw.run(&["--host", "default", "zones", "list"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("ZW_API_KEY"), "{r:#?}");
}
