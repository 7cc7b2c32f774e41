//! The emulated guest OS of a bhyve zone: a tiny shell (`true`, `false`, `echo`, `printf`,
//! `hostname`, `uname`, `cat`, `test`/`[`, `ls`, `rm`, `id`, `exit`, `echo $?`, `>`/`>>`
//! redirection, `;` `&&` `||`) over an in-state file map, shared by `zlogin NAME cmd` and the
//! `zlogin -C` console.

use std::collections::BTreeMap;

pub struct Guest<'a> {
    pub files: &'a mut BTreeMap<String, String>,
    pub hostname: String,
    pub last: i32,
    /// Set when a command changed the guest's files.
    pub dirty: bool,
}

pub struct Outcome {
    pub out: String,
    pub status: i32,
    pub exit: bool,
}

/// Stands for `$?` until the command runs: its value is the status of the previous command
/// of the same line.
const STATUS: char = '\u{1}';

/// Splits a command line into words (quotes, `$?`) and the operators `;` `&&` `||` `>` `>>`.
fn lex(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars().peekable();
    let push = |out: &mut Vec<(String, bool)>, cur: &mut String, has: &mut bool| {
        if *has {
            out.push((std::mem::take(cur), false));
            *has = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                has = true;
                for x in chars.by_ref() {
                    if x == '\'' {
                        break;
                    }
                    cur.push(x);
                }
            }
            '"' => {
                has = true;
                while let Some(x) = chars.next() {
                    match x {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        '$' if chars.peek() == Some(&'?') => {
                            chars.next();
                            cur.push(STATUS);
                        }
                        _ => cur.push(x),
                    }
                }
            }
            '\\' => {
                has = true;
                cur.extend(chars.next());
            }
            '$' if chars.peek() == Some(&'?') => {
                chars.next();
                has = true;
                cur.push(STATUS);
            }
            ';' => {
                push(&mut out, &mut cur, &mut has);
                out.push((";".into(), true));
            }
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                push(&mut out, &mut cur, &mut has);
                out.push(("&&".into(), true));
            }
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                push(&mut out, &mut cur, &mut has);
                out.push(("||".into(), true));
            }
            '>' => {
                push(&mut out, &mut cur, &mut has);
                if chars.peek() == Some(&'>') {
                    chars.next();
                    out.push((">>".into(), true));
                } else {
                    out.push((">".into(), true));
                }
            }
            c if c.is_whitespace() => push(&mut out, &mut cur, &mut has),
            _ => {
                has = true;
                cur.push(c);
            }
        }
    }
    push(&mut out, &mut cur, &mut has);
    out
}

fn abs(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/root/{p}")
    }
}

fn printf(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some(x) => {
                    out.push('\\');
                    out.push(x);
                }
                None => out.push('\\'),
            },
            '%' => match chars.next() {
                Some('s') | Some('d') => out.push_str(args.next().map_or("", String::as_str)),
                Some('%') => out.push('%'),
                Some(x) => {
                    out.push('%');
                    out.push(x);
                }
                None => out.push('%'),
            },
            _ => out.push(c),
        }
    }
    out
}

