//! "A reboot is required": set when a change takes effect only at boot (the ARC limits in
//! /etc/system.d), cleared by a reboot the agent ran or by an administrator. Kept as a small
//! JSON file in the data directory so it outlives an agent restart, as the change does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const FILE: &str = "reboot-required.json";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Flag {
    /// When the first reason was recorded (RFC 3339).
    pub timestamp: String,
    /// What needs the reboot, once each (`zfs_arc_config_changed`).
    pub reasons: Vec<String>,
    /// Who made the change.
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub struct RebootFlag {
    path: PathBuf,
}

impl RebootFlag {
    pub fn new(data_dir: &Path) -> Self {
        RebootFlag {
            path: data_dir.join(FILE),
        }
    }

    /// The flag, if set. An unreadable file reads as unset (it is advice, not state).
    pub fn get(&self) -> Option<Flag> {
        let bytes = std::fs::read(&self.path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Adds a reason (written whole through a temporary file, so a crash leaves the old flag).
    pub fn add(&self, reason: &str, by: &str) -> std::io::Result<()> {
        let mut flag = self.get().unwrap_or_else(|| Flag {
            timestamp: crate::time::now_rfc3339(),
            reasons: Vec::new(),
            created_by: by.to_owned(),
        });
        if !flag.reasons.iter().any(|r| r == reason) {
            flag.reasons.push(reason.to_owned());
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(&flag).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &self.path)
    }

    /// Clears the flag; clearing an unset flag is not an error.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
