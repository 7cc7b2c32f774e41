//! A parser and renderer for the part of `dhcpd.conf` the agent manages, that keeps the rest.
//!
//! The file is cut into statements and blocks (`subnet ... { ... }`, `host NAME { ... }`,
//! `option ...;`) by a real tokenizer (strings, comments, braces), not by regexes over lines.
//! Each item keeps its text, and the comment or blank lines before it, so an untouched file
//! renders byte for byte; only items the agent changes or adds are rendered anew. Subnets are
//! parsed into their own items the same way, so updating a subnet's range keeps its other
//! statements and any hosts declared inside it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use illumos::link::Mac;
use illumos::net::{Ipv4Net, Ipv4Netmask};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dhcpd.conf line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    Punct(char),
}

/// A token and the byte range it came from.
#[derive(Debug, Clone)]
pub(super) struct Span {
    pub(super) tok: Tok,
    end: usize,
}

/// Tokenizes `text[start..end]` skipping whitespace and comments.
pub(super) fn tokens(
    text: &str,
    start: usize,
    end: usize,
) -> Result<Vec<(usize, Span)>, ParseError> {
    let b = text.as_bytes();
    let mut i = start;
    let mut out = Vec::new();
    let line_at = |pos: usize| text[..pos].matches('\n').count() + 1;
    while i < end {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' {
            while i < end && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let s = i;
            i += 1;
            let mut value = String::new();
            loop {
                if i >= end {
                    return Err(ParseError {
                        line: line_at(s),
                        reason: "unterminated string".into(),
                    });
                }
                match b[i] {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < end => {
                        // The escaped character may be more than one byte long.
                        let ch = text[i + 1..].chars().next().expect("in bounds");
                        value.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    _ => {
                        let ch = text[i..].chars().next().expect("in bounds");
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push((
                s,
                Span {
                    tok: Tok::Str(value),
                    end: i,
                },
            ));
        } else if matches!(c, b'{' | b'}' | b';' | b',') {
            out.push((
                i,
                Span {
                    tok: Tok::Punct(c as char),
                    end: i + 1,
                },
            ));
            i += 1;
        } else {
            let s = i;
            while i < end
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'{' | b'}' | b';' | b',' | b'"' | b'#')
            {
                i += 1;
            }
            out.push((
                s,
                Span {
                    tok: Tok::Word(text[s..i].to_owned()),
                    end: i,
                },
            ));
        }
    }
    Ok(out)
}

/// A host reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub name: String,
    pub mac: Option<Mac>,
    pub ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub netmask: Ipv4Netmask,
    items: Vec<Item>,
    trailer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Host(HostEntry),
    Subnet(Subnet),
    Range(Ipv4Addr, Ipv4Addr),
    Routers(Ipv4Addr),
    Dns(Vec<Ipv4Addr>),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// Blank lines and comments before the item (starting at the newline after the previous).
    lead: String,
    /// The item's own text as read; `None` once changed (rendered from `kind`).
    text: Option<String>,
    kind: Kind,
}

/// What a subnet declaration says, in the API's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetConfig {
    pub net: Ipv4Net,
    pub router: Option<Ipv4Addr>,
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub dns: Vec<Ipv4Addr>,
}

/// dhcpd.conf as items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpConf {
    items: Vec<Item>,
    trailer: String,
}

fn words(toks: &[(usize, Span)]) -> Vec<&Tok> {
    toks.iter().map(|(_, s)| &s.tok).collect()
}

fn word(t: &Tok) -> Option<&str> {
    match t {
        Tok::Word(w) => Some(w),
        _ => None,
    }
}

fn ip(t: &Tok) -> Option<Ipv4Addr> {
    word(t)?.parse().ok()
}

