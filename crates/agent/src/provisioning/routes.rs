//! `/provisioning/recipes` and `/zones/{name}/provision`: validate, record intent, queue,
//! answer.

use std::collections::BTreeMap;

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use illumos::names::{DatasetName, ZoneName};
use serde_json::{json, Value};

use super::console::merge_vars;
use super::recipes::{self, resolve_steps, Recipe, RecipeBody};
use super::request::{zone_param, RecipeQuery, TestRecipeRequest};
use super::settings::{is_uuid, var_text, Settings};
use super::stages::{self, StageParams};
use super::store;
use super::view::{DryRun, PipelineAccepted, ProvisionStatus, RecipeList, SshKey};
use crate::db::DbError;
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::AppState;
use crate::tasks::model::TaskStatus;
use crate::tasks::NewTask;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_recipes, create_recipe))
        .routes(routes!(get_recipe, update_recipe, delete_recipe))
        .routes(routes!(test_recipe))
        .routes(routes!(provision_zone))
        .routes(routes!(provision_status))
        .routes(routes!(provision_cancel))
        .routes(routes!(provision_rollback))
        .routes(routes!(ssh_key))
}

/// The agent's provisioning public key, made on first request.
#[utoipa::path(get, path = "/provisioning/ssh-key", tag = "provisioning",
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = SshKey), (status = 500, body = ErrorBody)))]
async fn ssh_key(_: Viewer, State(app): State<AppState>) -> Result<Json<SshKey>, ApiError> {
    ensure_agent_key(&app).await?;
    let key = app.config.provisioning_key_path();
    let public_key = std::fs::read_to_string(key.with_extension("pub"))
        .map_err(ApiError::internal)?
        .trim()
        .to_owned();
    Ok(Json(SshKey {
        success: true,
        public_key,
        key_path: key.display().to_string(),
    }))
}

async fn find_recipe(app: &AppState, id: &str) -> Result<Option<Recipe>, ApiError> {
    if let Some(r) = recipes::builtin(id) {
        return Ok(Some(r));
    }
    if !is_uuid(id) {
        return Ok(None);
    }
    let id = id.to_owned();
    Ok(app.db.read(move |c| store::recipe(c, &id)).await?)
}

fn no_recipe(id: &str) -> ApiError {
    ApiError::not_found(format!("Recipe {id} not found"))
}

/// The built-in recipes and those written by clients.
#[utoipa::path(get, path = "/provisioning/recipes", tag = "provisioning", params(RecipeQuery),
    security(("api_key" = ["viewer"])), responses((status = 200, body = RecipeList)))]
async fn list_recipes(
    _: Viewer,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<RecipeQuery>,
) -> Result<Json<RecipeList>, ApiError> {
    let mut all = recipes::builtins();
    all.extend(app.db.read(store::recipes).await?);
    all.retain(|r| q.os_family.as_ref().is_none_or(|f| *f == r.body.os_family));
    Ok(Json(RecipeList {
        total: all.len(),
        recipes: all,
    }))
}

fn check_builtin_name(body: &RecipeBody) -> Result<(), ApiError> {
    if recipes::builtin(&body.name).is_some() {
        return Err(ApiError::conflict(format!(
            "{} is the name of a built-in recipe",
            body.name
        )));
    }
    Ok(())
}

