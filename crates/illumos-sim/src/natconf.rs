//! The ipnat.conf grammar (ipnat(5)) for `map`, `bimap`, `map-block` and `rdr`, parsed into the
//! normalised text `ipnat -l` prints (printnat()): `0/32` becomes `0.0.0.0/32`, netmasks become
//! bit counts, service names become port numbers, `age N` becomes `age N/N`.

use std::net::Ipv4Addr;

/// Parses a whole file; `Err` is `line N: reason` for the first bad rule.
pub fn parse(text: &str) -> Result<Vec<String>, String> {
    parse_lines(text).map_err(|(n, msg)| format!("line {n}: {msg}"))
}

pub fn parse_lines(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default();
        for stmt in line.split(';') {
            let spaced = stmt.replace("->", " -> ");
            let toks: Vec<&str> = spaced.split_whitespace().collect();
            if toks.is_empty() {
                continue;
            }
            out.push(rule(&toks).map_err(|m| (i + 1, m))?);
        }
    }
    Ok(out)
}

struct P<'a> {
    t: &'a [&'a str],
    i: usize,
}

impl<'a> P<'a> {
    fn next(&mut self) -> Result<&'a str, String> {
        let t = self
            .t
            .get(self.i)
            .copied()
            .ok_or("unexpected end of rule")?;
        self.i += 1;
        Ok(t)
    }
    fn peek(&self) -> Option<&'a str> {
        self.t.get(self.i).copied()
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.peek() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, w: &str) -> Result<(), String> {
        let t = self.next()?;
        if t == w {
            Ok(())
        } else {
            Err(format!("syntax error at '{t}' (expected '{w}')"))
        }
    }
}

/// inet_aton-style: dotted quads, or a bare number (`0` = 0.0.0.0).
fn ip(s: &str) -> Result<u32, String> {
    if !s.contains('.') {
        return s
            .parse::<u32>()
            .map_err(|_| format!("invalid address '{s}'"));
    }
    s.parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("invalid address '{s}'"))
}

fn mask_bits(s: &str) -> Result<u8, String> {
    if let Ok(n) = s.parse::<u8>() {
        return if n <= 32 {
            Ok(n)
        } else {
            Err(format!("invalid netmask '/{s}'"))
        };
    }
    let m = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16).map_err(|_| format!("invalid netmask '{s}'"))?
    } else {
        ip(s)?
    };
    if m.leading_ones() + m.trailing_zeros() != 32 {
        return Err(format!("invalid netmask '{s}'"));
    }
    Ok(m.leading_ones() as u8)
}

fn fmt_ip(a: u32) -> String {
    Ipv4Addr::from(a).to_string()
}

/// `IP/bits`, `IP/netmask`, `IP netmask M`, or a bare IP (/32).
fn ipmask(p: &mut P) -> Result<String, String> {
    let t = p.next()?;
    let (a, bits) = match t.split_once('/') {
        Some((a, m)) => (ip(a)?, mask_bits(m)?),
        None => {
            let a = ip(t)?;
            if p.eat("netmask") || p.eat("mask") {
                (a, mask_bits(p.next()?)?)
            } else {
                (a, 32)
            }
        }
    };
    Ok(format!("{}/{bits}", fmt_ip(a)))
}

fn port(s: &str) -> Result<u16, String> {
    let n = match s {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" => 80,
        "https" => 443,
        _ => s
            .parse::<u16>()
            .map_err(|_| format!("invalid port '{s}'"))?,
    };
    if n == 0 {
        Err(format!("invalid port '{s}'"))
    } else {
        Ok(n)
    }
}

fn proto(s: &str) -> Option<String> {
    match s {
        "tcp" | "udp" | "tcp/udp" | "icmp" | "gre" | "esp" | "ah" => Some(s.into()),
        "tcpudp" => Some("tcp/udp".into()),
        _ => s.parse::<u8>().ok().map(|n| n.to_string()),
    }
}

fn port_range(s: &str) -> Result<String, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("invalid port range '{s}'"))?;
    let (a, b) = (port(a)?, port(b)?);
    if a > b {
        return Err(format!("invalid port range '{s}'"));
    }
    Ok(format!("{a}:{b}"))
}

