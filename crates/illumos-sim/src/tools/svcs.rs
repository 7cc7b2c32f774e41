//! `svcs`: instance listing (`-H -o`, `-a`, sort), `-l` details and `-x` explanations.
//! Columns are left-justified to fixed widths, one space between.

use super::{smf, svcs_rel};
use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::state::Service;
use crate::timefmt;

const COLS: &[(&str, usize)] = &[
    ("CTID", 6),
    ("DESC", 40),
    ("FMRI", 50),
    ("INST", 14),
    ("N", 1),
    ("NSTA", 4),
    ("NSTATE", 14),
    ("S", 1),
    ("SCOPE", 8),
    ("SN", 2),
    ("STA", 4),
    ("STATE", 14),
    ("STIME", 8),
    ("SVC", 40),
    ("ZONE", 16),
];

fn abbrev(state: &str) -> &'static str {
    match state {
        "online" => "ON",
        "offline" => "OFF",
        "disabled" => "DIS",
        "maintenance" => "MNT",
        "degraded" => "DGD",
        "uninitialized" => "UN",
        "legacy_run" => "LRC",
        _ => "?",
    }
}

fn cell(col: &str, fmri: &str, s: &Service, now: u64) -> String {
    let star = if s.next_state.is_some() { "*" } else { "" };
    match col {
        "CTID" => {
            if s.state == "online" || s.state == "degraded" {
                svcs_rel::ctid(fmri, s).to_string()
            } else {
                "-".into()
            }
        }
        "DESC" => s.desc.clone(),
        "FMRI" => fmri.into(),
        "INST" => fmri.rsplit(':').next().unwrap_or_default().into(),
        "N" => s
            .next_state
            .as_deref()
            .map_or("-", |n| &abbrev(n)[..1])
            .into(),
        "NSTA" => s.next_state.as_deref().map_or("-", abbrev).into(),
        "NSTATE" => s.next_state.clone().unwrap_or_else(|| "-".into()),
        "S" => format!("{}{star}", &abbrev(&s.state)[..1]),
        "SCOPE" => "localhost".into(),
        "SN" => format!(
            "{}{}",
            &abbrev(&s.state)[..1],
            s.next_state.as_deref().map_or("-", |n| &abbrev(n)[..1])
        ),
        "STA" => format!("{}{star}", abbrev(&s.state)),
        "STATE" => format!("{}{star}", s.state),
        "STIME" => timefmt::svcs_stime(s.stime, now),
        "SVC" => smf::svc_part(fmri)
            .strip_prefix("svc:/")
            .unwrap_or_default()
            .into(),
        _ => "global".into(),
    }
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    smf::settle(cx);
    let o = match getopt(args, "aHpvo:s:S:lLxdDZz:R:?", &[]) {
        Ok(o) => o,
        Err(_) => {
            cx.errln("Usage: svcs [-aHpv] [-o col[,col]...] [-R FMRI-instance] [-sS col] [-Z | -z zone ]\n\t[<service> ...]");
            return 2;
        }
    };
    let mut rc = 0;
    let mut fmris: Vec<String> = Vec::new();
    for pat in &o.operands {
        let hits = smf::resolve(cx, pat);
        if hits.is_empty() {
            cx.errln(&format!(
                "svcs: Pattern '{pat}' doesn't match any instances"
            ));
            rc = 1;
        }
        for h in hits {
            if !fmris.contains(&h) {
                fmris.push(h);
            }
        }
    }
    if o.operands.is_empty() {
        fmris = cx
            .st
            .services
            .iter()
            .filter(|(_, s)| {
                o.has('a')
                    || s.effective_enabled()
                    || s.next_state.is_some()
                    || s.state == "maintenance"
            })
            .map(|(f, _)| f.clone())
            .collect();
    }
    if o.has('d') || o.has('D') {
        fmris = svcs_rel::related(cx, &fmris, o.has('D'));
    }
    let now = timefmt::now_secs();
    if o.has('l') {
        for (i, f) in fmris.iter().enumerate() {
            let s = cx.st.services[f].clone();
            if i > 0 {
                cx.outln("");
            }
            let lines = [
                ("fmri", f.clone()),
                ("name", s.desc.clone()),
                (
                    "enabled",
                    format!(
                        "{}{}",
                        s.effective_enabled(),
                        if s.temp_enabled.is_some() {
                            " (temporary)"
                        } else {
                            ""
                        }
                    ),
                ),
                ("state", s.state.clone()),
                (
                    "next_state",
                    s.next_state.clone().unwrap_or_else(|| "none".into()),
                ),
                ("state_time", timefmt::ctime(s.stime)),
                (
                    "logfile",
                    format!(
                        "/var/svc/log/{}.log",
                        f.strip_prefix("svc:/").unwrap_or(f).replace('/', "-")
                    ),
                ),
                ("restarter", "svc:/system/svc/restarter:default".into()),
            ];
            let more = svcs_rel::long_lines(cx, f, &s);
            let lines = lines.into_iter().map(|(k, v)| (k.to_owned(), v));
            for (k, v) in lines.chain(more) {
                cx.outln(&format!("{k:<12} {v}"));
            }
        }
        return rc;
    }
    if o.has('x') {
        let list: Vec<String> = if o.operands.is_empty() {
            fmris
                .iter()
                .filter(|f| cx.st.services[*f].state == "maintenance")
                .cloned()
                .collect()
        } else {
            fmris.clone()
        };
        for f in list {
            let s = cx.st.services[&f].clone();
            cx.outln(&format!("{f} ({})", s.desc));
            cx.outln(&format!(
                " State: {} since {}",
                s.state,
                timefmt::ctime(s.stime)
            ));
            let (reason, impact) = match s.state.as_str() {
                "maintenance" => (
                    "Start method exited with $SMF_EXIT_ERR_FATAL.",
                    "This service is not running.",
                ),
                "disabled" => (
                    "Disabled by an administrator.",
                    "This service is not running.",
                ),
                _ => ("", "None."),
            };
            if !reason.is_empty() {
                cx.outln(&format!("Reason: {reason}"));
                cx.outln("   See: http://illumos.org/msg/SMF-8000-KS");
            }
            cx.outln(&format!(
                "   See: /var/svc/log/{}.log",
                f.strip_prefix("svc:/").unwrap_or(&f).replace('/', "-")
            ));
            cx.outln(&format!("Impact: {impact}"));
            cx.outln("");
        }
        return rc;
    }
    let cols: Vec<String> = o
        .val('o')
        .unwrap_or("state,stime,fmri")
        .split(',')
        .map(|c| c.trim().to_uppercase())
        .collect();
    if let Some(bad) = cols.iter().find(|c| !COLS.iter().any(|(n, _)| n == c)) {
        cx.errln(&format!(
            "svcs: Unrecognized column \"{}\".",
            bad.to_lowercase()
        ));
        return 2;
    }
    let sort_col = o.val('s').or(o.val('S')).map(str::to_uppercase);
    let mut rows: Vec<(String, Vec<String>, Vec<String>)> = fmris
        .iter()
        .map(|f| {
            let s = &cx.st.services[f];
            let key = match &sort_col {
                Some(c) => cell(c, f, s, now),
                None => format!("{:020}{f}", s.stime),
            };
            let procs = if o.has('p') {
                svcs_rel::process_lines(f, s)
            } else {
                Vec::new()
            };
            (
                key,
                cols.iter().map(|c| cell(c, f, s, now)).collect(),
                procs,
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if o.val('S').is_some() {
        rows.reverse();
    }
    let width = |c: &str| COLS.iter().find(|(n, _)| *n == c).map_or(10, |(_, w)| *w);
    let line = |vals: &[String]| -> String {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if i + 1 == vals.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{:<w$} ", v, w = width(&cols[i])));
            }
        }
        s
    };
    if !o.has('H') {
        cx.outln(&line(&cols));
    }
    for (_, r, procs) in rows {
        cx.outln(&line(&r));
        for p in procs {
            cx.outln(&p);
        }
    }
    rc
}
