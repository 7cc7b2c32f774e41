//! `zone_provision_rollback`: back to `@pre-provision`.

use std::sync::Arc;

use illumos::zfs;
use serde_json::{json, Value};

use super::{own_snapshot, Entry, StageParams, PRE, ROLLBACK};
use crate::provisioning::ProvisioningServices;
use crate::tasks::{Cx, OpError, TaskOp};

/// Rolls the provisioning dataset and the boot volume back to `@pre-provision` (the zone was
/// halted by the `zone_halt` this task depends on).
pub struct Rollback(pub Arc<ProvisioningServices>);

impl TaskOp for Rollback {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        ROLLBACK
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let mut rolled = Vec::new();
        let mut missing = Vec::new();
        for ds in p.snapshot_targets() {
            let snap = own_snapshot(ds, PRE)?;
            if !zfs::snapshot_exists(&cx.runner, &snap).await? {
                missing.push(snap.to_string());
                continue;
            }
            cx.progress(50, &format!("Rolling {ds} back")).await?;
            zfs::rollback(&cx.runner, &snap, true).await?;
            rolled.push(snap.to_string());
        }
        if rolled.is_empty() {
            return Err(OpError::failed(format!(
                "nothing to roll back: no {}",
                missing.join(", ")
            )));
        }
        cx.note(&format!("rolled back to {}", rolled.join(", ")));
        Ok(Some(json!({
            "zone_name": p.zone,
            "halted": true,
            "rolled_back": rolled,
            "missing": missing,
        })))
    }
}
