//! `svccfg -s FMRI subcommand`: property editing (setprop/addpg/delpg/delprop/addpropvalue/
//! delpropvalue), listprop and refresh. Like the real svccfg, the argv after `-s FMRI` is
//! joined and re-lexed, so values with blanks must be quoted. Changes land in the editing
//! view; `refresh` makes them the running snapshot.

use super::smf;
use crate::ctx::Ctx;
use crate::state::{Prop, Service};

const TYPES: &[&str] = &[
    "astring",
    "ustring",
    "boolean",
    "count",
    "integer",
    "time",
    "fmri",
    "host",
    "hostname",
    "net_address",
    "net_address_v4",
    "net_address_v6",
    "opaque",
    "uri",
];

/// Words, `"quoted strings"` (backslash escapes), and `(`, `)` as their own tokens.
fn lex(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.extend(chars.next()),
                        Some(x) => cur.push(x),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '(' | ')' => {
                if !cur.is_empty() || quoted {
                    out.push(std::mem::take(&mut cur));
                    quoted = false;
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() || quoted {
                    out.push(std::mem::take(&mut cur));
                    quoted = false;
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() || quoted {
        out.push(cur);
    }
    Ok(out)
}

fn check_value(ty: &str, v: &str) -> bool {
    match ty {
        "boolean" => v == "true" || v == "false",
        "count" => v.parse::<u64>().is_ok(),
        "integer" => v.parse::<i64>().is_ok(),
        "net_address_v4" => v.parse::<std::net::Ipv4Addr>().is_ok(),
        _ => true,
    }
}

pub fn quote_value(v: &str) -> String {
    if v.is_empty() || v.contains(char::is_whitespace) || v.contains('"') {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        v.to_string()
    }
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    smf::settle(cx);
    let mut fmri_arg = None;
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        match args[i].as_str() {
            "-s" => {
                fmri_arg = args.get(i + 1).cloned();
                i += 2;
            }
            "-v" => i += 1,
            _ => {
                cx.errln(&format!(
                    "svccfg: illegal option -- {}",
                    args[i].trim_start_matches('-')
                ));
                return 2;
            }
        }
    }
    let Some(pat) = fmri_arg else {
        cx.errln("svccfg: no selection (use -s FMRI)");
        return 1;
    };
    let hits = smf::resolve(cx, &pat);
    let fmri = match hits.as_slice() {
        [f] => f.clone(),
        [] => {
            cx.errln(&format!(
                "svccfg: Pattern '{pat}' doesn't match any instances or services"
            ));
            return 1;
        }
        _ => {
            cx.errln(&format!(
                "svccfg: Pattern '{pat}' matches multiple instances or services"
            ));
            return 1;
        }
    };
    let toks = match lex(&args[i..].join(" ")) {
        Ok(t) => t,
        Err(e) => {
            cx.errln(&format!("svccfg: {e}"));
            return 1;
        }
    };
    let Some((cmd, rest)) = toks.split_first() else {
        cx.errln("svccfg: interactive mode is not emulated; give a subcommand");
        return 1;
    };
    let r = match cmd.as_str() {
        "setprop" => setprop(cx, &fmri, rest),
        "addpropvalue" => addpropvalue(cx, &fmri, rest),
        "delpropvalue" => delpropvalue(cx, &fmri, rest),
        "delprop" => delprop(cx, &fmri, rest),
        "addpg" => addpg(cx, &fmri, rest),
        "delpg" => delpg(cx, &fmri, rest),
        "listprop" => {
            listprop(cx, &fmri, rest.first().map(String::as_str));
            Ok(())
        }
        "listpg" => {
            let s = cx.st.services[&fmri].clone();
            for (pg, ty) in &s.pgs {
                cx.outln(&format!("{pg:<15} {ty}"));
            }
            Ok(())
        }
        "refresh" => {
            smf::refresh(cx, &fmri);
            Ok(())
        }
        _ => {
            cx.errln(&format!("svccfg: Unknown command \"{cmd}\"."));
            return 2;
        }
    };
    match r {
        Ok(()) => {
            cx.touch();
            0
        }
        Err(e) => {
            cx.errln(&format!("svccfg: {e}"));
            1
        }
    }
}

fn svc<'a>(cx: &'a mut Ctx, fmri: &str) -> &'a mut Service {
    cx.st.services.get_mut(fmri).expect("resolved FMRI")
}

/// `[type:] value` or `[type:] ( values... )`.
fn typed_values(rest: &[String]) -> Result<(Option<String>, Vec<String>), String> {
    let mut it = rest.iter().peekable();
    let mut ty = None;
    if let Some(t) = it.peek() {
        if let Some(tn) = t.strip_suffix(':') {
            if !TYPES.contains(&tn) {
                return Err(format!("Unknown type \"{tn}\"."));
            }
            ty = Some(tn.to_string());
            it.next();
        }
    }
    let rest: Vec<String> = it.cloned().collect();
    let vals = match rest.first().map(String::as_str) {
        Some("(") => {
            if rest.last().map(String::as_str) != Some(")") {
                return Err("Syntax error: missing ')'.".into());
            }
            rest[1..rest.len() - 1].to_vec()
        }
        Some(_) if rest.len() == 1 => rest,
        _ => return Err("Syntax error.".into()),
    };
    Ok((ty, vals))
}