/// Cuts `text[start..end]` into items; returns them and the trailing trivia.
fn items(text: &str, start: usize, end: usize) -> Result<(Vec<Item>, String), ParseError> {
    let toks = tokens(text, start, end)?;
    let line_at = |pos: usize| text[..pos].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut pos = start; // where the next item's lead starts
    let mut i = 0;
    while i < toks.len() {
        let first = i;
        let mut depth = 0usize;
        let mut j = i;
        let close = loop {
            if j >= toks.len() {
                return Err(ParseError {
                    line: line_at(toks[first].0),
                    reason: "statement without ';' or block without '}'".into(),
                });
            }
            match toks[j].1.tok {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    if depth == 0 {
                        return Err(ParseError {
                            line: line_at(toks[j].0),
                            reason: "unbalanced '}'".into(),
                        });
                    }
                    depth -= 1;
                    if depth == 0 {
                        // `}` may be followed by an optional `;`.
                        if matches!(toks.get(j + 1).map(|t| &t.1.tok), Some(Tok::Punct(';'))) {
                            j += 1;
                        }
                        break j;
                    }
                }
                Tok::Punct(';') if depth == 0 => break j,
                _ => {}
            }
            j += 1;
        };
        // A comment on the same line after the item belongs to it.
        let mut item_end = toks[close].1.end;
        let rest = &text[item_end..end];
        let same_line = rest.find('\n').map_or(rest, |n| &rest[..n]);
        if same_line.trim_start().starts_with('#') {
            item_end += same_line.trim_end_matches('\r').len();
        }
        let item_start = toks[first].0;
        let kind = classify(text, &toks[first..=close])?;
        out.push(Item {
            lead: text[pos..item_start].to_owned(),
            text: Some(text[item_start..item_end].to_owned()),
            kind,
        });
        pos = item_end;
        i = close + 1;
        while i < toks.len() && toks[i].0 < pos {
            i += 1;
        }
    }
    Ok((out, text[pos..end].to_owned()))
}

