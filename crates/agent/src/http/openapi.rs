//! The OpenAPI document the agent serves (`GET /openapi.json`) and prints
//! (`zoneweaver-agent openapi`): `crates/agent/openapi.json`, committed, made from the handlers'
//! annotations by [`make`] and held equal to them by a unit test.
//!
//! The agent no longer makes the document itself: the code that builds it (every operation's
//! parameters, bodies, answers and schemas, monomorphized per type) was 2.1 MB of the
//! executable's 11.4 MB of code, and on Linux the pages of code the kernel maps at start follow
//! the size of the code, not what runs (README, Benchmarks), so that code, run by a page most
//! agents never serve, cost its size in every agent's idle resident memory.
//!
//! After a change to an annotation (or to the version), write the file again with
//! `ZW_WRITE_OPENAPI=1 cargo test -p zoneweaver-agent --lib openapi::` (the test that compares
//! it fails until then, naming this command).

#[cfg(test)]
pub mod make;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document as `zoneweaver-agent openapi` prints it: indented JSON and a newline.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`: the document without its indentation, as `serde_json::to_vec` wrote it
/// when the agent made the document itself (the same bytes), made at the first request.
pub async fn serve() -> Response {
    static COMPACT: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    let body = COMPACT.get_or_init(|| compact(DOCUMENT).into()).clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The JSON text without the blanks between its tokens (those inside strings kept).
fn compact(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is the one the annotations make, byte for byte in both forms:
    /// a handler's change shows in the served document (clients, schemathesis, and the access
    /// and injection tests walk it), and the answer is the one the agent served when it made
    /// the document itself.
    #[test]
    fn the_committed_document_is_the_one_the_annotations_make() {
        let doc = make::document();
        let pretty = format!(
            "{}\n",
            doc.to_pretty_json().expect("the document serializes")
        );
        if std::env::var("ZW_WRITE_OPENAPI").as_deref() == Ok("1") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, &pretty).expect("write openapi.json");
            // This build holds the old file (it is compiled in): the next run checks the new one.
            eprintln!("wrote {path}; run the test again (without ZW_WRITE_OPENAPI) to check it");
            return;
        }
        assert!(
            DOCUMENT == pretty,
            "crates/agent/openapi.json is not the document the annotations make: write it \
             again with `ZW_WRITE_OPENAPI=1 cargo test -p zoneweaver-agent --lib openapi::` \
             (and rebuild: it is compiled in)"
        );
        let served = serde_json::to_vec(&doc).expect("the document serializes");
        assert!(
            compact(DOCUMENT) == served,
            "the compacted document differs"
        );
    }

    #[test]
    fn compacting_keeps_blanks_and_escapes_inside_strings() {
        let json = "{\n  \"a b\": [\n    \"x \\\" \\\\\",\n    1\n  ],\n  \"c\": {}\n}\n";
        assert_eq!(
            String::from_utf8(compact(json)).unwrap(),
            r#"{"a b":["x \" \\",1],"c":{}}"#
        );
    }
}
