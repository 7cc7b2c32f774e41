//! The ARC configuration task: rewrite (or remove) `/etc/system.d/zfs-arc.conf`, atomically
//! with a backup (the network area's `ConfFile`: directly, or through zoneweaver-install when
//! root owns `/etc/system.d`), then mark the host as needing a reboot. Undo puts the previous
//! file back, or removes the one it made.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::settings::{self, Change};
use crate::host::power::flag::RebootFlag;
use crate::network::conffile::{ConfFile, Replaced};
use crate::tasks::{Cx, OpError, TaskOp};

pub const CONFIGURE: &str = "zfs_arc_configure";
pub const RESET: &str = "zfs_arc_reset";
/// One ARC change at a time: each reads the file the last one wrote.
pub const LOCK: &str = "host:zfs-arc";
/// The reboot flag's reason, as the original's.
pub const REASON: &str = "zfs_arc_config_changed";

/// The task's metadata: the change, or `None` to remove the file (reset).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    pub change: Option<Change>,
    pub by: String,
}

pub struct ArcConfigOp {
    pub name: &'static str,
    pub file: ConfFile,
    pub flag: Arc<RebootFlag>,
}

impl TaskOp for ArcConfigOp {
    type Params = Params;
    type Entry = Replaced;

    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, cx: &Cx<'_, Replaced>, p: Params) -> Result<Option<Value>, OpError> {
        let run = &cx.runner;
        let old = self.file.read()?;
        let text = match (&p.change, &old) {
            (Some(c), _) => Some(settings::render(&settings::apply(
                old.as_deref().map(settings::parse).unwrap_or_default(),
                c,
            ))),
            (None, None) => {
                return Ok(Some(json!({ "removed": false, "file": settings::PATH })));
            }
            (None, Some(_)) => None,
        };
        cx.progress(20, "writing the ARC settings").await?;
        if let Some(t) = &text {
            self.file.write_temp(t)?;
        }
        let replaced = self.file.keep_backup(run).await?;
        cx.will_make(&replaced).await?;
        match &text {
            Some(_) => self.file.commit_temp(run).await?,
            // Restoring "no previous file" removes it: the helper's `remove`, or an unlink.
            None => {
                let gone = Replaced {
                    existed: false,
                    ..replaced.clone()
                };
                self.file.restore(run, &gone).await?
            }
        }
        if let Err(e) = self.flag.add(REASON, &p.by) {
            tracing::warn!(error = %e, "cannot set the reboot-required flag");
        }
        Ok(Some(json!({
            "file": settings::PATH,
            "settings": text.as_deref().map(settings::parse),
            "reboot_required": true,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Replaced>,
        _p: Params,
        journal: Vec<Replaced>,
    ) -> Result<(), OpError> {
        for r in journal {
            self.file.restore(&cx.runner, &r).await?;
        }
        Ok(())
    }
}
