//! What a guest prints, made fit for a task's log: secrets masked, and a line no longer than
//! [`MAX_LINE_BYTES`]. The guest is not trusted, so the cut must never reveal part of a secret
//! and never depend on the guest ending its lines.

/// Longest line of guest output passed on to the log; the rest is dropped and counted.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// `text` with every secret replaced by `********`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut t = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        t = t.replace(s.as_str(), "********");
    }
    t
}

/// How many bytes past [`MAX_LINE_BYTES`] a reader must keep so that a secret straddling the
/// cut is seen whole (and left out).
pub fn slack(secrets: &[String]) -> usize {
    secrets.iter().map(String::len).max().unwrap_or(0)
}

/// `raw` masked, cut to at most [`MAX_LINE_BYTES`] and marked when it is longer or when its
/// reader already dropped `dropped` bytes of it. The cut moves before any secret it would split,
/// so no part of one shows. Returns the line and the bytes it lost.
pub fn line(raw: &str, dropped: u64, secrets: &[String]) -> (String, u64) {
    if raw.len() <= MAX_LINE_BYTES && dropped == 0 {
        return (mask(raw, secrets), 0);
    }
    let mut cut = MAX_LINE_BYTES.min(raw.len());
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    // Moving the cut back may split another (overlapping) secret: repeat until none is split.
    loop {
        let split = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| raw.match_indices(s.as_str()))
            .filter(|(i, s)| *i < cut && i + s.len() > cut)
            .map(|(i, _)| i)
            .min();
        match split {
            Some(i) => cut = i,
            None => break,
        }
    }
    let lost = (raw.len() - cut) as u64 + dropped;
    (
        format!(
            "{} [line cut: {lost} more bytes dropped]",
            mask(&raw[..cut], secrets)
        ),
        lost,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_only_masked() {
        let s = vec!["hunter2".to_owned()];
        assert_eq!(line("pw hunter2 ok", 0, &s), ("pw ******** ok".into(), 0));
    }

    #[test]
    fn a_long_line_is_cut_and_a_secret_across_the_cut_never_shows_in_part() {
        let secret = "S3cret-value".to_owned();
        let s = vec![secret.clone()];
        // The secret starts 4 bytes before the cut.
        let raw = format!(
            "{}{secret}{}",
            "a".repeat(MAX_LINE_BYTES - 4),
            "b".repeat(100)
        );
        let (text, lost) = line(&raw, 50, &s);
        assert!(!text.contains("S3cr"), "{}", &text[text.len() - 80..]);
        assert!(text.starts_with(&"a".repeat(MAX_LINE_BYTES - 4)));
        assert_eq!(lost, (secret.len() + 100 + 50) as u64);
        assert!(text.ends_with(&format!(" [line cut: {lost} more bytes dropped]")));
        // Whole secrets before the cut are masked as usual.
        let raw = format!("{secret} {}", "c".repeat(MAX_LINE_BYTES * 2));
        let (text, _) = line(&raw, 0, &s);
        assert!(text.starts_with("******** ccc") && !text.contains("S3"));
        assert!(text.len() < MAX_LINE_BYTES + 64);
    }
}
