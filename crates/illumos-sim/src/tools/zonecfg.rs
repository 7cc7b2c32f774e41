//! `zonecfg`: zone configuration. A session (argv joined and re-parsed, or a `-f` file) edits
//! a working copy; an implicit commit at the end verifies it and stores it. Any error stops the
//! session with nothing committed. Messages are unprefixed; errors inside a `-f` file are
//! preceded by `On line N of FILE:`.

use std::collections::BTreeMap;

use super::zonecfg_lang::{self as lang, split_list};
use crate::ctx::Ctx;
use crate::state::{Guest, Resource, Zone, ZoneCfg, ZoneState};

const USAGE: &str = "usage:\tzonecfg -z <zone> (interactive)\n\tzonecfg -z <zone> <command>\n\tzonecfg -z <zone> -f <command-file>";

/// Global properties `info` always prints (empty when unset), after brand/autoboot.
const INFO_GLOBALS: &[&str] = &["bootargs", "pool", "limitpriv", "scheduling-class"];
/// Other settable globals, printed only when set.
const OTHER_GLOBALS: &[&str] = &[
    "hostid",
    "fs-allowed",
    "cpu-shares",
    "max-lwps",
    "max-msg-ids",
    "max-processes",
    "max-sem-ids",
    "max-shm-ids",
    "max-shm-memory",
    "zfs-io-priority",
];

pub const RES_ORDER: &[&str] = &[
    "fs",
    "net",
    "device",
    "rctl",
    "attr",
    "dataset",
    "dedicated-cpu",
    "capped-cpu",
    "capped-memory",
    "security-flags",
    "admin",
];

/// (simple properties in print order, list properties).
fn res_props(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "fs" => (&["dir", "special", "raw", "type"], &["options"]),
        "net" => (
            &[
                "address",
                "allowed-address",
                "defrouter",
                "global-nic",
                "mac-addr",
                "physical",
                "vlan-id",
            ],
            &["property"],
        ),
        "device" => (&["match"], &[]),
        "attr" => (&["name", "type", "value"], &[]),
        "dataset" => (&["name"], &[]),
        "rctl" => (&["name"], &["value"]),
        "dedicated-cpu" => (&["ncpus", "importance"], &[]),
        "capped-memory" => (&["physical", "swap", "locked"], &[]),
        "capped-cpu" => (&["ncpus"], &[]),
        "security-flags" => (&["lower", "default", "upper"], &[]),
        "admin" => (&["user", "auths"], &[]),
        _ => return None,
    })
}

/// Required properties checked at `end`.
fn required(kind: &str, ip_type: &str) -> &'static [&'static str] {
    match kind {
        "fs" => &["dir", "special", "type"],
        "net" if ip_type == "shared" => &["address", "physical"],
        "net" => &["physical"],
        "device" => &["match"],
        "attr" => &["name", "type", "value"],
        "dataset" => &["name"],
        "rctl" => &["name"],
        _ => &[],
    }
}

pub fn valid_zone_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn valid_attr_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

pub fn template(name: &str) -> Option<ZoneCfg> {
    let (brand, ip) = match name {
        "SYSblank" => ("ipkg", "shared"),
        "SYSdefault" => ("ipkg", "shared"),
        "SYSbhyve" | "bhyve" => ("bhyve", "exclusive"),
        _ => return None,
    };
    Some(ZoneCfg {
        brand: brand.into(),
        ip_type: ip.into(),
        autoboot: false,
        ..Default::default()
    })
}

struct Session {
    name: String,
    new_name: Option<String>,
    /// The zone's state on the host, if it exists there.
    host_state: Option<ZoneState>,
    cfg: Option<ZoneCfg>,
    scope: Option<(Resource, Option<usize>)>,
    dirty: bool,
    deleted: bool,
}

enum Flow {
    Go,
    Exit,
}

