//! `zlogin -C`: the zone's serial console, behaving like a booting guest: boot banner, a
//! `login:` prompt, `Password:`, a shell prompt, echo of what is typed, a small command set,
//! and `~.` to disconnect. Everything shown is appended to the zone's transcript in the state,
//! so console recipes can be checked afterwards. The host lock is held only while the state
//! is read or written, never while waiting for input.

use std::io::{IsTerminal, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::ctx::Ctx;
use crate::guest::Guest;
use crate::state::ZoneState;

pub struct Opts {
    pub quiet: bool,
    pub detach_on_halt: bool,
    pub escape: char,
    /// `zlogin ZONE` on a terminal: straight to a shell (no login), gone when it exits or the
    /// zone halts.
    pub shell: bool,
}

#[derive(PartialEq)]
enum Phase {
    WaitBoot,
    Login,
    Password(String),
    Shell(String),
}

const TRANSCRIPT_MAX: usize = 64 * 1024;

/// Puts the terminal in raw mode (as zlogin does) and restores it when dropped.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter() -> RawMode {
        if !std::io::stdin().is_terminal() {
            return RawMode(None);
        }
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0, which is a terminal.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawMode(None);
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the settings read in `enter` on the same descriptor.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

struct Con<'a> {
    cx: &'a mut Ctx,
    zone: String,
    pending: String,
}

impl Con<'_> {
    fn say(&mut self, s: &str) {
        let s = s.replace("\r\n", "\n").replace('\n', "\r\n");
        let mut out = std::io::stdout();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
        self.pending.push_str(&s);
    }

    /// Appends what was shown to the transcript (briefly taking the lock) and returns the
    /// zone's current state.
    fn sync(&mut self) -> Option<(ZoneState, bool)> {
        self.cx.relock();
        let text = std::mem::take(&mut self.pending).replace('\r', "");
        let z = self.cx.st.zones.get_mut(&self.zone)?;
        let changed = !text.is_empty();
        if changed {
            z.guest.transcript.push_str(&text);
            let len = z.guest.transcript.len();
            if len > TRANSCRIPT_MAX {
                let mut cut = len - TRANSCRIPT_MAX;
                while !z.guest.transcript.is_char_boundary(cut) {
                    cut += 1;
                }
                z.guest.transcript.drain(..cut);
            }
        }
        let r = (z.state, z.guest.banner_shown);
        if changed {
            self.cx.touch();
        }
        self.cx.unlock();
        Some(r)
    }

    fn mark_banner(&mut self) {
        self.cx.relock();
        if let Some(z) = self.cx.st.zones.get_mut(&self.zone) {
            z.guest.banner_shown = true;
            self.cx.touch();
        }
        self.cx.unlock();
    }

    fn password_ok(&mut self, pw: &str) -> bool {
        self.cx.relock();
        let want = self.cx.st.zones.get(&self.zone).and_then(|z| {
            z.cfg
                .resources
                .iter()
                .find(|r| r.kind == "attr" && r.get("name") == Some("password"))
                .and_then(|r| r.get("value").map(String::from))
        });
        self.cx.unlock();
        want.is_none_or(|w| w == pw)
    }

    fn shell(&mut self, line: &str, last: &mut i32) -> (String, bool) {
        self.cx.relock();
        let zone = self.zone.clone();
        let Some(z) = self.cx.st.zones.get_mut(&zone) else {
            self.cx.unlock();
            return (String::new(), true);
        };
        let mut g = Guest {
            files: &mut z.guest.files,
            hostname: zone,
            last: *last,
            dirty: false,
        };
        let o = g.run(line);
        *last = o.status;
        if g.dirty {
            self.cx.touch();
        }
        self.cx.unlock();
        (o.out, o.exit)
    }
}

fn banner(zone: &str) -> String {
    format!(
        "\nBdsDxe: loading Boot0001 \"UEFI BHYVE NVMe disk\"\n\
         [    0.000000] Linux version 6.1.0-sim (illumos-sim guest)\n\
         [    0.734211] Run /sbin/init as init process\n\
         [  OK  ] Reached target Multi-User System.\n\n\
         Welcome to the emulated guest of zone {zone}.\n\n{zone} login: "
    )
}

