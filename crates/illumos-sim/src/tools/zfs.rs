//! `zfs`: datasets, volumes, snapshots and clones; list/get/set; send | recv through a pipe.
//! Errors are libzfs's `<action>: <description>` on stderr, no `zfs:` prefix; exit 1, usage 2.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read};

use serde::{Deserialize, Serialize};

use super::zfsprops::{self as zp, check_name, parent, value};
use crate::ctx::Ctx;
use crate::getopt::{getopt, Opts};
use crate::state::{Dataset, DsKind, State};
use crate::timefmt;

const USAGE: &str = "usage: zfs command args ...
where 'command' is one of the following:

\tcreate [-p] [-o property=value] ... <filesystem>
\tcreate [-ps] [-b blocksize] [-o property=value] ... -V <size> <volume>
\tdestroy [-fnpRrv] <filesystem|volume>
\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]
\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...
\trollback [-rRf] <snapshot>
\tclone [-p] [-o property=value] ... <snapshot> <filesystem|volume>
\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...
\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...
\tset <property=value> ... <filesystem|volume|snapshot> ...
\tget [-rHp] [-d max] [-o \"all\" | field[,...]]
\t    [-t type[,...]] [-s source[,...]]
\t    <\"all\" | property[,...]> [filesystem|volume|snapshot] ...
\tinherit [-r] <property> <filesystem|volume|snapshot> ...
\tsend [-DnPpRv] [-[iI] snapshot] <snapshot>
\treceive [-vnFu] [-o property=value] ... <filesystem|volume|snapshot>";

const STREAM_MAGIC: &str = "ILLUMOS-SIM-ZFS-STREAM 1\n";

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        cx.errln(USAGE);
        return 2;
    };
    let rest = &args[1..];
    match sub.as_str() {
        "create" => create(cx, rest),
        "destroy" => destroy(cx, rest),
        "snapshot" | "snap" => snapshot(cx, rest),
        "rollback" => rollback(cx, rest),
        "clone" => clone(cx, rest),
        "list" => list(cx, rest),
        "get" => get(cx, rest),
        "set" => set(cx, rest),
        "inherit" => inherit(cx, rest),
        "send" => send(cx, rest),
        "receive" | "recv" => receive(cx, rest),
        _ => {
            cx.errln(&format!("unrecognized command '{sub}'"));
            cx.errln(USAGE);
            2
        }
    }
}

fn usage(cx: &mut Ctx, msg: &str) -> i32 {
    if !msg.is_empty() {
        cx.errln(msg);
    }
    cx.errln(USAGE);
    2
}

fn opts(cx: &mut Ctx, args: &[String], spec: &str) -> Result<Opts, i32> {
    getopt(args, spec, &[]).map_err(|e| {
        let msg = match e {
            crate::getopt::OptError::Unknown(o) => {
                format!("invalid option '{}'", o.trim_start_matches('-'))
            }
            crate::getopt::OptError::MissingArg(c) => format!("missing argument for '{c}' option"),
        };
        usage(cx, &msg)
    })
}

fn missing(cx: &mut Ctx, name: &str) -> i32 {
    cx.errln(&format!("cannot open '{name}': dataset does not exist"));
    1
}

/// `zfs list` order: by the filesystem part, the dataset before its snapshots, snapshots by age.
fn sort_zfs(st: &State, v: &mut [String]) {
    v.sort_by(|a, b| {
        let key = |n: &String| {
            let (fs, snap) = match n.split_once('@') {
                Some((f, _)) => (f.to_string(), true),
                None => (n.clone(), false),
            };
            (fs, snap, st.datasets.get(n).map_or(0, |d| d.txg))
        };
        key(a).cmp(&key(b))
    });
}

fn new_ds(st: &mut State, kind: DsKind, referenced: u64) -> Dataset {
    let txg = st.next_txg();
    Dataset {
        kind,
        props: BTreeMap::new(),
        received: BTreeMap::new(),
        origin: None,
        referenced,
        txg,
        guid: 0x1000_0000_0000 + txg * 7919,
        creation: timefmt::now_secs(),
    }
}

/// Makes the on-disk side of a dataset exist: its mountpoint directory or its zvol nodes.
fn materialise(cx: &mut Ctx, name: &str) {
    let Some(d) = cx.st.datasets.get(name) else {
        return;
    };
    match d.kind {
        DsKind::Filesystem => {
            let mp = value(&cx.st, name, "mountpoint")
                .map(|v| v.0)
                .unwrap_or_default();
            let can = value(&cx.st, name, "canmount")
                .map(|v| v.0)
                .unwrap_or_default();
            if mp.starts_with('/') && can == "on" {
                let _ = std::fs::create_dir_all(cx.host.in_root(&mp));
            }
        }
        DsKind::Volume => {
            for d in ["dsk", "rdsk"] {
                let p = cx.host.in_root(&format!("/dev/zvol/{d}/{name}"));
                if let Some(dir) = p.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(p, b"");
            }
        }
        DsKind::Snapshot => {}
    }
}

fn dematerialise(cx: &mut Ctx, name: &str) {
    let Some(d) = cx.st.datasets.get(name) else {
        return;
    };
    match d.kind {
        DsKind::Filesystem => {
            let mp = value(&cx.st, name, "mountpoint")
                .map(|v| v.0)
                .unwrap_or_default();
            if mp.starts_with('/') && mp != "/" {
                let p = cx.host.in_root(&mp);
                if p != cx.host.root {
                    let _ = std::fs::remove_dir_all(p);
                }
            }
        }
        DsKind::Volume => {
            for d in ["dsk", "rdsk"] {
                let _ = std::fs::remove_file(cx.host.in_root(&format!("/dev/zvol/{d}/{name}")));
            }
        }
        DsKind::Snapshot => {}
    }
}

