//! `pfsh`: the profile shell, as the host terminal runs it. Interactive on a terminal (prompt,
//! echo, backspace, `exit`); `pfsh -c LINE` runs one line. Each command runs through the
//! emulated host's `pfexec`, so it gets exactly what the caller's RBAC profile grants.
//!
//! This shell is restricted to the emulated host's own tools (and `echo`, `help`, `exit`):
//! it never runs a program of the machine the emulator runs on, so a terminal opened on an
//! emulated host cannot reach that machine, whoever the agent runs as.

use std::io::{IsTerminal, Read, Write};

use crate::ctx::Ctx;

const BUILTINS: &[&str] = &["echo", "exit", "logout", "help"];

/// Splits a command line into words: whitespace separates, '...' and "..." quote.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut has, mut quote) = (Vec::new(), String::new(), false, None);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs one line; returns what it printed (newlines as the terminal wants them) and whether
/// the shell should exit.
fn line(cx: &Ctx, text: &str) -> (String, bool) {
    let w = words(text);
    let Some(cmd) = w.first() else {
        return (String::new(), false);
    };
    let out = match cmd.as_str() {
        "exit" | "logout" => return (String::new(), true),
        "echo" => format!("{}\n", w[1..].join(" ")),
        "help" => {
            let tools: Vec<&str> = crate::TOOLS
                .iter()
                .copied()
                .filter(|t| !matches!(*t, "pfexec" | "pfsh"))
                .chain(BUILTINS.iter().copied())
                .collect();
            format!("commands: {}\n", tools.join(" "))
        }
        t if crate::TOOLS.contains(&t) && !matches!(t, "pfexec" | "pfsh") => {
            let bin = cx.host.dir.join("bin");
            match std::process::Command::new(bin.join("pfexec"))
                .arg(bin.join(t))
                .args(&w[1..])
                .stdin(std::process::Stdio::null())
                .output()
            {
                Ok(o) => {
                    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                    s.push_str(&String::from_utf8_lossy(&o.stderr));
                    s
                }
                Err(e) => format!("pfsh: {t}: {e}\n"),
            }
        }
        other => format!("pfsh: {other}: not found\n"),
    };
    (out, false)
}

fn say(s: &str) {
    let mut o = std::io::stdout();
    let _ = o.write_all(s.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes());
    let _ = o.flush();
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    cx.flush_output();
    // The commands lock the host themselves.
    cx.unlock();
    if args.first().map(String::as_str) == Some("-c") {
        let (out, _) = line(cx, &args[1..].join(" "));
        let _ = std::io::stdout().write_all(out.as_bytes());
        cx.relock();
        return 0;
    }
    let interactive = std::io::stdin().is_terminal();
    let prompt = "pfsh$ ";
    if interactive {
        say(prompt);
    }
    let mut input = String::new();
    let mut byte = [0u8; 1];
    let mut stdin = std::io::stdin();
    while let Ok(1) = stdin.read(&mut byte) {
        match byte[0] {
            b'\r' | b'\n' => {
                if interactive {
                    say("\n");
                }
                let (out, exit) = line(cx, &std::mem::take(&mut input));
                say(&out);
                if exit {
                    break;
                }
                if interactive {
                    say(prompt);
                }
            }
            0x7f | 0x08 if input.pop().is_some() && interactive => say("\x08 \x08"),
            0x03 => {
                input.clear();
                if interactive {
                    say("^C\n");
                    say(prompt);
                }
            }
            b if !b.is_ascii_control() => {
                input.push(b as char);
                if interactive {
                    say(&(b as char).to_string());
                }
            }
            _ => {}
        }
    }
    cx.relock();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_keep_words_together() {
        assert_eq!(
            words(r#"zfs list -o 'name,used' "a b"  c"#),
            ["zfs", "list", "-o", "name,used", "a b", "c"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("echo ''"), ["echo", ""]);
    }
}
