//! What the bhyve brand and cloud-init in the guest make of a zone's `sshkey` at boot.
//!
//! From the OmniOS bhyve brand (its boot python, run in the global zone at every boot, and
//! bhyve(7)): with `cloud-init` on (the default is off), the brand builds the guest's NoCloud
//! data; `sshkey` is read as a file when its value is an absolute path naming a regular file
//! (read whole, in the global zone, stripped), and is the key text itself otherwise; the text
//! becomes ONE entry of `ssh_authorized_keys`. A `cloud-init` naming a file is used as the
//! user-data instead (the `sshkey` attribute is then not used); a URL is fetched by the guest.
//!
//! From cloud-init (`cloudinit/ssh_util.py`: `AuthKeyLineParser.parse`,
//! `update_authorized_keys`, `setup_user_keys`; `cc_ssh.apply_credentials`): the entry is
//! parsed as one line. An entry whose text (line ends cut) starts with `#` or is blank is no
//! key and is dropped whole (only keys with a type and a key are added). Otherwise it is split
//! with Python's `split(None, 2)` into type, key and the rest (the comment, newlines kept); when
//! the first word is not a known type, options are cut off first (up to a blank outside double
//! quotes) and the rest split so. The entry is written back as options, type, key and comment
//! joined by single spaces. root gets the entry twice: from the `users` entry (users-groups,
//! options as parsed) and from the top-level `ssh_authorized_keys` (`cc_ssh`, which passes
//! `options=""` for root when `disable_root` is false, as the brand sets it, so the first key's
//! own options are dropped). Each pass parses the existing file line by line, replaces a key
//! with the same base64 by the new entry and appends the rest. The ssh module runs once per
//! instance (the instance id is the zone's uuid): keys reach the guest at its first boot with
//! cloud-init, not again.

use std::path::Path;

use crate::ctx::Ctx;

/// The guest file cloud-init writes root's keys to, and its once-per-instance marker.
pub const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";
const SEMAPHORE: &str = "/var/lib/cloud/instance/sem/config_ssh";

/// Runs at boot, after the zone is ready: the keys the guest gets, if it gets any now.
pub fn at_boot(cx: &mut Ctx, z: &str) {
    let Some(zone) = cx.st.zones.get(z) else {
        return;
    };
    if zone.cfg.brand != "bhyve" || zone.guest.files.contains_key(SEMAPHORE) {
        return;
    }
    let attr = |name: &str| {
        zone.cfg
            .resources
            .iter()
            .filter(|r| r.kind == "attr")
            .find(|r| r.get("name") == Some(name))
            .and_then(|r| r.get("value"))
            .map(str::to_owned)
    };
    let cloud_init = attr("cloud-init").unwrap_or_else(|| "off".into());
    let generated = match cloud_init.as_str() {
        "true" | "yes" | "on" | "1" => true,
        "false" | "no" | "off" | "0" => return,
        v if v.starts_with("http://") || v.starts_with("https://") => return,
        // A user-data file of the admin's own replaces what the brand generates.
        v => !(v.starts_with('/') && cx.host.in_root(v).is_file()),
    };
    let keys = attr("sshkey")
        .filter(|_| generated)
        .map(|v| file_or_string(&cx.host.in_root(&v), &v));
    let Some(zone) = cx.st.zones.get_mut(z) else {
        return;
    };
    if let Some(entry) = keys {
        let old = zone.guest.files.get(AUTHORIZED_KEYS).map(String::as_str);
        let text = root_keys(old, &entry);
        zone.guest.files.insert(AUTHORIZED_KEYS.into(), text);
    }
    zone.guest.files.insert(SEMAPHORE.into(), String::new());
    cx.touch();
}

/// root's `authorized_keys` after the brand's one entry: users-groups (root's `users`
/// entry, options as parsed), then `cc_ssh` (root, options "").
fn root_keys(existing: Option<&str>, entry: &str) -> String {
    let mut file = existing.map(str::to_owned);
    for options in [None, Some("")] {
        let old = file.as_deref().map(parse_file).unwrap_or_default();
        file = Some(update_authorized_keys(old, vec![parse(entry, options)]));
    }
    file.unwrap_or_default()
}

/// The brand's reading of `sshkey`: a file's text when the value is an absolute path to a
/// regular file (`local` is where it lies in the emulated root), else the value; stripped.
fn file_or_string(local: &Path, value: &str) -> String {
    if value.starts_with('/') && local.is_file() {
        if let Ok(text) = std::fs::read_to_string(local) {
            return text.trim().to_owned();
        }
    }
    value.trim().to_owned()
}

/// cloud-init's `VALID_KEY_TYPES`.
const VALID_KEY_TYPES: &[&str] = &[
    "dsa",
    "rsa",
    "ecdsa",
    "ed25519",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-xmss-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
];

/// One parsed line (cloud-init's `AuthKeyLine`): a key when it has a type and a key.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    source: String,
    options: String,
    key: Option<(String, String, String)>,
}

impl Entry {
    fn not_a_key(source: &str) -> Self {
        Entry {
            source: source.to_owned(),
            options: String::new(),
            key: None,
        }
    }

