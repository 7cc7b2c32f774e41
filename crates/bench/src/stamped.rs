//! The load client's TCP socket: reads of up to 64 KiB at a time, each with the kernel's
//! receive timestamp, so that the agent's share of a request's time can be told apart from
//! the client thread's own lag.
//!
//! One client thread drives every connection of a load. When it is the busier side (a 260 KiB
//! answer costs it more CPU to receive and decrypt than the agent spends sending it), an
//! answer that arrived whole can wait in the socket for milliseconds before the thread gets to
//! it, and the latency the client measures is its own queue. The kernel stamps each segment
//! when it reaches the socket (`SO_TIMESTAMPNS`): the stamp of the read that brings an
//! answer's last byte, less the time the request was written, is how long the agent took,
//! waiting included, with none of the client's lag. (On loopback a write is delivered within
//! the writer's own system call, so these are the agent's writes.)
//!
//! The 64 KiB reads are what a usual client asks the kernel for (Node's libuv reads 64 KiB
//! chunks; OpenSSL then decrypts from memory): rustls alone asks for one TLS record (~16 KiB)
//! per read, four system calls where one does. Every byte is still read and decrypted.

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// How much one read asks the kernel for.
const READ_SIZE: usize = 64 * 1024;

/// When the connection's last write ended and when the last byte read since then reached the
/// socket; shared with the code that times requests ([`Marks::take`]).
#[derive(Default)]
pub struct Marks(Mutex<Stamps>);

#[derive(Default, Clone, Copy)]
struct Stamps {
    sent: Option<SystemTime>,
    arrived: Option<SystemTime>,
}

impl Marks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From the end of the last write (the request) to the kernel's arrival stamp of the last
    /// byte read after it (the answer's last byte, once the answer is read whole); `None`
    /// without both.
    pub fn take(&self) -> Option<Duration> {
        let (sent, arrived) = self.take_stamps()?;
        arrived.duration_since(sent).ok()
    }

    /// The two stamps [`Marks::take`] subtracts: when the last write began, and when the last
    /// byte read after it reached the socket.
    pub fn take_stamps(&self) -> Option<(SystemTime, SystemTime)> {
        let s = std::mem::take(&mut *self.lock());
        Some((s.sent?, s.arrived?))
    }
}

/// A TCP stream whose reads go through a 64 KiB buffer and note arrival stamps in [`Marks`].
pub struct Stamped {
    tcp: TcpStream,
    buf: Box<[u8]>,
    /// The buffered bytes not yet handed on: `buf[start..end]`.
    start: usize,
    end: usize,
    marks: Arc<Marks>,
}

impl Stamped {
    pub fn new(tcp: TcpStream) -> io::Result<(Stamped, Arc<Marks>)> {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, and an option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let marks = Arc::new(Marks::default());
        let s = Stamped {
            tcp,
            buf: vec![0; READ_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            marks: marks.clone(),
        };
        Ok((s, marks))
    }
}

/// One `recvmsg` into `buf`: the bytes read and the kernel's stamp of the last segment read.
fn recv_stamped(fd: libc::c_int, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one timespec message, 8-byte aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid (no name, no buffers); the fields set below point at
    // live locals of the sizes given.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg describes buffers that outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* walk stays within msg_controllen, as the kernel filled it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = Some(UNIX_EPOCH + Duration::new(t.tv_sec as u64, t.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

impl AsyncRead for Stamped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.start == this.end {
            ready!(this.tcp.poll_read_ready(cx))?;
            let fd = this.tcp.as_raw_fd();
            let buf = &mut this.buf;
            match this
                .tcp
                .try_io(Interest::READABLE, || recv_stamped(fd, buf))
            {
                Ok((0, _)) => return Poll::Ready(Ok(())),
                Ok((n, stamp)) => {
                    (this.start, this.end) = (0, n);
                    if let Some(at) = stamp {
                        this.marks.lock().arrived = Some(at);
                    }
                }
                // The readiness was stale; try_io cleared it, so the next poll waits.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let n = out.remaining().min(this.end - this.start);
        out.put_slice(&this.buf[this.start..this.start + n]);
        this.start += n;
        Poll::Ready(Ok(()))
    }
}

impl Stamped {
    /// Notes a write of `n` bytes that began at `began`: the request's time starts there (not
    /// when the write returned: the agent, woken by it, may run first and answer before this
    /// thread gets a core again), and what was read before belongs to the previous answer.
    fn wrote(&self, began: SystemTime, n: usize) {
        if n > 0 {
            *self.marks.lock() = Stamps {
                sent: Some(began),
                arrived: None,
            };
        }
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let began = SystemTime::now();
        let n = ready!(Pin::new(&mut this.tcp).poll_write(cx, data))?;
        this.wrote(began, n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let began = SystemTime::now();
        let n = ready!(Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs))?;
        this.wrote(began, n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Every byte passes through the 64 KiB buffer unchanged, in reads of any size, and the
    /// answer's time runs from the request's write to its last byte's arrival: after the
    /// write, before the read that took it (ordering only: no timed bound).
    #[tokio::test]
    async fn bytes_pass_whole_and_the_arrival_is_stamped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tcp, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (mut client, marks) = Stamped::new(tcp.unwrap()).unwrap();
        let (mut server, _) = accepted.unwrap();
        let answer: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();

        let before = SystemTime::now();
        client.write_all(b"GET").await.unwrap();
        let mut req = [0u8; 3];
        server.read_exact(&mut req).await.unwrap();
        let sent = answer.clone();
        let writer = tokio::spawn(async move {
            server.write_all(&sent).await.unwrap();
            server
        });
        let mut got = vec![0u8; answer.len()];
        // Odd-sized reads, as rustls asks for what one record needs.
        for chunk in got.chunks_mut(5_003) {
            client.read_exact(chunk).await.unwrap();
        }
        let read_done = SystemTime::now();
        drop(writer.await.unwrap());
        assert!(got == answer, "the bytes changed on their way through");
        let took = marks.take().expect("a write and a stamped read");
        assert!(took <= read_done.duration_since(before).unwrap());
        // Taken once: the next answer's time starts at the next write.
        assert!(marks.take().is_none());
    }
}
