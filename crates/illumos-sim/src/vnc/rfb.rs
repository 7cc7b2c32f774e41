//! One RFB 3.8 connection (RFC 6143), server side: version and security handshake (None, or
//! VNC Authentication when the zone's option string sets `password=`), ServerInit, then the
//! client's messages. Updates are Raw rectangles in the client's pixel format. A
//! non-incremental request is answered at once with the requested area; an incremental one
//! waits until something in the area differs from what this client was last sent (the clock
//! ticks every 100 ms), then sends the changed rows.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::des;
use super::screen::{Screen, HEIGHT, WIDTH};

/// A client's connection: a UNIX socket, or a loopback TCP one for `tcp=`.
pub trait Conn: Read + Write + Send + 'static {
    fn try_clone(&self) -> io::Result<Self>
    where
        Self: Sized;
}

impl Conn for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
}

impl Conn for std::net::TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::net::TcpStream::try_clone(self)
    }
}

/// What every connection of one server shares: the guest's screen and its settings.
pub struct Shared {
    pub screen: Mutex<Screen>,
    pub started: Instant,
    pub password: Option<String>,
}

impl Shared {
    fn tenths(&self) -> u64 {
        (self.started.elapsed().as_millis() / 100) as u64
    }
}

/// How the client wants pixels (SetPixelFormat); the server's own is 32 bpp, depth 24,
/// little-endian, red at bit 16.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelFormat {
    pub bpp: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub max: [u16; 3],
    pub shift: [u8; 3],
}

impl PixelFormat {
    pub const NATIVE: PixelFormat = PixelFormat {
        bpp: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bpp;
        b[1] = self.depth;
        b[2] = self.big_endian as u8;
        b[3] = self.true_colour as u8;
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    pub fn from_bytes(b: &[u8; 16]) -> PixelFormat {
        let max = |i: usize| u16::from_be_bytes([b[4 + 2 * i], b[5 + 2 * i]]);
        PixelFormat {
            bpp: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [max(0), max(1), max(2)],
            shift: [b[10], b[11], b[12]],
        }
    }

    /// Appends one pixel. Colour-map formats are not offered: such a client gets true colour
    /// at its bit depth anyway.
    fn put(&self, out: &mut Vec<u8>, rgb: [u8; 3]) {
        let mut v: u32 = 0;
        for (i, c) in rgb.iter().enumerate() {
            let scaled = (*c as u32 * self.max[i] as u32 + 127) / 255;
            v |= scaled << self.shift[i];
        }
        let n = (self.bpp / 8).max(1) as usize;
        let bytes = v.to_le_bytes();
        if self.big_endian {
            out.extend(bytes[..n].iter().rev());
        } else {
            out.extend_from_slice(&bytes[..n]);
        }
    }
}

enum Msg {
    Format(PixelFormat),
    Update {
        incremental: bool,
        x: u16,
        y: u16,
        w: u16,
        h: u16,
    },
}

fn read_exact<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn random_challenge() -> [u8; 16] {
    let mut c = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut c);
    }
    c
}

