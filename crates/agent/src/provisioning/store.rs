//! SQL for the provisioning tables: artifacts, recipes, and each zone's latest pipeline.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

use super::recipes::{Recipe, RecipeBody};
use crate::db::DbError;
use crate::time::now_rfc3339;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Artifact {
    pub id: String,
    /// The name the client uploaded it under (shown only; never a path).
    pub filename: String,
    pub size: i64,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: String,
}

fn artifact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Artifact> {
    Ok(Artifact {
        id: r.get(0)?,
        filename: r.get(1)?,
        size: r.get(2)?,
        sha256: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const ARTIFACT_COLUMNS: &str = "id, filename, size, sha256, created_by, created_at";

pub fn insert_artifact(conn: &Connection, a: &Artifact) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO provisioning_artifacts (id, filename, size, sha256, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.id,
            a.filename,
            a.size,
            a.sha256,
            a.created_by,
            a.created_at
        ],
    )?;
    Ok(())
}

pub fn artifacts(conn: &Connection) -> Result<Vec<Artifact>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM provisioning_artifacts ORDER BY created_at, id"
        ))?
        .query_map([], artifact_row)?
        .collect::<Result<_, _>>()?)
}

pub fn artifact(conn: &Connection, id: &str) -> Result<Option<Artifact>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM provisioning_artifacts WHERE id = ?1"
        ))?
        .query_row([id], artifact_row)
        .optional()?)
}

pub fn delete_artifact(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM provisioning_artifacts WHERE id = ?1", [id])? == 1)
}

fn recipe_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_recipe(
    (id, body, created, updated): (String, String, String, String),
) -> Result<Recipe, DbError> {
    let body: RecipeBody = serde_json::from_str(&body)
        .map_err(|e| DbError::Conflict(format!("recipe {id} is unreadable: {e}")))?;
    Ok(Recipe {
        id,
        builtin: false,
        body,
        created_at: Some(created),
        updated_at: Some(updated),
    })
}

pub fn recipes(conn: &Connection) -> Result<Vec<Recipe>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT id, body, created_at, updated_at FROM provisioning_recipes ORDER BY name",
        )?
        .query_map([], recipe_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(to_recipe).collect()
}

pub fn recipe(conn: &Connection, id: &str) -> Result<Option<Recipe>, DbError> {
    conn.prepare_cached(
        "SELECT id, body, created_at, updated_at FROM provisioning_recipes WHERE id = ?1",
    )?
    .query_row([id], recipe_row)
    .optional()?
    .map(to_recipe)
    .transpose()
}

fn name_taken(e: rusqlite::Error, name: &str) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            DbError::Conflict(format!("a recipe named {name:?} already exists"))
        }
        other => other.into(),
    }
}

pub fn insert_recipe(conn: &Connection, id: &str, body: &RecipeBody) -> Result<Recipe, DbError> {
    let now = now_rfc3339();
    let text = serde_json::to_string(body).map_err(|e| DbError::Join(e.to_string()))?;
    conn.execute(
        "INSERT INTO provisioning_recipes (id, name, os_family, body, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, body.name, body.os_family, text, now],
    )
    .map_err(|e| name_taken(e, &body.name))?;
    Ok(recipe(conn, id)?.expect("just inserted"))
}

pub fn update_recipe(
    conn: &Connection,
    id: &str,
    body: &RecipeBody,
) -> Result<Option<Recipe>, DbError> {
    let text = serde_json::to_string(body).map_err(|e| DbError::Join(e.to_string()))?;
    let n = conn
        .execute(
            "UPDATE provisioning_recipes SET name = ?2, os_family = ?3, body = ?4, updated_at = ?5
             WHERE id = ?1",
            params![id, body.name, body.os_family, text, now_rfc3339()],
        )
        .map_err(|e| name_taken(e, &body.name))?;
    if n == 0 {
        return Ok(None);
    }
    recipe(conn, id)
}

pub fn delete_recipe(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM provisioning_recipes WHERE id = ?1", [id])? == 1)
}

/// A zone's latest pipeline.
#[derive(Debug, Clone)]
pub struct Run {
    pub zone_name: String,
    pub group_task_id: String,
    /// Stage name → task id, in pipeline order.
    pub stages: Vec<(String, String)>,
    pub started_at: String,
    pub last_provisioned_at: Option<String>,
}

pub fn run(conn: &Connection, zone: &str) -> Result<Option<Run>, DbError> {
    let row = conn
        .prepare_cached(
            "SELECT zone_name, group_task_id, stages, started_at, last_provisioned_at
             FROM provisioning_runs WHERE zone_name = ?1",
        )?
        .query_row([zone], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    Ok(
        row.map(|(zone_name, group_task_id, stages, started_at, last)| Run {
            zone_name,
            group_task_id,
            stages: serde_json::from_str(&stages).unwrap_or_default(),
            started_at,
            last_provisioned_at: last,
        }),
    )
}

/// Records a new pipeline for the zone (replacing the previous one, keeping when it last
/// succeeded).
pub fn start_run(
    conn: &Connection,
    zone: &str,
    group: &str,
    stages: &[(String, String)],
) -> Result<(), DbError> {
    let text = serde_json::to_string(stages).map_err(|e| DbError::Join(e.to_string()))?;
    conn.execute(
        "INSERT INTO provisioning_runs (zone_name, group_task_id, stages, started_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (zone_name) DO UPDATE SET group_task_id = ?2, stages = ?3, started_at = ?4",
        params![zone, group, text, now_rfc3339()],
    )?;
    Ok(())
}

pub fn mark_provisioned(conn: &Connection, zone: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE provisioning_runs SET last_provisioned_at = ?2 WHERE zone_name = ?1",
        params![zone, now_rfc3339()],
    )?;
    Ok(())
}

/// Secrets stored for a zone (`zone_secrets`), as a map.
pub fn zone_secrets(conn: &Connection, zone: &str) -> Result<BTreeMap<String, String>, DbError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT secrets FROM zone_secrets WHERE zone_name = ?1")?
        .query_row([zone], |r| r.get(0))
        .optional()?;
    Ok(text
        .and_then(|t| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
        .collect())
}