/// `any` | ipmask [port OP N | port N <> M | port N >< M].
fn obj(p: &mut P) -> Result<String, String> {
    let mut s = if p.eat("any") {
        "any".to_string()
    } else {
        ipmask(p)?
    };
    if p.eat("port") {
        let a = p.next()?;
        let op = match a {
            "=" | "eq" => Some("="),
            "!=" | "ne" => Some("!="),
            "<" | "lt" => Some("<"),
            ">" | "gt" => Some(">"),
            "<=" | "le" => Some("<="),
            ">=" | "ge" => Some(">="),
            _ => None,
        };
        match op {
            Some(op) => s.push_str(&format!(" port {op} {}", port(p.next()?)?)),
            None => {
                let lo = port(a)?;
                let range = p.next()?;
                if range != "<>" && range != "><" {
                    return Err(format!("syntax error at '{range}'"));
                }
                s.push_str(&format!(" port {lo} {range} {}", port(p.next()?)?));
            }
        }
    }
    Ok(s)
}

fn age(p: &mut P) -> Result<String, String> {
    let a = p.next()?;
    let (x, y) = a.split_once('/').unwrap_or((a, a));
    let (x, y): (u32, u32) = (
        x.parse().map_err(|_| format!("invalid age '{a}'"))?,
        y.parse().map_err(|_| format!("invalid age '{a}'"))?,
    );
    Ok(format!(" age {x}/{y}"))
}

fn ifname(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() < 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:".contains(c));
    if ok {
        Ok(s.into())
    } else {
        Err(format!("invalid interface name '{s}'"))
    }
}

fn rule(toks: &[&str]) -> Result<String, String> {
    let mut p = P { t: toks, i: 0 };
    let kw = p.next()?;
    match kw {
        "map" | "bimap" | "map-block" => map(&mut p, kw),
        "rdr" => rdr(&mut p),
        _ => Err(format!("unknown keyword '{kw}'")),
    }
}

fn map(p: &mut P, kw: &str) -> Result<String, String> {
    let ifn = ifname(p.next()?)?;
    let src = if p.eat("from") {
        let a = obj(p)?;
        p.expect("to")?;
        format!("from {a} to {}", obj(p)?)
    } else {
        ipmask(p)?
    };
    p.expect("->")?;
    let dst = if p.eat("range") {
        let r = p.next()?;
        let (a, b) = match r.split_once('-') {
            Some((a, b)) if !b.is_empty() => (a.to_string(), b.to_string()),
            _ => {
                let a = r.trim_end_matches('-').to_string();
                p.eat("-");
                (a, p.next()?.to_string())
            }
        };
        format!("range {}-{}", fmt_ip(ip(&a)?), fmt_ip(ip(&b)?))
    } else {
        ipmask(p)?
    };
    let mut s = format!("{kw} {ifn} {src} -> {dst}");
    let (mut mapping, mut bare, mut opts) = (String::new(), String::new(), String::new());
    while let Some(t) = p.peek() {
        p.i += 1;
        match t {
            "portmap" if kw != "map-block" => {
                let pr = p.next()?;
                if !["tcp", "udp", "tcp/udp", "tcpudp"].contains(&pr) {
                    return Err(format!("invalid portmap protocol '{pr}'"));
                }
                let r = p.next()?;
                let r = if r == "auto" {
                    "auto".to_string()
                } else {
                    port_range(r)?
                };
                mapping = format!(" portmap {} {r}", proto(pr).unwrap_or_default());
            }
            "icmpidmap" => {
                p.expect("icmp")?;
                mapping = format!(" icmpidmap icmp {}", port_range(p.next()?)?);
            }
            "proxy" => {
                p.expect("port")?;
                let pt = port(p.next()?)?;
                mapping = format!(" proxy port {pt} {}", p.next()?);
            }
            "ports" if kw == "map-block" => {
                let n = p.next()?;
                if n != "auto" && n.parse::<u16>().is_err() {
                    return Err(format!("invalid ports '{n}'"));
                }
                mapping = format!(" ports {n}");
            }
            "frag" => opts.push_str(" frag"),
            "age" => opts.push_str(&age(p)?),
            "mssclamp" => opts.push_str(&format!(
                " mssclamp {}",
                p.next()?.parse::<u16>().map_err(|_| "invalid mssclamp")?
            )),
            "tag" => opts.push_str(&format!(" tag {}", p.next()?)),
            "sequential" => opts.push_str(" sequential"),
            x => match proto(x) {
                Some(pr) if bare.is_empty() => bare = format!(" {pr}"),
                _ => return Err(format!("syntax error at '{x}'")),
            },
        }
    }
    s.push_str(&mapping);
    s.push_str(&bare);
    s.push_str(&opts);
    Ok(s)
}

