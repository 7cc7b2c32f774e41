//! Human output: aligned tables and `key: value` listings, coloured only on a terminal.

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
    Cyan,
}

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub color: bool,
}

impl Ui {
    /// Colours when standard output is a terminal, `NO_COLOR` is unset and `TERM` is not dumb.
    pub fn detect() -> Ui {
        let color = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Ui { color }
    }

    pub fn paint(&self, text: &str, paint: Option<Paint>) -> String {
        match (self.color, paint) {
            (true, Some(p)) if !text.is_empty() => {
                let code = match p {
                    Paint::Bold => "1",
                    Paint::Dim => "2",
                    Paint::Green => "32",
                    Paint::Yellow => "33",
                    Paint::Red => "31",
                    Paint::Cyan => "36",
                };
                format!("\x1b[{code}m{text}\x1b[0m")
            }
            _ => text.to_owned(),
        }
    }
}

/// The colour of a zone state, task status or service state.
pub fn state_paint(state: &str) -> Option<Paint> {
    match state {
        "running" | "completed" | "online" | "ready" | "true" => Some(Paint::Green),
        "pending" | "installed" | "configured" | "creating" | "shutting_down" | "down"
        | "incomplete" | "offline" | "deleting" => Some(Paint::Yellow),
        "failed" | "maintenance" | "degraded" => Some(Paint::Red),
        "cancelled" | "disabled" => Some(Paint::Dim),
        _ => None,
    }
}

pub struct Cell {
    pub text: String,
    pub paint: Option<Paint>,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, paint: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell {
            text: text.to_owned(),
            paint: None,
        }
    }
}

impl Cell {
    pub fn state(text: &str) -> Cell {
        Cell {
            text: text.to_owned(),
            paint: state_paint(text),
        }
    }
}

pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Columns padded to their widest cell (two spaces apart); the last is not padded.
    pub fn render(&self, ui: &Ui, indent: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(width(&c.text));
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: Vec<(&str, Option<Paint>)>| {
            out.push_str(&" ".repeat(indent));
            let last = cells.len().saturating_sub(1);
            let mut l = String::new();
            for (i, (text, paint)) in cells.into_iter().enumerate() {
                l.push_str(&ui.paint(text, paint));
                if i < last {
                    l.push_str(&" ".repeat(widths[i] - width(text) + 2));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(
            &mut out,
            self.headers
                .iter()
                .map(|h| (h.as_str(), Some(Paint::Bold)))
                .collect(),
        );
        for r in &self.rows {
            line(
                &mut out,
                r.iter()
                    .take(n)
                    .map(|c| (c.text.as_str(), c.paint))
                    .collect(),
            );
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `2025-01-02T03:04:05.678Z` → `2025-01-02 03:04:05` (the API's times are UTC).
pub fn short_time(t: &str) -> String {
    let t = t.replacen('T', " ", 1);
    t.split(['.', 'Z', '+']).next().unwrap_or(&t).to_owned()
}

/// A JSON value in a cell: strings bare, null empty, arrays of scalars comma-joined.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) if a.iter().all(|v| !v.is_object() && !v.is_array()) => {
            a.iter().map(scalar).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

fn is_scalarish(v: &Value) -> bool {
    match v {
        Value::Object(_) => false,
        Value::Array(a) => a.iter().all(|v| !v.is_object() && !v.is_array()),
        _ => true,
    }
}

/// Columns shown first when present, in this order; the rest follow alphabetically.
const FIRST: &[&str] = &[
    "id",
    "name",
    "slot",
    "physical",
    "hostname",
    "zone_name",
    "type",
    "link",
    "over",
    "mac",
    "ip",
    "state",
    "status",
];
/// Columns never worth a table column (`scan_timestamp`: the time of the read itself).
const SKIP: &[&str] = &["success", "scan_timestamp"];
const MAX_CELL: usize = 60;

/// A table of an array of objects: one column per key holding scalars in any row.
pub fn table_of(items: &[Value]) -> Table {
    let mut keys: Vec<String> = Vec::new();
    for item in items {
        if let Value::Object(o) = item {
            for (k, v) in o {
                if is_scalarish(v) && !keys.contains(k) && !SKIP.contains(&k.as_str()) {
                    keys.push(k.clone());
                }
            }
        }
    }
    // A key holding a structure in any row is for `show`, not a column.
    keys.retain(|k| items.iter().all(|i| i.get(k).is_none_or(is_scalarish)));
    // A column empty in every row says nothing.
    keys.retain(|k| {
        items
            .iter()
            .any(|i| i.get(k).is_some_and(|v| !scalar(v).is_empty()))
    });
    keys.sort_by_key(|k| {
        (
            FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()),
            k.clone(),
        )
    });
    let mut table = Table::new(keys.iter().map(|k| k.to_ascii_uppercase()));
    for item in items {
        table.row(
            keys.iter()
                .map(|k| {
                    let text = match item.get(k) {
                        Some(Value::Number(n)) if is_bytes(k) => {
                            n.as_u64().map(human_bytes).unwrap_or_else(|| n.to_string())
                        }
                        Some(v) => scalar(v),
                        None => String::new(),
                    };
                    let text = if width(&text) > MAX_CELL {
                        format!("{}…", text.chars().take(MAX_CELL - 1).collect::<String>())
                    } else {
                        text
                    };
                    match k.as_str() {
                        "state" | "status" => Cell::state(&text),
                        _ => text.into(),
                    }
                })
                .collect(),
        );
    }
    table
}

/// Fields that hold a byte count.
fn is_bytes(key: &str) -> bool {
    matches!(key, "size" | "volsize" | "used" | "available") || key.ends_with("_bytes")
}

/// `10737418240` → `10G`, `1536` → `1.5K` (binary units, as zfs prints them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{}{}", v as u64, UNITS[u])
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

/// Any answer, for a person: an array of objects (bare, or the one such field of an object
/// whose other fields are scalars) as a table; anything else as an indented listing.
pub fn render_value(ui: &Ui, v: &Value) -> String {
    match v {
        Value::Array(items) if items.iter().all(Value::is_object) => {
            if items.is_empty() {
                "(none)\n".to_owned()
            } else {
                table_of(items).render(ui, 0)
            }
        }
        Value::Object(o) => {
            let lists: Vec<(&String, &Vec<Value>)> = o
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_object) => {
                        Some((k, a))
                    }
                    Value::Array(a) if a.is_empty() => Some((k, a)),
                    _ => None,
                })
                .collect();
            let others_scalar = o
                .iter()
                .filter(|(k, _)| !lists.iter().any(|(l, _)| l == k))
                .all(|(_, v)| is_scalarish(v));
            if lists.len() == 1 && others_scalar {
                let (name, items) = lists[0];
                // The list's companions (`total` and paging aside) go above it.
                let rest: serde_json::Map<String, Value> = o
                    .iter()
                    .filter(|(k, _)| {
                        *k != name && !matches!(k.as_str(), "total" | "limit" | "offset")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut out = String::new();
                listing(ui, &mut out, &Value::Object(rest), 0);
                if items.is_empty() {
                    out.push_str("(none)\n");
                } else {
                    out.push_str(&table_of(items).render(ui, 0));
                }
                return out;
            }
            let mut out = String::new();
            listing(ui, &mut out, v, 0);
            out
        }
        Value::Null => String::new(),
        other => format!("{}\n", scalar(other)),
    }
}

/// `key: value` lines, nested objects indented, arrays of objects as tables.
pub fn listing(ui: &Ui, out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    let Value::Object(o) = v else {
        let _ = writeln!(out, "{pad}{}", scalar(v));
        return;
    };
    let w = o.keys().map(|k| width(k)).max().unwrap_or(0) + 1;
    for (k, v) in o {
        if SKIP.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Object(inner) if inner.is_empty() => {
                let _ = writeln!(out, "{pad}{:w$} -", format!("{k}:"));
            }
            Value::Object(_) => {
                let _ = writeln!(
                    out,
                    "{pad}{}",
                    ui.paint(&format!("{k}:"), Some(Paint::Bold))
                );
                listing(ui, out, v, indent + 2);
            }
            Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_object) => {
                let _ = writeln!(
                    out,
                    "{pad}{}",
                    ui.paint(&format!("{k}:"), Some(Paint::Bold))
                );
                out.push_str(&table_of(a).render(ui, indent + 2));
            }
            _ => {
                let text = scalar(v);
                let paint = if matches!(k.as_str(), "state" | "status") {
                    state_paint(&text)
                } else {
                    None
                };
                let _ = writeln!(
                    out,
                    "{pad}{:w$} {}",
                    format!("{k}:"),
                    ui.paint(&text, paint)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAIN: Ui = Ui { color: false };

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut t = Table::new(["NAME", "STATE"]);
        t.row(vec!["web-server-01".into(), Cell::state("running")]);
        t.row(vec!["db".into(), Cell::state("installed")]);
        assert_eq!(
            t.render(&PLAIN, 0),
            "NAME           STATE\nweb-server-01  running\ndb             installed\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let ui = Ui { color: true };
        assert_eq!(
            ui.paint("failed", state_paint("failed")),
            "\x1b[31mfailed\x1b[0m"
        );
        assert_eq!(PLAIN.paint("failed", state_paint("failed")), "failed");
    }

    #[test]
    fn a_list_answer_becomes_a_table_with_known_columns_first() {
        let v = json!({"etherstubs": [{"over": "x", "name": "estub0", "mtu": 9000}], "total": 1});
        assert_eq!(
            render_value(&PLAIN, &v),
            "NAME    OVER  MTU\nestub0  x     9000\n"
        );
        assert_eq!(
            render_value(&PLAIN, &json!({"rules": [], "total": 0})),
            "(none)\n"
        );
        assert_eq!(
            render_value(&PLAIN, &json!({"global": "off", "ifs": [{"name": "igb0"}]})),
            "global: off\nNAME\nigb0\n"
        );
    }

    #[test]
    fn an_object_answer_becomes_a_listing() {
        let v =
            json!({"enabled": true, "interfaces": ["igb0", "vnic0"], "svc": {"state": "online"}});
        assert_eq!(
            render_value(&PLAIN, &v),
            "enabled:    yes\ninterfaces: igb0,vnic0\nsvc:\n  state: online\n"
        );
    }

    #[test]
    fn byte_counts_read_like_zfs() {
        assert_eq!(human_bytes(10737418240), "10G");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(512), "512");
        let t = table_of(&[json!({"name": "a", "volsize": 1048576, "note": null})]);
        assert_eq!(t.render(&PLAIN, 0), "NAME  VOLSIZE\na     1M\n");
    }

    #[test]
    fn times_lose_fractions_and_zone() {
        assert_eq!(
            short_time("2025-01-02T03:04:05.678Z"),
            "2025-01-02 03:04:05"
        );
        assert_eq!(short_time("2025-01-02T03:04:05Z"), "2025-01-02 03:04:05");
    }
}

/// Characters a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1
/// controls (U+0080..U+009F, of which U+009B starts a sequence like ESC [), and the
/// bidirectional overrides that can make text read differently from what it is.
fn is_active(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text from the agent made safe to print: every active character shown as an escape
/// (`^[` for ESC, `^M` for CR, `\u{9b}` for the others), the rest unchanged.
pub fn for_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_active) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !is_active(c) => out.push(c),
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(c as u8 + 0x40));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.into()
}

/// JSON text from the agent made safe to print with `--json`: active characters written as
/// `\uXXXX` escapes. Valid JSON stays valid and means the same (outside strings it holds no
/// such character); the line breaks and tabs it may hold between tokens are kept.
pub fn json_for_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| is_active(c) && c != '\r') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_active(c) && c != '\r' {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Every string of a parsed answer (keys too) made safe to print, see [`for_terminal`].
pub fn clean_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(c) = for_terminal(s) {
                *s = c;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(clean_value),
        Value::Object(o) => {
            if o.keys().any(|k| k.chars().any(is_active)) {
                let old = std::mem::take(o);
                for (k, mut val) in old {
                    clean_value(&mut val);
                    o.insert(for_terminal(&k).into_owned(), val);
                }
            } else {
                o.values_mut().for_each(clean_value);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn control_sequences_are_shown_not_obeyed() {
        let hostile = "ok\x1b[2J\x1b]0;pwned\x07\r\u{9b}31m\u{202e}txt\x7f end\n\tnext";
        let shown = for_terminal(hostile);
        assert_eq!(
            shown,
            "ok^[[2J^[]0;pwned^G^M\\u{9b}31m\\u{202e}txt^? end\n\tnext"
        );
        assert!(!shown.chars().any(is_active));
        assert!(matches!(
            for_terminal("plain zone-01 ✓"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn json_text_stays_the_same_json() {
        let v = serde_json::json!({"name": "a\u{1b}[31mb\u{9b}c", "k\u{7}": [1, "\u{202e}"]});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = json_for_terminal(&text);
        assert!(!safe.chars().any(|c| is_active(c) && c != '\r'));
        assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), v);
    }

    #[test]
    fn every_string_of_an_answer_is_cleaned() {
        let mut v = serde_json::json!({"a\u{1b}": {"b": ["x\u{1b}[0m", 3, "fine"]}});
        clean_value(&mut v);
        assert_eq!(v, serde_json::json!({"a^[": {"b": ["x^[[0m", 3, "fine"]}}));
    }
}
