//! `zone_create`: storage, template, one zonecfg command file, install, record; undone step by
//! step on failure, cancel or restart.

use std::sync::Arc;

use illumos::names::{DatasetName, HostPath, SnapshotName, ZoneName};
use illumos::zfs::{self, DatasetType, Prop};
use illumos::zoneadm;
use illumos::zonecfg::{self, CommandFile};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{attr, db_write, value, Made};
use crate::error::FieldError;
use crate::tasks::{Cx, OpCx, OpError, TaskOp};
use crate::zones::host::destroy_owned;
use crate::zones::request::CreateSpec;
use crate::zones::{store, ZoneServices};

pub struct CreateZone(pub Arc<ZoneServices>);

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CreateSecrets {
    pub password: Option<String>,
}

impl TaskOp for CreateZone {
    type Params = CreateSpec;
    type Entry = Made;

    fn name(&self) -> &'static str {
        super::CREATE
    }

    async fn run(&self, cx: &Cx<'_, Made>, spec: CreateSpec) -> Result<Option<Value>, OpError> {
        let result = create(&self.0, cx, &spec).await;
        self.0.host.invalidate(spec.name.as_str());
        result
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        spec: CreateSpec,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        let zone = spec.name;
        let result = super::undo_made(&self.0, cx, &zone, journal).await;
        let z = zone.to_string();
        db_write(cx, move |c| store::delete_if_creating(c, &z)).await?;
        self.0.host.invalidate(zone.as_str());
        result
    }
}

/// Where the zone's dataset, made below a filesystem mounted at `parent_mountpoint` without a
/// mountpoint of its own, puts the zonepath: ZFS mounts a child at its parent's mountpoint
/// followed by its own name (zfsprops(7), `mountpoint`). `None` when the parent has no
/// mountpoint (`none`, `legacy`, or `-` for a volume).
fn expected_zonepath(parent_mountpoint: &str, root: &DatasetName) -> Option<String> {
    let leaf = root.as_str().rsplit_once('/')?.1;
    let parent = parent_mountpoint
        .strip_suffix('/')
        .unwrap_or(parent_mountpoint);
    parent_mountpoint
        .starts_with('/')
        .then(|| format!("{parent}/{leaf}/path"))
}

/// The journal entries of the zone's configuration and install, at `zonepath` in the zone's
/// own dataset `root` (journalled before `root` is made, the entries name it: see
/// [`Made::ZoneConfig`]).
fn zone_made(zone: &ZoneName, zonepath: &str, root: &DatasetName) -> [Made; 2] {
    [
        Made::ZoneConfig {
            zone: zone.clone(),
            zonepath: Some(zonepath.to_owned()),
            dataset: Some(root.clone()),
        },
        Made::Installed {
            zone: zone.clone(),
            zonepath: Some(zonepath.to_owned()),
            dataset: Some(root.clone()),
        },
    ]
}

