//! The envelopes of the `/monitoring/*` answers, in the original's shape: the rows under the
//! key the UI reads (`cpu`, `memory`, `arc`, `usage`, `poolio`, `diskio`, `interfaces`, ...),
//! with counts and how the rows were picked.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::sampler::{Collected, Stats};
use super::view::{
    ArcSample, CpuSample, Dataset, DiskIoSample, Interface, IpAddress, LinkUsageSample,
    MemorySample, PoolIoSample, PoolSample, Route,
};

/// How a series' rows were picked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sampling {
    /// Always true: rows are picked, never all returned blindly.
    pub applied: bool,
    /// `latest` (no `since`: the newest sample, per entity for per-entity series) or
    /// `even-spread` (the samples since `since`, thinned evenly to at most `limit` per entity,
    /// or in all with `per_interface`/`per_pool`/`per_device=false`, keeping the newest).
    pub strategy: String,
    pub samples_requested: Option<usize>,
    /// How many entities (links, pools) the rows cover; 1 for host-wide series.
    pub entity_count: usize,
}

macro_rules! series {
    ($(#[$doc:meta])* $name:ident, $key:ident, $row:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, ToSchema)]
        pub struct $name {
            /// Oldest first (per entity, entities in name order).
            pub $key: Vec<$row>,
            #[serde(rename = "totalCount")]
            pub total_count: usize,
            #[serde(rename = "returnedCount")]
            pub returned_count: usize,
            /// The newest row returned.
            pub latest: Option<$row>,
            pub sampling: Sampling,
        }
    };
}

series!(
    /// `GET /monitoring/system/cpu`.
    CpuSeries, cpu, CpuSample
);
series!(
    /// `GET /monitoring/system/memory`.
    MemorySeries, memory, MemorySample
);
series!(
    /// `GET /monitoring/storage/arc`.
    ArcSeries, arc, ArcSample
);
series!(
    /// `GET /monitoring/network/usage`.
    UsageSeries, usage, LinkUsageSample
);
series!(
    /// `GET /monitoring/storage/pool-io`.
    PoolIoSeries, poolio, PoolIoSample
);

series!(
    /// `GET /monitoring/storage/disk-io`.
    DiskIoSeries, diskio, DiskIoSample
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub limit: usize,
    pub offset: usize,
    pub has_more: bool,
}

/// `GET /monitoring/network/interfaces`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InterfaceList {
    pub interfaces: Vec<Interface>,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    pub pagination: Pagination,
}

/// `GET /monitoring/network/ipaddresses`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MonitoringAddressList)]
pub struct AddressList {
    pub addresses: Vec<IpAddress>,
    pub returned: usize,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    pub pagination: Pagination,
}

/// `GET /monitoring/network/routes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteList {
    pub routes: Vec<Route>,
    pub returned: usize,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    pub pagination: Pagination,
}

/// `GET /monitoring/storage/pools`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolList {
    pub pools: Vec<PoolSample>,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
}

/// `GET /monitoring/storage/datasets`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatasetList {
    pub datasets: Vec<Dataset>,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    pub pagination: Pagination,
}

/// `GET /monitoring/storage/disks`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskList {
    pub disks: Vec<super::view::DiskRow>,
    #[serde(rename = "totalCount")]
    pub total_count: usize,
    pub pagination: Pagination,
}

/// The sampler's settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SamplerConfig {
    pub enabled: bool,
    pub interval_secs: u64,
    pub retention_hours: u64,
}

/// `GET /monitoring/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Whether the sampler runs on its interval (`monitoring.enabled`).
    pub is_running: bool,
    /// Always true once the agent answers: the sampler is set up at start.
    pub is_initialized: bool,
    /// Always `interval`: samples are taken on the agent's own timer.
    pub discovery_mode: String,
    pub config: SamplerConfig,
    pub stats: Stats,
}

/// The original's fault summary. This agent does not read the fault manager (fmadm), so it
/// reports none; `error` says so.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultStatus {
    pub has_faults: bool,
    pub fault_count: u64,
    pub severity_levels: Vec<String>,
    pub last_check: Option<String>,
    pub faults: Vec<serde_json::Value>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecentActivity {
    /// A sample was stored in the last five minutes.
    pub network: bool,
    pub storage: bool,
}

/// `GET /monitoring/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MonitoringHealth)]
pub struct Health {
    /// `healthy` (sampling, the last sample succeeded or none was due yet), `degraded` (the
    /// last sample failed) or `stopped` (`monitoring.enabled` is false).
    pub status: String,
    /// When the last sample was stored.
    #[serde(rename = "lastUpdate")]
    pub last_update: Option<String>,
    /// Samples that failed since the agent started (one sample reads network and storage
    /// figures together, so both counts are that number).
    #[serde(rename = "networkErrors")]
    pub network_errors: u64,
    #[serde(rename = "storageErrors")]
    pub storage_errors: u64,
    #[serde(rename = "faultStatus")]
    pub fault_status: FaultStatus,
    #[serde(rename = "recentActivity")]
    pub recent_activity: RecentActivity,
    /// Seconds since the host booted (kstat boot_time), from the last sample.
    pub uptime: Option<u64>,
    /// The agent keeps no pending-reboot record: always false.
    pub reboot_required: bool,
    /// Always null (see `reboot_required`).
    pub reboot_info: Option<serde_json::Value>,
    pub service: Status,
}

/// `GET /monitoring/host`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostInfo {
    /// The node name (`uname -n`).
    pub host: String,
    pub hostname: String,
    /// `uname -s`.
    pub platform: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    /// Seconds since the host booted, from the last sample.
    pub uptime: Option<u64>,
    pub last_sample_at: Option<String>,
}

/// `GET /monitoring/summary`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    pub status: Status,
    /// Rows stored in the last 24 hours, by kind (`cpu`, `memory`, `arc`, `link`, `pool`,
    /// `pool_io`).
    pub samples_last_24h: BTreeMap<String, i64>,
    pub cpu: Option<CpuSample>,
    pub memory: Option<MemorySample>,
    pub arc: Option<ArcSample>,
    pub pools: Vec<PoolSample>,
}

/// `POST /monitoring/collect`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectAnswer {
    pub success: bool,
    /// Always `all`: one sample reads every figure.
    #[serde(rename = "type")]
    pub kind: String,
    pub results: Collected,
}
