//! How the OpenAPI document is made (tests only: the agent serves the committed copy, see the
//! parent module). The frame: info, the API-key scheme, tags. Paths and schemas come from
//! the routes' own lists (`http::api`), so a route cannot exist without its documentation.
//!
//! Each operation's `security` names the role it needs as the scope of `api_key`
//! (`viewer`, `operator`, `admin`); an empty requirement means no key is needed. The access
//! tests walk the document and hold the server to it.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

/// The whole OpenAPI document, made now from every area's annotations.
pub fn document() -> utoipa::openapi::OpenApi {
    let api = crate::http::areas().iter().fold(
        OpenApiRouter::<AppState>::with_openapi(base()),
        |api, (_, area)| api.merge(area.document()),
    );
    let (_, mut doc) = api.split_for_parts();
    finish(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zoneweaver Agent",
        description = "Host agent for bhyve zones on OmniOS: zones, the host's virtual network and zone provisioning over one HTTPS API. Every change is an asynchronous task (see /tasks). Authenticate with `Authorization: Bearer hw_...` (or `X-API-Key`).",
    ),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "tasks", description = "The durable task queue behind every change"),
        (name = "keys", description = "API keys (admins)"),
        (name = "system", description = "Health and metrics"),
        (name = "monitoring", description = "Host figures sampled on an interval, and the host's listings"),
    )
)]
struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("hw_<64 hex digits>")
                    .description(Some(
                        "An API key; the scope names the least role the operation needs",
                    ))
                    .build(),
            ),
        );
    }
}

fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Adds the answers every operation can give whatever its handler does, where the handler's
/// own annotation does not list them: 400 (a path or query parameter, or the body, that does
/// not parse), 401 and 403 on operations that need a key (no key or a revoked one; a role
/// below the operation's scope), and 413 on operations with a body (over
/// `server.max_body_bytes`). All carry the one error body.
fn finish(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            add_common_responses(op);
        }
    }
}

fn add_common_responses(op: &mut Operation) {
    let needs_key = op.security.iter().flatten().any(|req| {
        serde_json::to_value(req).is_ok_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
    });
    let has_body = op.request_body.is_some();
    let common = [
        (
            true,
            "400",
            "The request is malformed: a parameter or the body does not parse",
        ),
        (
            needs_key,
            "401",
            "No API key, or one that is unknown or revoked",
        ),
        (
            needs_key,
            "403",
            "The key's role is below the one the operation needs",
        ),
        (
            has_body,
            "413",
            "The body is larger than server.max_body_bytes",
        ),
    ];
    for (applies, status, description) in common {
        if applies {
            op.responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| error_response(description));
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}
