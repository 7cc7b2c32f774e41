//! Stand-ins for the host's power tools (illumos-gate man8 shutdown, reboot, halt, init;
//! man1 who): each checks its options as the man page gives them, records the request in the
//! emulated state and changes the emulated run level (a reboot also moves the boot time). The
//! machine the emulator runs on is never touched.

use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::timefmt;

const LEVELS: &str = "0123456Ss";

fn usage(cx: &mut Ctx, text: &str) -> i32 {
    cx.errln(text);
    2
}

/// Records the request and moves to `level` ("6" reboots: the machine comes back at 3).
fn apply(cx: &mut Ctx, args: &[String], level: &str) {
    let mut argv = vec![cx.tool.clone()];
    argv.extend(args.iter().cloned());
    cx.st.power.requests.push(argv);
    if level == "6" {
        cx.st.power.runlevel = "3".into();
        cx.st.system.boot_time = timefmt::now_secs();
        // The boot takes its node name from /etc/nodename (nodename(5)).
        if let Some(name) = super::system::boot_nodename(&cx.host) {
            cx.st.system.hostname = name;
        }
    } else {
        cx.st.power.runlevel = level.to_uppercase();
    }
    cx.touch();
}

fn current(cx: &Ctx) -> String {
    match cx.st.power.runlevel.as_str() {
        "" => "3".into(),
        l => l.to_owned(),
    }
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    match cx.tool.as_str() {
        "who" => who(cx, args),
        "shutdown" => shutdown(cx, args),
        "init" => match args {
            [l] if l.len() == 1 && LEVELS.contains(l.as_str()) => {
                apply(cx, args, l);
                0
            }
            _ => usage(cx, "Usage: init [0123456SsQqabc]"),
        },
        // reboot [-dlnqf] [-e environment] [boot_arguments]
        "reboot" => match getopt(args, "dlnqfpe:", &[]) {
            Ok(_) => {
                apply(cx, args, "6");
                0
            }
            Err(_) => usage(cx, "usage: reboot [-dlnqfp] [-e environment] [boot args]"),
        },
        // halt/poweroff [-dlnqy]
        tool => match getopt(args, "dlnqy", &[]) {
            Ok(o) if o.operands.is_empty() => {
                apply(cx, args, if tool == "poweroff" { "5" } else { "0" });
                0
            }
            _ => usage(cx, &format!("usage: {tool} [-dlnqy]")),
        },
    }
}

/// `shutdown [-y] [-g grace-period] [-i init-state] [message]`. Without `-y` it asks for
/// confirmation on the terminal; with no terminal the emulator refuses, as an unanswered
/// question would leave the real one waiting.
fn shutdown(cx: &mut Ctx, args: &[String]) -> i32 {
    const USE: &str = "Usage: shutdown [-y] [-g grace-period] [-i init-state] [message]";
    let Ok(o) = getopt(args, "yg:i:", &[]) else {
        return usage(cx, USE);
    };
    if let Some(g) = o.val('g') {
        if g.parse::<u32>().is_err() {
            return usage(cx, USE);
        }
    }
    let level = o.val('i').unwrap_or("S");
    if level.len() != 1 || !"0156Ss".contains(level) {
        cx.errln(&format!("shutdown: Bad init state {level}"));
        return usage(cx, USE);
    }
    if !o.has('y') {
        cx.errln("shutdown: no terminal to confirm on; use -y");
        return 1;
    }
    apply(cx, args, level);
    0
}

/// `who -r`: `   .       run-level 3  Dec  5 09:00     3      0  S`.
fn who(cx: &mut Ctx, args: &[String]) -> i32 {
    if args != ["-r"] {
        return usage(cx, "usage: who -r");
    }
    let level = current(cx);
    let t = timefmt::who_time(cx.st.system.boot_time);
    cx.outln(&format!(
        "   .       run-level {level}  {t}     {level}      0  S"
    ));
    0
}
