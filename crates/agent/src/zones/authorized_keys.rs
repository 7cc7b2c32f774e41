//! `cloud_init.sshkey`: the lines of an `authorized_keys` file, checked as sshd(8) reads them.
//!
//! sshd's AUTHORIZED_KEYS FILE FORMAT: blank lines and lines starting with `#` are comments;
//! every other line is `[options] keytype base64 [comment]`. Options are comma-separated, with
//! no spaces except inside double quotes (`\"` is a quote inside them); option names are
//! case-insensitive. The names below are the ones sshd's own option parser knows
//! (`sshauthopt_parse` in OpenSSH's auth-options.c: the flags `restrict` and `cert-authority`,
//! the flags that take a `no-` prefix, and the options that take a quoted value). A line
//! sshd would not take (an unknown option or key type, an unbalanced quote, a value its
//! option parser refuses, such as a malformed `expiry-time`) is refused here,
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
    let mut seen: Vec<String> = Vec::new();
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
            let rest = after_quote(s).ok_or_else(|| format!("option {name}: unbalanced quotes"))?;
            let value = s[..s.len() - rest.len() - 1].replace("\\\"", "\"");
            value_of(&name, &value).map_err(|e| format!("option {name}: {e}"))?;
            // sshd refuses a second clause of these (auth-options.c: "multiple ... clauses").
            if ONCE.contains(&name.as_str()) {
                if seen.contains(&name) {
                    return Err(format!("option {name} is given twice"));
                }
                seen.push(name.clone());
            }
            s = rest;
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

/// Options sshd takes at most once on a line.
const ONCE: &[&str] = &["command", "principals", "from"];

/// The checks sshd's option parser makes of a value (OpenSSH auth-options.c,
/// `sshauthopt_parse`): a line failing them is refused by sshd, so its key would never work.
fn value_of(name: &str, v: &str) -> Result<(), String> {
    match name {
        "expiry-time" => expiry_time(v),
        // "env name must be alphanumeric and followed by '='"
        "environment" => match v.split_once('=') {
            Some((n, _))
                if !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') =>
            {
                Ok(())
            }
            _ => Err("it is not NAME=value (NAME: letters, digits, _)".into()),
        },
        // a2tun: "any" or a tunnel device number.
        "tunnel" => match v {
            "any" => Ok(()),
            n if n.bytes().all(|c| c.is_ascii_digit())
                && n.parse::<u32>().is_ok_and(|n| n <= 0x7fff_fffd) =>
            {
                Ok(())
            }
            _ => Err("it is not a tunnel device number or \"any\"".into()),
        },
        "permitopen" => permit(v, false),
        "permitlisten" => permit(v, true),
        _ => Ok(()),
    }
}

/// `YYYYMMDD[HHMM[SS]]`, optionally ending in `Z` or `UTC` (misc.c `parse_absolute_time`).
fn expiry_time(v: &str) -> Result<(), String> {
    let bad = || Err("it is not YYYYMMDD[HHMM[SS]][Z]".to_owned());
    let digits = v
        .strip_suffix(['Z', 'z'])
        .or_else(|| {
            v.len()
                .checked_sub(3)
                .filter(|&i| v.is_char_boundary(i) && v[i..].eq_ignore_ascii_case("utc"))
                .map(|i| &v[..i])
        })
        .unwrap_or(v);
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return bad();
    }
    let field = |at: usize| {
        digits
            .get(at..at + 2)
            .map(|f| f.parse::<u32>().unwrap_or(99))
    };
    let in_range = |at: usize, lo: u32, hi: u32| field(at).is_none_or(|n| (lo..=hi).contains(&n));
    if in_range(4, 1, 12)
        && in_range(6, 1, 31)
        && in_range(8, 0, 23)
        && in_range(10, 0, 59)
        && in_range(12, 0, 60)
    {
        Ok(())
    } else {
        bad()
    }
}

/// `host:port` (`permitlisten` also takes a bare port); the host may be `[v6]` or `*`, the
/// port a number from 1 to 65535 or `*`.
fn permit(v: &str, bare_port: bool) -> Result<(), String> {
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => ("", None),
        }
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None if bare_port => ("*", Some(v)),
            None => (v, None),
        }
    };
    if host.is_empty() || host.len() >= 1025 {
        return Err("the host is missing or too long".into());
    }
    match port {
        Some("*") => Ok(()),
        Some(p) if p.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        _ => Err("the port is not 1-65535 or *".into()),
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
    fn values_sshd_takes_are_accepted() {
        for opts in [
            "expiry-time=\"20301231\"",
            "expiry-time=\"203012312359\"",
            "expiry-time=\"20301231235959Z\"",
            "expiry-time=\"20301231UTC\"",
            "environment=\"PATH_2=/bin:/usr/bin\"",
            "environment=\"EMPTY=\"",
            "tunnel=\"any\"",
            "tunnel=\"7\"",
            "permitopen=\"[2001:db8::1]:443\"",
            "permitopen=\"*:*\"",
            "permitlisten=\"8080\"",
            "permitlisten=\"*\"",
            "permitopen=\"a:1\",permitopen=\"b:2\",environment=\"A=1\",environment=\"B=2\"",
            "command=\"\"",
        ] {
            assert_eq!(
                line(&format!("{opts} {K}")),
                Ok(Line::WithOptions),
                "{opts}"
            );
        }
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
            // Values sshd's own parser refuses.
            (
                format!("expiry-time=\"2030-12-31\" {K}"),
                "expiry-time: it is not YYYYMMDD",
            ),
            (format!("expiry-time=\"20301331\" {K}"), "expiry-time"),
            (format!("expiry-time=\"203012\" {K}"), "expiry-time"),
            (
                format!("environment=\"NOEQUALS\" {K}"),
                "environment: it is not NAME=value",
            ),
            (format!("environment=\"A-B=c\" {K}"), "environment"),
            (format!("environment=\"=c\" {K}"), "environment"),
            (format!("tunnel=\"tun0\" {K}"), "tunnel"),
            (format!("permitopen=\"host\" {K}"), "permitopen: the port"),
            (format!("permitopen=\"host:0\" {K}"), "permitopen: the port"),
            (format!("permitopen=\"host:70000\" {K}"), "permitopen"),
            (format!("permitopen=\":22\" {K}"), "permitopen: the host"),
            (format!("permitlisten=\"localhost:x\" {K}"), "permitlisten"),
            (
                format!("command=\"a\",command=\"b\" {K}"),
                "command is given twice",
            ),
            (format!("from=\"a\",FROM=\"b\" {K}"), "from is given twice"),
        ] {
            let e = line(&l).unwrap_err();
            assert!(e.contains(why), "{l:?}: {e}");
        }
    }
}
