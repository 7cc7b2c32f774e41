//! `zw tasks ...`: `/tasks`.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::Value;

use crate::cli::TasksCmd;
use crate::client::{enc, query, Body};
use crate::commands::send;
use crate::follow::{self, is_terminal};
use crate::output::{self, scalar, short_time, Cell, Paint, Table, Ui};
use crate::Ctx;

pub fn run(ctx: &Ctx, cmd: TasksCmd) -> Result<()> {
    match cmd {
        TasksCmd::List {
            status,
            zone,
            operation,
            parent,
            limit,
            offset,
        } => {
            let q = query(&[
                ("status", status),
                ("zone_name", zone),
                ("operation", operation),
                ("parent_task_id", parent),
                ("limit", Some(limit.to_string())),
                ("offset", (offset > 0).then(|| offset.to_string())),
            ]);
            let reply = ctx.client.get(&format!("/tasks{q}"))?;
            ctx.finish(&reply, |ui, v| {
                let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
                if tasks.is_empty() {
                    return "(no tasks)\n".to_owned();
                }
                let mut out = table(ui, &tasks).render(ui, 0);
                let total = v["total"].as_i64().unwrap_or(0);
                if total > tasks.len() as i64 {
                    let _ = writeln!(
                        out,
                        "{}",
                        ui.paint(
                            &format!("({} of {total}; --limit, --offset for more)", tasks.len()),
                            Some(Paint::Dim)
                        )
                    );
                }
                out
            })
        }
        TasksCmd::Show { id } => {
            let reply = ctx.client.get(&format!("/tasks/{}", enc(&id)))?;
            ctx.finish(&reply, detail)
        }
        TasksCmd::Cancel { id } => send(ctx, "DELETE", &format!("/tasks/{}", enc(&id)), Body::None),
        TasksCmd::Wait { id } => ctx.follow(&[id], None),
        TasksCmd::Logs { id, follow } => logs(ctx, &id, follow),
    }
}

/// The columns of a task list (also used by `zones show`).
pub fn table(ui: &Ui, tasks: &[Value]) -> Table {
    let _ = ui;
    let mut t = Table::new([
        "ID",
        "ZONE",
        "OPERATION",
        "STATUS",
        "PROGRESS",
        "CREATED",
        "STAGE",
    ]);
    for task in tasks {
        let status = task["status"].as_str().unwrap_or("");
        let stage = match status {
            "failed" | "cancelled" => scalar(&task["error_message"]),
            _ => scalar(&task["progress_info"]),
        };
        t.row(vec![
            scalar(&task["id"]).into(),
            scalar(&task["zone_name"]).into(),
            scalar(&task["operation"]).into(),
            Cell::state(status),
            format!("{}%", task["progress_percent"].as_i64().unwrap_or(0)).into(),
            task["created_at"]
                .as_str()
                .map(short_time)
                .unwrap_or_default()
                .into(),
            stage.into(),
        ]);
    }
    t
}

fn detail(ui: &Ui, t: &Value) -> String {
    let mut out = String::new();
    let status = t["status"].as_str().unwrap_or("");
    let row = |out: &mut String, k: &str, v: String| {
        if !v.is_empty() {
            let _ = writeln!(out, "{:<13}{v}", format!("{k}:"));
        }
    };
    row(&mut out, "id", scalar(&t["id"]));
    row(&mut out, "operation", scalar(&t["operation"]));
    row(&mut out, "zone", scalar(&t["zone_name"]));
    row(
        &mut out,
        "status",
        ui.paint(status, output::state_paint(status)),
    );
    row(
        &mut out,
        "progress",
        format!(
            "{}%{}",
            t["progress_percent"].as_i64().unwrap_or(0),
            t["progress_info"]
                .as_str()
                .map(|i| format!("  {i}"))
                .unwrap_or_default()
        ),
    );
    if let Some(e) = t["error_message"].as_str() {
        row(&mut out, "error", ui.paint(e, Some(Paint::Red)));
    }
    row(&mut out, "priority", scalar(&t["priority"]));
    row(&mut out, "depends on", scalar(&t["depends_on"]));
    row(&mut out, "group", scalar(&t["parent_task_id"]));
    row(&mut out, "created by", scalar(&t["created_by"]));
    for (k, label) in [
        ("created_at", "created"),
        ("started_at", "started"),
        ("completed_at", "ended"),
    ] {
        row(
            &mut out,
            label,
            t[k].as_str().map(short_time).unwrap_or_default(),
        );
    }
    for key in ["metadata", "result"] {
        if let Some(m) = t[key].as_object().filter(|m| !m.is_empty()) {
            let _ = writeln!(out, "{}", ui.paint(&format!("{key}:"), Some(Paint::Bold)));
            output::listing(ui, &mut out, &Value::Object(m.clone()), 2);
        }
    }
    out
}

/// Prints the output log; with `follow`, keeps reading until the task has ended and every
/// line is printed (the agent's long-poll `/wait?timeout=1` paces the loop and returns at
/// once when the task ends).
fn logs(ctx: &Ctx, id: &str, follow: bool) -> Result<()> {
    let mut after = 0i64;
    loop {
        let reply = ctx
            .client
            .get(&format!("/tasks/{}/output?after={after}", enc(id)))?;
        if ctx.json && !follow {
            crate::print_raw(&reply.text);
            return Ok(());
        }
        let lines = reply.json["lines"].as_array().cloned().unwrap_or_default();
        for l in &lines {
            after = after.max(l["seq"].as_i64().unwrap_or(after));
            if ctx.json {
                println!("{l}");
            } else {
                print_line(&ctx.ui, l);
            }
        }
        if !follow {
            return Ok(());
        }
        if lines.is_empty() {
            let t = ctx
                .client
                .get(&format!("/tasks/{}/wait?timeout=1", enc(id)))?
                .json;
            if is_terminal(t["status"].as_str().unwrap_or("")) {
                // Lines written just before the end: one more read, then stop.
                let reply = ctx
                    .client
                    .get(&format!("/tasks/{}/output?after={after}", enc(id)))?;
                for l in reply.json["lines"].as_array().into_iter().flatten() {
                    if ctx.json {
                        println!("{l}");
                    } else {
                        print_line(&ctx.ui, l);
                    }
                }
                let status = t["status"].as_str().unwrap_or("");
                if status != "completed" {
                    return Err(follow::TaskFailed { tasks: vec![t] }.into());
                }
                return Ok(());
            }
        }
    }
}

fn print_line(ui: &Ui, l: &Value) {
    let stream = l["stream"].as_str().unwrap_or("");
    let paint = match stream {
        "stderr" => Some(Paint::Red),
        "agent" => Some(Paint::Cyan),
        _ => None,
    };
    println!(
        "{} {} {}",
        ui.paint(
            &l["timestamp"].as_str().map(short_time).unwrap_or_default(),
            Some(Paint::Dim)
        ),
        ui.paint(&format!("{stream:<6}"), paint),
        l["line"].as_str().unwrap_or("")
    );
}