async fn create(
    svc: &ZoneServices,
    cx: &Cx<'_, Made>,
    spec: &CreateSpec,
) -> Result<Option<Value>, OpError> {
    let run = &cx.runner;
    let zone = &spec.name;
    let root = &spec.root_dataset;

    cx.progress(5, "Validating parameters").await?;
    if zoneadm::get(run, zone).await?.is_some() {
        return Err(OpError::failed(format!(
            "Zone {zone} already exists on the host"
        )));
    }
    let parent = root
        .parent()
        .ok_or_else(|| OpError::failed("the zone dataset has no parent"))?;
    // The parent's mountpoint tells that it exists, and where the zone's dataset will be
    // mounted (see `expected_zonepath`).
    let Some(parent_mountpoint) = zfs::mountpoint(run, &parent).await? else {
        return Err(OpError::failed(format!(
            "dataset {parent} does not exist; create it (zfs create {parent}) or choose another boot_volume.pool/dataset"
        )));
    };
    if zfs::get(run, root).await?.is_some() {
        return Err(OpError::failed(format!(
            "dataset {root} already exists; the agent does not reuse datasets it did not create for this zone"
        )));
    }
    let template_snapshot = match &spec.template {
        None => None,
        Some(t) => Some(resolve_template(cx, &t.template, t.snapshot.as_deref()).await?),
    };
    if let Some(boot) = spec.boot.as_ref().filter(|b| !b.create_new) {
        check_existing_volume(svc, cx, &boot.dataset, zone, spec.force).await?;
    }
    cx.check_cancelled()?;

    cx.progress(10, "Preparing storage (ZFS volumes)").await?;
    let boot_volume: Option<&DatasetName> = spec.boot.as_ref().map(|b| &b.dataset);
    // A new boot volume (not from a template) is made right after the zone's dataset, below
    // it: both are journalled in one transaction before the first is made. If the dataset
    // cannot be made, the volume's undo finds nothing, as it would after a crash.
    let new_volume = match (&spec.boot, &spec.template) {
        (Some(b), None) if b.create_new => {
            let size = b
                .size
                .as_ref()
                .ok_or_else(|| FieldError::new("boot_volume.size", "is required"))?;
            Some((b, size))
        }
        _ => None,
    };
    let mut storage = vec![Made::Dataset { name: root.clone() }];
    if let Some((b, _)) = new_volume {
        storage.push(Made::Dataset {
            name: b.dataset.clone(),
        });
    }
    // Without a template to import (whose volume must be undone before the zone that boots
    // from it, so journalled after the zone), the configuration and install are journalled
    // here too, at the zonepath the new dataset will have: one commit instead of two. If the
    // dataset turns out mounted elsewhere, they are journalled again below at the real one.
    let journalled_zonepath = match &spec.template {
        None => expected_zonepath(&parent_mountpoint, root),
        Some(_) => None,
    };
    if let Some(zonepath) = &journalled_zonepath {
        storage.extend(zone_made(zone, zonepath, root));
    }
    cx.will_make_all(&storage).await?;
    zfs::create_filesystem(run, root, false, &[Prop::owner(zone.as_str())]).await?;
    if let Some((b, size)) = new_volume {
        zfs::create_volume(
            run,
            &b.dataset,
            size,
            b.sparse,
            &[Prop::owner(zone.as_str())],
        )
        .await?;
    }

    if let (Some(t), Some(snap), Some(vol)) = (&spec.template, &template_snapshot, boot_volume) {
        cx.progress(30, "Importing template").await?;
        cx.will_make(&Made::Dataset { name: vol.clone() }).await?;
        if t.copy {
            cx.note(&format!("copying {snap} to {vol} (zfs send | zfs recv)"));
            zfs::copy(run, snap, vol).await?;
            zfs::set(run, vol, &Prop::owner(zone.as_str())).await?;
        } else {
            zfs::clone(run, snap, vol, &[Prop::owner(zone.as_str())]).await?;
        }
    }
    cx.check_cancelled()?;

    cx.progress(40, "Applying zone configuration").await?;
    let mountpoint = zfs::mountpoint(run, root)
        .await?
        .filter(|m| m.starts_with('/'))
        .ok_or_else(|| {
            OpError::failed(format!("dataset {root} has no mountpoint for the zonepath"))
        })?;
    let zonepath: HostPath = format!("{mountpoint}/path")
        .parse()
        .map_err(|e| OpError::failed(format!("zonepath: {e}")))?;
    // The secrets' row exists only when the request carried a password: no read without one.
    let secrets: CreateSecrets = if spec.has_password {
        cx.secrets()
            .await?
            .map(serde_json::from_value::<CreateSecrets>)
            .transpose()?
            .filter(|s| s.password.is_some())
            .ok_or_else(|| OpError::failed("the password was not kept for this task"))?
    } else {
        CreateSecrets::default()
    };
    let file = command_file(spec, &zonepath, boot_volume, secrets.password.as_deref())?;
    // The configuration and the install that follows it are journalled in one transaction:
    // the install's undo finds a zone that is only configured (or none) if it never ran.
    if journalled_zonepath.as_deref() != Some(zonepath.as_str()) {
        cx.will_make_all(&zone_made(zone, zonepath.as_str(), root))
            .await?;
    }
    zonecfg::apply_stdin(run, zone, &file).await?;
    svc.host.invalidate(zone.as_str());

    // The configuration went in as one file; read it back and check each part landed.
    let applied = svc
        .host
        .read_config_in_task(run, zone)
        .await?
        .ok_or_else(|| OpError::failed("the zone vanished after configuration"))?;
    cx.progress(50, "Configuring boot disk").await?;
    if let Some(vol) = boot_volume {
        if !applied.zvols().iter().any(|v| v == vol.as_str()) {
            return Err(OpError::failed(format!(
                "boot disk {vol} is missing from the applied configuration"
            )));
        }
    }
    cx.progress(60, "Configuring additional disks").await?;
    cx.progress(70, "Configuring CD-ROMs").await?;
    if applied.fs.len() < spec.cdroms.len() {
        return Err(OpError::failed(
            "CD-ROMs are missing from the applied configuration",
        ));
    }
    cx.progress(75, "Configuring network interfaces").await?;
    if applied.nets.len() != spec.nics.len() {
        return Err(OpError::failed(
            "network interfaces are missing from the applied configuration",
        ));
    }
    cx.progress(80, "Configuring cloud-init").await?;
    for (k, _) in &spec.cloud_init {
        if applied.attr(k.as_str()).is_none() {
            return Err(OpError::failed(format!(
                "cloud-init attribute {k} is missing"
            )));
        }
    }
    cx.check_cancelled()?;

    cx.progress(90, "Installing zone").await?;
    zoneadm::install(run, zone).await?;
    // Several SSH keys: the file the `sshkey` attribute names, in the zonepath install made.
    if !spec.sshkeys.is_empty() {
        crate::zones::sshkeys::write(&svc.config, cx, zonepath.as_str(), &spec.sshkeys).await?;
    }
    // zoneadm made the zonepath dataset for this zone: mark it so cleanup may take it.
    if let Ok(zp) = root.child("path") {
        match zfs::set(run, &zp, &Prop::owner(zone.as_str())).await {
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => {}
        }
    }
    svc.host.invalidate(zone.as_str());

    cx.progress(95, "Creating database record").await?;
    // The row turns `ready` with the task's completed end, in its transaction: a crash before
    // that leaves it `creating`, and the undo after the restart removes it with the zone.
    let z = zone.to_string();
    cx.at_completion(move |c| store::set_status(c, &z, "ready"));
    cx.progress(100, "Complete").await?;
    Ok(Some(json!({
        "zone_name": zone.as_str(),
        "zonepath": zonepath.as_str(),
        "boot_dataset": boot_volume.map(|v| v.to_string()),
    })))
}