fn parse_o(cx: &mut Ctx, o: &Opts) -> Result<Vec<(String, String)>, i32> {
    let mut v = Vec::new();
    for kv in o.vals('o') {
        match kv.split_once('=') {
            Some((k, val)) => v.push((k.to_string(), val.to_string())),
            None => return Err(usage(cx, "missing '=' for -o option")),
        }
    }
    Ok(v)
}

fn canon(prop: &str) -> String {
    zp::lookup(prop).map_or(prop.to_string(), |d| d.name.to_string())
}

/// Validates `-o` properties for a new dataset of `kind`; `Err` is the libzfs description.
fn check_props(
    kind: DsKind,
    props: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    for (k, v) in props {
        let val = zp::normalise(k, v)?;
        if let Some(d) = zp::lookup(k) {
            if d.applies & zp::mask(kind) == 0 {
                return Err(format!(
                    "'{}' does not apply to datasets of this type",
                    d.name
                ));
            }
        }
        m.insert(canon(k), val);
    }
    Ok(m)
}

fn create(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "PpnvsV:b:o:") else {
        return 2;
    };
    let name = match o.operands.as_slice() {
        [n] => n.clone(),
        [] => return usage(cx, "missing filesystem argument"),
        _ => return usage(cx, "too many arguments"),
    };
    let Ok(kv) = parse_o(cx, &o) else { return 2 };
    let fail = |cx: &mut Ctx, why: &str| {
        cx.errln(&format!("cannot create '{name}': {why}"));
        1
    };
    let volsize = match o.val('V') {
        Some(s) => match zp::parse_size(s) {
            Some(0) => return fail(cx, "volume size cannot be zero"),
            Some(n) => Some(n.div_ceil(131_072) * 131_072),
            None => {
                cx.errln(&format!("bad volume size '{s}': bad numeric value '{s}'"));
                return 1;
            }
        },
        None => None,
    };
    if o.has('s') && volsize.is_none() {
        return usage(cx, "'-s' and '-b' can only be used when creating a volume");
    }
    if let Err(why) = check_name(&name, Some(false)) {
        return fail(cx, &why);
    }
    let kind = if volsize.is_some() {
        DsKind::Volume
    } else {
        DsKind::Filesystem
    };
    let mut props = match check_props(kind, &kv) {
        Ok(p) => p,
        Err(why) => return fail(cx, &why),
    };
    let pool = zp::pool_of(&name).to_string();
    if !cx.st.pools.contains_key(&pool) {
        return fail(cx, &format!("no such pool '{pool}'"));
    }
    if cx.st.datasets.contains_key(&name) {
        if o.has('p') {
            return 0;
        }
        return fail(cx, "dataset already exists");
    }
    // Walk up to the nearest existing ancestor; with -p the missing ones are created.
    let mut to_make = Vec::new();
    let mut cur = parent(&name);
    while let Some(p) = cur {
        match cx.st.datasets.get(p) {
            Some(d) if d.kind != DsKind::Filesystem => {
                return fail(cx, "parent is not a filesystem")
            }
            Some(_) => break,
            None => to_make.push(p.to_string()),
        }
        cur = parent(p);
    }
    if !to_make.is_empty() && !o.has('p') {
        return fail(cx, "parent does not exist");
    }
    if let Some(size) = volsize {
        props.insert("volsize".into(), size.to_string());
        if let Some(b) = o.val('b') {
            match zp::parse_size(b) {
                Some(n) if n.is_power_of_two() && (512..=131_072).contains(&n) => {
                    props.insert("volblocksize".into(), n.to_string());
                }
                _ => return fail(cx, "'volblocksize' must be power of 2 from 512B to 128KB"),
            }
        }
        if !o.has('s') && !props.contains_key("refreservation") {
            if size > zp::pool_avail(&cx.st, &pool) {
                return fail(cx, "out of space");
            }
            props.insert("refreservation".into(), size.to_string());
        }
    }
    if o.has('n') {
        return 0;
    }
    for p in to_make.iter().rev() {
        let d = new_ds(&mut cx.st, DsKind::Filesystem, 98_304);
        cx.st.datasets.insert(p.clone(), d);
        materialise(cx, p);
    }
    let mut d = new_ds(
        &mut cx.st,
        kind,
        if kind == DsKind::Volume {
            57_344
        } else {
            98_304
        },
    );
    d.props = props;
    cx.st.datasets.insert(name.clone(), d);
    cx.touch();
    materialise(cx, &name);
    0
}

/// Whether a running (or ready) zone holds the dataset: its zonepath, or a zvol it passes
/// through with `device match`.
fn busy(st: &State, name: &str) -> bool {
    let mp = value(st, name, "mountpoint").map(|v| v.0);
    st.zones.values().filter(|z| z.state.in_kernel()).any(|z| {
        mp.as_deref() == Some(z.cfg.zonepath.as_str())
            || z.cfg
                .resources
                .iter()
                .filter(|r| r.kind == "device")
                .any(|r| {
                    let m = r.get("match").unwrap_or_default();
                    glob(m, &format!("/dev/zvol/rdsk/{name}"))
                        || glob(m, &format!("/dev/zvol/dsk/{name}"))
                })
    })
}

/// fnmatch(3) with `*` and `?` (device match patterns).
pub fn glob(pat: &str, s: &str) -> bool {
    fn rec(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], s) || (!s.is_empty() && rec(p, &s[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &s[1..]),
            _ => false,
        }
    }
    rec(pat.as_bytes(), s.as_bytes())
}

