//! Fault injection: `<host>/faults` holds JSON rules, one per line, checked before every tool
//! invocation. Match counters live in the state (under the host lock), so "the Nth matching
//! invocation" is exact across concurrent processes. See README.md for the format.

use std::time::Instant;

use serde::Deserialize;

use crate::ctx::Ctx;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Tool basename (`zfs`); absent or `*` matches every tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// Substring of the arguments joined with single spaces.
    #[serde(default)]
    pub contains: Option<String>,
    /// The arguments must start with these.
    #[serde(default)]
    pub prefix: Option<Vec<String>>,
    /// The invoking agent's origin (`ZONEWEAVER_ORIGIN`: `task:<id>`, `request:<id>`; none
    /// for its background reads) starts with this.
    #[serde(default)]
    pub origin: Option<String>,
    /// Which matching invocation triggers (1 = the first); absent = every one.
    #[serde(default)]
    pub nth: Option<u64>,
    /// `fail`, `hang`, `delay`, `hold` or `kill_parent`.
    pub action: String,
    #[serde(default)]
    pub exit: Option<i32>,
    #[serde(default)]
    pub stderr: Option<String>,
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub ms: Option<u64>,
}

impl Rule {
    pub fn matches(&self, tool: &str, args: &[String]) -> bool {
        if let Some(t) = &self.tool {
            if t != "*" && t != tool {
                return false;
            }
        }
        if let Some(p) = &self.prefix {
            if args.len() < p.len() || args.iter().zip(p).any(|(a, b)| a != b) {
                return false;
            }
        }
        if let Some(c) = &self.contains {
            if !args.join(" ").contains(c.as_str()) {
                return false;
            }
        }
        if let Some(o) = &self.origin {
            let origin = std::env::var("ZONEWEAVER_ORIGIN").unwrap_or_default();
            if !origin.starts_with(o.as_str()) {
                return false;
            }
        }
        true
    }
}

pub fn parse(text: &str) -> Vec<(String, Rule)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            serde_json::from_str::<Rule>(l)
                .ok()
                .map(|r| (l.to_string(), r))
        })
        .collect()
}

fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// Counts matches and applies the first rule that triggers. `Some(exit)` means the tool must
/// not run; `None` means run it (possibly after a delay).
pub fn apply(cx: &mut Ctx, args: &[String], start: Instant) -> Option<i32> {
    let text = std::fs::read_to_string(cx.host.faults_path()).ok()?;
    let tool = cx.tool.clone();
    let mut fired: Option<Rule> = None;
    for (key, rule) in parse(&text) {
        if !rule.matches(&tool, args) {
            continue;
        }
        // Only an `nth` rule needs its count, and only it writes the state: a rule without
        // one also applies to the tools that run unprivileged (uname, kstat), which may not
        // write it.
        let hit = match rule.nth {
            None => true,
            Some(nth) => {
                let n = cx.st.counters.entry(key).or_insert(0);
                *n += 1;
                let hit = nth == *n;
                cx.touch();
                hit
            }
        };
        if hit && fired.is_none() {
            fired = Some(rule);
        }
    }
    let rule = fired?;
    match rule.action.as_str() {
        "kill_parent" => {
            // The tool runs normally; the caller (the agent) is killed right after it, so crash
            // tests can stop the agent after exactly the Nth command it ran.
            cx.fault = Some("kill_parent".into());
            None
        }
        "hold" => {
            cx.fault = Some("hold".into());
            hold(cx, &tool, args, rule.ms.unwrap_or(600_000));
            None
        }
        "delay" => {
            cx.fault = Some("delay".into());
            cx.pause(rule.ms.unwrap_or(0));
            None
        }
        "hang" => {
            cx.fault = Some("hang".into());
            // Logged now: a hung invocation is usually killed and would leave no trace.
            crate::invlog::append(&cx.host, &tool, args, None, start, Some("hang"));
            cx.pause(rule.ms.unwrap_or(3_600_000));
            cx.err(&with_newline(rule.stderr.as_deref().unwrap_or("")));
            Some(rule.exit.unwrap_or(1))
        }
        _ => {
            cx.fault = Some("fail".into());
            cx.out(&with_newline(rule.stdout.as_deref().unwrap_or("")));
            cx.err(&with_newline(rule.stderr.as_deref().unwrap_or("")));
            Some(rule.exit.unwrap_or(1))
        }
    }
}

/// Announces the invocation in `<host>/held` and waits, without the host lock, until the test
/// removes that file (or `ms` pass), then lets the tool run: a test can read the host exactly
/// as it is before the command while its caller waits on it.
fn hold(cx: &mut Ctx, tool: &str, args: &[String], ms: u64) {
    let mut argv = vec![tool.to_string()];
    argv.extend(args.iter().cloned());
    let path = cx.host.held_path();
    let tmp = path.with_extension("new");
    let text = serde_json::json!({ "argv": argv, "pid": std::process::id() }).to_string();
    // Renamed into place, so the test never reads a half-written announcement.
    if std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .is_err()
    {
        return;
    }
    cx.unlock();
    let deadline = Instant::now() + std::time::Duration::from_millis(ms);
    while path.exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = std::fs::remove_file(&path);
    cx.relock();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn rules_match_by_tool_prefix_and_substring() {
        let rules = parse(
            r#"{"tool":"zfs","prefix":["create","-V"],"nth":2,"action":"fail","exit":1,"stderr":"x"}
# comment
{"contains":"vnic0","action":"delay","ms":5}
not json"#,
        );
        assert_eq!(rules.len(), 2);
        assert!(rules[0].1.matches("zfs", &args("create -V 1G rpool/v")));
        assert!(!rules[0].1.matches("zfs", &args("create rpool/v")));
        assert!(!rules[0].1.matches("dladm", &args("create -V 1G")));
        assert!(rules[1].1.matches("dladm", &args("delete-vnic vnic0")));
    }
}
