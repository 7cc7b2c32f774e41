//! The tasks, task_output, task_journal and task_secrets tables. Plain functions over a
//! connection: the engine decides when they run and in which transaction.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::model::{NewTask, OutputLine, Task, TaskStatus, Updated};
use super::requester::RequesterNote;
use crate::db::DbError;
use crate::time::now_rfc3339;

const COLUMNS: &str =
    "seq, id, zone_name, operation, status, priority, depends_on, parent_task_id, \
    is_group, locks, created_by, progress_percent, progress_info, error_message, metadata, result, \
    created_at, started_at, completed_at, COALESCE(updated_at, created_at), requester_note";

fn row_to_task(r: &Row<'_>) -> rusqlite::Result<Task> {
    let status: String = r.get(4)?;
    let locks: String = r.get(9)?;
    let metadata: String = r.get(14)?;
    let result: Option<String> = r.get(15)?;
    Ok(Task {
        seq: r.get(0)?,
        id: r.get(1)?,
        zone_name: r.get(2)?,
        operation: r.get(3)?,
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Failed),
        priority: r.get(5)?,
        depends_on: r.get(6)?,
        parent_task_id: r.get(7)?,
        is_group: r.get(8)?,
        locks: serde_json::from_str(&locks).unwrap_or_default(),
        created_by: r.get(10)?,
        progress_percent: r.get(11)?,
        progress_info: r.get(12)?,
        error_message: r.get(13)?,
        metadata: serde_json::value::RawValue::from_string(metadata).unwrap_or_else(|_| {
            serde_json::value::RawValue::from_string("null".into()).expect("valid JSON")
        }),
        result: result.and_then(|s| serde_json::value::RawValue::from_string(s).ok()),
        created_at: r.get(16)?,
        started_at: r.get(17)?,
        completed_at: r.get(18)?,
        updated: Updated::new(r.get(19)?),
        requester_note: r.get(20)?,
    })
}

pub fn insert(conn: &Connection, new: &NewTask) -> Result<Task, DbError> {
    let id = new
        .id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let now = now_rfc3339();
    let metadata = new.metadata.to_string();
    conn.prepare_cached(
        "INSERT INTO tasks (id, zone_name, operation, status, priority, depends_on, parent_task_id,
            is_group, locks, created_by, metadata, created_at, updated_at, requester_note)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
    )?
    .execute(params![
        id,
        new.zone_name,
        new.operation,
        new.priority,
        new.depends_on,
        new.parent_task_id,
        new.is_group,
        serde_json::to_string(&new.locks).unwrap_or_else(|_| "[]".into()),
        new.created_by,
        metadata,
        now,
        new.requester_note.as_ref().map(RequesterNote::as_str),
    ])?;
    // Read before the secrets' row is inserted, which has a rowid of its own.
    let seq = conn.last_insert_rowid();
    if let Some(secrets) = &new.secrets {
        conn.execute(
            "INSERT INTO task_secrets (task_id, secrets) VALUES (?1, ?2)",
            params![id, secrets.to_string()],
        )?;
    }
    // The row as written, without reading it back: a queued task is answered from this.
    Ok(Task {
        seq,
        id,
        zone_name: new.zone_name.clone(),
        operation: new.operation.clone(),
        status: TaskStatus::Pending,
        priority: new.priority,
        depends_on: new.depends_on.clone(),
        parent_task_id: new.parent_task_id.clone(),
        is_group: new.is_group,
        locks: new.locks.clone(),
        created_by: new.created_by.clone(),
        progress_percent: 0,
        progress_info: None,
        error_message: None,
        metadata: serde_json::value::RawValue::from_string(metadata)
            .map_err(|e| DbError::Sqlite(rusqlite::Error::ToSqlConversionFailure(e.into())))?,
        result: None,
        created_at: now.clone(),
        started_at: None,
        completed_at: None,
        updated: Updated::new(now),
        requester_note: new.requester_note.as_ref().map(|n| n.as_str().to_owned()),
    })
}

