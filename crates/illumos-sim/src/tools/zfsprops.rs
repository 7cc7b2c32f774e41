//! ZFS properties: the native property table, inheritance, computed space accounting, value
//! rendering (`-p` exact numbers vs human units), sizes and dataset-name rules.

use crate::state::{DsKind, State};
use crate::timefmt;

pub const FS: u8 = 1;
pub const VOL: u8 = 2;
pub const SNAP: u8 = 4;
const ALL: u8 = FS | VOL | SNAP;

pub struct PropDef {
    pub name: &'static str,
    pub alias: &'static str,
    pub applies: u8,
    pub inherit: bool,
    pub readonly: bool,
    pub size: bool,
    /// Default value, or "" when the property has none (read-only, computed).
    pub default: &'static str,
    /// Allowed values for index properties (empty: free form or numeric).
    pub values: &'static [&'static str],
}

#[allow(clippy::too_many_arguments)] // a table row: positional reads best
const fn p(
    name: &'static str,
    alias: &'static str,
    applies: u8,
    inherit: bool,
    readonly: bool,
    size: bool,
    default: &'static str,
    values: &'static [&'static str],
) -> PropDef {
    PropDef {
        name,
        alias,
        applies,
        inherit,
        readonly,
        size,
        default,
        values,
    }
}

const ONOFF: &[&str] = &["on", "off"];

/// In `zfs get all` order.
pub const PROPS: &[PropDef] = &[
    p("type", "", ALL, false, true, false, "", &[]),
    p("creation", "", ALL, false, true, false, "", &[]),
    p("used", "", ALL, false, true, true, "", &[]),
    p("available", "avail", FS | VOL, false, true, true, "", &[]),
    p("referenced", "refer", ALL, false, true, true, "", &[]),
    p("compressratio", "ratio", ALL, false, true, false, "", &[]),
    p("mounted", "", FS, false, true, false, "", &[]),
    p("origin", "", FS | VOL, false, true, false, "", &[]),
    p("quota", "", FS, false, false, true, "0", &[]),
    p(
        "reservation",
        "reserv",
        FS | VOL,
        false,
        false,
        true,
        "0",
        &[],
    ),
    p(
        "recordsize",
        "recsize",
        FS,
        true,
        false,
        true,
        "131072",
        &[],
    ),
    p("mountpoint", "", FS, true, false, false, "", &[]),
    p(
        "checksum",
        "",
        FS | VOL,
        true,
        false,
        false,
        "on",
        &[
            "on",
            "off",
            "fletcher2",
            "fletcher4",
            "sha256",
            "sha512",
            "skein",
            "edonr",
        ],
    ),
    p(
        "compression",
        "compress",
        FS | VOL,
        true,
        false,
        false,
        "off",
        &[
            "on", "off", "lzjb", "gzip", "gzip-1", "gzip-2", "gzip-3", "gzip-4", "gzip-5",
            "gzip-6", "gzip-7", "gzip-8", "gzip-9", "zle", "lz4",
        ],
    ),
    p("atime", "", FS, true, false, false, "on", ONOFF),
    p("devices", "", FS, true, false, false, "on", ONOFF),
    p("exec", "", FS, true, false, false, "on", ONOFF),
    p("setuid", "", FS, true, false, false, "on", ONOFF),
    p(
        "readonly",
        "rdonly",
        FS | VOL,
        true,
        false,
        false,
        "off",
        ONOFF,
    ),
    p("zoned", "", FS, true, false, false, "off", ONOFF),
    p(
        "canmount",
        "",
        FS,
        false,
        false,
        false,
        "on",
        &["on", "off", "noauto"],
    ),
    p(
        "copies",
        "",
        FS | VOL,
        true,
        false,
        false,
        "1",
        &["1", "2", "3"],
    ),
    p("refquota", "", FS, false, false, true, "0", &[]),
    p(
        "refreservation",
        "refreserv",
        FS | VOL,
        false,
        false,
        true,
        "0",
        &[],
    ),
    p(
        "primarycache",
        "",
        ALL,
        true,
        false,
        false,
        "all",
        &["all", "none", "metadata"],
    ),
    p(
        "secondarycache",
        "",
        ALL,
        true,
        false,
        false,
        "all",
        &["all", "none", "metadata"],
    ),
    p(
        "usedbysnapshots",
        "usedsnap",
        FS | VOL,
        false,
        true,
        true,
        "",
        &[],
    ),
    p(
        "usedbydataset",
        "usedds",
        FS | VOL,
        false,
        true,
        true,
        "",
        &[],
    ),
    p(
        "usedbychildren",
        "usedchild",
        FS | VOL,
        false,
        true,
        true,
        "",
        &[],
    ),
    p(
        "usedbyrefreservation",
        "usedrefreserv",
        FS | VOL,
        false,
        true,
        true,
        "",
        &[],
    ),
    p(
        "sync",
        "",
        FS | VOL,
        true,
        false,
        false,
        "standard",
        &["standard", "always", "disabled"],
    ),
    p(
        "dedup",
        "",
        FS | VOL,
        true,
        false,
        false,
        "off",
        &["on", "off", "verify", "sha256"],
    ),
    p("written", "", ALL, false, true, true, "", &[]),
    p("logicalused", "lused", FS | VOL, false, true, true, "", &[]),
    p(
        "logicalreferenced",
        "lrefer",
        ALL,
        false,
        true,
        true,
        "",
        &[],
    ),
    p("volsize", "", VOL | SNAP, false, false, true, "", &[]),
    p(
        "volblocksize",
        "volblock",
        VOL,
        false,
        false,
        true,
        "8192",
        &[],
    ),
    p("createtxg", "", ALL, false, true, false, "", &[]),
    p("guid", "", ALL, false, true, false, "", &[]),
];

