//! Keys accepted moments ago, so that a request need not read the database to authenticate.
//! That read costs about 30 µs on a busy agent: every write (each step of a task) empties the
//! reader connection's page cache, so the key's index and row pages are read again.
//!
//! A revocation still takes effect at once:
//! - through the API, the revoke forgets the key before it answers;
//! - on the command line (`keys revoke`, another process), the command appends a line to
//!   `<data_dir>/keys.revoked` after its commit; every lookup `stat`s that file (about a
//!   microsecond) and forgets every key once it changed;
//! - any other change to the table (a hand edit) counts within [`MAX_AGE`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::store::Caller;

/// How long an accepted key is trusted without the database.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// Keys are made by admins, so they are few; the bound only keeps a mistake from growing.
const MAX_KEYS: usize = 1024;
/// The file `keys revoke` appends to, in the data directory.
pub const SIGNAL_FILE: &str = "keys.revoked";

/// The signal file as last seen: device, inode, length and change time (`None` while there is
/// none). Its length grows with every revocation, so two revocations within one clock tick
/// (which can share a time) still differ; the change time tells a file removed and made
/// again (which may reuse the inode and have the same length).
type Signature = Option<(u64, u64, u64, i64, i64)>;

pub struct VerifiedKeys {
    signal: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    signal_seen: Signature,
    /// Moves on with every forgetting, so an answer the database gave before a revocation is
    /// not remembered after it ([`VerifiedKeys::remember`]).
    generation: u64,
    /// By the token's SHA-256 (never the token itself).
    keys: HashMap<String, (Caller, Instant)>,
}

/// What a lookup found.
pub enum Lookup {
    Known(Caller),
    /// Not known: ask the database, then [`VerifiedKeys::remember`] with this.
    Unknown(Generation),
}

/// When a lookup missed, as [`VerifiedKeys::remember`] needs it.
pub struct Generation(u64);

impl VerifiedKeys {
    pub fn new(data_dir: &Path) -> VerifiedKeys {
        let signal = data_dir.join(SIGNAL_FILE);
        VerifiedKeys {
            inner: Mutex::new(Inner {
                signal_seen: signature(&signal),
                generation: 0,
                keys: HashMap::new(),
            }),
            signal,
        }
    }

    /// The caller key `hash` (a token's SHA-256) belongs to, if it was accepted lately and
    /// nothing was revoked since.
    pub fn lookup(&self, hash: &str) -> Lookup {
        let seen = signature(&self.signal);
        let mut inner = self.lock();
        if inner.signal_seen != seen {
            inner.signal_seen = seen;
            inner.forget_all();
        }
        match inner.keys.get(hash) {
            Some((caller, at)) if at.elapsed() < MAX_AGE => Lookup::Known(caller.clone()),
            _ => Lookup::Unknown(Generation(inner.generation)),
        }
    }

    /// Keeps what the database answered for a missed lookup, unless a key was forgotten since
    /// that lookup (the answer may predate the revocation).
    pub fn remember(&self, hash: String, caller: Caller, since: Generation) {
        let mut inner = self.lock();
        if inner.generation != since.0 {
            return;
        }
        if inner.keys.len() >= MAX_KEYS && !inner.keys.contains_key(&hash) {
            inner.keys.retain(|_, (_, at)| at.elapsed() < MAX_AGE);
            if inner.keys.len() >= MAX_KEYS {
                inner.keys.clear();
            }
        }
        inner.keys.insert(hash, (caller, Instant::now()));
    }

    /// Key `key_id` was revoked: it is asked of the database again.
    pub fn forget(&self, key_id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.keys.retain(|_, (caller, _)| caller.key_id != key_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.keys.clear();
    }
}

fn signature(path: &Path) -> Signature {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.len(), m.ctime(), m.ctime_nsec()))
}

