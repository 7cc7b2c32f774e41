//! `PUT /system/zfs/arc/config` and `POST /system/zfs/arc/reset` bodies, validated against the
//! host's physical memory and each other into a [`Change`] of the boot-time tunables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::settings::{Change, Settings};
use crate::error::FieldError;
use crate::tasks::RequesterNote;

const GIB: f64 = (1u64 << 30) as f64;
/// arc.c never lets the ARC below 64 MiB.
const MIN_ARC_BYTES: u64 = 64 << 20;
/// Memory left to the kernel and processes when the ARC is at its maximum.
const RESERVED_BYTES: u64 = 1 << 30;

/// How a change is applied. illumos reads the ARC limits and `zfs_prefetch_disable` from
/// /etc/system(.d) at boot, so `persistent` (the default) and `both` write the file and the
/// change takes effect at the next boot; `runtime` changes nothing (writing the variables of
/// a running kernel does not move the limits arc_init computed) and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMethod {
    Persistent,
    Runtime,
    Both,
}

impl ApplyMethod {
    fn parse(v: Option<&str>) -> Result<ApplyMethod, FieldError> {
        match v.unwrap_or("persistent") {
            "persistent" => Ok(ApplyMethod::Persistent),
            "runtime" => Ok(ApplyMethod::Runtime),
            "both" => Ok(ApplyMethod::Both),
            _ => Err(FieldError::new(
                "apply_method",
                "apply_method must be persistent, runtime or both",
            )),
        }
    }

    pub fn writes_file(self) -> bool {
        self != ApplyMethod::Runtime
    }
}

/// The Zoneweaver UI's ARC form. Sizes in GiB (or bytes, as the original also takes them);
/// 0 removes the setting, so the kernel computes it at boot.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// `persistent` (default), `runtime` or `both`.
    pub apply_method: Option<String>,
    pub arc_max_gb: Option<f64>,
    pub arc_min_gb: Option<f64>,
    pub arc_max_bytes: Option<u64>,
    pub arc_min_bytes: Option<u64>,
    pub arc_meta_limit_gb: Option<f64>,
    pub arc_meta_min_gb: Option<f64>,
    pub prefetch_disable: Option<bool>,
    /// Range-checked (1-100) but not applied: illumos' zfs module has no such tunable.
    pub arc_max_percent: Option<f64>,
    /// Range-checked (0-99) but not applied: illumos has no such tunable.
    pub user_reserve_hint_pct: Option<f64>,
    /// Range-checked (1-100) but not applied: illumos replaced it with zfs_vdev_max_active.
    pub vdev_max_pending: Option<f64>,
    /// The UI's note of who asked: the task's requester note.
    pub created_by: Option<RequesterNote>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// `persistent`, `runtime` or `both` (default, as the original).
    pub apply_method: Option<String>,
    pub created_by: Option<RequesterNote>,
}

/// A validated update: what to write, and what the answer warns of.
#[derive(Debug)]
pub struct Update {
    pub method: ApplyMethod,
    pub change: Change,
    pub warnings: Vec<String>,
}

fn gib(field: &str, v: Option<f64>) -> Result<Option<u64>, FieldError> {
    match v {
        None => Ok(None),
        Some(g) if g.is_finite() && g >= 0.0 => Ok(Some((g * GIB).round() as u64)),
        Some(_) => Err(FieldError::new(
            field,
            format!("{field} must be a number of GiB, 0 or more"),
        )),
    }
}

fn in_range(field: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), FieldError> {
    match v {
        Some(x) if !(x.is_finite() && (lo..=hi).contains(&x)) => Err(FieldError::new(
            field,
            format!("{field} must be between {lo} and {hi}"),
        )),
        _ => Ok(()),
    }
}

fn gb(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / GIB)
}

impl UpdateRequest {
    /// The checks that need no host figures, run before any host read so that a refused
    /// body runs nothing.
    pub fn precheck(&self) -> Result<(), FieldError> {
        ApplyMethod::parse(self.apply_method.as_deref())?;
        for (field, v) in [
            ("arc_max_gb", self.arc_max_gb),
            ("arc_min_gb", self.arc_min_gb),
            ("arc_meta_limit_gb", self.arc_meta_limit_gb),
            ("arc_meta_min_gb", self.arc_meta_min_gb),
        ] {
            gib(field, v)?;
        }
        in_range("arc_max_percent", self.arc_max_percent, 1.0, 100.0)?;
        in_range(
            "user_reserve_hint_pct",
            self.user_reserve_hint_pct,
            0.0,
            99.0,
        )?;
        in_range("vdev_max_pending", self.vdev_max_pending, 1.0, 100.0)
    }

