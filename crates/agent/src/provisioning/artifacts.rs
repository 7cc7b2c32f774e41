//! `/artifacts`: provisioning archives (tar or tar.gz), uploaded as multipart and streamed to
//! disk under the artifacts directory, named by their id (the client's file name is only
//! shown), with a size limit and a SHA-256 the client may ask to be checked.

use std::path::PathBuf;

use crate::http::api::routes;
use crate::http::api::ApiRouter;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::settings::is_uuid;
use super::store::{self, Artifact};
use crate::http::auth::{Auth, Operator, Viewer};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;

pub fn router() -> ApiRouter {
    // The upload streams to disk and enforces `provisioning.max_artifact_bytes` itself, so the
    // general body limit does not apply to it (and only to it).
    let upload = ApiRouter::new()
        .routes(routes!(upload_artifact))
        .layer(DefaultBodyLimit::disable());
    ApiRouter::new()
        .routes(routes!(list_artifacts))
        .routes(routes!(get_artifact, delete_artifact))
        .merge(upload)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<Artifact>,
    pub total: usize,
}

/// The multipart form of an upload (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ArtifactUpload {
    /// The archive: tar or tar.gz.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Optional hex SHA-256 the upload must match.
    sha256: Option<String>,
}

/// A client's file name as shown: its last component, printable, at most 255 bytes.
fn display_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    let mut name = base.trim().to_owned();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() || name == "." || name == ".." {
        "artifact".into()
    } else {
        name
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a partial upload when the request ends early.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        format!("the artifact is larger than {limit} bytes (provisioning.max_artifact_bytes)"),
    )
}

/// Upload an artifact (multipart: `file`, optional `sha256`). Streamed to disk; answers its
/// id, size and SHA-256.
#[utoipa::path(post, path = "/artifacts", tag = "provisioning",
    request_body(content = ArtifactUpload, content_type = "multipart/form-data"),
    security(("api_key" = ["operator"])),
    responses((status = 201, body = Artifact), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn upload_artifact(
    Auth(caller): Operator,
    State(app): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Artifact>), ApiError> {
    // axum's own rejection (no multipart content type or boundary) is plain text; ours is JSON.
    let mut form = form
        .map_err(|e| ApiError::bad_request(format!("invalid multipart body: {}", e.body_text())))?;
    let limit = app.config.provisioning.max_artifact_bytes;
    let dir = app.config.artifacts_dir();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    let id = uuid::Uuid::new_v4().to_string();
    let tmp = dir.join(format!(".upload-{id}"));
    let mut partial = Partial(None);
    let mut want_sha: Option<String> = None;
    let mut got: Option<(String, u64, String)> = None;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit)
        } else {
            ApiError::bad_request(format!("invalid multipart body: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("file") => {
                if got.is_some() {
                    return Err(ApiError::invalid("file", "only one file per upload"));
                }
                let filename = display_name(field.file_name());
                let mut out = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(ApiError::internal)?;
                partial.0 = Some(tmp.clone());
                let mut hasher = Sha256::new();
                let mut size: u64 = 0;
                let mut head: Vec<u8> = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(too_large(limit));
                    }
                    if head.len() < 512 {
                        head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk).await.map_err(ApiError::internal)?;
                }
                out.sync_all().await.map_err(ApiError::internal)?;
                let gzip = head.starts_with(&[0x1f, 0x8b]);
                let tar = head.len() >= 263 && &head[257..262] == b"ustar";
                if !gzip && !tar {
                    return Err(ApiError::invalid(
                        "file",
                        "the artifact must be a tar archive, optionally gzip-compressed",
                    ));
                }
                got = Some((filename, size, hex(&hasher.finalize())));
            }
            Some("sha256") => {
                let text = field.text().await.map_err(bad_form)?;
                let t = text.trim().to_ascii_lowercase();
                if t.len() != 64 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ApiError::invalid("sha256", "sha256 must be 64 hex digits"));
                }
                want_sha = Some(t);
            }
            Some(other) => {
                return Err(ApiError::invalid(
                    other.to_owned(),
                    format!("unknown form field {other:?} (expected file and sha256)"),
                ))
            }
            None => return Err(ApiError::bad_request("a form field without a name")),
        }
    }
    let (filename, size, sha256) =
        got.ok_or_else(|| ApiError::invalid("file", "the form has no file field"))?;
    if let Some(w) = want_sha {
        if w != sha256 {
            return Err(ApiError::invalid(
                "sha256",
                format!("checksum mismatch: the upload's SHA-256 is {sha256}"),
            ));
        }
    }
    let path = dir.join(&id);
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(ApiError::internal)?;
    partial.0 = Some(path);
    let artifact = Artifact {
        id: id.clone(),
        filename,
        size: size as i64,
        sha256,
        created_by: Some(caller.name),
        created_at: crate::time::now_rfc3339(),
    };
    let a = artifact.clone();
    app.db.write(move |c| store::insert_artifact(c, &a)).await?;
    partial.0 = None;
    Ok((StatusCode::CREATED, Json(artifact)))
}

/// Every uploaded artifact.
#[utoipa::path(get, path = "/artifacts", tag = "provisioning",
    security(("api_key" = ["viewer"])), responses((status = 200, body = ArtifactList)))]
async fn list_artifacts(
    _: Viewer,
    State(app): State<AppState>,
) -> Result<Json<ArtifactList>, ApiError> {
    let artifacts = app.db.read(store::artifacts).await?;
    Ok(Json(ArtifactList {
        total: artifacts.len(),
        artifacts,
    }))
}

fn artifact_id(id: &str) -> Result<String, ApiError> {
    if is_uuid(id) {
        Ok(id.to_owned())
    } else {
        Err(ApiError::invalid("id", "not an artifact id"))
    }
}

/// One artifact.
#[utoipa::path(get, path = "/artifacts/{id}", tag = "provisioning", params(("id" = String, Path)),
    security(("api_key" = ["viewer"])),
    responses((status = 200, body = Artifact), (status = 404, body = ErrorBody)))]
async fn get_artifact(
    _: Viewer,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Artifact>, ApiError> {
    let id = artifact_id(&id)?;
    let i = id.clone();
    app.db
        .read(move |c| store::artifact(c, &i))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Artifact {id} not found")))
}

/// Delete an artifact (its record and its file).
#[utoipa::path(delete, path = "/artifacts/{id}", tag = "provisioning", params(("id" = String, Path)),
    security(("api_key" = ["operator"])),
    responses((status = 200, description = "Deleted"), (status = 404, body = ErrorBody)))]
async fn delete_artifact(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = artifact_id(&id)?;
    let i = id.clone();
    if !app.db.write(move |c| store::delete_artifact(c, &i)).await? {
        return Err(ApiError::not_found(format!("Artifact {id} not found")));
    }
    match tokio::fs::remove_file(app.config.artifacts_dir().join(&id)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ApiError::internal(e)),
    }
    Ok(Json(
        json!({ "success": true, "id": id, "message": "Artifact deleted" }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_file_names_are_only_shown() {
        assert_eq!(display_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_name(Some("C:\\x\\a.tgz")), "a.tgz");
        assert_eq!(display_name(Some("..")), "artifact");
        assert_eq!(display_name(Some("a\nb.tgz")), "ab.tgz");
        assert_eq!(display_name(None), "artifact");
    }
}
