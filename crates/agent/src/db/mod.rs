//! SQLite: one writer connection and a few readers over WAL, with embedded, versioned
//! migrations that upgrade an older database in place.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool; the closures are short
//! (a few statements) and never await.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

/// Migrations in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_zones.sql"),
    include_str!("migrations/0003_provisioning.sql"),
    include_str!("migrations/0004_zone_configs.sql"),
    include_str!("migrations/0005_task_updated_at.sql"),
    include_str!("migrations/0006_task_requester_note.sql"),
    include_str!("migrations/0007_monitoring.sql"),
    include_str!("migrations/0008_partial_task_indexes.sql"),
];

const READERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database is newer (schema {found}) than this agent (schema {known})")]
    TooNew { found: usize, known: usize },
    #[error("database worker stopped: {0}")]
    Join(String),
    /// A write refused because it conflicts with what is recorded (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// A write refused because what the client read has changed since (`If-Match`).
    #[error("{0}")]
    Precondition(String),
}

/// Writes between two checkpoints of the WAL: a few MiB of WAL at most.
const CHECKPOINT_EVERY: u64 = 500;

/// Bytes of WAL file kept when it starts over.
const WAL_SIZE_LIMIT: i64 = 4 << 20;

#[derive(Clone)]
pub struct Db {
    writer: Arc<Mutex<Connection>>,
    /// Only copies the WAL back (see [`Db::checkpoint_if`]): on a connection of its own, a
    /// checkpoint's disk syncs (tens of milliseconds here) hold no write back.
    checkpointer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
    /// Counts finished writes: an answer built from reads that began at epoch N is current
    /// while the epoch is still N.
    epoch: Arc<std::sync::atomic::AtomicU64>,
    /// Tables the current write changed (SQLite's update hook on the writer), and how many
    /// writes changed each table so far: an answer built from one table stays valid while
    /// writes elsewhere (task logs, progress) go on.
    touched: Arc<Mutex<std::collections::HashSet<String>>>,
    table_epochs: Arc<Mutex<std::collections::HashMap<String, u64>>>,
}

