//! `zone_provision_extract`: the provisioning dataset, made (or reused when it is this zone's)
//! and filled with the artifact.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use illumos::zfs;
use serde_json::{json, Value};

use super::{io_failed, mountpoint, take_over_mountpoint, Entry, Made, StageParams, EXTRACT};
use crate::provisioning::extract::{self, Limits};
use crate::provisioning::ProvisioningServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub struct Extract(pub Arc<ProvisioningServices>);

impl TaskOp for Extract {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        EXTRACT
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        let ds = p.dataset()?;
        cx.progress(10, "Creating the provisioning dataset").await?;
        let existing = zfs::get(&cx.runner, ds).await?;
        match &existing {
            Some(d) if !d.is_owned_by(p.zone.as_str()) => {
                return Err(OpError::failed(format!(
                "{ds} exists and was not made by the agent for zone {}; refusing to write into it",
                p.zone
            )))
            }
            Some(_) => {}
            None => {
                cx.will_make(
                    &Made::Dataset {
                        name: ds.clone(),
                        zone: p.zone.clone(),
                    }
                    .into(),
                )
                .await?;
                zfs::create_filesystem(&cx.runner, ds, true, &[zfs::Prop::owner(p.zone.as_str())])
                    .await?;
            }
        }
        let (mp, dir) = mountpoint(svc, cx, ds).await?;
        take_over_mountpoint(cx, &mp, &dir).await?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            io_failed(
                format_args!(
                    "cannot create {} as {}",
                    dir.display(),
                    illumos::runner::agent_user()
                ),
                e,
            )
        })?;
        let Some(artifact) = p.settings.artifact_id.clone() else {
            cx.note("no artifact to extract");
            return Ok(Some(json!({ "dataset": ds.as_str(), "extracted": false })));
        };
        let file = svc.artifact_path(&artifact);
        if !file.is_file() {
            return Err(OpError::failed(format!("artifact {artifact} is gone")));
        }
        // Re-provisioning: the dataset is ours, its old contents make way for the new.
        if existing.is_some() {
            let clear =
                |e: std::io::Error| io_failed(format_args!("emptying {}", dir.display()), e);
            for e in std::fs::read_dir(&dir).map_err(clear)? {
                let path = e.map_err(clear)?.path();
                let r = match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                    _ => std::fs::remove_file(&path),
                };
                r.map_err(clear)?;
            }
        }
        cx.progress(40, "Extracting the artifact").await?;
        let limits = Limits {
            max_bytes: svc.config.provisioning.max_extract_bytes,
            max_entries: svc.config.provisioning.max_extract_entries,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, dir2) = (stop.clone(), dir.clone());
        let job =
            tokio::task::spawn_blocking(move || extract::extract(&file, &dir2, limits, &stop2));
        let done = tokio::select! {
            r = job => r
                .map_err(|e| OpError::failed(format!("the extraction stopped: {e}")))?
                .map_err(|e| OpError::failed(e.to_string()))?,
            _ = cx.cancel.cancelled() => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(OpError::Cancelled);
            }
        };
        cx.note(&format!(
            "extracted {} files, {} directories, {} links ({} bytes) into {ds}",
            done.files, done.dirs, done.links, done.bytes
        ));
        Ok(Some(json!({
            "dataset": ds.as_str(),
            "extracted": true,
            "files": done.files,
            "bytes": done.bytes,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Entry>,
        _p: StageParams,
        journal: Vec<Entry>,
    ) -> Result<(), OpError> {
        for entry in journal {
            let Entry::Made(Made::Dataset { name, zone }) = entry else {
                continue;
            };
            // Only what bears our mark for this zone is destroyed.
            match zfs::get(&cx.runner, &name).await? {
                Some(d) if d.is_owned_by(zone.as_str()) => {
                    zfs::destroy(&cx.runner, name.as_str(), true).await?;
                    cx.note(&format!("destroyed {name}"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
