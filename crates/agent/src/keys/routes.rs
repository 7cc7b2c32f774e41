//! `/api-keys`: admins create, list and revoke keys over the API.

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, ApiKey};
use super::Role;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::AppState;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A label for people: 1 to 64 letters, digits, spaces, `-`, `_`, `.`, `@`.
    name: String,
    /// Default `viewer`.
    role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub success: bool,
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret token. Shown this once; only its hash is stored.
    pub api_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<ApiKey>,
}

pub fn validate_key_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.trim().is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "name",
            "name must be 1 to 64 letters, digits, spaces, '-', '_', '.' or '@'",
        ))
    }
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/api-keys", tag = "keys", security(("api_key" = ["admin"])),
    responses((status = 200, body = KeyList), (status = 403, body = ErrorBody)))]
async fn list_keys(_: Admin, State(app): State<AppState>) -> Result<Json<KeyList>, ApiError> {
    let keys = app.db.read(store::list).await?;
    Ok(Json(KeyList { keys }))
}

/// Create an API key; the answer carries its token, shown only this once.
#[utoipa::path(post, path = "/api-keys", tag = "keys", request_body = CreateKeyRequest,
    security(("api_key" = ["admin"])),
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody)))]
async fn create_key(
    Auth(caller): Admin,
    State(app): State<AppState>,
    ApiJson(req): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    validate_key_name(&req.name)?;
    let role = req.role.unwrap_or(Role::Viewer);
    let (key, token) = app
        .db
        .write(move |c| store::create(c, &req.name, role, Some(&caller.name)))
        .await?;
    tracing::info!(key_id = %key.id, name = %key.name, role = %key.role, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            success: true,
            key,
            api_key: token,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKey {
    pub success: bool,
    pub key: ApiKey,
}

/// Revoke an API key: it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "keys", params(("id" = String, Path)),
    security(("api_key" = ["admin"])),
    responses((status = 200, body = RevokedKey), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    _: Admin,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RevokedKey>, ApiError> {
    let kid = id.clone();
    let state = app.clone();
    let key = app
        .db
        .write(move |c| {
            if !store::revoke(c, &kid)? {
                return Ok(None);
            }
            // Here, right after the commit, and not after the await: the write finishes even
            // if this request is dropped meanwhile (a timeout, a client gone), and so must
            // the forgetting, or the key would keep working from memory.
            state.verified_keys.forget(&kid);
            state.revocations.revoked(&kid);
            store::get(c, &kid)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no API key {id}")))?;
    tracing::info!(key_id = %key.id, name = %key.name, "API key revoked");
    Ok(Json(RevokedKey { success: true, key }))
}
