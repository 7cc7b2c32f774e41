//! TLS material: the configured certificate, or a self-signed one made once under the data
//! directory, and the server's TLS settings (two orders of cipher suites, one chosen per
//! client: [`Settings`]). The handshake that chooses is in `handshake.rs`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, SupportedCipherSuite};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot load the TLS certificate or key {path}: {source}")]
    Load {
        path: String,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("cannot use the TLS certificate and key: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The certificate and key to serve: the configured pair when both files exist, otherwise a
/// self-signed pair for this host's name, localhost and 127.0.0.1, generated once.
pub fn ensure_certificate(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    if let (Some(cert), Some(key)) = (&config.ssl.cert_path, &config.ssl.key_path) {
        if cert.exists() && key.exists() {
            return Ok((cert.clone(), key.clone()));
        }
        tracing::warn!(cert = %cert.display(), key = %key.display(), "configured certificate files are missing; using a self-signed certificate");
    }
    let dir = config.data_dir.join("tls");
    let (cert, key) = (dir.join("agent.crt"), dir.join("agent.key"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(h) = hostname() {
        names.insert(0, h);
    }
    let generated = rcgen::generate_simple_self_signed(names.clone())?;
    create_private_dir(&dir)?;
    write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert, generated.cert.pem().as_bytes())?;
    tracing::info!(cert = %cert.display(), names = ?names, "generated a self-signed certificate");
    Ok((cert, key))
}

/// The server's TLS settings, in the two orders of cipher suites a handshake may follow,
/// chosen per connection from the client's ClientHello by [`Settings::for_client`].
#[derive(Clone)]
pub struct Settings {
    /// The agent's order (AES-128-GCM first), for clients whose first choice is AES-GCM.
    ours: Arc<rustls::ServerConfig>,
    /// The client's order, for clients whose first choice is ChaCha20-Poly1305.
    theirs: Arc<rustls::ServerConfig>,
}

impl Settings {
    /// Both configs for the certificate and key at these paths.
    pub fn load(cert: &Path, key: &Path) -> Result<Settings, TlsError> {
        let ours = server_config(cert, key)?;
        // A clone shares every `Arc` the config holds: the certificate resolver, the session
        // cache and ticketer (a session made under one config resumes under the other), the
        // key log, the compression cache; only the order of choice differs.
        let mut theirs = ours.clone();
        theirs.ignore_client_order = false;
        Ok(Settings {
            ours: Arc::new(ours),
            theirs: Arc::new(theirs),
        })
    }

    /// The config for a client offering these suites (in its order of preference).
    ///
    /// A client lists ChaCha20-Poly1305 first when it has no AES instructions (BoringSSL, as in
    /// Chrome and Android, and Go's crypto/tls order so on ARM boards and phones without them): AES-GCM in software costs it
    /// several times ChaCha20's, far more than AES-128 saves here, so its choice is followed.
    /// Every other client gets the agent's order. (OpenSSL servers offer the same rule as
    /// `SSL_OP_PRIORITIZE_CHACHA`.)
    pub fn for_client(&self, offered: &[CipherSuite]) -> &Arc<rustls::ServerConfig> {
        if prefers_chacha(offered, self.ours.crypto_provider()) {
            &self.theirs
        } else {
            &self.ours
        }
    }
}

/// Whether the first suite in the client's list that the agent supports (of any protocol
/// version: a client orders its TLS 1.3 and 1.2 suites alike) is ChaCha20-Poly1305. Suites
/// the agent lacks are passed over: the GREASE value a browser lists first, signalling
/// suites, CBC ones.
fn prefers_chacha(offered: &[CipherSuite], provider: &CryptoProvider) -> bool {
    offered
        .iter()
        .find(|s| {
            provider
                .cipher_suites
                .iter()
                .any(|ours| ours.suite() == **s)
        })
        .is_some_and(|s| is_chacha(*s))
}

fn is_chacha(suite: CipherSuite) -> bool {
    matches!(
        suite,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// The server's TLS settings for the certificate and key at these paths: HTTP/2 and HTTP/1.1
/// offered by ALPN, and the cipher suite chosen by the server's preference (below), not the
/// client's ([`Settings::load`] derives the copy that follows the client's order, for clients
/// whose first choice is ChaCha20).
fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let load = |path: &Path, e| TlsError::Load {
        path: path.display().to_string(),
        source: e,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| load(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| load(key, e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // rustls takes the client's order by default, and rustls and OpenSSL (Node, curl) clients
    // list AES-256-GCM first. AES-128-GCM is as safe for this use and its 10 rounds against 14 make
    // each byte cheaper to encrypt here and to decrypt there: a 1,000-zone list is ~260 KiB,
    // and AES-GCM was the largest single cost of sending it (perf: a quarter of the agent).
    config.ignore_client_order = true;
    Ok(config)
}

/// *ring*'s suites, AES-128-GCM first, then AES-256-GCM, then ChaCha20-Poly1305 (TLS 1.3 and
/// 1.2 alike; the version is agreed first and only its suites are looked at).
fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(preference);
    provider
}

fn preference(suite: &SupportedCipherSuite) -> u8 {
    match suite.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS13_AES_256_GCM_SHA384
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
        _ => 2,
    }
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

pub fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| TlsError::Write {
            path: dir.display().to_string(),
            source,
        })
}

/// Writes a file only its owner can read, atomically (temp file, then rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_choice_is_chacha(offered: &[CipherSuite]) -> bool {
        prefers_chacha(offered, &provider())
    }

    #[test]
    fn the_clients_first_supported_suite_decides() {
        use CipherSuite::*;
        // BoringSSL without AES instructions: a GREASE value, then ChaCha20 (1.3 and 1.2).
        assert!(first_choice_is_chacha(&[
            CipherSuite::from(0x0a0a),
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS13_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ]));
        assert!(first_choice_is_chacha(&[
            TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]));
        // ChaCha20 second, or not at all, or nothing the agent has: the agent's order.
        assert!(!first_choice_is_chacha(&[
            TLS13_AES_256_GCM_SHA384,
            TLS13_CHACHA20_POLY1305_SHA256,
        ]));
        assert!(!first_choice_is_chacha(&[
            TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ]));
        assert!(!first_choice_is_chacha(&[TLS13_AES_128_GCM_SHA256]));
        assert!(!first_choice_is_chacha(&[
            TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
        ]));
        assert!(!first_choice_is_chacha(&[]));
    }
}
