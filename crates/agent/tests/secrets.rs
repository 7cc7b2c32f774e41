//! Secrets stay secret, and the transport is what it should be: passwords, private keys and
//! API keys never appear in an answer, a task's output, the agent's log, a database column
//! outside the secret tables, or a process's argv or environment; TLS below 1.2 is refused;
//! plain HTTP is off unless configured; key material is written 0600.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::TestAgent;

const ZONE_PASSWORD: &str = "Zw-zone-pw-5f1e";
const CONSOLE_PASSWORD: &str = "Zw-console-pw-77a2";
const PRIVATE_KEY_BODY: &str = "ZwPrivateKeyBody0c4d9e";

/// Tables that hold secrets by design (and only there).
const SECRET_TABLES: [&str; 2] = ["task_secrets", "zone_secrets"];

/// Every (table, column, value as text) of the agent's database.
fn dump_db(agent: &TestAgent) -> Vec<(String, String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        agent.data_dir().join("agent.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.len() >= 8, "tables: {tables:?}");
    let mut out = Vec::new();
    for t in tables {
        let mut st = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let cols: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, c) in cols.iter().enumerate() {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    other => format!("{other:?}"),
                };
                out.push((t.clone(), c.clone(), text));
            }
        }
    }
    out
}

fn all_answers(agent: &TestAgent, zone: &str) -> String {
    let mut text = String::new();
    for path in [
        "/zones".to_owned(),
        format!("/zones/{zone}"),
        format!("/zones/{zone}/provision/status"),
        "/tasks?limit=1000".to_owned(),
        "/api-keys".to_owned(),
        "/provisioning/recipes".to_owned(),
    ] {
        let r = agent.get(&path);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        text.push_str(&r.body.to_string());
    }
    let tasks = agent.get("/tasks?limit=1000").body;
    for t in tasks["tasks"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        text.push_str(&agent.get(&format!("/tasks/{id}")).body.to_string());
        text.push_str(
            &agent
                .get(&format!("/tasks/{id}/output?limit=10000"))
                .body
                .to_string(),
        );
    }
    text
}

#[test]
fn secrets_reach_no_answer_log_column_or_process_list() {
    let agent = TestAgent::start();
    let made = agent.post("/api-keys", json!({"name": "ops", "role": "operator"}));
    assert_eq!(made.status, 201);
    let token = made.body["api_key"].as_str().unwrap().to_owned();
    let needles = [
        ZONE_PASSWORD,
        CONSOLE_PASSWORD,
        PRIVATE_KEY_BODY,
        &token,
        &agent.key,
    ];

    // Watch every process while the zone is created and configured with secrets.
    let stop = Arc::new(AtomicBool::new(false));
    let watchers: Vec<_> = [ZONE_PASSWORD, CONSOLE_PASSWORD, PRIVATE_KEY_BODY]
        .iter()
        .map(|n| crate::provisioning::watch_proc(n.to_string(), stop.clone()))
        .collect();
    let r = agent.request(
        "POST",
        "/zones",
        Some(&token),
        Some(&json!({"name": "sec1", "brand": "bhyve", "ram": "1G",
            "boot_volume": {"size": "1G"},
            "cloud_init": {"enabled": "on", "password": ZONE_PASSWORD}})),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"
    );
    let r = agent.request(
        "PUT",
        "/zones/sec1",
        Some(&token),
        Some(
            &json!({"ram": "2G", "cloud_init": {"password": format!("{ZONE_PASSWORD}x")},
            "provisioning": {"credentials": {"username": "root", "password": CONSOLE_PASSWORD,
                "ssh_private_key": key}}}),
        ),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
    stop.store(true, Ordering::Relaxed);
    for w in watchers {
        let seen = w.join().unwrap();
        assert_eq!(
            seen.len(),
            1,
            "a secret was visible in /proc (argv or environment): {seen:?}"
        );
    }

    // It did reach the zone (so the checks below are not vacuous).
    let host = crate::support::dump(&agent).to_string();
    assert!(host.contains(&format!("{ZONE_PASSWORD}x")));

    let answers = all_answers(&agent, "sec1");
    let log = agent.log();
    let db = dump_db(&agent);
    assert!(
        db.iter()
            .any(|(t, _, v)| SECRET_TABLES.contains(&t.as_str()) && v.contains(CONSOLE_PASSWORD)),
        "the console password was not kept in the secret store"
    );
    for n in needles {
        assert!(!answers.contains(n), "an answer holds a secret ({n})");
        assert!(!log.contains(n), "the agent's log holds a secret ({n})");
        for (table, column, value) in &db {
            if value.contains(n) {
                assert!(
                    SECRET_TABLES.contains(&table.as_str()),
                    "{table}.{column} holds a secret ({n})"
                );
            }
        }
    }
    // API keys are kept as hashes only: not even the secret tables hold one.
    assert!(!db
        .iter()
        .any(|(_, _, v)| v.contains(&token) || v.contains(&agent.key)));
}

fn openssl() -> Option<std::path::PathBuf> {
    let out = Command::new("openssl").arg("version").output().ok()?;
    out.status.success().then(|| "openssl".into())
}

/// `openssl s_client` with one protocol version; returns (handshake done, output).
fn handshake(port: u16, version: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
            // Let the client offer old protocols at all (OpenSSL 3 refuses them itself).
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // "New, TLSv1.2, Cipher is ..." after a handshake; "New, (NONE), Cipher is (NONE)" when
    // there was none.
    let done = text.contains("New, TLSv") && !text.contains("Cipher is (NONE)");
    (done, text)
}

#[test]
fn tls_is_1_2_or_newer_plain_http_is_off_and_key_files_are_0600() {
    let agent = TestAgent::start();
    if openssl().is_some() {
        for v in ["-tls1_2", "-tls1_3"] {
            let (ok, text) = handshake(agent.port, v);
            assert!(ok, "a {v} handshake failed:\n{text}");
        }
        for v in ["-tls1", "-tls1_1"] {
            let (ok, text) = handshake(agent.port, v);
            assert!(!ok, "a {v} handshake succeeded:\n{text}");
            // The server said no with an alert (rustls sends handshake_failure, 40), rather
            // than the client refusing to try.
            assert!(
                text.contains("SSL alert number"),
                "{v}: no protocol-version refusal:\n{text}"
            );
        }
    } else {
        eprintln!("openssl not found: TLS version checks skipped");
    }

    // No plain-HTTP listener by default: the agent logs its listeners, and only HTTPS is one.
    let log = agent.log();
    assert!(log.contains("listening (HTTPS)"), "{log}");
    assert!(!log.contains("listening (plain HTTP)"), "{log}");

    let data = agent.data_dir();
    for f in ["bootstrap-api-key", "tls/agent.key", "tls/agent.crt"] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} is {mode:o}");
    }
}

