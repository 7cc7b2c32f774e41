//! The console engine: reads a zone's serial console (a `zlogin -C` on a pty, or any byte
//! stream in tests), strips terminal escapes, matches regular expressions against what arrived,
//! types lines, and runs a recipe's steps, with timeouts and cancellation. Everything shown is
//! passed, line by line and with secrets masked, to a transcript callback.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::recipes::{compile, RecipeBody, Step};
use super::transcript;

/// Removes terminal escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, two-byte
/// `ESC x`), carriage returns and other control characters but newline and tab. Fed in chunks:
/// a sequence cut between two reads is kept until it is complete.
#[derive(Default)]
pub struct Stripper {
    pending: Vec<u8>,
}

impl Stripper {
    pub fn feed(&mut self, bytes: &[u8]) -> String {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if b == 0x1b {
                match escape_len(&data[i..]) {
                    Some(n) => {
                        i += n;
                        continue;
                    }
                    None => {
                        // Incomplete: wait for the rest (bounded, so garbage cannot pile up).
                        if data.len() - i < 256 {
                            self.pending = data[i..].to_vec();
                        }
                        break;
                    }
                }
            }
            if b == b'\n' || b == b'\t' || b >= 0x20 && b != 0x7f {
                out.push(b);
            }
            i += 1;
        }
        // Keep a UTF-8 sequence cut between reads for the next chunk.
        let valid = match std::str::from_utf8(&out) {
            Ok(_) => out.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => out.len(),
        };
        if valid < out.len() && self.pending.is_empty() {
            self.pending = out[valid..].to_vec();
            out.truncate(valid);
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The length of the escape sequence at the start of `s` (which starts with ESC), or `None` if
/// it is not complete yet.
fn escape_len(s: &[u8]) -> Option<usize> {
    match s.get(1)? {
        b'[' => {
            // Parameters and intermediates, then a final byte 0x40..=0x7e.
            for (j, &c) in s.iter().enumerate().skip(2) {
                if (0x40..=0x7e).contains(&c) {
                    return Some(j + 1);
                }
            }
            None
        }
        b']' | b'P' | b'_' | b'^' => {
            for j in 2..s.len() {
                if s[j] == 0x07 {
                    return Some(j + 1);
                }
                if s[j] == 0x1b && s.get(j + 1) == Some(&b'\\') {
                    return Some(j + 2);
                }
            }
            None
        }
        b'(' | b')' | b'*' | b'+' | b'#' => s.get(2).map(|_| 3),
        _ => Some(2),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("timed out after {waited_secs} s waiting for /{pattern}/ on the console; last output: {tail:?}")]
    Timeout {
        pattern: String,
        waited_secs: u64,
        tail: String,
    },
    #[error("the console closed while waiting for /{pattern}/; last output: {tail:?}")]
    Closed { pattern: String, tail: String },
    #[error("cancelled")]
    Cancelled,
    #[error("console I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Step(String),
}

/// How much unmatched console text is kept for matching.
const KEEP: usize = 64 * 1024;

pub struct Console<'a, S> {
    io: S,
    strip: Stripper,
    buf: String,
    /// The transcript's current line, at most [`transcript::MAX_LINE_BYTES`] plus the secrets'
    /// slack; what the guest prints beyond it is only counted.
    line: String,
    line_dropped: u64,
    cancel: CancellationToken,
    secrets: Vec<String>,
    transcript: &'a (dyn Fn(&str) + Send + Sync),
    nonce: u64,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Console<'a, S> {
    pub fn new(
        io: S,
        cancel: CancellationToken,
        secrets: Vec<String>,
        transcript: &'a (dyn Fn(&str) + Send + Sync),
    ) -> Self {
        Console {
            io,
            strip: Stripper::default(),
            buf: String::new(),
            line: String::new(),
            line_dropped: 0,
            cancel,
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
            transcript,
            nonce: 0,
        }
    }

    pub fn into_inner(self) -> S {
        self.io
    }

    pub fn mask(&self, text: &str) -> String {
        transcript::mask(text, &self.secrets)
    }

    fn record(&mut self, text: &str) {
        let room = transcript::MAX_LINE_BYTES + transcript::slack(&self.secrets);
        for c in text.chars() {
            if c == '\n' {
                self.emit_line();
            } else if self.line.len() + c.len_utf8() <= room {
                self.line.push(c);
            } else {
                self.line_dropped += c.len_utf8() as u64;
            }
        }
    }

    fn emit_line(&mut self) {
        let l = std::mem::take(&mut self.line);
        let dropped = std::mem::take(&mut self.line_dropped);
        let (text, _) = transcript::line(&l, dropped, &self.secrets);
        (self.transcript)(&format!("console: {text}"));
    }

    /// Flushes a partial line (a prompt) into the transcript.
    pub fn flush_transcript(&mut self) {
        if !self.line.is_empty() || self.line_dropped > 0 {
            self.emit_line();
        }
    }

    /// What the console showed last, for error messages (masked).
    fn tail(&self) -> String {
        let start = self.buf.len().saturating_sub(200);
        let mut cut = start;
        while !self.buf.is_char_boundary(cut) {
            cut += 1;
        }
        self.mask(&self.buf[cut..])
    }

    /// Types `text` as is.
    pub async fn send_raw(&mut self, text: &str) -> Result<(), ConsoleError> {
        tokio::select! {
            r = self.io.write_all(text.as_bytes()) => Ok(r?),
            _ = self.cancel.cancelled() => Err(ConsoleError::Cancelled),
        }
    }

    /// Types a line and Enter (a serial console wants CR).
    pub async fn send_line(&mut self, text: &str) -> Result<(), ConsoleError> {
        let line = text.replace("\r\n", "\r").replace('\n', "\r");
        self.send_raw(&format!("{line}\r")).await
    }

    /// Waits until one of `patterns` matches what the console showed since the last match;
    /// consumes up to the end of the earliest match and returns its index and captures.
    pub async fn expect_any(
        &mut self,
        patterns: &[&Regex],
        timeout: Duration,
    ) -> Result<(usize, Vec<String>), ConsoleError> {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 4096];
        loop {
            let best = patterns
                .iter()
                .enumerate()
                .filter_map(|(i, re)| re.captures(&self.buf).map(|c| (i, c)))
                .min_by_key(|(_, c)| c.get(0).map_or(usize::MAX, |m| m.start()));
            if let Some((i, caps)) = best {
                let end = caps.get(0).map_or(0, |m| m.end());
                let groups = caps
                    .iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_owned()))
                    .collect();
                self.buf.drain(..end);
                return Ok((i, groups));
            }
            let names = || {
                patterns
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("|")
            };
            let n = tokio::select! {
                r = self.io.read(&mut chunk) => r?,
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ConsoleError::Timeout {
                        pattern: names(),
                        waited_secs: timeout.as_secs(),
                        tail: self.tail(),
                    })
                }
                _ = self.cancel.cancelled() => return Err(ConsoleError::Cancelled),
            };
            if n == 0 {
                return Err(ConsoleError::Closed {
                    pattern: names(),
                    tail: self.tail(),
                });
            }
            let text = self.strip.feed(&chunk[..n]);
            self.record(&text);
            self.buf.push_str(&text);
            if self.buf.len() > KEEP {
                let mut cut = self.buf.len() - KEEP;
                while !self.buf.is_char_boundary(cut) {
                    cut += 1;
                }
                self.buf.drain(..cut);
            }
        }
    }

    pub async fn expect(
        &mut self,
        pattern: &Regex,
        timeout: Duration,
    ) -> Result<Vec<String>, ConsoleError> {
        Ok(self.expect_any(&[pattern], timeout).await?.1)
    }

    /// Runs one command at the shell prompt; with `check`, its exit status must be 0.
    pub async fn command(
        &mut self,
        command: &str,
        prompt: &Regex,
        check: bool,
        timeout: Duration,
    ) -> Result<(), ConsoleError> {
        (self.transcript)(&format!("> {}", self.mask(command)));
        self.send_line(command).await?;
        self.expect(prompt, timeout).await?;
        if !check {
            return Ok(());
        }
        self.nonce += 1;
        let marker = format!("__ZW_RC_{}__", self.nonce);
        // The typed line shows `$?`, the output a number: only the output matches.
        let re = Regex::new(&format!(r"{marker}=(\d+)")).expect("a fixed pattern");
        self.send_line(&format!("echo {marker}=$?")).await?;
        let caps = self.expect(&re, timeout).await?;
        self.expect(prompt, timeout).await?;
        let code: i64 = caps.get(1).and_then(|c| c.parse().ok()).unwrap_or(-1);
        if code != 0 {
            return Err(ConsoleError::Step(format!(
                "command {:?} exited with {code}",
                self.mask(command)
            )));
        }
        Ok(())
    }
}

