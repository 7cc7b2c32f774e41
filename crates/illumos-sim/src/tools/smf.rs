//! SMF shared by svcs/svcadm/svccfg/svcprop: FMRI patterns, the instance state machine, and
//! the start methods of the services whose behaviour the agent depends on (ipfilter loads
//! ipnat.conf, at start and refresh; the DHCP server needs a subnet for each interface it
//! listens on, and reads its configuration only at start: OmniOS's refresh method is `:true`).

use std::io::Write;

use crate::ctx::Ctx;
use crate::natconf;
use crate::state::{DhcpdLoaded, Service};

/// The instances of OmniOS's ISC DHCP package (reference §1.11).
pub const DHCP_V4: &str = "svc:/network/service/dhcp:ipv4";
pub const DHCP_V6: &str = "svc:/network/service/dhcp:ipv6";
use crate::timefmt;

/// Finishes transitions whose time has come (`offline*` → `online`, a pending restart's stop
/// and start). Called first by every SMF tool, so states advance lazily with no daemon.
pub fn settle(cx: &mut Ctx) {
    let now = timefmt::now_ms();
    let mut changed = false;
    let mut restarts = Vec::new();
    for (fmri, s) in cx.st.services.iter_mut() {
        if let Some(next) = s.next_state.clone() {
            if s.until_ms <= now {
                s.next_state = None;
                changed = true;
                if std::mem::take(&mut s.restarting) {
                    restarts.push(fmri.clone());
                } else {
                    s.state = next;
                    s.stime = now / 1000;
                }
            }
        }
    }
    for fmri in restarts {
        log(cx, &fmri, "Stopping because service restarting");
        stop_method(cx, &fmri);
        start_now(cx, &fmri);
    }
    if changed {
        cx.touch();
    }
}

fn glob(p: &str, s: &str) -> bool {
    crate::tools::zfs::glob(p, s)
}

/// Instances an operand names: a full FMRI, an abbreviation matching trailing components
/// (`ipfilter`, `service/dhcp:ipv4`, `:default`), or an fnmatch pattern.
pub fn resolve(cx: &Ctx, pat: &str) -> Vec<String> {
    let pat = pat.replace("svc://localhost/", "svc:/");
    if pat.contains(['*', '?', '[']) {
        let full = if pat.starts_with("svc:") {
            pat.clone()
        } else {
            format!("svc:/{pat}")
        };
        return cx
            .st
            .services
            .keys()
            .filter(|f| glob(&full, f) || glob(&full, svc_part(f)))
            .cloned()
            .collect();
    }
    let p = pat.strip_prefix("svc:/").unwrap_or(&pat);
    cx.st
        .services
        .keys()
        .filter(|f| {
            let f = f.strip_prefix("svc:/").unwrap_or(f);
            let svc = f.split(':').next().unwrap_or(f);
            f == p
                || f.ends_with(&format!("/{p}"))
                || (p.starts_with(':') && f.ends_with(p))
                || (!p.contains(':') && (svc == p || svc.ends_with(&format!("/{p}"))))
        })
        .cloned()
        .collect()
}

pub fn svc_part(fmri: &str) -> &str {
    fmri.rsplit_once(':').map_or(fmri, |(s, _)| s)
}

pub fn log_path(cx: &Ctx, fmri: &str) -> std::path::PathBuf {
    let name = fmri.strip_prefix("svc:/").unwrap_or(fmri).replace('/', "-");
    cx.host.in_root(&format!("/var/svc/log/{name}.log"))
}

fn log(cx: &Ctx, fmri: &str, msg: &str) {
    let p = log_path(cx, fmri);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
    {
        let _ = writeln!(f, "[ {} {msg} ]", timefmt::ctime(timefmt::now_secs()));
    }
}

fn prop1(s: &Service, key: &str) -> String {
    s.running
        .get(key)
        .and_then(|p| p.values.first())
        .cloned()
        .unwrap_or_default()
}

fn v4(a: &str) -> Option<(u32, u8)> {
    let (ip, len) = a.split_once('/')?;
    Some((
        u32::from(ip.parse::<std::net::Ipv4Addr>().ok()?),
        len.parse().ok()?,
    ))
}

