//! A minimal RFB client (RFC 6143) for screenshots: the 3.8 (or 3.3) handshake with security
//! None, SetPixelFormat to 32 bpp little-endian true colour, SetEncodings Raw and CopyRect, one
//! full FramebufferUpdateRequest, and the update that answers it, painted into an RGB buffer.
//! A server that asks for VNC Authentication is answered with the zone's own password (from
//! its `vnc` attr, see `endpoint.rs`); None is preferred when both are offered.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::des;
use super::endpoint::Password;

/// The largest framebuffer accepted (bhyve's own maximum is 1920x1200).
const MAX_SIDE: u16 = 4096;
/// The longest desktop name or cut text read (the rest of a longer one is refused).
const MAX_TEXT: u32 = 64 * 1024;

/// A framebuffer, row-major RGB, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u16,
    pub height: u16,
    pub name: String,
    pub rgb: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RfbError {
    #[error("the VNC connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the VNC server is not speaking RFB as expected: {0}")]
    Protocol(String),
    #[error(
        "the VNC server asks for a password (VNC Authentication), and the zone's vnc attr sets none"
    )]
    NeedsPassword,
    #[error("the VNC server refused the zone's password: {0}")]
    AuthFailed(String),
    #[error("the VNC server refused the connection: {0}")]
    Refused(String),
}

fn protocol(msg: impl Into<String>) -> RfbError {
    RfbError::Protocol(msg.into())
}

async fn u8_<S: AsyncRead + Unpin>(s: &mut S) -> Result<u8, RfbError> {
    Ok(s.read_u8().await?)
}

async fn u16_<S: AsyncRead + Unpin>(s: &mut S) -> Result<u16, RfbError> {
    Ok(s.read_u16().await?)
}

async fn u32_<S: AsyncRead + Unpin>(s: &mut S) -> Result<u32, RfbError> {
    Ok(s.read_u32().await?)
}

