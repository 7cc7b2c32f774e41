//! The binary's own commands.

use std::process::Command;

use serde_json::Value;

use crate::support::{agent_bin, temp_dir, TestAgent};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(agent_bin()).args(args).output().unwrap()
}

#[test]
fn version_and_help() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("zoneweaver-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "keys", "config", "openapi", "--config"] {
        assert!(text.contains(word), "{word} missing from --help");
    }
}

#[test]
fn config_defaults_prints_a_file_the_agent_accepts() {
    let out = run(&["config", "defaults"]);
    assert!(out.status.success());
    let dir = temp_dir("defaults");
    let path = dir.0.join("config.yaml");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = run(&["config", "check", "--config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_config_names_the_key() {
    let dir = temp_dir("badconf");
    let path = dir.0.join("config.yaml");
    std::fs::write(&path, "server:\n  https_port: 5001\n  colour: blue\n").unwrap();
    let out = run(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.colour"), "{err}");
}

#[test]
fn openapi_prints_the_document() {
    let out = run(&["openapi"]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/tasks/{id}"].is_object());
}

#[test]
fn keys_commands_work_beside_a_running_agent() {
    let agent = TestAgent::start();
    let out = agent.key_cmd(&["keys", "create", "--name", "cli-made", "--role", "operator"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        agent.request("GET", "/tasks", Some(&token), None).status,
        200
    );

    let out = agent.key_cmd(&["keys", "list"]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains("cli-made") && listing.contains("bootstrap"));
    assert!(!listing.contains(&token), "the list shows a secret");
    let id = listing
        .lines()
        .find(|l| l.ends_with("cli-made"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = agent.key_cmd(&["keys", "revoke", &id]);
    assert!(out.status.success());
    assert_eq!(
        agent.request("GET", "/tasks", Some(&token), None).status,
        401
    );
}

#[test]
fn the_bootstrap_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let agent = TestAgent::start();
    let meta = std::fs::metadata(agent.data_dir().join("bootstrap-api-key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let key = std::fs::metadata(agent.data_dir().join("tls/agent.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert!(
        !agent.log().contains(&agent.key),
        "the bootstrap key was logged"
    );
}

#[test]
fn a_second_agent_on_the_same_data_directory_is_refused() {
    let agent = TestAgent::start();
    let out = agent
        .command()
        .args(["serve", "--config"])
        .arg(&agent.config_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

/// The shared harness (crates/testkit) tells a failed start by the agent's own words: a port
/// taken between `free_port` and the bind is reported as such (the harness then retries on
/// another), and the failure shows the end of the agent's log.
#[test]
fn a_start_that_fails_is_reported_with_the_agents_log() {
    use zoneweaver_testkit::{AgentConfig, EmulatedHost, Wait};
    let dir = temp_dir("taken");
    let host = EmulatedHost::init(&dir.0.join("host"));
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let config = dir.0.join("config.yaml");
    AgentConfig::new(&dir.0.join("data"), port, &host).write(&config);
    let log = dir.0.join("agent.log");
    let mut child = zoneweaver_testkit::serve_command(
        &agent_bin(),
        &config,
        zoneweaver_testkit::append_log(&log),
    )
    .spawn()
    .unwrap();
    let http = zoneweaver_testkit::client(std::time::Duration::from_secs(5));
    let exited =
        zoneweaver_testkit::wait_healthy(&mut child, &http, port, &log, 0, &Wait::default())
            .expect_err("the agent cannot bind a port already held");
    assert!(exited.port_taken(), "{exited}");
    let message = exited.to_string();
    assert!(message.contains("before answering /health"), "{message}");
    assert!(message.contains("Address already in use"), "{message}");
}