pub fn lookup(name: &str) -> Option<&'static PropDef> {
    PROPS
        .iter()
        .find(|d| d.name == name || (!d.alias.is_empty() && d.alias == name))
}

pub fn mask(kind: DsKind) -> u8 {
    match kind {
        DsKind::Filesystem => FS,
        DsKind::Volume => VOL,
        DsKind::Snapshot => SNAP,
    }
}

/// User properties: contain ':'; lower-case letters, digits, ':', '-', '.', '_'; not '-' first.
pub fn is_user_prop(name: &str) -> bool {
    name.contains(':')
        && name.len() <= 256
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ":-._".contains(c))
}

/// Dataset name check; `Err` holds libzfs's reason (`invalid character 'X' in name`).
pub fn check_name(name: &str, snapshot: Option<bool>) -> Result<(), String> {
    if name.len() >= 256 {
        return Err("name is too long".into());
    }
    if name.starts_with('/') {
        return Err("leading slash in name".into());
    }
    let ats = name.matches('@').count();
    if ats > 1 {
        return Err("multiple '@' delimiters in name".into());
    }
    match snapshot {
        Some(true) if ats == 0 => return Err("missing '@' delimiter in snapshot name".into()),
        Some(false) if ats == 1 => return Err("snapshot delimiter '@' is not expected here".into()),
        _ => {}
    }
    let (fs, snap) = match name.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (name, None),
    };
    if fs.ends_with('/') {
        return Err("trailing slash in name".into());
    }
    if fs.split('/').count() > 50 {
        return Err("name is too long".into());
    }
    for comp in fs.split('/').chain(snap) {
        if comp.is_empty() {
            return Err("empty component in name".into());
        }
        if let Some(c) = comp
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || "_.:- ".contains(c)))
        {
            return Err(format!("invalid character '{c}' in name"));
        }
    }
    let pool = fs.split('/').next().unwrap_or_default();
    if !pool.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("pool name must begin with a letter".into());
    }
    Ok(())
}

/// `10G`, `1.5g`, `512M`, `100`, `1TB` → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suf) = s.split_at(end);
    if num.is_empty() {
        return None;
    }
    let suf = suf.to_ascii_uppercase();
    let suf = suf
        .strip_suffix('B')
        .filter(|x| !x.is_empty())
        .unwrap_or(&suf);
    let shift = match suf {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return None,
    };
    if num.contains('.') {
        if shift == 0 {
            return None;
        }
        let f: f64 = num.parse().ok()?;
        Some((f * (1u64 << shift) as f64) as u64)
    } else {
        num.parse::<u64>().ok()?.checked_mul(1u64 << shift)
    }
}

/// libzfs `zfs_nicenum`: at most 3 significant digits plus a unit, exact multiples bare.
pub fn nicenum(n: u64) -> String {
    const U: [char; 7] = [' ', 'K', 'M', 'G', 'T', 'P', 'E'];
    let mut i = 0;
    let mut v = n;
    while v >= 1024 && i < 6 {
        v /= 1024;
        i += 1;
    }
    if i == 0 {
        return n.to_string();
    }
    if n & ((1u64 << (10 * i)) - 1) == 0 {
        return format!("{}{}", n >> (10 * i), U[i]);
    }
    let f = n as f64 / (1u64 << (10 * i)) as f64;
    for prec in (0..=2).rev() {
        let s = format!("{:.*}{}", prec, f, U[i]);
        if s.len() <= 5 {
            return s;
        }
    }
    format!("{:.0}{}", f, U[i])
}

pub fn parent(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(p, _)| p)
}

