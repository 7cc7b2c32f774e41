//! `cloud_init.sshkey`: the lines of an `authorized_keys` file, checked as sshd(8) reads them.
//!
//! sshd's AUTHORIZED_KEYS FILE FORMAT: blank lines and lines starting with `#` are comments;
//! every other line is `[options] keytype base64 [comment]`. Options are comma-separated, with
//! no spaces except inside double quotes (`\"` is a quote inside them); option names are
//! case-insensitive. The names below are the ones sshd's own option parser knows
//! (`sshauthopt_parse` in OpenSSH's auth-options.c: the flags `restrict` and `cert-authority`,
//! the flags that take a `no-` prefix, and the options that take a quoted value). A line
//! sshd would not take (an unknown option or key type, an unbalanced quote) is refused here,
//! so a client learns of it now rather than finding the key silently unusable in the guest.

/// Key types sshd reads in `authorized_keys` (OpenSSH's sshkey.c key types that are not
/// signature-only names; cloud-init's `ssh_util.VALID_KEY_TYPES` lists the same).
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
];

/// Flags with no value and no `no-` form.
const FLAGS: &[&str] = &["restrict", "cert-authority"];
/// Flags sshd also takes with a `no-` prefix (`no-pty`, `pty`, ...).
const NEGATABLE: &[&str] = &[
    "port-forwarding",
    "agent-forwarding",
    "x11-forwarding",
    "touch-required",
    "verify-required",
    "pty",
    "user-rc",
];
/// Options that take a double-quoted value (`command="..."`).
const VALUED: &[&str] = &[
    "command",
    "principals",
    "from",
    "expiry-time",
    "environment",
    "permitopen",
    "permitlisten",
    "tunnel",
];

/// What one line of the value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Blank, or a `#` comment: sshd skips it.
    Comment,
    /// A key without options.
    Plain,
    /// A key with options.
    WithOptions,
}

/// Checks one line (without its line end); the error says what sshd would not take.
pub fn line(l: &str) -> Result<Line, String> {
    if let Some(c) = l.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!("it holds the control character {c:?}"));
    }
    let l = l.trim_start_matches([' ', '\t']);
    if l.is_empty() || l.starts_with('#') {
        return Ok(Line::Comment);
    }
    // sshd reads a key first; only a line that does not start with one has options.
    let first = l.split([' ', '\t']).next().unwrap_or("");
    if KEY_TYPES.contains(&first) {
        key(l)?;
        return Ok(Line::Plain);
    }
    let rest = options(l)?;
    key(rest.trim_start_matches([' ', '\t']))?;
    Ok(Line::WithOptions)
}

/// `keytype base64 [comment]`.
fn key(k: &str) -> Result<(), String> {
    let mut words = k.split([' ', '\t']).filter(|w| !w.is_empty());
    let ty = words.next().unwrap_or("");
    if !KEY_TYPES.contains(&ty) {
        return Err(format!("{ty:?} is not a key type sshd knows"));
    }
    match words.next() {
        Some(b)
            if b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')) =>
        {
            Ok(())
        }
        Some(_) => Err("the key is not base64".into()),
        None => Err("the key type is not followed by a key".into()),
    }
}

/// Walks the options as sshd does and answers the text after them.
fn options(l: &str) -> Result<&str, String> {
    let mut s = l;
    loop {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(s.len());
        let name = s[..end].to_ascii_lowercase();
        s = &s[end..];
        let flag = name.strip_prefix("no-").unwrap_or(&name);
        if VALUED.contains(&name.as_str()) {
            s = s
                .strip_prefix("=\"")
                .ok_or_else(|| format!("option {name} needs a value in double quotes"))?;
            s = after_quote(s).ok_or_else(|| format!("option {name}: unbalanced quotes"))?;
        } else if !(FLAGS.contains(&name.as_str()) || NEGATABLE.contains(&flag)) {
            return Err(if name.is_empty() {
                "it is not `[options] keytype base64 [comment]`".into()
            } else {
                format!("unknown key option {name:?}")
            });
        }
        match s.chars().next() {
            Some(',') => s = &s[1..],
            Some(' ' | '\t') => return Ok(s),
            None => return Err("the options are not followed by a key".into()),
            Some(c) => return Err(format!("unexpected {c:?} after option {name}")),
        }
    }
}

