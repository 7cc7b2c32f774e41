//! The HTTP client of the measurements: `conns` keep-alive HTTPS connections driven from one
//! client thread, and a single connection for sequential requests.
//!
//! One event loop rather than a thread per connection: on a 2-core machine, 32 blocking client
//! threads compete with the agent's two workers for the CPU, and the latency a request then
//! sees is mostly the client's own threads waiting for a core. Driven from one thread, the
//! client takes at most one core and what is measured is the agent's queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio_rustls::TlsConnector;

use crate::agent::Agent;
use crate::percentile;
use crate::stamped::{Marks, Stamped};

/// Throughput and latency of `GET path` at `conns` connections.
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

/// TLS that trusts exactly the agent's own certificate (its data directory's self-signed one),
/// so the client verifies what it talks to instead of switching verification off.
fn connector(agent: &Agent) -> TlsConnector {
    TlsConnector::from(client_config(agent))
}

/// The client side of [`connector`], for blocking clients too (the VNC console's).
pub fn client_config(agent: &Agent) -> Arc<rustls::ClientConfig> {
    let pem = agent.dir.join("data/tls/agent.crt");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pem).expect("the agent's certificate") {
        roots
            .add(cert.expect("a PEM certificate"))
            .expect("a usable certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One keep-alive HTTPS connection to the agent, with its key.
pub struct Conn {
    sender: Sender,
    auth: String,
    /// Sends `Accept-Encoding: gzip`, as browsers and Node's fetch do (the body is read,
    /// not decoded: the client's decoding is not the agent's time).
    gzip: bool,
    /// The kernel's arrival stamps of what the connection reads.
    marks: Arc<Marks>,
}

impl Conn {
    pub async fn open(agent: &Agent, tls: &TlsConnector) -> std::io::Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", agent.port)).await?;
        tcp.set_nodelay(true)?;
        let (tcp, marks) = Stamped::new(tcp)?;
        let name = ServerName::try_from("127.0.0.1").expect("an IP address name");
        let stream = tls.connect(name, tcp).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            auth: format!("Bearer {}", agent.key),
            gzip: false,
            marks,
        })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Option<hyper::Response<hyper::body::Incoming>> {
        self.sender.ready().await.ok()?;
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("authorization", &self.auth)
            .header("content-type", "application/json");
        if self.gzip {
            req = req.header("accept-encoding", "gzip");
        }
        let req = req.body(Full::new(body)).expect("request");
        self.sender.send_request(req).await.ok()
    }

    /// Whether `GET path` answered 200 with its whole body read.
    async fn get_ok(&mut self, path: &str) -> bool {
        match self.send("GET", path, None).await {
            Some(r) if r.status() == 200 => drained(r.into_body()).await,
            _ => false,
        }
    }

    /// Any request; the status and the JSON answer (`null` when it is not JSON).
    pub async fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let Some(r) = self.send(method, path, body).await else {
            return (0, Value::Null);
        };
        let status = r.status().as_u16();
        let bytes = r
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// Whether the whole body came (hyper checks it against `Content-Length`), every byte received
/// and decrypted but none kept: collecting a 260 KiB answer kept each piece in a fresh
/// allocation until the end, and the client's page faults and frees were a tenth of its CPU
/// on the 2 cores it shares with the agent it measures.
async fn drained(mut body: hyper::body::Incoming) -> bool {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return false;
        }
    }
    true
}

/// A [`Conn`] for code that is not async: requests one at a time, on a runtime of its own.
pub struct BlockingConn {
    rt: tokio::runtime::Runtime,
    conn: Conn,
}

impl BlockingConn {
    pub fn open(agent: &Agent) -> BlockingConn {
        let rt = runtime();
        let conn = rt
            .block_on(Conn::open(agent, &connector(agent)))
            .expect("connection");
        BlockingConn { rt, conn }
    }

    pub fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.rt.block_on(self.conn.json(method, path, body))
    }

    /// Whether `GET path` answered 200 with its whole body read (not decoded).
    pub fn get_ok(&mut self, path: &str) -> bool {
        self.rt.block_on(self.conn.get_ok(path))
    }

    /// Whether later requests send `Accept-Encoding: gzip`.
    pub fn take_gzip(&mut self, gzip: bool) {
        self.conn.gzip = gzip;
    }

    /// The kernel's stamps of the last request and its answer ([`Marks::take_stamps`]).
    pub fn take_stamps(&self) -> Option<(SystemTime, SystemTime)> {
        self.conn.marks.take_stamps()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

/// `GET path` on `conns` connections for `duration`, after each connection's handshake and a
/// first request (outside the clock).
pub fn get_load(agent: &Agent, path: &str, conns: usize, duration: Duration) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
        })
    };
    let (samples, errors, elapsed) = get_until(agent, path, conns, false, &stop);
    let _ = timer.join();
    let mut all: Vec<f64> = samples.into_iter().map(|(_, ms, _)| ms).collect();
    all.sort_by(f64::total_cmp);
    Load {
        rps: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 0.5),
        p99_ms: percentile(&all, 0.99),
        errors,
    }
}

/// One answered request of a load: when it was sent, how many milliseconds it took as the
/// client saw it, and how many of them the agent took (the request written to its answer's
/// last byte reaching the client's socket, by the kernel's stamp: [`crate::stamped`]).
pub type Sample = (Instant, f64, Option<f64>);

/// `GET path` on `conns` connections until `stop` is set (by another thread); every answered
/// request with its send time, the number of failed ones, and the seconds the load ran.
pub fn get_until(
    agent: &Agent,
    path: &str,
    conns: usize,
    gzip: bool,
    stop: &Arc<AtomicBool>,
) -> (Vec<Sample>, usize, f64) {
    runtime().block_on(async {
        let tls = connector(agent);
        let mut opened = Vec::with_capacity(conns);
        for _ in 0..conns {
            let mut c = Conn::open(agent, &tls).await.expect("connection");
            c.gzip = gzip;
            c.get_ok(path).await;
            opened.push(c);
        }
        let started = Instant::now();
        let workers: Vec<_> = opened
            .into_iter()
            .map(|mut c| {
                let (stop, path) = (stop.clone(), path.to_owned());
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        c.marks.take();
                        if c.get_ok(&path).await {
                            let agent = c.marks.take().map(|d| d.as_secs_f64() * 1e3);
                            lat.push((t, t.elapsed().as_secs_f64() * 1e3, agent));
                        } else {
                            errors += 1;
                            if c.is_closed() {
                                break;
                            }
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for w in workers {
            let (lat, e) = w.await.expect("load task");
            all.extend(lat);
            errors += e;
        }
        (all, errors, started.elapsed().as_secs_f64())
    })
}
