//! RBAC as `pfexec` applies it: the caller's profiles from `user_attr`, nested profiles from
//! `prof_attr`, and the first `exec_attr` entry of those profiles that names the program (by its
//! resolved path) with the attributes it runs with. Read from the emulated host's own files
//! (`<root>/etc/user_attr[.d]`, `<root>/etc/security/{prof,exec}_attr[.d]`), which `init`
//! installs from the package, so the profile tested is the profile shipped.

use std::path::{Path, PathBuf};

/// What a matched exec_attr entry changes (exec_attr(5): `euid`, `uid`, `egid`, `gid`; `privs`
/// and `limitprivs` have no Linux counterpart and are not modelled).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// The entry's profile and line, for messages.
    pub profile: String,
    pub euid: Option<String>,
    pub uid: Option<String>,
    pub egid: Option<String>,
    pub gid: Option<String>,
}

/// The lines of `file` and of every file in `file.d/`, in name order, comments and blank
/// lines dropped.
fn lines(root: &Path, file: &str) -> Vec<String> {
    let base = root.join(file.trim_start_matches('/'));
    let mut files: Vec<PathBuf> = vec![base.clone()];
    let dotd = PathBuf::from(format!("{}.d", base.display()));
    if let Ok(rd) = std::fs::read_dir(&dotd) {
        let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `key=value;key=value` → the value of `key`.
fn attr<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    attrs.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then_some(v.trim())
    })
}

/// The profiles `user` holds, in order, nested profiles after the one naming them.
pub fn profiles(root: &Path, user: &str) -> Vec<String> {
    let user_attr = lines(root, "/etc/user_attr");
    let prof_attr = lines(root, "/etc/security/prof_attr");
    let mut out: Vec<String> = Vec::new();
    // user_attr: user:qualifier:res1:res2:attr
    let direct: Vec<String> = user_attr
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(5, ':').collect();
            (f.len() == 5 && f[0] == user).then(|| f[4].to_string())
        })
        .filter_map(|a| attr(&a, "profiles").map(str::to_string))
        .flat_map(|p| {
            p.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    fn add(name: &str, prof_attr: &[String], out: &mut Vec<String>, depth: usize) {
        if depth > 8 || name.is_empty() || out.iter().any(|p| p == name) {
            return;
        }
        out.push(name.to_string());
        // prof_attr: name:res1:res2:desc:attr
        for l in prof_attr {
            let f: Vec<&str> = l.splitn(5, ':').collect();
            if f.len() == 5 && f[0] == name {
                if let Some(nested) = attr(f[4], "profiles") {
                    for n in nested.split(',') {
                        add(n.trim(), prof_attr, out, depth + 1);
                    }
                }
            }
        }
    }
    for p in direct {
        add(&p, &prof_attr, &mut out, 0);
    }
    out
}

/// Whether an exec_attr id (`/sbin/zfs`, `/usr/sbin/*`, `*`) names `program`.
fn id_matches(id: &str, program: &str) -> bool {
    if id == "*" || id == program {
        return true;
    }
    match id.strip_suffix("/*") {
        Some(dir) => program
            .strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.is_empty() && !name.contains('/')),
        None => false,
    }
}

/// The first entry of `user`'s profiles that names `program` (a resolved path); `None` when no
/// profile lists it, and the program then runs with the caller's own privileges.
pub fn lookup(root: &Path, user: &str, program: &str) -> Option<Grant> {
    let exec_attr = lines(root, "/etc/security/exec_attr");
    for profile in profiles(root, user) {
        for l in &exec_attr {
            // exec_attr: name:policy:type:res1:res2:id:attr
            let f: Vec<&str> = l.splitn(7, ':').collect();
            if f.len() != 7 || f[0] != profile || f[2] != "cmd" || !id_matches(f[5], program) {
                continue;
            }
            return Some(Grant {
                profile: profile.clone(),
                euid: attr(f[6], "euid").map(str::to_string),
                uid: attr(f[6], "uid").map(str::to_string),
                egid: attr(f[6], "egid").map(str::to_string),
                gid: attr(f[6], "gid").map(str::to_string),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(files: &[(&str, &str)]) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "sim-rbac-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (p, text) in files {
            let f = root.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        root
    }

    #[test]
    fn the_first_entry_of_the_users_profiles_naming_the_resolved_path_wins() {
        let root = host(&[
            (
                "/etc/user_attr.d/pkg",
                "# comment\nzoneweaver::::profiles=Zoneweaver Agent,Extra\nother::::profiles=Other\n",
            ),
            (
                "/etc/security/prof_attr.d/pkg",
                "Zoneweaver Agent:RO::Host tools:\nExtra:RO::More:profiles=Nested\nNested:RO::N:\n",
            ),
            (
                "/etc/security/exec_attr.d/pkg",
                "Zoneweaver Agent:solaris:cmd:RO::/sbin/zfs:euid=0\n\
                 Zoneweaver Agent:solaris:cmd:RO::/opt/ooce/bin/ansible-playbook:uid=zoneweaver-ansible;gid=zoneweaver-ansible\n\
                 Nested:solaris:cmd:RO::/usr/lib/*:euid=0\n\
                 Other:solaris:cmd:RO::*:euid=0\n",
            ),
        ]);
        assert_eq!(
            profiles(&root, "zoneweaver"),
            ["Zoneweaver Agent", "Extra", "Nested"]
        );
        let g = lookup(&root, "zoneweaver", "/sbin/zfs").unwrap();
        assert_eq!(g.euid.as_deref(), Some("0"));
        assert_eq!(g.uid, None);
        // The /usr/sbin link is not what pfexec sees: no entry, no privilege.
        assert_eq!(lookup(&root, "zoneweaver", "/usr/sbin/zfs"), None);
        let a = lookup(&root, "zoneweaver", "/opt/ooce/bin/ansible-playbook").unwrap();
        assert_eq!(a.uid.as_deref(), Some("zoneweaver-ansible"));
        assert_eq!(a.gid.as_deref(), Some("zoneweaver-ansible"));
        assert!(lookup(&root, "zoneweaver", "/usr/lib/x").is_some());
        assert!(lookup(&root, "zoneweaver", "/usr/lib/x/y").is_none());
        assert!(lookup(&root, "nobody", "/sbin/zfs").is_none());
        assert!(lookup(&root, "other", "/anything").is_some());
        let _ = std::fs::remove_dir_all(&root);
    }
}
