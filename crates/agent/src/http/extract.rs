//! Our own JSON and query extractors, so a malformed body or query gets the API's error shape
//! with the offending field named.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// JSON body; unknown fields are rejected by the types (`deny_unknown_fields`) and the error
/// names the field by its path.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse_json(&body_bytes(req, state).await?).map(ApiJson)
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        let status = e.status();
        let mut err = ApiError::bad_request(e.body_text());
        err.status = status;
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            err.code = "payload-too-large";
        }
        err
    })
}

/// A JSON body that may be absent: an empty body is `T::default()` (calls such as `POST
/// /zones/{name}/start` take no body, but the Zoneweaver UI may send `{"created_by": ...}`).
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        parse_json(&bytes).map(ApiJsonOrEmpty)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would also take a struct written as an array of its
    // fields in order (`[]` for one whose fields are all optional).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(field_error)?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    Ok(value)
}

fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::bad_request(format!("invalid JSON: {inner}"));
    }
    let message = inner.to_string();
    // "unknown field `x`, expected ..." names the field only inside the message.
    let field = match message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        Some(f) if path == "." => f.to_owned(),
        Some(f) if path == f || path.ends_with(&format!(".{f}")) => path,
        Some(f) => format!("{path}.{f}"),
        None if path == "." => message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .unwrap_or("body")
            .to_owned(),
        None => path,
    };
    // serde appends " at line 1 column 23", which says nothing to an API client.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    ApiError::invalid(field.clone(), format!("{field}: {message}"))
}

/// Query string, with the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let field = message
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next())
                    .map(str::to_owned)
                    .unwrap_or(path);
                ApiError::invalid(field.clone(), format!("query parameter {field}: {message}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct AllOptional {
        a: Option<String>,
    }

    #[test]
    fn a_body_must_be_an_object() {
        for body in ["[]", " [\"x\"]", "null", "1", "\"a\"", "", "  "] {
            let e = parse_json::<AllOptional>(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
        }
        assert!(parse_json::<AllOptional>(b" {}").is_ok());
    }
}
