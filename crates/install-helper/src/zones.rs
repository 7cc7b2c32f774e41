//! A zone's zonepath as the system knows it, and what zoneadm guarantees of it.
//!
//! The zonepath comes from `/etc/zones/index` (root's, mode 0644: `ZONE_INDEX_UID`/`_MODE`
//! in libzonecfg's zonecfg_impl.h), the file zoneadm itself reads zones from (`setzoneent`,
//! `getzoneent_private` in libzonecfg's getzoneent.c): one `name:state:zonepath:uuid` line per
//! zone, a zonepath holding a `:` in double quotes, `#` starting a comment. The caller names
//! only the zone, so it cannot point the helper at a directory that merely looks like one.
//!
//! zoneadm refuses to install or boot a zone whose zonepath is not as `validate_zonepath`
//! (illumos-gate usr/src/cmd/zoneadm/zoneadm.c) wants it: the path resolves to itself (no
//! symbolic link on the way), is a directory owned by root with owner rwx and no group or
//! world bit (0700), and its parent is owned by root, owner rwx, not group- or
//! world-writable. The helper checks the same before it looks inside: a directory anyone else
//! owns or may enter is not a zone's, whatever the index says.

use crate::beneath::{self, Dir};
use crate::policy::IPath;
use crate::trusted;

/// The index, relative to the helper's root.
pub const INDEX: &str = "/etc/zones/index";

/// A zone name as zonecfg allows one: 1 to 63 characters (`ZONENAME_MAX` is 64 with the
/// NUL), alphanumeric first, then alphanumerics, `-`, `_` and `.`; never `global`.
pub fn check_name(zone: &str) -> Result<(), String> {
    let valid = (1..64).contains(&zone.len())
        && zone.starts_with(|c: char| c.is_ascii_alphanumeric())
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid || zone == "global" {
        return Err(format!("{zone:?} is not a non-global zone's name"));
    }
    Ok(())
}

/// One `:`-separated field of an index line, as libzonecfg's `gettok` reads it: a field that
/// starts with `"` runs to the next `"` (what follows up to the next `:` is dropped).
fn field<'a>(rest: &mut Option<&'a str>) -> &'a str {
    let Some(s) = rest.take() else {
        return "";
    };
    let (value, after) = match s.strip_prefix('"') {
        Some(q) => match q.split_once('"') {
            Some((v, after)) => (v, after),
            None => (q, ""),
        },
        None => match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        },
    };
    *rest = after.split_once(':').map(|(_, r)| r);
    value
}

/// The zonepath of `zone` in the index text, if the zone is installed (a running zone is
/// `installed` there: the index keeps only the persistent states).
pub fn zonepath_in(index: &str, zone: &str) -> Result<IPath, String> {
    for line in index.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut rest = Some(line.trim_end_matches('\r'));
        if field(&mut rest) != zone {
            continue;
        }
        let state = field(&mut rest);
        if state != "installed" {
            return Err(format!(
                "zone {zone} is {state} ({INDEX}), not installed: it has no root to reach"
            ));
        }
        let path = field(&mut rest);
        return IPath::parse(path)
            .map_err(|e| format!("zone {zone}'s zonepath in {INDEX} is unusable: {e}"));
    }
    Err(format!("there is no zone {zone} ({INDEX})"))
}

