//! ARC answers in the original's shape (`available_tunables.<name>.effective_value`).

use std::collections::BTreeMap;

use illumos::arc::ArcStats;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::settings::{self, Settings};

const GIB: f64 = (1u64 << 30) as f64;
/// What the ARC may never go below (arc.c's floor for c_min).
const MIN_ARC_BYTES: u64 = 64 << 20;
/// Memory left to the kernel and processes when the ARC is at its maximum.
const RESERVED_BYTES: u64 = 1 << 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct Tunable {
    /// Bytes in effect now (arcstats).
    pub effective_value: u64,
    pub effective_value_gb: f64,
    /// What /etc/system.d/zfs-arc.conf sets for the next boot; 0 when it sets nothing (the
    /// kernel computes it).
    pub current_value: u64,
    pub description: String,
    /// Read by the kernel at boot only.
    pub dynamic: bool,
    pub requires_reboot: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArcNow {
    pub size_bytes: u64,
    pub target_bytes: u64,
    pub meta_used_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArcConfig {
    pub success: bool,
    /// `file: /etc/system.d/zfs-arc.conf` when the agent's file exists, else
    /// `auto-calculated`.
    pub config_source: String,
    pub config_file_path: Option<String>,
    /// The file sets a limit that differs from the one in effect: it takes effect at the
    /// next boot.
    pub reboot_required: bool,
    /// `zfs_arc_max`, `zfs_arc_min`, `zfs_arc_meta_limit`, `zfs_arc_meta_min`.
    pub available_tunables: BTreeMap<String, Tunable>,
    pub current: ArcNow,
    pub physical_memory_bytes: u64,
    pub physical_memory_gb: f64,
}

fn gb(b: u64) -> f64 {
    (b as f64 / GIB * 100.0).round() / 100.0
}

/// `kept`: the settings of the agent's file, `None` when there is none.
pub fn config(a: &ArcStats, physmem: u64, kept: Option<&Settings>) -> ArcConfig {
    let empty = Settings::new();
    let file = kept.unwrap_or(&empty);
    let t = |v: u64, d: &str| Tunable {
        effective_value: v,
        effective_value_gb: gb(v),
        current_value: 0,
        description: d.to_owned(),
        dynamic: false,
        requires_reboot: true,
    };
    let tunables = [
        (
            "zfs_arc_max",
            t(a.c_max, "Largest size the ARC may grow to"),
        ),
        (
            "zfs_arc_min",
            t(a.c_min, "Size the ARC is not shrunk below"),
        ),
        (
            "zfs_arc_meta_limit",
            t(a.meta_limit, "Limit of metadata in the ARC"),
        ),
        (
            "zfs_arc_meta_min",
            t(a.meta_min, "Metadata kept in the ARC at least"),
        ),
    ];
    let reboot_required = tunables
        .iter()
        .any(|(k, t)| file.get(*k).is_some_and(|v| *v != t.effective_value));
    ArcConfig {
        success: true,
        config_source: match kept {
            Some(_) => format!("file: {}", settings::PATH),
            None => "auto-calculated".into(),
        },
        config_file_path: kept.map(|_| settings::PATH.to_owned()),
        reboot_required,
        available_tunables: tunables
            .into_iter()
            .map(|(k, mut v)| {
                v.current_value = file.get(k).copied().unwrap_or(0);
                (k.to_owned(), v)
            })
            .collect(),
        current: ArcNow {
            size_bytes: a.size,
            target_bytes: a.c,
            meta_used_bytes: a.meta_used,
        },
        physical_memory_bytes: physmem,
        physical_memory_gb: gb(physmem),
    }
}

/// `POST /system/zfs/arc/validate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// Proposed zfs_arc_max, GiB.
    pub arc_max_gb: Option<f64>,
    /// Proposed zfs_arc_min, GiB.
    pub arc_min_gb: Option<f64>,
    /// The UI's note of who asked.
    pub created_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    pub valid: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Checks proposed limits against physical memory: the maximum leaves 1 GiB to the rest of
/// the system, the minimum is at least 64 MiB and not above the maximum (an absent value is
/// the one in effect).
pub fn validate(r: &ValidateRequest, a: &ArcStats, physmem: u64) -> Validation {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let bytes = |gb: f64| (gb * GIB) as u64;
    for (name, v) in [("arc_max_gb", r.arc_max_gb), ("arc_min_gb", r.arc_min_gb)] {
        if v.is_some_and(|v| !v.is_finite() || v <= 0.0) {
            errors.push(format!("{name} must be a positive number of GiB"));
        }
    }
    if errors.is_empty() {
        let max = r.arc_max_gb.map_or(a.c_max, bytes);
        let min = r.arc_min_gb.map_or(a.c_min, bytes);
        if max > physmem.saturating_sub(RESERVED_BYTES) {
            errors.push(format!(
                "arc_max_gb leaves less than 1 GiB of the host's {:.2} GiB to the rest of the system",
                gb(physmem)
            ));
        }
        if min < MIN_ARC_BYTES {
            errors.push("arc_min_gb must be at least 0.0625 GiB (64 MiB)".into());
        }
        if min > max {
            errors.push("arc_min_gb must not be above arc_max_gb".into());
        }
        if max > physmem / 10 * 9 && errors.is_empty() {
            warnings.push("an ARC above 90% of memory leaves little for zones".into());
        }
    }
    Validation {
        valid: errors.is_empty(),
        errors,
        warnings,
    }
}

/// What a change did or will do, in the original's `results` shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArcResults {
    /// Always false: illumos reads these tunables at boot only.
    pub runtime_applied: bool,
    /// The file change was queued (as `task_id`); the file is written when the task completes.
    pub persistent_applied: bool,
    /// The change takes effect at the next boot (also set in `/system/host/reboot-status`
    /// when the task completes).
    pub reboot_required: bool,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
}

/// `PUT /system/zfs/arc/config` and `POST /system/zfs/arc/reset`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArcChanged {
    pub success: bool,
    pub message: String,
    pub apply_method: super::request::ApplyMethod,
    pub results: ArcResults,
    /// The task writing the file; absent when nothing is written (`runtime`).
    pub task_id: Option<String>,
    pub id: Option<String>,
}

/// One line per tunable changed: `Persistent: zfs_arc_max = 4.00 GiB`.
pub fn describe(change: &settings::Change) -> Vec<String> {
    change
        .set
        .iter()
        .map(|(k, v)| match v {
            None => format!("Persistent: {k} left to the kernel"),
            Some(v) if k == "zfs_prefetch_disable" => format!("Persistent: {k} = {v}"),
            Some(v) => format!("Persistent: {k} = {:.2} GiB", *v as f64 / GIB),
        })
        .collect()
}
