//! `zoneweaver-install`: the Zoneweaver agent's one privileged write path.
//!
//! The agent runs as the unprivileged user `zoneweaver`; its RBAC profile grants this program
//! `euid=0` (and nothing else that writes files), so it is the only way the agent changes
//! root-owned files. It does exactly six things, to targets the root-owned allow-list
//! `/etc/zoneweaver-agent/privileged-paths` names, and one read-only bridge (last below):
//!
//! ```text
//! zoneweaver-install backup TARGET          copy TARGET to TARGET.zw-backup; print existed|absent
//! zoneweaver-install install TARGET         new content on stdin, replaced atomically
//! zoneweaver-install restore TARGET         TARGET.zw-backup back over TARGET, atomically
//! zoneweaver-install remove TARGET          remove TARGET (and a stale temp file)
//! zoneweaver-install read TARGET            print TARGET (one the caller cannot read itself)
//! zoneweaver-install own-mountpoint DIR     chown an empty, root-owned DIR to the caller
//! zoneweaver-install vnc-connect ZONE SOCKET  bridge stdin/stdout to ZONE's VNC socket
//! ```
//!
//! `vnc-connect` writes nothing: it connects to a socket inside the zone's root, such as
//! `<zonepath>/root/tmp/vm.vnc` (the socket the bhyve brand gives a zone with `vnc=on`; the
//! zonepath is 0700 root, so the agent cannot reach it itself), the zonepath read from the
//! zones' own index, never from the caller; then it drops root and copies bytes both ways
//! until either side ends (`vnc.rs`, `zones.rs`).
//!
//! It reads neither the environment nor a caller-given root: the file system it acts on is the
//! one it is installed in (its own path minus `opt/zoneweaver/lib/zoneweaver-install`), which
//! is `/` on a real host and `<host>/root` on an emulated one. Every refusal names its reason,
//! exits 1 and changes nothing.

mod beneath;
mod policy;
mod trusted;
mod verbs;
mod vnc;
mod zones;

use std::path::{Path, PathBuf};

use policy::{IPath, Policy};

/// Where the package installs this program, relative to the root it serves.
const INSTALLED_AT: &str = "opt/zoneweaver/lib/zoneweaver-install";
/// The allow-list, relative to the root.
const POLICY: &str = "/etc/zoneweaver-agent/privileged-paths";

const USAGE: &str = "usage: zoneweaver-install backup|install|restore|remove|read TARGET
       zoneweaver-install own-mountpoint DIR
       zoneweaver-install vnc-connect ZONE SOCKET";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(()) => 0,
        Err(Refusal::Usage) => {
            eprintln!("{USAGE}");
            2
        }
        Err(Refusal::Refused(why)) => {
            eprintln!("zoneweaver-install: {why}");
            1
        }
    };
    std::process::exit(code);
}

enum Refusal {
    Usage,
    Refused(String),
}

impl From<String> for Refusal {
    fn from(s: String) -> Refusal {
        Refusal::Refused(s)
    }
}

fn run(args: &[String]) -> Result<(), Refusal> {
    // SAFETY: geteuid and getuid cannot fail and touch no memory of ours.
    let (euid, uid) = unsafe { (libc::geteuid(), libc::getuid()) };
    if euid != 0 {
        return Err(format!(
            "running as {} without euid 0: the RBAC profile does not grant \
             /{INSTALLED_AT} (exec_attr euid=0)",
            user_name(uid)
        )
        .into());
    }
    if let [verb, zone, socket] = args {
        if verb == "vnc-connect" {
            let socket = IPath::parse(socket)?;
            return vnc::connect(&open_own_root()?.1, zone, &socket).map_err(Refusal::from);
        }
    }
    let [verb, target] = args else {
        return Err(Refusal::Usage);
    };
    let verb = verbs::Verb::parse(verb).ok_or(Refusal::Usage)?;
    let target = IPath::parse(target)?;
    let (root, dir) = open_own_root()?;
    let policy = read_policy(&dir, &root)?;
    verbs::run(verb, &dir, &policy, &target).map_err(Refusal::from)
}

/// The root this copy serves, and that root opened.
fn open_own_root() -> Result<(PathBuf, beneath::Dir), String> {
    let root = own_root()?;
    let dir = beneath::Dir::open_root(&root)
        .map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    Ok((root, dir))
}

/// The root of the file system this copy was installed into.
fn own_root() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot locate my own executable: {e}"))?;
    if !exe.ends_with(INSTALLED_AT) {
        return Err(format!(
            "{} is not installed as <root>/{INSTALLED_AT}: refusing to guess the root it serves",
            exe.display()
        ));
    }
    let mut root = exe.clone();
    for _ in Path::new(INSTALLED_AT).components() {
        root.pop();
    }
    Ok(root)
}

/// The allow-list, trusted only when root owns it and nobody else may change it.
fn read_policy(dir: &beneath::Dir, root: &Path) -> Result<Policy, String> {
    let shown = root.join(POLICY.trim_start_matches('/'));
    let shown = shown.display().to_string();
    let path = IPath::parse(POLICY).expect("a valid constant");
    let bytes = trusted::read(dir, &path, &shown)
        .map_err(|e| format!("policy file {e}: refusing everything"))?
        .ok_or_else(|| format!("policy file {shown} is missing: refusing everything"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("policy file {shown} is not text: refusing everything"))?;
    Policy::parse(&text).map_err(|e| format!("policy file {shown}: {e}: refusing everything"))
}

/// The login name of `uid`, for messages (`uid N` when it has none).
fn user_name(uid: libc::uid_t) -> String {
    // SAFETY: getpwuid returns a pointer to static storage or null; this program has one
    // thread, and the name is copied out before any other call.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            return format!("uid {uid}");
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}