/// `subnet A netmask M` declarations of a dhcpd.conf.
/// The `subnet A netmask M` declarations of a dhcpd.conf, ignoring `#` comments and quoted
/// strings (a commented-out subnet does not serve anything).
fn dhcp_subnets(text: &str) -> Vec<(u32, u32)> {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                '#' if !quoted => break,
                _ if quoted => {}
                _ => code.push(c),
            }
        }
        code.push('\n');
    }
    let toks: Vec<&str> = code
        .split(|c: char| c.is_whitespace() || c == '{' || c == ';')
        .filter(|t| !t.is_empty())
        .collect();
    toks.windows(4)
        .filter(|w| w[0] == "subnet" && w[2] == "netmask")
        .filter_map(|w| {
            let a = u32::from(w[1].parse::<std::net::Ipv4Addr>().ok()?);
            let m = u32::from(w[3].parse::<std::net::Ipv4Addr>().ok()?);
            Some((a, m))
        })
        .collect()
}

/// Whether dhcpd (v4) can serve: each interface it listens on has an address inside a subnet
/// declaration of `text` (with none named, at least one interface does).
fn dhcp4_serves(cx: &Ctx, text: &str, listen: &[String]) -> Result<(), String> {
    let subnets = dhcp_subnets(text);
    let covered = |ifn: &str| -> Option<bool> {
        let a = cx
            .st
            .addrs
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{ifn}/")))
            .map(|(_, a)| a.addr.clone())?;
        let (ip, _) = v4(&a)?;
        Some(subnets.iter().any(|(net, m)| ip & m == net & m))
    };
    if listen.is_empty() {
        let any = cx
            .st
            .ifs
            .keys()
            .filter(|i| *i != "lo0")
            .any(|i| covered(i) == Some(true));
        return if any {
            Ok(())
        } else {
            Err("Not configured to listen on any interfaces!".into())
        };
    }
    for ifn in listen {
        match covered(ifn) {
            None => return Err(format!("Interface {ifn} has no IPv4 address")),
            Some(false) => return Err(format!("No subnet declaration for {ifn}")),
            Some(true) => {}
        }
    }
    Ok(())
}

