//! The HTTPS listener's accept path: the connection cap, deadlines and `TCP_NODELAY` of
//! [`Guard`], then a TLS handshake whose settings are chosen once the client's ClientHello is
//! read ([`ServerTls::for_client`]: the cipher suite order depends on what the client prefers).
//!
//! axum-server's own TLS acceptor takes one fixed config, so this one replaces it; both halves
//! of the handshake (waiting for the ClientHello, then the rest) share one deadline, so a
//! client that never sends a ClientHello, or stops halfway, is dropped when it passes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

use super::conn::{Guard, Guarded, Tracked};
use super::tls::ServerTls;

/// An acceptor for `axum_server`: [`Guard`]'s, then TLS.
#[derive(Clone)]
pub struct Handshake {
    guard: Guard,
    tls: ServerTls,
    /// The whole handshake's allowance, from the accept.
    timeout: Duration,
}

impl Handshake {
    pub fn new(guard: Guard, tls: ServerTls, timeout: Duration) -> Handshake {
        Handshake {
            guard,
            tls,
            timeout,
        }
    }
}

type Accepted<S> = io::Result<(TlsStream<Guarded<TcpStream>>, Tracked<S>)>;

impl<S: Send + 'static> Accept<TcpStream, S> for Handshake {
    type Stream = TlsStream<Guarded<TcpStream>>;
    type Service = Tracked<S>;
    type Future = Pin<Box<dyn Future<Output = Accepted<S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Guard's answer is ready at once: a refusal (over the cap) costs no TLS work and no
        // allocation here.
        let guarded = match self.guard.accept(stream, service).into_inner() {
            Ok(guarded) => guarded,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let tls = self.tls.clone();
        let deadline = Instant::now() + self.timeout;
        Box::pin(async move {
            let (stream, service) = guarded;
            let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let hello = timeout_at(deadline, start)
                .await
                .map_err(|_| timed_out())??;
            let config = tls.for_client(hello.client_hello().cipher_suites()).clone();
            let stream = timeout_at(deadline, hello.into_stream(config))
                .await
                .map_err(|_| timed_out())??;
            Ok((stream, service))
        })
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake not done in time")
}
