//! `/zones`: validate, record intent, queue, answer.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use illumos::names::{HostPath, ZoneName};
use illumos::zfs;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::host_storage;
use super::ops::lifecycle::Action;
use super::ops::modify::check_against;
use super::request::{zone_name, CreateZoneRequest, ModifyZoneRequest, VolumeSpec};
use super::store;
use super::view::{self, DatasetView, ZoneDetail, ZoneList, ZoneSummary};
use crate::db::DbError;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiJsonOrEmpty, ApiQuery};
use crate::http::pages;
use crate::http::AppState;
use crate::tasks::model::TaskStatus;
use crate::tasks::store::Filter;
use crate::tasks::{NewTask, NoteBody};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_zones, create_zone))
        .routes(routes!(get_zone, modify_zone, delete_zone))
        .routes(routes!(force_delete_zone))
        .routes(routes!(start_zone))
        .routes(routes!(stop_zone))
        .routes(routes!(get_zone_config))
        .routes(routes!(restart_zone))
        .routes(routes!(halt_zone))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only zones in this state.
    state: Option<String>,
    /// Only zones of this brand.
    brand: Option<String>,
}

/// List every zone on the host (including zones made outside the agent), with the agent's own
/// record where it has one. A 502 when the host cannot list its zones (the agent's last
/// listing is not passed off as current once refreshing it has failed).
#[utoipa::path(get, path = "/zones", tag = "zones", params(ListQuery),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ZoneList), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn list_zones(
    _: Viewer,
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gzip = pages::accepts_gzip(&headers);
    // Read the epochs before the data: an answer is cached under what was current when its
    // reads began, so it is never newer than its key says and never served once stale. Of the
    // database it reads only the zones table: writes elsewhere (task logs and progress during
    // a burst of creates) leave the answer valid.
    let epoch = app.db.table_epoch("zones");
    let (listing, host) = app.zones.host.listing().await.map_err(ApiError::host)?;
    let configs = app.zones.host.configs_version();
    let key = format!(
        "zones {listing} {configs} {:?} {:?}",
        q.state.as_deref(),
        q.brand.as_deref()
    );
    if let Some(body) = app.pages.get(epoch, &key) {
        return Ok(encoded(&app, epoch, &key, body, gzip));
    }
    let records = app.db.read(store::all).await?;
    let mut zones: Vec<ZoneSummary> = Vec::with_capacity(host.len());
    // Autoboot lives in each zone's configuration: what the host view keeps.
    let configs = app.zones.host.configs(&host).await;
    let by_name: std::collections::HashMap<&str, &store::ZoneRecord> =
        records.iter().map(|r| (r.name.as_str(), r)).collect();
    for (e, cfg) in host.iter().zip(configs) {
        let rec = by_name.get(e.name.as_str()).copied();
        zones.push(ZoneSummary::of(Some(e), rec, cfg.and_then(|c| c.autoboot)));
    }
    let on_host: std::collections::HashSet<&str> = host.iter().map(|e| e.name.as_str()).collect();
    for r in records
        .iter()
        .filter(|r| !on_host.contains(r.name.as_str()))
    {
        zones.push(ZoneSummary::of(None, Some(r), None));
    }
    zones.retain(|z| {
        q.state.as_ref().is_none_or(|s| *s == z.zone.state)
            && q.brand.as_ref().is_none_or(|b| *b == z.zone.brand)
    });
    zones.sort_by(|a, b| a.zone.name.cmp(&b.zone.name));
    let body = serde_json::to_vec(&ZoneList {
        total: zones.len(),
        zones,
    })
    .map_err(ApiError::internal)?;
    let body = axum::body::Bytes::from(body);
    app.pages.put(epoch, key.clone(), body.clone());
    Ok(encoded(&app, epoch, &key, body, gzip))
}

/// The list answer, gzip-encoded for a client that takes it (the encoded form is kept too).
fn encoded(app: &AppState, epoch: u64, key: &str, body: axum::body::Bytes, gzip: bool) -> Response {
    match gzip
        .then(|| pages::gzipped(&app.pages, epoch, key, &body))
        .flatten()
    {
        Some(gz) => pages::json_encoded(gz, true),
        None => pages::json_encoded(body, false),
    }
}

