//! Sweeps over the host commands of one operation: the k-th command (for every k) kills the
//! agent, fails, or hangs past the command timeout, and the host must end as it was before the
//! request or as a clean run leaves it, never in between. `crash.rs` and `faults.rs` run them.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{dump, read_jsonl, TestAgent};

/// One request whose host commands are swept.
pub struct Op {
    pub name: &'static str,
    /// Prepares the host (run before the "before" dump, without faults).
    pub setup: fn(&TestAgent),
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<Value>,
}

/// The host as a sweep compares it: [`dump`] plus any file the agent left half-written: a
/// config file's `.zw-new` temp or a zonecfg command file in its scratch directory.
pub fn host_state(agent: &TestAgent) -> Value {
    let mut state = dump(agent);
    let root = agent.host.join("root");
    let mut leftovers = Vec::new();
    temp_files(&root, &root.join("etc"), &mut leftovers);
    temp_files(
        &root,
        &root.join("var/lib/zoneweaver-agent/tmp"),
        &mut leftovers,
    );
    leftovers.sort();
    state["agent_leftovers"] = json!(leftovers);
    state
}

/// Files below `dir` the agent writes only for a moment: `*.zw-new` anywhere, and everything in
/// its scratch directory.
fn temp_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let scratch = dir.ends_with("tmp");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.map_while(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            temp_files(root, &p, out);
        } else if scratch || p.to_string_lossy().ends_with(".zw-new") {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// Queues a request during setup and waits for its task to complete.
pub fn completed(agent: &TestAgent, method: &str, path: &str, body: Option<Value>) {
    let r = agent.request(method, path, Some(&agent.key), body.as_ref());
    assert_eq!(r.status, 202, "{method} {path}: {:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{method} {path}: {t}");
}

fn write_fault(agent: &TestAgent, rule: Value) {
    std::fs::write(agent.host.join("faults"), rule.to_string()).unwrap();
}

/// Whether a fault rule fired since the invocation log was `from` lines long.
fn fault_fired(agent: &TestAgent, from: usize) -> bool {
    read_jsonl(&agent.host.join("invocations.log"))
        .iter()
        .skip(from)
        .any(|l| l.get("fault").is_some_and(|f| !f.is_null()))
}

fn log_len(agent: &TestAgent) -> usize {
    read_jsonl(&agent.host.join("invocations.log")).len()
}

/// The ids of every task the agent knows.
fn task_ids(agent: &TestAgent) -> Vec<String> {
    let r = agent.get("/tasks?limit=1000");
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The host after a clean run of `op`, and how many host commands the request ran (handler and
/// task): the crash and fault points are 1 to that number, since a run with a fault at k runs
/// the same first k commands.
fn reference(op: &Op, config: &str) -> (Value, usize) {
    let agent = TestAgent::start_with(config);
    (op.setup)(&agent);
    let from = log_len(&agent);
    let r = agent.request(op.method, op.path, Some(&agent.key), op.body.as_ref());
    assert!(r.status == 202, "{}: {:?}", op.name, r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{}: {t:?}", op.name);
    (host_state(&agent), log_len(&agent) - from)
}

/// Where two dumps differ, one line per differing leaf (`path: left => right`).
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (l, r) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                diff(&format!("{path}.{k}"), l, r, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), l, r, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} => {b}")),
        _ => {}
    }
}

/// Panics with the differences unless `now` equals `expected`.
fn same(now: &Value, expected: &Value, message: impl FnOnce() -> String) {
    if now != expected {
        let mut lines = Vec::new();
        diff("", expected, now, &mut lines);
        panic!("{}; expected => found:\n{}", message(), lines.join("\n"));
    }
}

/// Checks a task's end against the host: failed means as before, completed as after.
fn check_end(
    op: &Op,
    what: &str,
    k: usize,
    task: &Value,
    now: &Value,
    before: &Value,
    after: &Value,
) {
    match task["status"].as_str() {
        Some("failed") => same(now, before, || {
            format!(
                "{} {what} k={k}: failed ({}) but the host is not as before",
                op.name, task["error_message"]
            )
        }),
        Some("completed") => same(now, after, || {
            format!("{} {what} k={k}: completed but the host differs", op.name)
        }),
        other => panic!("{} {what} k={k}: task ended {other:?}: {task}", op.name),
    }
}

/// Runs `op` once without faults to learn the "after" state, then once per k with the agent
/// killed (SIGKILL) right after its k-th host command and restarted. Returns how many crash
/// points were checked.
pub fn crash_sweep(op: &Op) -> usize {
    let started = Instant::now();
    let (after, commands) = reference(op, "");
    let mut k = 1;
    loop {
        let mut agent = TestAgent::start();
        (op.setup)(&agent);
        let before = host_state(&agent);
        let known = task_ids(&agent);
        let from = log_len(&agent);
        write_fault(
            &agent,
            json!({"tool": "*", "nth": k, "action": "kill_parent"}),
        );
        let accepted = agent.request_raw(op.method, op.path, op.body.as_ref());
        let id = accepted.as_ref().map(|b| {
            b["task_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{} k={k}: not accepted: {b}", op.name))
                .to_owned()
        });
        let ended = id.as_ref().and_then(|id| agent.wait_raw(id));
        if ended.is_some() && !fault_fired(&agent, from) {
            // k is past the last command: the operation ran to its end.
            assert_eq!(k - 1, commands, "{}: crash points", op.name);
            eprintln!(
                "crash sweep: {}: {} crash points, all before or after ({:.1} s)",
                op.name,
                k - 1,
                started.elapsed().as_secs_f64()
            );
            return k - 1;
        }
        assert!(
            agent.wait_exit(Duration::from_secs(30)),
            "{} k={k}: the fault fired but the agent lives",
            op.name
        );
        std::fs::remove_file(agent.host.join("faults")).unwrap();
        agent.launch();
        // The answer may have been lost after the task was queued: look for it by listing.
        let mut new = task_ids(&agent);
        new.retain(|t| !known.contains(t));
        assert!(new.len() <= 1, "{} k={k}: tasks {new:?}", op.name);
        assert!(
            id.is_none() || id == new.first().cloned(),
            "{} k={k}: {new:?}",
            op.name
        );
        match new.first() {
            // Killed before the request was queued: nothing may have changed.
            None => same(&host_state(&agent), &before, || {
                format!("{} k={k}: killed before accepting, host changed", op.name)
            }),
            Some(id) => {
                let task = agent.wait(id);
                check_end(op, "crash", k, &task, &host_state(&agent), &before, &after);
            }
        }
        k += 1;
    }
}

