//! `/monitoring/*`: read, answer. Series come from the sampler's rows in the database,
//! listings from the host (cached for 2 s); only `POST /monitoring/collect` runs the sampler.
//!
//! Query keys are the Zoneweaver UI's (and the original's); any other key is a 400 naming it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::State;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::answers::*;
use super::store::{self, Query};
use super::view::{
    self, ArcSample, CpuSample, DiskIoSample, LinkUsageSample, MemorySample, PoolIoSample,
};
use crate::http::auth::{Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::time::{now_rfc3339, parse_rfc3339};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(status))
        .routes(routes!(summary))
        .routes(routes!(host_info))
        .routes(routes!(collect))
        .routes(routes!(cpu))
        .routes(routes!(cpu_cores))
        .routes(routes!(memory))
        .routes(routes!(interfaces))
        .routes(routes!(ip_addresses))
        .routes(routes!(network_routes))
        .routes(routes!(usage))
        .routes(routes!(arc))
        .routes(routes!(datasets))
        .routes(routes!(disk_io))
        .routes(routes!(disks))
        .routes(routes!(pool_io))
        .routes(routes!(pools))
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

fn limit(v: Option<usize>) -> Result<usize, ApiError> {
    match v.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(ApiError::invalid("limit", "limit must be from 1 to 10000")),
    }
}

fn since_ms(v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        parse_rfc3339(s)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .ok_or_else(|| ApiError::invalid("since", "since must be an RFC 3339 time"))
    })
    .transpose()
}

/// A series' rows: the newest per entity without `since`; with it, the rows since then,
/// thinned to `limit` per entity (or in all when `per_entity` is false).
async fn series<T: DeserializeOwned + Send + 'static>(
    app: &AppState,
    kind: &'static str,
    since: Option<&str>,
    entity: Option<String>,
    lim: Option<usize>,
    per_entity: bool,
) -> Result<(Vec<T>, Sampling), ApiError> {
    let limit = limit(lim)?;
    let q = Query {
        since_ms: since_ms(since)?,
        entity,
    };
    let has_since = q.since_ms.is_some();
    let rows = app.db.read(move |c| store::rows(c, kind, &q)).await?;
    let mut entities: Vec<String> = rows.iter().map(|(e, _)| e.clone()).collect();
    entities.dedup();
    entities.sort();
    entities.dedup();
    let picked: Vec<(String, String)> = if !has_since {
        rows
    } else if per_entity {
        let mut out = Vec::new();
        for e in &entities {
            let of: Vec<_> = rows.iter().filter(|(x, _)| x == e).cloned().collect();
            out.extend(store::spread(of, limit));
        }
        out
    } else {
        store::spread(rows, limit)
    };
    let parsed = picked
        .iter()
        .map(|(_, d)| serde_json::from_str(d))
        .collect::<Result<Vec<T>, _>>()
        .map_err(ApiError::internal)?;
    let sampling = Sampling {
        applied: true,
        strategy: if has_since { "even-spread" } else { "latest" }.into(),
        samples_requested: has_since.then_some(limit),
        entity_count: entities.len(),
    };
    Ok((parsed, sampling))
}

macro_rules! answer {
    ($ty:ident, $key:ident, $rows:expr, $sampling:expr) => {{
        let rows = $rows;
        $ty {
            total_count: rows.len(),
            returned_count: rows.len(),
            latest: rows.last().cloned(),
            $key: rows,
            sampling: $sampling,
        }
    }};
}

/// A page of a live listing.
fn page<T>(rows: Vec<T>, limit: usize, offset: usize) -> (Vec<T>, usize, Pagination) {
    let total = rows.len();
    let rows: Vec<T> = rows.into_iter().skip(offset).take(limit).collect();
    let p = Pagination {
        limit,
        offset,
        has_more: total > offset + rows.len(),
    };
    (rows, total, p)
}