/// The answer to a request that queued a zone task.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneTaskAccepted {
    pub success: bool,
    pub task_id: String,
    pub zone_name: String,
    pub operation: String,
    pub status: TaskStatus,
    pub message: String,
    /// With `start_after_create`: the boot task, which runs once the create completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_task_id: Option<String>,
    /// For a modify: whether the zone must reboot to pick the change up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_restart: Option<bool>,
}

/// A boot ROM given as a path (not one of the named firmwares) must be a file on the host.
fn check_bootrom(app: &AppState, bootrom: Option<&str>) -> Result<(), ApiError> {
    match bootrom {
        Some(p) if p.starts_with('/') => {
            if !app.config.host_file(p).is_file() {
                return Err(ApiError::invalid(
                    "bootrom",
                    format!("{p} is not a file on the host"),
                ));
            }
            host_storage::check_media(&app.config, "bootrom", p, true)
        }
        _ => Ok(()),
    }
}

/// Each ISO must be a file on the host, in a media directory (`FIELD[i].path` names the one
/// that is not).
fn check_isos(app: &AppState, field: &str, isos: &[HostPath]) -> Result<(), ApiError> {
    for (i, iso) in isos.iter().enumerate() {
        let field = format!("{field}[{i}].path");
        if !app.config.host_file(iso.as_str()).is_file() {
            return Err(ApiError::invalid(
                field,
                format!("{iso} is not a file on the host"),
            ));
        }
        host_storage::check_media(&app.config, &field, iso.as_str(), false)?;
    }
    Ok(())
}

/// `force` may attach another zone's volume only where the host's owner allows shared volumes.
fn check_force(app: &AppState, force: bool, attaches: bool) -> Result<(), ApiError> {
    if force && attaches && !app.config.zones.allow_shared_volumes {
        return Err(ApiError::invalid(
            "force",
            "attaching a volume another zone uses is disabled on this host (zones.allow_shared_volumes)",
        ));
    }
    Ok(())
}

/// Volumes to attach (not to make) must be ones the host lets zones have; checked before any
/// command runs.
fn check_attachable<'a>(
    app: &AppState,
    volumes: impl IntoIterator<Item = (String, &'a VolumeSpec)>,
    force: bool,
) -> Result<(), ApiError> {
    let mut attaches = false;
    for (field, v) in volumes.into_iter().filter(|(_, v)| !v.create_new) {
        host_storage::check_attachable(&app.config, &field, v.dataset.as_str())?;
        host_storage::check_not_host_device(&app.config, &field, v.dataset.as_str())?;
        attaches = true;
    }
    check_force(app, force, attaches)
}

/// A volume to attach (not to make) must exist: a read-only `zfs list`.
async fn check_existing(app: &AppState, field: &str, v: &VolumeSpec) -> Result<(), ApiError> {
    if v.create_new {
        return Ok(());
    }
    if zfs::get(&app.runner, &v.dataset).await?.is_none() {
        return Err(ApiError::invalid(
            field,
            format!("dataset {} does not exist", v.dataset),
        ));
    }
    Ok(())
}

