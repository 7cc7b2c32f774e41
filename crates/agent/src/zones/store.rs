//! The zones table: what only the agent knows about a zone.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::db::DbError;
use crate::time::now_rfc3339;

#[derive(Debug, Clone)]
pub struct ZoneRecord {
    pub name: String,
    pub brand: String,
    pub status: String,
    pub root_dataset: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    pub pending_changes: Vec<String>,
    pub provisioning: Option<Value>,
}

const COLUMNS: &str = "name, brand, status, root_dataset, created_by, created_at, updated_at, \
    version, pending_changes, provisioning";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ZoneRecord> {
    let pending: String = r.get(8)?;
    let prov: Option<String> = r.get(9)?;
    Ok(ZoneRecord {
        name: r.get(0)?,
        brand: r.get(1)?,
        status: r.get(2)?,
        root_dataset: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        version: r.get(7)?,
        pending_changes: serde_json::from_str(&pending).unwrap_or_default(),
        provisioning: prov.and_then(|p| serde_json::from_str(&p).ok()),
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<ZoneRecord>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM zones WHERE name = ?1"))?
        .query_row([name], row)
        .optional()?)
}

pub fn all(conn: &Connection) -> Result<Vec<ZoneRecord>, DbError> {
    let v = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM zones ORDER BY name"))?
        .query_map([], row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

/// Records a zone being created; `Ok(false)` if the name is taken (the UNIQUE key makes two
/// concurrent creates of one name give one winner).
pub fn insert_creating(
    conn: &Connection,
    name: &str,
    brand: &str,
    root_dataset: &str,
    created_by: Option<&str>,
) -> Result<bool, DbError> {
    let now = now_rfc3339();
    let n = conn
        .prepare_cached(
            "INSERT INTO zones (name, brand, status, root_dataset, created_by, created_at, updated_at)
         VALUES (?1, ?2, 'creating', ?3, ?4, ?5, ?5) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name, brand, root_dataset, created_by, now])?;
    Ok(n == 1)
}

pub fn set_status(conn: &Connection, name: &str, status: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE zones SET status = ?2, updated_at = ?3, version = version + 1 WHERE name = ?1",
    )?
    .execute(params![name, status, now_rfc3339()])?;
    Ok(())
}

/// Removes the row only while a create still owns it (the undo of a failed create).
pub fn delete_if_creating(conn: &Connection, name: &str) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM zones WHERE name = ?1 AND status = 'creating'",
        [name],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, name: &str) -> Result<bool, DbError> {
    conn.execute("DELETE FROM zone_secrets WHERE zone_name = ?1", [name])?;
    Ok(conn.execute("DELETE FROM zones WHERE name = ?1", [name])? == 1)
}

pub fn bump(conn: &Connection, name: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE zones SET version = version + 1, updated_at = ?2 WHERE name = ?1",
        params![name, now_rfc3339()],
    )?;
    Ok(())
}

pub fn add_pending(conn: &Connection, name: &str, changes: &[String]) -> Result<(), DbError> {
    let Some(rec) = get(conn, name)? else {
        return Ok(());
    };
    let mut all = rec.pending_changes;
    // Listed once: an operation finished again after a restart asks for the same change.
    for c in changes {
        if !all.contains(c) {
            all.push(c.clone());
        }
    }
    conn.execute(
        "UPDATE zones SET pending_changes = ?2, version = version + 1, updated_at = ?3 WHERE name = ?1",
        params![name, serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()), now_rfc3339()],
    )?;
    Ok(())
}

pub fn clear_pending(conn: &Connection, name: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE zones SET pending_changes = '[]', version = version + 1, updated_at = ?2
         WHERE name = ?1 AND pending_changes != '[]'",
        params![name, now_rfc3339()],
    )?;
    Ok(())
}

