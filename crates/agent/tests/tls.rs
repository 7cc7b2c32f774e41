//! The TLS the agent agrees to: the cipher suite is its choice (AES-128-GCM, the cheapest to
//! encrypt and decrypt of the safe ones), not the client's (rustls and OpenSSL clients list
//! AES-256-GCM first), unless the client's first choice is ChaCha20-Poly1305 (a client without
//! AES instructions, for which AES is the slow one); clients that cannot do AES-GCM, or want
//! HTTP/2, are still served, and a session resumes whichever order its handshake followed.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, HandshakeKind, ProtocolVersion, SupportedCipherSuite};

use crate::support::rawtls::{self, Tls};
use crate::support::TestAgent;

fn connect(agent: &TestAgent, provider: CryptoProvider, tls12_only: bool) -> Tls {
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let config = rawtls::client_config(provider, versions);
    rawtls::connect_with(agent.port, Duration::from_secs(30), config).expect("a TLS connection")
}

fn suite(tls: &Tls) -> (CipherSuite, ProtocolVersion) {
    let s = tls.conn.negotiated_cipher_suite().expect("a cipher suite");
    (s.suite(), s.version().version)
}

/// `GET /health` over the connection answers 200.
fn healthy(tls: &mut Tls) {
    rawtls::send(
        tls,
        b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[test]
fn the_agent_picks_aes_128_gcm_over_the_clients_first_choice() {
    let agent = TestAgent::start();
    // rustls' own order, as OpenSSL's: AES-256-GCM first.
    let offered: Vec<CipherSuite> = default_provider()
        .cipher_suites
        .iter()
        .map(|s| s.suite())
        .collect();
    assert_eq!(offered[0], CipherSuite::TLS13_AES_256_GCM_SHA384);
    let mut tls = connect(&agent, default_provider(), false);
    assert_eq!(
        suite(&tls),
        (
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            ProtocolVersion::TLSv1_3
        )
    );
    healthy(&mut tls);

    let mut tls = connect(&agent, default_provider(), true);
    assert_eq!(
        suite(&tls),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ProtocolVersion::TLSv1_2
        )
    );
    healthy(&mut tls);
}

#[test]
fn clients_without_aes_gcm_or_with_http2_are_still_served() {
    let agent = TestAgent::start();
    let chacha_only = offering(&[cipher_suite::TLS13_CHACHA20_POLY1305_SHA256]);
    let mut tls = connect(&agent, chacha_only, false);
    assert_eq!(suite(&tls).0, CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    healthy(&mut tls);

    // ALPN still offers HTTP/2 first to a client that asks for it.
    let mut config = (*rawtls::client_config(default_provider(), rustls::DEFAULT_VERSIONS)).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut tls = rawtls::connect_with(agent.port, Duration::from_secs(30), config.into()).unwrap();
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"h2"[..]));
    // The HTTP/2 preface is answered by the server's SETTINGS frame (type 4).
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    tls.flush().unwrap();
    let mut frame = [0u8; 9];
    tls.read_exact(&mut frame).unwrap();
    assert_eq!(frame[3], 4, "not a SETTINGS frame: {frame:?}");
}