/// Create a zone (bare, with resources, from a template, or on an existing volume).
#[utoipa::path(post, path = "/zones", tag = "zones", request_body = CreateZoneRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_zone(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateZoneRequest>,
) -> Result<(StatusCode, Json<ZoneTaskAccepted>), ApiError> {
    let (spec, password) = req.validate()?;
    let zone: ZoneName = spec.name.clone();
    // Checks against the host (files first, then read-only commands), so a bad request is a
    // 400 before anything is queued.
    check_isos(&app, "cdroms", &spec.cdroms)?;
    check_bootrom(&app, req.bootrom.as_deref())?;
    check_attachable(
        &app,
        spec.boot
            .iter()
            .map(|b| ("boot_volume.existing_dataset".to_owned(), b)),
        spec.force,
    )?;
    if app
        .zones
        .host
        .zone(zone.as_str())
        .await
        .map_err(ApiError::host)?
        .is_some()
    {
        return Err(ApiError::conflict(format!("Zone {zone} already exists")));
    }
    let run = &app.runner;
    if let Some(t) = &spec.template {
        let ds = &t.template;
        let exists = match &t.snapshot {
            Some(s) => zfs::snapshot_exists(run, &ds_snapshot(ds, s)?).await,
            None => zfs::get(run, ds).await.map(|d| d.is_some()),
        }
        .map_err(ApiError::host)?;
        if !exists {
            return Err(ApiError::invalid(
                "source.template_dataset",
                format!(
                    "template {} does not exist",
                    req.source
                        .as_ref()
                        .map(|s| s.template_dataset.as_str())
                        .unwrap_or("")
                ),
            ));
        }
    }
    if let Some(b) = spec.boot.as_ref() {
        check_existing(&app, "boot_volume.existing_dataset", b).await?;
    }
    let create_id = uuid::Uuid::new_v4().to_string();
    let mut tasks = vec![NewTask::for_zone("zone_create", zone.as_str())
        .with_id(create_id.clone())
        .metadata(serde_json::to_value(&spec).map_err(ApiError::internal)?)
        .created_by(Some(caller.name.clone()))
        .requester_note(req.created_by.clone())];
    if let Some(p) = password {
        tasks[0] = tasks[0].clone().secrets(json!({ "password": p }));
    }
    if req.start_after_create {
        tasks.push(
            NewTask::for_zone("zone_start", zone.as_str())
                .depends_on(Some(create_id.clone()))
                .created_by(Some(caller.name.clone()))
                .requester_note(req.created_by.clone()),
        );
    }
    let (name, root, by) = (
        zone.to_string(),
        spec.root_dataset.clone(),
        caller.name.clone(),
    );
    let made = app
        .tasks
        .enqueue_with(tasks, move |tx| {
            if store::insert_creating(tx, &name, "bhyve", root.as_str(), Some(&by))? {
                Ok(())
            } else {
                Err(DbError::Conflict(format!(
                    "Zone {name} already exists in database"
                )))
            }
        })
        .await?;
    let start_task_id = made.get(1).map(|t| t.id.clone());
    let message = if start_task_id.is_some() {
        "Zone creation task queued with auto-start"
    } else {
        "Zone creation task queued successfully"
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(ZoneTaskAccepted {
            success: true,
            task_id: made[0].id.clone(),
            zone_name: zone.to_string(),
            operation: "zone_create".into(),
            status: made[0].status,
            message: message.into(),
            start_task_id,
            requires_restart: None,
        }),
    ))
}

fn ds_snapshot(
    ds: &illumos::names::DatasetName,
    s: &str,
) -> Result<illumos::names::SnapshotName, ApiError> {
    ds.snapshot(s).map_err(|e| {
        ApiError::invalid(
            "source.template_dataset",
            format!("source.template_dataset: {e}"),
        )
    })
}

/// A zone name from the path: a 400 naming `name` when it is not one.
pub(in crate::zones) fn path_zone(name: &str) -> Result<ZoneName, ApiError> {
    zone_name(name).map_err(|mut e| {
        e.field = "name".into();
        e.into()
    })
}

fn no_zone(name: &str) -> ApiError {
    ApiError::not_found(format!("Zone {name} not found"))
}