/// Everything under `name`: child datasets at any depth and all their snapshots.
fn descendants(st: &State, name: &str) -> Vec<String> {
    let (a, b) = (format!("{name}/"), format!("{name}@"));
    let mut v: Vec<String> = st
        .datasets
        .keys()
        .filter(|k| k.starts_with(&a) || k.starts_with(&b))
        .cloned()
        .collect();
    sort_zfs(st, &mut v);
    v
}

/// Clones (and what hangs under them) of snapshots in `set` that are not in `set` themselves.
fn dependent_clones(st: &State, set: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut frontier: BTreeSet<String> = set.clone();
    loop {
        let mut added = false;
        for (n, d) in &st.datasets {
            if frontier.contains(n) {
                continue;
            }
            if d.origin.as_ref().is_some_and(|o| frontier.contains(o)) {
                for x in std::iter::once(n.clone()).chain(descendants(st, n)) {
                    if frontier.insert(x.clone()) {
                        out.push(x);
                        added = true;
                    }
                }
            }
        }
        if !added {
            break;
        }
    }
    sort_zfs(st, &mut out);
    out
}

fn remove_all(cx: &mut Ctx, mut names: Vec<String>) {
    // Deepest first, snapshots after the clones that depend on them are gone.
    names.sort_by_key(|n| std::cmp::Reverse((n.matches('/').count(), !n.contains('@'))));
    names.sort_by_key(|n| cx.st.datasets.get(n).map(|d| d.origin.is_none()));
    for n in &names {
        dematerialise(cx, n);
    }
    for n in names {
        cx.st.datasets.remove(&n);
    }
    cx.touch();
}

fn destroy(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "rRfnpvd") else {
        return 2;
    };
    let name = match o.operands.as_slice() {
        [n] => n.clone(),
        [] => return usage(cx, "missing dataset argument"),
        _ => return usage(cx, "too many arguments"),
    };
    let (r, big_r) = (o.has('r'), o.has('R'));
    if let Some((fs, snaps)) = name.split_once('@') {
        if !cx.st.datasets.contains_key(fs) {
            return missing(cx, fs);
        }
        let mut set = BTreeSet::new();
        for s in snaps.split(',') {
            let targets: Vec<String> = if r {
                std::iter::once(fs.to_string())
                    .chain(
                        descendants(&cx.st, fs)
                            .into_iter()
                            .filter(|d| !d.contains('@')),
                    )
                    .map(|d| format!("{d}@{s}"))
                    .collect()
            } else {
                vec![format!("{fs}@{s}")]
            };
            set.extend(
                targets
                    .into_iter()
                    .filter(|t| cx.st.datasets.contains_key(t)),
            );
        }
        if set.is_empty() {
            cx.errln("could not find any snapshots to destroy; check snapshot names.");
            return 1;
        }
        let clones = dependent_clones(&cx.st, &set);
        if !clones.is_empty() && !big_r {
            let first = set.iter().next().cloned().unwrap_or_default();
            cx.errln(&format!(
                "cannot destroy '{first}': snapshot has dependent clones"
            ));
            cx.errln("use '-R' to destroy the following datasets:");
            for c in clones {
                cx.errln(&c);
            }
            return 1;
        }
        if let Some(b) = clones.iter().find(|c| busy(&cx.st, c)) {
            cx.errln(&format!("cannot destroy '{b}': dataset is busy"));
            return 1;
        }
        if o.has('n') {
            return 0;
        }
        let mut all: Vec<String> = set.into_iter().collect();
        all.extend(clones);
        remove_all(cx, all);
        return 0;
    }
    let Some(kind) = cx.st.datasets.get(&name).map(|d| d.kind) else {
        return missing(cx, &name);
    };
    if !name.contains('/') {
        cx.errln(&format!(
            "cannot destroy '{name}': operation does not apply to pools"
        ));
        cx.errln(&format!(
            "use 'zfs destroy -r {name}' to destroy all datasets in the pool"
        ));
        cx.errln(&format!(
            "use 'zpool destroy {name}' to destroy the pool itself"
        ));
        return 1;
    }
    let desc = descendants(&cx.st, &name);
    if !desc.is_empty() && !r && !big_r {
        cx.errln(&format!(
            "cannot destroy '{name}': {} has children",
            kind.as_str()
        ));
        cx.errln("use '-r' to destroy the following datasets:");
        for d in desc {
            cx.errln(&d);
        }
        return 1;
    }
    let mut set: BTreeSet<String> = desc.into_iter().collect();
    set.insert(name.clone());
    let clones = dependent_clones(&cx.st, &set);
    if !clones.is_empty() && !big_r {
        cx.errln(&format!(
            "cannot destroy '{name}': {} has dependent clones",
            kind.as_str()
        ));
        cx.errln("use '-R' to destroy the following datasets:");
        for c in clones {
            cx.errln(&c);
        }
        return 1;
    }
    set.extend(clones);
    let mut ordered: Vec<String> = set.into_iter().collect();
    sort_zfs(&cx.st, &mut ordered);
    if let Some(b) = ordered.iter().find(|c| busy(&cx.st, c)) {
        cx.errln(&format!("cannot destroy '{b}': dataset is busy"));
        return 1;
    }
    if o.has('n') {
        if o.has('v') {
            for d in &ordered {
                cx.outln(&format!("would destroy {d}"));
            }
        }
        return 0;
    }
    if o.has('v') {
        for d in &ordered {
            cx.outln(&format!("will destroy {d}"));
        }
    }
    remove_all(cx, ordered);
    0
}