type R = Result<Flow, String>;

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let mut name = None;
    let mut file = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-z" => {
                name = args.get(i + 1).cloned();
                i += 2;
            }
            "-f" => {
                file = args.get(i + 1).cloned();
                i += 2;
            }
            s if s.starts_with("-z") && s.len() > 2 => {
                name = Some(s[2..].to_string());
                i += 1;
            }
            "help" if name.is_none() => {
                cx.outln(USAGE);
                return 0;
            }
            _ => break,
        }
    }
    let Some(name) = name else {
        cx.errln(USAGE);
        return 2;
    };
    if name.starts_with("SUNW") {
        cx.errln(&format!("{name}: zones beginning with SUNW are read-only."));
        return 1;
    }
    if !valid_zone_name(&name) || name == "global" {
        cx.errln(&format!("{name}: Bogus zone name"));
        return 1;
    }
    let (text, label) = match &file {
        Some(f) if f == "-" => (read_stdin(cx), None),
        Some(f) => match std::fs::read_to_string(cx.host.resolve(f)) {
            Ok(t) => (t, Some(f.clone())),
            Err(e) => {
                cx.errln(&format!("could not open file {f}: {}", io_reason(&e)));
                return 1;
            }
        },
        None if i >= args.len() => (read_stdin(cx), None),
        None => (args[i..].join(" "), None),
    };
    let from_file = file.is_some() || i >= args.len();
    let cmds = match lang::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            cx.errln(&format!("syntax error on line {}: {}", e.line, e.msg));
            return 1;
        }
    };
    let zone = cx.st.zones.get(&name);
    let mut s = Session {
        name: name.clone(),
        new_name: None,
        host_state: zone.map(|z| z.state),
        cfg: zone.map(|z| z.cfg.clone()),
        scope: None,
        dirty: false,
        deleted: false,
    };
    for c in &cmds {
        match exec(cx, &mut s, &c.words) {
            Ok(Flow::Go) => {}
            Ok(Flow::Exit) => break,
            Err(msg) => {
                if from_file {
                    match &label {
                        Some(f) => cx.errln(&format!("On line {} of {f}:", c.line)),
                        None => cx.errln(&format!("On line {}:", c.line)),
                    }
                }
                cx.errln(&msg);
                return 1;
            }
        }
    }
    if s.scope.is_some() {
        // End of input inside a resource scope: the resource is ended, as zonecfg does on EOF.
        if let Err(msg) = end(&mut s) {
            cx.errln(&msg);
            return 1;
        }
    }
    if s.dirty && !s.deleted {
        if let Err(msg) = commit(cx, &mut s) {
            cx.errln(&msg);
            return 1;
        }
    }
    0
}

fn read_stdin(cx: &mut Ctx) -> String {
    use std::io::Read;
    cx.unlock();
    let mut t = String::new();
    let _ = std::io::stdin().read_to_string(&mut t);
    cx.relock();
    t
}

fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory",
        std::io::ErrorKind::PermissionDenied => "Permission denied",
        _ => "I/O error",
    }
}

fn no_zone(s: &Session) -> String {
    format!("{}: No such zone configured", s.name)
}

fn installed(s: &Session) -> bool {
    s.host_state
        .is_some_and(|st| !matches!(st, ZoneState::Configured | ZoneState::Incomplete))
}

fn exec(cx: &mut Ctx, s: &mut Session, w: &[String]) -> R {
    let cmd = w[0].as_str();
    let args = &w[1..];
    let needs_zone = !matches!(cmd, "create" | "help" | "exit" | "quit" | "cancel" | "end");
    if needs_zone && s.cfg.is_none() {
        return Err(no_zone(s));
    }
    match cmd {
        "create" => create(cx, s, args),
        "delete" => delete(cx, s, args),
        "set" => set(s, args),
        "clear" => clear(s, args),
        "add" => add(s, args),
        "remove" => remove(s, args),
        "select" => select(s, args),
        "end" => end(s),
        "cancel" => {
            if s.scope.take().is_none() {
                return Err("The cancel command only makes sense in the resource scope.".into());
            }
            Ok(Flow::Go)
        }
        "info" => {
            let text = info(s, args)?;
            cx.out(&text);
            Ok(Flow::Go)
        }
        "export" => {
            let text = export(s.cfg.as_ref().ok_or_else(|| no_zone(s))?);
            match args {
                [] => cx.out(&text),
                [f, path] if f == "-f" => {
                    std::fs::write(cx.host.resolve(path), text)
                        .map_err(|e| format!("could not open file {path}: {}", io_reason(&e)))?;
                }
                _ => return Err("usage: export [-f output-file]".into()),
            }
            Ok(Flow::Go)
        }
        "verify" => {
            if s.scope.is_some() {
                return Err("The verify command only makes sense in the global scope.".into());
            }
            verify(cx, s)?;
            Ok(Flow::Go)
        }
        "commit" => {
            if s.scope.is_some() {
                return Err("The commit command only makes sense in the global scope.".into());
            }
            commit(cx, s)?;
            Ok(Flow::Go)
        }
        "revert" => {
            s.cfg = cx.st.zones.get(&s.name).map(|z| z.cfg.clone());
            s.scope = None;
            s.dirty = false;
            Ok(Flow::Go)
        }
        "exit" | "quit" => {
            if args.first().map(String::as_str) == Some("-F") {
                s.dirty = false;
                s.scope = None;
            }
            Ok(Flow::Exit)
        }
        "help" => {
            cx.outln(USAGE);
            Ok(Flow::Go)
        }
        _ => Err(format!("syntax error at '{cmd}'")),
    }
}