/// Write a recipe. Only `name`, `os_family` and `steps` are required.
#[utoipa::path(post, path = "/provisioning/recipes", tag = "provisioning",
    request_body = RecipeBody, security(("api_key" = ["operator"])),
    responses((status = 201, body = Recipe), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_recipe(
    _: Operator,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RecipeBody>,
) -> Result<(StatusCode, Json<Recipe>), ApiError> {
    body.validate()?;
    check_builtin_name(&body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let r = app
        .db
        .write(move |c| store::insert_recipe(c, &id, &body))
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// One recipe.
#[utoipa::path(get, path = "/provisioning/recipes/{id}", tag = "provisioning", params(("id" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Recipe), (status = 404, body = ErrorBody)))]
async fn get_recipe(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Recipe>, ApiError> {
    find_recipe(&app, &id)
        .await?
        .map(Json)
        .ok_or_else(|| no_recipe(&id))
}

fn builtin_is_fixed(id: &str) -> Result<(), ApiError> {
    if recipes::builtin(id).is_some() {
        return Err(ApiError::conflict(format!(
            "{id} is a built-in recipe and cannot be changed; write a new one"
        )));
    }
    Ok(())
}

/// Replace a recipe (built-in recipes cannot be changed).
#[utoipa::path(put, path = "/provisioning/recipes/{id}", tag = "provisioning", params(("id" = String, Path)),
    request_body = RecipeBody, security(("api_key" = ["operator"])),
    responses((status = 200, body = Recipe), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn update_recipe(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecipeBody>,
) -> Result<Json<Recipe>, ApiError> {
    builtin_is_fixed(&id)?;
    if !is_uuid(&id) {
        return Err(no_recipe(&id));
    }
    body.validate()?;
    check_builtin_name(&body)?;
    let i = id.clone();
    app.db
        .write(move |c| store::update_recipe(c, &i, &body))
        .await?
        .map(Json)
        .ok_or_else(|| no_recipe(&id))
}

/// Delete a recipe (built-in recipes cannot be deleted).
#[utoipa::path(delete, path = "/provisioning/recipes/{id}", tag = "provisioning", params(("id" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_recipe(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    builtin_is_fixed(&id)?;
    let i = id.clone();
    if !is_uuid(&id) || !app.db.write(move |c| store::delete_recipe(c, &i)).await? {
        return Err(no_recipe(&id));
    }
    Ok(Json(
        json!({ "success": true, "id": id, "message": "Recipe deleted" }),
    ))
}

/// Variables a recipe sees for a zone, lowest precedence first: the recipe's defaults, what the
/// agent derives (zone name, user, the provisioning network's gateway and prefix, the agent's
/// public key), `provisioning.variables` of the config, the zone's settings, the request's.
fn variables_for(
    app: &AppState,
    zone: &str,
    settings: &Settings,
    recipe: Option<&RecipeBody>,
    nic: &BTreeMap<String, String>,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut derived = BTreeMap::new();
    derived.insert("zone_name".to_owned(), zone.to_owned());
    derived.insert("hostname".to_owned(), zone.to_owned());
    derived.insert("username".to_owned(), settings.username().to_owned());
    let net = &app.config.provisioning.network;
    derived.insert("gateway".to_owned(), net.host_ip.clone());
    if let Some((_, prefix)) = net.subnet.split_once('/') {
        derived.insert("prefix".to_owned(), prefix.to_owned());
    }
    if let Ok(pk) =
        std::fs::read_to_string(app.config.provisioning_key_path().with_extension("pub"))
    {
        derived.insert("ssh_public_key".to_owned(), pk.trim().to_owned());
    }
    let empty = BTreeMap::new();
    let recipe_vars = recipe.map_or(&empty, |r| &r.variables);
    merge_vars(&[
        recipe_vars,
        &derived,
        nic,
        &app.config.provisioning.variables,
        &settings.variables_text(),
        extra,
    ])
}

/// The agent's provisioning key pair, made on first need so recipes can install its public key.
async fn ensure_agent_key(app: &AppState) -> Result<(), ApiError> {
    let key = app.config.provisioning_key_path();
    if key.with_extension("pub").is_file() {
        return Ok(());
    }
    let home = app.config.data_dir.join("provisioning/keygen");
    super::remote::private_dir(&home).map_err(ApiError::internal)?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let note = |l: &str| tracing::info!(line = l, "ssh-keygen");
    let proc = super::remote::Proc {
        cancel: &cancel,
        note: &note,
        secrets: &[],
        kill_grace: app.runner.config().kill_grace,
        home: &home,
        confined: None,
    };
    super::remote::ensure_key(&proc, &app.config.provisioning.tools, &key)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot make the provisioning key pair");
            ApiError::internal(e)
        })
}

async fn zone_settings(
    app: &AppState,
    zone: &ZoneName,
) -> Result<Option<(Settings, String)>, ApiError> {
    let z = zone.to_string();
    let rec = app
        .db
        .read(move |c| crate::zones::store::get(c, &z))
        .await?;
    let Some(rec) = rec else { return Ok(None) };
    let settings = match rec.provisioning {
        Some(v) => serde_json::from_value(v).map_err(ApiError::internal)?,
        None => Settings::default(),
    };
    Ok(Some((settings, rec.root_dataset.unwrap_or_default())))
}

/// Test a recipe: a dry run shows the resolved steps and the variables with no value; a live
/// run is queued as a task on the zone's console.
#[utoipa::path(post, path = "/provisioning/recipes/{id}/test", tag = "provisioning", params(("id" = String, Path)),
    request_body = TestRecipeRequest, security(("api_key" = ["operator"])),
    responses((status = 200, body = DryRun), (status = 202, description = "Live test queued"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_recipe(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TestRecipeRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let recipe = find_recipe(&app, &id)
        .await?
        .ok_or_else(|| no_recipe(&id))?;
    let mut extra = BTreeMap::new();
    for (k, v) in &req.variables {
        let field = format!("variables.{k}");
        super::settings::check_var_name(&field, k)?;
        let t = var_text(v)
            .ok_or_else(|| ApiError::invalid(&field, "must be a string, number or boolean"))?;
        super::settings::check_text(&field, &t, 1024)?;
        extra.insert(k.clone(), t);
    }
    let zone = req
        .zone_name
        .as_deref()
        .map(|z| zone_param(z, "zone_name"))
        .transpose()?;
    let (settings, _) = match &zone {
        Some(z) => zone_settings(&app, z).await?.unwrap_or_default(),
        None => Default::default(),
    };
    let nic = match &zone {
        Some(z) => match app.zones.host.config(z).await.map_err(ApiError::host)? {
            Some(cfg) => super::nic::variables(&app.provisioning, &cfg)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?,
            None => BTreeMap::new(),
        },
        None => BTreeMap::new(),
    };
    let _ = ensure_agent_key(&app).await;
    let zname = zone.as_ref().map_or("ZONE", |z| z.as_str()).to_owned();
    let vars = variables_for(&app, &zname, &settings, Some(&recipe.body), &nic, &extra);
    if req.dry_run {
        let mut shown = vars.clone();
        if settings.credentials.password_set {
            shown.insert("password".into(), "********".into());
        }
        let (steps, unresolved) = resolve_steps(&recipe.body.steps, &shown)?;
        return Ok((
            StatusCode::OK,
            Json(
                serde_json::to_value(DryRun {
                    recipe_id: recipe.id,
                    dry_run: true,
                    steps,
                    unresolved,
                    variables: shown,
                })
                .map_err(ApiError::internal)?,
            ),
        ));
    }
    let zone = zone.ok_or_else(|| ApiError::invalid("zone_name", "a live test needs zone_name"))?;
    app.zones.on_host(&zone).await?;
    let params = StageParams {
        zone: zone.clone(),
        settings: settings.clone(),
        dataset: None,
        boot_volume: None,
        recipe: Some(recipe.body.clone()),
        variables: vars,
        provisioners_in_secrets: false,
    };
    let mut task = NewTask::for_zone(stages::RECIPE_TEST, zone.as_str())
        .metadata(params.metadata().map_err(ApiError::internal)?)
        .created_by(Some(caller.name));
    let z = zone.to_string();
    let secrets = app.db.read(move |c| store::zone_secrets(c, &z)).await?;
    if let Some(pw) = secrets
        .get("password")
        .filter(|_| settings.credentials.password_set)
    {
        task = task.secrets(json!({ "password": pw }));
    }
    let t = app.tasks.enqueue(task).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "success": true,
            "task_id": t.id,
            "zone_name": zone.as_str(),
            "operation": stages::RECIPE_TEST,
            "status": t.status,
            "message": format!("Live test of recipe {} queued", recipe.id),
        })),
    ))
}

