//! The zones area's task operations and what they share: the undo journal's entries and small
//! conversions from host errors to task failures.

pub mod create;
pub mod delete;
pub mod lifecycle;
pub mod modify;
#[cfg(test)]
mod tests;

use illumos::names::{AttrName, ZoneName, ZonecfgValue};
use illumos::{zoneadm, zonecfg};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ZoneServices;
use crate::db::DbError;
use crate::tasks::{OpCx, OpError};

/// What a zone operation is about to make on the host, journalled before it makes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    /// A dataset carrying this zone's ownership mark.
    Dataset { name: String },
    /// The zone's configuration (zonecfg).
    ZoneConfig { zone: String },
    /// The zone's installation (zoneadm install).
    Installed { zone: String },
    /// A configuration change is about to be applied to a zone whose `zonecfg export` hashed
    /// to `before`: if the export differs afterwards, the change took effect (a command file
    /// is all or nothing) and the operation rolls forward instead of undoing.
    Applying { zone: String, before: String },
    /// A delete began destroying the zone: from here it can only be finished.
    Deleting { zone: String },
}

/// The zone a zone task works on (its name was validated when the task was queued).
pub fn task_zone(cx: &OpCx) -> Result<ZoneName, OpError> {
    cx.task
        .zone_name
        .parse()
        .map_err(|e| OpError::failed(format!("{e}")))
}

/// The SHA-256 of a zone's `zonecfg export`, or "" when it has no configuration.
pub async fn config_hash(cx: &OpCx, zone: &ZoneName) -> Result<String, OpError> {
    use sha2::{Digest, Sha256};
    let out = cx.runner.output(&zonecfg::export_cmd(zone)).await;
    match out {
        Ok(o) => Ok(crate::keys::hex(&Sha256::digest(o.stdout.as_bytes()))),
        Err(e)
            if e.stderr()
                .is_some_and(|s| s.contains("No such zone configured")) =>
        {
            Ok(String::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// The journal's entries of one kind, oldest first.
pub fn journalled(journal: &[Value]) -> Vec<Made> {
    journal
        .iter()
        .filter_map(|v| serde_json::from_value::<Made>(v.clone()).ok())
        .collect()
}

/// Replays a journal (newest first); each step treats "already gone" as done.
pub async fn undo_made(
    svc: &ZoneServices,
    cx: &OpCx,
    zone: &str,
    journal: Vec<Value>,
) -> Result<(), OpError> {
    let mut first_error = None;
    for entry in journal {
        let Ok(made) = serde_json::from_value::<Made>(entry) else {
            continue;
        };
        let step = match &made {
            Made::Dataset { name } => create::undo_dataset(cx, zone, name).await,
            Made::ZoneConfig { zone } => undo_config(cx, zone).await,
            Made::Installed { zone } => undo_install(cx, zone).await,
            // Markers for roll_forward; nothing to undo.
            Made::Applying { .. } | Made::Deleting { .. } => Ok(()),
        };
        svc.host.invalidate(zone);
        if let Err(e) = step {
            cx.note(&format!("undo of {made:?} failed: {e}"));
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn undo_install(cx: &OpCx, zone: &str) -> Result<(), OpError> {
    let Ok(z) = zone.parse::<ZoneName>() else {
        return Ok(());
    };
    match zoneadm::get(&cx.runner, &z)
        .await
        .map_err(|e| OpError::failed(e.detail()))?
    {
        None => Ok(()),
        Some(e) if e.state == zoneadm::ZoneState::Configured => Ok(()),
        Some(e) => {
            if e.state.is_booted() {
                zoneadm::halt(&cx.runner, &z)
                    .await
                    .map_err(|e| OpError::failed(e.detail()))?;
            }
            zoneadm::uninstall(&cx.runner, &z)
                .await
                .map_err(|e| OpError::failed(e.detail()))
        }
    }
}

async fn undo_config(cx: &OpCx, zone: &str) -> Result<(), OpError> {
    let Ok(z) = zone.parse::<ZoneName>() else {
        return Ok(());
    };
    // An install that began after the journal entry may have left the zone incomplete.
    undo_install(cx, zone).await?;
    zonecfg::delete(&cx.runner, &z)
        .await
        .map_err(|e| OpError::failed(e.detail()))
}

pub fn attr(name: &str) -> Result<AttrName, OpError> {
    name.parse()
        .map_err(|e| OpError::failed(format!("attr {name}: {e}")))
}

pub fn value(v: &str) -> Result<ZonecfgValue, OpError> {
    v.parse().map_err(|e| OpError::failed(format!("{e}")))
}

pub fn fail_zfs(e: illumos::zfs::ZfsError) -> OpError {
    OpError::failed(e.detail())
}

pub async fn db_write<T, F>(cx: &OpCx, f: F) -> Result<T, OpError>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> Result<T, DbError> + Send + 'static,
{
    Ok(cx.db.write(f).await?)
}