    /// `physmem`: the host's memory in bytes; `live_max`: the ARC's maximum now (c_max);
    /// `kept`: what the file sets today. A limit the request does not name keeps its kept
    /// value, or the live one, for the checks between limits.
    pub fn validate(
        &self,
        physmem: u64,
        live_max: u64,
        kept: &Settings,
    ) -> Result<Update, FieldError> {
        self.precheck()?;
        let method = ApplyMethod::parse(self.apply_method.as_deref())?;
        let max = match self.arc_max_bytes {
            Some(b) => Some(b),
            None => gib("arc_max_gb", self.arc_max_gb)?,
        };
        let min = match self.arc_min_bytes {
            Some(b) => Some(b),
            None => gib("arc_min_gb", self.arc_min_gb)?,
        };
        let max_field = if self.arc_max_bytes.is_some() {
            "arc_max_bytes"
        } else {
            "arc_max_gb"
        };
        let min_field = if self.arc_min_bytes.is_some() {
            "arc_min_bytes"
        } else {
            "arc_min_gb"
        };
        let meta_limit = gib("arc_meta_limit_gb", self.arc_meta_limit_gb)?;
        let meta_min = gib("arc_meta_min_gb", self.arc_meta_min_gb)?;

        // 0 means "not set": the kernel's own choice at boot.
        let nz = |v: Option<u64>| v.filter(|b| *b > 0);
        if let Some(m) = nz(max) {
            if m > physmem.saturating_sub(RESERVED_BYTES) {
                return Err(FieldError::new(
                    max_field,
                    format!(
                        "{max_field} ({}) leaves less than 1 GiB of the host's {} to the rest of the system",
                        gb(m),
                        gb(physmem)
                    ),
                ));
            }
            if m < MIN_ARC_BYTES {
                return Err(FieldError::new(
                    max_field,
                    format!("{max_field} must be at least 64 MiB"),
                ));
            }
        }
        if nz(min).is_some_and(|m| m < MIN_ARC_BYTES) {
            return Err(FieldError::new(
                min_field,
                format!("{min_field} must be at least 64 MiB"),
            ));
        }
        let kept_or = |v: Option<u64>, name: &str| match v {
            Some(v) => nz(Some(v)),
            None => kept.get(name).copied(),
        };
        let eff_max = kept_or(max, "zfs_arc_max").unwrap_or(live_max);
        if let Some(m) = kept_or(min, "zfs_arc_min") {
            if m > eff_max {
                return Err(FieldError::new(
                    min_field,
                    format!(
                        "{min_field} ({}) must not be above the ARC maximum ({})",
                        gb(m),
                        gb(eff_max)
                    ),
                ));
            }
        }
        let eff_meta_limit = kept_or(meta_limit, "zfs_arc_meta_limit");
        if eff_meta_limit.is_some_and(|l| l > eff_max) {
            return Err(FieldError::new(
                "arc_meta_limit_gb",
                format!(
                    "arc_meta_limit_gb must not be above the ARC maximum ({})",
                    gb(eff_max)
                ),
            ));
        }
        if let (Some(m), Some(l)) = (kept_or(meta_min, "zfs_arc_meta_min"), eff_meta_limit) {
            if m > l {
                return Err(FieldError::new(
                    "arc_meta_min_gb",
                    "arc_meta_min_gb must not be above arc_meta_limit_gb",
                ));
            }
        }

        let mut set = BTreeMap::new();
        for (name, v) in [
            ("zfs_arc_max", max),
            ("zfs_arc_min", min),
            ("zfs_arc_meta_limit", meta_limit),
            ("zfs_arc_meta_min", meta_min),
        ] {
            if let Some(v) = v {
                set.insert(name.to_owned(), nz(Some(v)));
            }
        }
        if let Some(p) = self.prefetch_disable {
            set.insert("zfs_prefetch_disable".to_owned(), Some(u64::from(p)));
        }
        let mut warnings = Vec::new();
        for (field, v, why) in [
            (
                "arc_max_percent",
                self.arc_max_percent,
                "illumos' zfs module has no zfs_arc_max_percent",
            ),
            (
                "user_reserve_hint_pct",
                self.user_reserve_hint_pct,
                "illumos has no user_reserve_hint_pct",
            ),
            (
                "vdev_max_pending",
                self.vdev_max_pending,
                "illumos replaced zfs_vdev_max_pending with zfs_vdev_max_active",
            ),
        ] {
            if v.is_some() {
                warnings.push(format!("{field} not applied: {why}"));
            }
        }
        if set.is_empty() {
            return Err(FieldError::new(
                "arc_max_gb",
                "give at least one of arc_max_gb, arc_min_gb, arc_meta_limit_gb, arc_meta_min_gb, prefetch_disable",
            ));
        }
        if max.is_some_and(|m| m > 0 && m > physmem / 10 * 9) {
            warnings.push("an ARC above 90% of memory leaves little for zones".into());
        }
        if method == ApplyMethod::Runtime {
            warnings.push(
                "nothing applied: illumos reads these tunables at boot only; use apply_method persistent or both"
                    .into(),
            );
        }
        Ok(Update {
            method,
            change: Change { set },
            warnings,
        })
    }
}

