//! Serialized list answers kept while nothing they were built from has changed: under a
//! polling dashboard the same page is asked for again and again, and building it (a database
//! read and a JSON encoding of many rows) costs more than sending it.
//!
//! An answer is filed under the database's write epoch read *before* its reads began, plus a
//! key naming everything else it depends on (filters, host listing versions). A write moves the
//! epoch, so an answer is never served once something it shows may have changed.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Answers kept at once (the unfiltered lists and a few filters).
const KEPT: usize = 16;

#[derive(Default)]
pub struct Pages {
    entries: Mutex<Vec<(u64, String, Bytes)>>,
}

impl Pages {
    pub fn get(&self, epoch: u64, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .find(|(e, k, _)| *e == epoch && k == key)
            .map(|(_, _, b)| b.clone())
    }

    /// Keeps `body`; answers of the same family (the key's first word, e.g. `zones`) filed
    /// under older epochs go, and the oldest when full. Families may count epochs apart (the
    /// whole database's, or one table's).
    pub fn put(&self, epoch: u64, key: String, body: Bytes) {
        let family = |k: &str| k.split(' ').next().unwrap_or("").to_owned();
        let mine = family(&key);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(e, k, _)| (*e >= epoch || family(k) != mine) && *k != key);
        if entries.len() >= KEPT {
            entries.remove(0);
        }
        entries.push((epoch, key, body));
    }
}

/// Whether the request's `Accept-Encoding` takes gzip (a `gzip` or `*` token not refused
/// with `q=0`).
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| {
            let mut parts = token.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The gzip form of a kept answer, made once per epoch and key: a big list (1,000 zones is
/// about 230 KiB of JSON) then costs a tenth of the bytes to encrypt and send on every request.
/// `None` if it cannot be made (writing to memory does not fail, but then the plain answer is
/// still right).
pub fn gzipped(pages: &Pages, epoch: u64, key: &str, body: &Bytes) -> Option<Bytes> {
    let gz_key = format!("{key} gzip");
    if let Some(b) = pages.get(epoch, &gz_key) {
        return Some(b);
    }
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    enc.write_all(body).ok()?;
    let gz = Bytes::from(enc.finish().ok()?);
    pages.put(epoch, gz_key, gz.clone());
    Some(gz)
}

/// A JSON answer from already serialized bytes, gzip-encoded when `gzip` (the body then must
/// be the gzip form); both say that the encoding depends on `Accept-Encoding`.
pub fn json_encoded(body: Bytes, gzip: bool) -> Response {
    let mut r = json(body);
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// A JSON answer from already serialized bytes.
pub fn json(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_served_only_for_its_epoch_and_key() {
        let p = Pages::default();
        p.put(3, "x a".into(), Bytes::from_static(b"A"));
        assert_eq!(p.get(3, "x a").as_deref(), Some(&b"A"[..]));
        assert!(p.get(4, "x a").is_none());
        assert!(p.get(3, "x b").is_none());
        // A newer epoch's answer evicts the older ones of its family.
        p.put(4, "x b".into(), Bytes::from_static(b"B"));
        assert!(p.get(3, "x a").is_none());
        assert_eq!(p.get(4, "x b").as_deref(), Some(&b"B"[..]));
    }

    #[test]
    fn a_newer_epoch_evicts_only_its_own_family() {
        let p = Pages::default();
        p.put(3, "zones a".into(), Bytes::from_static(b"Z"));
        p.put(900, "tasks b".into(), Bytes::from_static(b"T"));
        assert_eq!(p.get(3, "zones a").as_deref(), Some(&b"Z"[..]));
        p.put(4, "zones c".into(), Bytes::from_static(b"Z2"));
        assert!(p.get(3, "zones a").is_none());
        assert_eq!(p.get(900, "tasks b").as_deref(), Some(&b"T"[..]));
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let h = |v: &str| {
            let mut m = axum::http::HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, GZIP;q=0.5"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("deflate, br"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn the_gzip_form_is_made_once_and_decodes_to_the_answer() {
        use std::io::Read;
        let p = Pages::default();
        let body = Bytes::from(vec![b'x'; 10_000]);
        let gz = gzipped(&p, 1, "zones k", &body).unwrap();
        assert!(gz.len() < body.len() / 10);
        assert!(p.get(1, "zones k gzip").is_some());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn at_most_kept_answers_stay() {
        let p = Pages::default();
        for i in 0..(KEPT + 5) {
            p.put(1, format!("k{i}"), Bytes::from_static(b"x"));
        }
        assert!(p.get(1, "k0").is_none());
        assert!(p.get(1, &format!("k{}", KEPT + 4)).is_some());
    }
}