fn path_zone(name: &str) -> Result<ZoneName, ApiError> {
    zone_param(name, "name")
}

/// Everything the stages need, checked before anything is queued.
async fn stage_params(app: &AppState, zone: &ZoneName) -> Result<StageParams, ApiError> {
    app.zones.on_host(zone).await?;
    let (settings, root) = zone_settings(app, zone).await?.ok_or_else(|| {
        ApiError::invalid(
            "provisioning",
            format!("zone {zone} has no provisioning settings; set them with PUT /zones/{zone}"),
        )
    })?;
    settings.validate(&app.config.provisioning.ansible.collections)?;
    let recipe = match &settings.recipe_id {
        Some(id) => Some(
            find_recipe(app, id)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid("provisioning.recipe_id", format!("no recipe {id}"))
                })?
                .body,
        ),
        None => None,
    };
    if let Some(a) = &settings.artifact_id {
        let i = a.clone();
        if app
            .db
            .read(move |c| store::artifact(c, &i))
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "provisioning.artifact_id",
                format!("no artifact {a}"),
            ));
        }
    }
    if root.is_empty() {
        return Err(ApiError::conflict(format!(
            "zone {zone} has no dataset made by the agent to hold its provisioning dataset"
        )));
    }
    let dataset: DatasetName = format!("{root}/provisioning")
        .parse()
        .map_err(|e: illumos::names::InvalidName| ApiError::internal(e.0))?;
    if settings.guest_address().is_none() && !app.network.settings.provisioning.enabled {
        return Err(ApiError::invalid(
            "provisioning.variables.ip",
            "the provisioning network is disabled, so the zone's address is unknown: set provisioning.variables.ip",
        ));
    }
    let cfg = app.zones.host.config(zone).await.map_err(ApiError::host)?;
    let boot_volume = cfg
        .as_ref()
        .and_then(|c| c.attr("bootdisk"))
        .and_then(|b| b.split(',').next())
        .and_then(|b| b.parse::<DatasetName>().ok());
    let _ = ensure_agent_key(app).await;
    let variables = variables_for(
        app,
        zone.as_str(),
        &settings,
        recipe.as_ref(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    Ok(StageParams {
        zone: zone.clone(),
        settings,
        dataset: Some(dataset),
        boot_volume,
        recipe,
        variables,
        provisioners_in_secrets: false,
    })
}

fn is_active(s: Option<TaskStatus>) -> bool {
    s.is_some_and(|s| !s.is_terminal())
}

/// Run the provisioning pipeline: extract, boot, setup, wait for SSH, sync, provision, each a
/// task chained by `depends_on` under one group task.
#[utoipa::path(post, path = "/zones/{name}/provision", tag = "provisioning", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 202, body = PipelineAccepted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn provision_zone(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<PipelineAccepted>), ApiError> {
    let zone = path_zone(&name)?;
    let params = stage_params(&app, &zone).await?;
    let z = zone.to_string();
    let stored = app.db.read(move |c| store::zone_secrets(c, &z)).await?;
    let creds = &params.settings.credentials;
    let mut secrets = serde_json::Map::new();
    if creds.password_set {
        if let Some(p) = stored.get("password") {
            secrets.insert("password".into(), p.clone().into());
        }
    }
    if creds.ssh_private_key_set {
        if let Some(k) = stored.get("ssh_private_key") {
            secrets.insert("ssh_private_key".into(), k.clone().into());
        }
    }
    let net = &app.network.settings.provisioning;
    let (setup_task, restart) = if net.enabled {
        let status = crate::network::provisioning::read_status(&app.network).await?;
        let setup = if status.configured {
            None
        } else {
            let (t, _) =
                crate::network::provisioning::queue_setup(&app, &caller.name, None).await?;
            Some(t.id)
        };
        // A running zone picks a new NIC up only when it boots again.
        let cfg = app.zones.host.config(&zone).await.map_err(ApiError::host)?;
        let has_nic = cfg
            .as_ref()
            .is_some_and(|c| super::nic::find(c, net).is_some());
        let running = app
            .zones
            .host
            .zone(zone.as_str())
            .await
            .map_err(ApiError::host)?
            .is_some_and(|z| z.state.is_booted());
        (setup, running && !has_nic)
    } else {
        (None, false)
    };
    let plan = super::plan::plan(super::plan::Facts {
        zone: &zone,
        caller: &caller.name,
        params: &params,
        secrets,
        after: setup_task.clone(),
        restart,
        network_enabled: net.enabled,
    })
    .map_err(ApiError::internal)?;
    let ids = plan.stage_ids();
    let group = plan.group.clone();
    let (z, g, stages) = (zone.to_string(), group.clone(), plan.stages);
    let made = app
        .tasks
        .enqueue_with(plan.tasks, move |tx| {
            // Checked in the same transaction as the insert: two requests cannot both win.
            if let Some(run) = store::run(tx, &z)? {
                if is_active(crate::tasks::store::status_of(tx, &run.group_task_id)?) {
                    return Err(DbError::Conflict(format!(
                        "zone {z} is being provisioned (task {})",
                        run.group_task_id
                    )));
                }
            }
            store::start_run(tx, &z, &g, &stages)
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PipelineAccepted {
            success: true,
            task_id: group,
            zone_name: zone.to_string(),
            operation: stages::PIPELINE.into(),
            status: made[0].status,
            message: "Provisioning pipeline started".into(),
            pipeline_tasks: ids,
            network_setup_task_id: setup_task,
        }),
    ))
}

