//! The OpenAPI document's frame: info, the API-key scheme, tags. Paths and schemas come from
//! the routes themselves (utoipa-axum), so a route cannot exist without its documentation.
//!
//! Each operation's `security` names the role it needs as the scope of `api_key`
//! (`viewer`, `operator`, `admin`); an empty requirement means no key is needed. The access
//! tests walk the document and hold the server to it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
