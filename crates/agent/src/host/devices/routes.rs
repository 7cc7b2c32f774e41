//! `/host/devices*`: read, answer. Nothing here changes the host (`refresh` reads it again).

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::view::{self, CategoryCounts, Device, DeviceSummary};
use crate::http::auth::{Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiQuery;
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_devices))
        .routes(routes!(available_devices))
        .routes(routes!(device_categories))
        .routes(routes!(refresh_devices))
        .routes(routes!(device))
}

const CATEGORIES: [&str; 6] = ["network", "storage", "display", "usb", "audio", "other"];

fn category_filter(c: &Option<String>) -> Result<(), ApiError> {
    match c {
        Some(c) if !CATEGORIES.contains(&c.as_str()) => Err(crate::error::FieldError::new(
            "category",
            format!("category must be one of {}", CATEGORIES.join(", ")),
        )
        .into()),
        _ => Ok(()),
    }
}

/// The original's filters; an unknown one is a 400 naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DevicesQuery {
    /// `network`, `storage`, `display`, `usb`, `audio` or `other`.
    pub category: Option<String>,
    pub ppt_enabled: Option<bool>,
    pub ppt_capable: Option<bool>,
    pub driver_attached: Option<bool>,
    /// `true`: only devices given to no zone.
    pub available: Option<bool>,
    /// At most this many devices (default 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    /// Sorted by category, vendor and device name, as the original.
    pub devices: Vec<Device>,
    /// Over every device, whatever the filters.
    pub summary: DeviceSummary,
}

async fn all(app: &AppState) -> Result<Vec<Device>, ApiError> {
    let scan = app.host.devices.scan().await?;
    Ok(super::rows(app, &scan).await?)
}

fn sort(d: &mut [Device]) {
    d.sort_by(|a, b| {
        (&a.device_category, &a.vendor_name, &a.device_name, a.id).cmp(&(
            &b.device_category,
            &b.vendor_name,
            &b.device_name,
            b.id,
        ))
    });
}

/// The host's PCI devices (`prtconf -dD`), each with its category, driver and passthrough
/// state (`pptadm list -a`) and the zones given it (their `device match=/dev/pptN`). The scan
/// is kept up to 5 minutes; `POST /host/devices/refresh` reads the host again.
#[utoipa::path(get, path = "/host/devices", tag = "system", params(DevicesQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = DeviceList), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn list_devices(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<DevicesQuery>,
) -> Result<Json<DeviceList>, ApiError> {
    category_filter(&q.category)?;
    let all = all(&app).await?;
    let summary = view::summary(&all);
    let mut devices: Vec<Device> = all
        .into_iter()
        .filter(|d| q.category.as_ref().is_none_or(|c| *c == d.device_category))
        .filter(|d| q.ppt_enabled.is_none_or(|v| v == d.ppt_enabled))
        .filter(|d| q.ppt_capable.is_none_or(|v| v == d.ppt_capable))
        .filter(|d| q.driver_attached.is_none_or(|v| v == d.driver_attached))
        .filter(|d| q.available != Some(true) || d.assigned_to_zones.is_empty())
        .collect();
    sort(&mut devices);
    devices.truncate(q.limit.unwrap_or(100));
    Ok(Json(DeviceList { devices, summary }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    pub category: Option<String>,
    /// `true`: only devices bound to ppt.
    pub ppt_only: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableList {
    /// The original's key.
    pub available_devices: Vec<Device>,
    /// The same list under the key the Zoneweaver UI reads.
    pub devices: Vec<Device>,
    pub total: usize,
}

/// Devices given to no zone, those bound to ppt first within a category.
#[utoipa::path(get, path = "/host/devices/available", tag = "system", params(AvailableQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = AvailableList), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn available_devices(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AvailableQuery>,
) -> Result<Json<AvailableList>, ApiError> {
    category_filter(&q.category)?;
    let mut devices: Vec<Device> = all(&app)
        .await?
        .into_iter()
        .filter(|d| d.assigned_to_zones.is_empty())
        .filter(|d| q.category.as_ref().is_none_or(|c| *c == d.device_category))
        .filter(|d| q.ppt_only != Some(true) || d.ppt_enabled)
        .collect();
    sort(&mut devices);
    devices.sort_by(|a, b| {
        (&a.device_category, !a.ppt_enabled).cmp(&(&b.device_category, !b.ppt_enabled))
    });
    Ok(Json(AvailableList {
        total: devices.len(),
        available_devices: devices.clone(),
        devices,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Categories {
    pub categories: std::collections::BTreeMap<String, CategoryCounts>,
    pub total_devices: usize,
}

/// Device counts by category.
#[utoipa::path(get, path = "/host/devices/categories", tag = "system",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Categories), (status = 502, body = ErrorBody)))]
async fn device_categories(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Categories>, ApiError> {
    let all = all(&app).await?;
    Ok(Json(Categories {
        categories: view::categories(&all),
        total_devices: all.len(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Refreshed {
    pub success: bool,
    pub message: String,
    pub devices_found: usize,
}

/// Reads the device tree and the passthrough list again now (changes nothing on the host).
/// Operators: a POST.
#[utoipa::path(post, path = "/host/devices/refresh", tag = "system",
    security(("api_key" = ["operator"])),
    responses((status = 200, body = Refreshed), (status = 502, body = ErrorBody)))]
async fn refresh_devices(
    _: Operator,
    State(app): State<AppState>,
) -> Result<Json<Refreshed>, ApiError> {
    let scan = app.host.devices.rescan().await?;
    Ok(Json(Refreshed {
        success: true,
        message: "Device discovery completed successfully".into(),
        devices_found: scan.tree.len(),
    }))
}

/// One device, by its `id`, its `pci_address` (the first with it) or its driver instance
/// (`igb0`, `ppt0`).
#[utoipa::path(get, path = "/host/devices/{deviceId}", tag = "system",
    params(("deviceId" = String, Path, description = "id, pci_address or driver instance")),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn device(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Device>, ApiError> {
    let missing = || ApiError::not_found(format!("no device {id} on this host"));
    if !plausible_id(&id) {
        return Err(missing()); // names no device: the host is not read for it
    }
    all(&app)
        .await?
        .into_iter()
        .find(|d| {
            d.id.to_string() == id
                || d.pci_address == id
                || d.driver_name
                    .as_ref()
                    .zip(d.driver_instance)
                    .is_some_and(|(n, i)| format!("{n}{i}") == id)
        })
        .map(Json)
        .ok_or_else(missing)
}

/// Whether `id` has the shape of a device id (`7`), a compatible name (`pciex8086,1521`) or a
/// driver instance (`igb0`): lowercase letters, digits, `,` and `_`, at most 64.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b',' || b == b'_')
}