async fn load_detail(app: &AppState, zone: &ZoneName) -> Result<Option<ZoneDetail>, ApiError> {
    let entry = app
        .zones
        .host
        .zone(zone.as_str())
        .await
        .map_err(ApiError::host)?;
    let z = zone.to_string();
    let record = app.db.read(move |c| store::get(c, &z)).await?;
    if entry.is_none() && record.is_none() {
        return Ok(None);
    }
    let config = match &entry {
        Some(_) => app.zones.host.config(zone).await.map_err(ApiError::host)?,
        None => None,
    };
    let mut datasets = Vec::new();
    if let Some(root) = record.as_ref().and_then(|r| r.root_dataset.as_deref()) {
        if let Ok(root) = root.parse() {
            for d in zfs::list(&app.runner, &root, true, false)
                .await
                .map_err(ApiError::host)?
                .unwrap_or_default()
            {
                datasets.push(DatasetView {
                    owned: d.is_owned_by(zone.as_str()),
                    kind: d.kind.as_str().to_owned(),
                    volsize: d.volsize,
                    name: d.name,
                });
            }
        }
    }
    if let Some(cfg) = &config {
        for vol in cfg.zvols() {
            if datasets.iter().any(|d: &DatasetView| d.name == vol) {
                continue;
            }
            if let Ok(ds) = vol.parse() {
                if let Some(d) = zfs::get(&app.runner, &ds).await.map_err(ApiError::host)? {
                    datasets.push(DatasetView {
                        owned: d.is_owned_by(zone.as_str()),
                        kind: d.kind.as_str().to_owned(),
                        volsize: d.volsize,
                        name: d.name,
                    });
                }
            }
        }
    }
    let filter = Filter {
        zone_name: Some(zone.to_string()),
        limit: 10,
        ..Default::default()
    };
    let (tasks, _) = app
        .db
        .read(move |c| crate::tasks::store::list(c, &filter))
        .await?;
    let mut d = view::detail(
        entry.as_ref(),
        config.as_deref(),
        record.as_ref(),
        datasets,
        tasks,
    );
    // Several keys live in the zone's key file: shown back as the client sent them.
    if let Some(cfg) = config.as_deref() {
        d.cloud_init.sshkey = super::sshkeys::shown(&app.config, &app.runner, cfg).await;
    }
    Ok(Some(d))
}

/// One zone: configuration (secrets masked), state, datasets, pending changes, recent tasks.
/// Answers an `ETag` for `If-Match` on `PUT`.
#[utoipa::path(get, path = "/zones/{name}", tag = "zones", params(("name" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ZoneDetail), (status = 404, body = ErrorBody)))]
async fn get_zone(
    Auth(caller): Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let zone = path_zone(&name)?;
    let mut d = load_detail(&app, &zone)
        .await?
        .ok_or_else(|| no_zone(&name))?;
    // Provisioners' env, args, extra vars and inline scripts may hold tokens: a viewer sees
    // their names, not their values. Operators read them back to change them.
    if caller.role < crate::keys::Role::Operator {
        if let Some(p) = d.provisioning.as_mut() {
            crate::provisioning::settings::redact(p);
        }
    }
    let z = zone.to_string();
    let last = app
        .db
        .read(move |c| store::last_modify(c, &z, None))
        .await?;
    let tag = view::etag(&d, last.as_deref());
    let mut resp = Json(d).into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Split provisioning settings into what is stored and the secrets kept apart, after checking
/// every field (the provisioning area owns the rules).
fn provisioning_parts(app: &AppState, p: &Value) -> Result<(Value, Option<Value>), ApiError> {
    crate::provisioning::settings::split(p, &app.config.provisioning.ansible.collections)
}

fn stale_etag() -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
        "the zone changed since it was read (ETag mismatch); read it again",
    )
}