/// Splits a block body's tokens into statements at `;` (depth 0).
fn statements(toks: &[(usize, Span)]) -> Vec<Vec<&Tok>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0;
    for (_, s) in toks {
        match s.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth -= 1,
            Tok::Punct(';') if depth == 0 => {
                out.push(Vec::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().expect("never empty").push(&s.tok);
    }
    out.retain(|s| !s.is_empty());
    out
}

fn classify(text: &str, toks: &[(usize, Span)]) -> Result<Kind, ParseError> {
    let w = words(toks);
    let open = w.iter().position(|t| **t == Tok::Punct('{'));
    match (w.first().and_then(|t| word(t)), open) {
        (Some("host"), Some(2)) => {
            let name = match w[1] {
                Tok::Word(n) | Tok::Str(n) => n.clone(),
                _ => return Ok(Kind::Other),
            };
            let close = toks
                .iter()
                .rposition(|(_, s)| s.tok == Tok::Punct('}'))
                .unwrap_or(toks.len());
            let mut entry = HostEntry {
                name,
                mac: None,
                ip: None,
            };
            for st in statements(&toks[3..close]) {
                match st.as_slice() {
                    [Tok::Word(h), Tok::Word(e), m] if h == "hardware" && e == "ethernet" => {
                        entry.mac = word(m).and_then(|m| m.parse().ok());
                    }
                    [Tok::Word(f), a] if f == "fixed-address" => entry.ip = ip(a),
                    _ => {}
                }
            }
            Ok(Kind::Host(entry))
        }
        (Some("subnet"), Some(4)) => {
            let (Some(network), Some(mask)) = (ip(w[1]), word(w[3]).and_then(|m| m.parse().ok()))
            else {
                return Ok(Kind::Other);
            };
            if word(w[2]) != Some("netmask") {
                return Ok(Kind::Other);
            }
            let body_start = toks[4].1.end;
            let close = toks
                .iter()
                .rposition(|(_, s)| s.tok == Tok::Punct('}'))
                .expect("a block ends in }");
            let (items, trailer) = items(text, body_start, toks[close].0)?;
            Ok(Kind::Subnet(Subnet {
                network,
                netmask: mask,
                items,
                trailer,
            }))
        }
        _ => {
            let st: Vec<&Tok> = w
                .iter()
                .copied()
                .filter(|t| **t != Tok::Punct(';'))
                .collect();
            Ok(match st.as_slice() {
                [Tok::Word(r), a, b] if r == "range" => match (ip(a), ip(b)) {
                    (Some(a), Some(b)) => Kind::Range(a, b),
                    _ => Kind::Other,
                },
                [Tok::Word(r), a] if r == "range" => {
                    ip(a).map_or(Kind::Other, |a| Kind::Range(a, a))
                }
                [Tok::Word(o), Tok::Word(n), rest @ ..] if o == "option" && n == "routers" => rest
                    .first()
                    .and_then(|t| ip(t))
                    .map_or(Kind::Other, Kind::Routers),
                [Tok::Word(o), Tok::Word(n), rest @ ..]
                    if o == "option" && n == "domain-name-servers" =>
                {
                    let ips: Option<Vec<Ipv4Addr>> = rest
                        .iter()
                        .filter(|t| ***t != Tok::Punct(','))
                        .map(|t| ip(t))
                        .collect();
                    ips.map_or(Kind::Other, Kind::Dns)
                }
                _ => Kind::Other,
            })
        }
    }
}

fn render_kind(kind: &Kind) -> String {
    match kind {
        Kind::Host(h) => {
            let mut s = format!("host {} {{\n", h.name);
            if let Some(m) = h.mac {
                let _ = writeln!(s, "  hardware ethernet {m};");
            }
            if let Some(ip) = h.ip {
                let _ = writeln!(s, "  fixed-address {ip};");
            }
            s.push('}');
            s
        }
        Kind::Subnet(sub) => {
            let mut s = format!("subnet {} netmask {} {{", sub.network, sub.netmask);
            render_items(&mut s, &sub.items);
            s.push_str(&sub.trailer);
            s.push('}');
            s
        }
        Kind::Range(a, b) => format!("range {a} {b};"),
        Kind::Routers(r) => format!("option routers {r};"),
        Kind::Dns(list) => format!(
            "option domain-name-servers {};",
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Other => String::new(),
    }
}

fn render_items(out: &mut String, items: &[Item]) {
    for it in items {
        out.push_str(&it.lead);
        match &it.text {
            Some(t) => out.push_str(t),
            None => out.push_str(&render_kind(&it.kind)),
        }
    }
}

/// Removes the items `gone` picks, with the blank lines and comments before them. What follows
/// a removed item starts on a new line: the line break before the item may have ended a
/// comment, which would otherwise run on over the next item (or a subnet's closing brace).
fn remove_items(items: &mut Vec<Item>, trailer: &mut String, mut gone: impl FnMut(&Item) -> bool) {
    let mut need_break = false;
    let mut kept = Vec::with_capacity(items.len());
    for mut it in std::mem::take(items) {
        if gone(&it) {
            need_break |= it.lead.contains('\n');
            continue;
        }
        if std::mem::take(&mut need_break) && !it.lead.starts_with('\n') {
            it.lead.insert(0, '\n');
        }
        kept.push(it);
    }
    if need_break && !trailer.starts_with('\n') {
        trailer.insert(0, '\n');
    }
    *items = kept;
}

impl Subnet {
    pub fn net(&self) -> Ipv4Net {
        illumos::net::Ipv4Cidr::new(self.network, self.netmask.prefix())
            .and_then(Ipv4Net::try_from)
            .unwrap_or_else(|_| {
                let c = illumos::net::Ipv4Cidr::new(self.network, self.netmask.prefix())
                    .expect("prefix of a netmask");
                c.network()
            })
    }

    pub fn config(&self) -> SubnetConfig {
        let mut c = SubnetConfig {
            net: self.net(),
            router: None,
            range: None,
            dns: Vec::new(),
        };
        for it in &self.items {
            match &it.kind {
                Kind::Range(a, b) => c.range = Some((*a, *b)),
                Kind::Routers(r) => c.router = Some(*r),
                Kind::Dns(d) => c.dns = d.clone(),
                _ => {}
            }
        }
        c
    }

    /// Sets one recognised statement: replaces the first of its kind, or appends it. Later
    /// statements of the same kind are removed: dhcpd takes the last `option` of a scope and
    /// [`Subnet::config`] reads the last one too, so a duplicate left behind would win over
    /// the value just set.
    fn set(&mut self, kind: Kind) {
        let same = |k: &Kind| std::mem::discriminant(k) == std::mem::discriminant(&kind);
        let mut seen = false;
        remove_items(&mut self.items, &mut self.trailer, |it| {
            let duplicate = seen && same(&it.kind);
            seen |= same(&it.kind);
            duplicate
        });
        match self.items.iter_mut().find(|it| same(&it.kind)) {
            Some(it) if it.kind == kind => {}
            Some(it) => {
                it.kind = kind;
                it.text = None;
            }
            None => self.items.push(Item {
                lead: "\n  ".into(),
                text: None,
                kind,
            }),
        }
    }

    fn unset(&mut self, discriminant: &Kind) {
        remove_items(&mut self.items, &mut self.trailer, |it| {
            std::mem::discriminant(&it.kind) == std::mem::discriminant(discriminant)
        });
    }
}

impl DhcpConf {
    pub fn parse(text: &str) -> Result<DhcpConf, ParseError> {
        let (items, trailer) = items(text, 0, text.len())?;
        Ok(DhcpConf { items, trailer })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        render_items(&mut out, &self.items);
        out.push_str(&self.trailer);
        out
    }

    fn push(&mut self, kind: Kind) {
        let lead = if self.items.is_empty() && self.trailer.trim().is_empty() {
            String::new()
        } else if self.trailer.ends_with('\n') {
            std::mem::take(&mut self.trailer)
        } else {
            format!("{}\n", std::mem::take(&mut self.trailer))
        };
        self.items.push(Item {
            lead,
            text: None,
            kind,
        });
        self.trailer = "\n".into();
    }

    pub fn subnets(&self) -> impl Iterator<Item = &Subnet> {
        self.items.iter().filter_map(|it| match &it.kind {
            Kind::Subnet(s) => Some(s),
            _ => None,
        })
    }

    /// Every host reservation, at the top level or inside a subnet, in file order.
    pub fn hosts(&self) -> Vec<&HostEntry> {
        let mut out = Vec::new();
        for it in &self.items {
            match &it.kind {
                Kind::Host(h) => out.push(h),
                Kind::Subnet(s) => out.extend(s.items.iter().filter_map(|i| match &i.kind {
                    Kind::Host(h) => Some(h),
                    _ => None,
                })),
                _ => {}
            }
        }
        out
    }

    /// Creates or updates the subnet declaration for `cfg.net`, keeping its other statements;
    /// other subnets are untouched. Returns whether anything changed.
    pub fn upsert_subnet(&mut self, cfg: &SubnetConfig) -> bool {
        let before = self.clone();
        let net = cfg.net;
        let existing = self.items.iter_mut().find_map(|it| match &mut it.kind {
            Kind::Subnet(s) if s.net() == net => Some(it),
            _ => None,
        });
        let item = match existing {
            Some(it) => it,
            None => {
                self.push(Kind::Subnet(Subnet {
                    network: net.addr(),
                    netmask: net.netmask(),
                    items: Vec::new(),
                    trailer: "\n".into(),
                }));
                self.items.last_mut().expect("just pushed")
            }
        };
        let Kind::Subnet(sub) = &mut item.kind else {
            unreachable!("found or pushed a subnet")
        };
        match cfg.range {
            Some((a, b)) => sub.set(Kind::Range(a, b)),
            None => sub.unset(&Kind::Range(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED)),
        }
        match cfg.router {
            Some(r) => sub.set(Kind::Routers(r)),
            None => sub.unset(&Kind::Routers(Ipv4Addr::UNSPECIFIED)),
        }
        if cfg.dns.is_empty() {
            sub.unset(&Kind::Dns(Vec::new()));
        } else {
            sub.set(Kind::Dns(cfg.dns.clone()));
        }
        let changed = *self != before;
        if changed {
            // Render the subnet anew: its header and statements come from the model, the
            // statements the agent does not manage keep their text.
            if let Some(it) = self
                .items
                .iter_mut()
                .find(|it| matches!(&it.kind, Kind::Subnet(s) if s.net() == net))
            {
                it.text = None;
            }
        }
        changed
    }

    /// Removes the subnet declaration for `net` (with whatever it contains). Returns whether
    /// there was one.
    pub fn remove_subnet(&mut self, net: Ipv4Net) -> bool {
        let before = self.items.len();
        remove_items(
            &mut self.items,
            &mut self.trailer,
            |it| matches!(&it.kind, Kind::Subnet(s) if s.net() == net),
        );
        before != self.items.len()
    }

    /// Appends a host reservation at the top level.
    pub fn add_host(&mut self, host: HostEntry) {
        self.push(Kind::Host(host));
    }

    /// Removes every reservation named `name` (top level or inside a subnet).
    pub fn remove_host(&mut self, name: &str) -> bool {
        let is = |it: &Item| matches!(&it.kind, Kind::Host(h) if h.name == name);
        let before = self.render();
        remove_items(&mut self.items, &mut self.trailer, is);
        for it in &mut self.items {
            if let Kind::Subnet(s) = &mut it.kind {
                if s.items.iter().any(is) {
                    remove_items(&mut s.items, &mut s.trailer, is);
                    it.text = None;
                }
            }
        }
        self.render() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# dhcpd.conf written by hand
option domain-name "example.org";
default-lease-time 600; # ten minutes
authoritative;

subnet 10.190.190.0 netmask 255.255.255.0 {
  range 10.190.190.10 10.190.190.254;
  option routers 10.190.190.1;
  option domain-name-servers 8.8.8.8, 8.8.4.4;
  default-lease-time 3600;
  host inner { hardware ethernet 2:8:20:0:0:9; fixed-address 10.190.190.9; }
}

subnet 192.168.50.0 netmask 255.255.255.0 {
  range 192.168.50.100 192.168.50.200;
}

# web server
host web-01 {
  hardware ethernet 02:08:20:ab:cd:01;
  fixed-address 10.190.190.10;
}
host "quoted" { hardware ethernet 02:08:20:ab:cd:02; fixed-address 10.190.190.11; }
"#;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn an_untouched_file_renders_byte_for_byte() {
        let c = DhcpConf::parse(SAMPLE).unwrap();
        assert_eq!(c.render(), SAMPLE);
        for text in ["", "\n", "# only\n", "a;", "a;\n\n  # x\n", "x { y; };\n"] {
            assert_eq!(DhcpConf::parse(text).unwrap().render(), text, "{text:?}");
        }
    }

    #[test]
    fn reads_subnets_and_hosts() {
        let c = DhcpConf::parse(SAMPLE).unwrap();
        let subs: Vec<SubnetConfig> = c.subnets().map(Subnet::config).collect();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].net, net("10.190.190.0/24"));
        assert_eq!(subs[0].router, Some("10.190.190.1".parse().unwrap()));
        assert_eq!(subs[0].dns.len(), 2);
        let names: Vec<&str> = c.hosts().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["inner", "web-01", "quoted"]);
        assert_eq!(c.hosts()[0].mac.unwrap().to_string(), "02:08:20:00:00:09");
    }

    #[test]
    fn updating_a_subnet_keeps_everything_else() {
        let mut c = DhcpConf::parse(SAMPLE).unwrap();
        let changed = c.upsert_subnet(&SubnetConfig {
            net: net("10.190.190.0/24"),
            router: Some("10.190.190.1".parse().unwrap()),
            range: Some((
                "10.190.190.50".parse().unwrap(),
                "10.190.190.60".parse().unwrap(),
            )),
            dns: vec!["1.1.1.1".parse().unwrap()],
        });
        assert!(changed);
        let out = c.render();
        assert!(out.contains("range 10.190.190.50 10.190.190.60;"), "{out}");
        assert!(out.contains("option domain-name-servers 1.1.1.1;"), "{out}");
        assert!(out.contains("default-lease-time 3600;"), "{out}");
        assert!(out.contains("host inner"), "{out}");
        assert!(
            out.contains("range 192.168.50.100 192.168.50.200;"),
            "{out}"
        );
        assert!(out.contains("# web server\nhost web-01"), "{out}");
        assert!(
            out.contains("default-lease-time 600; # ten minutes"),
            "{out}"
        );
        let again = DhcpConf::parse(&out).unwrap();
        assert_eq!(again.render(), out);
        assert_eq!(again.hosts().len(), 3);
    }

    #[test]
    fn an_upsert_replaces_every_duplicate_of_a_statement() {
        // Found by the dhcpd_conf fuzz target: the second `option domain-name-servers` outlived
        // the update and stayed the one dhcpd (and the agent) read.
        let text = "subnet 10.0.0.0 netmask 255.255.255.0 {\n  option domain-name-servers 8.8.8.8;\n  range 10.0.0.10 10.0.0.20;\n  option domain-name-servers 8.8.4.4;\n}\n";
        let mut c = DhcpConf::parse(text).unwrap();
        let mut cfg = c.subnets().next().unwrap().config();
        cfg.dns = vec!["1.1.1.1".parse().unwrap()];
        assert!(c.upsert_subnet(&cfg));
        let out = c.render();
        assert_eq!(out.matches("domain-name-servers").count(), 1, "{out}");
        let again = DhcpConf::parse(&out).unwrap();
        assert_eq!(again.subnets().next().unwrap().config(), cfg);
    }

    #[test]
    fn an_unchanged_upsert_changes_nothing() {
        let mut c = DhcpConf::parse(SAMPLE).unwrap();
        let cfg = c.subnets().next().unwrap().config();
        assert!(!c.upsert_subnet(&cfg));
        assert_eq!(c.render(), SAMPLE);
    }

    #[test]
    fn a_new_subnet_and_hosts_on_an_empty_file() {
        let mut c = DhcpConf::parse("").unwrap();
        c.upsert_subnet(&SubnetConfig {
            net: net("10.190.190.0/24"),
            router: Some("10.190.190.1".parse().unwrap()),
            range: Some((
                "10.190.190.10".parse().unwrap(),
                "10.190.190.254".parse().unwrap(),
            )),
            dns: vec!["8.8.8.8".parse().unwrap(), "8.8.4.4".parse().unwrap()],
        });
        c.add_host(HostEntry {
            name: "web-01".into(),
            mac: Some("02:08:20:ab:cd:01".parse().unwrap()),
            ip: Some("10.190.190.10".parse().unwrap()),
        });
        assert_eq!(
            c.render(),
            "subnet 10.190.190.0 netmask 255.255.255.0 {\n  range 10.190.190.10 10.190.190.254;\n  option routers 10.190.190.1;\n  option domain-name-servers 8.8.8.8, 8.8.4.4;\n}\nhost web-01 {\n  hardware ethernet 02:08:20:ab:cd:01;\n  fixed-address 10.190.190.10;\n}\n"
        );
    }

    #[test]
    fn removing_hosts_and_subnets() {
        let mut c = DhcpConf::parse(SAMPLE).unwrap();
        assert!(c.remove_host("web-01"));
        assert!(c.remove_host("inner"));
        assert!(!c.remove_host("nope"));
        let out = c.render();
        assert!(
            !out.contains("web-01") && !out.contains("host inner"),
            "{out}"
        );
        assert!(out.contains("host \"quoted\""));
        assert!(c.remove_subnet(net("192.168.50.0/24")));
        assert!(!c.render().contains("192.168.50."));
        assert_eq!(c.subnets().count(), 1);
    }

    #[test]
    fn an_escaped_multibyte_character_in_a_string() {
        // A backslash before a two-byte character split the character and panicked.
        let text = "option domain-name \"a\\\u{e9}b\";\n";
        let c = DhcpConf::parse(text).unwrap();
        assert_eq!(c.render(), text);
        let toks = tokens(text, 0, text.len()).unwrap();
        assert_eq!(toks[2].1.tok, Tok::Str("a\u{e9}b".into()));
    }

    #[test]
    fn removing_an_item_keeps_the_line_break_that_ends_a_comment() {
        // Found by the dhcpd_conf fuzz target: removing the subnet took the line break that
        // ended the comment before it, so the host after it became part of the comment.
        let text =
            "a; # note\nsubnet 10.0.0.0 netmask 255.0.0.0 { }host b { fixed-address 10.0.0.2; }\n";
        let mut c = DhcpConf::parse(text).unwrap();
        assert!(c.remove_subnet(net("10.0.0.0/8")));
        let again = DhcpConf::parse(&c.render()).unwrap();
        assert_eq!(again.hosts().len(), 1, "{}", c.render());
        // The same at the end of a subnet: its closing brace stays out of the comment.
        let text = "subnet 10.0.0.0 netmask 255.0.0.0 {\n  a; # note\n  host b { }}\n";
        let mut c = DhcpConf::parse(text).unwrap();
        assert!(c.remove_host("b"));
        let again = DhcpConf::parse(&c.render()).unwrap();
        assert_eq!(again.subnets().count(), 1, "{}", c.render());
    }

    #[test]
    fn malformed_files_are_errors_not_guesses() {
        for text in [
            "subnet 1.2.3.0 netmask 255.255.255.0 {",
            "a }",
            "option x \"unterminated;",
            "a",
        ] {
            assert!(DhcpConf::parse(text).is_err(), "{text:?}");
        }
    }
}