/// The text after the closing quote of a quoted value (`\"` is a quote inside it).
fn after_quote(s: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' if !escaped => return Some(&s[i + 1..]),
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm u@h";

    #[test]
    fn the_lines_of_sshds_own_examples_are_accepted() {
        // sshd(8), AUTHORIZED_KEYS FILE FORMAT, "An example authorized_keys file".
        for (l, kind) in [
            ("# Comments are allowed at start of line. Blank lines are allowed.", Line::Comment),
            ("", Line::Comment),
            ("   ", Line::Comment),
            ("ssh-rsa AAAAB3Nza...LiPk== user@example.net", Line::Plain),
            ("from=\"*.sales.example.net,!pc.sales.example.net\" ssh-rsa AAAAB2...19Q== john@example.net", Line::WithOptions),
            ("command=\"dump /home\",no-pty,no-port-forwarding ssh-rsa AAAAC3...51R== example.net", Line::WithOptions),
            ("permitopen=\"192.0.2.1:80\",permitopen=\"192.0.2.2:25\" ssh-rsa AAAAB5...21S==", Line::WithOptions),
            ("permitlisten=\"localhost:8080\",permitopen=\"localhost:22000\" ssh-rsa AAAAB5...21S==", Line::WithOptions),
            ("tunnel=\"0\",command=\"sh /etc/netstart tun0\" ssh-rsa AAAA...== jane@example.net", Line::WithOptions),
            ("restrict,command=\"uptime\" ssh-rsa AAAA1C8...32Tv==", Line::WithOptions),
            ("restrict,pty,command=\"nethack\" ssh-rsa AAAA1f8...IrrC5==", Line::WithOptions),
            ("no-touch-required sk-ecdsa-sha2-nistp256@openssh.com AAAAInN...Ko== user@example.net", Line::WithOptions),
            ("verify-required sk-ecdsa-sha2-nistp256@openssh.com AAAAInN...Ko== user@example.net", Line::WithOptions),
        ] {
            // The man page elides keys with "..."; a real key is base64 only.
            let real = l.replace("...", "");
            assert_eq!(line(&real), Ok(kind), "{l}");
        }
    }

    #[test]
    fn option_names_are_case_insensitive_and_quotes_may_hold_spaces_commas_and_escaped_quotes() {
        for opts in [
            "RESTRICT,No-Pty",
            "command=\"echo \\\"hi, there\\\"\"",
            "environment=\"A=b c\",expiry-time=\"20301231\"",
            "principals=\"a,b\",cert-authority",
            "no-agent-forwarding,no-X11-forwarding,no-user-rc,agent-forwarding,X11-forwarding,user-rc,port-forwarding,pty",
            "no-verify-required,touch-required",
        ] {
            assert_eq!(line(&format!("{opts} {K}")), Ok(Line::WithOptions), "{opts}");
        }
        assert_eq!(line(&format!("{K}\t# tab and more")), Ok(Line::Plain));
    }

    #[test]
    fn what_sshd_would_not_take_is_refused_with_the_reason() {
        for (l, why) in [
            (
                format!("bogus-option {K}"),
                "unknown key option \"bogus-option\"",
            ),
            (format!("command=\"echo hi {K}"), "unbalanced quotes"),
            (format!("command=echo {K}"), "double quotes"),
            (format!("restrict, {K}"), "not `[options]"),
            (format!("restrict,,pty {K}"), "not `[options]"),
            ("restrict".to_owned(), "not followed by a key"),
            ("restrict rsa AAAA".to_owned(), "\"rsa\" is not a key type"),
            (
                "ssh-foo AAAA u@h".to_owned(),
                "unknown key option \"ssh-foo\"",
            ),
            ("ssh-ed25519".to_owned(), "not followed by a key"),
            ("ssh-ed25519 AAAA$x".to_owned(), "not base64"),
            (format!("{K}\u{1b}[2J"), "control character"),
            (format!("no-pty;x {K}"), "unexpected ';'"),
        ] {
            let e = line(&l).unwrap_err();
            assert!(e.contains(why), "{l:?}: {e}");
        }
    }
}