fn contains(have: &str, want: &Option<String>) -> bool {
    want.as_deref().is_none_or(|w| have.contains(w))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// At most this many samples, 1 to 10000 (default 100); used with `since`.
    limit: Option<usize>,
    /// Samples taken at or after this RFC 3339 time, oldest first, thinned evenly to `limit`
    /// keeping the newest; without it, the newest sample only.
    since: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CpuQuery {
    /// As for every series (see `/monitoring/system/memory`).
    limit: Option<usize>,
    since: Option<String>,
    /// Adds each processor's figures (`per_core_parsed`) to every row (default false).
    include_cores: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// At most this many samples per link (or in all with `per_interface=false`).
    limit: Option<usize>,
    since: Option<String>,
    /// Only links whose name contains this.
    link: Option<String>,
    /// `limit` applies to each link (default true) or to all rows together.
    per_interface: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PoolIoQuery {
    /// At most this many samples per pool (or in all with `per_pool=false`).
    limit: Option<usize>,
    since: Option<String>,
    /// Only pools whose name contains this.
    pool: Option<String>,
    /// `limit` applies to each pool (default true) or to all rows together.
    per_pool: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiskIoQuery {
    limit: Option<usize>,
    since: Option<String>,
    pool: Option<String>,
    device: Option<String>,
    per_device: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InterfacesQuery {
    /// Page size, 1 to 10000 (default 100).
    limit: Option<usize>,
    /// Rows to skip (default 0).
    offset: Option<usize>,
    /// Only links in this state (`up`, `down`, `unknown`).
    state: Option<String>,
    /// Only links whose name contains this.
    link: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddressesQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    /// Only addresses on interfaces whose name contains this.
    interface: Option<String>,
    /// `4`/`6` (or `v4`/`v6`, `ipv4`/`ipv6`).
    ip_version: Option<String>,
    /// Only addresses in this ipadm state (`ok`, `disabled`, ...).
    state: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoutesQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    interface: Option<String>,
    /// Only `4` is listed (netstat -rn -f inet); `6` answers no routes.
    ip_version: Option<String>,
    /// Only the default route (true) or only the others (false).
    is_default: Option<bool>,
    /// Only destinations containing this.
    destination: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PoolsQuery {
    limit: Option<usize>,
    /// Only pools whose name contains this.
    pool: Option<String>,
    /// Only pools in this health (`ONLINE`, `DEGRADED`, ...).
    health: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DatasetsQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    /// Only datasets of pools whose name contains this.
    pool: Option<String>,
    /// `filesystem` or `volume`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Only datasets whose name contains this.
    name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DisksQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    pool: Option<String>,
    available: Option<bool>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    /// What to sample: `all` (the default and the only value; one sample reads every figure).
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    kind: Option<String>,
}

fn status_of(app: &AppState) -> Status {
    let s = &app.monitoring.sampler;
    Status {
        is_running: s.config.enabled,
        is_initialized: true,
        discovery_mode: "interval".into(),
        config: SamplerConfig {
            enabled: s.config.enabled,
            interval_secs: s.config.interval_secs,
            retention_hours: s.config.retention_hours,
        },
        stats: s.stats(),
    }
}

/// Seconds since the host booted, from the last sample's kstat.
fn uptime(app: &AppState) -> Option<u64> {
    let l = app.monitoring.sampler.latest()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(now.saturating_sub(l.boot_time))
}

/// The sampler's state and settings.
#[utoipa::path(get, path = "/monitoring/status", tag = "monitoring",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
async fn status(_: Viewer, State(app): State<AppState>) -> Json<Status> {
    Json(status_of(&app))
}

/// Whether monitoring works: the sampler's state, the host's uptime, and the original's
/// fault and reboot keys (this agent reads neither fmadm nor a reboot record: no faults, no
/// reboot required).
#[utoipa::path(get, path = "/monitoring/health", tag = "monitoring",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Health), (status = 401, body = ErrorBody)))]
async fn health(_: Viewer, State(app): State<AppState>) -> Json<Health> {
    let service = status_of(&app);
    let st = &service.stats;
    let failed_last = match (&st.last_error_at, &st.last_sample_at) {
        (Some(e), Some(ok)) => e > ok,
        (Some(_), None) => true,
        _ => false,
    };
    let recent = app
        .monitoring
        .sampler
        .latest()
        .is_some_and(|l| l.taken_at.elapsed().unwrap_or_default() < Duration::from_secs(300));
    Json(Health {
        status: if !service.is_running {
            "stopped"
        } else if failed_last {
            "degraded"
        } else {
            "healthy"
        }
        .into(),
        last_update: st.last_sample_at.clone(),
        network_errors: st.errors,
        storage_errors: st.errors,
        fault_status: FaultStatus {
            has_faults: false,
            fault_count: 0,
            severity_levels: Vec::new(),
            last_check: None,
            faults: Vec::new(),
            error: Some("this agent does not read the fault manager (fmadm)".into()),
        },
        recent_activity: RecentActivity {
            network: recent,
            storage: recent,
        },
        uptime: uptime(&app),
        reboot_required: false,
        reboot_info: None,
        service,
    })
}

/// The host's identity (uname) and uptime.
#[utoipa::path(get, path = "/monitoring/host", tag = "monitoring",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = HostInfo), (status = 401, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn host_info(_: Viewer, State(app): State<AppState>) -> Result<Json<HostInfo>, ApiError> {
    let m = app.host.facts.machine().await?;
    Ok(Json(HostInfo {
        host: m.uname.nodename.clone(),
        hostname: m.uname.nodename.clone(),
        platform: m.uname.sysname.clone(),
        release: m.uname.release.clone(),
        version: m.uname.version.clone(),
        machine: m.uname.machine.clone(),
        uptime: uptime(&app),
        last_sample_at: app.monitoring.sampler.stats().last_sample_at,
    }))
}

/// The sampler's state, the rows stored in the last day by kind, and the newest host-wide
/// figures.
#[utoipa::path(get, path = "/monitoring/summary", tag = "monitoring",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody)))]
async fn summary(_: Viewer, State(app): State<AppState>) -> Result<Json<Summary>, ApiError> {
    let day_ago = SystemTime::now()
        .checked_sub(Duration::from_secs(86_400))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let counts = app.db.read(move |c| store::counts(c, day_ago)).await?;
    let latest = app.monitoring.sampler.latest();
    let mut cpu = latest.as_ref().map(|l| l.cpu.clone());
    if let Some(c) = cpu.as_mut() {
        c.per_core_parsed = None;
    }
    Ok(Json(Summary {
        status: status_of(&app),
        samples_last_24h: counts.into_iter().collect(),
        cpu,
        memory: latest.as_ref().map(|l| l.memory.clone()),
        arc: latest.as_ref().and_then(|l| l.arc.clone()),
        pools: latest.map(|l| l.pools.clone()).unwrap_or_default(),
    }))
}

/// Takes a sample now (the host reads, the rows, the prune) and answers what it stored. Runs
/// whether or not `monitoring.enabled` is set.
#[utoipa::path(post, path = "/monitoring/collect", tag = "monitoring",
    security(("api_key" = ["operator"])), request_body = CollectRequest,
    responses((status = 200, body = CollectAnswer), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn collect(
    _: Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CollectRequest>,
) -> Result<Json<CollectAnswer>, ApiError> {
    let kind = req.kind.unwrap_or_else(|| "all".into());
    if kind != "all" {
        return Err(ApiError::invalid(
            "type",
            format!("type must be all (one sample reads every figure), not {kind:?}"),
        ));
    }
    let results = app.monitoring.sampler.collect().await?;
    Ok(Json(CollectAnswer {
        success: true,
        kind,
        results,
    }))
}

/// Host-wide CPU use: the share of time in user, system (kernel and interrupts) and idle
/// over each sample's interval, with the load averages.
#[utoipa::path(get, path = "/monitoring/system/cpu", tag = "monitoring", params(CpuQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = CpuSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn cpu(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<CpuQuery>,
) -> Result<Json<CpuSeries>, ApiError> {
    let (mut rows, sampling) =
        series::<CpuSample>(&app, store::CPU, q.since.as_deref(), None, q.limit, true).await?;
    if !q.include_cores.unwrap_or(false) {
        for r in &mut rows {
            r.per_core_parsed = None;
        }
    }
    Ok(Json(answer!(CpuSeries, cpu, rows, sampling)))
}

/// The newest sample's CPU figures with each processor's (`per_core_parsed`).
#[utoipa::path(get, path = "/monitoring/system/cpu/cores", tag = "monitoring",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = CpuSeries), (status = 401, body = ErrorBody)))]
async fn cpu_cores(_: Viewer, State(app): State<AppState>) -> Result<Json<CpuSeries>, ApiError> {
    let (rows, sampling) = series::<CpuSample>(&app, store::CPU, None, None, None, true).await?;
    Ok(Json(answer!(CpuSeries, cpu, rows, sampling)))
}

/// Memory (kstat system_pages × page size) and virtual swap (`swap -s`), in bytes.
#[utoipa::path(get, path = "/monitoring/system/memory", tag = "monitoring",
    params(SeriesQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = MemorySeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn memory(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<MemorySeries>, ApiError> {
    let (rows, sampling) =
        series::<MemorySample>(&app, store::MEMORY, q.since.as_deref(), None, q.limit, true)
            .await?;
    Ok(Json(answer!(MemorySeries, memory, rows, sampling)))
}

/// The ZFS ARC: sizes, lookup counters and hit ratios over each sample's interval.
#[utoipa::path(get, path = "/monitoring/storage/arc", tag = "monitoring", params(SeriesQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ArcSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn arc(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<ArcSeries>, ApiError> {
    let (rows, sampling) =
        series::<ArcSample>(&app, store::ARC, q.since.as_deref(), None, q.limit, true).await?;
    Ok(Json(answer!(ArcSeries, arc, rows, sampling)))
}

/// Each datalink's traffic: kstat counters, and deltas and bit rates against the previous
/// sample.
#[utoipa::path(get, path = "/monitoring/network/usage", tag = "monitoring", params(UsageQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = UsageSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn usage(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<Json<UsageSeries>, ApiError> {
    let per = q.per_interface.unwrap_or(true);
    let (rows, sampling) =
        series::<LinkUsageSample>(&app, store::LINK, q.since.as_deref(), q.link, q.limit, per)
            .await?;
    Ok(Json(answer!(UsageSeries, usage, rows, sampling)))
}

/// Each pool's I/O (`zpool iostat -Hp`: averages per second since import).
#[utoipa::path(get, path = "/monitoring/storage/pool-io", tag = "monitoring",
    params(PoolIoQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = PoolIoSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn pool_io(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<PoolIoQuery>,
) -> Result<Json<PoolIoSeries>, ApiError> {
    let per = q.per_pool.unwrap_or(true);
    let (rows, sampling) = series::<PoolIoSample>(
        &app,
        store::POOL_IO,
        q.since.as_deref(),
        q.pool,
        q.limit,
        per,
    )
    .await?;
    Ok(Json(answer!(PoolIoSeries, poolio, rows, sampling)))
}

/// Each disk's I/O (its kstat I/O counters, `sd`/`blkdev` instances), sampled on the
/// monitoring interval: counts since boot and rates against the previous sample. `device`
/// picks one disk; `pool` is accepted and matches nothing more specific than all disks (a
/// disk's pool is not sampled).
#[utoipa::path(get, path = "/monitoring/storage/disk-io", tag = "monitoring",
    params(DiskIoQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = DiskIoSeries), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn disk_io(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<DiskIoQuery>,
) -> Result<Json<DiskIoSeries>, ApiError> {
    let _ = q.pool;
    let per = q.per_device.unwrap_or(true);
    let (rows, sampling) = series::<DiskIoSample>(
        &app,
        store::DISK_IO,
        q.since.as_deref(),
        q.device,
        q.limit,
        per,
    )
    .await?;
    Ok(Json(answer!(DiskIoSeries, diskio, rows, sampling)))
}

/// The host's datalinks (dladm show-link, show-phys, show-vnic) with their kstat counters.
#[utoipa::path(get, path = "/monitoring/network/interfaces", tag = "monitoring",
    params(InterfacesQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = InterfaceList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn interfaces(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<InterfacesQuery>,
) -> Result<Json<InterfaceList>, ApiError> {
    let lim = limit(q.limit)?;
    let links = app.monitoring.listings.links().await?;
    let rows: Vec<_> = view::interfaces(&links, &now_rfc3339())
        .into_iter()
        .filter(|i| q.state.as_deref().is_none_or(|s| i.state == s))
        .filter(|i| contains(&i.link, &q.link))
        .collect();
    let (interfaces, total_count, pagination) = page(rows, lim, q.offset.unwrap_or(0));
    Ok(Json(InterfaceList {
        interfaces,
        total_count,
        pagination,
    }))
}

fn version_of(v: &Option<String>) -> Result<Option<u8>, ApiError> {
    match v.as_deref() {
        None => Ok(None),
        Some("4" | "v4" | "ipv4" | "IPv4") => Ok(Some(4)),
        Some("6" | "v6" | "ipv6" | "IPv6") => Ok(Some(6)),
        Some(o) => Err(ApiError::invalid(
            "ip_version",
            format!("ip_version must be 4 or 6, not {o:?}"),
        )),
    }
}

/// The host's IP addresses (ipadm show-addr).
#[utoipa::path(get, path = "/monitoring/network/ipaddresses", tag = "monitoring",
    params(AddressesQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = AddressList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn ip_addresses(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AddressesQuery>,
) -> Result<Json<AddressList>, ApiError> {
    let (lim, version) = (limit(q.limit)?, version_of(&q.ip_version)?);
    let at = now_rfc3339();
    let rows: Vec<_> = app
        .monitoring
        .listings
        .addresses()
        .await?
        .iter()
        .map(|a| view::ip_address(a, &at))
        .filter(|a| contains(&a.interface, &q.interface))
        .filter(|a| version.is_none_or(|v| a.ip_version == v))
        .filter(|a| q.state.as_deref().is_none_or(|s| a.state == s))
        .collect();
    let (addresses, total_count, pagination) = page(rows, lim, q.offset.unwrap_or(0));
    Ok(Json(AddressList {
        returned: addresses.len(),
        addresses,
        total_count,
        pagination,
    }))
}

/// The host's IPv4 routing table (netstat -rn -f inet).
#[utoipa::path(get, path = "/monitoring/network/routes", tag = "monitoring",
    params(RoutesQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = RouteList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn network_routes(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<RoutesQuery>,
) -> Result<Json<RouteList>, ApiError> {
    let (lim, version) = (limit(q.limit)?, version_of(&q.ip_version)?);
    let at = now_rfc3339();
    let rows: Vec<_> = app
        .monitoring
        .listings
        .routes()
        .await?
        .iter()
        .map(|r| view::route(r, &at))
        .filter(|r| version.is_none_or(|v| r.ip_version == v))
        .filter(|r| {
            q.interface.is_none()
                || r.interface
                    .as_ref()
                    .is_some_and(|i| contains(i, &q.interface))
        })
        .filter(|r| q.is_default.is_none_or(|d| r.is_default == d))
        .filter(|r| contains(&r.destination, &q.destination))
        .collect();
    let (routes, total_count, pagination) = page(rows, lim, q.offset.unwrap_or(0));
    Ok(Json(RouteList {
        returned: routes.len(),
        routes,
        total_count,
        pagination,
    }))
}

/// The host's pools with their capacity and health (zpool list -Hp), read now.
#[utoipa::path(get, path = "/monitoring/storage/pools", tag = "monitoring",
    params(PoolsQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = PoolList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn pools(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<PoolsQuery>,
) -> Result<Json<PoolList>, ApiError> {
    let lim = limit(q.limit)?;
    let at = now_rfc3339();
    let rows: Vec<_> = app
        .monitoring
        .listings
        .pools()
        .await?
        .iter()
        .map(|p| view::pool(p, &at))
        .filter(|p| contains(&p.pool, &q.pool))
        .filter(|p| q.health.as_deref().is_none_or(|h| p.health == h))
        .take(lim)
        .collect();
    Ok(Json(PoolList {
        total_count: rows.len(),
        pools: rows,
    }))
}

/// The host's filesystems and volumes with their space (zfs list -Hp), read now.
#[utoipa::path(get, path = "/monitoring/storage/datasets", tag = "monitoring",
    params(DatasetsQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = DatasetList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn datasets(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<DatasetsQuery>,
) -> Result<Json<DatasetList>, ApiError> {
    let lim = limit(q.limit)?;
    let at = now_rfc3339();
    let rows: Vec<_> = app
        .monitoring
        .listings
        .datasets()
        .await?
        .iter()
        .map(|d| view::dataset(d, &at))
        .filter(|d| contains(&d.pool, &q.pool))
        .filter(|d| q.kind.as_deref().is_none_or(|k| d.kind == k))
        .filter(|d| contains(&d.name, &q.name))
        .collect();
    let (datasets, total_count, pagination) = page(rows, lim, q.offset.unwrap_or(0));
    Ok(Json(DatasetList {
        datasets,
        total_count,
        pagination,
    }))
}

/// The host's disks (kstat: `sd` and `blkdev` instances, with the drive's vendor, product,
/// serial number and size from the sd error kstat), read now. `type` is the driver (`sd`,
/// `blkdev`); `pool` and `available` are accepted, and filter nothing (a disk's pool is not
/// read).
#[utoipa::path(get, path = "/monitoring/storage/disks", tag = "monitoring",
    params(DisksQuery), security(("api_key" = ["viewer"])),
    responses((status = 200, body = DiskList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn disks(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<DisksQuery>,
) -> Result<Json<DiskList>, ApiError> {
    let lim = limit(q.limit)?;
    let _ = (q.pool, q.available);
    let at = now_rfc3339();
    let rows: Vec<_> = app
        .monitoring
        .listings
        .disks()
        .await?
        .iter()
        .map(|d| view::disk(d, &at))
        .filter(|d| q.kind.as_deref().is_none_or(|k| d.interface_type == k))
        .collect();
    let (disks, total_count, pagination) = page(rows, lim, q.offset.unwrap_or(0));
    Ok(Json(DiskList {
        disks,
        total_count,
        pagination,
    }))
}