/// Stores provisioning settings (without secrets) and the secrets apart, for a zone the agent
/// may not have created: the row is made if missing.
pub fn set_provisioning(
    conn: &Connection,
    name: &str,
    brand: &str,
    settings: &Value,
    secrets: Option<&Value>,
) -> Result<(), DbError> {
    let now = now_rfc3339();
    conn.execute(
        "INSERT INTO zones (name, brand, status, created_at, updated_at, provisioning)
         VALUES (?1, ?2, 'ready', ?3, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET provisioning = ?4, updated_at = ?3, version = version + 1",
        params![name, brand, now, settings.to_string()],
    )?;
    if let Some(s) = secrets {
        // Merge: a PUT that sends only a password keeps a stored key, and the other way round.
        let mut merged: serde_json::Map<String, Value> = conn
            .query_row(
                "SELECT secrets FROM zone_secrets WHERE zone_name = ?1",
                [name],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if let Some(new) = s.as_object() {
            merged.extend(new.clone());
        }
        conn.execute(
            "INSERT INTO zone_secrets (zone_name, secrets) VALUES (?1, ?2)
             ON CONFLICT (zone_name) DO UPDATE SET secrets = ?2",
            params![name, Value::Object(merged).to_string()],
        )?;
    }
    Ok(())
}

/// The id of the zone's most recently queued modify other than `except`, whatever its status:
/// part of the zone's ETag, so that accepting a modify changes the ETag at once, before the
/// task has run.
pub fn last_modify(
    c: &Connection,
    zone: &str,
    except: Option<&str>,
) -> Result<Option<String>, DbError> {
    Ok(c.query_row(
        "SELECT id FROM tasks WHERE zone_name = ?1 AND operation = 'zone_modify' \
         AND id IS NOT ?2 ORDER BY seq DESC LIMIT 1",
        params![zone, except],
        |r| r.get(0),
    )
    .optional()?)
}

/// A zone's last configuration read as kept in `zone_configs`.
pub struct KeptConfig {
    pub name: String,
    /// The signature of the zone's configuration file when it was read (`None`: not known).
    pub sig: Option<String>,
    /// `zonecfg export`'s text.
    pub export: String,
}

pub fn kept_configs(conn: &Connection) -> Result<Vec<KeptConfig>, DbError> {
    let v = conn
        .prepare_cached("SELECT name, sig, export FROM zone_configs")?
        .query_map([], |r| {
            Ok(KeptConfig {
                name: r.get(0)?,
                sig: r.get(1)?,
                export: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

/// What stands for a secret attribute's value in a kept configuration: the attribute stays, so
/// "a password is set" still reads true, but the value never reaches the database.
pub const KEPT_SECRET: &str = "(not kept)";

/// `zonecfg export` text with the values of secret attributes (the cloud-init password)
/// replaced by [`KEPT_SECRET`], and the `password=` option of `vnc` by
/// [`crate::zones::vnc::endpoint::PASSWORD_NOT_KEPT`] (the screenshot reads it fresh).
/// A `set value=` line of the `vnc` attr with its `password=` option's value replaced.
fn vnc_without_password(line: &str) -> String {
    let (head, value) = line.split_once("set value=").unwrap_or((line, ""));
    let quoted = value.starts_with('"');
    let options: Vec<String> = value
        .trim_matches('"')
        .split(',')
        .map(|o| match o.split_once('=') {
            Some(("password", _)) => format!(
                "password={}",
                crate::zones::vnc::endpoint::PASSWORD_NOT_KEPT
            ),
            _ => o.to_owned(),
        })
        .collect();
    let q = if quoted { "\"" } else { "" };
    format!("{head}set value={q}{}{q}", options.join(","))
}

pub fn without_secrets(export: &str) -> String {
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in export.lines() {
        match &mut block {
            None if line.trim() == "add attr" => block = Some(vec![line]),
            None => out.push(line.to_owned()),
            Some(b) => {
                b.push(line);
                if line.trim() == "end" {
                    let secret = b.iter().any(|l| {
                        l.trim().strip_prefix("set name=").is_some_and(|n| {
                            super::view::SECRET_ATTRS.contains(&n.trim_matches('"'))
                        })
                    });
                    let vnc = b
                        .iter()
                        .any(|l| matches!(l.trim(), "set name=vnc" | "set name=\"vnc\""));
                    for l in b.drain(..) {
                        if secret && l.trim_start().starts_with("set value=") {
                            out.push(format!("set value=\"{KEPT_SECRET}\""));
                        } else if vnc && l.trim_start().starts_with("set value=") {
                            out.push(vnc_without_password(l));
                        } else {
                            out.push(l.to_owned());
                        }
                    }
                    block = None;
                }
            }
        }
    }
    // An unfinished block (a cut export) is dropped rather than kept with its value.
    let mut text = out.join("\n");
    if export.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Stores the given reads and forgets the zones in `gone`, in one transaction.
pub fn keep_configs(
    conn: &mut Connection,
    reads: &[KeptConfig],
    gone: &[String],
) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    keep_configs_in(&tx, reads, gone)?;
    tx.commit()?;
    Ok(())
}

/// [`keep_configs`] inside the caller's transaction.
pub fn keep_configs_in(
    conn: &Connection,
    reads: &[KeptConfig],
    gone: &[String],
) -> Result<(), DbError> {
    // Gone first: a read of a zone made again with the same name after its deletion was
    // seen (both waiting for a task's end) is the one to keep.
    let mut del = conn.prepare_cached("DELETE FROM zone_configs WHERE name = ?1")?;
    for name in gone {
        del.execute([name])?;
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO zone_configs (name, sig, export) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET sig = ?2, export = ?3",
    )?;
    for k in reads {
        put.execute(params![k.name, k.sig, without_secrets(&k.export)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_configuration_holds_no_secret_but_still_says_one_is_set() {
        let export = "create -b\nset zonepath=/z\nadd attr\nset name=ram\nset type=string\nset value=2G\nend\nadd attr\nset name=password\nset type=string\nset value=\"hunter2 x\"\nend\n";
        let kept = without_secrets(export);
        assert!(!kept.contains("hunter2"), "{kept}");
        assert!(kept.contains("set value=2G"));
        assert!(kept.contains("set name=password"));
        assert!(kept.contains(KEPT_SECRET));
        assert!(kept.ends_with("end\n"));
        let cfg = illumos::zonecfg::parse_export(&kept);
        assert_eq!(cfg.attr("password"), Some(KEPT_SECRET));
    }

    #[test]
    fn a_kept_configuration_holds_no_vnc_password() {
        let export = "create -b\nadd attr\nset name=vnc\nset type=string\nset value=\"unix=/tmp/vm.vnc,password=zonepass,wait\"\nend\n";
        let kept = without_secrets(export);
        assert!(!kept.contains("zonepass"), "{kept}");
        let cfg = illumos::zonecfg::parse_export(&kept);
        assert_eq!(
            cfg.attr("vnc"),
            Some("unix=/tmp/vm.vnc,password=(not-kept),wait")
        );
    }

    #[test]
    fn a_cut_export_drops_its_unfinished_block() {
        let kept = without_secrets("create -b\nadd attr\nset name=password\nset value=hunter2");
        assert!(!kept.contains("hunter2"), "{kept}");
    }
}