/// Whether a pending or running task of `operation` (other than `except`) already claims
/// `value` at `path` of its metadata (a scalar, or an element of an array there). Called inside
/// an enqueue's transaction, it lets a handler refuse a second request for the same thing
/// while the first is still queued, before either has reached the host.
pub fn queued_claim(
    conn: &Connection,
    operation: &str,
    path: &str,
    value: &str,
    except: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM tasks, json_each(tasks.metadata, ?2) AS m \
             WHERE tasks.operation = ?1 AND tasks.status IN ('pending', 'running') \
             AND tasks.id != ?4 AND m.value = ?3 LIMIT 1",
            params![operation, path, value, except],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Task>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"))?
        .query_row([id], row_to_task)
        .optional()?)
}

pub fn status_of(conn: &Connection, id: &str) -> Result<Option<TaskStatus>, DbError> {
    let s: Option<String> = conn
        .prepare_cached("SELECT status FROM tasks WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(s.and_then(|s| TaskStatus::parse(&s)))
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub status: Option<TaskStatus>,
    pub zone_name: Option<String>,
    pub operation: Option<String>,
    /// Changed (created, started, progressed or ended) at or after this time.
    pub since: Option<String>,
    pub min_priority: Option<i64>,
    pub parent_task_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Newest first, with the total count matching the filter.
pub fn list(conn: &Connection, f: &Filter) -> Result<(Vec<Task>, i64), DbError> {
    let mut clauses = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(s) = f.status {
        clauses.push("status = ?");
        args.push(Box::new(s.as_str()));
    }
    if let Some(z) = &f.zone_name {
        clauses.push("zone_name = ?");
        args.push(Box::new(z.clone()));
    }
    if let Some(o) = &f.operation {
        clauses.push("operation = ?");
        args.push(Box::new(o.clone()));
    }
    if let Some(s) = &f.since {
        clauses.push("COALESCE(updated_at, created_at) >= ?");
        args.push(Box::new(s.clone()));
    }
    if let Some(p) = f.min_priority {
        clauses.push("priority >= ?");
        args.push(Box::new(p));
    }
    if let Some(p) = &f.parent_task_id {
        clauses.push("parent_task_id = ?");
        args.push(Box::new(p.clone()));
    }
    let where_ = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM tasks {where_}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let mut page_args = args;
    page_args.push(Box::new(f.limit));
    page_args.push(Box::new(f.offset));
    let tasks = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks {where_} ORDER BY seq DESC LIMIT ? OFFSET ?"
        ))?
        .query_map(rusqlite::params_from_iter(page_args.iter()), row_to_task)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((tasks, total))
}

/// Tasks in a status, oldest first (restart recovery).
pub fn with_status(conn: &Connection, status: TaskStatus) -> Result<Vec<Task>, DbError> {
    let tasks = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE status = ?1 ORDER BY seq"
        ))?
        .query_map([status.as_str()], row_to_task)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tasks)
}

/// How many tasks are in each status.
pub fn count_by_status(
    conn: &Connection,
) -> Result<std::collections::HashMap<TaskStatus, i64>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT status, COUNT(*) FROM tasks GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut counts = std::collections::HashMap::new();
    for row in rows {
        let (status, n) = row?;
        if let Some(s) = TaskStatus::parse(&status) {
            *counts.entry(s).or_insert(0) += n;
        }
    }
    Ok(counts)
}

/// Moves a pending task to running; its start time, or `None` if it was no longer pending.
pub fn claim(conn: &Connection, id: &str) -> Result<Option<String>, DbError> {
    let now = now_rfc3339();
    let n = conn
        .prepare_cached(
            "UPDATE tasks SET status = 'running', started_at = ?2, updated_at = ?2
             WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, now])?;
    Ok((n == 1).then_some(now))
}

/// Ends a task (pending or running) and drops its secrets.
pub fn finish(
    conn: &mut Connection,
    id: &str,
    status: TaskStatus,
    error: Option<&str>,
    result: Option<&Value>,
) -> Result<Option<Task>, DbError> {
    finish_with(conn, id, status, error, result, Vec::new())
}

/// A write an operation asked to commit with its task's completed end (see
/// `OpCx::at_completion`).
pub type EndWrite = Box<dyn FnOnce(&Connection) -> Result<(), DbError> + Send>;

