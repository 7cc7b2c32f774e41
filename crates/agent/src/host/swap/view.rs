//! The swap summary answer.

use illumos::swap::{Summary, SwapArea};
use serde::Serialize;
use utoipa::ToSchema;

const GB: f64 = (1u64 << 30) as f64;

fn gb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / GB)
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct AreaView {
    /// The device or file (`/dev/zvol/dsk/rpool/swap`).
    pub path: String,
    /// The pool of a ZFS volume, else null.
    pub pool: Option<String>,
    pub sizeGB: String,
    pub usedGB: String,
    /// Percent of the area in use.
    pub utilization: f64,
}

/// `swap -s`, in bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct VirtualSwap {
    pub allocated_bytes: u64,
    pub reserved_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct SwapSummary {
    /// The host name.
    pub host: String,
    /// The areas' total size, GB with two decimals.
    pub totalSwapGB: String,
    pub usedSwapGB: String,
    pub freeSwapGB: String,
    /// Percent of the areas in use.
    pub overallUtilization: f64,
    pub swapAreaCount: usize,
    pub swapAreas: Vec<AreaView>,
    /// Virtual swap (memory plus areas) as `swap -s` counts it.
    #[serde(rename = "virtual")]
    pub virtual_swap: VirtualSwap,
}

pub fn summary(host: String, areas: &[SwapArea], s: &Summary) -> SwapSummary {
    let total: u64 = areas.iter().map(SwapArea::size_bytes).sum();
    let free: u64 = areas.iter().map(SwapArea::free_bytes).sum();
    let used = total.saturating_sub(free);
    SwapSummary {
        host,
        totalSwapGB: gb(total),
        usedSwapGB: gb(used),
        freeSwapGB: gb(free),
        overallUtilization: pct(used, total),
        swapAreaCount: areas.len(),
        swapAreas: areas
            .iter()
            .map(|a| {
                let used = a.size_bytes().saturating_sub(a.free_bytes());
                AreaView {
                    path: a.path.clone(),
                    pool: a
                        .path
                        .strip_prefix("/dev/zvol/dsk/")
                        .and_then(|v| v.split('/').next())
                        .map(str::to_owned),
                    sizeGB: gb(a.size_bytes()),
                    usedGB: gb(used),
                    utilization: pct(used, a.size_bytes()),
                }
            })
            .collect(),
        virtual_swap: VirtualSwap {
            allocated_bytes: s.allocated,
            reserved_bytes: s.reserved,
            used_bytes: s.used,
            available_bytes: s.available,
        },
    }
}
