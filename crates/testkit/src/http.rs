//! The loopback side: a port to listen on and a client for the agent's self-signed TLS.

use std::time::Duration;

/// A port free on 127.0.0.1 now. Another process may take it before the agent binds it; a
/// caller that starts many agents at once retries on [`crate::Exited::port_taken`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// An HTTPS client that accepts the agent's self-signed certificate (the harness checks the
/// API, not the pinning, which the CLI tests test themselves); a status is never an error.
pub fn client(timeout: Duration) -> ureq::Agent {
    client_with(None, timeout)
}

/// As [`client`], with a connect timeout too.
pub fn client_with(connect: Option<Duration>, timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(true)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(connect)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}
