//! Every route in the OpenAPI document × every kind of caller: exactly the 401/403 the
//! document's security scopes promise, and no route without a rule.

use serde_json::{json, Value};

use crate::support::{openapi, TestAgent};

const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap()
}

/// The floor under what the document may declare, so a new route cannot be opened up by a
/// wrong scope either: reads are open only for health and the documents, anything that
/// changes state needs an operator, and keys are an admin's. `POST /ws-tickets` is the one
/// POST open to viewers: it changes nothing, and the ticket it gives is worth exactly the
/// caller's own role (a viewer can watch a console with it, not type).
fn check_least_role(path: &str, method: &str, needed: Option<&str>) {
    const OPEN: [&str; 3] = ["/health", "/openapi.json", "/api-docs"];
    match needed {
        None => assert!(
            method == "GET" && OPEN.iter().any(|p| path.starts_with(p)),
            "{method} {path} is open to callers without a key"
        ),
        Some(role) => {
            if path.starts_with("/api-keys") {
                assert_eq!(role, "admin", "{method} {path} must need admin");
            } else if method != "GET" && path != "/ws-tickets" {
                assert!(
                    rank(role) >= rank("operator"),
                    "{method} {path} changes state but needs only {role}"
                );
            }
        }
    }
}

/// The least role an operation needs, or None for an open one. Panics on an operation that
/// declares nothing: every route must say who may call it.
fn required_role(path: &str, method: &str, op: &Value) -> Option<String> {
    let security = op
        .get("security")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{method} {path} declares no security rule"));
    if security
        .iter()
        .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
    {
        return None;
    }
    let scopes = security[0]["api_key"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path}: security without api_key"));
    assert_eq!(scopes.len(), 1, "{method} {path}: one role scope expected");
    let role = scopes[0].as_str().unwrap().to_owned();
    assert!(
        ROLES.contains(&role.as_str()),
        "{method} {path}: unknown role {role}"
    );
    Some(role)
}

#[test]
fn every_route_enforces_its_documented_role() {
    let agent = TestAgent::start();
    let doc = agent.request("GET", "/openapi.json", None, None).body;
    let mut keys = std::collections::HashMap::new();
    for role in ROLES {
        let out = agent.key_cmd(&[
            "keys",
            "create",
            "--name",
            &format!("matrix-{role}"),
            "--role",
            role,
        ]);
        assert!(out.status.success());
        keys.insert(
            role,
            String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        );
    }
    let revoked = {
        let r = agent.post("/api-keys", json!({"name": "to-revoke", "role": "admin"}));
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(agent.delete(&format!("/api-keys/{id}")).status, 200);
        r.body["api_key"].as_str().unwrap().to_owned()
    };
    let malformed = "hw_not-a-real-key";
    let unknown = format!("hw_{}", "0".repeat(64));

    let mut checked = 0;
    for o in openapi::operations(&doc) {
        let (method, path) = (o.method.as_str(), o.path.as_str());
        let needed = required_role(path, method, o.op);
        check_least_role(path, method, needed.as_deref());
        // Path parameters get an id that exists nowhere: authorisation is decided before lookup.
        let url = o.concrete(|_| "00000000-0000-4000-8000-000000000000".into());
        let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        let status = |key: Option<&str>| agent.status(method, &url, key, body.as_ref());
        match &needed {
            None => {
                let s = status(None);
                assert!(s != 401 && s != 403, "{method} {path} open route gave {s}");
            }
            Some(role) => {
                for bad in [
                    None,
                    Some(malformed),
                    Some(unknown.as_str()),
                    Some(revoked.as_str()),
                ] {
                    assert_eq!(status(bad), 401, "{method} {path} with {bad:?}");
                }
                for caller in ROLES {
                    let s = status(Some(&keys[caller]));
                    if rank(caller) < rank(role) {
                        assert_eq!(s, 403, "{method} {path} as {caller} (needs {role})");
                    } else {
                        assert!(s != 401 && s != 403, "{method} {path} as {caller} gave {s}");
                    }
                }
            }
        }
        checked += 1;
    }
    eprintln!("access matrix: {checked} operations x 7 callers");
    assert!(checked >= 10, "only {checked} operations in the document");
}

