//! Sweeps over the host commands of one operation: the k-th command (for every k) kills the
//! agent, fails, or hangs past the command timeout, and the host must end as it was before the
//! request or as a clean run leaves it, never in between. `crash.rs` and `faults.rs` run them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{dump, read_jsonl, TestAgent};

/// Prepares the host of one sweep point.
pub type Setup = Box<dyn Fn(&TestAgent) + Send + Sync>;

/// A [`Setup`] from a closure (which then needs no type annotations).
pub fn setup(f: impl Fn(&TestAgent) + Send + Sync + 'static) -> Setup {
    Box::new(f)
}

/// One request whose host commands are swept.
pub struct Op {
    pub name: &'static str,
    /// Prepares the host (run before the "before" dump, without faults).
    pub setup: Setup,
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<Value>,
}

/// A provisioning pipeline to sweep: its request (`op`) queues a group of chained stage tasks.
/// The spec does not roll a failed pipeline back as a whole (`@pre-provision` is an explicit
/// rollback), so the invariant is per stage: every stage is all-or-nothing. After a crash or a
/// fault at any command the stage hit ends failed with the host as at that stage's start, the
/// later stages cancelled, the earlier ones completed; or the whole pipeline completed with
/// the host as after a clean run.
pub struct Pipeline {
    pub op: Op,
    /// Agent settings the pipeline needs, added to the sweep's own.
    pub config: &'static str,
    /// `GET` path of the zone's provisioning status (stage → task status).
    pub status: &'static str,
    /// The stages in order, as the status names them.
    pub stages: &'static [&'static str],
    /// Host directories (under the emulated root) whose files are host state too: what the
    /// extract stage writes into the provisioning dataset, which `illumos-sim dump` leaves out.
    pub trees: &'static [&'static str],
}

/// How a sweep judges where the host ended.
#[derive(Clone, Copy)]
enum Plan<'a> {
    /// One task: as before the request (failed) or as after a clean run (completed).
    BeforeOrAfter,
    Stages(&'a Pipeline),
}

impl Plan<'_> {
    fn config(self, base: &str) -> String {
        match self {
            Plan::BeforeOrAfter => base.to_owned(),
            Plan::Stages(p) => format!("{base}{}", p.config),
        }
    }

    /// What every point was found to be, for the sweep's summary line.
    fn verdict(self) -> &'static str {
        match self {
            Plan::BeforeOrAfter => "before or after",
            Plan::Stages(_) => "at a stage boundary",
        }
    }

    /// The host as this plan compares it. A pipeline's NIC gets a MAC the agent draws at
    /// random (`2:8:20:...`), so every run has another: each distinct one is named by its
    /// order of appearance, which keeps "the NIC and its reservation have the same MAC" in
    /// the comparison.
    fn state(self, agent: &TestAgent) -> Value {
        match self {
            Plan::BeforeOrAfter => host_state(agent, &[]),
            Plan::Stages(p) => {
                let text = host_state(agent, p.trees).to_string();
                serde_json::from_str(&name_generated_macs(&text)).unwrap()
            }
        }
    }
}

