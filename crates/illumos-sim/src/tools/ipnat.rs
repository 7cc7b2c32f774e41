//! `ipnat`: flush (-C rules, -F sessions), load (-f, appended in file order; `-r` removes),
//! check only (-n), list (-l). Rules are kept normalised as `ipnat -l` prints them. Parse
//! errors name the line; rules before it are loaded, as the real ipnat adds them one by one.

use std::io::Read;

use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::natconf;

const USAGE: &str = "usage: ipnat [-CdFhlnRrsv] [-G|-z zonename] -f filename";

fn ipfilter_online(cx: &Ctx) -> bool {
    cx.st
        .services
        .get("svc:/network/ipfilter:default")
        .is_some_and(|s| s.state == "online")
}

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let o = match getopt(args, "CdFhlnRrsvf:G:z:", &[]) {
        Ok(o) => o,
        Err(_) => {
            cx.errln(USAGE);
            return 1;
        }
    };
    let dry = o.has('n');
    if !dry && !ipfilter_online(cx) {
        // NAT lives in the ipf module, which is not active while svc:/network/ipfilter is down.
        cx.errln("/dev/ipnat: open: No such device or address");
        return 1;
    }
    if !dry {
        if o.has('F') {
            cx.outln("0 entries flushed from NAT table");
        }
        if o.has('C') {
            let n = cx.st.nat_rules.len();
            cx.st.nat_rules.clear();
            cx.touch();
            cx.outln(&format!("{n} entries flushed from NAT list"));
        }
    }
    let mut rc = 0;
    if let Some(file) = o.val('f') {
        let text = if file == "-" {
            let mut t = String::new();
            let _ = std::io::stdin().read_to_string(&mut t);
            t
        } else {
            match std::fs::read_to_string(cx.host.resolve(file)) {
                Ok(t) => t,
                Err(e) => {
                    cx.errln(&format!(
                        "{file}: open: {}",
                        if e.kind() == std::io::ErrorKind::NotFound {
                            "No such file or directory"
                        } else {
                            "Permission denied"
                        }
                    ));
                    return 1;
                }
            }
        };
        let (rules, err) = match natconf::parse_lines(&text) {
            Ok(r) => (r, None),
            Err(e) => {
                // Rules up to the bad line still reach the kernel: re-parse the good prefix.
                let prefix: String = text
                    .lines()
                    .take(e.0 - 1)
                    .map(|l| format!("{l}\n"))
                    .collect();
                (natconf::parse_lines(&prefix).unwrap_or_default(), Some(e))
            }
        };
        for r in rules {
            if o.has('v') || (dry && o.has('v')) {
                cx.outln(&r);
            }
            if dry {
                continue;
            }
            if o.has('r') {
                match cx.st.nat_rules.iter().position(|x| *x == r) {
                    Some(i) => {
                        cx.st.nat_rules.remove(i);
                    }
                    None => {
                        cx.errln("ioctl(SIOCRMNAT): No such process");
                        rc = 1;
                    }
                }
            } else if cx.st.nat_rules.contains(&r) {
                cx.errln("ioctl(SIOCADNAT): File exists");
                rc = 1;
            } else {
                cx.st.nat_rules.push(r);
            }
            cx.touch();
        }
        if let Some((line, msg)) = err {
            cx.errln(&format!("ipnat: syntax error on line {line}: {msg}"));
            return 1;
        }
    }
    if o.has('l') && !dry {
        cx.outln("List of active MAP/Redirect filters:");
        let rules = cx.st.nat_rules.clone();
        for r in rules {
            if o.has('h') {
                cx.outln(&format!("0 {r}"));
            } else {
                cx.outln(&r);
            }
        }
        cx.outln("");
        cx.outln("List of active sessions:");
    }
    if o.has('s') && !dry {
        let n = cx.st.nat_rules.len();
        cx.outln("mapped\tin\t0\tout\t0");
        cx.outln("added\t0\texpired\t0");
        cx.outln("no memory\t0\tbad nat\t0");
        cx.outln(&format!("inuse\t0\nrules\t{n}"));
        cx.outln("wilds\t0");
    }
    rc
}
