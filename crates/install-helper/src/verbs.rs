//! The six things the helper does, each on a target the policy names.

use std::io::{Read, Write};

use crate::beneath::{self, Dir, Kind};
use crate::policy::{IPath, Policy};
use crate::zones;

/// The most a file may hold, read from stdin or from disk: the files this helper installs
/// are small; the bound keeps a runaway caller from filling `/etc`.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

const BACKUP: &str = ".zw-backup";
/// The temp file beside a file being replaced: one fixed name, so `remove` (and the next
/// write) can clear one left by a crash.
const TEMP: &str = ".zw-install";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Backup,
    Install,
    Restore,
    Remove,
    Read,
    OwnMountpoint,
}

impl Verb {
    pub fn parse(s: &str) -> Option<Verb> {
        Some(match s {
            "backup" => Verb::Backup,
            "install" => Verb::Install,
            "restore" => Verb::Restore,
            "remove" => Verb::Remove,
            "read" => Verb::Read,
            "own-mountpoint" => Verb::OwnMountpoint,
            _ => return None,
        })
    }
}

pub fn run(verb: Verb, root: &Dir, policy: &Policy, target: &IPath) -> Result<(), String> {
    if verb == Verb::OwnMountpoint {
        if !policy.allows_mountpoint(target) {
            return Err(format!(
                "{target} is not below a mountpoints-under entry of the policy ({})",
                crate::POLICY
            ));
        }
        // Only a provisioning dataset's (`<zone dataset>/provisioning`): never a zonepath or
        // another empty root directory that happens to sit under the same parent.
        if target.components().last().map(String::as_str) != Some("provisioning") {
            return Err(format!(
                "{target} is not a provisioning dataset's mountpoint (its last component must be 'provisioning')"
            ));
        }
        return own_mountpoint(root, target);
    }
    let in_zonepath = !policy.allows_file(target) && policy.allows_zonepath_file(target);
    if !policy.allows_file(target) && !in_zonepath {
        return Err(format!(
            "{target} is not a file the policy allows (an admin adds `file {target}` to {})",
            crate::POLICY
        ));
    }
    let (dir, name) = beneath::parent_of(root, target)?;
    if in_zonepath {
        refuse_non_zonepath(&dir, target)?;
    }
    refuse_non_file(&dir, name, target)?;
    match verb {
        Verb::Backup => {
            let existed = match read_regular(&dir, name, target)? {
                Some((bytes, st)) => {
                    replace(&dir, &format!("{name}{BACKUP}"), &bytes, target, Some(&st))?;
                    true
                }
                None => false,
            };
            println!("{}", if existed { "existed" } else { "absent" });
            Ok(())
        }
        Verb::Install => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read the new {target} from stdin: {e}"))?;
            if bytes.len() as u64 > MAX_BYTES {
                return Err(format!(
                    "the new {target} is larger than {MAX_BYTES} bytes: refused"
                ));
            }
            replace(&dir, name, &bytes, target, None)
        }
        Verb::Restore => {
            let backup = format!("{name}{BACKUP}");
            let Some((bytes, st)) = read_regular(&dir, &backup, target)? else {
                return Err(format!("there is no {target}{BACKUP} to restore"));
            };
            // The file there now keeps its owner and mode; a removed one gets the backup's.
            let live = matches!(dir.kind(name), Ok(Kind::File(_)));
            replace(&dir, name, &bytes, target, (!live).then_some(&st))
        }
        Verb::Remove => dir
            .unlink(name)
            .and_then(|_| dir.unlink(&format!("{name}{TEMP}")))
            .and_then(|_| dir.sync())
            .map_err(|e| format!("cannot remove {target}: {e}")),
        // For a file the caller may not read itself (a key file in a root-only zonepath).
        Verb::Read => match read_regular(&dir, name, target)? {
            Some((bytes, _)) => std::io::stdout()
                .lock()
                .write_all(&bytes)
                .map_err(|e| format!("cannot write {target} out: {e}")),
            None => Err(format!("{target} does not exist")),
        },
        Verb::OwnMountpoint => unreachable!("handled above"),
    }
}

/// A `zonepath-file` goes only into a directory that passes zoneadm's own check of a
/// zonepath ([`zones::check_zonepath`]: root's, mode 0700), never one the caller's user owns
/// or others may read. (The policy line already put the directory strictly below its parent.)
fn refuse_non_zonepath(dir: &Dir, target: &IPath) -> Result<(), String> {
    let shown = parent(target);
    let st = dir
        .stat()
        .map_err(|e| format!("cannot look at {shown}: {e}"))?;
    let zonepath = target.prefix(target.components().len() - 1);
    zones::check_zonepath(&zonepath, st.st_uid, st.st_mode)
        .map_err(|e| format!("{shown} is not a zonepath: {e}"))
}

