//! The Zoneweaver web UI's contract: the agent answers the calls the UI makes, as it makes
//! them, with the keys it reads.

use serde_json::{json, Value};

use crate::support::TestAgent;

/// The UI's backend keeps only an error body's `message` (it replaces the body with
/// `{success: false, message}`), so every refusal carries it beside `error` and `code`,
/// including the ones axum answers by itself (405, an undecodable path parameter).
#[test]
fn every_error_answer_carries_message_beside_error_and_code() {
    let agent = TestAgent::start();
    let no_key = agent.request("GET", "/zones", None, None);
    let cases = [
        ("no key", no_key),
        ("unknown route", agent.get("/no/such/route")),
        (
            "wrong method",
            agent.request("PATCH", "/zones", Some(&agent.key), None),
        ),
        ("bad path encoding", agent.get("/zones/%FF%FE")),
        (
            "unknown body key",
            agent.post("/zones/z1/start", json!({"bogus": 1})),
        ),
        ("missing zone", agent.get("/zones/nosuchzone")),
        ("bad query value", agent.get("/tasks?limit=many")),
    ];
    for (what, r) in cases {
        assert!(r.status >= 400, "{what}: {} {:?}", r.status, r.body);
        let message = r.body["message"].as_str();
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "{what}: no message in {:?}",
            r.body
        );
        assert_eq!(r.body["error"].as_str(), message, "{what}: {:?}", r.body);
        assert!(r.body["code"].is_string(), "{what}: {:?}", r.body);
        assert_eq!(
            r.body["success"],
            Value::Bool(false),
            "{what}: {:?}",
            r.body
        );
    }
}
