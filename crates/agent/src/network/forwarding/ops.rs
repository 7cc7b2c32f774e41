//! The forwarding operation.

use std::sync::Arc;

use illumos::link::LinkName;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::host::{ensure_global, ensure_interface};
use crate::network::journal::{self, Entry};
use crate::network::NetworkServices;
use crate::tasks::{Cx, OpError, TaskOp};

pub const SET_FORWARDING: &str = "network_set_forwarding";

/// `network_set_forwarding`: global forwarding when `enabled` is given, and the interfaces
/// whose forwarding follows it (on when it is absent).
#[derive(Debug, Serialize, Deserialize)]
pub struct Params {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub interfaces: Vec<LinkName>,
}

pub struct SetForwardingOp(pub Arc<NetworkServices>);

impl TaskOp for SetForwardingOp {
    type Params = Params;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        SET_FORWARDING
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: Params) -> Result<Option<Value>, OpError> {
        let mut changed = Vec::new();
        if let Some(want) = p.enabled {
            cx.progress(20, "global IPv4 forwarding").await?;
            if ensure_global(cx, want).await? {
                changed.push("global".to_owned());
            }
        }
        let want = p.enabled.unwrap_or(true);
        for l in &p.interfaces {
            cx.progress(50, &format!("forwarding on {l}")).await?;
            if ensure_interface(cx, l, want).await? {
                changed.push(l.to_string());
            }
        }
        Ok(Some(json!({"changed": changed})))
    }

    journal::undo_by_journal!(Params);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_of_queued_forwarding_tasks_reads_and_keeps_its_shape() {
        crate::network::assert_same_shape::<Params>(
            json!({"enabled": true, "interfaces": ["igb0", "provision0"]}),
        );
        crate::network::assert_same_shape::<Params>(
            json!({"enabled": null, "interfaces": ["igb0"]}),
        );
        assert!(serde_json::from_value::<Params>(json!({"interfaces": ["igb0 x"]})).is_err());
    }
}