/// Tells an agent running on `data_dir` that a key was revoked beside it. Called by the
/// command line after its revoke has committed.
pub fn signal_revocation(data_dir: &Path, key_id: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = data_dir.join(SIGNAL_FILE);
    // Not through a link: the directory belongs to the agent's own (unprivileged) user, and
    // root may be the one revoking.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    // Made by root, the file would refuse the agent's own user the next time it revokes: it
    // belongs to whoever owns the data directory.
    let (dir, own) = (std::fs::metadata(data_dir)?, file.metadata()?);
    if own.uid() != dir.uid() || own.gid() != dir.gid() {
        std::os::unix::fs::fchown(&file, Some(dir.uid()), Some(dir.gid()))?;
    }
    // One write, so a line is never split by another revoking process.
    file.write_all(format!("{} {key_id}\n", crate::time::now_rfc3339()).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Role;
    use crate::tasks::testing::TempDir;

    fn caller(id: &str) -> Caller {
        Caller {
            key_id: id.into(),
            name: format!("key {id}"),
            role: Role::Operator,
        }
    }

    fn known(keys: &VerifiedKeys, hash: &str) -> Option<String> {
        match keys.lookup(hash) {
            Lookup::Known(c) => Some(c.key_id),
            Lookup::Unknown(_) => None,
        }
    }

    /// The generation a lookup of `hash`, which must miss, hands back.
    fn miss(keys: &VerifiedKeys, hash: &str) -> Generation {
        let Lookup::Unknown(g) = keys.lookup(hash) else {
            panic!("{hash} was known already");
        };
        g
    }

    fn learn(keys: &VerifiedKeys, hash: &str, id: &str) {
        let g = miss(keys, hash);
        keys.remember(hash.into(), caller(id), g);
    }

    #[test]
    fn an_accepted_key_is_known_until_it_is_revoked() {
        let dir = TempDir::new("verified-keys");
        let keys = VerifiedKeys::new(dir.0.as_path());
        assert_eq!(known(&keys, "h1"), None);
        learn(&keys, "h1", "k1");
        learn(&keys, "h2", "k2");
        assert_eq!(known(&keys, "h1").as_deref(), Some("k1"));
        keys.forget("k1");
        assert_eq!(known(&keys, "h1"), None);
        assert_eq!(known(&keys, "h2").as_deref(), Some("k2"));
    }

    #[test]
    fn an_answer_from_before_a_revocation_is_not_kept() {
        let dir = TempDir::new("verified-keys");
        let keys = VerifiedKeys::new(dir.0.as_path());
        let before = miss(&keys, "h1");
        // The database said "valid", then the key was revoked, then the answer arrives.
        keys.forget("k1");
        keys.remember("h1".into(), caller("k1"), before);
        assert_eq!(known(&keys, "h1"), None);
    }

    #[test]
    fn a_revocation_on_the_command_line_forgets_every_key() {
        let dir = TempDir::new("verified-keys");
        let keys = VerifiedKeys::new(dir.0.as_path());
        learn(&keys, "h1", "k1");
        signal_revocation(dir.0.as_path(), "k9").unwrap();
        assert_eq!(known(&keys, "h1"), None);
        learn(&keys, "h1", "k1");
        assert_eq!(known(&keys, "h1").as_deref(), Some("k1"));
        // A second one at once (within the same clock tick) is seen too.
        signal_revocation(dir.0.as_path(), "k8").unwrap();
        assert_eq!(known(&keys, "h1"), None);
        // So is the file's removal.
        learn(&keys, "h1", "k1");
        std::fs::remove_file(dir.0.as_path().join(SIGNAL_FILE)).unwrap();
        assert_eq!(known(&keys, "h1"), None);
    }

    #[test]
    fn the_signal_is_not_written_through_a_link() {
        let dir = TempDir::new("verified-keys");
        let target = dir.0.join("elsewhere");
        std::fs::write(&target, "kept\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.0.join(SIGNAL_FILE)).unwrap();
        assert!(signal_revocation(dir.0.as_path(), "k1").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
    }

    #[test]
    fn an_answer_from_before_a_command_line_revocation_is_not_kept() {
        let dir = TempDir::new("verified-keys");
        let keys = VerifiedKeys::new(dir.0.as_path());
        let before = miss(&keys, "h1");
        signal_revocation(dir.0.as_path(), "k1").unwrap();
        // Another request notices the signal before this one's answer arrives.
        assert_eq!(known(&keys, "h2"), None);
        keys.remember("h1".into(), caller("k1"), before);
        assert_eq!(known(&keys, "h1"), None);
    }
}