    /// `str()` of the line: its non-empty parts joined by spaces, else the source.
    fn text(&self) -> String {
        let Some((kind, key, comment)) = &self.key else {
            return self.source.clone();
        };
        [&self.options, kind, key, comment]
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Python's `str.isspace` for the characters `split()` splits at.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `ent.split(None, 2)`: at most three words, the last keeping everything after the second
/// run of blanks (newlines included), as a key type, a key and a comment.
fn split3(ent: &str) -> Option<(String, String, String)> {
    let ent = ent.trim_start_matches(py_space);
    let (kind, rest) = ent.split_once(py_space)?;
    let rest = rest.trim_start_matches(py_space);
    if rest.is_empty() || !VALID_KEY_TYPES.contains(&kind) {
        return None;
    }
    let (key, comment) = match rest.split_once(py_space) {
        Some((k, c)) => (k, c.trim_start_matches(py_space)),
        None => (rest, ""),
    };
    Some((kind.into(), key.into(), comment.into()))
}

/// `_extract_options`: the text up to a space or tab outside double quotes (`\"` inside them
/// does not close them), and the rest without its leading blanks.
fn extract_options(ent: &str) -> (&str, &str) {
    let chars: Vec<(usize, char)> = ent.char_indices().collect();
    let (mut i, mut quoted) = (0, false);
    while i < chars.len() && (quoted || !matches!(chars[i].1, ' ' | '\t')) {
        if i + 1 >= chars.len() {
            i += 1;
            break;
        }
        match (chars[i].1, chars[i + 1].1) {
            ('\\', '"') => i += 1,
            ('"', _) => quoted = !quoted,
            _ => {}
        }
        i += 1;
    }
    let at = chars.get(i).map_or(ent.len(), |(b, _)| *b);
    (&ent[..at], ent[at..].trim_start_matches(py_space))
}

/// `AuthKeyLineParser.parse(src, options)`.
fn parse(src: &str, options: Option<&str>) -> Entry {
    let line = src.trim_end_matches(['\r', '\n']);
    if line.starts_with('#') || line.trim_matches(py_space).is_empty() {
        return Entry::not_a_key(src);
    }
    let ent = line.trim_matches(py_space);
    if let Some(key) = split3(ent) {
        return Entry {
            source: src.into(),
            options: options.unwrap_or("").into(),
            key: Some(key),
        };
    }
    let (found, remain) = extract_options(ent);
    match split3(remain) {
        Some(key) => Entry {
            source: src.into(),
            options: options.unwrap_or(found).into(),
            key: Some(key),
        },
        None => Entry::not_a_key(src),
    }
}

/// `parse_authorized_keys`: the file's lines, each parsed alone.
fn parse_file(text: &str) -> Vec<Entry> {
    text.lines().map(|l| parse(l, None)).collect()
}

/// `update_authorized_keys`: a key of the file with the same base64 as a new one is replaced
/// by it; new keys are appended; lines that are no key stay; so do new entries that are none
/// (they are dropped). The text ends with a newline.
fn update_authorized_keys(mut old: Vec<Entry>, keys: Vec<Entry>) -> String {
    let b64 = |e: &Entry| e.key.as_ref().map(|k| k.1.clone());
    let mut to_add: Vec<usize> = (0..keys.len()).filter(|i| keys[*i].key.is_some()).collect();
    for ent in old.iter_mut() {
        if ent.key.is_none() {
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            if b64(k) == b64(ent) {
                *ent = k.clone();
                to_add.retain(|j| *j != i);
            }
        }
    }
    old.extend(to_add.into_iter().map(|i| keys[i].clone()));
    let mut lines: Vec<String> = old.iter().map(Entry::text).collect();
    lines.push(String::new());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_line_that_is_a_key_with_a_comment_carries_every_later_line_as_written() {
        let rest = "ssh-rsa BBBB\n# a note\n\nrestrict,command=\"echo hi\" ssh-ed25519 CCCC c@h";
        let text = format!("ssh-ed25519 AAAA a@h\n{rest}");
        // The entry itself comes back verbatim; cc_ssh's pass then keeps the file's other
        // lines too, so they stand twice (the same lines: the same grants).
        assert_eq!(parse(&text, Some("")).text(), text);
        let got = root_keys(None, &text);
        assert!(got.starts_with(&format!("{text}\n")), "{got}");
        assert_eq!(got.lines().filter(|l| *l == "ssh-rsa BBBB").count(), 2);
    }

    #[test]
    fn without_a_first_comment_the_next_line_becomes_its_comment() {
        assert_eq!(
            root_keys(None, "ssh-ed25519 AAAA\nssh-rsa BBBB b@h"),
            "ssh-ed25519 AAAA ssh-rsa BBBB b@h\n"
        );
    }

    #[test]
    fn an_entry_starting_with_a_comment_line_is_dropped_whole() {
        // `#` first: parsed as no key, and only keys are added.
        assert_eq!(
            root_keys(None, "# zoneweaver-agent\nssh-ed25519 AAAA a@h"),
            ""
        );
    }

    #[test]
    fn the_first_keys_own_options_are_lost_for_root() {
        let text = "restrict,command=\"echo hi\" ssh-ed25519 AAAA a@h";
        assert_eq!(parse(text, None).text(), text);
        assert_eq!(root_keys(None, text), "ssh-ed25519 AAAA a@h\n");
        // An escaped quote does not end the quoted value.
        assert_eq!(
            extract_options("command=\"a \\\" b\" k"),
            ("command=\"a \\\" b\"", "k")
        );
    }

    #[test]
    fn a_path_that_names_no_file_is_taken_as_the_key_text() {
        let missing = Path::new("/nonexistent/zw-sim/keys");
        assert_eq!(
            file_or_string(missing, "/zones/a/path/keys"),
            "/zones/a/path/keys"
        );
        // ... which cloud-init drops: it is not a key.
        assert_eq!(parse("/zones/a/path/keys", None).key, None);
    }
}
