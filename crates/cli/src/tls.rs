//! TLS with a pinned certificate: the agent's certificate is self-signed, so instead of a CA
//! chain we trust exactly the leaf whose SHA-256 was shown and accepted at `zw login`.
//!
//! ureq 3 cannot take a rustls `ClientConfig`, so this is a ureq connector (the `unversioned`
//! transport API: ureq is held at `~3.5` for it) that wraps the TCP transport in rustls with
//! our verifier, the way ureq's own `RustlsConnector` does.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use sha2::{Digest, Sha256};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// Lower-case hex SHA-256 of a DER certificate: the stored form of a pin.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `AB:CD:...`, as `openssl x509 -fingerprint -sha256` prints it, for comparing by eye.
pub fn display_fingerprint(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts the stored form, the colon form and an optional `sha256:`/`SHA256 Fingerprint=`
/// prefix; answers the stored form.
pub fn parse_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.rsplit_once('=').map_or(s, |(_, v)| v);
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Checks the leaf certificate against the pin (or, without a pin, only records it: used by
/// `zw login` to show the fingerprint before anything secret is sent). Handshake signatures
/// are verified for real, so the server must hold the certificate's key.
pub struct PinVerifier {
    pin: Option<String>,
    seen: Mutex<Option<String>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinVerifier")
            .field("pin", &self.pin)
            .finish()
    }
}

impl PinVerifier {
    pub fn new(pin: Option<String>) -> Arc<PinVerifier> {
        Arc::new(PinVerifier {
            pin,
            seen: Mutex::new(None),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    pub fn pin(&self) -> Option<&str> {
        self.pin.as_deref()
    }

    /// The fingerprint of the last certificate presented.
    pub fn seen(&self) -> Option<String> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// The presented fingerprint, when it differs from the pin.
    pub fn mismatch(&self) -> Option<String> {
        let seen = self.seen()?;
        match &self.pin {
            Some(p) if *p != seen => Some(seen),
            _ => None,
        }
    }

    pub fn client_config(self: &Arc<Self>) -> Arc<ClientConfig> {
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        Arc::new(config)
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        *self.seen.lock().expect("not poisoned") = Some(got.clone());
        match &self.pin {
            Some(pin) if *pin != got => Err(rustls::Error::General(format!(
                "the server's certificate (SHA-256 {}) is not the pinned one (SHA-256 {})",
                display_fingerprint(&got),
                display_fingerprint(pin)
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Wraps an `https` connection in rustls with a fixed `ClientConfig`.
#[derive(Debug)]
pub struct PinnedTls {
    pub config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ureq::Error::BadUri(format!("{host} is not a TLS server name")))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| ureq::Error::Other(Box::new(e)))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_in_every_common_spelling_parse_the_same() {
        let hex = fingerprint(b"cert");
        let colons = display_fingerprint(&hex);
        assert_eq!(colons.len(), 64 + 31);
        assert_eq!(parse_fingerprint(&colons).as_deref(), Some(hex.as_str()));
        assert_eq!(
            parse_fingerprint(&format!("sha256 Fingerprint={colons}")).as_deref(),
            Some(hex.as_str())
        );
        assert_eq!(
            parse_fingerprint(&format!("sha256:{hex}")),
            Some(hex.clone())
        );
        assert_eq!(parse_fingerprint("abcd"), None);
    }

    #[test]
    fn a_mismatch_is_refused_and_remembered() {
        let v = PinVerifier::new(Some(fingerprint(b"one")));
        let cert = CertificateDer::from(b"two".to_vec());
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let r = v.verify_server_cert(&cert, &[], &name, &[], UnixTime::now());
        assert!(r.is_err());
        assert_eq!(v.mismatch(), Some(fingerprint(b"two")));
        let ok = PinVerifier::new(Some(fingerprint(b"two")));
        assert!(ok
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .is_ok());
        assert_eq!(ok.mismatch(), None);
    }
}
