//! The DHCP handlers: parse, authorise, check against the file and the host, enqueue.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::smf::{self, ServiceState};

use super::conf::DhcpConf;
use super::host::{dhcp_file, listen_ifnames, parse_conf};
use super::leases;
use super::ops::{DeleteHostParams, ServiceParams, ADD_HOST, CONFIG, DELETE_HOST, SERVICE};
use super::request::{check_host, AddHostRequest, DhcpConfigRequest, HostName, ServiceRequest};
use super::view::{
    service_running, subnet_view, DhcpConfigView, DhcpHost, DhcpHostList, DhcpStatus,
    DhcpSubnetView, LeaseList,
};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::network::paths::HostFile;
use crate::network::{metadata, LOCK_DHCPD, SCOPE};
use crate::tasks::routes::{accepted, TaskAccepted};
use crate::tasks::{NewTask, NoteQuery};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(get_config, put_config))
        .routes(routes!(list_hosts, add_host))
        .routes(routes!(delete_host))
        .routes(routes!(get_status, put_status))
        .routes(routes!(get_leases))
}

/// The configuration and its illumos path.
async fn read_for_api(app: &AppState) -> Result<(DhcpConf, String), ApiError> {
    let file = dhcp_file(&app.network, &app.network.runner).await?;
    let conf = parse_conf(&file)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "config-unparsable", e.to_string()))?;
    Ok((conf, file.illumos.to_string()))
}

/// The DHCP subnet configuration.
#[utoipa::path(get, path = "/network/dhcp/config", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpConfigView)))]
async fn get_config(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<DhcpConfigView>, ApiError> {
    let (conf, config_path) = read_for_api(&app).await?;
    let run = &app.network.runner;
    let listen = listen_ifnames(&app.network, run)
        .await
        .map_err(ApiError::host)?;
    let state = smf::service_state(run, &app.network.settings.dhcp_service)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    let subnets: Vec<DhcpSubnetView> = conf
        .subnets()
        .map(|s| subnet_view(&s.config(), listen.first()))
        .collect();
    let config = subnets.first().cloned();
    Ok(Json(DhcpConfigView {
        success: true,
        config,
        subnets,
        service_enabled: service_running(state),
        config_path,
    }))
}

/// Create or update a subnet declaration (keeping host entries, other subnets, global options
/// and comments), and optionally the interface the server listens on.
#[utoipa::path(put, path = "/network/dhcp/config", tag = "network",
    request_body = DhcpConfigRequest, security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn put_config(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<DhcpConfigRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let spec = req.validate()?;
    read_for_api(&app).await?;
    if let Some(l) = &spec.listen_interface {
        let known = illumos::ipadm::show_if(&app.network.runner, Some(l))
            .await
            .map_err(ApiError::host)?;
        if known.is_empty() {
            return Err(ApiError::invalid(
                "listen_interface",
                format!("listen_interface: no IP interface named {l}"),
            ));
        }
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(CONFIG, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(metadata(&spec)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by.clone()),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "DHCP configuration update queued")),
    ))
}

/// Host reservations (MAC to fixed address).
#[utoipa::path(get, path = "/network/dhcp/hosts", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpHostList)))]
async fn list_hosts(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<DhcpHostList>, ApiError> {
    let (conf, config_path) = read_for_api(&app).await?;
    Ok(Json(DhcpHostList {
        success: true,
        hosts: conf
            .hosts()
            .into_iter()
            .map(|h| DhcpHost {
                hostname: h.name.clone(),
                mac: h.mac.map(|m| m.to_string()),
                ip: h.ip.map(|i| i.to_string()),
            })
            .collect(),
        config_path,
    }))
}

/// Add a host reservation. 409 naming the clashing entry when the hostname, MAC or address is
/// taken.
#[utoipa::path(post, path = "/network/dhcp/hosts", tag = "network", request_body = AddHostRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn add_host(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<AddHostRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let host = req.validate()?;
    let (conf, _) = read_for_api(&app).await?;
    check_host(&conf, &host)?;
    let id = uuid::Uuid::new_v4().to_string();
    let claims = [
        ("$.hostname", host.hostname.to_string()),
        ("$.mac", host.mac.to_string()),
        ("$.ip", host.ip.to_string()),
    ];
    let made = app
        .tasks
        .enqueue_with(
            vec![NewTask::new(ADD_HOST, SCOPE)
                .with_id(id.clone())
                .lock(LOCK_DHCPD)
                .metadata(metadata(&host)?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by.clone())],
            // The file shows only what has been written: an add still queued claims its
            // name, MAC and address too.
            move |tx| {
                for (path, v) in &claims {
                    if crate::tasks::store::queued_claim(tx, ADD_HOST, path, v, &id)? {
                        return Err(crate::db::DbError::Conflict(format!(
                            "{v} is already claimed by a queued DHCP host add"
                        )));
                    }
                }
                Ok(())
            },
        )
        .await?;
    let task = &made[0];
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(
            task,
            &format!("DHCP host {} queued", host.hostname),
        )),
    ))
}