/// `text` with every MAC of the agent's random range (`2:8:20:x:x:x`, however its octets are
/// padded) replaced by `generated-mac-N`, N counting distinct MACs in order of appearance.
fn name_generated_macs(text: &str) -> String {
    let mut seen: Vec<[u8; 3]> = Vec::new();
    let mut out = String::new();
    let mut rest = text;
    while let Some((start, len, tail)) = next_generated_mac(rest) {
        let n = match seen.iter().position(|s| *s == tail) {
            Some(n) => n + 1,
            None => {
                seen.push(tail);
                seen.len()
            }
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!("generated-mac-{n}"));
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// The first MAC `2:8:20:x:x:x` in `text`: where it starts, its length, its last 3 octets.
fn next_generated_mac(text: &str) -> Option<(usize, usize, [u8; 3])> {
    let b = text.as_bytes();
    let hex = |c: u8| c.is_ascii_hexdigit();
    (0..b.len()).find_map(|start| {
        if start > 0 && (hex(b[start - 1]) || b[start - 1] == b':') {
            return None;
        }
        let mut octets = Vec::new();
        let mut i = start;
        while octets.len() < 6 {
            let j = (i..b.len().min(i + 2)).take_while(|&j| hex(b[j])).count();
            if j == 0 {
                return None;
            }
            octets.push(u8::from_str_radix(&text[i..i + j], 16).ok()?);
            i += j;
            if octets.len() < 6 {
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i += 1;
            }
        }
        let end_ok = b.get(i).is_none_or(|&c| !hex(c) && c != b':');
        (end_ok && octets[..3] == [2, 8, 0x20])
            .then(|| (start, i - start, [octets[3], octets[4], octets[5]]))
    })
}

/// The host as a sweep compares it: [`dump`] plus any file the agent left half-written: a
/// config file's `.zw-new` temp or a zonecfg command file in its scratch directory; and the
/// files (path and contents) below each of `trees`.
pub fn host_state(agent: &TestAgent, trees: &[&str]) -> Value {
    let mut state = dump(agent);
    let mut files = BTreeMap::new();
    for t in trees {
        tree_files(
            &agent.host.join("root"),
            &agent.host.join("root").join(t),
            &mut files,
        );
    }
    state["tree_files"] = json!(files);
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

fn tree_files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.map_while(Result::ok) {
        let p = e.path();
        let name = p.strip_prefix(root).unwrap().display().to_string();
        if p.is_dir() {
            out.insert(format!("{name}/"), String::new());
            tree_files(root, &p, out);
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            out.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

pub fn write_fault(agent: &TestAgent, rule: Value) {
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

/// The tasks the agent lists for `query`.
fn tasks(agent: &TestAgent, query: &str) -> Vec<Value> {
    let r = agent.get(&format!("/tasks?limit=1000{query}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["tasks"].as_array().unwrap().clone()
}

/// The ids of every task the agent knows that is not a pipeline's stage (a request queues one
/// such task: a pipeline's is its group).
fn task_ids(agent: &TestAgent) -> Vec<String> {
    tasks(agent, "")
        .iter()
        .filter(|t| t["parent_task_id"].is_null())
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// What a clean run of the request showed.
struct Reference {
    /// Host commands the request ran (handler and tasks): the crash and fault points are 1 to
    /// that number, since a run with a fault at k runs the same first k commands.
    commands: usize,
    /// The host after it.
    after: Value,
    /// Pipelines: the stage that ran each command (`None`: the request's handler)...
    stage_of: Vec<Option<String>>,
    /// ...and the host at the start of each stage.
    starts: BTreeMap<String, Value>,
}

fn terminal(status: &Value) -> bool {
    matches!(status.as_str(), Some("completed" | "failed" | "cancelled"))
}

fn reference(op: &Op, plan: Plan, config: &str) -> Reference {
    let agent = TestAgent::start_with(&plan.config(config));
    (op.setup)(&agent);
    let from = log_len(&agent);
    let (stage_of, starts) = match plan {
        Plan::BeforeOrAfter => {
            let r = agent.request(op.method, op.path, Some(&agent.key), op.body.as_ref());
            assert!(r.status == 202, "{}: {:?}", op.name, r.body);
            let t = agent.wait(r.body["task_id"].as_str().unwrap());
            assert_eq!(t["status"], "completed", "{}: {t:?}", op.name);
            (Vec::new(), BTreeMap::new())
        }
        Plan::Stages(p) => held_run(&agent, p),
    };
    Reference {
        commands: log_len(&agent) - from,
        after: plan.state(&agent),
        stage_of,
        starts,
    }
}

/// Runs the pipeline with every host command held (the emulator's `hold` fault) while the test
/// reads the host and asks the agent which stage task is running: the state at each stage's
/// start is observed, not inferred. It is the host as the stage's first command finds it;
/// every stage begins on the host with a command (it reads before it changes anything), and a
/// crash or fault lands only at a command, so no point can stop a stage between its start and
/// its first command. A stage that runs no command (waiting for SSH) starts where the next one
/// does, the last one's end is the host after the run.
fn held_run(agent: &TestAgent, p: &Pipeline) -> (Vec<Option<String>>, BTreeMap<String, Value>) {
    let op = &p.op;
    let before = Plan::Stages(p).state(agent);
    write_fault(agent, json!({"tool": "*", "action": "hold"}));
    let held = agent.host.join("held");
    // (the stage task running the command, the host before it)
    let mut holds: Vec<(Option<String>, Value)> = Vec::new();
    let answer = std::thread::scope(|s| {
        let mut post =
            Some(s.spawn(|| agent.request(op.method, op.path, Some(&agent.key), op.body.as_ref())));
        let mut answer: Option<super::Response> = None;
        loop {
            if held.exists() {
                let running: Vec<String> = tasks(agent, "&status=running")
                    .iter()
                    .filter(|t| t["is_group"] != true)
                    .map(|t| t["id"].as_str().unwrap().to_owned())
                    .collect();
                assert!(
                    running.len() <= 1,
                    "{}: running at once: {running:?}",
                    op.name
                );
                holds.push((running.first().cloned(), Plan::Stages(p).state(agent)));
                std::fs::remove_file(&held).unwrap();
                continue;
            }
            if post.as_ref().is_some_and(|h| h.is_finished()) {
                answer = post.take().map(|h| h.join().unwrap());
            }
            if let Some(a) = &answer {
                assert_eq!(a.status, 202, "{}: {:?}", op.name, a.body);
                let g = agent.get(&format!("/tasks/{}", a.body["task_id"].as_str().unwrap()));
                if terminal(&g.body["status"]) {
                    assert_eq!(g.body["status"], "completed", "{}: {:?}", op.name, g.body);
                    break a.body.clone();
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    std::fs::remove_file(agent.host.join("faults")).unwrap();
    let stage_by_task: BTreeMap<String, String> = answer["pipeline_tasks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(stage, id)| (id.as_str().unwrap().to_owned(), stage.clone()))
        .collect();
    let stage_of: Vec<Option<String>> = holds
        .iter()
        .map(|(task, state)| match task {
            Some(t) => Some(
                stage_by_task
                    .get(t)
                    .unwrap_or_else(|| panic!("{}: task {t} is not a stage", op.name))
                    .clone(),
            ),
            None => {
                same(state, &before, || {
                    format!("{}: the handler changed the host", op.name)
                });
                None
            }
        })
        .collect();
    let per_stage: Vec<String> = std::iter::once("handler")
        .chain(p.stages.iter().copied())
        .map(|st| {
            let n = stage_of
                .iter()
                .filter(|s| s.as_deref().unwrap_or("handler") == st)
                .count();
            format!("{st} {n}")
        })
        .collect();
    eprintln!(
        "{}: host commands by stage: {}",
        op.name,
        per_stage.join(", ")
    );
    let mut starts = BTreeMap::new();
    let mut next = Plan::Stages(p).state(agent);
    for stage in p.stages.iter().rev() {
        if let Some(i) = stage_of.iter().position(|s| s.as_deref() == Some(*stage)) {
            next = holds[i].1.clone();
        }
        starts.insert(stage.to_string(), next.clone());
    }
    (stage_of, starts)
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

/// Checks a task's end against the host: see [`Plan`] and [`Pipeline`].
#[allow(clippy::too_many_arguments)]
fn check_end(
    op: &Op,
    plan: Plan,
    reference: &Reference,
    what: &str,
    k: usize,
    agent: &TestAgent,
    task: &Value,
    before: &Value,
) {
    let now = plan.state(agent);
    let status = task["status"].as_str();
    if let Plan::Stages(p) = plan {
        let progress = agent.get(p.status).body["progress"].clone();
        let states: Vec<&str> = p
            .stages
            .iter()
            .map(|s| progress[s].as_str().unwrap_or("missing"))
            .collect();
        let hit = reference.stage_of[k - 1].as_deref();
        let f = states.iter().position(|s| *s != "completed");
        match (status, f) {
            (Some("completed"), None) => {}
            (Some("failed"), Some(f))
                if states[f] == "failed" && states[f + 1..].iter().all(|s| *s == "cancelled") =>
            {
                assert_eq!(
                    Some(p.stages[f]),
                    hit,
                    "{} {what} k={k}: stage {} failed ({}), but the fault hit {hit:?}",
                    op.name,
                    p.stages[f],
                    task["error_message"]
                );
                return same(&now, &reference.starts[p.stages[f]], || {
                    format!(
                        "{} {what} k={k}: stage {} failed ({}) but the host is not as at its start",
                        op.name, p.stages[f], task["error_message"]
                    )
                });
            }
            _ => panic!(
                "{} {what} k={k}: pipeline {status:?} with stages {progress}: {task}",
                op.name
            ),
        }
    }
    match status {
        Some("failed") => same(&now, before, || {
            format!(
                "{} {what} k={k}: failed ({}) but the host is not as before",
                op.name, task["error_message"]
            )
        }),
        Some("completed") => same(&now, &reference.after, || {
            format!("{} {what} k={k}: completed but the host differs", op.name)
        }),
        other => panic!("{} {what} k={k}: task ended {other:?}: {task}", op.name),
    }
}

/// Runs `op` once without faults to learn the "after" state, then once per k with the agent
/// killed (SIGKILL) right after its k-th host command and restarted. Returns how many crash
/// points were checked.
pub fn crash_sweep(op: &Op) -> usize {
    crash_sweep_planned(op, Plan::BeforeOrAfter)
}

/// [`crash_sweep`] for a pipeline, judged stage by stage.
pub fn pipeline_crash_sweep(p: &Pipeline) -> usize {
    crash_sweep_planned(&p.op, Plan::Stages(p))
}

fn crash_sweep_planned(op: &Op, plan: Plan) -> usize {
    let started = Instant::now();
    let reference = reference(op, plan, "");
    let commands = reference.commands;
    let mut k = 1;
    loop {
        let mut agent = TestAgent::start_with(&plan.config(""));
        (op.setup)(&agent);
        let before = plan.state(&agent);
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
                "crash sweep: {}: {} crash points, all {} ({:.1} s)",
                op.name,
                k - 1,
                plan.verdict(),
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
            None => same(&plan.state(&agent), &before, || {
                format!("{} k={k}: killed before accepting, host changed", op.name)
            }),
            Some(id) => {
                let task = agent.wait(id);
                check_end(op, plan, &reference, "crash", k, &agent, &task, &before);
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
    fault_sweep_planned(op, Plan::BeforeOrAfter, fault)
}

/// [`fault_sweep`] for a pipeline, judged stage by stage.
pub fn pipeline_fault_sweep(p: &Pipeline, fault: Fault) -> usize {
    fault_sweep_planned(&p.op, Plan::Stages(p), fault)
}

fn fault_sweep_planned(op: &Op, plan: Plan, fault: Fault) -> usize {
    let started = Instant::now();
    let reference = reference(op, plan, FAULT_CONFIG);
    let commands = reference.commands;
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
                fault_point(op, plan, fault, k, &reference);
            });
        }
    });
    eprintln!(
        "fault sweep ({}): {}: {commands} fault points, all {} ({:.1} s)",
        fault.name(),
        op.name,
        plan.verdict(),
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
fn fault_point(op: &Op, plan: Plan, fault: Fault, k: usize, reference: &Reference) {
    let what = fault.name();
    let agent = TestAgent::start_with(&plan.config(FAULT_CONFIG));
    (op.setup)(&agent);
    let before = plan.state(&agent);
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
        check_end(op, plan, reference, what, k, &agent, &task, &before);
    } else {
        // A read in the handler failed: a server error, and nothing done.
        assert!(
            fault_fired(&agent, from) && r.status >= 500,
            "{} {what} k={k}: answered {} {:?}",
            op.name,
            r.status,
            r.body
        );
        same(&plan.state(&agent), &before, || {
            format!("{} {what} k={k}: refused, host changed", op.name)
        });
    }
}

#[test]
fn generated_macs_are_named_by_first_appearance_however_padded() {
    let text = r#"{"nic":"02:08:20:ab:cd:01","link":"2:8:20:ab:cd:1","other":"2:8:20:0:0:2","site":"12:08:20:ab:cd:01","v6":"fe80::2:8:20:1:2:3:4"}"#;
    assert_eq!(
        name_generated_macs(text),
        r#"{"nic":"generated-mac-1","link":"generated-mac-1","other":"generated-mac-2","site":"12:08:20:ab:cd:01","v6":"fe80::2:8:20:1:2:3:4"}"#
    );
}