/// Modify a zone: changes go into its configuration now and take effect at its next boot.
#[utoipa::path(put, path = "/zones/{name}", tag = "zones", params(("name" = String, Path)),
    request_body = ModifyZoneRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 200, description = "Provisioning settings saved; nothing to change on the host"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn modify_zone(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ModifyZoneRequest>,
) -> Result<Response, ApiError> {
    let zone = path_zone(&name)?;
    let (spec, password) = req.validate(&zone)?;
    if spec.is_empty() && req.provisioning.is_none() {
        return Err(ApiError::bad_request("No modification fields specified"));
    }
    // Every field is checked before the host is read: a bad value runs nothing.
    let provisioning = req
        .provisioning
        .as_ref()
        .map(|p| provisioning_parts(&app, p))
        .transpose()?;
    check_isos(&app, "add_cdroms", &spec.add_cdroms)?;
    check_bootrom(&app, req.bootrom.as_deref())?;
    check_attachable(
        &app,
        spec.add_disks
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("add_disks[{i}].existing_dataset"), d)),
        spec.force,
    )?;
    let detail = load_detail(&app, &zone)
        .await?
        .ok_or_else(|| no_zone(&name))?;
    // With If-Match, the modify last queued when the ETag matched must still be the last one
    // when this one is recorded (checked again inside the enqueue's transaction): two clients
    // holding the same ETag cannot both get their change in.
    let mut expected_last: Option<Option<String>> = None;
    if let Some(want) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        if want.trim() != "*" {
            let z = zone.to_string();
            let last = app
                .db
                .read(move |c| store::last_modify(c, &z, None))
                .await?;
            if want.trim() != view::etag(&detail, last.as_deref()) {
                return Err(stale_etag());
            }
            expected_last = Some(last);
        }
    }
    if !spec.is_empty() {
        let cfg = app
            .zones
            .host
            .config(&zone)
            .await
            .map_err(ApiError::host)?
            .ok_or_else(|| {
                ApiError::conflict(format!("Zone {name} is not configured on the host yet"))
            })?;
        check_against(&cfg, &spec)?;
        for (i, d) in spec.add_disks.iter().enumerate() {
            check_existing(&app, &format!("add_disks[{i}].existing_dataset"), d).await?;
        }
    }
    let brand = detail.zone.brand.clone();
    let z = zone.to_string();
    // Nothing for the host: only the provisioning settings (an empty request was refused).
    if let (true, Some((settings, secrets))) = (spec.is_empty(), &provisioning) {
        let (settings, secrets) = (settings.clone(), secrets.clone());
        app.db
            .write(move |c| store::set_provisioning(c, &z, &brand, &settings, secrets.as_ref()))
            .await?;
        return Ok((
            StatusCode::OK,
            Json(json!({
                "success": true,
                "zone_name": name,
                "message": "Provisioning configuration saved",
                "requires_restart": false,
            })),
        )
            .into_response());
    }
    let running = detail.zone.state == "running";
    let task_id = uuid::Uuid::new_v4().to_string();
    let mut task = NewTask::for_zone("zone_modify", zone.as_str())
        .with_id(task_id.clone())
        .metadata(serde_json::to_value(&spec).map_err(ApiError::internal)?)
        .created_by(Some(caller.name))
        .requester_note(req.created_by.clone());
    if let Some(p) = password {
        task = task.secrets(json!({ "password": p }));
    }
    let made = app
        .tasks
        .enqueue_with(vec![task], move |tx| {
            if let Some(expected) = expected_last {
                if store::last_modify(tx, &z, Some(&task_id))? != expected {
                    return Err(crate::db::DbError::Precondition(stale_etag().message));
                }
            }
            if let Some((settings, secrets)) = provisioning {
                store::set_provisioning(tx, &z, &brand, &settings, secrets.as_ref())?;
            }
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ZoneTaskAccepted {
            success: true,
            task_id: made[0].id.clone(),
            zone_name: zone.to_string(),
            operation: "zone_modify".into(),
            status: made[0].status,
            message: "Modification queued. Changes will take effect on next zone boot.".into(),
            start_task_id: None,
            requires_restart: Some(running),
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also destroy the datasets the agent made for the zone (never attached existing ones).
    #[serde(default)]
    cleanup_datasets: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    created_by: Option<crate::tasks::RequesterNote>,
}

/// Delete a zone: halt, uninstall, remove its configuration and record; datasets are kept
/// unless `cleanup_datasets=true`.
#[utoipa::path(delete, path = "/zones/{name}", tag = "zones", params(("name" = String, Path), DeleteQuery),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_zone(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<(StatusCode, Json<ZoneTaskAccepted>), ApiError> {
    let zone = path_zone(&name)?;
    let on_host = app
        .zones
        .host
        .zone(zone.as_str())
        .await
        .map_err(ApiError::host)?
        .is_some();
    let z = zone.to_string();
    let record = app.db.read(move |c| store::get(c, &z)).await?;
    if !on_host && record.is_none() {
        return Err(no_zone(&name));
    }
    let task = NewTask::for_zone("zone_delete", zone.as_str())
        .metadata(json!({ "cleanup_datasets": q.cleanup_datasets }))
        .created_by(Some(caller.name))
        .requester_note(q.created_by);
    let z = zone.to_string();
    let made = app
        .tasks
        .enqueue_with(vec![task], move |tx| {
            if store::get(tx, &z)?.is_some_and(|r| r.status == "ready") {
                store::set_status(tx, &z, "deleting")?;
            }
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ZoneTaskAccepted {
            success: true,
            task_id: made[0].id.clone(),
            zone_name: zone.to_string(),
            operation: "zone_delete".into(),
            status: made[0].status,
            message: if q.cleanup_datasets {
                "Zone deletion queued; its datasets will be destroyed".into()
            } else {
                "Zone deletion queued; its datasets are kept".into()
            },
            start_task_id: None,
            requires_restart: None,
        }),
    ))
}

