//! `zlogin`: run a command in the zone's emulated guest (returning its status), or attach
//! to the zone console with `-C` (see console.rs).

use super::console;
use crate::ctx::Ctx;
use crate::guest::Guest;
use crate::state::ZoneState;

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let (mut console_mode, mut quiet, mut detach_on_halt) = (false, false, false);
    let mut escape = '~';
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') && args[i].len() > 1 {
        let a = &args[i];
        let mut chars = a[1..].chars();
        while let Some(c) = chars.next() {
            match c {
                'C' => console_mode = true,
                'Q' => quiet = true,
                'd' => detach_on_halt = true,
                'E' | 'I' | 'N' | 'S' | 'i' | 'n' => {}
                'e' | 'l' => {
                    let rest: String = chars.by_ref().collect();
                    let v = if rest.is_empty() {
                        i += 1;
                        args.get(i).cloned().unwrap_or_default()
                    } else {
                        rest
                    };
                    if c == 'e' {
                        escape = v.chars().next().unwrap_or('~');
                    }
                }
                _ => {
                    cx.errln("usage: zlogin [ -dnCEINQS ] [ -e cmdchar ] [-l user] zonename [command [arg ...]]");
                    return 2;
                }
            }
        }
        i += 1;
    }
    let Some(zone) = args.get(i).cloned() else {
        cx.errln(
            "usage: zlogin [ -dnCEINQS ] [ -e cmdchar ] [-l user] zonename [command [arg ...]]",
        );
        return 2;
    };
    let cmd = &args[i + 1..];
    if zone == "global" {
        cx.errln("zlogin: 'zlogin' not applicable to the global zone");
        return 1;
    }
    let Some(state) = cx.st.zones.get(&zone).map(|z| z.state) else {
        cx.errln(&format!("zlogin: zone '{zone}' unknown"));
        return 1;
    };
    if console_mode {
        if !cmd.is_empty() {
            cx.errln("zlogin: Commands may not be specified for console login.");
            return 1;
        }
        if matches!(state, ZoneState::Configured | ZoneState::Incomplete) {
            cx.errln(&format!(
                "zlogin: cannot connect to the console of a zone which is '{}'",
                state.as_str()
            ));
            return 1;
        }
        return console::run(
            cx,
            &zone,
            console::Opts {
                quiet,
                detach_on_halt,
                escape,
                shell: false,
            },
        );
    }
    match state {
        ZoneState::Running => {}
        ZoneState::Configured | ZoneState::Incomplete => {
            cx.errln(&format!(
                "zlogin: cannot login to a zone which is '{}'",
                state.as_str()
            ));
            return 1;
        }
        s => {
            cx.errln(&format!(
                "zlogin: login allowed only to running zones ({zone} is '{}').",
                s.as_str()
            ));
            return 1;
        }
    }
    if cmd.is_empty() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return console::run(
            cx,
            &zone,
            console::Opts {
                quiet,
                detach_on_halt: true,
                escape,
                shell: true,
            },
        );
    }
    let line = if cmd.is_empty() {
        use std::io::Read;
        let mut t = String::new();
        let _ = std::io::stdin().read_to_string(&mut t);
        t
    } else {
        cmd.join(" ")
    };
    let z = cx.st.zones.get_mut(&zone).expect("checked above");
    let mut g = Guest {
        files: &mut z.guest.files,
        hostname: zone.clone(),
        last: 0,
        dirty: false,
    };
    let mut status = 0;
    let mut out = String::new();
    for l in line.lines() {
        let o = g.run(l);
        out.push_str(&o.out);
        status = o.status;
        if o.exit {
            break;
        }
    }
    let dirty = g.dirty;
    if dirty {
        cx.touch();
    }
    cx.out(&out);
    status
}
