//! The hostname operation: `/etc/nodename` first (journalled with its previous version), then,
//! when asked, the running name (journalled with the name it had). A failure puts both back.

use std::sync::Arc;

use illumos::hostname::{self, NodeName, NODENAME_PATH};
use illumos::ipnat::ConfPath;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::network::conffile::{ConfFile, Replaced};
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub const SET_HOSTNAME: &str = "network_set_hostname";

/// `network_set_hostname`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SetHostname {
    pub hostname: NodeName,
    #[serde(default)]
    pub apply_immediately: bool,
}

/// What the operation is about to change, journalled before it changes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    /// `/etc/nodename` is about to be replaced; its previous version is kept as the backup.
    Nodename { file: Replaced },
    /// The running name is about to be set; `previous` is what `hostname` printed before.
    RunningName { previous: String },
}

pub fn nodename_path() -> ConfPath {
    NODENAME_PATH.parse().expect("an absolute path")
}

pub struct SetHostnameOp(pub Arc<NetworkServices>);

impl TaskOp for SetHostnameOp {
    type Params = SetHostname;
    type Entry = Made;

    fn name(&self) -> &'static str {
        SET_HOSTNAME
    }

    async fn run(&self, cx: &Cx<'_, Made>, p: SetHostname) -> Result<Option<Value>, OpError> {
        let name = p.hostname;
        let file = ConfFile::new(&self.0.config, &nodename_path());
        let text = name.nodename_file();
        if file.read()?.as_deref() != Some(text.as_str()) {
            cx.progress(20, &format!("writing {NODENAME_PATH}")).await?;
            let replaced = file.keep_backup(&cx.runner).await?;
            cx.will_make(&Made::Nodename { file: replaced }).await?;
            file.write_temp(&text)?;
            file.commit_temp(&cx.runner).await?;
            cx.note(&format!("wrote {NODENAME_PATH}: {name}"));
        }
        if p.apply_immediately {
            let previous = hostname::current(&cx.runner).await?;
            if previous != name.as_str() {
                cx.progress(60, &format!("setting the running name to {name}"))
                    .await?;
                cx.will_make(&Made::RunningName { previous }).await?;
                hostname::set(&cx.runner, &name).await?;
            }
        }
        Ok(Some(json!({
            "hostname": name.as_str(),
            "nodename_file": name.as_str(),
            "applied_immediately": p.apply_immediately,
            // The running name changes at the next boot unless it was set now.
            "requires_reboot": !p.apply_immediately,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Made>,
        _p: SetHostname,
        journal: Vec<Made>,
    ) -> Result<(), OpError> {
        let mut first = None;
        for made in journal {
            let r = match &made {
                Made::Nodename { file } => {
                    ConfFile::new(&self.0.config, &file.path)
                        .restore(&cx.runner, file)
                        .await
                }
                Made::RunningName { previous } => match previous.parse::<NodeName>() {
                    Ok(n) => hostname::set(&cx.runner, &n).await.map_err(OpError::from),
                    Err(e) => {
                        cx.note(&format!("undo: cannot set the running name back: {e}"));
                        Ok(())
                    }
                },
            };
            if let Err(e) = r {
                cx.note(&format!("undo failed: {e}"));
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_journal_of_hostname_tasks_read_and_keep_their_shape() {
        crate::network::assert_same_shape::<SetHostname>(
            json!({"hostname": "hv-04.example.net", "apply_immediately": true}),
        );
        crate::network::assert_same_shape::<Made>(
            json!({"kind": "nodename", "file": {"path": "/etc/nodename", "existed": true}}),
        );
        crate::network::assert_same_shape::<Made>(
            json!({"kind": "running_name", "previous": "omnios-sim"}),
        );
        assert!(serde_json::from_value::<SetHostname>(json!({"hostname": "a b"})).is_err());
    }
}