/// Runs the handshake; `Ok(false)` when the client was refused (already told why).
fn handshake(s: &mut impl Conn, shared: &Shared, zone: &str) -> io::Result<bool> {
    s.write_all(b"RFB 003.008\n")?;
    let v: [u8; 12] = read_exact(s)?;
    let minor = match &v {
        b"RFB 003.003\n" => 3,
        b"RFB 003.007\n" => 7,
        v if v.starts_with(b"RFB 003.") => 8,
        _ => return Ok(false),
    };
    let kind: u8 = if shared.password.is_some() { 2 } else { 1 };
    if minor >= 7 {
        s.write_all(&[1, kind])?;
        let [chosen] = read_exact::<1>(s)?;
        if chosen != kind {
            if minor == 8 {
                refuse(s, "security type not offered")?;
            }
            return Ok(false);
        }
    } else {
        s.write_all(&(kind as u32).to_be_bytes())?;
    }
    if let Some(password) = &shared.password {
        let challenge = random_challenge();
        s.write_all(&challenge)?;
        let response: [u8; 16] = read_exact(s)?;
        if response != des::vnc_response(password, &challenge) {
            refuse(s, "authentication failed")?;
            return Ok(false);
        }
        s.write_all(&0u32.to_be_bytes())?;
    } else if minor == 8 {
        s.write_all(&0u32.to_be_bytes())?;
    }
    let _shared_flag: [u8; 1] = read_exact(s)?;
    let mut init = Vec::new();
    init.extend_from_slice(&WIDTH.to_be_bytes());
    init.extend_from_slice(&HEIGHT.to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    init.extend_from_slice(&(zone.len() as u32).to_be_bytes());
    init.extend_from_slice(zone.as_bytes());
    s.write_all(&init)?;
    Ok(true)
}

/// SecurityResult "failed" with its reason (3.8).
fn refuse(s: &mut impl Write, why: &str) -> io::Result<()> {
    s.write_all(&1u32.to_be_bytes())?;
    s.write_all(&(why.len() as u32).to_be_bytes())?;
    s.write_all(why.as_bytes())
}

/// Serves one client until it leaves (or the process exits when the zone halts).
pub fn serve<S: Conn>(mut s: S, shared: Arc<Shared>) -> io::Result<()> {
    let zone = shared
        .screen
        .lock()
        .map(|g| g.zone.clone())
        .unwrap_or_default();
    if !handshake(&mut s, &shared, &zone)? {
        return Ok(());
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let writer = s.try_clone()?;
    let sh = shared.clone();
    std::thread::spawn(move || updates(writer, rx, sh));
    loop {
        let [kind] = read_exact::<1>(&mut s)?;
        match kind {
            0 => {
                let b: [u8; 19] = read_exact(&mut s)?;
                let mut pf = [0u8; 16];
                pf.copy_from_slice(&b[3..19]);
                let _ = tx.send(Msg::Format(PixelFormat::from_bytes(&pf)));
            }
            2 => {
                let b: [u8; 3] = read_exact(&mut s)?;
                let n = u16_at(&b, 1) as usize;
                let mut list = vec![0u8; 4 * n];
                s.read_exact(&mut list)?;
            }
            3 => {
                let b: [u8; 9] = read_exact(&mut s)?;
                let _ = tx.send(Msg::Update {
                    incremental: b[0] != 0,
                    x: u16_at(&b, 1),
                    y: u16_at(&b, 3),
                    w: u16_at(&b, 5),
                    h: u16_at(&b, 7),
                });
            }
            4 => {
                let b: [u8; 7] = read_exact(&mut s)?;
                if b[0] != 0 {
                    if let Ok(mut g) = shared.screen.lock() {
                        g.key(u32_at(&b, 3));
                    }
                }
            }
            5 => {
                let b: [u8; 5] = read_exact(&mut s)?;
                if let Ok(mut g) = shared.screen.lock() {
                    g.pointer = Some((u16_at(&b, 1), u16_at(&b, 3)));
                }
            }
            6 => {
                let b: [u8; 7] = read_exact(&mut s)?;
                let mut text = vec![0u8; u32_at(&b, 3) as usize];
                s.read_exact(&mut text)?;
            }
            // An unknown message cannot be skipped (its length is unknown): end the session.
            _ => return Ok(()),
        }
    }
}

/// Answers update requests in order, in the format last set.
fn updates(mut s: impl Write, rx: mpsc::Receiver<Msg>, shared: Arc<Shared>) {
    let mut pf = PixelFormat::NATIVE;
    // What this client was last sent, row-major RGB; None until a first full send.
    let mut seen: Vec<Option<[u8; 3]>> = vec![None; WIDTH as usize * HEIGHT as usize];
    while let Ok(msg) = rx.recv() {
        let (incremental, x, y, w, h) = match msg {
            Msg::Format(f) => {
                pf = f;
                continue;
            }
            Msg::Update {
                incremental,
                x,
                y,
                w,
                h,
            } => (incremental, x, y, w, h),
        };
        let x0 = x.min(WIDTH) as usize;
        let y0 = y.min(HEIGHT) as usize;
        let x1 = (x as usize + w as usize).min(WIDTH as usize);
        let y1 = (y as usize + h as usize).min(HEIGHT as usize);
        let (rows, px) = loop {
            let screen = shared.screen.lock().map(|g| g.clone()).unwrap_or_default();
            let px = screen.render(shared.tenths());
            if !incremental {
                break ((y0, y1), px);
            }
            let changed: Vec<usize> = (y0..y1)
                .filter(|&r| {
                    (x0..x1).any(|c| {
                        let i = r * WIDTH as usize + c;
                        seen[i] != Some(px[i])
                    })
                })
                .collect();
            if let (Some(first), Some(last)) = (changed.first(), changed.last()) {
                break ((*first, *last + 1), px);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = Vec::new();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&1u16.to_be_bytes());
        for v in [x0, rows.0, x1 - x0, rows.1 - rows.0] {
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        out.extend_from_slice(&0i32.to_be_bytes());
        for r in rows.0..rows.1 {
            for c in x0..x1 {
                let i = r * WIDTH as usize + c;
                pf.put(&mut out, px[i]);
                seen[i] = Some(px[i]);
            }
        }
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_follow_the_clients_format() {
        let mut out = Vec::new();
        PixelFormat::NATIVE.put(&mut out, [0x11, 0x22, 0x33]);
        assert_eq!(out, [0x33, 0x22, 0x11, 0x00]);
        let rgb565 = PixelFormat {
            bpp: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            max: [31, 63, 31],
            shift: [11, 5, 0],
        };
        out.clear();
        rgb565.put(&mut out, [0xff, 0, 0xff]);
        assert_eq!(out, [0xf8, 0x1f]);
        assert_eq!(
            PixelFormat::from_bytes(&rgb565.to_bytes()),
            rgb565,
            "round trip"
        );
    }
}