impl Db {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let open = |p: &Path| {
            Connection::open(p).map_err(|source| DbError::Open {
                path: p.display().to_string(),
                source,
            })
        };
        let mut writer = open(path)?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        // The WAL is checkpointed off the async workers (see `Db::wrote`), never inside a
        // commit that `write_small` may run on one: a checkpoint syncs the disk.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A WAL grown by a burst is cut back when it starts over.
        writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        migrate(&mut writer)?;
        let touched: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        {
            let touched = touched.clone();
            writer.update_hook(Some(
                move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
                    let mut t = touched.lock().unwrap_or_else(|p| p.into_inner());
                    if !t.contains(table) {
                        t.insert(table.to_owned());
                    }
                },
            ));
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = open(path)?;
            configure(&r)?;
            readers.push(Mutex::new(r));
        }
        let checkpointer = open(path)?;
        configure(&checkpointer)?;
        Ok(Db {
            writer: Arc::new(Mutex::new(writer)),
            checkpointer: Arc::new(Mutex::new(checkpointer)),
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
            epoch: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            touched,
            table_epochs: Arc::default(),
        })
    }

    /// Runs `f` with the writer connection on the blocking pool. Use a transaction inside `f`
    /// for anything that changes more than one row.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.writer.lock().unwrap_or_else(|p| p.into_inner());
            let r = f(&mut conn);
            let checkpoint = db.wrote();
            drop(conn);
            db.checkpoint_if(checkpoint);
            r
        })
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
    }

    /// [`Db::write`] for a write of a row or two (a task claimed or finished, a journal entry):
    /// when the writer is free it runs here, which takes tens of microseconds (WAL, no sync at
    /// commit), instead of two hand-offs to and from the blocking pool, which cost as much
    /// again on every step of an operation. A busy writer is waited for on the pool as usual.
    /// (A `keys` command holding the database file's write lock can stall it up to the busy
    /// timeout; that is a rare, short write.)
    pub async fn write_small<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let f = match self.writer.try_lock() {
            Ok(mut conn) => {
                let r = f(&mut conn);
                let checkpoint = self.wrote();
                drop(conn);
                self.checkpoint_if(checkpoint);
                return r;
            }
            Err(_) => f,
        };
        self.write(f).await
    }

    /// After each write, with the writer still held: the epochs move on. Held, because the
    /// tables a write changed are gathered by the writer's update hook: moved on after the
    /// writer is let go, another write's changes (made meanwhile, not yet committed) would be
    /// counted now and not at their commit, and an answer built from before that commit could
    /// be kept under the epoch it then leaves unchanged. Returns whether the WAL is due to be
    /// checkpointed ([`Db::checkpoint_if`], once the writer is let go).
    fn wrote(&self) -> bool {
        // After the commit: an answer filed under a table's epoch read before its reads began
        // is never newer than its key says.
        let touched: Vec<String> = self
            .touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        if !touched.is_empty() {
            let mut epochs = self.table_epochs.lock().unwrap_or_else(|p| p.into_inner());
            for t in touched {
                *epochs.entry(t).or_insert(0) += 1;
            }
        }
        let n = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        n.is_multiple_of(CHECKPOINT_EVERY)
    }

    /// Every [`CHECKPOINT_EVERY`] writes the WAL is copied back into the database on the
    /// blocking pool, on a connection of its own (see [`checkpoint_wal`]). One already running
    /// is enough.
    fn checkpoint_if(&self, due: bool) {
        if !due {
            return;
        }
        let (checkpointer, writer) = (self.checkpointer.clone(), self.writer.clone());
        let checkpoint = move || {
            let conn = match checkpointer.try_lock() {
                Ok(c) => c,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            if let Err(e) = checkpoint_wal(&conn, &writer, || {}) {
                tracing::warn!(error = %e, "cannot checkpoint the database's WAL");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(checkpoint);
            }
            Err(_) => checkpoint(),
        }
    }

    /// Runs `f` with one of the reader connections on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_blocking(f))
            .await
            .map_err(|e| DbError::Join(e.to_string()))?
    }

    /// [`Db::read`] for a read of a row or two (a task, its secrets): when a reader is idle it
    /// runs here, tens of microseconds, instead of two hand-offs to and from the blocking pool
    /// that cost as much again on a task's path (and far more when the cores are busy). With
    /// every reader taken it waits on the pool as usual.
    pub async fn read_small<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        for r in self.readers.iter() {
            if let Ok(conn) = r.try_lock() {
                return f(&conn);
            }
        }
        self.read(f).await
    }

    /// The same as [`Db::write`] for callers outside the runtime (the CLI).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut conn);
        let checkpoint = self.wrote();
        drop(conn);
        self.checkpoint_if(checkpoint);
        r
    }

    /// The number of writes finished so far (see the field).
    /// How many writes changed `table` so far (rows inserted, updated or deleted). Only for
    /// ordinary rowid tables never emptied by a `DELETE` without `WHERE`: SQLite's update
    /// hook does not see changes to `WITHOUT ROWID` tables nor its truncate optimisation.
    pub fn table_epoch(&self, table: &str) -> u64 {
        self.table_epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(table)
            .copied()
            .unwrap_or(0)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        // Take the first idle reader from a rotating start; wait on one only if all are busy.
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }
}

/// Copies the WAL back into the database: first while writes go on (most of the copying, and
/// the disk syncs, 30 ms measured here), then, if writes came meanwhile, their few frames with
/// the writer held, so that the next write starts the WAL over instead of growing it. Returns
/// whether every frame was copied (not while a reader still reads an older snapshot).
/// `between` runs between the two (tests).
fn checkpoint_wal(
    checkpointer: &Connection,
    writer: &Mutex<Connection>,
    between: impl FnOnce(),
) -> Result<bool, rusqlite::Error> {
    let passive = |c: &Connection| {
        c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok(r.get::<_, i64>(2)? >= r.get::<_, i64>(1)?)
        })
    };
    if passive(checkpointer)? {
        return Ok(true);
    }
    between();
    let _writes_held = writer.lock().unwrap_or_else(|p| p.into_inner());
    passive(checkpointer)
}

