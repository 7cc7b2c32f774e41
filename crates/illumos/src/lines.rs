//! Reading a child's output without trusting it: lines of bounded length, and bounded keeps of
//! what was read.
//!
//! `read_until(b'\n')` grows its buffer until a newline comes, so a program that prints a
//! gigabyte without one costs a gigabyte. [`LineReader`] never holds more than its limit of one
//! line: the rest of an overlong line is read and counted, not kept. [`Keep`] holds at most a
//! limit of the text a caller wants afterwards (the head of stdout to parse, the tail of stderr
//! for an error message) and counts what it let go.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A line as read: its first bytes (newline and a trailing CR removed) and how many bytes of it
/// were past the limit and dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Line {
    pub bytes: Vec<u8>,
    pub dropped: u64,
}

impl Line {
    /// The kept text, with a mark saying how much was cut when something was.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        if self.dropped == 0 {
            text.into_owned()
        } else {
            format!("{text} [line cut: {} more bytes dropped]", self.dropped)
        }
    }

    /// Bytes the line had on the stream, newline included.
    pub fn stream_len(&self) -> u64 {
        self.bytes.len() as u64 + self.dropped + 1
    }
}

/// Reads lines of at most `max` bytes each from a stream (see the module's doc).
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            max,
        }
    }

    /// The next line, `None` at the end of the stream. An error of the stream ends it too: the
    /// caller reads a child's pipe, and a broken pipe means the child is gone.
    pub async fn next_line(&mut self) -> Option<Line> {
        let mut line = Line::default();
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf().await {
                Ok(a) if !a.is_empty() => a,
                _ => break,
            };
            any = true;
            let newline = avail.iter().position(|&b| b == b'\n');
            let chunk = &avail[..newline.unwrap_or(avail.len())];
            let room = self.max.saturating_sub(line.bytes.len());
            let take = room.min(chunk.len());
            line.bytes.extend_from_slice(&chunk[..take]);
            line.dropped += (chunk.len() - take) as u64;
            let used = newline.map_or(avail.len(), |i| i + 1);
            self.inner.consume(used);
            if newline.is_some() {
                break;
            }
        }
        if !any {
            return None;
        }
        if line.dropped == 0 && line.bytes.last() == Some(&b'\r') {
            line.bytes.pop();
        }
        Some(line)
    }
}

/// Which end of a text [`Keep`] holds on to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The first bytes (output to parse: a cut is detected, never silently parsed).
    Head,
    /// The last bytes (stderr for an error message: the reason is usually at the end).
    Tail,
}

/// At most `max` bytes of text, from one [`End`], and a count of the bytes let go.
#[derive(Debug, Clone)]
pub struct Keep {
    text: String,
    max: usize,
    end: End,
    dropped: u64,
}

impl Keep {
    pub fn new(max: usize, end: End) -> Self {
        Keep {
            text: String::new(),
            max,
            end,
            dropped: 0,
        }
    }

    /// Adds one line (a newline is appended).
    pub fn push_line(&mut self, line: &str) {
        if self.end == End::Head && self.text.len() >= self.max {
            self.dropped += line.len() as u64 + 1;
            return;
        }
        self.text.push_str(line);
        self.text.push('\n');
        match self.end {
            End::Head if self.text.len() > self.max => {
                let cut = floor_boundary(&self.text, self.max);
                self.dropped += (self.text.len() - cut) as u64;
                self.text.truncate(cut);
            }
            // Trimmed only once twice the limit is reached, so a flood of short lines moves
            // each byte a bounded number of times instead of the whole tail per line.
            End::Tail if self.text.len() > 2 * self.max => self.trim_tail(),
            _ => {}
        }
    }

    fn trim_tail(&mut self) {
        if self.text.len() > self.max {
            let cut = ceil_boundary(&self.text, self.text.len() - self.max);
            self.dropped += cut as u64;
            self.text.drain(..cut);
        }
    }

    /// Counts bytes that never reached [`Keep::push_line`] (cut from an overlong line).
    pub fn count_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn finish(&mut self) {
        if self.end == End::Tail {
            self.trim_tail();
        }
    }

    /// The most bytes kept.
    pub fn max(&self) -> usize {
        self.max
    }

    pub fn into_text(mut self) -> String {
        self.finish();
        self.text
    }

    /// The text, preceded (tail) or followed (head) by a note of what was dropped, if anything.
    pub fn into_marked(mut self) -> String {
        self.finish();
        if self.dropped == 0 {
            return self.text;
        }
        match self.end {
            End::Head => format!("{}[{} more bytes dropped]\n", self.text, self.dropped),
            End::Tail => format!("[{} earlier bytes dropped]\n{}", self.dropped, self.text),
        }
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await {
            out.push(l);
        }
        out
    }

    #[tokio::test]
    async fn short_lines_come_whole_without_newline_or_cr() {
        let l = lines(b"one\r\ntwo\nlast", 16).await;
        let texts: Vec<String> = l.iter().map(Line::text).collect();
        assert_eq!(texts, ["one", "two", "last"]);
        assert!(l.iter().all(|l| l.dropped == 0));
    }

    #[tokio::test]
    async fn a_long_line_is_cut_counted_and_marked_and_the_next_line_is_intact() {
        // Longer than BufReader's own 8 KiB buffer, so the cut spans several reads.
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b"\nafter\n");
        let l = lines(&input, 10).await;
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].bytes, b"xxxxxxxxxx");
        assert_eq!(l[0].dropped, 99_990);
        assert_eq!(
            l[0].text(),
            "xxxxxxxxxx [line cut: 99990 more bytes dropped]"
        );
        assert_eq!(l[0].stream_len(), 100_001);
        assert_eq!(l[1].text(), "after");
    }

    #[test]
    fn a_tail_keeps_the_last_bytes_and_counts_the_rest() {
        let mut k = Keep::new(8, End::Tail);
        for l in ["first", "second", "end"] {
            k.push_line(l);
        }
        k.count_dropped(5);
        assert_eq!(k.clone().into_text(), "ond\nend\n");
        assert_eq!(k.into_marked(), "[14 earlier bytes dropped]\nond\nend\n");
    }

    #[test]
    fn a_head_keeps_the_first_bytes_and_stops_growing() {
        let mut k = Keep::new(8, End::Head);
        for l in ["first", "second", "end"] {
            k.push_line(l);
        }
        assert_eq!(k.clone().into_text(), "first\nse");
        assert_eq!(k.dropped(), 17 - 8);
        // Multi-byte text is never split inside a character.
        let mut k = Keep::new(3, End::Head);
        k.push_line("éé");
        assert_eq!(k.into_text(), "é");
    }
}