/// Quotes `s` for a POSIX shell: `'...'`, with `'` as `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell lines that write `content` to `path` in the guest: `printf` with the content as
/// its format (`%`, `\` escaped, newlines as `\n`), cut into pieces a terminal line accepts.
pub fn template_commands(path: &str, content: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    for c in content.chars() {
        match c {
            '\n' => cur.push_str(r"\n"),
            '\t' => cur.push_str(r"\t"),
            '\\' => cur.push_str(r"\\"),
            '%' => cur.push_str("%%"),
            c => cur.push(c),
        }
        if cur.len() > 400 {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() || pieces.is_empty() {
        pieces.push(cur);
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let redirect = if i == 0 { ">" } else { ">>" };
            format!("printf {} {redirect} {}", sh_quote(p), sh_quote(path))
        })
        .collect()
}

/// Who to log in as.
pub struct Login {
    pub username: String,
    pub password: Option<String>,
}

/// Runs a recipe on a console: attach (waking the console with Enter until a prompt shows),
/// log in, run the steps (already substituted), log out.
pub async fn run_recipe<S: AsyncRead + AsyncWrite + Unpin>(
    con: &mut Console<'_, S>,
    recipe: &RecipeBody,
    steps: &[Step],
    login: &Login,
) -> Result<(), ConsoleError> {
    let field = |e: crate::http::error::ApiError| ConsoleError::Step(e.message);
    let total = Duration::from_secs(recipe.timeout_seconds);
    let deadline = Instant::now() + total;
    let left = || deadline.saturating_duration_since(Instant::now());
    let shell = compile("shell_prompt", &recipe.shell_prompt).map_err(field)?;
    let login_re = recipe
        .login_prompt
        .as_deref()
        .map(|p| compile("login_prompt", p))
        .transpose()
        .map_err(field)?;
    let password_re = recipe
        .password_prompt
        .as_deref()
        .map(|p| compile("password_prompt", p))
        .transpose()
        .map_err(field)?;
    let boot_re = recipe
        .boot_string
        .as_deref()
        .map(|p| compile("boot_string", p))
        .transpose()
        .map_err(field)?;
    let incorrect = Regex::new(r"(?i)login incorrect").expect("fixed");

    // Attach: the banner may be long gone (a zone that was already running), so wake the
    // console with Enter soon after attaching, then now and then.
    let mut nudge = Duration::from_millis(500).min(total);
    let mut boot_seen = boot_re.is_none();
    let mut logged_in = false;
    loop {
        let mut pats: Vec<&Regex> = Vec::new();
        if let Some(b) = &boot_re {
            if !boot_seen {
                pats.push(b);
            }
        }
        if let Some(l) = &login_re {
            pats.push(l);
        }
        pats.push(&shell);
        let wait = nudge.min(left());
        if wait.is_zero() {
            return Err(ConsoleError::Timeout {
                pattern: pats
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
                waited_secs: total.as_secs(),
                tail: con.tail(),
            });
        }
        match con.expect_any(&pats, wait).await {
            Ok((i, _)) => {
                let re = pats[i];
                if boot_re.as_ref().is_some_and(|b| std::ptr::eq(b, re)) {
                    boot_seen = true;
                    continue;
                }
                if std::ptr::eq(re, &shell) {
                    logged_in = true;
                }
                break;
            }
            Err(ConsoleError::Timeout { .. }) => {
                con.send_raw("\r").await?;
                nudge = Duration::from_secs(3).min(total);
            }
            Err(e) => return Err(e),
        }
    }
    if !logged_in {
        (con.transcript)(&format!("> {}", login.username));
        con.send_line(&login.username).await?;
        let mut pats: Vec<&Regex> = vec![&shell];
        if let Some(p) = &password_re {
            pats.push(p);
        }
        let (i, _) = con.expect_any(&pats, left()).await?;
        if i == 1 {
            (con.transcript)("> ********");
            con.send_line(login.password.as_deref().unwrap_or(""))
                .await?;
            let mut after: Vec<&Regex> = vec![&shell, &incorrect];
            if let Some(l) = &login_re {
                after.push(l);
            }
            let (j, _) = con.expect_any(&after, left()).await?;
            if j != 0 {
                return Err(ConsoleError::Step(format!(
                    "console login as {} was refused",
                    login.username
                )));
            }
        }
    }
    for (n, step) in steps.iter().enumerate() {
        let limit = |t: Option<u64>| t.map_or(left(), |s| Duration::from_secs(s).min(left()));
        let r = match step {
            Step::Wait {
                pattern,
                timeout_seconds,
            } => {
                let re = compile("pattern", pattern).map_err(field)?;
                con.expect(&re, limit(*timeout_seconds)).await.map(drop)
            }
            Step::Send { text } => {
                (con.transcript)(&format!("> {}", con.mask(text)));
                con.send_line(text).await
            }
            Step::Command {
                command,
                check_exit_code,
                timeout_seconds,
            } => {
                con.command(command, &shell, *check_exit_code, limit(*timeout_seconds))
                    .await
            }
            Step::Template { path, content } => {
                let mut r = Ok(());
                for line in template_commands(path, content) {
                    r = con.command(&line, &shell, true, left()).await;
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
            Step::Delay { seconds } => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(*seconds).min(left())) => Ok(()),
                    _ = con.cancel.cancelled() => Err(ConsoleError::Cancelled),
                }
            }
        };
        r.map_err(|e| match e {
            ConsoleError::Cancelled => e,
            other => ConsoleError::Step(format!("step {} failed: {other}", n + 1)),
        })?;
    }
    // Log out so the console is left at a login prompt, not a root shell.
    if login_re.is_some() {
        con.send_line("exit").await?;
        let _ = con
            .expect_any(
                &login_re.iter().collect::<Vec<_>>(),
                Duration::from_secs(5).min(left()),
            )
            .await;
    }
    con.flush_transcript();
    Ok(())
}