fn setprop(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let (name, rest) = rest.split_first().ok_or("Syntax error.")?;
    let rest = match rest.split_first() {
        Some((eq, r)) if eq == "=" => r,
        _ => return Err("Syntax error.".into()),
    };
    let (ty, vals) = typed_values(rest)?;
    let (pg, _) = name
        .split_once('/')
        .ok_or_else(|| format!("Invalid property name \"{name}\"."))?;
    let s = svc(cx, fmri);
    if !s.pgs.contains_key(pg) {
        return Err(format!("No such property group \"{pg}\"."));
    }
    let ty = match (ty, s.props.get(name)) {
        (Some(t), Some(p)) if t != p.ty => {
            return Err(format!(
                "Type mismatch for property {name} (expected {}).",
                p.ty
            ))
        }
        (Some(t), _) => t,
        (None, Some(p)) => p.ty.clone(),
        (None, None) => {
            return Err(format!(
                "No such property {name}; a type is required to create it."
            ))
        }
    };
    if let Some(bad) = vals.iter().find(|v| !check_value(&ty, v)) {
        return Err(format!("Invalid {ty} value \"{bad}\"."));
    }
    s.props.insert(name.clone(), Prop { ty, values: vals });
    Ok(())
}

fn addpropvalue(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let (name, rest) = rest.split_first().ok_or("Syntax error.")?;
    let (ty, vals) = typed_values(rest)?;
    let (pg, _) = name
        .split_once('/')
        .ok_or_else(|| format!("Invalid property name \"{name}\"."))?;
    let s = svc(cx, fmri);
    if !s.pgs.contains_key(pg) {
        return Err(format!("No such property group \"{pg}\"."));
    }
    let p = match s.props.get_mut(name) {
        Some(p) => p,
        None => {
            let t = ty.clone().ok_or_else(|| {
                format!("No such property {name}; a type is required to create it.")
            })?;
            s.props.entry(name.clone()).or_insert(Prop {
                ty: t,
                values: vec![],
            })
        }
    };
    if let Some(bad) = vals.iter().find(|v| !check_value(&p.ty, v)) {
        return Err(format!("Invalid {} value \"{bad}\".", p.ty));
    }
    p.values.extend(vals);
    Ok(())
}

fn delpropvalue(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let [name, pat] = rest else {
        return Err("Syntax error.".into());
    };
    let p = svc(cx, fmri)
        .props
        .get_mut(name)
        .ok_or_else(|| format!("No such property {name}."))?;
    p.values.retain(|v| !crate::tools::zfs::glob(pat, v));
    Ok(())
}

fn delprop(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let [name] = rest else {
        return Err("Syntax error.".into());
    };
    let s = svc(cx, fmri);
    if s.props.remove(name).is_none() {
        if s.pgs.remove(name).is_some() {
            let prefix = format!("{name}/");
            s.props.retain(|k, _| !k.starts_with(&prefix));
            return Ok(());
        }
        return Err(format!("No such property {name}."));
    }
    Ok(())
}

fn addpg(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let [name, ty, ..] = rest else {
        return Err("Syntax error.".into());
    };
    let s = svc(cx, fmri);
    if s.pgs.contains_key(name) {
        return Err(format!("Property group \"{name}\" already exists."));
    }
    s.pgs.insert(name.clone(), ty.clone());
    Ok(())
}

fn delpg(cx: &mut Ctx, fmri: &str, rest: &[String]) -> Result<(), String> {
    let [name] = rest else {
        return Err("Syntax error.".into());
    };
    let s = svc(cx, fmri);
    if s.pgs.remove(name).is_none() {
        return Err(format!("No such property group \"{name}\"."));
    }
    let prefix = format!("{name}/");
    s.props.retain(|k, _| !k.starts_with(&prefix));
    Ok(())
}

fn listprop(cx: &mut Ctx, fmri: &str, pat: Option<&str>) {
    let s = cx.st.services[fmri].clone();
    let mut pgs = s.pgs.clone();
    pgs.insert("general".into(), "framework".into());
    let mut props = s.props.clone();
    props.insert(
        "general/enabled".into(),
        Prop {
            ty: "boolean".into(),
            values: vec![s.enabled.to_string()],
        },
    );
    let want = |n: &str| {
        pat.is_none_or(|p| crate::tools::zfs::glob(p, n) || n.starts_with(&format!("{p}/")))
    };
    for (pg, ty) in &pgs {
        if want(pg) {
            cx.outln(&format!("{pg:<45} {ty}"));
        }
        for (k, p) in props
            .iter()
            .filter(|(k, _)| k.split('/').next() == Some(pg.as_str()))
        {
            if want(k) {
                let vals: Vec<String> = p.values.iter().map(|v| quote_value(v)).collect();
                cx.outln(format!("{k:<45} {:<8} {}", p.ty, vals.join(" ")).trim_end());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_quotes_and_lists() {
        assert_eq!(
            lex(r#"setprop config/listen_ifnames = astring: ("vnic0" "a b")"#).unwrap(),
            vec![
                "setprop",
                "config/listen_ifnames",
                "=",
                "astring:",
                "(",
                "vnic0",
                "a b",
                ")"
            ]
        );
        let (ty, vals) = typed_values(&["astring:".into(), "x".into()]).unwrap();
        assert_eq!(
            (ty.as_deref(), vals),
            (Some("astring"), vec!["x".to_string()])
        );
    }
}