/// A configured certificate and key (an ECDSA pair made for the test) are what
/// the agent serves.
#[test]
fn the_configured_certificate_is_served() {
    let dir = crate::support::temp_dir("cert");
    let made = rcgen::generate_simple_self_signed(vec!["configured.test".to_owned()]).unwrap();
    let (cert, key) = (dir.0.join("agent.crt"), dir.0.join("agent.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    for p in [&dir.0, &cert, &key] {
        crate::support::give_to_agent(p);
    }
    let agent = TestAgent::start_with(&format!(
        "ssl:\n  cert_path: {}\n  key_path: {}\n",
        cert.display(),
        key.display()
    ));
    let mut tls = connect(&agent, default_provider(), false);
    let served = tls.conn.peer_certificates().expect("a certificate")[0].clone();
    assert_eq!(served.as_ref(), made.cert.der().as_ref());
    healthy(&mut tls);
}

/// A client offering exactly these suites, in this order.
fn offering(suites: &[SupportedCipherSuite]) -> CryptoProvider {
    CryptoProvider {
        cipher_suites: suites.to_vec(),
        ..default_provider()
    }
}

/// The suite a client offering `suites` gets, over TLS 1.3 and over TLS 1.2, each connection
/// then serving a request.
fn agreed(
    agent: &TestAgent,
    tls13: &[SupportedCipherSuite],
    tls12: &[SupportedCipherSuite],
) -> [CipherSuite; 2] {
    [(tls13, false), (tls12, true)].map(|(suites, tls12_only)| {
        let mut tls = connect(agent, offering(suites), tls12_only);
        let (suite, version) = suite(&tls);
        let expected = if tls12_only {
            ProtocolVersion::TLSv1_2
        } else {
            ProtocolVersion::TLSv1_3
        };
        assert_eq!(version, expected, "{suite:?}");
        healthy(&mut tls);
        suite
    })
}

/// A client that lists ChaCha20-Poly1305 first (one without AES instructions: BoringSSL and
/// Go's crypto/tls order so there) gets it, over TLS 1.3 and 1.2; one that lists AES-256-GCM first and
/// ChaCha20 second still gets AES-128-GCM; a ChaCha20-only client gets ChaCha20.
#[test]
fn a_client_whose_first_choice_is_chacha20_gets_it() {
    use cipher_suite::*;
    let agent = TestAgent::start();
    assert_eq!(
        agreed(
            &agent,
            &[
                TLS13_CHACHA20_POLY1305_SHA256,
                TLS13_AES_128_GCM_SHA256,
                TLS13_AES_256_GCM_SHA384
            ],
            &[
                TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            ],
        ),
        [
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        ]
    );
    assert_eq!(
        agreed(
            &agent,
            &[
                TLS13_AES_256_GCM_SHA384,
                TLS13_CHACHA20_POLY1305_SHA256,
                TLS13_AES_128_GCM_SHA256
            ],
            &[
                TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            ],
        ),
        [
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        ]
    );
    assert_eq!(
        agreed(
            &agent,
            &[TLS13_CHACHA20_POLY1305_SHA256],
            &[TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256],
        ),
        [
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        ]
    );
}

/// Clients whose sessions can be kept and resumed with each other's: one store of sessions, one
/// verifier and one (empty) client certificate resolver (rustls resumes a session only under
/// the verifier and resolver it was made with).
struct Resuming {
    sessions: Arc<ClientSessionMemoryCache>,
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    no_client_cert: Arc<dyn rustls::client::ResolvesClientCert>,
}

impl Resuming {
    fn new() -> Resuming {
        Resuming {
            sessions: Arc::new(ClientSessionMemoryCache::new(16)),
            verifier: rawtls::any_cert(),
            no_client_cert: rawtls::client_config(default_provider(), rustls::DEFAULT_VERSIONS)
                .client_auth_cert_resolver
                .clone(),
        }
    }

    fn client(
        &self,
        suites: &[SupportedCipherSuite],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut config = (*rawtls::client_config(offering(suites), versions)).clone();
        config.resumption = Resumption::store(self.sessions.clone());
        config
            .dangerous()
            .set_certificate_verifier(self.verifier.clone());
        config.client_auth_cert_resolver = self.no_client_cert.clone();
        Arc::new(config)
    }
}

/// A connection's suite and kind of handshake; it serves a request to its end, so the client
/// has read the session tickets the agent sends after the handshake.
fn session(agent: &TestAgent, config: &Arc<rustls::ClientConfig>) -> (CipherSuite, HandshakeKind) {
    let mut tls =
        rawtls::connect_with(agent.port, Duration::from_secs(30), config.clone()).unwrap();
    let got = (suite(&tls).0, tls.conn.handshake_kind().unwrap());
    healthy(&mut tls);
    got
}

/// A session made in a handshake that followed the client's order resumes in one that follows
/// the agent's, and the other way round: the two orders share one session cache. (rustls
/// resumes a session only with its own cipher suite, so the client that gets the agent's order
/// here offers ChaCha20 as its only TLS 1.3 suite, after an AES-128 one of TLS 1.2.) Sessions
/// of TLS 1.2 resume under either order too.
#[test]
fn sessions_resume_whichever_order_the_handshake_followed() {
    use cipher_suite::*;
    use CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 as CHACHA;
    use HandshakeKind::{Full, Resumed};
    let agent = TestAgent::start();
    let versions = rustls::DEFAULT_VERSIONS;
    for first_order in ["the client's", "the agent's"] {
        let clients = Resuming::new();
        let theirs = clients.client(
            &[TLS13_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256],
            versions,
        );
        let ours = clients.client(
            &[
                TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                TLS13_CHACHA20_POLY1305_SHA256,
            ],
            versions,
        );
        let (first, second) = if first_order == "the client's" {
            (theirs, ours)
        } else {
            (ours, theirs)
        };
        assert_eq!(
            session(&agent, &first),
            (CHACHA, Full),
            "{first_order} first"
        );
        assert_eq!(
            session(&agent, &second),
            (CHACHA, Resumed),
            "{first_order} first"
        );
    }

    let tls12 = &[&rustls::version::TLS12];
    for (offered, agreed) in [
        (
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
    ] {
        let client =
            Resuming::new().client(&[offered, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], tls12);
        assert_eq!(session(&agent, &client), (agreed, Full));
        assert_eq!(session(&agent, &client), (agreed, Resumed));
    }
}

/// A client that connects and never sends a ClientHello, and one that stops halfway through
/// it, are disconnected once the handshake's time (`header_read_timeout_seconds`) is up.
#[test]
fn a_client_that_never_finishes_its_client_hello_is_dropped() {
    let agent = TestAgent::start_configured("  header_read_timeout_seconds: 2\n", "");
    // A TLS record header announcing a 512-byte handshake message, and none of it.
    let partial: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00];
    for sent in [&[][..], partial] {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
        tcp.write_all(sent).unwrap();
        // Far above the deadline: only a connection that is never closed fails.
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = [0u8; 64];
        match tcp.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("after {sent:?}: {n} bytes came back: {:?}", &buf[..n]),
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ),
                "after {sent:?}: still open ({e})"
            ),
        }
    }
    assert_eq!(agent.request("GET", "/health", None, None).status, 200);
}