impl Guest<'_> {
    fn exists_dir(&self, p: &str) -> bool {
        let prefix = if p.ends_with('/') {
            p.to_string()
        } else {
            format!("{p}/")
        };
        ["/", "/root", "/etc", "/tmp", "/var", "/home"].contains(&p)
            || self.files.keys().any(|k| k.starts_with(&prefix))
    }

    fn simple(&mut self, argv: &[String], out: &mut String) -> (i32, bool) {
        let Some((cmd, args)) = argv.split_first() else {
            return (0, false);
        };
        match cmd.as_str() {
            "true" | ":" | "sync" | "sleep" | "ip" | "ifconfig" | "dhclient" | "systemctl"
            | "service" => (0, false),
            "false" => (1, false),
            "exit" | "logout" => (
                args.first()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(self.last),
                true,
            ),
            "echo" => {
                let (nl, words) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, args),
                };
                out.push_str(&words.join(" "));
                if nl {
                    out.push('\n');
                }
                (0, false)
            }
            "printf" => {
                let Some((fmt, rest)) = args.split_first() else {
                    return (1, false);
                };
                out.push_str(&printf(fmt, rest));
                (0, false)
            }
            "hostname" => {
                out.push_str(&format!("{}\n", self.hostname));
                (0, false)
            }
            "whoami" => {
                out.push_str("root\n");
                (0, false)
            }
            "id" => {
                out.push_str("uid=0(root) gid=0(root) groups=0(root)\n");
                (0, false)
            }
            "pwd" => {
                out.push_str("/root\n");
                (0, false)
            }
            "uname" => {
                let s = match args.first().map(String::as_str) {
                    Some("-n") => self.hostname.clone(),
                    Some("-r") => "6.1.0-sim".into(),
                    Some("-m") => "x86_64".into(),
                    Some("-a") => {
                        format!("Linux {} 6.1.0-sim #1 SMP x86_64 GNU/Linux", self.hostname)
                    }
                    _ => "Linux".into(),
                };
                out.push_str(&format!("{s}\n"));
                (0, false)
            }
            "cloud-init" => {
                out.push_str("status: done\n");
                (0, false)
            }
            "cat" => {
                let mut rc = 0;
                for a in args {
                    match self.files.get(&abs(a)) {
                        Some(c) => out.push_str(c),
                        None => {
                            out.push_str(&format!("cat: {a}: No such file or directory\n"));
                            rc = 1;
                        }
                    }
                }
                (rc, false)
            }
            "ls" => {
                let dir = abs(args
                    .iter()
                    .find(|a| !a.starts_with('-'))
                    .map_or("/root", String::as_str));
                if let Some(_f) = self.files.get(&dir) {
                    out.push_str(&format!("{dir}\n"));
                    return (0, false);
                }
                let prefix = format!("{}/", dir.trim_end_matches('/'));
                let mut names: Vec<String> = self
                    .files
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(|r| r.split('/').next().unwrap_or(r).to_string())
                    .collect();
                names.dedup();
                for n in names {
                    out.push_str(&format!("{n}\n"));
                }
                (0, false)
            }
            "rm" => {
                let mut rc = 0;
                let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    if self.files.remove(&abs(a)).is_some() {
                        self.dirty = true;
                    } else if !force {
                        out.push_str(&format!(
                            "rm: cannot remove '{a}': No such file or directory\n"
                        ));
                        rc = 1;
                    }
                }
                (rc, false)
            }
            "test" | "[" => {
                let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
                if cmd == "[" && a.last() == Some(&"]") {
                    a.pop();
                }
                let neg = a.first() == Some(&"!");
                if neg {
                    a.remove(0);
                }
                let r = match a.as_slice() {
                    ["-f", p] => self.files.contains_key(&abs(p)),
                    ["-e", p] => self.files.contains_key(&abs(p)) || self.exists_dir(&abs(p)),
                    ["-d", p] => self.exists_dir(&abs(p)),
                    ["-s", p] => self.files.get(&abs(p)).is_some_and(|c| !c.is_empty()),
                    ["-n", s] => !s.is_empty(),
                    ["-z", s] => s.is_empty(),
                    [x, "=", y] | [x, "==", y] => x == y,
                    [x, "!=", y] => x != y,
                    [s] => !s.is_empty(),
                    _ => false,
                };
                (i32::from(r == neg), false)
            }
            other => {
                out.push_str(&format!("sh: {other}: not found\n"));
                (127, false)
            }
        }
    }

    /// Runs one command line; `exit` reports that the shell should end.
    pub fn run(&mut self, line: &str) -> Outcome {
        let toks = lex(line);
        let mut out = String::new();
        let mut status = self.last;
        let mut i = 0;
        let mut skip = false;
        while i < toks.len() {
            let mut argv: Vec<String> = Vec::new();
            let mut redirect: Option<(bool, String)> = None;
            while i < toks.len() && !(toks[i].1 && matches!(toks[i].0.as_str(), ";" | "&&" | "||"))
            {
                let (t, op) = &toks[i];
                if *op && (t == ">" || t == ">>") {
                    redirect = toks.get(i + 1).map(|x| (t == ">>", x.0.clone()));
                    i += 2;
                    continue;
                }
                argv.push(t.replace(STATUS, &self.last.to_string()));
                i += 1;
            }
            let sep = toks.get(i).map(|t| t.0.clone());
            i += 1;
            if !skip && !argv.is_empty() {
                let mut o = String::new();
                let (rc, exit) = self.simple(&argv, &mut o);
                status = rc;
                self.last = rc;
                match redirect {
                    Some((append, path)) => {
                        let p = abs(&path);
                        let entry = self.files.entry(p).or_default();
                        if !append {
                            entry.clear();
                        }
                        entry.push_str(&o);
                        self.dirty = true;
                    }
                    None => out.push_str(&o),
                }
                if exit {
                    return Outcome {
                        out,
                        status,
                        exit: true,
                    };
                }
            }
            skip = match sep.as_deref() {
                Some("&&") => status != 0,
                Some("||") => status == 0,
                _ => false,
            };
        }
        Outcome {
            out,
            status,
            exit: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_runs_lists_redirections_and_status() {
        let mut files = BTreeMap::new();
        let mut g = Guest {
            files: &mut files,
            hostname: "vm1".into(),
            last: 0,
            dirty: false,
        };
        assert_eq!(g.run("hostname").out, "vm1\n");
        assert_eq!(g.run("false; echo $?").out, "1\n");
        let o = g.run("printf 'a=%s\\n' 1 > /etc/x && cat /etc/x");
        assert_eq!((o.out.as_str(), o.status), ("a=1\n", 0));
        assert!(g.dirty);
        assert_eq!(g.run("test -f /etc/x").status, 0);
        assert_eq!(g.run("[ -f /etc/nope ]").status, 1);
        assert_eq!(g.run("nosuch").status, 127);
        assert_eq!(g.run("false || echo ok").out, "ok\n");
        assert!(g.run("exit 3").exit);
    }
}
