//! The zonecfg command language: subcommands separated by `;` or newlines, words separated by
//! blanks, `"..."` quoting, `(...)`/`[...]` values kept whole, and `prop = value` (with or
//! without blanks around `=`) folded into one `prop=value` word.
//!
//! zonecfg joins its argv with spaces before parsing, so the token-per-argv form
//! (`zonecfg -z z1 create -b ; set zonepath=/x`) and the one-string form parse alike.

#[derive(Debug, PartialEq)]
pub struct Command {
    /// 1-based line of the command file (1 for command-line input).
    pub line: usize,
    pub words: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub struct LexError {
    pub line: usize,
    pub msg: String,
}

pub fn parse(text: &str) -> Result<Vec<Command>, LexError> {
    let mut cmds = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut raw: Vec<(String, bool)> = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut in_q = false;
        let mut depth = 0i32;
        let mut chars = line.chars().peekable();
        let flush_word = |raw: &mut Vec<(String, bool)>, cur: &mut String, quoted: &mut bool| {
            if !cur.is_empty() || *quoted {
                raw.push((std::mem::take(cur), *quoted));
            }
            *quoted = false;
        };
        let mut flush_cmd = |raw: &mut Vec<(String, bool)>| {
            let words = fold(std::mem::take(raw));
            if !words.is_empty() {
                cmds.push(Command {
                    line: lineno,
                    words,
                });
            }
        };
        while let Some(c) = chars.next() {
            if in_q {
                match c {
                    '"' => in_q = false,
                    '\\' => cur.extend(chars.next()),
                    _ => cur.push(c),
                }
                continue;
            }
            match c {
                '"' => {
                    in_q = true;
                    quoted = true;
                }
                '(' | '[' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' | ']' => {
                    depth -= 1;
                    cur.push(c);
                }
                ' ' | '\t' if depth > 0 => {}
                ' ' | '\t' | '\r' => flush_word(&mut raw, &mut cur, &mut quoted),
                ';' => {
                    flush_word(&mut raw, &mut cur, &mut quoted);
                    flush_cmd(&mut raw);
                }
                '=' if depth == 0 => {
                    flush_word(&mut raw, &mut cur, &mut quoted);
                    raw.push(("=".into(), false));
                }
                _ => cur.push(c),
            }
        }
        if in_q {
            return Err(LexError {
                line: lineno,
                msg: "unterminated quoted string".into(),
            });
        }
        flush_word(&mut raw, &mut cur, &mut quoted);
        flush_cmd(&mut raw);
    }
    Ok(cmds)
}

/// `a = b` → `a=b`.
fn fold(raw: Vec<(String, bool)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let (w, q) = &raw[i];
        if w == "=" && !q {
            let prev = out.pop().unwrap_or_default();
            let next = raw.get(i + 1).map(|x| x.0.clone()).unwrap_or_default();
            out.push(format!("{prev}={next}"));
            i += 2;
            continue;
        }
        out.push(w.clone());
        i += 1;
    }
    out
}

/// Splits a list value `[a,b]` / `a,b` / `[(x=1,y=2),(x=3,y=4)]` at top-level commas.
pub fn split_list(v: &str) -> Vec<String> {
    let inner = v
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in inner.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<String>> {
        parse(s).unwrap().into_iter().map(|c| c.words).collect()
    }

    #[test]
    fn semicolons_split_and_assignments_fold() {
        assert_eq!(
            words("create -b ; set zonepath=/z/a;set brand = \"bhyve\""),
            vec![
                vec!["create", "-b"],
                vec!["set", "zonepath=/z/a"],
                vec!["set", "brand=bhyve"]
            ]
        );
    }

    #[test]
    fn complex_and_quoted_values_stay_whole() {
        assert_eq!(
            words("set property=(name=netif, value=e1000)"),
            vec![vec!["set", "property=(name=netif,value=e1000)"]]
        );
        assert_eq!(
            words("set value=\"a b;c\""),
            vec![vec!["set", "value=a b;c"]]
        );
        assert_eq!(split_list("[ro,nodevices]"), vec!["ro", "nodevices"]);
        assert_eq!(
            split_list("[(a=1,b=2),(a=3,b=4)]"),
            vec!["(a=1,b=2)", "(a=3,b=4)"]
        );
    }

    #[test]
    fn files_keep_line_numbers_and_skip_comments() {
        let c = parse("# comment\ncreate -b\n\nset zonepath=/x\n").unwrap();
        assert_eq!(c[0].line, 2);
        assert_eq!(c[1].line, 4);
        assert!(parse("set a=\"x").is_err());
    }
}