async fn skip<S: AsyncRead + Unpin>(s: &mut S, n: u64) -> Result<(), RfbError> {
    let copied = tokio::io::copy(&mut s.take(n), &mut tokio::io::sink()).await?;
    if copied < n {
        return Err(RfbError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

async fn text<S: AsyncRead + Unpin>(s: &mut S) -> Result<String, RfbError> {
    let n = u32_(s).await?;
    if n > MAX_TEXT {
        return Err(protocol(format!("a text of {n} bytes")));
    }
    let mut b = vec![0u8; n as usize];
    s.read_exact(&mut b).await?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// Version and security: None when offered, else VNC Authentication with `password`.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    password: Option<&Password>,
) -> Result<(), RfbError> {
    let mut v = [0u8; 12];
    s.read_exact(&mut v).await?;
    let minor = match &v[..8] {
        b"RFB 003." => match &v[8..] {
            b"003\n" | b"005\n" => 3, // 3.5 is an old 3.3 (RFC 6143 §7.1.1)
            b"007\n" => 7,
            _ => 8,
        },
        _ => {
            return Err(protocol(format!(
                "greeting {:?}",
                String::from_utf8_lossy(&v)
            )))
        }
    };
    let reply: &[u8] = match minor {
        3 => b"RFB 003.003\n",
        7 => b"RFB 003.007\n",
        _ => b"RFB 003.008\n",
    };
    s.write_all(reply).await?;
    // 3.3: the server decides, as a u32; later: it offers a list and the client picks.
    let kind = if minor == 3 {
        match u32_(s).await? {
            0 => return Err(RfbError::Refused(text(s).await?)),
            t @ (1 | 2) => t as u8,
            t => return Err(protocol(format!("security type {t}"))),
        }
    } else {
        let n = u8_(s).await?;
        if n == 0 {
            return Err(RfbError::Refused(text(s).await?));
        }
        let mut types = vec![0u8; n as usize];
        s.read_exact(&mut types).await?;
        let kind = if types.contains(&1) {
            1
        } else if types.contains(&2) {
            2
        } else {
            return Err(protocol(format!("no supported security type in {types:?}")));
        };
        if kind == 2 && password.is_none() {
            return Err(RfbError::NeedsPassword);
        }
        s.write_all(&[kind]).await?;
        kind
    };
    if kind == 2 {
        let password = password.ok_or(RfbError::NeedsPassword)?;
        let mut challenge = [0u8; 16];
        s.read_exact(&mut challenge).await?;
        s.write_all(&des::vnc_response(password.as_bytes(), &challenge))
            .await?;
    }
    // SecurityResult: always after VNC Authentication, after None only in 3.8.
    if (kind == 2 || minor == 8) && u32_(s).await? != 0 {
        // Only 3.8 gives a reason.
        let why = if minor == 8 {
            text(s).await?
        } else {
            String::new()
        };
        return Err(if kind == 2 {
            RfbError::AuthFailed(why)
        } else {
            RfbError::Refused(why)
        });
    }
    Ok(())
}

/// Our pixel format: 32 bpp, depth 24, little-endian, true colour, red at bit 16.
const PIXEL_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// Connects (answering VNC Authentication with `password` if asked), asks for the whole
/// screen and returns it.
pub async fn screenshot<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    password: Option<&Password>,
) -> Result<Frame, RfbError> {
    handshake(&mut s, password).await?;
    s.write_all(&[1]).await?; // ClientInit: shared
    let width = u16_(&mut s).await?;
    let height = u16_(&mut s).await?;
    let mut server_format = [0u8; 16];
    s.read_exact(&mut server_format).await?;
    let name = text(&mut s).await?;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(protocol(format!("a framebuffer of {width}x{height}")));
    }
    let mut msgs = vec![0u8, 0, 0, 0];
    msgs.extend_from_slice(&PIXEL_FORMAT);
    msgs.extend_from_slice(&[2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]); // SetEncodings Raw, CopyRect
    msgs.extend_from_slice(&[3, 0, 0, 0, 0, 0]); // FramebufferUpdateRequest, not incremental
    msgs.extend_from_slice(&width.to_be_bytes());
    msgs.extend_from_slice(&height.to_be_bytes());
    s.write_all(&msgs).await?;
    s.flush().await?;
    let mut frame = Frame {
        width,
        height,
        name,
        rgb: vec![0u8; width as usize * height as usize * 3],
    };
    loop {
        match u8_(&mut s).await? {
            0 => {
                read_update(&mut s, &mut frame).await?;
                return Ok(frame);
            }
            1 => {
                let mut h = [0u8; 5];
                s.read_exact(&mut h).await?;
                let n = u16::from_be_bytes([h[3], h[4]]);
                skip(&mut s, 6 * n as u64).await?;
            }
            2 => {} // Bell
            3 => {
                skip(&mut s, 3).await?;
                text(&mut s).await?;
            }
            t => return Err(protocol(format!("server message type {t}"))),
        }
    }
}

/// One FramebufferUpdate (its type byte already read), painted into `frame`.
async fn read_update<S: AsyncRead + Unpin>(s: &mut S, frame: &mut Frame) -> Result<(), RfbError> {
    skip(s, 1).await?;
    let rects = u16_(s).await?;
    let fw = frame.width as usize;
    for _ in 0..rects {
        let (x, y, w, h) = (
            u16_(s).await?,
            u16_(s).await?,
            u16_(s).await?,
            u16_(s).await?,
        );
        let encoding = s.read_i32().await?;
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if x + w > fw || y + h > frame.height as usize {
            return Err(protocol(format!(
                "a rectangle {w}x{h}+{x}+{y} outside the screen"
            )));
        }
        match encoding {
            0 => {
                let mut row = vec![0u8; w * 4];
                for r in y..y + h {
                    s.read_exact(&mut row).await?;
                    for (c, px) in row.chunks_exact(4).enumerate() {
                        let i = (r * fw + x + c) * 3;
                        frame.rgb[i..i + 3].copy_from_slice(&[px[2], px[1], px[0]]);
                    }
                }
            }
            1 => {
                let (sx, sy) = (u16_(s).await? as usize, u16_(s).await? as usize);
                if sx + w > fw || sy + h > frame.height as usize {
                    return Err(protocol("a CopyRect source outside the screen"));
                }
                copy_rect(frame, (sx, sy), (x, y), (w, h));
            }
            e => return Err(protocol(format!("encoding {e}, which was not asked for"))),
        }
    }
    Ok(())
}

/// Copies a rectangle within the frame; overlapping areas copy as if through a buffer.
fn copy_rect(frame: &mut Frame, from: (usize, usize), to: (usize, usize), size: (usize, usize)) {
    let fw = frame.width as usize;
    let rows: Vec<Vec<u8>> = (0..size.1)
        .map(|r| {
            let i = ((from.1 + r) * fw + from.0) * 3;
            frame.rgb[i..i + size.0 * 3].to_vec()
        })
        .collect();
    for (r, row) in rows.iter().enumerate() {
        let i = ((to.1 + r) * fw + to.0) * 3;
        frame.rgb[i..i + size.0 * 3].copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted RFB 3.8 server: what it sends, all at once; what the client writes is
    /// checked afterwards.
    fn server_bytes(rects: &[u8], n_rects: u16) -> Vec<u8> {
        let mut b = b"RFB 003.008\n".to_vec();
        b.extend_from_slice(&[1, 1]);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&4u16.to_be_bytes());
        b.extend_from_slice(&2u16.to_be_bytes());
        b.extend_from_slice(&PIXEL_FORMAT);
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(b"vm1");
        b.extend_from_slice(&[2]); // a Bell before the update is skipped
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&n_rects.to_be_bytes());
        b.extend_from_slice(rects);
        b
    }

    fn rect(x: u16, y: u16, w: u16, h: u16, enc: i32) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [x, y, w, h] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&enc.to_be_bytes());
        b
    }

    async fn run(server: Vec<u8>) -> (Result<Frame, RfbError>, Vec<u8>) {
        run_with(server, None).await
    }

    async fn run_with(
        server: Vec<u8>,
        password: Option<&Password>,
    ) -> (Result<Frame, RfbError>, Vec<u8>) {
        let (client, mut far) = tokio::io::duplex(1 << 20);
        far.write_all(&server).await.unwrap();
        let shot = screenshot(client, password).await;
        drop(far.shutdown().await);
        let mut sent = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            far.read_to_end(&mut sent),
        )
        .await;
        (shot, sent)
    }

    #[tokio::test]
    async fn raw_then_copyrect_paint_the_frame() {
        // 4x2: Raw paints the top row red..., CopyRect copies its left half to the bottom right.
        let mut rects = rect(0, 0, 4, 1, 0);
        for (r, g, b) in [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)] {
            rects.extend_from_slice(&[b, g, r, 0]);
        }
        rects.extend(rect(2, 1, 2, 1, 1));
        rects.extend_from_slice(&[0, 0, 0, 0]);
        let (shot, sent) = run(server_bytes(&rects, 2)).await;
        let f = shot.unwrap();
        assert_eq!((f.width, f.height, f.name.as_str()), (4, 2, "vm1"));
        assert_eq!(&f.rgb[..12], &[255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
        assert_eq!(&f.rgb[12..], &[0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0]);
        // The client said 3.8, chose None, shared, then SetPixelFormat, SetEncodings, request.
        assert_eq!(&sent[..14], b"RFB 003.008\n\x01\x01");
        assert_eq!(&sent[14..18], &[0, 0, 0, 0]);
        assert_eq!(&sent[18..34], &PIXEL_FORMAT);
        assert_eq!(&sent[34..46], &[2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&sent[46..], &[3, 0, 0, 0, 0, 0, 0, 4, 0, 2]);
    }

    #[tokio::test]
    async fn a_password_or_a_rectangle_off_screen_is_an_error() {
        let mut b = b"RFB 003.008\n".to_vec();
        b.extend_from_slice(&[1, 2]);
        assert!(matches!(run(b).await.0, Err(RfbError::NeedsPassword)));
        let (shot, _) = run(server_bytes(&rect(3, 0, 2, 1, 0), 1)).await;
        assert!(matches!(shot, Err(RfbError::Protocol(_))), "{shot:?}");
    }

    fn zone_password(p: &str) -> Password {
        super::super::endpoint::Setting::parse(&format!("password={p}"))
            .password()
            .cloned()
            .unwrap()
    }

    /// The server offers only VNC Authentication: the client picks it and answers the
    /// challenge with the DES response for the zone's password, then reads the result.
    #[tokio::test]
    async fn vnc_authentication_answers_the_challenge_with_the_zones_password() {
        let challenge: [u8; 16] = std::array::from_fn(|i| 0xf0 + i as u8);
        let mut b = b"RFB 003.008\n".to_vec();
        b.extend_from_slice(&[1, 2]);
        b.extend_from_slice(&challenge);
        let frame = server_bytes(&rect(0, 0, 1, 1, 0), 1);
        b.extend_from_slice(&frame[12 + 2..]); // SecurityResult OK, ServerInit, the update...
        b.extend_from_slice(&[0, 0, 0, 0]); // ...whose one pixel
        let (shot, sent) = run_with(b, Some(&zone_password("zonepass"))).await;
        assert_eq!(shot.unwrap().name, "vm1");
        assert_eq!(&sent[..13], b"RFB 003.008\n\x02");
        assert_eq!(
            u128::from_be_bytes(sent[13..29].try_into().unwrap()),
            0x234fa88b14ce83ad49bc7fe51388477f,
            "the response openssl gives for this challenge and password"
        );
        assert_eq!(sent[29], 1, "then ClientInit");
    }

    #[tokio::test]
    async fn a_refused_password_says_why() {
        let mut b = b"RFB 003.008\n".to_vec();
        b.extend_from_slice(&[1, 2]);
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&21u32.to_be_bytes());
        b.extend_from_slice(b"authentication failed");
        let (shot, _) = run_with(b, Some(&zone_password("wrong"))).await;
        assert!(
            matches!(&shot, Err(RfbError::AuthFailed(why)) if why == "authentication failed"),
            "{shot:?}"
        );
    }
}