/// The zonepath of `zone`, read from the index below `root`.
pub fn zonepath(root: &Dir, zone: &str) -> Result<IPath, String> {
    check_name(zone)?;
    let path = IPath::parse(INDEX).expect("a valid constant");
    let bytes = trusted::read(root, &path, INDEX)?
        .ok_or_else(|| format!("{INDEX} is missing: no zone is known"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{INDEX} is not text"))?;
    zonepath_in(&text, zone)
}

/// What zoneadm requires of the zonepath directory itself: root's, mode 0700.
pub fn check_zonepath(shown: &IPath, uid: libc::uid_t, mode: libc::mode_t) -> Result<(), String> {
    if uid != 0 {
        return Err(format!(
            "zonepath {shown} is owned by uid {uid}, not root (zoneadm requires root)"
        ));
    }
    if mode & 0o777 != 0o700 {
        return Err(format!(
            "zonepath {shown} has mode {:04o}, not 0700 (zoneadm requires 0700)",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// What zoneadm requires of the zonepath's parent: root's, owner rwx, not group- or
/// world-writable.
pub fn check_parent(shown: &str, uid: libc::uid_t, mode: libc::mode_t) -> Result<(), String> {
    if uid != 0 {
        return Err(format!(
            "{shown}, the zonepath's parent, is owned by uid {uid}, not root (zoneadm requires root)"
        ));
    }
    if mode & 0o700 != 0o700 || mode & 0o022 != 0 {
        return Err(format!(
            "{shown}, the zonepath's parent, has mode {:04o}: zoneadm requires owner rwx and \
             no group or world write",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Opens the zonepath without following a link anywhere on the way, after checking it and
/// its parent as zoneadm does. What is checked is the directory then used: the socket is
/// reached from this descriptor, not by its path again.
pub fn open_zonepath(root: &Dir, zonepath: &IPath) -> Result<Dir, String> {
    let (parent, name) = beneath::parent_of(root, zonepath)?;
    let n = zonepath.components().len();
    let parent_shown = if n > 1 {
        zonepath.prefix(n - 1).to_string()
    } else {
        "/".to_owned()
    };
    let st = parent
        .stat()
        .map_err(|e| format!("cannot look at {parent_shown}: {e}"))?;
    check_parent(&parent_shown, st.st_uid, st.st_mode)?;
    let dir = parent.sub_dir(name, zonepath)?;
    let st = dir
        .stat()
        .map_err(|e| format!("cannot look at {zonepath}: {e}"))?;
    check_zonepath(zonepath, st.st_uid, st.st_mode)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As zoneadm and zonecfg write it: the global zone's line, a configured zone without a
    /// uuid, a zonepath with a ':' quoted.
    const INDEX_TEXT: &str = "# DO NOT EDIT: this file is automatically generated by zoneadm(8)\n\
        # and zonecfg(8).  Any manual changes will be lost.\n\
        #\n\
        global:installed:/\n\
        web:installed:/rpool/zones/web:8a1c4f6e-30f1-4a1e-9a3d-2f4c1b0e7d55\n\
        new:configured:/rpool/zones/new:\n\
        odd:installed:\"/rpool/zones/a:b\":0c1d2e3f-0000-4000-8000-000000000001\n";

    #[test]
    fn the_index_gives_an_installed_zones_zonepath() {
        assert_eq!(
            zonepath_in(INDEX_TEXT, "web").unwrap().to_string(),
            "/rpool/zones/web"
        );
        assert_eq!(
            zonepath_in(INDEX_TEXT, "odd").unwrap().to_string(),
            "/rpool/zones/a:b",
            "a quoted zonepath keeps its ':'"
        );
    }

    #[test]
    fn a_zone_not_installed_or_not_there_has_no_zonepath() {
        let e = zonepath_in(INDEX_TEXT, "new").unwrap_err();
        assert!(e.contains("is configured"), "{e}");
        let e = zonepath_in(INDEX_TEXT, "gone").unwrap_err();
        assert!(e.contains("there is no zone gone"), "{e}");
        // A prefix of a name is not the name.
        assert!(zonepath_in(INDEX_TEXT, "we").is_err());
        // The global zone's zonepath is "/", never a zone root.
        assert!(zonepath_in(INDEX_TEXT, "global").is_err());
    }

    #[test]
    fn zone_names_follow_zonecfgs_rules() {
        for ok in ["web", "vm1", "a.b-c_d", &"z".repeat(63)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "global",
            "-x",
            ".x",
            "a/b",
            "a:b",
            "a b",
            &"z".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_zonepath_must_be_roots_and_0700_its_parent_roots_and_not_writable_by_others() {
        let p = IPath::parse("/rpool/zones/web").unwrap();
        assert!(check_zonepath(&p, 0, 0o040700).is_ok());
        let e = check_zonepath(&p, 1000, 0o040700).unwrap_err();
        assert!(e.contains("owned by uid 1000, not root"), "{e}");
        for mode in [0o755, 0o750, 0o701, 0o710, 0o600] {
            let e = check_zonepath(&p, 0, mode).unwrap_err();
            assert!(e.contains("not 0700"), "{mode:o}: {e}");
        }
        let parent = "/rpool/zones";
        assert!(check_parent(parent, 0, 0o755).is_ok());
        assert!(check_parent(parent, 0, 0o700).is_ok());
        assert!(check_parent(parent, 0, 0o1777).is_err());
        assert!(check_parent(parent, 0, 0o775).is_err());
        assert!(check_parent(parent, 0, 0o555).is_err());
        assert!(check_parent(parent, 1000, 0o755).is_err());
    }
}