fn rdr(p: &mut P) -> Result<String, String> {
    let ifn = ifname(p.next()?)?;
    let (matcher, ports) = if p.eat("from") {
        let a = obj(p)?;
        p.expect("to")?;
        (format!("from {a} to {}", obj(p)?), String::new())
    } else {
        let m = ipmask(p)?;
        let mut ports = String::new();
        if p.eat("port") {
            p.eat("=");
            let a = p.next()?;
            let (lo, hi) = match a.split_once('-') {
                Some((x, y)) => (port(x)?, Some(port(y)?)),
                None if p.peek() == Some("-") => {
                    p.i += 1;
                    (port(a)?, Some(port(p.next()?)?))
                }
                None => (port(a)?, None),
            };
            ports = match hi {
                Some(h) if h < lo => return Err(format!("invalid port range '{a}'")),
                Some(h) => format!(" port {lo}-{h}"),
                None => format!(" port {lo}"),
            };
        }
        (m, ports)
    };
    p.expect("->")?;
    let targets: Vec<String> = p
        .next()?
        .split(',')
        .map(|a| ip(a).map(fmt_ip))
        .collect::<Result<_, _>>()?;
    let mut s = format!("rdr {ifn} {matcher}{ports} -> {}", targets.join(","));
    p.expect("port")?;
    let fixed = p.eat("=");
    s.push_str(&format!(
        " port {}{}",
        if fixed { "= " } else { "" },
        port(p.next()?)?
    ));
    let mut pr = "tcp".to_string();
    let mut opts = String::new();
    let mut saw_proto = false;
    while let Some(t) = p.peek() {
        p.i += 1;
        match t {
            "round-robin" => opts.push_str(" round-robin"),
            "frag" => opts.push_str(" frag"),
            "age" => opts.push_str(&age(p)?),
            "sticky" => opts.push_str(" sticky"),
            "mssclamp" => opts.push_str(&format!(
                " mssclamp {}",
                p.next()?.parse::<u16>().map_err(|_| "invalid mssclamp")?
            )),
            "proxy" => opts.push_str(&format!(" proxy {}", p.next()?)),
            x => match proto(x) {
                Some(v) if !saw_proto => {
                    pr = v;
                    saw_proto = true;
                }
                _ => return Err(format!("syntax error at '{x}'")),
            },
        }
    }
    s.push_str(&format!(" {pr}{opts}"));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bhyve_nat_rules_normalise_like_printnat() {
        let conf = "# NAT for the VM subnet\n\
            map igb0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto\n\
            map igb0 10.10.0.0/24 -> 0/32\n\
            rdr igb0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp\n\
            bimap igb0 10.10.0.6/32 -> 192.168.1.20/32\n";
        assert_eq!(
            parse(conf).unwrap(),
            vec![
                "map igb0 10.10.0.0/24 -> 0.0.0.0/32 portmap tcp/udp auto",
                "map igb0 10.10.0.0/24 -> 0.0.0.0/32",
                "rdr igb0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp",
                "bimap igb0 10.10.0.6/32 -> 192.168.1.20/32",
            ]
        );
    }

    #[test]
    fn netmasks_ranges_and_options() {
        assert_eq!(
            parse("map igb0 10.0.0.0/255.255.255.0 -> range 192.168.1.100-192.168.1.110 portmap tcp 10000:20000 age 30").unwrap(),
            vec!["map igb0 10.0.0.0/24 -> range 192.168.1.100-192.168.1.110 portmap tcp 10000:20000 age 30/30"]
        );
        assert_eq!(
            parse("rdr igb0 0/0 port http -> 10.0.0.5 port 8080").unwrap(),
            vec!["rdr igb0 0.0.0.0/0 port 80 -> 10.0.0.5 port 8080 tcp"]
        );
    }

    #[test]
    fn errors_name_the_line() {
        // The old Node agent wrote rdr rules without `port` on the target: not valid ipnat.
        let e =
            parse("map igb0 10.0.0.0/24 -> 0/32\nrdr igb0 1.2.3.4/32 port 80 -> 10.0.0.5 tcp\n")
                .unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(parse("map igb0 10.0.0.0/33 -> 0/32").is_err());
        assert!(parse("nat igb0 a -> b").is_err());
        assert!(parse("map igb0 10.0.0.0/24 -> 0/32 portmap icmp auto").is_err());
    }
}