/// Where the zone's latest pipeline is.
#[utoipa::path(get, path = "/zones/{name}/provision/status", tag = "provisioning", params(("name" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = ProvisionStatus), (status = 404, body = ErrorBody)))]
async fn provision_status(
    _: Viewer,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ProvisionStatus>, ApiError> {
    let zone = path_zone(&name)?;
    let z = zone.to_string();
    let (run, zone_rec) = app
        .db
        .read(move |c| Ok((store::run(c, &z)?, crate::zones::store::get(c, &z)?)))
        .await?;
    let Some(run) = run else {
        if zone_rec.is_none()
            && app
                .zones
                .host
                .zone(zone.as_str())
                .await
                .map_err(ApiError::host)?
                .is_none()
        {
            return Err(ApiError::not_found(format!("Zone {name} not found")));
        }
        return Ok(Json(ProvisionStatus {
            success: true,
            zone_name: zone.to_string(),
            status: "not_provisioned".into(),
            current_stage: None,
            progress: BTreeMap::new(),
            task_id: None,
            last_provisioned_at: None,
        }));
    };
    let ids: Vec<String> = std::iter::once(run.group_task_id.clone())
        .chain(run.stages.iter().map(|s| s.1.clone()))
        .collect();
    let tasks = app
        .db
        .read(move |c| {
            ids.iter()
                .map(|id| crate::tasks::store::get(c, id))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let group = tasks[0].as_ref();
    let mut progress = BTreeMap::new();
    let mut current = None;
    for ((stage, _), t) in run.stages.iter().zip(&tasks[1..]) {
        let s = match t.as_ref().map(|t| t.status) {
            Some(TaskStatus::Pending) | None => "pending",
            Some(TaskStatus::Running) => "in_progress",
            Some(TaskStatus::Completed) => "completed",
            Some(TaskStatus::Failed) => "failed",
            Some(TaskStatus::Cancelled) => "cancelled",
        };
        if current.is_none() && matches!(s, "in_progress") {
            current = t.as_ref().map(|t| t.operation.clone());
        }
        progress.insert(stage.clone(), s.to_owned());
    }
    let status = match group.map(|g| g.status) {
        Some(TaskStatus::Pending | TaskStatus::Running) => "provisioning",
        Some(TaskStatus::Completed) => "provisioned",
        Some(TaskStatus::Failed) => "failed",
        Some(TaskStatus::Cancelled) => "cancelled",
        None => "unknown",
    };
    if current.is_none() && status == "provisioning" {
        current = run
            .stages
            .iter()
            .zip(&tasks[1..])
            .find(|(_, t)| t.as_ref().is_some_and(|t| t.status == TaskStatus::Pending))
            .and_then(|(_, t)| t.as_ref().map(|t| t.operation.clone()));
    }
    Ok(Json(ProvisionStatus {
        success: true,
        zone_name: zone.to_string(),
        status: status.into(),
        current_stage: current,
        progress,
        task_id: Some(run.group_task_id),
        last_provisioned_at: run.last_provisioned_at,
    }))
}

/// Cancel the zone's running pipeline: pending stages are cancelled, the running stage's
/// processes (console session, ssh, rsync, ansible) are stopped.
#[utoipa::path(post, path = "/zones/{name}/provision/cancel", tag = "provisioning", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, description = "Cancelling"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn provision_cancel(
    _: Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let zone = path_zone(&name)?;
    let z = zone.to_string();
    let run = app
        .db
        .read(move |c| store::run(c, &z))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Zone {name} has no provisioning pipeline")))?;
    let outcome = app
        .tasks
        .cancel(&run.group_task_id, "provisioning cancelled by request")
        .await?;
    use crate::tasks::CancelOutcome::*;
    match outcome {
        NotFound | AlreadyFinished(_) => Err(ApiError::conflict(format!(
            "zone {name}'s pipeline has already ended"
        ))),
        Cancelled(t) | Cancelling(t) => Ok(Json(json!({
            "success": true,
            "zone_name": name,
            "task_id": run.group_task_id,
            "status": t.status,
            "message": "Provisioning pipeline cancelled",
        }))),
    }
}

/// Roll the zone back to `@pre-provision`: halts it, then rolls the provisioning dataset and
/// the boot volume back (a task; its result says what was rolled back).
#[utoipa::path(post, path = "/zones/{name}/provision/rollback", tag = "provisioning", params(("name" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 202, description = "Rollback queued"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn provision_rollback(
    Auth(caller): Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let zone = path_zone(&name)?;
    app.zones.on_host(&zone).await?;
    let z = zone.to_string();
    let run = app.db.read(move |c| store::run(c, &z)).await?;
    if let Some(r) = &run {
        let g = r.group_task_id.clone();
        let st = app
            .db
            .read(move |c| crate::tasks::store::status_of(c, &g))
            .await?;
        if is_active(st) {
            return Err(ApiError::conflict(format!(
                "zone {zone} is being provisioned; cancel the pipeline first"
            )));
        }
    }
    let (settings, root) = zone_settings(&app, &zone).await?.unwrap_or_default();
    // A zone whose datasets the agent did not make has no provisioning dataset to name.
    let dataset: Option<DatasetName> = format!("{root}/provisioning").parse().ok();
    let cfg = app.zones.host.config(&zone).await.map_err(ApiError::host)?;
    let boot_volume = cfg
        .as_ref()
        .and_then(|c| c.attr("bootdisk"))
        .and_then(|b| b.split(',').next())
        .and_then(|b| b.parse::<DatasetName>().ok());
    let mut any = false;
    for d in dataset.iter().chain(boot_volume.iter()) {
        if let Ok(s) = d.snapshot(stages::PRE) {
            any |= illumos::zfs::snapshot_exists(&app.runner, &s).await?;
        }
    }
    if !any {
        return Err(ApiError::conflict(format!(
            "zone {zone} has no @{} snapshot to roll back to",
            stages::PRE
        )));
    }
    let params = StageParams {
        zone: zone.clone(),
        settings,
        dataset,
        boot_volume,
        recipe: None,
        variables: BTreeMap::new(),
        provisioners_in_secrets: false,
    };
    let halt = uuid::Uuid::new_v4().to_string();
    let made = app
        .tasks
        .enqueue_with(
            vec![
                NewTask::for_zone("zone_halt", zone.as_str())
                    .with_id(halt.clone())
                    .created_by(Some(caller.name.clone())),
                NewTask::for_zone(stages::ROLLBACK, zone.as_str())
                    .depends_on(Some(halt.clone()))
                    .metadata(params.metadata().map_err(ApiError::internal)?)
                    .created_by(Some(caller.name)),
            ],
            |_| Ok(()),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "success": true,
            "task_id": made[1].id,
            "halt_task_id": halt,
            "zone_name": zone.as_str(),
            "operation": stages::ROLLBACK,
            "status": made[1].status,
            "message": "Rollback to @pre-provision queued (the zone is halted first)",
        })),
    ))
}
