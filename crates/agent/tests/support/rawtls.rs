//! Hand-made TLS connections to the agent, for tests that must control every byte and every
//! pause a client makes (idle connections, trickled headers and bodies). The agent's
//! certificate is self-signed: it is not verified.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

pub type Tls = StreamOwned<ClientConnection, TcpStream>;

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls12_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            client_config(
                rustls::crypto::ring::default_provider(),
                rustls::DEFAULT_VERSIONS,
            )
        })
        .clone()
}

/// A client speaking HTTP/1.1 with these cipher suites (in its order of preference) and
/// protocol versions.
pub fn client_config(
    provider: rustls::crypto::CryptoProvider,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let provider = Arc::new(provider);
    let mut c = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// A verifier accepting any certificate, as every client here uses. rustls resumes a session
/// only under the verifier (and client certificate resolver) it was made with: clients of
/// different suites that must resume each other's sessions are given the same one.
pub fn any_cert() -> Arc<dyn ServerCertVerifier> {
    Arc::new(AnyCert(Arc::new(rustls::crypto::ring::default_provider())))
}

/// A TLS connection to the agent on `port`, its handshake done (allowed 30 s: many may be
/// under way at once), with `timeout` on each later read and write.
pub fn connect(port: u16, timeout: Duration) -> io::Result<Tls> {
    connect_with(port, timeout, config())
}

/// [`connect`] with a client of its own.
pub fn connect_with(port: u16, timeout: Duration, config: Arc<ClientConfig>) -> io::Result<Tls> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(30)))?;
    let conn =
        ClientConnection::new(config, "localhost".try_into().unwrap()).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    tls.sock.set_read_timeout(Some(timeout))?;
    tls.sock.set_write_timeout(Some(timeout))?;
    Ok(tls)
}

/// What came back on a connection.
#[derive(Debug)]
pub enum Answer {
    /// A response: its status line and headers, then its body.
    Response {
        status: u16,
        head: String,
        body: Vec<u8>,
    },
    /// The server closed the connection (or reset it) without answering.
    Closed(String),
    /// Nothing within the read timeout.
    Silent,
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Reads one response (`Content-Length` framed), or tells how the connection ended.
pub fn read_answer(tls: &mut Tls) -> Answer {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match tls.read(&mut buf) {
            Ok(0) => return Answer::Closed("end of stream".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) && got.is_empty() => return Answer::Silent,
            Err(e) => return Answer::Closed(e.to_string()),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = got[head_end..].to_vec();
    while body.len() < length {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    Answer::Response { status, head, body }
}

/// Writes all of `bytes` and flushes them out as TLS records.
pub fn send(tls: &mut Tls, bytes: &[u8]) -> io::Result<()> {
    tls.write_all(bytes)?;
    tls.flush()
}

/// Waits until the server ends the connection: `Ok(())` once it has, `Err` with what was
/// read instead if it answered, or if it was still open after `patience`.
pub fn wait_closed(tls: &mut Tls, patience: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + patience;
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        match tls.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                return Err(format!(
                    "read {n} bytes: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ))
            }
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return Ok(()),
        }
    }
    Err(format!("still open after {patience:?}"))
}

/// Raises this process's open-file limit to its hard limit (the agent, started after, inherits
/// it): the exhaustion tests hold hundreds of connections on each side.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}