fn snapshot(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "ro:") else {
        return 2;
    };
    if o.operands.is_empty() {
        return usage(cx, "missing snapshot argument");
    }
    let Ok(kv) = parse_o(cx, &o) else { return 2 };
    let mut make = Vec::new();
    for name in &o.operands {
        if let Err(why) = check_name(name, Some(true)) {
            cx.errln(&format!("cannot create snapshot '{name}': {why}"));
            return 1;
        }
        let (fs, snap) = name.split_once('@').unwrap_or((name, ""));
        if !cx.st.datasets.contains_key(fs) {
            return missing(cx, fs);
        }
        let mut targets = vec![fs.to_string()];
        if o.has('r') {
            targets.extend(
                descendants(&cx.st, fs)
                    .into_iter()
                    .filter(|d| !d.contains('@')),
            );
        }
        for t in targets {
            let full = format!("{t}@{snap}");
            if cx.st.datasets.contains_key(&full) || make.iter().any(|(n, _)| *n == full) {
                cx.errln(&format!(
                    "cannot create snapshot '{full}': dataset already exists"
                ));
                if o.has('r') {
                    cx.errln("no snapshots were created");
                }
                return 1;
            }
            make.push((full, t));
        }
    }
    let props = match check_props(DsKind::Snapshot, &kv) {
        Ok(p) => p,
        Err(why) => {
            cx.errln(&format!(
                "cannot create snapshot '{}': {why}",
                o.operands[0]
            ));
            return 1;
        }
    };
    for (full, fs) in make {
        let src = cx.st.datasets[&fs].clone();
        let mut d = new_ds(&mut cx.st, DsKind::Snapshot, src.referenced);
        d.props = props.clone();
        if let Some(v) = src.props.get("volsize") {
            d.props.insert("volsize".into(), v.clone());
        }
        cx.st.datasets.insert(full, d);
    }
    cx.touch();
    0
}

fn rollback(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "rRf") else {
        return 2;
    };
    let [snap] = o.operands.as_slice() else {
        return usage(cx, "wrong number of arguments");
    };
    let Some((fs, _)) = snap.split_once('@') else {
        cx.errln(&format!(
            "cannot open '{snap}': operation only applies to snapshots"
        ));
        return 1;
    };
    let Some(target) = cx.st.datasets.get(snap).cloned() else {
        return missing(cx, snap);
    };
    let newer: Vec<String> = zp::snapshots(&cx.st, fs)
        .into_iter()
        .filter(|s| cx.st.datasets[*s].txg > target.txg)
        .map(String::from)
        .collect();
    if !newer.is_empty() && !o.has('r') && !o.has('R') {
        cx.errln(&format!(
            "cannot rollback to '{snap}': more recent snapshots or bookmarks exist"
        ));
        cx.errln("use '-r' to force deletion of the following snapshots and bookmarks:");
        for n in newer {
            cx.errln(&n);
        }
        return 1;
    }
    let set: BTreeSet<String> = newer.iter().cloned().collect();
    let clones = dependent_clones(&cx.st, &set);
    if !clones.is_empty() && !o.has('R') {
        cx.errln(&format!(
            "cannot rollback to '{snap}': clones of previous snapshots exist"
        ));
        cx.errln("use '-R' to force deletion of the following clones and dependents:");
        for c in clones {
            cx.errln(&c);
        }
        return 1;
    }
    let mut all = newer;
    all.extend(clones);
    remove_all(cx, all);
    if let Some(d) = cx.st.datasets.get_mut(fs) {
        d.referenced = target.referenced;
        if let Some(v) = target.props.get("volsize") {
            d.props.insert("volsize".into(), v.clone());
        }
    }
    cx.touch();
    0
}

fn clone(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "po:") else {
        return 2;
    };
    let [snap, target] = o.operands.as_slice() else {
        return usage(
            cx,
            if o.operands.len() < 2 {
                "missing source dataset argument"
            } else {
                "too many arguments"
            },
        );
    };
    let Ok(kv) = parse_o(cx, &o) else { return 2 };
    if !snap.contains('@') {
        cx.errln(&format!(
            "cannot open '{snap}': operation not applicable to datasets of this type"
        ));
        return 1;
    }
    let Some(src) = cx.st.datasets.get(snap).cloned() else {
        return missing(cx, snap);
    };
    let fail = |cx: &mut Ctx, why: &str| {
        cx.errln(&format!("cannot create '{target}': {why}"));
        1
    };
    if let Err(why) = check_name(target, Some(false)) {
        return fail(cx, &why);
    }
    if zp::pool_of(target) != zp::pool_of(snap) {
        return fail(cx, "source and target pools differ");
    }
    if cx.st.datasets.contains_key(target) {
        return fail(cx, "dataset already exists");
    }
    let fs = snap.split('@').next().unwrap_or_default();
    let kind = cx
        .st
        .datasets
        .get(fs)
        .map_or(DsKind::Filesystem, |d| d.kind);
    let props = match check_props(kind, &kv) {
        Ok(p) => p,
        Err(why) => return fail(cx, &why),
    };
    let mut to_make = Vec::new();
    let mut cur = parent(target);
    while let Some(p) = cur {
        if cx.st.datasets.contains_key(p) {
            break;
        }
        to_make.push(p.to_string());
        cur = parent(p);
    }
    if !to_make.is_empty() && !o.has('p') {
        return fail(cx, "parent does not exist");
    }
    for p in to_make.iter().rev() {
        let d = new_ds(&mut cx.st, DsKind::Filesystem, 98_304);
        cx.st.datasets.insert(p.clone(), d);
        materialise(cx, p);
    }
    let mut d = new_ds(&mut cx.st, kind, src.referenced);
    d.origin = Some(snap.clone());
    d.props = props;
    if let Some(v) = src.props.get("volsize") {
        d.props.insert("volsize".into(), v.clone());
    }
    cx.st.datasets.insert(target.clone(), d);
    cx.touch();
    materialise(cx, target);
    0
}

