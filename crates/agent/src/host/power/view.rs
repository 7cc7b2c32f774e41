//! Power answers in the original's shapes (`success`, `message`, `timestamp` and the data).

use std::collections::BTreeMap;

use illumos::power::RunLevel;
use serde::Serialize;
use utoipa::ToSchema;

use super::flag::Flag;
use crate::tasks::Task;

/// A power task was queued. `id` and `task_id` are the same (the UI reads both).
#[derive(Debug, Serialize, ToSchema)]
pub struct PowerAccepted {
    pub success: bool,
    pub message: String,
    pub id: String,
    pub task_id: String,
    pub operation: String,
    pub status: String,
    pub created_at: String,
}

impl PowerAccepted {
    pub fn new(task: &Task, message: String) -> Self {
        PowerAccepted {
            success: true,
            message,
            id: task.id.clone(),
            task_id: task.id.clone(),
            operation: task.operation.clone(),
            status: task.status.as_str().to_owned(),
            created_at: task.created_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Uptime {
    pub seconds: u64,
    /// `2 days, 3 hours, 4 minutes, 5 seconds`.
    pub formatted: String,
    /// RFC 3339.
    pub boot_time: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Memory {
    /// Bytes.
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub usage_percent: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Runlevel {
    /// `who -r`'s level (`3`, `S`, ...).
    pub current: String,
    pub description: String,
}

/// `GET /system/host/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostStatus {
    pub success: bool,
    pub message: String,
    pub timestamp: String,
    pub hostname: String,
    pub uptime: Uptime,
    /// 1, 5 and 15 minute load averages.
    pub load_average: [f64; 3],
    pub memory: Memory,
    pub runlevel: Runlevel,
    pub reboot_required: bool,
    /// Set when `reboot_required`.
    pub reboot_info: Option<RebootInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebootInfo {
    pub timestamp: String,
    pub reasons: Vec<String>,
    pub age_minutes: u64,
    pub created_by: String,
}

/// `GET /system/host/uptime`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostUptime {
    pub success: bool,
    pub message: String,
    pub timestamp: String,
    pub uptime_seconds: u64,
    /// `2d 3h 4m 5s`.
    pub uptime_formatted: String,
    pub boot_time: String,
    /// Keys `1min`, `5min`, `15min`.
    pub load_averages: BTreeMap<String, f64>,
}

/// `GET /system/host/runlevel`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostRunlevel {
    pub success: bool,
    pub message: String,
    pub timestamp: String,
    pub current_runlevel: String,
    pub description: String,
    /// Every level and what it means.
    pub available_runlevels: BTreeMap<String, String>,
}

/// `GET /system/host/reboot-status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebootStatus {
    pub success: bool,
    pub message: String,
    pub timestamp_now: String,
    pub reboot_required: bool,
    /// When the first reason was recorded, or null.
    pub timestamp: Option<String>,
    pub reasons: Vec<String>,
    pub created_by: Option<String>,
    pub age_minutes: u64,
}

/// `DELETE /system/host/reboot-status` and other plain answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

pub fn age_minutes(flag: &Flag) -> u64 {
    crate::time::parse_rfc3339(&flag.timestamp)
        .and_then(|t| t.elapsed().ok())
        .map_or(0, |d| d.as_secs() / 60)
}

pub fn reboot_info(flag: Option<Flag>) -> Option<RebootInfo> {
    flag.map(|f| RebootInfo {
        age_minutes: age_minutes(&f),
        timestamp: f.timestamp,
        reasons: f.reasons,
        created_by: f.created_by,
    })
}

pub fn reboot_status(flag: Option<Flag>) -> RebootStatus {
    let info = reboot_info(flag);
    RebootStatus {
        success: true,
        message: "Reboot status retrieved successfully".into(),
        timestamp_now: crate::time::now_rfc3339(),
        reboot_required: info.is_some(),
        age_minutes: info.as_ref().map_or(0, |i| i.age_minutes),
        timestamp: info.as_ref().map(|i| i.timestamp.clone()),
        created_by: info.as_ref().map(|i| i.created_by.clone()),
        reasons: info.map(|i| i.reasons).unwrap_or_default(),
    }
}

pub fn long_uptime(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "day"),
        (secs % 86_400 / 3600, "hour"),
        (secs % 3600 / 60, "minute"),
    ];
    let mut out = String::new();
    for (n, unit) in parts {
        if n > 0 {
            out.push_str(&format!("{n} {unit}{}, ", if n > 1 { "s" } else { "" }));
        }
    }
    let s = secs % 60;
    out.push_str(&format!("{s} second{}", if s == 1 { "" } else { "s" }));
    out
}

pub fn short_uptime(secs: u64) -> String {
    format!(
        "{}d {}h {}m {}s",
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub fn runlevels() -> BTreeMap<String, String> {
    "0123456S"
        .chars()
        .map(|c| {
            let l: RunLevel = c.to_string().parse().expect("a level");
            (c.to_string(), l.description().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_as_the_original_wrote_it() {
        assert_eq!(
            long_uptime(2 * 86_400 + 3600 + 61),
            "2 days, 1 hour, 1 minute, 1 second"
        );
        assert_eq!(long_uptime(5), "5 seconds");
        assert_eq!(short_uptime(90_061), "1d 1h 1m 1s");
    }
}