pub fn run(cx: &mut Ctx, zone: &str, o: Opts) -> i32 {
    cx.flush_output();
    let _raw = RawMode::enter();
    let what = if o.shell { "pts/1" } else { "console" };
    if !o.quiet {
        let _ = write!(std::io::stdout(), "[Connected to zone '{zone}' {what}]\r\n");
        let _ = std::io::stdout().flush();
    }
    cx.unlock();
    let (tx, rx) = mpsc::channel::<Option<u8>>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut b = [0u8; 1];
        loop {
            match stdin.read(&mut b) {
                Ok(1) => {
                    if tx.send(Some(b[0])).is_err() {
                        break;
                    }
                }
                _ => {
                    let _ = tx.send(None);
                    break;
                }
            }
        }
    });
    let mut con = Con {
        cx,
        zone: zone.to_string(),
        pending: String::new(),
    };
    let mut phase = Phase::WaitBoot;
    let mut line = String::new();
    let mut at_line_start = true;
    let mut saw_escape = false;
    let mut last = 0;
    let mut was_running = false;
    if o.shell {
        con.say(&format!("root@{zone}:~# "));
        phase = Phase::Shell("root".into());
        was_running = true;
    }
    loop {
        if phase == Phase::WaitBoot || !was_running {
            let Some((state, banner_shown)) = con.sync() else {
                break;
            };
            if state == ZoneState::Running {
                if !banner_shown {
                    con.say(&banner(zone));
                    con.mark_banner();
                }
                phase = Phase::Login;
                was_running = true;
            }
        }
        let byte = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Notice a halt while attached.
                if was_running {
                    match con.sync() {
                        Some((ZoneState::Running, _)) => {}
                        Some(_) => {
                            con.say("\n[NOTICE: Zone halted]\n");
                            if o.detach_on_halt || o.shell {
                                break;
                            }
                            was_running = false;
                            phase = Phase::WaitBoot;
                        }
                        None => break,
                    }
                }
                continue;
            }
            Err(_) => break,
        };
        let c = byte as char;
        if saw_escape {
            saw_escape = false;
            if c == '.' {
                break;
            }
        } else if at_line_start && c == o.escape {
            saw_escape = true;
            continue;
        }
        if phase == Phase::WaitBoot {
            at_line_start = c == '\r' || c == '\n';
            continue;
        }
        match c {
            '\r' | '\n' => {
                at_line_start = true;
                let input = std::mem::take(&mut line);
                phase = match std::mem::replace(&mut phase, Phase::WaitBoot) {
                    Phase::Login => {
                        if input.is_empty() {
                            con.say(&format!("\n{zone} login: "));
                            Phase::Login
                        } else {
                            con.say("\nPassword: ");
                            Phase::Password(input)
                        }
                    }
                    Phase::Password(user) => {
                        if con.password_ok(&input) {
                            let sign = if user == "root" { '#' } else { '$' };
                            con.say(&format!("\nLast login: on ttyS0\n{user}@{zone}:~{sign} "));
                            Phase::Shell(user)
                        } else {
                            con.say(&format!("\n\nLogin incorrect\n{zone} login: "));
                            Phase::Login
                        }
                    }
                    Phase::Shell(user) => {
                        con.say("\n");
                        let (out, exit) = con.shell(&input, &mut last);
                        con.say(&out);
                        if exit && o.shell {
                            break;
                        } else if exit {
                            con.say(&format!("\n{zone} login: "));
                            Phase::Login
                        } else {
                            let sign = if user == "root" { '#' } else { '$' };
                            con.say(&format!("{user}@{zone}:~{sign} "));
                            Phase::Shell(user)
                        }
                    }
                    Phase::WaitBoot => Phase::WaitBoot,
                };
                let _ = con.sync();
            }
            // Backspace: the guard erases (also while typing a password, which is not echoed).
            '\x7f' | '\x08' if line.pop().is_some() && !matches!(phase, Phase::Password(_)) => {
                con.say("\x08 \x08");
            }
            '\x03' => {
                line.clear();
                con.say("^C\n");
                if let Phase::Shell(user) = &phase {
                    let sign = if user == "root" { '#' } else { '$' };
                    let p = format!("{user}@{zone}:~{sign} ");
                    con.say(&p);
                }
            }
            c if !c.is_control() => {
                at_line_start = false;
                line.push(c);
                if !matches!(phase, Phase::Password(_)) {
                    con.say(&c.to_string());
                }
            }
            _ => {}
        }
    }
    if !o.quiet {
        con.say(&format!("\n[Connection to zone '{zone}' {what} closed]\n"));
    }
    let _ = con.sync();
    con.cx.relock();
    0
}