fn create(cx: &mut Ctx, s: &mut Session, args: &[String]) -> R {
    let mut force = false;
    let mut tpl = "SYSdefault".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-F" => force = true,
            "-b" => tpl = "SYSblank".into(),
            "-t" => {
                tpl = it
                    .next()
                    .cloned()
                    .ok_or("usage: create [-F] [ -a path | -b | -t template ]")?
            }
            "-X" => {}
            "-a" => return Err("create -a: detached zone manifests are not emulated".into()),
            _ => return Err(format!("syntax error at '{a}'")),
        }
    }
    if s.scope.is_some() {
        return Err("The create command only makes sense in the global scope.".into());
    }
    if s.cfg.is_some() {
        if installed(s) {
            return Err(format!(
                "Zone {} already installed; create not allowed.",
                s.name
            ));
        }
        if !force {
            return Err("Zone exists, input not from terminal and -F not specified:\ncreate command ignored, exiting."
                .into());
        }
        cx.outln(&format!("Zone {} already exists; overwriting.", s.name));
    }
    let cfg = match template(&tpl) {
        Some(c) => c,
        None => match cx.st.zones.get(&tpl) {
            Some(z) => z.cfg.clone(),
            None => return Err(format!("{tpl}: No such zone configured")),
        },
    };
    s.cfg = Some(cfg);
    s.dirty = true;
    Ok(Flow::Go)
}

fn delete(cx: &mut Ctx, s: &mut Session, args: &[String]) -> R {
    let force = args.iter().any(|a| a == "-F");
    if installed(s) && !force {
        return Err(format!(
            "Zone {} not in configured state; delete not allowed.  Use -F to force delete.",
            s.name
        ));
    }
    if !force {
        return Err(
            "Input not from terminal and -F not specified:\ndelete command ignored, exiting."
                .into(),
        );
    }
    if s.host_state.is_some_and(|st| st.in_kernel()) {
        return Err(format!(
            "{}: Zone state is invalid for the requested operation",
            s.name
        ));
    }
    if cx.st.zones.remove(&s.name).is_some() {
        cx.touch();
    }
    s.cfg = None;
    s.deleted = true;
    s.dirty = false;
    Ok(Flow::Exit)
}

fn split_assign(a: &str) -> Result<(&str, &str), String> {
    a.split_once('=')
        .ok_or_else(|| format!("syntax error at '{a}'"))
}

fn check_value(kind: Option<&str>, prop: &str, v: &str) -> Result<(), String> {
    let bad = || Err(format!("{prop}: Invalid argument"));
    match (kind, prop) {
        (None, "autoboot") if v != "true" && v != "false" => bad(),
        (None, "ip-type") if v != "shared" && v != "exclusive" => bad(),
        (None, "zonepath") if !v.starts_with('/') => {
            Err(format!("invalid zonepath '{v}': must be an absolute path"))
        }
        (Some("net"), "vlan-id") if !v.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n)) => {
            bad()
        }
        (Some("attr"), "type") if !["int", "uint", "boolean", "string"].contains(&v) => bad(),
        _ => Ok(()),
    }
}