#[test]
fn errors_are_json_with_a_code() {
    let agent = TestAgent::start();
    let r = agent.request("GET", "/tasks", None, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["success"], false);
    assert_eq!(r.body["code"], "unauthorized");
    assert!(r.body["error"].as_str().unwrap().contains("API key"));
    // The Zoneweaver UI's backend keeps only `message`.
    assert_eq!(r.body["message"], r.body["error"]);
    let r = agent.get("/no/such/thing");
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "not-found");
    assert_eq!(r.body["message"], r.body["error"]);
    let r = agent.post("/zones", json!({"name": "bad name", "brand": "bhyve"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "name");
    assert_eq!(r.body["message"], r.body["error"]);
}

#[test]
fn x_api_key_header_is_accepted() {
    let agent = TestAgent::start();
    let status = agent.status_with_header("GET", "/tasks", "X-API-Key", &agent.key);
    assert_eq!(status, 200);
}

#[test]
fn health_and_docs_need_no_key() {
    let agent = TestAgent::start();
    let r = agent.request("GET", "/health", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok", "{:?}", r.body);
    assert_eq!(r.body["host_tools"]["ok"], true);
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    let r = agent.request("GET", "/api-docs/", None, None);
    assert_eq!(r.status, 200);
    assert!(
        r.body.as_str().unwrap().contains("swagger"),
        "swagger UI page expected"
    );
    let r = agent.request("GET", "/openapi.json", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}

#[test]
fn keys_are_managed_over_the_api_and_never_show_secrets() {
    let agent = TestAgent::start();
    let r = agent.post("/api-keys", json!({"name": "ops team", "role": "operator"}));
    assert_eq!(r.status, 201);
    let token = r.body["api_key"].as_str().unwrap().to_owned();
    assert!(token.starts_with("hw_"));
    let list = agent.get("/api-keys");
    assert_eq!(list.status, 200);
    let text = list.body.to_string();
    assert!(
        !text.contains(&token) && !text.contains(&agent.key),
        "a secret was listed"
    );
    assert!(text.contains("ops team"));
    // The new operator key works, and cannot manage keys.
    assert_eq!(
        agent.request("GET", "/tasks", Some(&token), None).status,
        200
    );
    assert_eq!(
        agent.request("GET", "/api-keys", Some(&token), None).status,
        403
    );
    let r = agent.post("/api-keys", json!({"name": "bad\nname"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "name");
    let r = agent.post("/api-keys", json!({"name": "x", "role": "root"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "role");
}

#[test]
fn metrics_count_requests_tasks_and_host_commands() {
    let agent = TestAgent::start();
    let id = agent.noop(json!({}));
    agent.wait(&id);
    agent.get("/tasks");
    // By default the Prometheus text format 0.0.4: a counter's `# TYPE` names its samples,
    // `_total` included, and there is no `# EOF`.
    let r = agent.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let plain = r.body.as_str().unwrap();
    assert!(
        plain.contains("# TYPE zoneweaver_http_requests_total counter\n"),
        "{plain}"
    );
    assert!(!plain.contains("# EOF"), "{plain}");
    // OpenMetrics when asked for (Prometheus asks): a counter's `# TYPE` names its family, its
    // samples end in `_total`, and the exposition ends with `# EOF`.
    let r = agent.request_with(
        "GET",
        "/metrics",
        Some(&agent.key),
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
        None,
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = r.body.as_str().unwrap();
    assert!(
        text.contains("# TYPE zoneweaver_http_requests counter\n"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains(
            r#"zoneweaver_http_requests_total{route="/tasks",method="GET",status="200"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"zoneweaver_tasks_finished_total{operation="noop",status="completed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"zoneweaver_host_command_duration_seconds_count{tool="zoneadm",outcome="ok"}"#
        ),
        "{text}"
    );
}
