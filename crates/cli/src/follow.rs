//! Following tasks to their end over `/events`, with a progress bar per task (on a terminal)
//! or a line per change (otherwise).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, IsTerminal};

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::client::{enc, Client, Reply};

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Reads events from a `text/event-stream`: `event:` and `data:` lines up to a blank line;
/// `:` comments (keep-alives) and unknown fields are skipped. `None` at the end of the stream.
pub fn next_event(r: &mut dyn BufRead) -> std::io::Result<Option<SseEvent>> {
    let (mut event, mut data) = (String::new(), String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if !data.is_empty() {
                data.pop(); // the newline after the last data line
                let event = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event
                };
                return Ok(Some(SseEvent { event, data }));
            }
            event.clear();
            continue;
        }
        if l.starts_with(':') {
            continue;
        }
        let (field, value) = l.split_once(':').unwrap_or((l, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    }
}

/// A followed task that did not complete.
#[derive(Debug)]
pub struct TaskFailed {
    pub tasks: Vec<Value>,
}

impl fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t["status"] != "completed")
            .map(|t| {
                format!(
                    "task {} ({} {}) {}{}",
                    t["id"].as_str().unwrap_or("?"),
                    t["operation"].as_str().unwrap_or("?"),
                    t["zone_name"].as_str().unwrap_or("?"),
                    t["status"].as_str().unwrap_or("?"),
                    t["error_message"]
                        .as_str()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl std::error::Error for TaskFailed {}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// What one task looks like on screen.
struct Shown {
    bar: Option<ProgressBar>,
    label: String,
    last: (i64, String, String),
}

struct Screen {
    multi: Option<MultiProgress>,
    shown: HashMap<String, Shown>,
}

impl Screen {
    fn new() -> Screen {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Screen {
            multi,
            shown: HashMap::new(),
        }
    }

    /// Shows a task's state (from `/tasks/{id}` or an event's data): both have `status`,
    /// `progress_percent`, `progress_info`, `error_message`, `operation`, `zone_name`.
    fn update(&mut self, id: &str, t: &Value) {
        let status = t["status"].as_str().unwrap_or("").to_owned();
        let pct = t["progress_percent"].as_i64().unwrap_or(0).clamp(0, 100);
        let info = t["progress_info"].as_str().unwrap_or("").to_owned();
        let multi = self.multi.clone();
        let shown = self.shown.entry(id.to_owned()).or_insert_with(|| {
            let label = format!(
                "{} {}",
                t["operation"].as_str().unwrap_or("task"),
                t["zone_name"].as_str().unwrap_or("")
            );
            let bar = multi.map(|m| {
                let bar = m.add(ProgressBar::new(100));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:<24.bold} [{bar:24.cyan/blue}] {pos:>3}% {elapsed:>4} {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.clone());
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
                bar
            });
            Shown {
                bar,
                label,
                last: (-1, String::new(), "pending".to_owned()),
            }
        });
        let now = (pct, info.clone(), status.clone());
        // Events queued before the first read of the task replay older states: never go back.
        let rank = |s: &str| match s {
            "pending" => 0,
            "running" => 1,
            _ => 2,
        };
        let (last_pct, _, last_status) = &shown.last;
        if shown.last == now
            || rank(&status) < rank(last_status)
            || (rank(&status) == rank(last_status) && pct < *last_pct && rank(&status) < 2)
        {
            return;
        }
        shown.last = now;
        let error = t["error_message"].as_str().unwrap_or("");
        match &shown.bar {
            Some(bar) => {
                bar.set_position(pct as u64);
                match status.as_str() {
                    "completed" => bar.finish_with_message("done"),
                    "failed" | "cancelled" => {
                        bar.abandon_with_message(format!("{status}: {error}"))
                    }
                    "pending" => bar.set_message(if info.is_empty() {
                        "pending".to_owned()
                    } else {
                        info
                    }),
                    _ => bar.set_message(info),
                }
            }
            None => {
                let detail = match status.as_str() {
                    "failed" | "cancelled" if !error.is_empty() => format!(": {error}"),
                    _ if !info.is_empty() => format!(": {info}"),
                    _ => String::new(),
                };
                eprintln!("{}  {status} {pct}%{detail}", shown.label);
            }
        }
    }
}

/// Follows `ids` until each has ended and returns them as `/tasks/{id}` answers them. Events
/// of a group's children get their own bars. `zone` scopes the event stream when several
/// tasks are followed. If the stream breaks, `/tasks/{id}/wait` finishes the job.
pub fn follow(client: &Client, ids: &[String], zone: Option<&str>) -> Result<Vec<Reply>> {
    let query = match (ids, zone) {
        ([one], _) => format!("?task_id={}", enc(one)),
        (_, Some(z)) => format!("?zone_name={}", enc(z)),
        _ => String::new(),
    };
    // Subscribe first, then read the current states: an end between the two is not missed.
    let mut stream = client.stream(&format!("/events{query}")).ok();
    let mut screen = Screen::new();
    let mut done: HashMap<String, bool> = HashMap::new();
    let refresh = |screen: &mut Screen, done: &mut HashMap<String, bool>| -> Result<()> {
        for id in ids {
            let t = client.get(&format!("/tasks/{}", enc(id)))?.json;
            screen.update(id, &t);
            done.insert(id.clone(), is_terminal(t["status"].as_str().unwrap_or("")));
        }
        Ok(())
    };
    refresh(&mut screen, &mut done)?;
    while let Some(r) = stream.as_mut() {
        if done.values().all(|d| *d) {
            break;
        }
        match next_event(r.as_mut()) {
            Ok(Some(ev)) if ev.event == "lagged" => refresh(&mut screen, &mut done)?,
            Ok(Some(ev)) => {
                let Ok(mut data) = serde_json::from_str::<Value>(&ev.data) else {
                    continue;
                };
                client.clean(&mut data);
                let id = data["task_id"].as_str().unwrap_or("").to_owned();
                let parent = data["parent_task_id"].as_str().unwrap_or("");
                let ours = ids.contains(&id);
                if ours || ids.iter().any(|i| i == parent) {
                    screen.update(&id, &data);
                }
                if ours && ev.event == "task_finished" {
                    done.insert(id, true);
                }
            }
            Ok(None) | Err(_) => stream = None,
        }
    }
    // Without (or after losing) the stream: the agent's long-poll.
    for id in ids {
        while !done[id] {
            let t = client
                .get(&format!("/tasks/{}/wait?timeout=60", enc(id)))?
                .json;
            screen.update(id, &t);
            done.insert(id.clone(), is_terminal(t["status"].as_str().unwrap_or("")));
        }
    }
    let mut finals = Vec::new();
    for id in ids {
        let t = client.get(&format!("/tasks/{}", enc(id)))?;
        screen.update(id, &t.json);
        finals.push(t);
    }
    for s in screen.shown.values() {
        if let Some(b) = &s.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
    Ok(finals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_on_blank_lines_and_skip_keep_alives() {
        let text = ": keep-alive\n\nevent: task_started\ndata: {\"a\":1}\n\n\
                    event: lagged\ndata: 3 events were dropped\r\n\r\n\
                    data: one\ndata: two\n\nevent: x\n";
        let mut r: &[u8] = text.as_bytes();
        let mut got = Vec::new();
        while let Some(e) = next_event(&mut r).unwrap() {
            got.push((e.event, e.data));
        }
        assert_eq!(
            got,
            vec![
                ("task_started".to_owned(), "{\"a\":1}".to_owned()),
                ("lagged".to_owned(), "3 events were dropped".to_owned()),
                ("message".to_owned(), "one\ntwo".to_owned()),
            ]
        );
    }

    #[test]
    fn a_failure_names_the_task_and_its_error() {
        let e = TaskFailed {
            tasks: vec![serde_json::json!({"id": "t1", "operation": "zone_create",
                "zone_name": "web", "status": "failed", "error_message": "install failed"})],
        };
        assert_eq!(
            e.to_string(),
            "task t1 (zone_create web) failed: install failed"
        );
    }
}