fn set(s: &mut Session, args: &[String]) -> R {
    let [a] = args else {
        return Err("usage: set property-name=property-value".into());
    };
    let (prop, val) = split_assign(a)?;
    if let Some((res, _)) = &mut s.scope {
        let (simple, lists) = res_props(&res.kind).unwrap_or((&[], &[]));
        if simple.contains(&prop) {
            check_value(Some(&res.kind.clone()), prop, val)?;
            res.props.insert(prop.into(), val.into());
        } else if lists.contains(&prop) {
            res.lists.insert(prop.into(), split_list(val));
        } else {
            return Err(format!("{prop}: No such property type"));
        }
        return Ok(Flow::Go);
    }
    check_value(None, prop, val)?;
    let was_installed = installed(s);
    let name = s.name.clone();
    let cfg = s
        .cfg
        .as_mut()
        .ok_or_else(|| format!("{name}: No such zone configured"))?;
    match prop {
        "zonename" => {
            if was_installed {
                return Err(format!(
                    "Zone {name} already installed; set zonename not allowed."
                ));
            }
            if !valid_zone_name(val) {
                return Err(format!("{val}: Bogus zone name"));
            }
            s.new_name = Some(val.into());
        }
        "zonepath" | "brand" if was_installed => {
            return Err(format!(
                "Zone {name} already installed; set {prop} not allowed."
            ));
        }
        "zonepath" => cfg.zonepath = val.trim_end_matches('/').to_string(),
        "brand" => {
            if ![
                "bhyve", "ipkg", "lipkg", "sparse", "pkgsrc", "lx", "kvm", "illumos", "emu",
            ]
            .contains(&val)
            {
                return Err(format!("{val}: Brand-specific error"));
            }
            cfg.brand = val.into();
        }
        "autoboot" => cfg.autoboot = val == "true",
        "ip-type" => cfg.ip_type = val.into(),
        p if INFO_GLOBALS.contains(&p) || OTHER_GLOBALS.contains(&p) => {
            cfg.globals.insert(p.into(), val.into());
        }
        _ => return Err(format!("{prop}: No such property type")),
    }
    s.dirty = true;
    Ok(Flow::Go)
}

fn clear(s: &mut Session, args: &[String]) -> R {
    let [prop] = args else {
        return Err("usage: clear property-name".into());
    };
    if let Some((res, _)) = &mut s.scope {
        res.props.remove(prop);
        res.lists.remove(prop);
        return Ok(Flow::Go);
    }
    let cfg = s.cfg.as_mut().ok_or("no zone")?;
    match prop.as_str() {
        "autoboot" => cfg.autoboot = false,
        "ip-type" => cfg.ip_type = "shared".into(),
        p if INFO_GLOBALS.contains(&p) || OTHER_GLOBALS.contains(&p) => {
            cfg.globals.remove(p);
        }
        _ => return Err(format!("{prop}: No such property type")),
    }
    s.dirty = true;
    Ok(Flow::Go)
}

fn add(s: &mut Session, args: &[String]) -> R {
    if let Some((res, _)) = &mut s.scope {
        let [prop, val] = args else {
            return Err("usage: add property-name property-value".into());
        };
        let (_, lists) = res_props(&res.kind).unwrap_or((&[], &[]));
        if !lists.contains(&prop.as_str()) {
            return Err(format!("{prop}: No such property type"));
        }
        res.lists
            .entry(prop.clone())
            .or_default()
            .extend(split_list(val));
        return Ok(Flow::Go);
    }
    let [kind] = args else {
        return Err("usage: add resource-type".into());
    };
    if res_props(kind).is_none() {
        return Err(format!("{kind}: No such resource type"));
    }
    s.scope = Some((
        Resource {
            kind: kind.clone(),
            ..Default::default()
        },
        None,
    ));
    Ok(Flow::Go)
}

fn matches(r: &Resource, filters: &[(&str, &str)]) -> bool {
    filters
        .iter()
        .all(|(k, v)| r.props.get(*k).map(String::as_str) == Some(*v))
}

fn filters(args: &[String]) -> Result<Vec<(&str, &str)>, String> {
    args.iter().map(|a| split_assign(a)).collect()
}

fn remove(s: &mut Session, args: &[String]) -> R {
    if let Some((res, _)) = &mut s.scope {
        let [prop, val] = args else {
            return Err("usage: remove property-name property-value".into());
        };
        let list = res.lists.entry(prop.clone()).or_default();
        for v in split_list(val) {
            list.retain(|x| *x != v);
        }
        return Ok(Flow::Go);
    }
    let force = args.first().is_some_and(|a| a == "-F");
    let args = if force { &args[1..] } else { args };
    let Some((kind, rest)) = args.split_first() else {
        return Err("usage: remove [-F] resource-type".into());
    };
    if res_props(kind).is_none() {
        return Err(format!("{kind}: No such resource type"));
    }
    let f = filters(rest)?;
    let cfg = s.cfg.as_mut().ok_or("no zone")?;
    let before = cfg.resources.len();
    cfg.resources
        .retain(|r| !(r.kind == *kind && matches(r, &f)));
    if cfg.resources.len() == before && !force {
        return Err(format!("{kind}: No such resource with that id"));
    }
    s.dirty = true;
    Ok(Flow::Go)
}