/// What the k-th host command does in a [`fault_sweep`].
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Exits 1 with no output, once.
    Fail,
    /// Hangs (for 30 s, far past the command timeout [`FAULT_CONFIG`] sets), once.
    Hang,
}

/// Agent settings for fault sweeps: a hung command is killed after a second.
pub const FAULT_CONFIG: &str = "zones:\n  task_timeout: 1\ntasks:\n  kill_grace_seconds: 1\n";

/// Runs `op` once per k with its k-th host command failing or hanging once. The request must
/// be refused (host unchanged) or its task must end failed with the host as before, or
/// completed (the failure was tolerated) with the host as after. Returns the number of fault
/// points.
pub fn fault_sweep(op: &Op, fault: Fault) -> usize {
    let started = Instant::now();
    let (after, commands) = reference(op, FAULT_CONFIG);
    // A hang point spends most of its time idle, waiting out the command timeout: four run at
    // once. Failures keep the CPU busy and run one at a time.
    let workers = match fault {
        Fault::Fail => 1,
        Fault::Hang => 4,
    };
    let next = AtomicUsize::new(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k > commands {
                    break;
                }
                fault_point(op, fault, k, &after);
            });
        }
    });
    eprintln!(
        "fault sweep ({}): {}: {commands} fault points, all before or after ({:.1} s)",
        fault.name(),
        op.name,
        started.elapsed().as_secs_f64()
    );
    commands
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Fail => "fail",
            Fault::Hang => "hang",
        }
    }

    fn rule(self, k: usize) -> Value {
        match self {
            Fault::Fail => json!({"tool": "*", "nth": k, "action": "fail"}),
            Fault::Hang => json!({"tool": "*", "nth": k, "action": "hang", "ms": 30_000}),
        }
    }
}

/// One run of `op` on a fresh agent with its k-th host command failing or hanging.
fn fault_point(op: &Op, fault: Fault, k: usize, after: &Value) {
    let what = fault.name();
    let agent = TestAgent::start_with(FAULT_CONFIG);
    (op.setup)(&agent);
    let before = host_state(&agent);
    let from = log_len(&agent);
    write_fault(&agent, fault.rule(k));
    let r = agent.request(op.method, op.path, Some(&agent.key), op.body.as_ref());
    if r.status == 202 {
        let task = agent.wait(r.body["task_id"].as_str().unwrap());
        assert!(
            fault_fired(&agent, from),
            "{} {what} k={k}: did not fire",
            op.name
        );
        check_end(op, what, k, &task, &host_state(&agent), &before, after);
    } else {
        // A read in the handler failed: a server error, and nothing done.
        assert!(
            fault_fired(&agent, from) && r.status >= 500,
            "{} {what} k={k}: answered {} {:?}",
            op.name,
            r.status,
            r.body
        );
        same(&host_state(&agent), &before, || {
            format!("{} {what} k={k}: refused, host changed", op.name)
        });
    }
}
