//! `zone_modify`: new volumes first, then every configuration change in one command file, so a
//! failure leaves the configuration exactly as it was (and the new volumes are destroyed).

use std::sync::Arc;

use illumos::names::{DatasetName, HostPath, ZoneName};
use illumos::zfs::{self, Prop};
use illumos::zoneadm;
use illumos::zonecfg::{self, CommandFile, ZoneConfig};
use serde_json::{json, Value};

use super::create::check_existing_volume;
use super::{attr, db_write, value, Made};
use crate::error::FieldError;
use crate::tasks::{Cx, OpCx, OpError, RollForward, TaskOp};
use crate::zones::request::ModifySpec;
use crate::zones::{store, ZoneServices};

pub struct ModifyZone(pub Arc<ZoneServices>);

impl TaskOp for ModifyZone {
    type Params = ModifySpec;
    type Entry = Made;

    fn name(&self) -> &'static str {
        super::MODIFY
    }

    async fn run(&self, cx: &Cx<'_, Made>, spec: ModifySpec) -> Result<Option<Value>, OpError> {
        let result = modify(&self.0, cx, &spec).await;
        self.0.host.invalidate(&cx.task.zone_name);
        result
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _spec: ModifySpec,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        let zone = super::task_zone(cx)?;
        super::undo_made(&self.0, cx, &zone, journal).await
    }

    /// Past the commit point when the zone's configuration no longer matches what it was
    /// before the command file: the change is in, only the bookkeeping remains.
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Made>,
        spec: ModifySpec,
        journal: &[Made],
    ) -> Result<RollForward, OpError> {
        let Some(before) = journal.iter().find_map(|m| match m {
            Made::Applying { before, .. } => Some(before),
            _ => None,
        }) else {
            return Ok(RollForward::Undo);
        };
        let zone = super::task_zone(cx)?;
        if super::config_hash(cx, &zone).await? == *before {
            return Ok(RollForward::Undo);
        }
        let result = record(cx, &zone, &spec, Vec::new()).await;
        self.0.host.invalidate(&cx.task.zone_name);
        result.map(RollForward::Completed)
    }
}

/// The bookkeeping after the configuration changed: pending changes of a running zone.
async fn record(
    cx: &OpCx,
    zone: &ZoneName,
    spec: &ModifySpec,
    new_disks: Vec<DatasetName>,
) -> Result<Option<Value>, OpError> {
    let running = zoneadm::get(&cx.runner, zone)
        .await?
        .is_some_and(|z| z.state.is_booted());
    let changes = spec.describe();
    let z = zone.to_string();
    db_write(cx, move |c| {
        if running {
            store::add_pending(c, &z, &changes)
        } else {
            store::bump(c, &z)
        }
    })
    .await?;
    Ok(Some(json!({
        "zone_name": zone.as_str(),
        "requires_restart": running,
        "disks_added": new_disks.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
    })))
}

/// The slots (`disk0`, `cdrom3`) in use, so new ones take the lowest free number.
fn free_slot(cfg: &ZoneConfig, prefix: &str, taken_now: &[String]) -> Option<String> {
    (0..16)
        .map(|n| format!("{prefix}{n}"))
        .find(|s| cfg.attr(s).is_none() && !taken_now.contains(s))
}

/// Checks the request against the current configuration; the handler runs it for a quick
/// 400 and the task runs it again on the configuration it is about to change.
pub fn check_against(cfg: &ZoneConfig, spec: &ModifySpec) -> Result<(), FieldError> {
    for (i, n) in spec.remove_nics.iter().enumerate() {
        if !cfg
            .nets
            .iter()
            .any(|r| r.get("physical") == Some(n.as_str()))
        {
            return Err(FieldError::new(
                format!("remove_nics[{i}]"),
                format!("the zone has no NIC {n}"),
            ));
        }
    }
    for (i, n) in spec.add_nics.iter().enumerate() {
        if cfg
            .nets
            .iter()
            .any(|r| r.get("physical") == Some(n.physical.as_str()))
            && !spec.remove_nics.contains(&n.physical)
        {
            return Err(FieldError::new(
                format!("add_nics[{i}].physical"),
                format!("the zone already has a NIC {}", n.physical),
            ));
        }
    }
    for (i, d) in spec.remove_disks.iter().enumerate() {
        if cfg.attr(d).is_none() {
            return Err(FieldError::new(
                format!("remove_disks[{i}]"),
                format!("the zone has no disk {d}"),
            ));
        }
    }
    for (i, c) in spec.remove_cdroms.iter().enumerate() {
        let found = if c.starts_with('/') {
            cfg.fs.iter().any(|f| f.get("dir") == Some(c))
        } else {
            cfg.attr(c).is_some()
        };
        if !found {
            return Err(FieldError::new(
                format!("remove_cdroms[{i}]"),
                format!("the zone has no CD-ROM {c}"),
            ));
        }
    }
    let disks_in_use = (0..16)
        .filter(|n| cfg.attr(&format!("disk{n}")).is_some())
        .count();
    if disks_in_use - spec.remove_disks.len().min(disks_in_use) + spec.add_disks.len() > 16 {
        return Err(FieldError::new(
            "add_disks",
            "a zone has at most 16 additional disks",
        ));
    }
    Ok(())
}

