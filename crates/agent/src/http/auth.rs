//! Authentication and roles, as extractors: a handler that takes `Operator` cannot run for a
//! viewer, and the 401/403 happens before any work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::error::ApiError;
use super::AppState;
use crate::keys::store::Caller;
use crate::keys::verified::Lookup;
use crate::keys::{hash_token, looks_like_token, Role};

/// The caller, authenticated, with at least role `R` (0 viewer, 1 operator, 2 admin).
pub struct Auth<const R: u8>(pub Caller);

pub type Viewer = Auth<0>;
pub type Operator = Auth<1>;
pub type Admin = Auth<2>;

const fn role_of(level: u8) -> Role {
    match level {
        0 => Role::Viewer,
        1 => Role::Operator,
        _ => Role::Admin,
    }
}

/// Paths anyone may call without a key: liveness and the API's documents.
pub fn is_open(path: &str) -> bool {
    matches!(path, "/health" | "/openapi.json" | "/api-docs") || path.starts_with("/api-docs/")
}

/// The token from `Authorization: Bearer hw_...` or `X-API-Key: hw_...`.
fn token(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, rest) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl<const R: u8> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The request layer authenticated the headers already (before reading any body).
        let caller = match parts.extensions.get::<Caller>() {
            Some(caller) => caller.clone(),
            None => authenticate(state, &parts.headers)?,
        };
        let needed = role_of(R);
        if caller.role < needed {
            return Err(ApiError::forbidden(format!(
                "this action needs the {needed} role; the key {:?} has {}",
                caller.name, caller.role
            )));
        }
        state.key_usage.touch(state, &caller.key_id);
        Ok(Auth(caller))
    }
}

/// The caller a request's headers name: a known, unrevoked key, or a 401.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = token(headers).ok_or_else(|| {
        ApiError::unauthorized("an API key is required: Authorization: Bearer hw_...")
    })?;
    if !looks_like_token(token) {
        return Err(ApiError::unauthorized("invalid API key"));
    }
    let hash = hash_token(token);
    match state.verified_keys.lookup(&hash) {
        Lookup::Known(caller) => Ok(caller),
        Lookup::Unknown(since) => {
            let caller = state
                .db
                .verify_key(&hash)?
                .ok_or_else(|| ApiError::unauthorized("invalid or revoked API key"))?;
            state.verified_keys.remember(hash, caller.clone(), since);
            Ok(caller)
        }
    }
}

/// Records a key's last use at most once a minute, off the request path.
#[derive(Default)]
pub struct KeyUsage(Mutex<HashMap<String, Instant>>);

impl KeyUsage {
    fn touch(&self, state: &AppState, key_id: &str) {
        const EVERY: Duration = Duration::from_secs(60);
        {
            let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
            match seen.get(key_id) {
                Some(t) if t.elapsed() < EVERY => return,
                _ => {
                    seen.insert(key_id.to_owned(), Instant::now());
                }
            }
        }
        let db = state.db.clone();
        let id = key_id.to_owned();
        tokio::spawn(async move {
            if let Err(e) = db.write(move |c| crate::keys::store::touch(c, &id)).await {
                tracing::warn!(error = %e, "cannot record API key use");
            }
        });
    }
}