/// Variables available to every recipe, lowest precedence first: the recipe's defaults, then
/// what the agent derives, then `extra` layers in order (config, zone settings, request).
pub fn merge_vars(layers: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in layers {
        for (k, v) in l.iter() {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncBufReadExt;

    #[test]
    fn escapes_are_stripped_even_when_cut_between_reads() {
        let mut s = Stripper::default();
        let a = s.feed(b"\x1b[1;32mlog");
        let b = s.feed(b"in:\x1b[0");
        let c = s.feed(b"m \r\n\x1b]0;title\x07ok\x1b(B!");
        assert_eq!(format!("{a}{b}{c}"), "login: \nok!");
    }

    #[test]
    fn a_utf8_character_cut_between_reads_survives() {
        let mut s = Stripper::default();
        let e = "é".as_bytes();
        let a = s.feed(&[b'x', e[0]]);
        let b = s.feed(&[e[1], b'y']);
        assert_eq!(format!("{a}{b}"), "xéy");
    }

    #[test]
    fn templates_become_printf_lines_that_survive_quotes_and_percent() {
        let lines = template_commands("/etc/x", "a 'b' 100%\\n\n");
        assert_eq!(lines, [r"printf 'a '\''b'\'' 100%%\\n\n' > '/etc/x'"]);
        let long = "x".repeat(1000);
        let lines = template_commands("/f", &long);
        assert_eq!(lines.len(), 3);
        assert!(lines[1].ends_with(">> '/f'"));
    }

    /// A scripted guest on the other end of a duplex pipe: answers lines like a tiny console.
    async fn fake_guest(io: tokio::io::DuplexStream, password: &'static str) {
        let (r, mut w) = tokio::io::split(io);
        let mut lines = tokio::io::BufReader::new(r);
        w.write_all(b"\x1b[2J\x1b[HBooting...\r\n").await.unwrap();
        let mut state = 0;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if lines.read_until(b'\r', &mut buf).await.unwrap_or(0) == 0 {
                return;
            }
            let line = String::from_utf8_lossy(&buf).trim().to_string();
            let out = match (state, line.as_str()) {
                (0, "") => "\r\nz1 login: ".to_string(),
                (0, _) => {
                    state = 1;
                    "\r\nPassword: ".to_string()
                }
                (1, p) if p == password => {
                    state = 2;
                    "\r\n\x1b[01;32mroot@z1\x1b[00m:~# ".to_string()
                }
                (1, _) => {
                    state = 0;
                    "\r\nLogin incorrect\r\nz1 login: ".to_string()
                }
                (_, "exit") => {
                    state = 0;
                    "\r\nz1 login: ".to_string()
                }
                (_, l) if l.starts_with("echo __ZW_RC_") => {
                    let m = l
                        .trim_start_matches("echo ")
                        .replace("$?", if state == 3 { "1" } else { "0" });
                    state = 2;
                    format!("{l}\r\n{m}\r\nroot@z1:~# ")
                }
                (_, "false") => {
                    state = 3;
                    "false\r\nroot@z1:~# ".to_string()
                }
                (_, l) => format!("{l}\r\nroot@z1:~# "),
            };
            w.write_all(out.as_bytes()).await.unwrap();
        }
    }

    fn recipe(steps: serde_json::Value) -> RecipeBody {
        serde_json::from_value(serde_json::json!({"name": "t", "os_family": "linux",
            "timeout_seconds": 10, "steps": steps}))
        .unwrap()
    }

    #[tokio::test]
    async fn a_recipe_logs_in_runs_commands_and_masks_the_password() {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(fake_guest(theirs, "s3cret"));
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let note = move |l: &str| s2.lock().unwrap().push(l.to_owned());
        let mut con = Console::new(ours, CancellationToken::new(), vec!["s3cret".into()], &note);
        let r = recipe(serde_json::json!([{"type": "command", "command": "echo s3cret"}]));
        run_recipe(
            &mut con,
            &r,
            &r.steps,
            &Login {
                username: "root".into(),
                password: Some("s3cret".into()),
            },
        )
        .await
        .unwrap();
        let all = seen.lock().unwrap().join("\n");
        assert!(!all.contains("s3cret"), "{all}");
        assert!(all.contains("********"), "{all}");
        assert!(all.contains("__ZW_RC_1__=0"), "{all}");
    }

    #[tokio::test]
    async fn a_failing_command_fails_the_recipe() {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(fake_guest(theirs, "pw"));
        let note = |_: &str| {};
        let mut con = Console::new(ours, CancellationToken::new(), vec![], &note);
        let r = recipe(serde_json::json!([{"type": "command", "command": "false"}]));
        let err = run_recipe(
            &mut con,
            &r,
            &r.steps,
            &Login {
                username: "root".into(),
                password: Some("pw".into()),
            },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("exited with 1"), "{err}");
    }

    #[tokio::test]
    async fn a_wrong_password_is_reported() {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(fake_guest(theirs, "right"));
        let note = |_: &str| {};
        let mut con = Console::new(ours, CancellationToken::new(), vec![], &note);
        let r = recipe(serde_json::json!([]));
        let err = run_recipe(
            &mut con,
            &r,
            &r.steps,
            &Login {
                username: "root".into(),
                password: Some("wrong".into()),
            },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }

    /// A guest that never ends its line costs one bounded line: the transcript gets it cut and
    /// marked, and what follows is matched and logged as usual.
    #[tokio::test]
    async fn an_endless_console_line_is_cut_not_kept() {
        const FLOOD: usize = 16 * 1024 * 1024;
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let chunk = vec![b'y'; 64 * 1024];
            for _ in 0..FLOOD / chunk.len() {
                theirs.write_all(&chunk).await.unwrap();
            }
            theirs.write_all(b"\r\nready\r\n").await.unwrap();
            // Keep the console open until the reader is done.
            let mut sink = [0u8; 16];
            let _ = theirs.read(&mut sink).await;
        });
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let note = move |l: &str| s2.lock().unwrap().push(l.to_owned());
        let mut con = Console::new(ours, CancellationToken::new(), vec![], &note);
        let re = Regex::new("ready").unwrap();
        con.expect(&re, Duration::from_secs(60)).await.unwrap();
        con.flush_transcript();
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.len(),
            2,
            "{:?}",
            seen.iter().map(|l| l.len()).collect::<Vec<_>>()
        );
        let dropped = FLOOD - transcript::MAX_LINE_BYTES;
        assert_eq!(
            seen[0],
            format!(
                "console: {} [line cut: {dropped} more bytes dropped]",
                "y".repeat(transcript::MAX_LINE_BYTES)
            )
        );
        assert_eq!(seen[1], "console: ready");
    }

    #[tokio::test]
    async fn a_wait_times_out_with_the_last_output_and_cancel_stops_it() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        theirs
            .write_all(b"\x1b[31mnothing useful\x1b[0m")
            .await
            .unwrap();
        let note = |_: &str| {};
        let cancel = CancellationToken::new();
        let mut con = Console::new(ours, cancel.clone(), vec![], &note);
        let re = Regex::new("ready").unwrap();
        let err = con
            .expect(&re, Duration::from_millis(100))
            .await
            .unwrap_err();
        match err {
            ConsoleError::Timeout { tail, .. } => assert_eq!(tail, "nothing useful"),
            other => panic!("{other:?}"),
        }
        cancel.cancel();
        let err = con.expect(&re, Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(err, ConsoleError::Cancelled));
        drop(theirs);
    }
}
