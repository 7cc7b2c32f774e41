//! The ARC tunables the agent keeps in `/etc/system.d/zfs-arc.conf` (the original's file),
//! read by the kernel at boot: `set zfs:NAME = VALUE` lines as system(5) gives them (a line
//! starting with `*` or `#` is a comment). Pure text in, text out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The file the original writes; `/etc/system.d/*` files are read at boot after /etc/system.
pub const PATH: &str = "/etc/system.d/zfs-arc.conf";

/// The tunables illumos' zfs module has and the agent sets, in the order it writes them.
pub const TUNABLES: [&str; 5] = [
    "zfs_arc_max",
    "zfs_arc_min",
    "zfs_arc_meta_limit",
    "zfs_arc_meta_min",
    "zfs_prefetch_disable",
];

/// Values by tunable name.
pub type Settings = BTreeMap<String, u64>;

/// The `set zfs:NAME = VALUE` lines of a file (decimal or `0x` hex, as system(5) takes them);
/// other lines are not the agent's and are ignored.
pub fn parse(text: &str) -> Settings {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("set")?.trim_start();
            let (name, value) = rest.split_once('=')?;
            let name = name.trim().strip_prefix("zfs:")?;
            let v = value.trim();
            let n = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok()?,
                None => v.parse().ok()?,
            };
            TUNABLES.contains(&name).then(|| (name.to_owned(), n))
        })
        .collect()
}

/// A change: each tunable is set to a value, or left out (`None`: its line removed, so the
/// kernel computes it at boot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub set: BTreeMap<String, Option<u64>>,
}

pub fn apply(mut current: Settings, change: &Change) -> Settings {
    for (k, v) in &change.set {
        match v {
            Some(v) => current.insert(k.clone(), *v),
            None => current.remove(k),
        };
    }
    current
}

pub fn render(s: &Settings) -> String {
    let mut out = String::from(
        "* ZFS ARC tunables, written by the Zoneweaver agent (PUT /system/zfs/arc/config).\n\
         * Read by the kernel at boot; POST /system/zfs/arc/reset removes this file.\n",
    );
    for name in TUNABLES {
        if let Some(v) = s.get(name) {
            out.push_str(&format!("set zfs:{name} = {v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_the_other_settings_and_removes_what_it_unsets() {
        let text = "* c\nset zfs:zfs_arc_max = 0x100000000\nset zfs:zfs_arc_min = 1073741824\nset zfs:zfs_arc_meta_limit = 5\nset maxusers = 4\n";
        let s = parse(text);
        assert_eq!(s["zfs_arc_max"], 1 << 32);
        assert_eq!(s.len(), 3);
        let change = Change {
            set: BTreeMap::from([
                ("zfs_arc_max".to_owned(), Some(8 << 30)),
                ("zfs_arc_meta_limit".to_owned(), None),
            ]),
        };
        let out = render(&apply(s, &change));
        assert!(
            out.contains("set zfs:zfs_arc_max = 8589934592\nset zfs:zfs_arc_min = 1073741824\n"),
            "{out}"
        );
        assert!(!out.contains("meta_limit"), "{out}");
        assert_eq!(parse(&out).len(), 2);
    }
}
