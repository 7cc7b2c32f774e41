//! A revoked key loses its open streams too: `/events` and `/tasks/{id}/wait` end soon after
//! its revocation (over the API or with `keys revoke` beside the running agent), while another
//! key's stream stays open.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{client, TestAgent};

/// Creates a viewer key; returns (id, token).
fn viewer(agent: &TestAgent, name: &str) -> (String, String) {
    let r = agent.post("/api-keys", json!({"name": name, "role": "viewer"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["api_key"].as_str().unwrap().to_owned(),
    )
}

/// Opens `/events` with `token` on a thread that reports each line, then the stream's end.
fn open_events(agent: &TestAgent, token: &str) -> mpsc::Receiver<Option<String>> {
    let req = ureq::http::Request::builder()
        .uri(agent.url("/events"))
        .header("Authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let resp = client(Duration::from_secs(120)).run(req).unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(resp.into_body().into_reader()).lines();
        while let Some(Ok(line)) = lines.next() {
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    rx
}

/// Waits for the stream's end, skipping its lines (keep-alive comments included); the time
/// it took.
fn ended(events: &mpsc::Receiver<Option<String>>, what: &str) -> Duration {
    let t = Instant::now();
    let patience = Duration::from_secs(20);
    loop {
        let left = patience.saturating_sub(t.elapsed());
        match events.recv_timeout(left) {
            Ok(Some(_)) if t.elapsed() < patience => continue,
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => return t.elapsed(),
            _ => panic!("{what} is still open {patience:?} later"),
        }
    }
}

/// Waits for a line of a `task_created` event of `task`.
fn sees_task(events: &mpsc::Receiver<Option<String>>, task: &str) {
    loop {
        match events.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(line)) if line.starts_with("data:") && line.contains(task) => return,
            Ok(Some(_)) => continue,
            other => panic!("the other key's stream ended or went quiet: {other:?}"),
        }
    }
}

#[test]
fn revoking_a_key_ends_its_streams_and_only_its_streams() {
    let agent = TestAgent::start();
    let (a_id, a) = viewer(&agent, "revoked-over-api");
    let (c_id, c) = viewer(&agent, "revoked-on-cli");
    let (_, b) = viewer(&agent, "kept");
    let a_events = open_events(&agent, &a);
    let c_events = open_events(&agent, &c);
    let b_events = open_events(&agent, &b);
    let long = agent.noop(json!({"duration_ms": 120_000}));
    let waiting = {
        let url = agent.url(&format!("/tasks/{long}/wait?timeout=300"));
        let a = a.clone();
        thread::spawn(move || {
            let req = ureq::http::Request::builder()
                .uri(url)
                .header("Authorization", format!("Bearer {a}"))
                .body(())
                .unwrap();
            let mut resp = client(Duration::from_secs(120)).run(req).unwrap();
            let mut body = String::new();
            let _ = resp.body_mut().as_reader().read_to_string(&mut body);
            (resp.status().as_u16(), body, Instant::now())
        })
    };
    // Every stream is open and listening: each sees the task created after it.
    let probe = agent.noop(json!({}));
    sees_task(&a_events, &probe);
    sees_task(&b_events, &probe);
    sees_task(&c_events, &probe);

    let revoked_at = Instant::now();
    assert_eq!(agent.delete(&format!("/api-keys/{a_id}")).status, 200);
    let events_took = ended(&a_events, "/events of the key revoked over the API");
    let (status, body, at) = waiting.join().unwrap();
    let wait_took = at.duration_since(revoked_at);
    assert_eq!(status, 401, "{body}");

    let out = agent.key_cmd(&["keys", "revoke", &c_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_took = ended(&c_events, "/events of the key revoked on the command line");
    println!(
        "revocation: /events ended {events_took:?} and /tasks/{{id}}/wait {wait_took:?} after DELETE /api-keys; \
         /events ended {cli_took:?} after `keys revoke`"
    );

    // The other key's stream lives on.
    let later = agent.noop(json!({}));
    sees_task(&b_events, &later);
    let cancel = agent.delete(&format!("/tasks/{long}")).status;
    assert!(matches!(cancel, 200 | 202), "cancel: {cancel}");
}

/// Keys the agent accepted lately are answered without the database; a revocation over the
/// API must still refuse the key's very next request, and leave the other keys working.
#[test]
fn a_key_revoked_over_the_api_is_refused_at_its_next_request() {
    let agent = TestAgent::start();
    let (a_id, a) = viewer(&agent, "revoked-next");
    let (_, b) = viewer(&agent, "kept");
    for token in [&a, &b] {
        assert_eq!(
            agent.request("GET", "/tasks", Some(token), None).status,
            200
        );
    }
    assert_eq!(agent.delete(&format!("/api-keys/{a_id}")).status, 200);
    assert_eq!(agent.request("GET", "/tasks", Some(&a), None).status, 401);
    assert_eq!(agent.request("GET", "/tasks", Some(&b), None).status, 200);
}