struct Walk {
    /// `zfs list -t snapshot fs` (without -r) lists fs's snapshots; `zfs get` does not.
    snapshots_of_operand: bool,
    types: u8,
    depth: Option<usize>,
    recurse: bool,
}

fn parse_types(s: &str) -> Result<u8, String> {
    let mut m = 0;
    for t in s.split(',') {
        m |= match t {
            "filesystem" | "fs" => zp::FS,
            "volume" | "vol" => zp::VOL,
            "snapshot" | "snap" => zp::SNAP,
            "bookmark" => 0,
            "all" => zp::FS | zp::VOL | zp::SNAP,
            _ => return Err(t.to_string()),
        };
    }
    Ok(m)
}

/// The datasets a list/get names, in output order; missing operands are reported (and make
/// the exit status 1) while the others are still listed.
fn walk(cx: &mut Ctx, operands: &[String], w: &Walk, explicit_types: bool) -> (Vec<String>, bool) {
    let st = &cx.st;
    let mut out: Vec<String> = Vec::new();
    let mut failed = false;
    let ok_type = |n: &str| {
        st.datasets
            .get(n)
            .is_some_and(|d| w.types & zp::mask(d.kind) != 0)
    };
    let depth_of = |base: &str, n: &str| n[base.len()..].matches(['/', '@']).count();
    let roots: Vec<String> = if operands.is_empty() {
        st.datasets
            .keys()
            .filter(|k| !k.contains('/') && !k.contains('@'))
            .cloned()
            .collect()
    } else {
        operands.to_vec()
    };
    let recurse_all = operands.is_empty();
    let mut errs = Vec::new();
    for r in &roots {
        if !st.datasets.contains_key(r) {
            errs.push(r.clone());
            failed = true;
            continue;
        }
        let mut mine = Vec::new();
        if ok_type(r) || (!explicit_types && !recurse_all) {
            mine.push(r.clone());
        }
        if w.recurse || w.depth.is_some() || recurse_all {
            for d in descendants(st, r) {
                if ok_type(&d) && w.depth.is_none_or(|max| depth_of(r, &d) <= max) {
                    mine.push(d);
                }
            }
        } else if w.snapshots_of_operand
            && w.types & zp::SNAP != 0
            && explicit_types
            && !r.contains('@')
        {
            // `zfs list -t snapshot fs` lists the snapshots of fs.
            mine.extend(zp::snapshots(st, r).into_iter().map(String::from));
        }
        sort_zfs(st, &mut mine);
        for m in mine {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    for e in errs {
        missing(cx, &e);
    }
    (out, failed)
}

fn column_value(st: &State, name: &str, col: &str, parsable: bool) -> String {
    if col == "name" {
        return name.to_string();
    }
    match value(st, name, col) {
        Some((v, _)) => zp::render(col, &v, parsable),
        None => "-".into(),
    }
}

fn right_aligned(col: &str) -> bool {
    zp::lookup(col).is_some_and(|d| d.size)
}

fn table(cx: &mut Ctx, headers: &[String], rows: &[Vec<String>], align: &[bool]) {
    let mut w: Vec<usize> = headers.iter().map(String::len).collect();
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            w[i] = w[i].max(v.len());
        }
    }
    let line = |vals: &[String]| -> String {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            let last = i + 1 == vals.len();
            if align[i] {
                s.push_str(&format!("{:>w$}", v, w = w[i]));
            } else if last {
                s.push_str(v);
            } else {
                s.push_str(&format!("{:<w$}", v, w = w[i]));
            }
            if !last {
                s.push_str("  ");
            }
        }
        s
    };
    cx.outln(&line(headers));
    for r in rows {
        cx.outln(&line(r));
    }
}

fn valid_prop(p: &str) -> bool {
    p == "name" || p == "space" || zp::lookup(p).is_some() || zp::is_user_prop(p)
}

fn list(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "rHpd:o:s:S:t:") else {
        return 2;
    };
    let mut cols: Vec<String> = o
        .val('o')
        .unwrap_or("name,used,available,referenced,mountpoint")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if cols.iter().any(|c| c == "space") {
        cols = [
            "name",
            "avail",
            "used",
            "usedsnap",
            "usedds",
            "usedrefreserv",
            "usedchild",
        ]
        .map(String::from)
        .to_vec();
    }
    if let Some(bad) = cols.iter().find(|c| !valid_prop(c)) {
        return usage(cx, &format!("bad property list: invalid property '{bad}'"));
    }
    let types = match o.val('t').map(parse_types) {
        Some(Ok(t)) => t,
        Some(Err(t)) => return usage(cx, &format!("invalid type '{t}'")),
        None => zp::FS | zp::VOL,
    };
    let depth = match o.val('d').map(str::parse::<usize>) {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            return usage(
                cx,
                &format!("invalid depth '{}'", o.val('d').unwrap_or_default()),
            )
        }
        None => None,
    };
    let w = Walk {
        snapshots_of_operand: true,
        types,
        depth,
        recurse: o.has('r'),
    };
    let (mut names, failed) = walk(cx, &o.operands, &w, o.has('t'));
    for (flag, rev) in [('s', false), ('S', true)] {
        if let Some(prop) = o.val(flag) {
            let st = &cx.st;
            let key = |n: &String| {
                let v = if prop == "name" {
                    n.clone()
                } else {
                    value(st, n, prop).map(|v| v.0).unwrap_or_default()
                };
                (v.parse::<u64>().ok(), v)
            };
            names.sort_by(|a, b| {
                if rev {
                    key(b).cmp(&key(a))
                } else {
                    key(a).cmp(&key(b))
                }
            });
        }
    }
    let parsable = o.has('p');
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            cols.iter()
                .map(|c| column_value(&cx.st, n, c, parsable))
                .collect()
        })
        .collect();
    if o.has('H') {
        for r in rows {
            cx.outln(&r.join("\t"));
        }
    } else if rows.is_empty() {
        if !failed {
            cx.errln("no datasets available");
        }
    } else {
        let headers: Vec<String> = cols
            .iter()
            .map(|c| match c.as_str() {
                "available" | "avail" => "AVAIL".into(),
                "referenced" | "refer" => "REFER".into(),
                _ => c.to_uppercase(),
            })
            .collect();
        let align: Vec<bool> = cols.iter().map(|c| right_aligned(c)).collect();
        table(cx, &headers, &rows, &align);
    }
    i32::from(failed)
}