/// Forget a zone whose host side is gone (after a delete failed part way and was finished by
/// hand). Refused while the zone is still configured on the host.
#[utoipa::path(delete, path = "/zones/{name}/force", tag = "zones", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, description = "Record removed"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn force_delete_zone(
    _: Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let zone = path_zone(&name)?;
    app.zones.host.invalidate(zone.as_str());
    if app
        .zones
        .host
        .zone(zone.as_str())
        .await
        .map_err(ApiError::host)?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "Zone {name} still exists on the host; delete it with DELETE /zones/{name}"
        )));
    }
    let z = zone.to_string();
    if !app.db.write(move |c| store::delete(c, &z)).await? {
        return Err(no_zone(&name));
    }
    Ok(Json(json!({
        "success": true,
        "zone_name": name,
        "message": "Zone record removed",
    })))
}

async fn lifecycle(
    app: AppState,
    caller: String,
    note: NoteBody,
    name: String,
    action: Action,
) -> Result<Response, ApiError> {
    let zone = path_zone(&name)?;
    let entry = app
        .zones
        .host
        .zone(zone.as_str())
        .await
        .map_err(ApiError::host)?;
    let z = zone.to_string();
    let record = app.db.read(move |c| store::get(c, &z)).await?;
    if entry.is_none() && record.is_none() {
        return Err(no_zone(&name));
    }
    // A new request wins over queued opposite ones (a stop cancels a pending start).
    for op in action.supersedes() {
        let filter = Filter {
            status: Some(TaskStatus::Pending),
            zone_name: Some(zone.to_string()),
            operation: Some((*op).to_owned()),
            limit: 100,
            ..Default::default()
        };
        let (pending, _) = app
            .db
            .read(move |c| crate::tasks::store::list(c, &filter))
            .await?;
        for t in pending {
            app.tasks
                .cancel(
                    &t.id,
                    &format!("superseded by a {} request", action.operation()),
                )
                .await?;
        }
    }
    let state = entry.as_ref().map(|e| e.state);
    let satisfied = match (action, state) {
        (Action::Start, Some(illumos::zoneadm::ZoneState::Running)) => {
            Some("Zone is already running")
        }
        (Action::Stop | Action::Halt, Some(s)) if !s.is_booted() => Some("Zone is already stopped"),
        _ => None,
    };
    let pending_same = {
        let filter = Filter {
            status: Some(TaskStatus::Pending),
            zone_name: Some(zone.to_string()),
            limit: 1,
            ..Default::default()
        };
        app.db
            .read(move |c| crate::tasks::store::list(c, &filter))
            .await?
            .1
            > 0
    };
    if let (Some(message), false) = (satisfied, pending_same) {
        return Ok(Json(json!({
            "success": true,
            "zone_name": name,
            "operation": action.operation(),
            "message": message,
        }))
        .into_response());
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::for_zone(action.operation(), zone.as_str())
                .created_by(Some(caller))
                .requester_note(note.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ZoneTaskAccepted {
            success: true,
            task_id: task.id.clone(),
            zone_name: zone.to_string(),
            operation: action.operation().into(),
            status: task.status,
            message: format!("{} task queued", action.operation()),
            start_task_id: None,
            requires_restart: None,
        }),
    )
        .into_response())
}