/// Remove a host reservation.
#[utoipa::path(delete, path = "/network/dhcp/hosts/{hostname}", tag = "network",
    params(("hostname" = String, Path), NoteQuery), security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 404, body = ErrorBody)))]
async fn delete_host(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(hostname): Path<String>,
    ApiQuery(q): ApiQuery<NoteQuery>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let name = HostName::new("hostname", &hostname)?;
    let (conf, _) = read_for_api(&app).await?;
    if !conf.hosts().iter().any(|h| h.name == name.as_str()) {
        return Err(ApiError::not_found(format!("no DHCP host entry {name}")));
    }
    let task = app
        .tasks
        .enqueue(
            NewTask::new(DELETE_HOST, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(metadata(&DeleteHostParams {
                    hostname: name.clone(),
                })?)
                .created_by(Some(caller.name))
                .requester_note(q.created_by),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, &format!("DHCP host {name} removal queued"))),
    ))
}

/// The DHCP server's SMF state.
#[utoipa::path(get, path = "/network/dhcp/status", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = DhcpStatus)))]
async fn get_status(_: Viewer, State(app): State<AppState>) -> Result<Json<DhcpStatus>, ApiError> {
    let fmri = &app.network.settings.dhcp_service;
    let state = smf::service_state(&app.network.runner, fmri)
        .await
        .map_err(ApiError::host)?
        .map(|s| s.state);
    Ok(Json(DhcpStatus {
        success: true,
        service: format!(
            "{}:{}",
            fmri.service().trim_start_matches("network/"),
            fmri.instance()
        ),
        state: state.map_or("absent", |s| s.as_str()).to_owned(),
        enabled: state.is_some_and(|s| s != ServiceState::Disabled && s != ServiceState::Absent),
    }))
}

/// Start (enable), stop (disable), refresh or restart the DHCP server.
#[utoipa::path(put, path = "/network/dhcp/status", tag = "network", request_body = ServiceRequest,
    security(("api_key" = ["operator"])),
    responses((status = 202, body = TaskAccepted), (status = 400, body = ErrorBody)))]
async fn put_status(
    Auth(caller): Operator,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<ServiceRequest>,
) -> Result<(StatusCode, Json<TaskAccepted>), ApiError> {
    let task = app
        .tasks
        .enqueue(
            NewTask::new(SERVICE, SCOPE)
                .lock(LOCK_DHCPD)
                .metadata(metadata(&ServiceParams { action: req.action })?)
                .created_by(Some(caller.name))
                .requester_note(req.created_by.clone()),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(accepted(&task, "DHCP service action queued")),
    ))
}

/// Current leases, from dhcpd's leases file (the last record for each address).
#[utoipa::path(get, path = "/network/dhcp/leases", tag = "network",
    security(("api_key" = ["viewer"])), responses((status = 200, body = LeaseList)))]
async fn get_leases(_: Viewer, State(app): State<AppState>) -> Result<Json<LeaseList>, ApiError> {
    let leases_path = app
        .network
        .path_of(&app.network.runner, HostFile::DhcpLeases)
        .await?;
    let path = app.config.host_file(&leases_path.to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
    };
    let leases = leases::parse(&text).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(LeaseList {
        success: true,
        leases,
        leases_path: leases_path.to_string(),
    }))
}