fn select(s: &mut Session, args: &[String]) -> R {
    let Some((kind, rest)) = args.split_first() else {
        return Err("usage: select resource-type {prop=value}".into());
    };
    if res_props(kind).is_none() {
        return Err(format!("{kind}: No such resource type"));
    }
    let f = filters(rest)?;
    let cfg = s.cfg.as_ref().ok_or("no zone")?;
    let hits: Vec<usize> = cfg
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == *kind && matches(r, &f))
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [i] => {
            s.scope = Some((cfg.resources[*i].clone(), Some(*i)));
            Ok(Flow::Go)
        }
        [] => Err(format!("{kind}: No such resource with that id")),
        _ => Err(format!("{kind}: Insufficient specification")),
    }
}

fn check_resource(r: &Resource, ip_type: &str) -> Result<(), String> {
    let missing: Vec<String> = required(&r.kind, ip_type)
        .iter()
        .filter(|p| r.get(p).is_none())
        .map(|p| format!("{p} not specified"))
        .collect();
    if !missing.is_empty() {
        return Err(missing.join("\n"));
    }
    if r.kind == "net" && ip_type == "exclusive" && r.get("address").is_some() {
        return Err("address cannot be specified for an exclusive IP type".into());
    }
    if r.kind == "attr" {
        let n = r.get("name").unwrap_or_default();
        if !valid_attr_name(n) {
            return Err(format!("invalid attr name '{n}'"));
        }
        if n.starts_with("zone") {
            return Err(format!("attr name '{n}' is reserved"));
        }
    }
    Ok(())
}

fn end(s: &mut Session) -> R {
    let Some((res, idx)) = s.scope.take() else {
        return Err("The end command only makes sense in the resource scope.".into());
    };
    let cfg = s.cfg.as_mut().ok_or("no zone")?;
    if let Err(e) = check_resource(&res, &cfg.ip_type) {
        s.scope = Some((res, idx));
        return Err(e);
    }
    match idx {
        Some(i) => cfg.resources[i] = res,
        None => cfg.resources.push(res),
    }
    s.dirty = true;
    Ok(Flow::Go)
}

