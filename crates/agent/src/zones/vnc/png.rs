//! A minimal PNG encoder (RGB, 8 bits a channel, no filtering) over flate2, which the agent
//! already uses: a screenshot needs nothing more, and a PNG crate would add a dependency for
//! forty lines.

use std::io::{Read, Write};

/// CRC-32 (ISO 3309, as PNG's chunks use it).
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in parts.iter().flat_map(|p| p.iter()) {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// Encodes a row-major RGB image (`rgb.len() == width * height * 3`).
pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    assert_eq!(rgb.len(), width as usize * height as usize * 3);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, truecolour, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = width as usize * 3;
    for line in rgb.chunks_exact(row.max(1)).take(height as usize) {
        // Writing to a Vec cannot fail.
        let _ = z.write_all(&[0]);
        let _ = z.write_all(line);
    }
    let idat = z.finish().unwrap_or_default();
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Decodes what [`encode_rgb`] writes (and any non-interlaced 8-bit RGB PNG whose rows all
/// use filter 0), checking every chunk's CRC: (width, height, rgb). For tests and tools
/// that check a screenshot.
pub fn decode_rgb(png: &[u8]) -> Result<(u32, u32, Vec<u8>), String> {
    let rest = png
        .strip_prefix(b"\x89PNG\r\n\x1a\n")
        .ok_or("no PNG signature")?;
    let (mut i, mut header, mut idat) = (0, None, Vec::new());
    while i + 12 <= rest.len() {
        let len = u32::from_be_bytes(rest[i..i + 4].try_into().unwrap()) as usize;
        let kind = &rest[i + 4..i + 8];
        let data = rest
            .get(i + 8..i + 8 + len)
            .ok_or("a chunk runs past the end")?;
        let crc = u32::from_be_bytes(rest[i + 8 + len..i + 12 + len].try_into().unwrap());
        if crc != crc32(&[kind, data]) {
            return Err(format!("bad CRC in {}", String::from_utf8_lossy(kind)));
        }
        match kind {
            b"IHDR" => {
                let w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                let h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                if data[8..] != [8, 2, 0, 0, 0] {
                    return Err(format!("unsupported IHDR {:?}", &data[8..]));
                }
                header = Some((w, h));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        i += 12 + len;
    }
    let (w, h) = header.ok_or("no IHDR")?;
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let row = w as usize * 3;
    if raw.len() != h as usize * (row + 1) {
        return Err(format!("{} bytes of image data for {w}x{h}", raw.len()));
    }
    let mut rgb = Vec::with_capacity(row * h as usize);
    for line in raw.chunks_exact(row + 1) {
        if line[0] != 0 {
            return Err(format!("filter {}", line[0]));
        }
        rgb.extend_from_slice(&line[1..]);
    }
    Ok((w, h, rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_value() {
        assert_eq!(crc32(&[b"IEND"]), 0xae42_6082);
    }

    #[test]
    fn an_encoded_image_decodes_to_its_pixels() {
        let rgb: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let png = encode_rgb(5, 3, &rgb);
        assert_eq!(decode_rgb(&png).unwrap(), (5, 3, rgb));
        // The well-known empty IEND chunk ends the file.
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    }
}