async fn modify(
    svc: &ZoneServices,
    cx: &Cx<'_, Made>,
    spec: &ModifySpec,
) -> Result<Option<Value>, OpError> {
    let run = &cx.runner;
    let zone = super::task_zone(cx)?;
    cx.progress(10, "Reading current configuration").await?;
    let cfg = zonecfg::export(run, &zone)
        .await?
        .ok_or_else(|| OpError::failed(format!("zone {zone} does not exist")))?;
    check_against(&cfg, spec)?;

    cx.progress(30, "Preparing storage (ZFS volumes)").await?;
    let mut new_disks: Vec<DatasetName> = Vec::new();
    for d in &spec.add_disks {
        let ds = &d.dataset;
        if d.create_new {
            if let Some(parent) = ds.parent() {
                if zfs::get(run, &parent).await?.is_none() {
                    cx.will_make(&Made::Dataset {
                        name: parent.clone(),
                    })
                    .await?;
                    zfs::create_filesystem(run, &parent, false, &[Prop::owner(zone.as_str())])
                        .await?;
                }
            }
            let size = d
                .size
                .as_ref()
                .ok_or_else(|| FieldError::new("add_disks.size", "a new disk needs a size"))?;
            cx.will_make(&Made::Dataset { name: ds.clone() }).await?;
            zfs::create_volume(run, ds, size, d.sparse, &[Prop::owner(zone.as_str())]).await?;
        } else {
            check_existing_volume(svc, cx, ds, &zone, spec.force).await?;
        }
        new_disks.push(ds.clone());
    }
    cx.check_cancelled()?;

    cx.progress(60, "Applying zone configuration").await?;
    let mut f = CommandFile::new();
    for (k, v) in &spec.attrs {
        f.set_attr(k, v);
    }
    if let Some(a) = spec.autoboot {
        f.set_autoboot(a);
    }
    for l in &spec.remove_nics {
        f.remove_net(l);
    }
    for net in &spec.add_nics {
        f.add_net(net);
    }
    for d in &spec.remove_disks {
        if let Some(ds) = cfg.attr(d).and_then(|v| v.split(',').next()) {
            if let Ok(ds) = ds.parse::<DatasetName>() {
                f.remove_device(&ds);
            }
        }
        f.remove_attr(&attr(d)?);
    }
    let mut taken = Vec::new();
    for ds in &new_disks {
        let s =
            free_slot(&cfg, "disk", &taken).ok_or_else(|| OpError::failed("no free disk slot"))?;
        f.add_attr(&attr(&s)?, &value(ds.as_str())?);
        f.add_device(ds);
        taken.push(s);
    }
    for c in &spec.remove_cdroms {
        let (slot, path) = if c.starts_with('/') {
            let slot = cfg
                .attrs
                .iter()
                .find(|a| a.name.starts_with("cdrom") && a.value == *c)
                .map(|a| a.name.clone());
            (slot, Some(c.clone()))
        } else {
            (Some(c.clone()), cfg.attr(c).map(str::to_owned))
        };
        if let Some(s) = slot {
            f.remove_attr(&attr(&s)?);
        }
        if let Some(p) = path.and_then(|p| p.parse::<HostPath>().ok()) {
            f.remove_fs(&p);
        }
    }
    let mut taken = Vec::new();
    for p in &spec.add_cdroms {
        let s = free_slot(&cfg, "cdrom", &taken)
            .ok_or_else(|| OpError::failed("no free CD-ROM slot"))?;
        f.add_attr(&attr(&s)?, &value(p.as_str())?);
        f.add_iso(p);
        taken.push(s);
    }
    for (k, v) in &spec.cloud_init {
        f.set_attr(k, v);
    }
    if !spec.sshkeys.is_empty() {
        // Rewritten now, read by the brand at the zone's next boot (as the attribute is).
        let zonepath = cfg
            .zonepath
            .as_deref()
            .ok_or_else(|| OpError::failed(format!("zone {zone} has no zonepath")))?;
        if zoneadm::get(run, &zone)
            .await?
            .is_none_or(|z| z.state == zoneadm::ZoneState::Configured)
        {
            return Err(OpError::failed(format!(
                "zone {zone} is not installed: its zonepath, where several SSH keys are kept, does not exist yet"
            )));
        }
        let v = crate::zones::sshkeys::write(&svc.config, cx, zonepath, &spec.sshkeys).await?;
        f.set_attr(&attr("sshkey")?, &v);
    } else if spec.cloud_init.iter().any(|(k, _)| k.as_str() == "sshkey") {
        crate::zones::sshkeys::remove_unused(&svc.config, cx, &cfg).await?;
    }
    if spec.has_password {
        let password = cx
            .secrets()
            .await?
            .and_then(|s| s.get("password").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| OpError::failed("the password was not kept for this task"))?;
        f.set_attr(&attr("password")?, &value(&password)?);
    }
    let before = super::config_hash(cx, &zone).await?;
    cx.will_make(&Made::Applying {
        zone: zone.clone(),
        before,
    })
    .await?;
    zonecfg::apply_stdin(run, &zone, &f).await?;
    svc.host.invalidate(zone.as_str());

    cx.progress(90, "Recording changes").await?;
    let result = record(cx, &zone, spec, new_disks).await?;
    cx.progress(100, "Complete").await?;
    Ok(result)
}
