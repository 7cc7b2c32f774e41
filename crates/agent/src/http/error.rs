//! The one error type of the API: the only place that picks a status and a `code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::error::{FieldError, HostFailure};

/// Every error answer: `{"success": false, "error": ..., "message": ..., "code": ...,
/// "field": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always false.
    pub success: bool,
    /// What went wrong, for a person.
    pub error: String,
    /// The same text as `error`: the Zoneweaver UI's backend (as the original agent's clients)
    /// reads `message`.
    pub message: String,
    /// What went wrong, for a program (kebab-case).
    pub code: String,
    /// The request field at fault, when there is one (a dotted path such as `boot_volume.size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// The full cause of an internal error: logged once, never sent.
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            internal: None,
        }
    }

    /// A 400 naming the request field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid-request", message);
        e.field = Some(field.into());
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A host tool failed: 502, with the tool's words. The one mapping of host failures, for
    /// every area.
    pub fn host(cause: impl Into<HostFailure>) -> Self {
        let cause: HostFailure = cause.into();
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "host-command-failed",
            format!("the host did not answer: {cause}"),
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "internal error; see the agent's log",
        );
        e.internal = Some(cause.to_string());
        e
    }
}

impl From<HostFailure> for ApiError {
    fn from(e: HostFailure) -> Self {
        ApiError::host(e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid(e.field, e.message)
    }
}

/// A handler that shares a task's host code answers its failure as the task would read it:
/// a host failure is the 502, a refused value the 400 naming its field.
impl From<crate::tasks::OpError> for ApiError {
    fn from(e: crate::tasks::OpError) -> Self {
        use crate::tasks::OpError;
        match e {
            OpError::Host(h) => ApiError::host(h),
            OpError::Invalid(f) => f.into(),
            OpError::Db(d) => d.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict(m) => ApiError::conflict(m),
            DbError::Precondition(m) => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", m)
            }
            other => ApiError::internal(other),
        }
    }
}

/// Carried in the response's extensions so the logging middleware can record the cause of an
/// internal error inside the request's span, once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            error: self.message.clone(),
            message: self.message,
            code: self.code.to_owned(),
            field: self.field,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

/// The largest plain-text error body taken over into the JSON shape (axum's own rejections are
/// one line).
const FOREIGN_BODY_MAX: usize = 4096;

/// Gives an error answer that did not come from [`ApiError`] the API's shape: axum's own
/// rejections (405 on a known path, a path parameter that is not valid percent-encoding, a
/// WebSocket upgrade refused) are plain text or empty, and the Zoneweaver UI's backend keeps
/// only the body's `message`. Success answers and JSON bodies pass untouched.
pub async fn ensure_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, FOREIGN_BODY_MAX)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_owned()
        });
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        s if s.is_server_error() => "internal-error",
        _ => "invalid-request",
    };
    let mut shaped = ApiError::new(status, code, text).into_response();
    // Keep what the answer said besides its body (Allow on a 405, Connection: close, ...).
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped.extensions_mut().extend(parts.extensions);
    shaped
}
