//! The TLS the agent agrees to: the cipher suite is its choice (AES-128-GCM, the cheapest to
//! encrypt and decrypt of the safe ones), not the client's (rustls, OpenSSL and Go clients list
//! AES-256-GCM first), while clients that cannot do AES-GCM, or want HTTP/2, are still served.

use std::io::{Read, Write};
use std::time::Duration;

use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, ProtocolVersion};

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
    let chacha_only = CryptoProvider {
        cipher_suites: vec![cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
        ..default_provider()
    };
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
/// the agent serves, read by its own loader rather than axum-server's.
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