impl ResetRequest {
    pub fn method(&self) -> Result<ApplyMethod, FieldError> {
        ApplyMethod::parse(Some(self.apply_method.as_deref().unwrap_or("both")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;
    const PHYS: u64 = 64 * GB;

    fn check(v: serde_json::Value, kept: &Settings) -> Result<Update, FieldError> {
        let r: UpdateRequest = serde_json::from_value(v).unwrap();
        r.validate(PHYS, 63 * GB, kept)
    }

    #[test]
    fn the_uis_form_sets_the_limits_and_warns_of_what_illumos_lacks() {
        let u = check(
            serde_json::json!({"apply_method": "both", "arc_max_gb": 4, "arc_min_gb": 1,
                "arc_max_percent": 50, "user_reserve_hint_pct": 0, "arc_meta_limit_gb": 1,
                "arc_meta_min_gb": 0, "vdev_max_pending": 10, "prefetch_disable": false}),
            &Settings::new(),
        )
        .unwrap();
        assert_eq!(u.method, ApplyMethod::Both);
        assert_eq!(u.change.set["zfs_arc_max"], Some(4 * GB));
        assert_eq!(u.change.set["zfs_arc_meta_min"], None);
        assert_eq!(u.change.set["zfs_prefetch_disable"], Some(0));
        assert_eq!(u.warnings.len(), 3, "{:?}", u.warnings);
    }

    #[test]
    fn limits_are_checked_against_memory_and_each_other_naming_the_field() {
        let field = |v| check(v, &Settings::new()).unwrap_err().field;
        assert_eq!(field(serde_json::json!({"arc_max_gb": 64})), "arc_max_gb");
        assert_eq!(
            field(serde_json::json!({"arc_max_gb": 2, "arc_min_gb": 3})),
            "arc_min_gb"
        );
        assert_eq!(field(serde_json::json!({"arc_min_gb": 0.01})), "arc_min_gb");
        assert_eq!(field(serde_json::json!({"arc_max_gb": -1})), "arc_max_gb");
        assert_eq!(
            field(serde_json::json!({"arc_max_gb": 8, "arc_meta_limit_gb": 9})),
            "arc_meta_limit_gb"
        );
        assert_eq!(
            field(serde_json::json!({"arc_max_gb": 8, "apply_method": "now"})),
            "apply_method"
        );
        assert_eq!(
            field(serde_json::json!({"arc_max_percent": 0})),
            "arc_max_percent"
        );
        assert_eq!(
            field(serde_json::json!({"apply_method": "both"})),
            "arc_max_gb"
        );
        // A minimum alone is checked against the maximum the file already sets.
        let kept = Settings::from([("zfs_arc_max".to_owned(), 2 * GB)]);
        assert_eq!(
            check(serde_json::json!({"arc_min_gb": 3}), &kept)
                .unwrap_err()
                .field,
            "arc_min_gb"
        );
        assert!(check(serde_json::json!({"arc_min_gb": 1}), &kept).is_ok());
    }
}