/// Refuses when `name` exists as anything but a regular file (a link is never followed).
fn refuse_non_file(dir: &Dir, name: &str, shown: &IPath) -> Result<(), String> {
    match dir
        .kind(name)
        .map_err(|e| format!("cannot look at {shown}: {e}"))?
    {
        Kind::Missing | Kind::File(_) => Ok(()),
        Kind::Link => Err(format!("{}/{name} is a symbolic link", parent(shown))),
        _ => Err(format!("{}/{name} is not a regular file", parent(shown))),
    }
}

fn parent(p: &IPath) -> String {
    let n = p.components().len();
    if n > 1 {
        p.prefix(n - 1).to_string()
    } else {
        String::new()
    }
}

/// The bytes of the regular file `name` and its status; `None` when it does not exist.
pub fn read_regular(
    dir: &Dir,
    name: &str,
    shown: &IPath,
) -> Result<Option<(Vec<u8>, libc::stat)>, String> {
    refuse_non_file(dir, name, shown)?;
    let shown = format!("{}/{name}", parent(shown));
    let f = match dir.open_read(name) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {shown}: {e}")),
    };
    let st = beneath::fstat(std::os::fd::AsRawFd::as_raw_fd(&f))
        .map_err(|e| format!("cannot look at {shown}: {e}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!("{shown} is not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("{shown} is larger than {MAX_BYTES} bytes"));
    }
    Ok(Some((bytes, st)))
}

/// Replaces `name` in `dir` with `bytes`: a temp file beside it (exclusive create, root's),
/// fsynced, renamed over it, the directory fsynced. A reader sees the old file or the new one;
/// a crash leaves at most the temp file, which the next write or `remove` clears. The new file
/// takes the owner, group and permission bits of `like` (the file a backup copies, the backup a
/// restore puts back where there is no file), else of the file it replaces (a dhcpd.conf that
/// holds a TSIG key may be `dhcpserv` 0600 or 0640 and must stay readable by it alone), less
/// write access for others; with neither it is root's, 0644, in the directory's group.
fn replace(
    dir: &Dir,
    name: &str,
    bytes: &[u8],
    shown: &IPath,
    like: Option<&libc::stat>,
) -> Result<(), String> {
    let shown_name = format!("{}/{name}", parent(shown));
    let kept = |st: &libc::stat| (st.st_uid, st.st_gid, st.st_mode & 0o775);
    let (uid, gid, mode) = match dir
        .kind(name)
        .map_err(|e| format!("cannot look at {shown_name}: {e}"))?
    {
        Kind::File(st) => kept(like.unwrap_or(&st)),
        Kind::Missing => match like {
            Some(st) => kept(st),
            None => (
                0,
                dir.stat()
                    .map_err(|e| format!("cannot look at {}: {e}", parent(shown)))?
                    .st_gid,
                0o644,
            ),
        },
        Kind::Link => return Err(format!("{shown_name} is a symbolic link")),
        _ => return Err(format!("{shown_name} is not a regular file")),
    };
    let temp = format!("{name}{TEMP}");
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {shown_name}: {e}");
    dir.unlink(&temp)
        .map_err(|e| fail("clear the temp file of", e))?;
    // Created without group or other access: the mode is set once the owner is.
    let mut f = dir
        .create_new(&temp, 0o600)
        .map_err(|e| fail("create the temp file of", e))?;
    let written = beneath::own_file(&f, uid, gid, mode)
        .and_then(|_| f.write_all(bytes))
        .and_then(|_| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|_| dir.rename(&temp, name)) {
        let _ = dir.unlink(&temp);
        return Err(fail("write", e));
    }
    dir.sync().map_err(|e| fail("sync the directory of", e))
}

/// Hands the empty, root-owned directory `target` (a fresh dataset's mountpoint) to the
/// caller's real uid and gid: pfexec with `euid=0` keeps the real ids of the agent's user.
fn own_mountpoint(root: &Dir, target: &IPath) -> Result<(), String> {
    let (parent_dir, name) = beneath::parent_of(root, target)?;
    let dir = parent_dir.sub_dir(name, target)?;
    let st = dir
        .stat()
        .map_err(|e| format!("cannot look at {target}: {e}"))?;
    if st.st_uid != 0 {
        return Err(format!(
            "{target} is owned by uid {}, not root: it is not a fresh mountpoint",
            st.st_uid
        ));
    }
    if !dir
        .is_empty()
        .map_err(|e| format!("cannot list {target}: {e}"))?
    {
        return Err(format!(
            "{target} is not empty: it is not a fresh mountpoint"
        ));
    }
    // SAFETY: getuid and getgid cannot fail and touch no memory of ours.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    dir.chown(uid, gid)
        .map_err(|e| format!("cannot give {target} to uid {uid}: {e}"))?;
    println!("{target} now belongs to {uid}:{gid}");
    Ok(())
}