fn get(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "rHpd:o:s:t:") else {
        return 2;
    };
    let Some(props_arg) = o.operands.first().cloned() else {
        return usage(cx, "missing property argument");
    };
    let fields: Vec<String> = match o.val('o') {
        None | Some("all") => ["name", "property", "value", "source"]
            .map(String::from)
            .to_vec(),
        Some(s) => s.split(',').map(String::from).collect(),
    };
    if let Some(bad) = fields
        .iter()
        .find(|f| !["name", "property", "value", "source", "received"].contains(&f.as_str()))
    {
        return usage(cx, &format!("invalid field '{bad}'"));
    }
    let all = props_arg == "all";
    let props: Vec<String> = if all {
        Vec::new()
    } else {
        props_arg.split(',').map(String::from).collect()
    };
    if let Some(bad) = props.iter().find(|p| !valid_prop(p)) {
        return usage(cx, &format!("bad property list: invalid property '{bad}'"));
    }
    let sources: Option<Vec<String>> = o.val('s').map(|s| s.split(',').map(String::from).collect());
    let types = match o.val('t').map(parse_types) {
        Some(Ok(t)) => t,
        Some(Err(t)) => return usage(cx, &format!("invalid type '{t}'")),
        None => zp::FS | zp::VOL | zp::SNAP,
    };
    let depth = o.val('d').and_then(|d| d.parse().ok());
    let w = Walk {
        snapshots_of_operand: false,
        types,
        depth,
        recurse: o.has('r'),
    };
    let (names, failed) = walk(cx, &o.operands[1..], &w, true);
    let parsable = o.has('p');
    let mut rows = Vec::new();
    for n in &names {
        let Some(d) = cx.st.datasets.get(n) else {
            continue;
        };
        let plist: Vec<String> = if all {
            let mut v: Vec<String> = zp::PROPS
                .iter()
                .filter(|p| p.applies & zp::mask(d.kind) != 0)
                .map(|p| p.name.to_string())
                .collect();
            let mut user: BTreeSet<String> = BTreeSet::new();
            let mut cur = Some(n.split('@').next().unwrap_or(n).to_string());
            user.extend(d.props.keys().filter(|k| zp::is_user_prop(k)).cloned());
            while let Some(c) = cur {
                if let Some(x) = cx.st.datasets.get(&c) {
                    user.extend(
                        x.props
                            .keys()
                            .chain(x.received.keys())
                            .filter(|k| zp::is_user_prop(k))
                            .cloned(),
                    );
                }
                cur = parent(&c).map(String::from);
            }
            v.extend(user);
            v
        } else {
            props.clone()
        };
        for p in plist {
            let (val, src) = if p == "name" {
                (n.clone(), "-".to_string())
            } else {
                match value(&cx.st, n, &p) {
                    Some((v, s)) => (zp::render(&p, &v, parsable), s),
                    None => ("-".into(), "-".into()),
                }
            };
            if let Some(f) = &sources {
                let kind = match src.as_str() {
                    "-" => "none",
                    s if s.starts_with("inherited") => "inherited",
                    s => s,
                };
                if !f.iter().any(|x| x == kind) {
                    continue;
                }
            }
            let received = cx
                .st
                .datasets
                .get(n)
                .and_then(|d| d.received.get(&p))
                .cloned()
                .unwrap_or("-".into());
            let row: Vec<String> = fields
                .iter()
                .map(|f| match f.as_str() {
                    "name" => n.clone(),
                    "property" => canon(&p),
                    "value" => val.clone(),
                    "source" => src.clone(),
                    _ => received.clone(),
                })
                .collect();
            rows.push(row);
        }
    }
    if o.has('H') {
        for r in rows {
            cx.outln(&r.join("\t"));
        }
    } else if !rows.is_empty() {
        let headers: Vec<String> = fields.iter().map(|f| f.to_uppercase()).collect();
        let align = vec![false; fields.len()];
        table(cx, &headers, &rows, &align);
    }
    i32::from(failed)
}