/// Runs the instance's start method; `Err` is why it went to maintenance.
fn start_method(cx: &mut Ctx, fmri: &str) -> Result<(), String> {
    let s = cx.st.services[fmri].clone();
    match fmri {
        "svc:/network/ipfilter:default" => {
            let file = prop1(&s, "config/ipnat_config_file");
            let text = std::fs::read_to_string(cx.host.resolve(&file)).unwrap_or_default();
            let rules = natconf::parse(&text).map_err(|e| format!("{file}: {e}"))?;
            cx.st.nat_rules = rules;
            Ok(())
        }
        DHCP_V4 | DHCP_V6 => {
            let file = prop1(&s, "config/config_file");
            let text = std::fs::read_to_string(cx.host.resolve(&file))
                .map_err(|_| format!("Can't open {file}: No such file or directory"))?;
            // One empty value (the package's default) means every interface.
            let listen: Vec<String> = s
                .running
                .get("config/listen_ifnames")
                .map(|p| p.values.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|v| !v.is_empty())
                .collect();
            let loaded = DhcpdLoaded {
                config_file: file,
                config: text.clone(),
                lease_file: prop1(&s, "config/lease_file"),
                listen_ifnames: listen.clone(),
            };
            if fmri == DHCP_V4 {
                dhcp4_serves(cx, &text, &listen)?;
            }
            cx.st.dhcpd.insert(fmri.to_owned(), loaded);
            Ok(())
        }
        "svc:/network/ipv4-forwarding:default" | "svc:/network/ipv6-forwarding:default" => {
            let key = if fmri.contains("ipv4") {
                "ipv4-forwarding"
            } else {
                "ipv6-forwarding"
            };
            let e = cx
                .st
                .routing
                .options
                .entry(key.into())
                .or_insert((false, false));
            e.1 = true;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn stop_method(cx: &mut Ctx, fmri: &str) {
    match fmri {
        "svc:/network/ipfilter:default" => cx.st.nat_rules.clear(),
        DHCP_V4 | DHCP_V6 => {
            cx.st.dhcpd.remove(fmri);
        }
        "svc:/network/ipv4-forwarding:default" | "svc:/network/ipv6-forwarding:default" => {
            let key = if fmri.contains("ipv4") {
                "ipv4-forwarding"
            } else {
                "ipv6-forwarding"
            };
            let e = cx
                .st
                .routing
                .options
                .entry(key.into())
                .or_insert((false, false));
            e.1 = false;
        }
        _ => {}
    }
}

fn set_state(cx: &mut Ctx, fmri: &str, state: &str, reason: &str) {
    if let Some(s) = cx.st.services.get_mut(fmri) {
        s.state = state.into();
        s.next_state = None;
        s.restarting = false;
        s.reason = reason.into();
        s.stime = timefmt::now_secs();
    }
    cx.touch();
}

/// Starts an enabled instance: online (after `svc_start_ms` in `offline*`) or maintenance.
pub fn bring_up(cx: &mut Ctx, fmri: &str) {
    let ms = cx.conf().svc_start_ms;
    if ms == 0 {
        return start_now(cx, fmri);
    }
    log(cx, fmri, "Executing start method");
    match start_method(cx, fmri) {
        Ok(()) => {
            count_start(cx, fmri);
            set_state(cx, fmri, "offline", "");
            if let Some(s) = cx.st.services.get_mut(fmri) {
                s.next_state = Some("online".into());
                s.until_ms = timefmt::now_ms() + ms;
            }
            log(cx, fmri, "Method \"start\" exited with status 0");
        }
        Err(why) => failed_start(cx, fmri, &why),
    }
    sync_forwarding(cx);
}

/// Runs the start method and ends online or in maintenance, with no transition between.
fn start_now(cx: &mut Ctx, fmri: &str) {
    log(cx, fmri, "Executing start method");
    match start_method(cx, fmri) {
        Ok(()) => {
            count_start(cx, fmri);
            set_state(cx, fmri, "online", "");
            log(cx, fmri, "Method \"start\" exited with status 0");
        }
        Err(why) => failed_start(cx, fmri, &why),
    }
    sync_forwarding(cx);
}

fn count_start(cx: &mut Ctx, fmri: &str) {
    if let Some(s) = cx.st.services.get_mut(fmri) {
        s.starts += 1;
    }
}

fn failed_start(cx: &mut Ctx, fmri: &str, why: &str) {
    log(cx, fmri, why);
    log(cx, fmri, "Method \"start\" exited with status 95");
    set_state(cx, fmri, "maintenance", why);
    stop_method(cx, fmri);
}

/// `svcadm restart` of an online or degraded instance: with `svc_start_ms` set, svc.startd
/// stops and starts it that long after svcadm returns (`online*` until then); otherwise at
/// once.
pub fn restart(cx: &mut Ctx, fmri: &str) {
    let ms = cx.conf().svc_start_ms;
    if ms == 0 {
        log(cx, fmri, "Stopping because service restarting");
        stop_method(cx, fmri);
        return start_now(cx, fmri);
    }
    if let Some(s) = cx.st.services.get_mut(fmri) {
        s.next_state = Some("online".into());
        s.until_ms = timefmt::now_ms() + ms;
        s.restarting = true;
    }
    cx.touch();
}

pub fn bring_down(cx: &mut Ctx, fmri: &str) {
    log(cx, fmri, "Stopping because service disabled");
    stop_method(cx, fmri);
    set_state(cx, fmri, "disabled", "");
    sync_forwarding(cx);
}

/// Enabling the forwarding instances also sets the persistent routeadm switch.
fn sync_forwarding(cx: &mut Ctx) {
    for v in ["ipv4", "ipv6"] {
        if let Some(s) = cx
            .st
            .services
            .get(&format!("svc:/network/{v}-forwarding:default"))
        {
            let en = s.enabled;
            let e = cx
                .st
                .routing
                .options
                .entry(format!("{v}-forwarding"))
                .or_insert((false, false));
            e.0 = en;
        }
    }
}

/// `svcadm refresh` / `svccfg refresh`: new running snapshot, and the refresh method.
pub fn refresh(cx: &mut Ctx, fmri: &str) {
    if let Some(s) = cx.st.services.get_mut(fmri) {
        s.running = s.props.clone();
    }
    cx.touch();
    let online = cx
        .st
        .services
        .get(fmri)
        .is_some_and(|s| s.state == "online" || s.state == "degraded");
    if online && (fmri == DHCP_V4 || fmri == DHCP_V6) {
        // The package's refresh method is `:true`: dhcpd keeps what it loaded at start.
        log(cx, fmri, "Executing refresh method (\":true\")");
    } else if online {
        log(cx, fmri, "Executing refresh method");
        if let Err(why) = start_method(cx, fmri) {
            log(cx, fmri, &why);
            set_state(cx, fmri, "maintenance", &why);
            stop_method(cx, fmri);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn commented_and_quoted_subnets_do_not_count() {
        let conf = "# subnet 10.0.0.0 netmask 255.255.255.0 {}\noption x \"subnet 10.1.0.0 netmask 255.255.0.0\";\nsubnet 10.2.0.0 netmask 255.255.0.0 { }\n";
        assert_eq!(super::dhcp_subnets(conf), vec![(0x0a020000, 0xffff0000)]);
    }
}
