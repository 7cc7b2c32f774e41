//! The HTTPS listener's accept path: the connection cap, deadlines and `TCP_NODELAY` of
//! [`Guard`], then a TLS handshake whose settings are chosen once the client's ClientHello is
//! read ([`Settings::for_client`]: the cipher suite order depends on what the client prefers).
//!
//! axum-server's own TLS acceptor takes one fixed config, so this one replaces it. Both halves
//! of the handshake (waiting for the ClientHello, then the rest) share one deadline: the
//! stream's own header deadline bounds each read, but a handshake also writes (the server's
//! flight), and a client that stops reading must not hold its connection slot either.

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
use super::tls::Settings;

/// An acceptor for `axum_server`: [`Guard`]'s, then TLS.
#[derive(Clone)]
pub struct Acceptor {
    guard: Guard,
    tls: Settings,
    /// The whole handshake's allowance, from the accept.
    timeout: Duration,
}

impl Acceptor {
    pub fn new(guard: Guard, tls: Settings, timeout: Duration) -> Acceptor {
        Acceptor {
            guard,
            tls,
            timeout,
        }
    }
}

type Accepted<S> = io::Result<(TlsStream<Guarded<TcpStream>>, Tracked<S>)>;

impl<S: Send + 'static> Accept<TcpStream, S> for Acceptor {
    type Stream = TlsStream<Guarded<TcpStream>>;
    type Service = Tracked<S>;
    type Future = Pin<Box<dyn Future<Output = Accepted<S>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Guard's answer is ready at once: a refusal (over the cap) costs no TLS work and no
        // clone of the TLS settings.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use crate::tasks::testing::TempDir;

    /// A client that connects and never sends its ClientHello is dropped at the handshake's
    /// own deadline (here far shorter than the stream's header deadline, so that one cannot be
    /// what closes it), and its slot under the connection cap is given back.
    #[tokio::test]
    async fn a_silent_client_meets_the_handshake_deadline_and_gives_its_slot_back() {
        let dir = TempDir::new("handshake");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (dir.0.join("agent.crt"), dir.0.join("agent.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let guard = Guard::new(&ServerConfig {
            max_connections: 1,
            header_read_timeout_seconds: 3600,
            ..ServerConfig::default()
        });
        let acceptor = Acceptor::new(
            guard,
            Settings::load(&cert, &key).unwrap(),
            Duration::from_millis(200),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..2 {
            let _silent = TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            // With the cap of one, the second round is refused at once ("connection limit
            // reached") unless the first gave its slot back.
            let accepted =
                tokio::time::timeout(Duration::from_secs(60), acceptor.accept(stream, ()))
                    .await
                    .expect("the handshake's deadline, not the header deadline, ends it");
            let err = accepted.err().expect("no ClientHello, no connection");
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
            assert_eq!(err.to_string(), "TLS handshake not done in time");
        }
    }
}
