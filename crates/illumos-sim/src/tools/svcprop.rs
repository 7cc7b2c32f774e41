//! `svcprop [-c] [-t] [-q] [-p pg[/prop]]... FMRI`: reads the running snapshot (or, with
//! `-c`, the editing view), plus the framework properties general/enabled and restarter/*.

use std::collections::BTreeMap;

use super::smf;
use crate::ctx::Ctx;
use crate::state::Prop;

fn escape(v: &str) -> String {
    if v.is_empty() {
        return "\"\"".into();
    }
    let mut s = String::new();
    for c in v.chars() {
        if c.is_whitespace() || "\\\"'$;&|()<>*?`".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    smf::settle(cx);
    let (mut current, mut types, mut quiet, mut full) = (false, false, false, false);
    let mut wanted: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        match args[i].as_str() {
            "-p" => {
                wanted.push(args.get(i + 1).cloned().unwrap_or_default());
                i += 1;
            }
            "-c" => current = true,
            "-t" => types = true,
            "-q" => quiet = true,
            "-f" => full = true,
            "-C" | "-v" => {}
            "-s" | "-z" => i += 1,
            o => {
                cx.errln(&format!(
                    "svcprop: illegal option -- {}",
                    o.trim_start_matches('-')
                ));
                return 2;
            }
        }
        i += 1;
    }
    let Some(pat) = args.get(i) else {
        cx.errln("Usage: svcprop [-fqtv] [-C | -c | -s snapshot] [-z zone] [-p [name/]name]... {FMRI | pattern}...");
        return 2;
    };
    let hits = smf::resolve(cx, pat);
    let [fmri] = hits.as_slice() else {
        if !quiet {
            cx.errln(&format!(
                "svcprop: Pattern '{pat}' doesn't match any entities"
            ));
        }
        return 1;
    };
    let s = cx.st.services[fmri].clone();
    let mut props: BTreeMap<String, Prop> = if current {
        s.props.clone()
    } else {
        s.running.clone()
    };
    let p = |ty: &str, v: &str| Prop {
        ty: ty.into(),
        values: vec![v.into()],
    };
    props.insert(
        "general/enabled".into(),
        p("boolean", &s.enabled.to_string()),
    );
    props.insert("restarter/state".into(), p("astring", &s.state));
    props.insert(
        "restarter/next_state".into(),
        p("astring", s.next_state.as_deref().unwrap_or("none")),
    );
    props.insert(
        "restarter/state_timestamp".into(),
        p("time", &format!("{}.000000000", s.stime)),
    );
    if let Some(t) = s.temp_enabled {
        props.insert("general_ovr/enabled".into(), p("boolean", &t.to_string()));
    }
    let selected: Vec<(&String, &Prop)> = if wanted.is_empty() {
        props.iter().collect()
    } else {
        let mut v = Vec::new();
        for w in &wanted {
            let hits: Vec<(&String, &Prop)> = props
                .iter()
                .filter(|(k, _)| *k == w || k.starts_with(&format!("{w}/")))
                .collect();
            if hits.is_empty() {
                if !quiet {
                    cx.errln(&format!(
                        "svcprop: Couldn't find property \"{w}\" for instance \"{fmri}\"."
                    ));
                }
                return 1;
            }
            v.extend(hits);
        }
        v
    };
    if quiet {
        return 0;
    }
    let single = wanted.len() == 1 && wanted[0].contains('/') && !types;
    for (k, p) in selected {
        let vals: Vec<String> = p.values.iter().map(|v| escape(v)).collect();
        if single {
            cx.outln(&vals.join(" "));
        } else {
            let name = if full {
                format!("{fmri}/:properties/{k}")
            } else {
                k.clone()
            };
            cx.outln(format!("{name} {} {}", p.ty, vals.join(" ")).trim_end());
        }
    }
    0
}
