//! `zone_delete`: halt, uninstall, remove the configuration, optionally destroy the datasets
//! the agent made for the zone, and forget it.

use std::sync::Arc;

use illumos::names::DatasetName;
use illumos::{zoneadm, zonecfg};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{db_write, Made};
use crate::tasks::{Cx, OpError, RollForward, TaskOp};
use crate::zones::host::{destroy_owned, Cleanup};
use crate::zones::{store, ZoneServices};

pub struct DeleteZone(pub Arc<ZoneServices>);

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteParams {
    pub cleanup_datasets: bool,
}

impl TaskOp for DeleteZone {
    type Params = DeleteParams;
    type Entry = Made;

    fn name(&self) -> &'static str {
        super::DELETE
    }

    async fn run(&self, cx: &Cx<'_, Made>, p: DeleteParams) -> Result<Option<Value>, OpError> {
        let result = delete(&self.0, cx, &p).await;
        self.0.host.invalidate(&cx.task.zone_name);
        result
    }

    /// Once the delete began destroying the zone it can only be finished: it runs again (each
    /// step looks at the zone's state first, so steps already done are skipped).
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Made>,
        p: DeleteParams,
        journal: &[Made],
    ) -> Result<RollForward, OpError> {
        if !journal.iter().any(|m| matches!(m, Made::Deleting { .. })) {
            return Ok(RollForward::Undo);
        }
        let result = delete(&self.0, cx, &p).await;
        self.0.host.invalidate(&cx.task.zone_name);
        result.map(RollForward::Completed)
    }

    /// A delete that failed before destroying anything leaves the zone marked usable again,
    /// so the delete can be retried.
    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _p: DeleteParams,
        _journal: Vec<Made>,
    ) -> Result<(), OpError> {
        let z = cx.task.zone_name.clone();
        db_write(cx, move |c| {
            if store::get(c, &z)?.is_some_and(|r| r.status == "deleting") {
                store::set_status(c, &z, "ready")?;
            }
            Ok(())
        })
        .await
    }
}

async fn delete(
    svc: &ZoneServices,
    cx: &Cx<'_, Made>,
    p: &DeleteParams,
) -> Result<Option<Value>, OpError> {
    let run = &cx.runner;
    let zone = super::task_zone(cx)?;
    cx.progress(10, "Reading zone configuration").await?;
    let z = zone.to_string();
    let record = cx.db.read(move |c| store::get(c, &z)).await?;
    let entry = zoneadm::get(run, &zone).await?;
    if entry.is_some() || p.cleanup_datasets {
        cx.will_make(&Made::Deleting { zone: zone.clone() }).await?;
    }
    if let Some(e) = &entry {
        if e.state.is_booted() {
            cx.progress(30, "Halting zone").await?;
            zoneadm::halt(run, &zone).await?;
            svc.host.invalidate(zone.as_str());
        }
        if e.state != zoneadm::ZoneState::Configured {
            cx.progress(50, "Uninstalling zone").await?;
            zoneadm::uninstall(run, &zone).await?;
            svc.host.invalidate(zone.as_str());
        }
        cx.progress(70, "Removing zone configuration").await?;
        zonecfg::delete(run, &zone).await?;
        svc.host.invalidate(zone.as_str());
    } else {
        cx.note(&format!("zone {zone} is not configured on the host"));
    }

    let mut cleanup = Cleanup::default();
    if p.cleanup_datasets {
        cx.progress(85, "Destroying datasets").await?;
        match record.as_ref().and_then(|r| r.root_dataset.as_deref()) {
            Some(root) => {
                let root: DatasetName = root.parse().map_err(|e| {
                    OpError::failed(format!("the zone's record names dataset {root}: {e}"))
                })?;
                cleanup = destroy_owned(run, zone.as_str(), &root).await?;
                for d in &cleanup.destroyed {
                    cx.note(&format!("destroyed {d}"));
                }
                for d in &cleanup.kept {
                    cx.note(&format!("kept {d}: not made by the agent for this zone"));
                }
            }
            None => cx.note("the agent did not create this zone's datasets; none destroyed"),
        }
    }

    cx.progress(95, "Removing database record").await?;
    let z = zone.to_string();
    db_write(cx, move |c| store::delete(c, &z).map(drop)).await?;
    cx.progress(100, "Complete").await?;
    Ok(Some(json!({
        "zone_name": zone.as_str(),
        "datasets_destroyed": cleanup.destroyed,
        "datasets_kept": cleanup.kept,
    })))
}
