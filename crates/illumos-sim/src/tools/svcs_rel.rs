//! What `svcs` says of an instance's relations: its dependencies (`-d`), dependents (`-D`),
//! the `contract_id` and `dependency` lines of `-l`, and the processes of `-p` (one indented
//! line per process after the instance's line: STIME, PID right-justified to 6, command).

use super::smf;
use crate::ctx::Ctx;
use crate::state::Service;
use crate::timefmt;

/// The instances the given ones depend on (`dependents` false) or that depend on them.
pub fn related(cx: &Ctx, fmris: &[String], dependents: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in fmris {
        let svc = smf::svc_part(f);
        let hits = cx.st.services.iter().filter(|(other, s)| {
            if dependents {
                s.deps.iter().any(|d| d == svc || d == f)
            } else {
                let deps = &cx.st.services[f].deps;
                deps.iter()
                    .any(|d| d == smf::svc_part(other) || d == *other)
            }
        });
        for (other, _) in hits {
            if !out.contains(other) {
                out.push(other.clone());
            }
        }
    }
    out
}

/// A stable contract id and process ids for an online instance.
pub fn ctid(fmri: &str, s: &Service) -> u64 {
    // Each start is a new contract (an instance seeded online has the first).
    fmri.bytes()
        .fold(17u64, |h, b| (h * 31 + u64::from(b)) % 997)
        + 20
        + 1000 * s.starts
}

/// `svcs -l` lines after the common ones: the contract of an online instance and one
/// `dependency` line per service it requires, with that service's state.
pub fn long_lines(cx: &Ctx, fmri: &str, s: &Service) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if (s.state == "online" || s.state == "degraded") && !s.procs.is_empty() {
        out.push(("contract_id".into(), ctid(fmri, s).to_string()));
    }
    for d in &s.deps {
        let state = cx
            .st
            .services
            .iter()
            .find(|(f, _)| smf::svc_part(f) == d || *f == d)
            .map_or("absent", |(_, t)| t.state.as_str());
        out.push((
            "dependency".into(),
            format!("require_all/none {d} ({state})"),
        ));
    }
    out
}

/// `svcs -p` lines for one instance: its processes while it is online.
pub fn process_lines(fmri: &str, s: &Service) -> Vec<String> {
    if s.state != "online" {
        return Vec::new();
    }
    let now = timefmt::now_secs();
    s.procs
        .iter()
        .enumerate()
        .map(|(i, cmd)| {
            let pid = ctid(fmri, s) * 11 + i as u64 + 100;
            format!(
                "{:15}{:<8} {:>6} {cmd}",
                "",
                timefmt::svcs_stime(s.stime, now),
                pid
            )
        })
        .collect()
}