/// Compiled statements kept per connection. rusqlite keeps 16; the writer alone runs more
/// distinct statements than that (tasks, their logs and journals, zones, the configuration
/// cache, monitoring), so the least recently used were compiled again on every create.
const STATEMENTS: usize = 64;

fn configure(conn: &Connection) -> Result<(), DbError> {
    conn.set_prepared_statement_cache_capacity(STATEMENTS);
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // WAL with NORMAL: a commit survives a crash of the agent (kill -9); only a power loss
    // can lose the last commits, and it never corrupts the database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(DbError::TooNew {
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(schema = i + 1, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database in a directory of its own (removed by the caller).
    fn fresh(label: &str) -> (std::path::PathBuf, Db) {
        let dir = std::env::temp_dir().join(format!("zw-db-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open(&dir.join("t.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn a_tables_epoch_moves_only_with_writes_that_change_it() {
        let (dir, db) = fresh("epoch");
        let zones = db.table_epoch("zones");
        db.write_blocking(|c| {
            c.execute(
                "INSERT INTO zone_configs (name, sig, export) VALUES ('a', NULL, '')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(db.table_epoch("zones"), zones);
        assert_eq!(db.table_epoch("zone_configs"), 1);
        db.write_blocking(|c| {
            c.execute(
                "INSERT INTO zones (name, brand, status, created_at, updated_at)
                 VALUES ('z', 'bhyve', 'ready', 'now', 'now')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(db.table_epoch("zones"), zones + 1);
        // A statement that changes no row leaves it.
        db.write_blocking(|c| {
            c.execute("UPDATE zones SET status = 'x' WHERE name = 'nope'", [])?;
            Ok(())
        })
        .unwrap();
        assert_eq!(db.table_epoch("zones"), zones + 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Counts the statements `conn` compiles from now on (SQLite asks the authorizer only
    /// while it compiles one).
    fn count_compiles(conn: &Connection) -> Arc<AtomicUsize> {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = n.clone();
        conn.authorizer(Some(move |_: rusqlite::hooks::AuthContext<'_>| {
            seen.fetch_add(1, Ordering::SeqCst);
            rusqlite::hooks::Authorization::Allow
        }));
        n
    }

    /// Each step of a create compiles its statements once per connection, not once per call:
    /// a compile costs more than the small write it serves.
    #[test]
    fn the_statements_of_a_tasks_path_are_compiled_once() {
        let (dir, db) = fresh("stmt");
        let writes = count_compiles(&db.writer.lock().unwrap());
        let reads: Vec<_> = db
            .readers
            .iter()
            .map(|r| count_compiles(&r.lock().unwrap()))
            .collect();
        // More distinct statements than rusqlite's default cache of 16, as the writer runs.
        let round = |i: usize| {
            db.write_blocking(|c| {
                let zone = format!("z{i}");
                crate::zones::store::insert_creating(c, &zone, "bhyve", "rpool/zones/z", None)?;
                crate::zones::store::set_status(c, &zone, "ready")?;
                for k in 0..24 {
                    c.prepare_cached(&format!("SELECT ?1 + {k}"))?
                        .query_row([1], |r| r.get::<_, i64>(0))?;
                }
                Ok(())
            })
            .unwrap();
            for _ in 0..READERS {
                db.read_blocking(|c| crate::tasks::store::secrets(c, "no-such-task"))
                    .unwrap();
            }
        };
        round(0);
        let compiled =
            |v: &[Arc<AtomicUsize>]| -> usize { v.iter().map(|n| n.load(Ordering::SeqCst)).sum() };
        let (w, r) = (writes.load(Ordering::SeqCst), compiled(&reads));
        assert!(w > 0 && r > 0, "the counters see compiles");
        round(1);
        round(2);
        assert_eq!(
            writes.load(Ordering::SeqCst),
            w,
            "the writer compiled again"
        );
        assert_eq!(compiled(&reads), r, "a reader compiled again");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = std::env::temp_dir().join(format!("zw-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db");
        let _ = std::fs::remove_file(&path);
        let db = Db::open(&path).unwrap();
        let v: usize = db
            .read_blocking(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        drop(db);
        Db::open(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = std::env::temp_dir().join(format!("zw-db-new-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.db");
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(matches!(Db::open(&path), Err(DbError::TooNew { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A new database `file` in a directory of its own (`label`), and that directory.
    fn fresh_db(label: &str, file: &str) -> (std::path::PathBuf, Db) {
        let dir = std::env::temp_dir().join(format!("zw-db-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        let _ = std::fs::remove_file(&path);
        let db = Db::open(&path).unwrap();
        (dir, db)
    }

    /// A checkpoint syncs the disk (30 ms measured here): on a connection of its own it holds
    /// no write back, and one falling due while another runs is skipped, not queued.
    #[test]
    fn writes_go_on_while_the_wal_is_checkpointed() {
        let (dir, db) = fresh_db("ckpt", "c.db");
        db.write_blocking(|c| Ok(c.execute_batch("CREATE TABLE t (x TEXT)")?))
            .unwrap();
        // As while a checkpoint runs. (Outside a runtime, a checkpoint due runs in place.)
        let running = db.checkpointer.lock().unwrap();
        for i in 0..CHECKPOINT_EVERY + 5 {
            db.write_blocking(move |c| {
                c.execute("INSERT INTO t (x) VALUES (?1)", [format!("row {i}")])?;
                Ok(())
            })
            .unwrap();
        }
        drop(running);
        let n: u64 = db
            .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, CHECKPOINT_EVERY + 5);
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Frames written while the WAL is being copied back (here: kept by a reader's snapshot
    /// through the first pass, the reader gone before the second) are copied with the writer
    /// held, so the WAL can start over; while a reader still holds its snapshot, it cannot.
    #[test]
    fn frames_written_during_a_checkpoint_are_copied_before_it_ends() {
        let (dir, db) = fresh_db("catch-up", "d.db");
        db.write_blocking(|c| Ok(c.execute_batch("CREATE TABLE t (x TEXT)")?))
            .unwrap();
        let insert = |db: &Db| {
            db.write_blocking(|c| Ok(c.execute("INSERT INTO t (x) VALUES ('x')", []).map(drop)?))
                .unwrap()
        };
        insert(&db);
        let reader = Connection::open(dir.join("d.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        insert(&db);
        let conn = db.checkpointer.lock().unwrap();
        assert!(!checkpoint_wal(&conn, &db.writer, || {}).unwrap());
        let copied = checkpoint_wal(&conn, &db.writer, || {
            reader.execute_batch("COMMIT").unwrap();
        })
        .unwrap();
        assert!(copied, "the second pass copies what the first could not");
        drop(conn);
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Without SQLite's own checkpoints, the agent's keep the WAL from growing with every write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_over_many_small_writes() {
        let (dir, db) = fresh_db("wal", "c.db");
        db.write(|c| Ok(c.execute_batch("CREATE TABLE t (x TEXT)")?))
            .await
            .unwrap();
        let page = db
            .read(|c| Ok(c.pragma_query_value(None, "page_size", |r| r.get::<_, u64>(0))?))
            .await
            .unwrap();
        let writes = 6 * CHECKPOINT_EVERY;
        for i in 0..writes {
            db.write_small(move |c| {
                c.execute("INSERT INTO t (x) VALUES (?1)", [format!("row {i}")])?;
                Ok(())
            })
            .await
            .unwrap();
            // Let a checkpoint that is due run before the writes race past it.
            if (i + 1).is_multiple_of(CHECKPOINT_EVERY) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let n: u64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, writes);
        // Each commit appends at least one page to the WAL: unchecked, it would hold them all.
        let wal = std::fs::metadata(dir.join("c.db-wal")).unwrap().len();
        assert!(
            wal < 3 * CHECKPOINT_EVERY * page,
            "WAL of {wal} bytes after {writes} writes"
        );
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
