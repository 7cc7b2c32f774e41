//! The zones area's task operations and what they share: the undo journal's entries and small
//! conversions from host errors to task failures.

pub mod create;
pub mod delete;
pub mod lifecycle;
pub mod modify;
#[cfg(test)]
mod tests;

use illumos::names::{AttrName, DatasetName, ZoneName, ZonecfgValue};
use illumos::{zfs, zoneadm, zonecfg};
use serde::{Deserialize, Serialize};

use super::ZoneServices;
use crate::db::DbError;
use crate::error::FieldError;
use crate::tasks::{OpCx, OpError};

/// The operation names the zones area stores on tasks.
pub const CREATE: &str = "zone_create";
pub const MODIFY: &str = "zone_modify";
pub const DELETE: &str = "zone_delete";

/// What a zone operation is about to make on the host, journalled before it makes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    /// A dataset carrying this zone's ownership mark.
    Dataset { name: DatasetName },
    /// The zone's configuration (zonecfg), at `zonepath` (absent in journals of older agents).
    /// `dataset`, when present, is the dataset holding the zonepath, journalled before it was
    /// made: a zone there is this task's only if that dataset carries the zone's ownership
    /// mark (one made by hand meanwhile, at the same path, is not).
    ZoneConfig {
        zone: ZoneName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zonepath: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset: Option<DatasetName>,
    },
    /// The zone's installation (zoneadm install), at `zonepath` in `dataset` as above.
    Installed {
        zone: ZoneName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zonepath: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset: Option<DatasetName>,
    },
    /// A configuration change is about to be applied to a zone whose `zonecfg export` hashed
    /// to `before`: if the export differs afterwards, the change took effect (a command file
    /// is all or nothing) and the operation rolls forward instead of undoing.
    Applying { zone: ZoneName, before: String },
    /// A delete began destroying the zone: from here it can only be finished.
    Deleting { zone: ZoneName },
    /// The zone's SSH key file is about to be replaced (`zones::sshkeys`).
    KeyFile {
        replaced: crate::network::conffile::Replaced,
    },
}

/// The zone a zone task works on: the task's scope, validated when the task was queued and
/// read back from the database here.
pub fn task_zone(cx: &OpCx) -> Result<ZoneName, OpError> {
    cx.task
        .zone_name
        .parse()
        .map_err(|e| FieldError::new("zone_name", format!("{e}")).into())
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

/// Replays a journal (newest first); each step treats "already gone" as done.
pub async fn undo_made(
    svc: &ZoneServices,
    cx: &OpCx,
    zone: &ZoneName,
    journal: Vec<Made>,
) -> Result<(), OpError> {
    let mut first_error = None;
    for made in journal {
        let step = match &made {
            Made::Dataset { name } => create::undo_dataset(cx, zone, name).await,
            Made::ZoneConfig {
                zone,
                zonepath,
                dataset,
            } => undo_config(cx, zone, Place::of(zonepath, dataset)).await,
            Made::Installed {
                zone,
                zonepath,
                dataset,
            } => undo_install(cx, zone, Place::of(zonepath, dataset)).await,
            Made::KeyFile { replaced } => super::sshkeys::undo(&svc.config, cx, replaced).await,
            // Markers for roll_forward; nothing to undo.
            Made::Applying { .. } | Made::Deleting { .. } => Ok(()),
        };
        svc.host.invalidate(zone.as_str());
        if let Err(e) = step {
            cx.note(&format!("undo of {made:?} failed: {e}"));
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Where a journal entry says the task's zone is: its zonepath, and the dataset holding it.
struct Place<'a> {
    zonepath: Option<&'a str>,
    dataset: Option<&'a DatasetName>,
}

impl<'a> Place<'a> {
    fn of(zonepath: &'a Option<String>, dataset: &'a Option<DatasetName>) -> Place<'a> {
        Place {
            zonepath: zonepath.as_deref(),
            dataset: dataset.as_ref(),
        }
    }
}

/// Uninstalls the zone this task installed. A zone of that name at another zonepath, or in a
/// dataset without the zone's ownership mark, is not this task's (someone configured the name
/// between the create's check and its zonecfg, which then failed): it is left alone.
async fn undo_install(cx: &OpCx, zone: &ZoneName, place: Place<'_>) -> Result<(), OpError> {
    match zoneadm::get(&cx.runner, zone).await? {
        Some(e) if ours(cx, &e, &place).await? => uninstall(cx, zone, &e).await,
        _ => Ok(()),
    }
}

/// Deletes the configuration this task made, under the same rule as [`undo_install`].
async fn undo_config(cx: &OpCx, zone: &ZoneName, place: Place<'_>) -> Result<(), OpError> {
    match zoneadm::get(&cx.runner, zone).await? {
        Some(e) if ours(cx, &e, &place).await? => {
            // An install that began after the journal entry may have left the zone incomplete.
            uninstall(cx, zone, &e).await?;
            Ok(zonecfg::delete(&cx.runner, zone).await?)
        }
        _ => Ok(()),
    }
}

/// Takes the zone back to only configured.
async fn uninstall(cx: &OpCx, zone: &ZoneName, entry: &zoneadm::ZoneEntry) -> Result<(), OpError> {
    if entry.state == zoneadm::ZoneState::Configured {
        return Ok(());
    }
    if entry.state.is_booted() {
        zoneadm::halt(&cx.runner, zone).await?;
    }
    Ok(zoneadm::uninstall(&cx.runner, zone).await?)
}

/// Whether `entry` is the zone the journal entry recorded (any zone of the name when the entry
/// predates the zonepath being journalled).
async fn ours(cx: &OpCx, entry: &zoneadm::ZoneEntry, place: &Place<'_>) -> Result<bool, OpError> {
    if let Some(p) = place.zonepath.filter(|p| *p != entry.zonepath) {
        cx.note(&format!(
            "zone {} at {} is not the one this task configured (at {p}): left alone",
            entry.name, entry.zonepath
        ));
        return Ok(false);
    }
    if let Some(ds) = place.dataset {
        let marked = zfs::get(&cx.runner, ds)
            .await?
            .is_some_and(|d| d.is_owned_by(&entry.name));
        if !marked {
            cx.note(&format!(
                "zone {} at {} is in {ds}, which does not carry this zone's ownership mark: left alone",
                entry.name, entry.zonepath
            ));
            return Ok(false);
        }
    }
    Ok(true)
}

/// A zonecfg attribute the agent itself names (`disk3`, `cdrom0`, `bootdisk`).
pub fn attr(name: &str) -> Result<AttrName, OpError> {
    name.parse()
        .map_err(|e| OpError::failed(format!("attr {name}: {e}")))
}

/// A value the agent builds from validated parts (a dataset or path), as a zonecfg value.
pub fn value(v: &str) -> Result<ZonecfgValue, OpError> {
    v.parse().map_err(|e| OpError::failed(format!("{e}")))
}

/// A zone row or two, between two host commands of a task: written at once when the writer
/// is free ([`crate::db::Db::write_small`]).
pub async fn db_write<T, F>(cx: &OpCx, f: F) -> Result<T, OpError>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> Result<T, DbError> + Send + 'static,
{
    Ok(cx.db.write_small(f).await?)
}
