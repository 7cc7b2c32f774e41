//! `<host>/invocations.log`: one JSON line per tool invocation, so tests can assert exactly
//! which commands ran, and for which request or task. One `write` per line on an O_APPEND file
//! keeps concurrent lines whole.

use std::io::Write;
use std::time::Instant;

use crate::host::Host;
use crate::timefmt;

pub fn append(
    host: &Host,
    tool: &str,
    args: &[String],
    exit: Option<i32>,
    start: Instant,
    fault: Option<&str>,
) {
    if fault == Some("hang") && exit.is_some() {
        return; // already logged when the hang began
    }
    let elapsed = start.elapsed();
    let started_ms = timefmt::now_ms().saturating_sub(elapsed.as_millis() as u64);
    let mut argv = vec![tool.to_string()];
    argv.extend(args.iter().cloned());
    let mut rec = serde_json::json!({
        "argv": argv,
        "exit": exit,
        "ms": (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "ts": timefmt::rfc3339_ms(started_ms),
    });
    if let Some(f) = fault {
        rec["fault"] = serde_json::Value::from(f);
    }
    // What the agent says the command is for (`request:<id>`, `task:<id>`); absent for its
    // background reads.
    if let Some(origin) = std::env::var_os("ZONEWEAVER_ORIGIN") {
        rec["origin"] = serde_json::Value::from(origin.to_string_lossy().into_owned());
    }
    let mut line = rec.to_string();
    line.push('\n');
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(host.log_path())
    {
        let _ = f.write_all(line.as_bytes());
    }
}