/// Boot a zone (`zoneadm boot`). Already running: 200 and no task.
#[utoipa::path(post, path = "/zones/{name}/start", tag = "zones", params(("name" = String, Path)),
    request_body(content = Option<NoteBody>), security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 200, description = "Already running"), (status = 404, body = ErrorBody)))]
async fn start_zone(
    Auth(c): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJsonOrEmpty(note): ApiJsonOrEmpty<NoteBody>,
) -> Result<Response, ApiError> {
    lifecycle(app, c.name, note, name, Action::Start).await
}

/// Stop a zone gracefully (`zoneadm shutdown`), halting it if that does not finish in
/// `zones.shutdown_timeout` seconds. Cancels a pending start.
#[utoipa::path(post, path = "/zones/{name}/stop", tag = "zones", params(("name" = String, Path), StopQuery),
    request_body(content = Option<NoteBody>), security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 200, description = "Already stopped"), (status = 404, body = ErrorBody)))]
async fn stop_zone(
    Auth(c): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<StopQuery>,
    ApiJsonOrEmpty(note): ApiJsonOrEmpty<NoteBody>,
) -> Result<Response, ApiError> {
    let action = if q.force == Some(true) {
        Action::Halt
    } else {
        Action::Stop
    };
    lifecycle(app, c.name, note, name, action).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StopQuery {
    /// `true`: halt at once (`zoneadm halt`, as `POST /zones/{name}/halt`) instead of a
    /// graceful shutdown; the task's operation is then `zone_halt`.
    force: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneConfigAnswer {
    pub success: bool,
    pub zone_name: String,
    /// zonecfg's own keys, as in `GET /zones/{name}`'s `configuration`.
    #[schema(value_type = Object)]
    pub configuration: Value,
}

/// A zone's configuration alone, under zonecfg's own keys (the Node original's
/// `/zones/{name}/config`). 404 when the host has no such zone.
#[utoipa::path(get, path = "/zones/{name}/config", tag = "zones", params(("name" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ZoneConfigAnswer), (status = 404, body = ErrorBody)))]
async fn get_zone_config(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ZoneConfigAnswer>, ApiError> {
    let zone = path_zone(&name)?;
    let d = load_detail(&app, &zone)
        .await?
        .filter(|d| d.zone_info.last_seen.is_some())
        .ok_or_else(|| no_zone(&name))?;
    Ok(Json(ZoneConfigAnswer {
        success: true,
        zone_name: zone.to_string(),
        configuration: d.configuration,
    }))
}

/// Reboot a running zone, or boot a stopped one; applies pending configuration changes.
#[utoipa::path(post, path = "/zones/{name}/restart", tag = "zones", params(("name" = String, Path)),
    request_body(content = Option<NoteBody>), security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 404, body = ErrorBody)))]
async fn restart_zone(
    Auth(c): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJsonOrEmpty(note): ApiJsonOrEmpty<NoteBody>,
) -> Result<Response, ApiError> {
    lifecycle(app, c.name, note, name, Action::Restart).await
}

/// Halt a zone at once (`zoneadm halt`, no shutdown scripts). Cancels a pending start.
#[utoipa::path(post, path = "/zones/{name}/halt", tag = "zones", params(("name" = String, Path)),
    request_body(content = Option<NoteBody>), security(("api_key" = ["operator"])),
    responses((status = 202, body = ZoneTaskAccepted), (status = 200, description = "Already stopped"), (status = 404, body = ErrorBody)))]
async fn halt_zone(
    Auth(c): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    ApiJsonOrEmpty(note): ApiJsonOrEmpty<NoteBody>,
) -> Result<Response, ApiError> {
    lifecycle(app, c.name, note, name, Action::Halt).await
}