/// [`finish`], and when the task ends completed (and was still live), `writes` in the same
/// transaction: either all of it is recorded or none of it. A failing write fails the whole.
pub fn finish_with(
    conn: &mut Connection,
    id: &str,
    status: TaskStatus,
    error: Option<&str>,
    result: Option<&Value>,
    writes: Vec<EndWrite>,
) -> Result<Option<Task>, DbError> {
    let tx = conn.transaction()?;
    let task = finish_in(&tx, id, status, error, result, None, writes)?;
    tx.commit()?;
    Ok(task)
}

/// [`finish_with`] in the caller's transaction, with the task's last progress (percent and
/// stage) when one is still to be recorded: it is written with the end, not before it.
pub fn finish_in(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    status: TaskStatus,
    error: Option<&str>,
    result: Option<&Value>,
    progress: Option<&(i64, String)>,
    writes: Vec<EndWrite>,
) -> Result<Option<Task>, DbError> {
    let ended = tx
        .prepare_cached(
            "UPDATE tasks SET status = ?2, error_message = ?3, result = ?4, completed_at = ?5,
            updated_at = ?5,
            progress_percent = CASE WHEN ?2 = 'completed' THEN 100
                ELSE COALESCE(?6, progress_percent) END,
            progress_info = COALESCE(?7, progress_info)
         WHERE id = ?1 AND status IN ('pending', 'running')",
        )?
        .execute(params![
            id,
            status.as_str(),
            error,
            result.map(Value::to_string),
            now_rfc3339(),
            progress.map(|p| p.0.clamp(0, 100)),
            progress.map(|p| p.1.as_str()),
        ])?;
    if ended == 1 && status == TaskStatus::Completed {
        for w in writes {
            w(tx)?;
        }
    }
    tx.prepare_cached("DELETE FROM task_secrets WHERE task_id = ?1")?
        .execute([id])?;
    get(tx, id)
}

/// Writes of what is only kept to save host reads later (what a task's settle read), in one
/// transaction of their own after the task's end: one that fails is rolled back alone, the
/// others are kept. Fails, keeping nothing, when SQLite rolled the whole transaction back (as
/// it may on a full disk), rather than letting the writes after it commit one by one.
pub fn keep_reads(conn: &mut Connection, reads: Vec<EndWrite>) -> Result<(), DbError> {
    let mut tx = conn.transaction()?;
    for w in reads {
        let sp = tx.savepoint()?;
        match w(&sp) {
            Ok(()) => sp.commit()?,
            Err(e) => {
                // Dropped, the savepoint rolls back what this write did.
                drop(sp);
                if tx.is_autocommit() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "cannot keep what a task's settle read");
            }
        }
    }
    tx.commit()?;
    Ok(())
}

pub fn set_progress(
    conn: &Connection,
    id: &str,
    percent: i64,
    info: Option<&str>,
) -> Result<Option<Task>, DbError> {
    conn.prepare_cached(
        "UPDATE tasks SET progress_percent = ?2, progress_info = COALESCE(?3, progress_info),
            updated_at = ?4
         WHERE id = ?1 AND status = 'running'",
    )?
    .execute(params![id, percent.clamp(0, 100), info, now_rfc3339()])?;
    get(conn, id)
}

/// Recomputes a group from its children: status, progress, start and end. Returns the group
/// when its status changed.
pub fn roll_up(conn: &Connection, group_id: &str) -> Result<Option<Task>, DbError> {
    let Some(group) = get(conn, group_id)? else {
        return Ok(None);
    };
    let children: Vec<(String, i64, Option<String>, Option<String>)> = conn
        .prepare_cached(
            "SELECT status, progress_percent, started_at, error_message FROM tasks
             WHERE parent_task_id = ?1 ORDER BY seq",
        )?
        .query_map([group_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if children.is_empty() {
        return Ok(None);
    }
    let statuses: Vec<TaskStatus> = children
        .iter()
        .map(|c| TaskStatus::parse(&c.0).unwrap_or(TaskStatus::Failed))
        .collect();
    let all_terminal = statuses.iter().all(|s| s.is_terminal());
    let status = if all_terminal {
        if statuses.iter().all(|s| *s == TaskStatus::Completed) {
            TaskStatus::Completed
        } else if statuses.contains(&TaskStatus::Failed) {
            TaskStatus::Failed
        } else {
            TaskStatus::Cancelled
        }
    } else if statuses.iter().any(|s| *s != TaskStatus::Pending) {
        TaskStatus::Running
    } else {
        TaskStatus::Pending
    };
    let progress = children
        .iter()
        .zip(&statuses)
        .map(|(c, s)| {
            if *s == TaskStatus::Completed {
                100
            } else {
                c.1
            }
        })
        .sum::<i64>()
        / children.len() as i64;
    let first_error = children.iter().find_map(|c| c.3.clone());
    let started = children.iter().filter_map(|c| c.2.clone()).min();
    conn.prepare_cached(
        "UPDATE tasks SET status = ?2, progress_percent = ?3,
            started_at = COALESCE(started_at, ?4),
            completed_at = CASE WHEN ?5 THEN COALESCE(completed_at, ?6) ELSE NULL END,
            error_message = CASE WHEN ?2 IN ('failed', 'cancelled') THEN ?7 ELSE NULL END,
            updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        group_id,
        status.as_str(),
        progress,
        started,
        all_terminal,
        now_rfc3339(),
        first_error
    ])?;
    let updated = get(conn, group_id)?;
    Ok(
        updated
            .filter(|u| u.status != group.status || u.progress_percent != group.progress_percent),
    )
}

pub fn children(conn: &Connection, group_id: &str) -> Result<Vec<Task>, DbError> {
    let tasks = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE parent_task_id = ?1 ORDER BY seq"
        ))?
        .query_map([group_id], row_to_task)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tasks)
}

