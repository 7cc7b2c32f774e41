//! What a connection may cost before it has proved anything: a cap on connections held at
//! once (checked right after the accept, before any TLS work), a deadline for a request's
//! headers, and an idle deadline for a kept-alive connection with no request in flight.
//!
//! hyper's own header timeout starts when it waits for a request head, which includes the idle
//! wait of a kept-alive connection, and its automatic HTTP/1-or-2 detection has no deadline at
//! all: a client that connects and says nothing would be held forever. So the deadlines live
//! here, in the stream under TLS, told by the connection's service whether a request is in
//! flight (a request's body and its answer, however long, are not bound by them).
//!
//! An upgraded connection (a WebSocket) has no request in flight after its 101 answer: its
//! handler keeps a [`Held`] (from the request's [`Hold`] extension) for as long as it uses the
//! stream, so the idle deadline does not cut a quiet console.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::config::ServerConfig;

/// An acceptor for `axum_server`: refuses connections over the cap by dropping them, and wraps
/// the others' stream and service so the deadlines can apply. Shared by both listeners.
#[derive(Clone)]
pub struct Guard {
    permits: Arc<Semaphore>,
    header: Duration,
    idle: Duration,
}

impl Guard {
    pub fn new(config: &ServerConfig) -> Guard {
        Guard {
            permits: Arc::new(Semaphore::new(config.max_connections)),
            header: Duration::from_secs(config.header_read_timeout_seconds),
            idle: Duration::from_secs(config.idle_timeout_seconds),
        }
    }
}

impl<S> axum_server::accept::Accept<tokio::net::TcpStream, S> for Guard {
    type Stream = Guarded<tokio::net::TcpStream>;
    type Service = Tracked<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Tracked<S>)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            // Dropping the stream closes it: the refusal costs a file descriptor for a moment.
            tracing::debug!("connection limit reached: closing a new connection");
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        // An answer is written whole (a TLS record, a response head and body): Nagle would
        // hold its last segment back until the client's delayed ACK, ~40 ms on a fresh
        // connection.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let now = Instant::now();
        let conn = Arc::new(Activity {
            served: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(now),
            reader: Mutex::new(None),
        });
        let stream = Guarded {
            inner: stream,
            conn: conn.clone(),
            header: self.header,
            idle: self.idle,
            // A new connection owes its first request head from the accept on.
            head_started: Some(now),
            served: 0,
            timer: Box::pin(tokio::time::sleep_until(now + self.header)),
            _permit: permit,
        };
        let service = Tracked {
            inner: service,
            conn,
        };
        std::future::ready(Ok((stream, service)))
    }
}

/// Shared by a connection's stream and its service.
struct Activity {
    /// Requests begun on the connection so far.
    served: AtomicUsize,
    /// Requests in flight, counted until their answer's body is done or dropped.
    busy: AtomicUsize,
    /// When `busy` last fell to zero (or the accept).
    idle_since: Mutex<Instant>,
    /// The task that reads the stream, woken when the connection falls idle so that it arms
    /// the idle deadline.
    reader: Mutex<Option<Waker>>,
}

impl Activity {
    fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }
}

/// One request in flight; its drop may make the connection idle.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(conn: &Arc<Activity>) -> Busy {
        conn.served.fetch_add(1, Ordering::SeqCst);
        conn.busy.fetch_add(1, Ordering::SeqCst);
        Busy(conn.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            if let Some(w) = self
                .0
                .reader
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                w.wake();
            }
        }
    }
}

/// The connection a request came on, put in the request's extensions, so that a handler that
/// takes the connection over (a WebSocket) can keep it counted as busy: [`Hold::hold`].
#[derive(Clone)]
pub struct Hold(Arc<Activity>);

/// The connection counted as busy until this is dropped.
pub struct Held(#[allow(dead_code)] Busy);

impl Hold {
    pub fn hold(&self) -> Held {
        Held(Busy::new(&self.0))
    }
}

/// The accepted stream (under TLS), failing its reads once a deadline passes while no request
/// is in flight.
pub struct Guarded<I> {
    inner: I,
    conn: Arc<Activity>,
    header: Duration,
    idle: Duration,
    /// When the first byte of the request head being read arrived.
    head_started: Option<Instant>,
    /// `Activity::served` when last looked at: a request that came and went between two reads
    /// ended the head `head_started` was about.
    served: usize,
    timer: Pin<Box<Sleep>>,
    /// The connection's place under the cap, given back when the stream is dropped.
    _permit: OwnedSemaphorePermit,
}

impl<I> Guarded<I> {
    /// With no request in flight: the time by which the connection must have done better than
    /// it has so far. A request under way has no deadline here.
    fn deadline(&self) -> Instant {
        match self.head_started {
            Some(at) => at + self.header,
            None => {
                *self
                    .conn
                    .idle_since
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    + self.idle
            }
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let served = this.conn.served.load(Ordering::SeqCst);
        if served != this.served {
            this.served = served;
            this.head_started = None;
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.conn.busy() {
            // A request is in flight: its body may trickle as the body deadline allows.
            this.head_started = None;
        } else if let Poll::Ready(Ok(())) = read {
            if buf.filled().len() > before && this.head_started.is_none() {
                this.head_started = Some(Instant::now());
            }
        }
        if read.is_ready() {
            return read;
        }
        *this.conn.reader.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        if this.conn.busy() {
            return Poll::Pending;
        }
        let deadline = this.deadline();
        let what = if this.head_started.is_some() {
            "request headers not received in time"
        } else {
            "idle connection"
        };
        if Instant::now() >= deadline {
            return Poll::Ready(Err(timed_out(what)));
        }
        if this.timer.deadline() != deadline {
            this.timer.as_mut().reset(deadline);
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out(what))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection's service: counts each request in flight until its answer is done.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    conn: Arc<Activity>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<Request<B>> for Tracked<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let busy = Busy::new(&self.conn);
        req.extensions_mut().insert(Hold(self.conn.clone()));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Body::new(Answer { body, _busy: busy })))
        })
    }
}

/// An answer's body, keeping its request counted as in flight until it is sent or dropped.
struct Answer {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Answer {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
