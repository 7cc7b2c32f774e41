//! The `ofmt` parsable output shared by `dladm -p -o` and `ipadm -p -o` (and `-c -o` for the
//! property listings), plus the [`ParseError`] every `parse_*` function in this crate returns.
//!
//! Reference §0: one line per object, fields in `-o` order, separated by `:`. When **more than
//! one** field is requested, a literal `:` inside a value is printed as `\:` and `\` as `\\`;
//! with **exactly one** field nothing is escaped, so a lone MAC address or IPv6 address prints
//! raw. Empty values are empty strings; there is no header line.

use std::fmt;

/// A line of tool output that does not have the shape the parser expects. Keeps the line
/// verbatim so a log shows exactly what the host printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {what} output line {line:?}: {reason}")]
pub struct ParseError {
    /// What was being parsed, e.g. `"dladm show-vnic"`.
    pub what: &'static str,
    pub line: String,
    pub reason: String,
}

impl ParseError {
    pub fn new(what: &'static str, line: &str, reason: impl fmt::Display) -> Self {
        ParseError {
            what,
            line: line.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Splits one parsable line into exactly `count` fields, undoing the escaping when `count > 1`.
///
/// Errors (as a reason string, for the caller to wrap with its line) on a wrong field count, a
/// dangling `\` at the end, or an escape of anything but `:` and `\` (ofmt escapes nothing else,
/// so such a line was not produced by ofmt with this many fields).
pub fn split_fields(line: &str, count: usize) -> Result<Vec<String>, String> {
    if count <= 1 {
        // One field: printed raw, colons and backslashes included.
        return Ok(vec![line.to_owned()]);
    }
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ (':' | '\\')) => fields.last_mut().expect("never empty").push(e),
                Some(other) => return Err(format!("unexpected escape \\{other}")),
                None => return Err("line ends in a lone backslash".into()),
            },
            ':' => fields.push(String::new()),
            _ => fields.last_mut().expect("never empty").push(c),
        }
    }
    if fields.len() != count {
        return Err(format!("expected {count} fields, found {}", fields.len()));
    }
    Ok(fields)
}

/// The `-o` argument for a field list: `LINK,OVER,MACADDRESS`.
pub fn field_arg(fields: &[&str]) -> String {
    fields.join(",")
}

/// One parsed line, with its values addressable by field name (so a parser can be run against
/// output captured with a different `-o` list, as the reference's samples are).
#[derive(Debug)]
pub struct Record<'a> {
    what: &'static str,
    line: &'a str,
    fields: &'a [&'a str],
    values: Vec<String>,
}

impl<'a> Record<'a> {
    /// The value of `field` (case-insensitive, as dladm/ipadm accept `-o` names), or `None`
    /// when the field was not requested.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(field))
            .map(|i| self.values[i].as_str())
    }

    /// The value of a field the parser cannot do without.
    pub fn require(&self, field: &str) -> Result<&str, ParseError> {
        self.get(field)
            .ok_or_else(|| self.error(format!("field {field} was not requested")))
    }

    /// Parses a required field with `FromStr`, naming the field and value on failure.
    pub fn parse<T>(&self, field: &str) -> Result<T, ParseError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.require(field)?;
        raw.parse()
            .map_err(|e| self.error(format!("bad {field} {raw:?}: {e}")))
    }

    /// An error quoting this record's line.
    pub fn error(&self, reason: impl fmt::Display) -> ParseError {
        ParseError::new(self.what, self.line, reason)
    }
}

/// Splits parsable output into records for the field list it was requested with. Blank lines
/// are skipped: no object the agent lists has an empty first field, and the tools end their
/// output with a newline.
pub fn records<'a>(
    what: &'static str,
    text: &'a str,
    fields: &'a [&'a str],
) -> Result<Vec<Record<'a>>, ParseError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let values = split_fields(line, fields.len())
                .map_err(|reason| ParseError::new(what, line, reason))?;
            Ok(Record {
                what,
                line,
                fields,
                values,
            })
        })
        .collect()
}

/// Parses each record with `f`, failing on the first bad line.
pub fn parse_records<'a, T>(
    what: &'static str,
    text: &'a str,
    fields: &'a [&'a str],
    f: impl Fn(&Record<'a>) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    records(what, text, fields)?.iter().map(f).collect()
}