#[test]
fn plain_http_answers_only_when_configured() {
    let port = crate::support::free_port();
    let agent = TestAgent::start_configured(&format!("  http_port: {port}\n"), "");
    let r = ureq::get(&format!("http://127.0.0.1:{port}/health"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let log = agent.log();
    assert!(log.contains("listening (plain HTTP)"), "{log}");
}

/// Every file under the data directory and the modes they have, directories included.
fn modes_under(dir: &std::path::Path, out: &mut Vec<(String, u32, bool)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        out.push((
            e.path().display().to_string(),
            meta.permissions().mode() & 0o7777,
            meta.is_dir(),
        ));
        if meta.is_dir() {
            modes_under(&e.path(), out);
        }
    }
}

fn assert_private(data: &std::path::Path) {
    let mode = std::fs::metadata(data).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "the data directory is {mode:o}");
    let mut all = Vec::new();
    modes_under(data, &mut all);
    for name in ["agent.db", "agent.db-wal", "agent.db-shm", "agent.lock"] {
        assert!(
            all.iter().any(|(p, _, _)| p.ends_with(&format!("/{name}"))),
            "{name} is missing: {all:?}"
        );
    }
    for (path, mode, dir) in all {
        let want = if dir { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{path} is {mode:o}");
    }
}

/// The agent's user alone reads the data directory (the database and its WAL hold console
/// passwords and key hashes), whatever modes it finds at start; a directory that another user
/// owns or can write into is refused, and the agent does not start.
#[test]
fn the_data_directory_is_private_at_every_start() {
    let mut agent = TestAgent::start();
    let data = agent.data_dir();
    // A write, so the WAL and its index exist.
    agent.noop(json!({"duration_ms": 1}));
    assert_private(&data);

    // Opened up while the agent was down (a copy, a restore): closed again at the next start.
    agent.kill();
    for (p, m) in [
        (data.clone(), 0o755),
        (data.join("agent.db"), 0o644),
        (data.join("agent.db-wal"), 0o644),
        (data.join("bootstrap-api-key"), 0o644),
        (data.join("tls"), 0o755),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    agent.launch();
    agent.noop(json!({"duration_ms": 1}));
    assert_private(&data);
    agent.kill();

    let refused = |why: &str| {
        let out = agent
            .command()
            .arg("serve")
            .arg("--config")
            .arg(&agent.config_path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{why}: the agent started: {err}");
        assert!(
            err.contains(&data.display().to_string()) && err.contains("refusing"),
            "{why}: {err}"
        );
        err
    };
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = refused("world-writable");
    assert!(err.contains("0777"), "{err}");
    // Nothing was changed in a directory it refused.
    let mode = std::fs::metadata(data.join("agent.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Another user's directory (the tests run as root; nobody is uid 65534).
    std::os::unix::fs::chown(&data, Some(65534), None).unwrap();
    let err = refused("owned by another user");
    assert!(err.contains("uid 65534"), "{err}");
    std::os::unix::fs::chown(&data, Some(0), None).unwrap();
}
