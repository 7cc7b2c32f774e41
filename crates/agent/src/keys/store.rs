//! The api_keys table.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

use super::{generate_token, hash_token, Role};
use crate::db::{Db, DbError};
use crate::time::now_rfc3339;

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The first characters of the token, to tell keys apart.
    pub key_prefix: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Who is calling: the key that authenticated the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
    pub role: Role,
}

const COLUMNS: &str =
    "id, name, role, key_prefix, created_by, created_at, last_used_at, revoked_at";

fn row_to_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    let role: String = r.get(2)?;
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        key_prefix: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

/// Creates a key and returns it with its token (the only time the token is seen).
pub fn create(
    conn: &rusqlite::Connection,
    name: &str,
    role: Role,
    created_by: Option<&str>,
) -> Result<(ApiKey, String), DbError> {
    let token = generate_token();
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        role,
        key_prefix: token[..11].to_owned(),
        created_by: created_by.map(str::to_owned),
        created_at: now_rfc3339(),
        last_used_at: None,
        revoked_at: None,
    };
    conn.execute(
        "INSERT INTO api_keys (id, name, role, key_hash, key_prefix, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id,
            key.name,
            role.as_str(),
            hash_token(&token),
            key.key_prefix,
            key.created_by,
            key.created_at
        ],
    )?;
    Ok((key, token))
}

pub fn list(conn: &rusqlite::Connection) -> Result<Vec<ApiKey>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
    ))?;
    let keys = stmt
        .query_map([], row_to_key)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

pub fn get(conn: &rusqlite::Connection, id: &str) -> Result<Option<ApiKey>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"),
            [id],
            row_to_key,
        )
        .optional()?)
}

/// Revokes a key; `Ok(false)` if no such key. Revoking twice keeps the first time.
pub fn revoke(conn: &rusqlite::Connection, id: &str) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id, now_rfc3339()],
    )?;
    Ok(n == 1)
}

pub fn count_active(conn: &rusqlite::Connection) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The caller a token belongs to, if it is a known, unrevoked key.
pub fn verify(conn: &rusqlite::Connection, token: &str) -> Result<Option<Caller>, DbError> {
    verify_hash(conn, &hash_token(token))
}

/// [`verify`], by the token's SHA-256.
pub fn verify_hash(conn: &rusqlite::Connection, hash: &str) -> Result<Option<Caller>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
    )?;
    let caller = stmt
        .query_row([hash], |r| {
            let role: String = r.get(2)?;
            Ok(Caller {
                key_id: r.get(0)?,
                name: r.get(1)?,
                role: Role::parse(&role).unwrap_or(Role::Viewer),
            })
        })
        .optional()?;
    Ok(caller)
}

pub fn touch(conn: &rusqlite::Connection, id: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
        params![id, now_rfc3339()],
    )?;
    Ok(())
}

/// Conveniences over the store for the HTTP side.
impl Db {
    /// Runs on the calling thread: an indexed lookup on a reader connection takes a few
    /// microseconds, less than handing it to the blocking pool would.
    pub fn verify_key(&self, hash: &str) -> Result<Option<Caller>, DbError> {
        self.read_blocking(|c| verify_hash(c, hash))
    }
}

/// Whether key `id` exists and is not revoked.
pub fn is_active(conn: &rusqlite::Connection, id: &str) -> Result<bool, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT 1 FROM api_keys WHERE id = ?1 AND revoked_at IS NULL")?;
    Ok(stmt.exists([id])?)
}

/// The ids of every revoked key.
pub fn revoked_ids(conn: &rusqlite::Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM api_keys WHERE revoked_at IS NOT NULL")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}