pub fn next_output_seq(conn: &Connection, id: &str) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM task_output WHERE task_id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// A task's output lines and its latest progress, written in one transaction (see
/// `tasks::log`).
#[derive(Clone)]
pub struct OutputBatch {
    /// Stream, line, timestamp.
    pub lines: Vec<(&'static str, String, String)>,
    pub progress: Option<(i64, String)>,
    /// The seq of the task's last line already in the database, when the log knows it.
    pub after: Option<i64>,
}

/// Writes `batch` in the caller's transaction: its lines numbered after the task's last, its
/// progress, and the progress of its group (`parent`) rolled up from it. Returns the seq of
/// the task's last line and the tasks whose progress changed.
pub fn write_output(
    conn: &Connection,
    id: &str,
    parent: Option<&str>,
    batch: &OutputBatch,
) -> Result<(i64, Vec<Task>), DbError> {
    let seq = write_lines(conn, id, batch)?;
    let mut changed = Vec::new();
    if let Some((percent, stage)) = &batch.progress {
        changed.extend(set_progress(conn, id, *percent, Some(stage))?);
        if let Some(p) = parent {
            changed.extend(roll_up(conn, p)?);
        }
    }
    Ok((seq, changed))
}

/// Writes only the lines of `batch` (its progress is the caller's); returns the seq of the
/// task's last line.
pub fn write_lines(conn: &Connection, id: &str, batch: &OutputBatch) -> Result<i64, DbError> {
    let mut seq = match batch.after {
        Some(s) => s,
        None => next_output_seq(conn, id)?,
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO task_output (task_id, seq, stream, line, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (stream, line, ts) in &batch.lines {
        seq += 1;
        stmt.execute(params![id, seq, stream, line, ts])?;
    }
    Ok(seq)
}

pub fn output(
    conn: &Connection,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<OutputLine>, DbError> {
    let lines = conn
        .prepare_cached(
            "SELECT seq, stream, line, ts FROM task_output
             WHERE task_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![id, after, limit], |r| {
            Ok(OutputLine {
                seq: r.get(0)?,
                stream: r.get(1)?,
                line: r.get(2)?,
                timestamp: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines)
}

/// Appends an entry (its JSON text) to the task's journal.
pub fn journal_append(conn: &Connection, id: &str, entry: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO task_journal (task_id, seq, entry)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM task_journal WHERE task_id = ?1), ?2)",
    )?
    .execute(params![id, entry])?;
    Ok(())
}

/// The journal in the order it was written.
pub fn journal(conn: &Connection, id: &str) -> Result<Vec<Value>, DbError> {
    let entries = conn
        .prepare_cached("SELECT entry FROM task_journal WHERE task_id = ?1 ORDER BY seq")?
        .query_map([id], |r| r.get::<_, String>(0))?
        .map(|r| {
            r.map(|s| serde_json::from_str(&s).unwrap_or(Value::Null))
                .map_err(DbError::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

pub fn secrets(conn: &Connection, id: &str) -> Result<Option<Value>, DbError> {
    let s: Option<String> = conn
        .prepare_cached("SELECT secrets FROM task_secrets WHERE task_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Deletes finished tasks completed before `cutoff`, never one that a pending task depends on
/// or a child of a group that is still live. Returns how many went.
pub fn prune(conn: &mut Connection, cutoff: &str) -> Result<usize, DbError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY); DELETE FROM prune_ids;",
    )?;
    tx.execute(
        "INSERT INTO prune_ids
         SELECT t.id FROM tasks t
         WHERE t.status IN ('completed', 'failed', 'cancelled')
           AND t.completed_at < ?1
           AND NOT EXISTS (SELECT 1 FROM tasks d
                           WHERE d.depends_on = t.id AND d.status IN ('pending', 'running'))
           AND NOT EXISTS (SELECT 1 FROM tasks p
                           WHERE p.id = t.parent_task_id AND p.status IN ('pending', 'running'))
           AND NOT EXISTS (SELECT 1 FROM tasks c
                           WHERE c.parent_task_id = t.id AND c.status IN ('pending', 'running'))",
        [cutoff],
    )?;
    tx.execute_batch(
        "DELETE FROM task_output WHERE task_id IN (SELECT id FROM prune_ids);
         DELETE FROM task_journal WHERE task_id IN (SELECT id FROM prune_ids);
         DELETE FROM task_secrets WHERE task_id IN (SELECT id FROM prune_ids);",
    )?;
    let n = tx.execute(
        "DELETE FROM tasks WHERE id IN (SELECT id FROM prune_ids)",
        [],
    )?;
    tx.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::testing::TempDir;

    /// What an insert answers is what a read of the row then says, field for field (a task
    /// with secrets after two without: their row has a rowid of its own).
    #[test]
    fn an_inserted_task_is_answered_as_its_row_reads() {
        let dir = TempDir::new("insert");
        let db = crate::db::Db::open(&dir.0.join("agent.db")).unwrap();
        for _ in 0..2 {
            db.write_blocking(|c| insert(c, &NewTask::new("noop", "system")))
                .unwrap();
        }
        let first = NewTask::for_zone("zone_create", "web1")
            .metadata(serde_json::json!({"name": "web1", "ram": "1G", "nics": []}))
            .secrets(serde_json::json!({"password": "x"}))
            .priority(3)
            .created_by(Some("ops".into()))
            .requester_note(Some(RequesterNote::new("alice").unwrap()));
        let first = db.write_blocking(move |c| insert(c, &first)).unwrap();
        let second = NewTask::for_zone("zone_start", "web1").depends_on(Some(first.id.clone()));
        let second = db.write_blocking(move |c| insert(c, &second)).unwrap();
        for t in [first, second] {
            let read = db.read_blocking(|c| get(c, &t.id)).unwrap().unwrap();
            assert_eq!(
                serde_json::to_value(&t).unwrap(),
                serde_json::to_value(&read).unwrap()
            );
            assert_eq!((t.seq, &t.locks), (read.seq, &read.locks));
        }
    }

    /// The last progress a task reported rides in its end's update: a failed task keeps its
    /// percent and stage, a completed one shows 100 % with its last stage.
    #[test]
    fn the_last_progress_is_recorded_with_the_end() {
        let dir = TempDir::new("end-progress");
        let db = crate::db::Db::open(&dir.0.join("agent.db")).unwrap();
        for (status, percent) in [(TaskStatus::Failed, 40), (TaskStatus::Completed, 100)] {
            let ended = db
                .write_blocking(move |c| {
                    let t = insert(c, &NewTask::new("noop", "system"))?;
                    claim(c, &t.id)?;
                    set_progress(c, &t.id, 10, Some("Starting"))?;
                    let tx = c.transaction()?;
                    let progress = (40, "Applying zone configuration".to_owned());
                    let ended = finish_in(&tx, &t.id, status, None, None, Some(&progress), vec![])?;
                    tx.commit()?;
                    Ok(ended)
                })
                .unwrap()
                .expect("ended");
            assert_eq!(ended.status, status);
            assert_eq!(ended.progress_percent, percent);
            assert_eq!(
                ended.progress_info.as_deref(),
                Some("Applying zone configuration")
            );
        }
    }
}