fn set(cx: &mut Ctx, args: &[String]) -> i32 {
    let split = args
        .iter()
        .position(|a| !a.contains('='))
        .unwrap_or(args.len());
    let (kvs, targets) = args.split_at(split);
    if kvs.is_empty() {
        return usage(cx, "missing property=value argument(s)");
    }
    if targets.is_empty() {
        return usage(cx, "missing dataset name(s)");
    }
    let mut rc = 0;
    for t in targets {
        let Some(kind) = cx.st.datasets.get(t).map(|d| d.kind) else {
            rc = missing(cx, t);
            continue;
        };
        let mut staged = Vec::new();
        for kv in kvs {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let val = match zp::normalise(k, v) {
                Ok(val) => val,
                Err(why) => {
                    cx.errln(&format!("cannot set property for '{t}': {why}"));
                    return 1;
                }
            };
            if zp::lookup(k).is_some_and(|d| {
                d.applies & zp::mask(kind) == 0 || (kind == DsKind::Snapshot && d.name == "volsize")
            }) {
                cx.errln(&format!(
                    "cannot set property for '{t}': '{}' does not apply to datasets of this type",
                    canon(k)
                ));
                return 1;
            }
            if canon(k) == "volblocksize" {
                cx.errln(&format!(
                    "cannot set property for '{t}': 'volblocksize' is readonly"
                ));
                return 1;
            }
            staged.push((canon(k), val));
        }
        for (k, val) in staged {
            let d = cx.st.datasets.get_mut(t).expect("checked above");
            if k == "volsize" {
                let n: u64 = val.parse().unwrap_or(0);
                let n = n.div_ceil(131_072) * 131_072;
                let old = d.props.get("volsize").cloned();
                if d.props.get("refreservation") == old.as_ref() && old.is_some() {
                    d.props.insert("refreservation".into(), n.to_string());
                }
                d.props.insert(k.clone(), n.to_string());
            } else {
                d.props.insert(k.clone(), val);
            }
            if k == "mountpoint" || k == "canmount" {
                let mut all = vec![t.clone()];
                all.extend(
                    descendants(&cx.st, t)
                        .into_iter()
                        .filter(|x| !x.contains('@')),
                );
                for x in all {
                    materialise(cx, &x);
                }
            }
        }
        cx.touch();
    }
    rc
}

fn inherit(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "rS") else {
        return 2;
    };
    let [prop, targets @ ..] = o.operands.as_slice() else {
        return usage(cx, "missing property argument");
    };
    if targets.is_empty() {
        return usage(cx, "missing dataset argument");
    }
    if let Some(d) = zp::lookup(prop) {
        if !d.inherit && d.name != "mountpoint" {
            cx.errln(&format!("'{}' property cannot be inherited", d.name));
            return 1;
        }
    } else if !zp::is_user_prop(prop) {
        cx.errln(&format!("invalid property '{prop}'"));
        return 1;
    }
    let p = canon(prop);
    for t in targets {
        if !cx.st.datasets.contains_key(t) {
            return missing(cx, t);
        }
        let mut all = vec![t.clone()];
        if o.has('r') {
            all.extend(descendants(&cx.st, t));
        }
        for x in all {
            if let Some(d) = cx.st.datasets.get_mut(&x) {
                d.props.remove(&p);
            }
        }
        cx.touch();
    }
    0
}

/// What `zfs send` writes: not the real DRR format, but a stream `recv` checks just as
/// strictly (magic, then a JSON description of the datasets and snapshots).
#[derive(Serialize, Deserialize)]
struct Stream {
    snap: String,
    from: Option<String>,
    entries: Vec<StreamEntry>,
}

#[derive(Serialize, Deserialize)]
struct StreamEntry {
    rel: String,
    kind: DsKind,
    referenced: u64,
    volsize: Option<String>,
    props: BTreeMap<String, String>,
    snaps: Vec<String>,
}

fn send(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "DLPRbcehnpvwi:I:") else {
        return 2;
    };
    let [snap] = o.operands.as_slice() else {
        return usage(cx, "missing snapshot argument");
    };
    let Some((fs, sname)) = snap.split_once('@') else {
        cx.errln(&format!(
            "cannot send '{snap}': missing '@' delimiter in snapshot name"
        ));
        return 1;
    };
    if !cx.st.datasets.contains_key(snap) {
        return missing(cx, snap);
    }
    let from = match o.val('i').or(o.val('I')) {
        Some(f) => {
            let f = if f.starts_with('@') {
                format!("{fs}{f}")
            } else {
                f.to_string()
            };
            let Some(fd) = cx.st.datasets.get(&f) else {
                return missing(cx, &f);
            };
            if !f.starts_with(&format!("{fs}@")) || fd.txg >= cx.st.datasets[snap.as_str()].txg {
                cx.errln(&format!(
                    "cannot send '{snap}': not an earlier snapshot from the same fs"
                ));
                return 1;
            }
            Some(f.split('@').nth(1).unwrap_or_default().to_string())
        }
        None => None,
    };
    if std::io::stdout().is_terminal() && !o.has('n') {
        cx.errln("Error: Stream can not be written to a terminal.");
        cx.errln("You must redirect standard output.");
        return 1;
    }
    let with_props = o.has('p') || o.has('R');
    let mut sources = vec![fs.to_string()];
    if o.has('R') {
        sources.extend(
            descendants(&cx.st, fs).into_iter().filter(|d| {
                !d.contains('@') && cx.st.datasets.contains_key(&format!("{d}@{sname}"))
            }),
        );
    }
    let mut entries = Vec::new();
    for s in sources {
        let d = &cx.st.datasets[&s];
        let sn = &cx.st.datasets[&format!("{s}@{sname}")];
        let snaps: Vec<String> = if o.has('R') {
            zp::snapshots(&cx.st, &s)
                .into_iter()
                .filter(|x| cx.st.datasets[*x].txg <= sn.txg)
                .map(|x| x.split('@').nth(1).unwrap_or_default().to_string())
                .collect()
        } else {
            vec![sname.to_string()]
        };
        let props = if with_props {
            d.props
                .iter()
                .filter(|(k, _)| k.as_str() != "volsize")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            BTreeMap::new()
        };
        entries.push(StreamEntry {
            rel: s[fs.len()..].to_string(),
            kind: d.kind,
            referenced: sn.referenced,
            volsize: sn.props.get("volsize").cloned(),
            props,
            snaps,
        });
    }
    if o.has('v') || o.has('P') {
        let kind = if from.is_some() {
            "incremental"
        } else {
            "full"
        };
        cx.errln(&format!(
            "{kind} send of {snap} estimated size is {}",
            zp::nicenum(entries[0].referenced)
        ));
    }
    if o.has('n') {
        return 0;
    }
    let stream = Stream {
        snap: snap.clone(),
        from,
        entries,
    };
    cx.out(STREAM_MAGIC);
    cx.outln(&serde_json::to_string(&stream).unwrap_or_default());
    0
}

