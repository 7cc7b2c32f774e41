//! `svcadm`: enable/disable (`-s` waits, `-t` temporary), restart, refresh, clear, mark.
//! Exit 1 on errors, 2 on usage, 3 when a `-s` wait ends in maintenance.

use super::smf;
use crate::ctx::Ctx;
use crate::timefmt;

const USAGE: &str = "Usage: svcadm [-v] [cmd [args ... ]]

\tsvcadm enable [-rst] <service> ...\t- enable and online service(s)
\tsvcadm disable [-st] <service> ...\t- disable and offline service(s)
\tsvcadm restart [-d] <service> ...\t- restart specified service(s)
\tsvcadm refresh <service> ...\t\t- re-read service configuration
\tsvcadm mark [-It] <state> <service> ...\t- set maintenance state
\tsvcadm clear <service> ...\t\t- clear maintenance state";

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    smf::settle(cx);
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += if matches!(args[i].as_str(), "-S" | "-z") {
            2
        } else {
            1
        };
    }
    let Some(sub) = args.get(i) else {
        cx.errln(USAGE);
        return 2;
    };
    let mut rest = &args[i + 1..];
    let mut flags = String::new();
    let mut mark_state = None;
    while let Some(a) = rest.first().filter(|a| a.starts_with('-') && a.len() > 1) {
        if a == "-c" {
            rest = &rest[2.min(rest.len())..];
            continue;
        }
        flags.push_str(&a[1..]);
        rest = &rest[1..];
    }
    if sub == "mark" {
        let Some((st, r)) = rest.split_first() else {
            cx.errln(USAGE);
            return 2;
        };
        if st != "maintenance" && st != "degraded" {
            cx.errln(USAGE);
            return 2;
        }
        mark_state = Some(st.clone());
        rest = r;
    }
    if !["enable", "disable", "restart", "refresh", "clear", "mark"].contains(&sub.as_str())
        || rest.is_empty()
    {
        cx.errln(USAGE);
        return 2;
    }
    let temp = flags.contains('t');
    let wait = flags.contains('s');
    let mut rc = 0;
    let mut waits = Vec::new();
    for pat in rest {
        let hits = smf::resolve(cx, pat);
        let fmri = match hits.as_slice() {
            [] => {
                cx.errln(&format!(
                    "svcadm: Pattern '{pat}' doesn't match any instances"
                ));
                rc = 1;
                continue;
            }
            [f] => f.clone(),
            many => {
                cx.errln(&format!(
                    "svcadm: Pattern '{pat}' matches multiple instances:"
                ));
                for m in many {
                    cx.errln(&format!("\t{m}"));
                }
                rc = 1;
                continue;
            }
        };
        match sub.as_str() {
            "enable" => {
                if let Some(s) = cx.st.services.get_mut(&fmri) {
                    if temp {
                        s.temp_enabled = Some(true);
                    } else {
                        s.enabled = true;
                        s.temp_enabled = None;
                    }
                }
                let st = cx.st.services[&fmri].state.clone();
                if st == "disabled" || st == "offline" && cx.st.services[&fmri].next_state.is_none()
                {
                    smf::bring_up(cx, &fmri);
                }
                cx.touch();
            }
            "disable" => {
                if let Some(s) = cx.st.services.get_mut(&fmri) {
                    if temp {
                        s.temp_enabled = Some(false);
                    } else {
                        s.enabled = false;
                        s.temp_enabled = None;
                    }
                }
                smf::bring_down(cx, &fmri);
            }
            "restart" => {
                let st = cx.st.services[&fmri].state.clone();
                if st == "online" || st == "degraded" {
                    smf::restart(cx, &fmri);
                }
            }
            "refresh" => smf::refresh(cx, &fmri),
            "clear" => {
                let s = &cx.st.services[&fmri];
                match s.state.as_str() {
                    "maintenance" if s.effective_enabled() => smf::bring_up(cx, &fmri),
                    "maintenance" => smf::bring_down(cx, &fmri),
                    "degraded" => {
                        if let Some(s) = cx.st.services.get_mut(&fmri) {
                            s.state = "online".into();
                            s.stime = timefmt::now_secs();
                        }
                        cx.touch();
                    }
                    _ => {}
                }
            }
            _ => {
                if let Some(s) = cx.st.services.get_mut(&fmri) {
                    s.state = mark_state.clone().unwrap_or_default();
                    s.next_state = None;
                    s.restarting = false;
                    s.stime = timefmt::now_secs();
                }
                cx.touch();
            }
        }
        if wait {
            waits.push(fmri);
        }
    }
    for fmri in waits {
        while let Some(s) = cx.st.services.get(&fmri).filter(|s| s.next_state.is_some()) {
            let ms = s.until_ms.saturating_sub(timefmt::now_ms()) + 1;
            cx.pause(ms);
            smf::settle(cx);
        }
        let state = cx
            .st
            .services
            .get(&fmri)
            .map(|s| s.state.clone())
            .unwrap_or_default();
        let want_on = sub == "enable";
        if want_on && state == "maintenance" {
            cx.errln(&format!(
                "svcadm: Instance \"{fmri}\" is in maintenance state."
            ));
            rc = 3;
        }
    }
    rc
}