/// The snapshot a template is cloned or copied from: the one named, else its newest.
async fn resolve_template(
    cx: &OpCx,
    ds: &DatasetName,
    snapshot: Option<&str>,
) -> Result<SnapshotName, OpError> {
    match snapshot {
        Some(s) => {
            let snap = ds
                .snapshot(s)
                .map_err(|e| FieldError::new("source.template_dataset", e.to_string()))?;
            if !zfs::snapshot_exists(&cx.runner, &snap).await? {
                return Err(OpError::failed(format!(
                    "template snapshot {snap} does not exist"
                )));
            }
            Ok(snap)
        }
        None => {
            let snaps = zfs::snapshots(&cx.runner, ds).await?;
            let newest = snaps.last().ok_or_else(|| {
                OpError::failed(format!(
                    "template {ds} has no snapshot; name one as {ds}@SNAPSHOT"
                ))
            })?;
            // What zfs listed is read like any other host output.
            newest
                .name
                .parse()
                .map_err(|e| OpError::failed(format!("zfs listed snapshot {}: {e}", newest.name)))
        }
    }
}

/// An attached volume must exist, be a volume, and (unless forced) not be another zone's.
pub async fn check_existing_volume(
    svc: &ZoneServices,
    cx: &OpCx,
    ds: &DatasetName,
    zone: &ZoneName,
    force: bool,
) -> Result<(), OpError> {
    match zfs::get(&cx.runner, ds).await? {
        None => return Err(OpError::failed(format!("dataset {ds} does not exist"))),
        Some(d) if d.kind != DatasetType::Volume => {
            return Err(OpError::failed(format!("dataset {ds} is not a volume")))
        }
        Some(_) => {}
    }
    if !force {
        if let Some(other) = svc
            .host
            .zone_using_volume(&cx.runner, ds.as_str(), zone.as_str())
            .await
            .map_err(OpError::failed)?
        {
            return Err(OpError::failed(format!(
                "volume {ds} is in use by zone {other}; set force: true to attach it anyway"
            )));
        }
    }
    Ok(())
}