/// Direct children (filesystems and volumes) of `name`.
pub fn children<'a>(st: &'a State, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}/");
    st.datasets
        .keys()
        .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/') && !k.contains('@'))
        .map(String::as_str)
        .collect()
}

pub fn snapshots<'a>(st: &'a State, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}@");
    let mut v: Vec<&str> = st
        .datasets
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .map(String::as_str)
        .collect();
    v.sort_by_key(|k| st.datasets[*k].txg);
    v
}

fn num_local(st: &State, name: &str, prop: &str) -> u64 {
    st.datasets
        .get(name)
        .and_then(|d| d.props.get(prop))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn used(st: &State, name: &str) -> u64 {
    let Some(d) = st.datasets.get(name) else {
        return 0;
    };
    if d.kind == DsKind::Snapshot {
        return 0;
    }
    d.referenced
        + usedrefreserv(st, name)
        + children(st, name).iter().map(|c| used(st, c)).sum::<u64>()
}

fn usedrefreserv(st: &State, name: &str) -> u64 {
    let r = num_local(st, name, "refreservation");
    r.saturating_sub(st.datasets.get(name).map_or(0, |d| d.referenced))
}

pub fn pool_of(name: &str) -> &str {
    name.split(['/', '@']).next().unwrap_or(name)
}

/// Space the pool can still give out (the pool keeps 1/32 as slop, as ZFS does).
pub fn pool_avail(st: &State, pool: &str) -> u64 {
    let size = st.pools.get(pool).map_or(0, |p| p.size);
    (size - size / 32).saturating_sub(used(st, pool))
}

pub fn available(st: &State, name: &str) -> u64 {
    let mut a = pool_avail(st, pool_of(name)) + usedrefreserv(st, name);
    let mut cur = Some(name);
    while let Some(n) = cur {
        let q = num_local(st, n, "quota");
        if q > 0 {
            a = a.min(q.saturating_sub(used(st, n)));
        }
        cur = parent(n);
    }
    a
}

/// A property's value and source for display. `None` = does not apply (prints `-`).
/// Sizes are raw byte counts; callers format them.
pub fn value(st: &State, name: &str, prop: &str) -> Option<(String, String)> {
    let d = st.datasets.get(name)?;
    let ro = |v: String| Some((v, "-".to_string()));
    if is_user_prop(prop) {
        return inherited(st, name, prop).or_else(|| Some(("-".into(), "-".into())));
    }
    let def = lookup(prop)?;
    if def.applies & mask(d.kind) == 0 {
        return None;
    }
    let fs_part = name.split('@').next().unwrap_or(name);
    match def.name {
        "type" => ro(d.kind.as_str().into()),
        "creation" => ro(d.creation.to_string()),
        "used" => ro(used(st, name).to_string()),
        "available" => ro(available(st, name).to_string()),
        "referenced" | "logicalreferenced" => ro(d.referenced.to_string()),
        "logicalused" => ro(used(st, name).to_string()),
        "written" => ro(if d.kind == DsKind::Snapshot {
            "0".into()
        } else {
            d.referenced.to_string()
        }),
        "compressratio" => ro("1.00x".into()),
        "mounted" => {
            let (mp, _) = value(st, name, "mountpoint")?;
            let canmount = value(st, name, "canmount").map(|v| v.0).unwrap_or_default();
            ro(if mp.starts_with('/') && canmount == "on" {
                "yes"
            } else {
                "no"
            }
            .into())
        }
        "origin" => ro(d.origin.clone().unwrap_or_else(|| "-".into())),
        "usedbysnapshots" => ro("0".into()),
        "usedbydataset" => ro(d.referenced.to_string()),
        "usedbychildren" => ro(children(st, name)
            .iter()
            .map(|c| used(st, c))
            .sum::<u64>()
            .to_string()),
        "usedbyrefreservation" => ro(usedrefreserv(st, name).to_string()),
        "createtxg" => ro(d.txg.to_string()),
        "guid" => ro(d.guid.to_string()),
        "volsize" => {
            let v = st
                .datasets
                .get(fs_part)
                .and_then(|x| x.props.get("volsize"))
                .cloned();
            let v = d.props.get("volsize").cloned().or(v)?;
            Some((
                v,
                if d.kind == DsKind::Snapshot {
                    "-".into()
                } else {
                    "local".into()
                },
            ))
        }
        "mountpoint" => {
            if let Some(v) = d
                .props
                .get("mountpoint")
                .or_else(|| d.received.get("mountpoint"))
            {
                return Some((v.clone(), source_of(d, "mountpoint")));
            }
            let mut cur = parent(name);
            while let Some(a) = cur {
                if let Some(v) = st.datasets.get(a).and_then(|x| x.props.get("mountpoint")) {
                    if v == "none" || v == "legacy" {
                        return Some((v.clone(), format!("inherited from {a}")));
                    }
                    let rel = &name[a.len()..];
                    let v = if v == "/" {
                        rel.to_string()
                    } else {
                        format!("{v}{rel}")
                    };
                    return Some((v, format!("inherited from {a}")));
                }
                cur = parent(a);
            }
            Some((format!("/{name}"), "default".into()))
        }
        _ => {
            if def.inherit {
                inherited(st, name, def.name)
                    .or_else(|| Some((def.default.into(), "default".into())))
            } else if let Some(v) = d.props.get(def.name).or_else(|| d.received.get(def.name)) {
                Some((v.clone(), source_of(d, def.name)))
            } else {
                Some((def.default.into(), "default".into()))
            }
        }
    }
}

fn source_of(d: &crate::state::Dataset, prop: &str) -> String {
    if d.props.contains_key(prop) {
        "local".into()
    } else {
        "received".into()
    }
}

fn inherited(st: &State, name: &str, prop: &str) -> Option<(String, String)> {
    let d = st.datasets.get(name)?;
    if let Some(v) = d.props.get(prop).or_else(|| d.received.get(prop)) {
        return Some((v.clone(), source_of(d, prop)));
    }
    let mut cur = parent(name.split('@').next().unwrap_or(name));
    if name.contains('@') {
        cur = Some(name.split('@').next().unwrap_or(name));
    }
    while let Some(a) = cur {
        if let Some(v) = st
            .datasets
            .get(a)
            .and_then(|x| x.props.get(prop).or_else(|| x.received.get(prop)))
        {
            return Some((v.clone(), format!("inherited from {a}")));
        }
        cur = parent(a);
    }
    None
}

/// Renders a raw value for output.
pub fn render(prop: &str, raw: &str, parsable: bool) -> String {
    let def = lookup(prop);
    let canon = def.map_or(prop, |d| d.name);
    if canon == "creation" && !parsable {
        return raw
            .parse()
            .map(timefmt::zfs_date)
            .unwrap_or_else(|_| raw.into());
    }
    if def.is_some_and(|d| d.size) && raw != "-" {
        if parsable {
            return raw.into();
        }
        let n: u64 = raw.parse().unwrap_or(0);
        if n == 0
            && matches!(
                canon,
                "quota" | "reservation" | "refquota" | "refreservation"
            )
        {
            return "none".into();
        }
        return nicenum(n);
    }
    raw.into()
}

/// Validates a value being set; returns the value to store (sizes as bytes).
pub fn normalise(prop: &str, val: &str) -> Result<String, String> {
    let Some(def) = lookup(prop) else {
        if is_user_prop(prop) {
            if val.len() > 8192 {
                return Err(format!("property '{prop}' is too long"));
            }
            return Ok(val.into());
        }
        return Err(format!("invalid property '{prop}'"));
    };
    if def.readonly {
        return Err(format!("'{}' is readonly", def.name));
    }
    if def.size {
        if val == "none"
            && matches!(
                def.name,
                "quota" | "reservation" | "refquota" | "refreservation"
            )
        {
            return Ok("0".into());
        }
        return parse_size(val)
            .map(|n| n.to_string())
            .ok_or_else(|| format!("bad numeric value '{val}'"));
    }
    if !def.values.is_empty() && !def.values.contains(&val) {
        return Err(format!(
            "'{}' must be one of '{}'",
            def.name,
            def.values.join(" | ")
        ));
    }
    if def.name == "mountpoint" && !(val.starts_with('/') || val == "none" || val == "legacy") {
        return Err("'mountpoint' must be an absolute path, 'none', or 'legacy'".into());
    }
    Ok(val.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicenum_matches_libzfs() {
        assert_eq!(nicenum(98_304), "96K");
        assert_eq!(nicenum(1_610_612_736), "1.50G");
        assert_eq!(nicenum(21_474_836_480), "20G");
        assert_eq!(nicenum(11_274_289_152), "10.5G");
        assert_eq!(nicenum(1000), "1000");
    }

    #[test]
    fn sizes_and_names() {
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_size("512MB"), Some(512 << 20));
        assert_eq!(parse_size("abc"), None);
        assert!(check_name("rpool/zones/z1", Some(false)).is_ok());
        assert_eq!(
            check_name("rpool/a$b", None).unwrap_err(),
            "invalid character '$' in name"
        );
        assert_eq!(
            check_name("rpool//a", None).unwrap_err(),
            "empty component in name"
        );
        assert_eq!(
            check_name("rpool/a", Some(true)).unwrap_err(),
            "missing '@' delimiter in snapshot name"
        );
        assert!(
            is_user_prop("zoneweaver:owner")
                && !is_user_prop("Zoneweaver:owner")
                && !is_user_prop("owner")
        );
    }
}
