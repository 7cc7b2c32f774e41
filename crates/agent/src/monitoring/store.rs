//! The `monitoring_samples` table: one row per kind and entity per sample, its answer as JSON.

use rusqlite::{params, Connection};

use crate::db::DbError;

/// The kinds of rows a sample writes.
pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const ARC: &str = "arc";
pub const LINK: &str = "link";
pub const POOL: &str = "pool";
pub const POOL_IO: &str = "pool_io";
pub const DISK_IO: &str = "disk_io";

/// A row to insert: kind, entity ('' for host-wide kinds), the row's JSON.
pub struct NewRow {
    pub kind: &'static str,
    pub entity: String,
    pub data: String,
}

/// Inserts one sample's rows and deletes rows older than `cutoff_ms`, in one transaction.
/// Returns how many old rows were deleted.
pub fn insert_and_prune(
    conn: &mut Connection,
    taken_at_ms: i64,
    rows: &[NewRow],
    cutoff_ms: i64,
) -> Result<usize, DbError> {
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO monitoring_samples (kind, entity, taken_at, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in rows {
            ins.execute(params![r.kind, r.entity, taken_at_ms, r.data])?;
        }
    }
    let pruned = tx.execute(
        "DELETE FROM monitoring_samples WHERE taken_at < ?1",
        [cutoff_ms],
    )?;
    tx.commit()?;
    Ok(pruned)
}

/// What to read of one kind.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only rows taken at or after (ms since the epoch); `None`: each entity's latest row.
    pub since_ms: Option<i64>,
    /// Only these entities (a substring match, as the original's `LIKE %x%`).
    pub entity: Option<String>,
}

/// (entity, data) rows oldest first; with no `since_ms`, the newest row of each entity.
pub fn rows(conn: &Connection, kind: &str, q: &Query) -> Result<Vec<(String, String)>, DbError> {
    let like = format!(
        "%{}%",
        q.entity
            .as_deref()
            .unwrap_or("")
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
    let out = match q.since_ms {
        Some(since) => conn
            .prepare_cached(
                "SELECT entity, data FROM monitoring_samples
                 WHERE kind = ?1 AND taken_at >= ?2 AND entity LIKE ?3 ESCAPE '\\'
                 ORDER BY taken_at, id",
            )?
            .query_map(params![kind, since, like], map)?
            .collect::<Result<Vec<_>, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT s.entity, s.data FROM monitoring_samples s
                 JOIN (SELECT entity, MAX(taken_at) AS t FROM monitoring_samples
                       WHERE kind = ?1 AND entity LIKE ?2 ESCAPE '\\' GROUP BY entity) m
                   ON s.entity = m.entity AND s.taken_at = m.t
                 WHERE s.kind = ?1 ORDER BY s.entity",
            )?
            .query_map(params![kind, like], map)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(out)
}

/// How many rows of each kind were taken at or after `since_ms`.
pub fn counts(conn: &Connection, since_ms: i64) -> Result<Vec<(String, i64)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT kind, COUNT(*) FROM monitoring_samples WHERE taken_at >= ?1 GROUP BY kind",
        )?
        .query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Keeps at most `limit` of `rows` (oldest first), evenly spread over them and always with
/// the newest: a long range answers as a coarser series rather than its newest part only.
pub fn spread<T>(rows: Vec<T>, limit: usize) -> Vec<T> {
    let n = rows.len();
    if limit == 0 || n <= limit {
        return rows;
    }
    if limit == 1 {
        return rows.into_iter().skip(n - 1).collect();
    }
    // Indices round(i * (n-1) / (limit-1)) for i in 0..limit: strictly increasing as n > limit.
    let keep: Vec<usize> = (0..limit)
        .map(|i| (i * (n - 1) + (limit - 1) / 2) / (limit - 1))
        .collect();
    rows.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(i).is_ok())
        .map(|(_, r)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_the_ends_and_evenly_between() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(spread(v.clone(), 3), [0, 5, 9]);
        assert_eq!(spread(v.clone(), 1), [9]);
        assert_eq!(spread(v.clone(), 10), v);
        assert_eq!(spread(v.clone(), 0), v);
        assert_eq!(spread(v, 9).len(), 9);
    }

    #[test]
    fn rows_prunes_by_age_and_answers_latest_per_entity() {
        let dir = crate::tasks::testing::TempDir::new("monitoring-store");
        let db = crate::db::Db::open(&dir.0.join("agent.db")).unwrap();
        let row = |e: &str, d: &str| NewRow {
            kind: LINK,
            entity: e.into(),
            data: d.into(),
        };
        db.write_blocking(|c| {
            insert_and_prune(c, 1_000, &[row("net0", "a"), row("vm_1", "b")], 0)?;
            insert_and_prune(c, 2_000, &[row("net0", "c")], 0)?;
            // The third sample's cutoff drops the first.
            let pruned = insert_and_prune(c, 3_000, &[row("net0", "d")], 1_500)?;
            assert_eq!(pruned, 2);
            Ok(())
        })
        .unwrap();
        db.read_blocking(|c| {
            let latest = rows(c, LINK, &Query::default())?;
            assert_eq!(latest, [("net0".into(), "d".into())]);
            let all = rows(
                c,
                LINK,
                &Query {
                    since_ms: Some(0),
                    entity: Some("net".into()),
                },
            )?;
            assert_eq!(all.len(), 2);
            // `_` is a literal, not SQL's one-character wildcard.
            let none = rows(
                c,
                LINK,
                &Query {
                    since_ms: Some(0),
                    entity: Some("n_t".into()),
                },
            )?;
            assert!(none.is_empty());
            assert_eq!(counts(c, 0)?, [(LINK.to_owned(), 2)]);
            Ok(())
        })
        .unwrap();
    }
}
