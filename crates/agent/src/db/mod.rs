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

#[derive(Clone)]
pub struct Db {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
    /// Counts finished writes: an answer built from reads that began at epoch N is current
    /// while the epoch is still N.
    epoch: Arc<std::sync::atomic::AtomicU64>,
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
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = open(path)?;
            configure(&r)?;
            readers.push(Mutex::new(r));
        }
        Ok(Db {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
            next_reader: Arc::new(AtomicUsize::new(0)),
            epoch: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    /// Runs `f` with the writer connection on the blocking pool. Use a transaction inside `f`
    /// for anything that changes more than one row.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (writer, epoch) = (self.writer.clone(), self.epoch.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            let r = f(&mut conn);
            epoch.fetch_add(1, Ordering::SeqCst);
            r
        })
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
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

    /// The same as [`Db::write`] for callers outside the runtime (the CLI).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut conn);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// The number of writes finished so far (see the field).
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

fn configure(conn: &Connection) -> Result<(), DbError> {
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
}