/// The whole configuration as one command file.
fn command_file(
    spec: &CreateSpec,
    zonepath: &HostPath,
    boot: Option<&DatasetName>,
    password: Option<&str>,
) -> Result<CommandFile, OpError> {
    let mut f = CommandFile::create_bhyve(zonepath, spec.autoboot);
    for (k, v) in &spec.attrs {
        f.add_attr(k, v);
    }
    if let Some(vol) = boot {
        f.add_attr(&attr("bootdisk")?, &value(vol.as_str())?);
        f.add_device(vol);
    }
    for (i, iso) in spec.cdroms.iter().enumerate() {
        f.add_attr(&attr(&format!("cdrom{i}"))?, &value(iso.as_str())?);
        f.add_iso(iso);
    }
    for net in &spec.nics {
        f.add_net(net);
    }
    for (k, v) in &spec.cloud_init {
        f.add_attr(k, v);
    }
    if !spec.sshkeys.is_empty() {
        let keys = crate::zones::sshkeys::path(zonepath.as_str())?;
        f.add_attr(&attr("sshkey")?, &value(&keys.to_string())?);
    }
    if let Some(p) = password {
        f.add_attr(&attr("password")?, &value(p)?);
    }
    Ok(f)
}

/// Destroys a dataset this zone's task made, and only if it bears the zone's mark.
pub async fn undo_dataset(cx: &OpCx, zone: &ZoneName, ds: &DatasetName) -> Result<(), OpError> {
    match zfs::get(&cx.runner, ds).await? {
        None => Ok(()),
        Some(d) if !d.is_owned_by(zone.as_str()) => {
            cx.note(&format!(
                "keeping {ds}: it does not carry this zone's ownership mark"
            ));
            Ok(())
        }
        Some(_) => {
            let report = destroy_owned(&cx.runner, zone.as_str(), ds).await?;
            for d in report.destroyed {
                cx.note(&format!("destroyed {d}"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zonepath_follows_the_parents_mountpoint() {
        let root: DatasetName = "rpool/zones/web1".parse().unwrap();
        let top: DatasetName = "rpool/web1".parse().unwrap();
        assert_eq!(
            expected_zonepath("/zones", &root).as_deref(),
            Some("/zones/web1/path")
        );
        assert_eq!(
            expected_zonepath("/a/zones/", &root).as_deref(),
            Some("/a/zones/web1/path")
        );
        assert_eq!(expected_zonepath("/", &top).as_deref(), Some("/web1/path"));
        for unmounted in ["none", "legacy", "-", ""] {
            assert_eq!(expected_zonepath(unmounted, &root), None, "{unmounted}");
        }
    }
}