/// Empty or `--` means "none" in several dladm columns (VNIC `ZONE`, show-link `OVER`/`BRIDGE`).
pub fn optional(raw: &str) -> Option<&str> {
    match raw {
        "" | "--" => None,
        v => Some(v),
    }
}

/// Inputs every validated newtype must refuse, built around one valid value: shell and
/// config-file metacharacters, whitespace, quotes, NUL, path traversal, overlong values and
/// Unicode look-alikes of ASCII letters, digits and separators.
#[cfg(test)]
pub(crate) fn hostile_variants(valid: &str) -> Vec<String> {
    const BAD: &[&str] = &[
        ";", " ", "\t", "\"", "'", "\n", "\r", "\0", "..", "`", "$(", "|", "&",
        "\u{0435}", // Cyrillic small ie, looks like 'e'
        "\u{0430}", // Cyrillic small a
        "\u{FF10}", // fullwidth digit zero
        "\u{0660}", // Arabic-Indic digit zero
        "\u{00A0}", // no-break space
        "\u{2215}", // division slash, looks like '/'
        "\u{FF1A}", // fullwidth colon
        "\u{200B}", // zero-width space
    ];
    let mid = valid
        .char_indices()
        .map(|(i, _)| i)
        .nth(valid.chars().count() / 2)
        .unwrap_or(valid.len());
    let mut out = Vec::new();
    for b in BAD {
        out.push(format!("{b}{valid}"));
        out.push(format!("{valid}{b}"));
        out.push(format!("{}{b}{}", &valid[..mid], &valid[mid..]));
    }
    out.push(valid.repeat(64));
    out.push(String::new());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_field_output_unescapes_colons_inside_a_mac() {
        // reference §1.5: dladm show-vnic -p -o LINK,OVER,MACADDRESS,MACADDRTYPE,VID,ZONE
        let line = r"vm1net0:stub0:2\:8\:20\:a3\:1b\:5c:random:0:vm1";
        assert_eq!(
            split_fields(line, 6).unwrap(),
            ["vm1net0", "stub0", "2:8:20:a3:1b:5c", "random", "0", "vm1"]
        );
    }

    #[test]
    fn single_field_output_is_not_escaped() {
        // reference §1.5: dladm show-phys -m -p -o ADDRESS net0
        let line = "0:c:29:5f:3a:e1";
        assert_eq!(split_fields(line, 1).unwrap(), ["0:c:29:5f:3a:e1"]);
        // reference §1.6: one field of a backslash stays a backslash
        assert_eq!(split_fields(r"a\b", 1).unwrap(), [r"a\b"]);
    }

    #[test]
    fn escaped_backslash_is_one_backslash() {
        assert_eq!(split_fields(r"a\\:b", 2).unwrap(), [r"a\", "b"]);
    }

    #[test]
    fn ipv6_loopback_keeps_its_colons() {
        // reference §1.6: ipadm show-addr -p -o ADDROBJ,TYPE,STATE,ADDR
        let line = r"lo0/v6:static:ok:\:\:1/128";
        assert_eq!(
            split_fields(line, 4).unwrap(),
            ["lo0/v6", "static", "ok", "::1/128"]
        );
    }

    #[test]
    fn empty_trailing_field_counts() {
        // reference §1.5: show-link OVER is empty for a physical link
        assert_eq!(
            split_fields("net0:phys:1500:up:", 5).unwrap(),
            ["net0", "phys", "1500", "up", ""]
        );
    }

    #[test]
    fn wrong_field_count_is_an_error() {
        assert!(split_fields("a:b:c", 2).unwrap_err().contains("expected 2"));
        assert!(split_fields("a", 2).is_err());
    }

    #[test]
    fn dangling_or_foreign_escape_is_an_error() {
        assert!(split_fields(r"a:b\", 2).is_err());
        assert!(split_fields(r"a:\n", 2).is_err());
    }

    #[test]
    fn records_name_the_bad_line() {
        let err = records("dladm show-link", "net0:phys\nbad\n", &["LINK", "CLASS"]).unwrap_err();
        assert_eq!(err.line, "bad");
        assert_eq!(err.what, "dladm show-link");
        assert!(err.to_string().contains("\"bad\""), "{err}");
    }

    #[test]
    fn record_fields_are_found_case_insensitively() {
        let fields = ["LINK", "CLASS"];
        let recs = records("t", "net0:phys\n\n", &fields).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].get("link"), Some("net0"));
        assert_eq!(recs[0].get("MTU"), None);
        assert!(recs[0].require("MTU").is_err());
    }
}
