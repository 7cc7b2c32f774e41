//! The emulated guest's screen: a 640x480 true-colour framebuffer that shows the zone's name
//! in a title bar, a clock (tenths of a second since the VNC server started, so two updates a
//! moment apart differ), the keys typed so far and the last pointer position.
//!
//! Layout (what tests may rely on): the title bar is rows 0..TITLE_H, background TITLE_BG,
//! the name drawn in TEXT_FG at scale 4 from (16, 10); the clock line starts at row CLOCK_Y;
//! the typed-keys line at row KEYS_Y.

pub const WIDTH: u16 = 640;
pub const HEIGHT: u16 = 480;
pub const TITLE_H: u16 = 48;
pub const CLOCK_Y: u16 = 120;
pub const KEYS_Y: u16 = 220;
pub const POINTER_Y: u16 = 320;

/// Colours as (r, g, b).
pub const BACKGROUND: [u8; 3] = [0x10, 0x20, 0x40];
pub const TITLE_BG: [u8; 3] = [0x30, 0x60, 0xa0];
pub const TEXT_FG: [u8; 3] = [0xff, 0xff, 0xff];
pub const CLOCK_FG: [u8; 3] = [0xff, 0xd0, 0x00];
pub const KEYS_FG: [u8; 3] = [0x40, 0xff, 0x40];

/// Keys kept on screen.
const KEYS_MAX: usize = 24;

/// What the guest shows; rendered on demand.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    pub zone: String,
    pub typed: String,
    pub pointer: Option<(u16, u16)>,
}

impl Screen {
    pub fn new(zone: &str) -> Screen {
        Screen {
            zone: zone.to_string(),
            ..Screen::default()
        }
    }

    /// An X11 keysym pressed: printable Latin-1 is typed, BackSpace erases, Return clears.
    pub fn key(&mut self, keysym: u32) {
        match keysym {
            0x20..=0x7e => {
                self.typed.push(keysym as u8 as char);
                if self.typed.len() > KEYS_MAX {
                    self.typed.remove(0);
                }
            }
            0xff08 => {
                self.typed.pop();
            }
            0xff0d => self.typed.clear(),
            _ => {}
        }
    }

    /// The whole framebuffer as RGB triples, row by row.
    pub fn render(&self, tenths: u64) -> Vec<[u8; 3]> {
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let mut px = vec![BACKGROUND; w * h];
        for p in px.iter_mut().take(w * TITLE_H as usize) {
            *p = TITLE_BG;
        }
        text(&mut px, 16, 10, 4, TEXT_FG, &self.zone);
        text(
            &mut px,
            16,
            CLOCK_Y as usize,
            3,
            CLOCK_FG,
            &format!("T {tenths:08}"),
        );
        text(
            &mut px,
            16,
            KEYS_Y as usize,
            3,
            KEYS_FG,
            &format!("> {}", self.typed),
        );
        if let Some((x, y)) = self.pointer {
            text(
                &mut px,
                16,
                POINTER_Y as usize,
                2,
                TEXT_FG,
                &format!("P {x},{y}"),
            );
        }
        px
    }
}

/// Draws `s` with the 5x7 font scaled by `scale`, 6 columns per character; what does not
/// fit is cut.
pub fn text(px: &mut [[u8; 3]], x0: usize, y0: usize, scale: usize, fg: [u8; 3], s: &str) {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    for (i, c) in s.chars().enumerate() {
        let rows = glyph(c);
        for (gy, row) in rows.iter().enumerate() {
            for gx in 0..5 {
                if row & (0x10 >> gx) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = x0 + (i * 6 + gx) * scale + dx;
                        let y = y0 + gy * scale + dy;
                        if x < w && y < h {
                            px[y * w + x] = fg;
                        }
                    }
                }
            }
        }
    }
}

/// A 5x7 glyph, one byte per row, bit 4 the leftmost column. Lower case is drawn as upper.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'C' => [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
        'D' => [0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e],
        'E' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'G' => [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
        'H' => [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'Q' => [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
        'X' => [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04],
        'Z' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        ' ' => [0; 7],
        _ => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_drawn_in_the_title_bar_and_the_clock_changes_the_picture() {
        let s = Screen::new("web01");
        let a = s.render(1);
        let w = WIDTH as usize;
        // The top-left pixel of 'W' at scale 4, from (16, 10).
        assert_eq!(a[10 * w + 16], TEXT_FG);
        assert_eq!(a[0], TITLE_BG);
        assert_ne!(a, s.render(2));
        assert_eq!(a, s.render(1));
    }

    #[test]
    fn typed_keys_show_and_backspace_erases() {
        let mut s = Screen::new("z");
        for k in [b'h' as u32, b'i' as u32, 0xff08, b'o' as u32] {
            s.key(k);
        }
        assert_eq!(s.typed, "ho");
        s.key(0xff0d);
        assert_eq!(s.typed, "");
    }
}
