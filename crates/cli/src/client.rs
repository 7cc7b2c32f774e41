//! The agent's API over HTTPS with a pinned certificate: requests in, the answer's status and
//! exact text out (so `--json` can print it unchanged), API errors as [`ApiError`].

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};

use crate::config::Target;
use crate::tls::{display_fingerprint, PinVerifier, PinnedTls};

/// An answer the agent gave with an error status: `{"error", "code", "field"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub code: Option<String>,
    pub field: Option<String>,
    /// The answer's text, unchanged (printed by `--json`).
    pub body: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field: {field})")?;
        }
        write!(f, " [HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", {code}")?;
        }
        write!(f, "]")
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn of(status: u16, body: String, raw: bool) -> ApiError {
        let mut e = ApiError::parse(status, body);
        if !raw {
            for s in [Some(&mut e.message), e.code.as_mut(), e.field.as_mut()]
                .into_iter()
                .flatten()
            {
                *s = crate::output::for_terminal(s).into_owned();
            }
            e.body = crate::output::json_for_terminal(&e.body).into_owned();
        }
        e
    }

    fn parse(status: u16, body: String) -> ApiError {
        let json: Option<Value> = serde_json::from_str(&body).ok();
        let text = |k: &str| {
            json.as_ref()
                .and_then(|j| j.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let message = text("error").unwrap_or_else(|| {
            let b = body.trim();
            if b.is_empty() {
                format!("the agent answered HTTP {status}")
            } else {
                b.chars().take(500).collect()
            }
        });
        ApiError {
            status,
            message,
            code: text("code"),
            field: text("field"),
            body,
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The body exactly as received.
    pub text: String,
    /// The body parsed (Null when it is not JSON).
    pub json: Value,
}

impl Reply {
    /// A `202` that queued work and names its task.
    pub fn task_id(&self) -> Option<&str> {
        (self.status == 202)
            .then(|| self.json.get("task_id").and_then(Value::as_str))
            .flatten()
    }
}

pub enum Body {
    None,
    Json(Value),
    /// A streamed body with its length and content type.
    Stream {
        reader: Box<dyn Read + Send>,
        len: u64,
        content_type: String,
    },
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    key: Option<String>,
    verifier: Arc<PinVerifier>,
    /// How the host is named in messages (`host "lab" (https://...)`).
    label: String,
    /// Keep the agent's text as received (`--raw`): else terminal control characters in it
    /// are turned into visible escapes on receipt, so nothing downstream can print them.
    raw: bool,
}

impl Client {
    /// A client of `target`. An `https` URL needs a pinned fingerprint unless `probe` (login
    /// only: the certificate is recorded, not checked, and nothing secret is sent).
    pub fn new(target: &Target, probe: bool) -> Result<Client> {
        if target.url.starts_with("https://") && target.fingerprint.is_none() && !probe {
            bail!(
                "no certificate is pinned for {}: run `zw login {}` (or set ZW_FINGERPRINT)",
                target.url,
                target.url
            );
        }
        let verifier = PinVerifier::new(if probe {
            None
        } else {
            target.fingerprint.clone()
        });
        let connector = ().chain(TcpConnector::default()).chain(PinnedTls {
            config: verifier.client_config(),
        });
        // No overall timeout: event streams and uploads last as long as they last. The longest
        // wait for an answer is `/tasks/{id}/wait` (at most 300 s).
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(330)))
            .user_agent(concat!("zw/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
        let label = match &target.name {
            Some(n) => format!("host {n:?} ({})", target.url),
            None => target.url.clone(),
        };
        Ok(Client {
            agent,
            base: target.url.clone(),
            key: target.api_key.clone(),
            verifier,
            label,
            raw: false,
        })
    }

    /// A client that keeps the agent's text as received (`--raw`).
    pub fn with_raw(mut self, raw: bool) -> Client {
        self.raw = raw;
        self
    }

    /// Makes a value parsed from the agent's text safe to print, unless `--raw`.
    pub fn clean(&self, v: &mut Value) {
        if !self.raw {
            crate::output::clean_value(v);
        }
    }

    /// The fingerprint of the certificate the last connection presented.
    pub fn seen_fingerprint(&self) -> Option<String> {
        self.verifier.seen()
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Body,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Accept", "application/json");
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let result = match body {
            Body::None => self.agent.run(req.body(())?),
            Body::Json(v) => self.agent.run(
                req.header("Content-Type", "application/json")
                    .body(v.to_string())?,
            ),
            Body::Stream {
                reader,
                len,
                content_type,
            } => self.agent.run(
                req.header("Content-Type", content_type)
                    .header("Content-Length", len.to_string())
                    .body(ureq::SendBody::from_owned_reader(reader))?,
            ),
        };
        result.map_err(|e| self.transport_error(method, &url, e))
    }

    fn transport_error(&self, method: &str, url: &str, e: ureq::Error) -> anyhow::Error {
        if let Some(seen) = self.verifier.mismatch() {
            return anyhow!(
                "refusing to talk to {}: its certificate has changed.\n  \
                 pinned:    SHA-256 {}\n  presented: SHA-256 {}\n\
                 If the agent's certificate was replaced on purpose, check the new fingerprint \
                 on the agent's host and run `zw login {}` again; otherwise someone may be \
                 intercepting the connection.",
                self.label,
                display_fingerprint(self.verifier.pin().unwrap_or_default()),
                display_fingerprint(&seen),
                self.base
            );
        }
        anyhow!("{method} {url}: {e}")
    }

    /// Sends a request; an error status becomes an [`ApiError`].
    pub fn call(&self, method: &str, path: &str, body: Body) -> Result<Reply> {
        let mut resp = self.send(method, path, body)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        if status >= 400 {
            return Err(ApiError::of(status, text, self.raw).into());
        }
        let mut json = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.clean(&mut json);
        let text = if self.raw {
            text
        } else {
            crate::output::json_for_terminal(&text).into_owned()
        };
        Ok(Reply { status, text, json })
    }

    pub fn get(&self, path: &str) -> Result<Reply> {
        self.call("GET", path, Body::None)
    }

    /// Opens a Server-Sent Events stream.
    pub fn stream(&self, path: &str) -> Result<Box<dyn BufRead + Send>> {
        let resp = self.send("GET", path, Body::None)?;
        let status = resp.status().as_u16();
        if status >= 400 {
            let mut resp = resp;
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(ApiError::of(status, text, self.raw).into());
        }
        Ok(Box::new(BufReader::new(resp.into_body().into_reader())))
    }
}

/// Percent-encodes a path segment or query value (unreserved characters kept).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?a=1&b=2` from the pairs whose value is present (empty when none is).
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_message_field_and_body() {
        let body =
            r#"{"success":false,"error":"ram must be ...","code":"invalid-request","field":"ram"}"#;
        let e = ApiError::of(400, body.into(), true);
        assert_eq!(e.field.as_deref(), Some("ram"));
        assert_eq!(e.body, body);
        assert_eq!(
            e.to_string(),
            "ram must be ... (field: ram) [HTTP 400, invalid-request]"
        );
        let e = ApiError::of(502, "Bad Gateway".into(), true);
        assert_eq!(e.message, "Bad Gateway");
    }

    #[test]
    fn an_error_cannot_drive_the_terminal_unless_raw() {
        let body = r#"{"error":"no zone \u001b]0;owned\u0007x","field":"na\u009bme","code":"e"}"#;
        let e = ApiError::of(404, body.into(), false);
        assert_eq!(e.message, "no zone ^[]0;owned^Gx");
        assert_eq!(e.field.as_deref(), Some("na\\u{9b}me"));
        let raw = ApiError::of(404, body.into(), true);
        assert_eq!(raw.message, "no zone \u{1b}]0;owned\u{7}x");
        let text = ApiError::of(500, "boom\x1b[2J".into(), false);
        assert_eq!(text.message, "boom^[[2J");
        assert_eq!(text.body, "boom\\u001b[2J");
    }

    #[test]
    fn queries_skip_absent_values_and_encode() {
        assert_eq!(
            query(&[
                ("a", Some("x y".into())),
                ("b", None),
                ("c", Some("1".into()))
            ]),
            "?a=x%20y&c=1"
        );
        assert_eq!(query(&[("b", None)]), "");
    }
}