fn verify(cx: &mut Ctx, s: &Session) -> Result<(), String> {
    let cfg = s.cfg.as_ref().ok_or_else(|| no_zone(s))?;
    let mut errs = Vec::new();
    if cfg.zonepath.is_empty() {
        errs.push("zonepath not specified".to_string());
    }
    if cfg.brand == "bhyve" && cfg.ip_type != "exclusive" {
        errs.push("ip-type: the bhyve brand requires ip-type exclusive".to_string());
    }
    for r in &cfg.resources {
        if let Err(e) = check_resource(r, &cfg.ip_type) {
            errs.push(format!("{}: {e}", r.kind));
        }
    }
    for (n, z) in &cx.st.zones {
        if *n != s.name && !cfg.zonepath.is_empty() && z.cfg.zonepath == cfg.zonepath {
            errs.push(format!(
                "zonepath {} is already in use by zone {n}",
                cfg.zonepath
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

fn commit(cx: &mut Ctx, s: &mut Session) -> Result<(), String> {
    verify(cx, s)?;
    let cfg = s.cfg.clone().ok_or_else(|| no_zone(s))?;
    let existing = cx.st.zones.remove(&s.name);
    let zone = match existing {
        Some(mut z) => {
            z.cfg = cfg;
            z
        }
        None => Zone {
            state: ZoneState::Configured,
            id: None,
            uuid: None,
            cfg,
            ondemand: Vec::new(),
            booted_ms: None,
            guest: Guest::default(),
        },
    };
    let name = s.new_name.take().unwrap_or_else(|| s.name.clone());
    if name != s.name && cx.st.zones.contains_key(&name) {
        cx.st.zones.insert(s.name.clone(), zone);
        return Err(format!("{name}: Zone name already in use"));
    }
    cx.st.zones.insert(name.clone(), zone);
    s.name = name;
    s.host_state = cx.st.zones.get(&s.name).map(|z| z.state);
    s.dirty = false;
    cx.touch();
    Ok(())
}

fn res_block(r: &Resource) -> String {
    let mut o = format!("{}:\n", r.kind);
    let (simple, lists) = res_props(&r.kind).unwrap_or((&[], &[]));
    for p in simple {
        match r.get(p) {
            Some(v) => o.push_str(&format!("\t{p}: {v}\n")),
            None => o.push_str(&format!("\t{p} not specified\n")),
        }
    }
    for l in lists {
        match r.lists.get(*l) {
            Some(v) if !v.is_empty() => o.push_str(&format!("\t{l}: [{}]\n", v.join(","))),
            _ if *l == "options" => o.push_str("\toptions: []\n"),
            _ => {}
        }
    }
    o
}

fn info(s: &Session, args: &[String]) -> Result<String, String> {
    let cfg = match (&s.scope, args.is_empty()) {
        (Some((r, _)), true) => return Ok(res_block(r)),
        _ => s.cfg.as_ref().ok_or_else(|| no_zone(s))?,
    };
    let name = s.new_name.clone().unwrap_or_else(|| s.name.clone());
    let global = |p: &str| -> Option<String> {
        Some(match p {
            "zonename" => name.clone(),
            "zonepath" => cfg.zonepath.clone(),
            "brand" => cfg.brand.clone(),
            "autoboot" => cfg.autoboot.to_string(),
            "ip-type" => cfg.ip_type.clone(),
            p if INFO_GLOBALS.contains(&p) || OTHER_GLOBALS.contains(&p) => {
                cfg.globals.get(p).cloned().unwrap_or_default()
            }
            _ => return None,
        })
    };
    let line = |p: &str, v: &str| {
        if v.is_empty() {
            format!("{p}:\n")
        } else {
            format!("{p}: {v}\n")
        }
    };
    if let Some((first, rest)) = args.split_first() {
        if let Some(v) = global(first) {
            return Ok(line(first, &v));
        }
        if res_props(first).is_none() {
            return Err(format!("{first}: No such resource type"));
        }
        let f = filters(rest)?;
        return Ok(cfg
            .resources
            .iter()
            .filter(|r| r.kind == *first && matches(r, &f))
            .map(res_block)
            .collect());
    }
    let mut o = String::new();
    for p in ["zonename", "zonepath", "brand", "autoboot"]
        .iter()
        .chain(INFO_GLOBALS)
        .chain(&["ip-type", "hostid", "fs-allowed"])
    {
        o.push_str(&line(p, &global(p).unwrap_or_default()));
    }
    for p in &OTHER_GLOBALS[2..] {
        if let Some(v) = cfg.globals.get(*p) {
            o.push_str(&line(p, v));
        }
    }
    for kind in RES_ORDER {
        for r in cfg.resources.iter().filter(|r| r.kind == *kind) {
            o.push_str(&res_block(r));
        }
    }
    Ok(o)
}

fn quote(v: &str) -> String {
    if v.contains(' ') || v.contains(';') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

pub fn export(cfg: &ZoneCfg) -> String {
    let mut o = String::from("create -b\n");
    let mut set = |p: &str, v: &str| {
        if !v.is_empty() {
            o.push_str(&format!("set {p}={}\n", quote(v)));
        }
    };
    set("zonepath", &cfg.zonepath);
    if cfg.brand != "native" {
        set("brand", &cfg.brand);
    }
    set("autoboot", &cfg.autoboot.to_string());
    let g: &BTreeMap<String, String> = &cfg.globals;
    for p in INFO_GLOBALS {
        set(p, g.get(*p).map(String::as_str).unwrap_or_default());
    }
    set("ip-type", &cfg.ip_type);
    for p in OTHER_GLOBALS {
        set(p, g.get(*p).map(String::as_str).unwrap_or_default());
    }
    for kind in RES_ORDER {
        for r in cfg.resources.iter().filter(|r| r.kind == *kind) {
            o.push_str(&format!("add {kind}\n"));
            let (simple, lists) = res_props(kind).unwrap_or((&[], &[]));
            for p in simple {
                if let Some(v) = r.get(p) {
                    o.push_str(&format!("set {p}={}\n", quote(v)));
                }
            }
            for l in lists {
                for v in r.lists.get(*l).into_iter().flatten() {
                    let v = if v.contains('=') && !v.starts_with('(') {
                        format!("\"{v}\"")
                    } else {
                        v.clone()
                    };
                    o.push_str(&format!("add {l} {v}\n"));
                }
            }
            o.push_str("end\n");
        }
    }
    o
}