fn receive(cx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(o) = opts(cx, args, "FhnsuvdeAo:x:") else {
        return 2;
    };
    let [target] = o.operands.as_slice() else {
        return usage(cx, "missing snapshot argument");
    };
    let Ok(kv) = parse_o(cx, &o) else { return 2 };
    if std::io::stdin().is_terminal() {
        cx.errln("Error: Backup can not be read from a terminal.");
        cx.errln("You must redirect standard input.");
        return 1;
    }
    // Read without holding the host lock: the sender may still be running.
    cx.unlock();
    let mut buf = Vec::new();
    let read = std::io::stdin().read_to_end(&mut buf);
    cx.relock();
    if read.is_err() || buf.is_empty() {
        cx.errln("cannot receive: failed to read from stream");
        return 1;
    }
    let Some(body) = buf.strip_prefix(STREAM_MAGIC.as_bytes()) else {
        cx.errln("cannot receive: invalid stream (bad magic number)");
        return 1;
    };
    let Ok(stream) = serde_json::from_slice::<Stream>(body) else {
        cx.errln("cannot receive: invalid stream (checksum mismatch)");
        return 1;
    };
    let (fs, snap_override) = match target.split_once('@') {
        Some((f, s)) => (f.to_string(), Some(s.to_string())),
        None => (target.clone(), None),
    };
    if let Err(why) = check_name(&fs, Some(false)) {
        cx.errln(&format!("cannot receive: invalid name '{target}': {why}"));
        return 1;
    }
    let sname = stream
        .snap
        .split('@')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let sname = snap_override.unwrap_or(sname);
    let excluded: Vec<&str> = o.vals('x');
    let local = match check_props(
        stream
            .entries
            .first()
            .map_or(DsKind::Filesystem, |e| e.kind),
        &kv,
    ) {
        Ok(p) => p,
        Err(why) => {
            cx.errln(&format!("cannot receive: {why}"));
            return 1;
        }
    };
    if let Some(from) = &stream.from {
        let Some(e) = stream.entries.first() else {
            return 1;
        };
        if !cx.st.datasets.contains_key(&fs) {
            cx.errln(&format!(
                "cannot receive incremental stream: destination '{fs}' does not exist"
            ));
            return 1;
        }
        let latest = zp::snapshots(&cx.st, &fs)
            .last()
            .map(|s| s.split('@').nth(1).unwrap_or_default().to_string());
        if latest.as_deref() != Some(from.as_str()) {
            cx.errln(&format!(
                "cannot receive incremental stream: most recent snapshot of {fs} does not\nmatch incremental source"
            ));
            return 1;
        }
        if o.has('n') {
            return 0;
        }
        let mut d = new_ds(&mut cx.st, DsKind::Snapshot, e.referenced);
        if let Some(v) = &e.volsize {
            d.props.insert("volsize".into(), v.clone());
        }
        cx.st.datasets.insert(format!("{fs}@{sname}"), d);
        if let Some(x) = cx.st.datasets.get_mut(&fs) {
            x.referenced = e.referenced;
        }
        cx.touch();
        return 0;
    }
    if cx.st.datasets.contains_key(&fs) && !o.has('F') {
        cx.errln(&format!(
            "cannot receive new filesystem stream: destination '{fs}' exists"
        ));
        cx.errln("must specify -F to overwrite it");
        return 1;
    }
    if let Some(p) = parent(&fs) {
        if !cx.st.datasets.contains_key(p) {
            cx.errln(&format!(
                "cannot receive new filesystem stream: parent of '{fs}' does not exist"
            ));
            return 1;
        }
    } else {
        cx.errln(&format!(
            "cannot receive new filesystem stream: destination '{fs}' exists"
        ));
        cx.errln("must specify -F to overwrite it");
        return 1;
    }
    if o.has('n') {
        return 0;
    }
    if cx.st.datasets.contains_key(&fs) {
        let old: Vec<String> = zp::snapshots(&cx.st, &fs)
            .into_iter()
            .map(String::from)
            .collect();
        remove_all(cx, old);
    }
    for e in &stream.entries {
        let name = format!("{fs}{}", e.rel);
        let mut d = new_ds(&mut cx.st, e.kind, e.referenced);
        d.received = e
            .props
            .iter()
            .filter(|(k, _)| !excluded.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if e.rel.is_empty() {
            d.props = local.clone();
        }
        if let Some(v) = &e.volsize {
            d.props.insert("volsize".into(), v.clone());
        }
        cx.st.datasets.insert(name.clone(), d);
        let snaps = if e.rel.is_empty() && e.snaps.len() == 1 {
            vec![sname.clone()]
        } else {
            e.snaps.clone()
        };
        for s in snaps {
            let mut sd = new_ds(&mut cx.st, DsKind::Snapshot, e.referenced);
            if let Some(v) = &e.volsize {
                sd.props.insert("volsize".into(), v.clone());
            }
            cx.st.datasets.insert(format!("{name}@{s}"), sd);
        }
        if !o.has('u') {
            materialise(cx, &name);
        }
        if o.has('v') {
            cx.outln(&format!(
                "receiving full stream of {} into {name}@{sname}",
                stream.snap
            ));
        }
    }
    cx.touch();
    0
}

/// Destroys a dataset and everything under it (zoneadm uninstall of the zonepath dataset).
pub fn destroy_tree(cx: &mut Ctx, name: &str) {
    let mut all = descendants(&cx.st, name);
    all.push(name.to_string());
    remove_all(cx, all);
}
