//! `illumos-sim init|config|dump`: creating, tuning and inspecting an emulated host.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::host::Host;
use crate::lock::HostLock;
use crate::simconf::SimConf;
use crate::state::*;
use crate::timefmt;

const USAGE: &str = "usage: illumos-sim init <host-dir> [--pool-size SIZE]
       illumos-sim config <host-dir> [key=value ...]
       illumos-sim dump <host-dir>";

pub fn main(args: &[String]) -> i32 {
    let r = match (args.first().map(String::as_str), args.get(1)) {
        (Some("init"), Some(dir)) if args.len() == 2 => init(Path::new(dir), None),
        (Some("init"), Some(dir)) if args.len() == 4 && args[2] == "--pool-size" => {
            match crate::tools::zfsprops::parse_size(&args[3]) {
                Some(n) if n >= 1 << 30 => init(Path::new(dir), Some(n)),
                _ => {
                    eprintln!(
                        "illumos-sim: --pool-size: {} is not a size of 1G or more",
                        args[3]
                    );
                    return 2;
                }
            }
        }
        (Some("config"), Some(dir)) => config(Path::new(dir), &args[2..]),
        (Some("dump"), Some(dir)) if args.len() == 2 => dump(Path::new(dir)),
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("illumos-sim: {e}");
            1
        }
    }
}

/// The pool of a fresh host: a hypervisor's, big enough for the guides' examples.
pub const DEFAULT_POOL_SIZE: u64 = 2 << 40;

/// Creates the host (or refreshes the tool links of an existing one, keeping its state; a
/// `pool_size` given resizes its pool).
pub fn init(dir: &Path, pool_size: Option<u64>) -> Result<(), String> {
    let e = |what: &str, err: std::io::Error| format!("{what}: {err}");
    std::fs::create_dir_all(dir).map_err(|x| e("create host dir", x))?;
    let dir = std::fs::canonicalize(dir).map_err(|x| e("host dir", x))?;
    let host = Host::new(&dir);
    let exe = std::env::current_exe().map_err(|x| e("locate illumos-sim", x))?;
    std::fs::create_dir_all(dir.join("bin")).map_err(|x| e("create bin", x))?;
    crate::layout::tool_links(&host, &exe)?;
    crate::layout::pfexec(&host, &exe)?;
    let _lock = HostLock::acquire(&host.lock_path()).map_err(|x| e("lock", x))?;
    if !host.state_path().exists() {
        seed(pool_size.unwrap_or(DEFAULT_POOL_SIZE))
            .save(&host.state_path())
            .map_err(|x| e("write state", x))?;
    } else {
        let mut st = State::load(&host.state_path()).map_err(|x| e("read state", x))?;
        let mut changed = false;
        if let (Some(size), Some(pool)) = (pool_size, st.pools.get_mut("rpool")) {
            pool.size = size;
            changed = true;
        }
        // A host made before the machine was emulated gets its identity now, once.
        if st.system.hostname.is_empty() {
            st.system = crate::state::System {
                hostname: crate::tools::system::HOSTNAME.into(),
                boot_time: timefmt::now_secs(),
            };
            changed = true;
        }
        if changed {
            st.save(&host.state_path())
                .map_err(|x| e("write state", x))?;
        }
    }
    for d in [
        "etc/ipf",
        "rpool/zones",
        "var/svc/log",
        "tmp",
        "dev/zvol/dsk",
        "dev/zvol/rdsk",
    ] {
        std::fs::create_dir_all(host.root.join(d)).map_err(|x| e("create root", x))?;
    }
    // /etc/zones/index with the global zone, as a fresh install has it.
    let st = State::load(&host.state_path()).map_err(|x| e("read state", x))?;
    let none = crate::zonefiles::Snapshot::new();
    crate::zonefiles::sync(&host, &none, &crate::zonefiles::snapshot(&st));
    // Tells a program pointed at this root that the host is emulated: its guests are on no
    // network, so nothing may dial their addresses.
    std::fs::write(
        host.root.join("etc/illumos-sim"),
        "This host is emulated by illumos-sim. Its zones' addresses exist only here;
         a guest can be reached only through a stand-in on loopback.
",
    )
    .map_err(|x| e("write etc/illumos-sim", x))?;
    // ipnat.conf, and the leases files the DHCP package creates empty.
    for f in [
        "etc/ipf/ipnat.conf",
        "var/db/dhcpd.leases",
        "var/db/dhcpd6.leases",
    ] {
        let p = host.root.join(f);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|x| e("create root", x))?;
        }
        if !p.exists() {
            std::fs::write(&p, "").map_err(|x| e(f, x))?;
        }
    }
    // /etc/nodename, as an install leaves it: the name the host was given (nodename(5)).
    let nodename = host.root.join("etc/nodename");
    if !nodename.exists() {
        std::fs::write(&nodename, format!("{}\n", st.system.hostname))
            .map_err(|x| e("etc/nodename", x))?;
    }
    crate::package::install(&host, crate::package::helper_beside(&exe).as_deref())?;
    crate::layout::ownership(&host)
}

fn prop(ty: &str, vals: &[&str]) -> Prop {
    Prop {
        ty: ty.into(),
        values: vals.iter().map(|s| s.to_string()).collect(),
    }
}

fn service(desc: &str, enabled: bool, props: &[(&str, Prop)], now: u64) -> Service {
    let mut pgs = BTreeMap::new();
    let mut map = BTreeMap::new();
    for (k, p) in props {
        let pg = k.split('/').next().unwrap_or_default();
        pgs.insert(pg.to_string(), "application".to_string());
        map.insert(k.to_string(), p.clone());
    }
    Service {
        desc: desc.into(),
        enabled,
        state: if enabled { "online" } else { "disabled" }.into(),
        stime: now,
        pgs,
        running: map.clone(),
        props: map,
        ..Default::default()
    }
}

/// The `config/` properties of an instance of OmniOS's ISC DHCP service: `/etc/dhcpd{v}.conf`,
/// `/var/db/{leases}.leases`, and one empty `listen_ifnames` value (all interfaces).
fn dhcp_props(v: &str, leases: &str) -> Vec<(&'static str, Prop)> {
    vec![
        (
            "config/config_file",
            prop("astring", &[&format!("/etc/dhcpd{v}.conf")]),
        ),
        (
            "config/lease_file",
            prop("astring", &[&format!("/var/db/{leases}.leases")]),
        ),
        ("config/listen_ifnames", prop("astring", &[""])),
        ("config/debug", prop("boolean", &["false"])),
        ("config/omapi_conn_limit", prop("integer", &["200"])),
    ]
}

/// A physical Ethernet NIC of the emulated host, named after its device.
fn phys_nic(name: &str, mac: &str) -> Link {
    Link {
        class: "phys".into(),
        over: String::new(),
        mac: mac.into(),
        mac_type: String::new(),
        vid: 0,
        mtu: 1500,
        temporary: false,
        zone: None,
        phys: Some(PhysInfo {
            media: "Ethernet".into(),
            speed: 1000,
            duplex: "full".into(),
            device: name.into(),
        }),
    }
}

/// A fresh OmniOS hypervisor: igb0 with 192.168.1.10/24 and a default route, rpool with
/// rpool/zones, ipfilter and the ISC DHCP server disabled, forwarding off, no zones.
pub fn seed(pool_size: u64) -> State {
    let now = timefmt::now_secs();
    let mut st = State {
        system: crate::state::System {
            hostname: crate::tools::system::HOSTNAME.into(),
            boot_time: now,
        },
        ..State::default()
    };
    st.pools.insert(
        "rpool".into(),
        Pool {
            size: pool_size,
            health: "ONLINE".into(),
        },
    );
    for name in ["rpool", "rpool/zones"] {
        let txg = st.next_txg();
        st.datasets.insert(
            name.into(),
            Dataset {
                kind: DsKind::Filesystem,
                props: BTreeMap::new(),
                received: BTreeMap::new(),
                origin: None,
                referenced: 98_304,
                txg,
                guid: 0x5eed_0000 + txg,
                creation: now,
            },
        );
    }
    // igb0 is the uplink (its IP interface below); igb1 and igb2 are the spare pair a
    // hypervisor keeps for an aggregation or a bridge, free for the UI's link pickers.
    for (nic, mac) in [
        ("igb0", "0:1b:21:a4:3c:10"),
        ("igb1", "0:1b:21:a4:3c:11"),
        ("igb2", "0:1b:21:a4:3c:12"),
    ] {
        st.links.insert(nic.into(), phys_nic(nic, mac));
    }
    st.ifs.insert(
        "lo0".into(),
        IpIf {
            temporary: false,
            v6: true,
            props: BTreeMap::new(),
        },
    );
    st.ifs.insert("igb0".into(), IpIf::default());
    for (obj, a) in [
        ("lo0/v4", "127.0.0.1/8"),
        ("igb0/v4", "192.168.1.10/24"),
        ("lo0/v6", "::1/128"),
    ] {
        st.addrs.insert(
            obj.into(),
            Addr {
                ty: "static".into(),
                addr: a.into(),
                temporary: false,
                disabled: false,
            },
        );
    }
    st.routes.push(Route {
        dest: "default".into(),
        gateway: "192.168.1.1".into(),
        ifname: "igb0".into(),
    });
    for o in [
        "ipv4-forwarding",
        "ipv4-routing",
        "ipv6-forwarding",
        "ipv6-routing",
    ] {
        st.routing.options.insert(o.into(), (false, false));
    }
    for v in [
        "ipv4-routing-daemon",
        "ipv4-routing-daemon-args",
        "ipv4-routing-stop-cmd",
        "ipv6-routing-daemon",
        "ipv6-routing-daemon-args",
        "ipv6-routing-stop-cmd",
    ] {
        st.routing.vars.insert(v.into(), String::new());
    }
    st.routing
        .vars
        .insert("routing-svcs".into(), "route:default ripng:default".into());
    let svcs: Vec<(&str, Service)> = vec![
        (
            "svc:/system/svc/restarter:default",
            service("master restarter", true, &[], now),
        ),
        (
            "svc:/system/filesystem/local:default",
            service("local file system mounts", true, &[], now),
        ),
        (
            "svc:/network/loopback:default",
            service("loopback network interface", true, &[], now),
        ),
        (
            "svc:/network/physical:default",
            service("physical network interfaces", true, &[], now),
        ),
        (
            "svc:/network/routing-setup:default",
            service("Initial routing-related configuration", true, &[], now),
        ),
        (
            "svc:/network/ipv4-forwarding:default",
            service("IPv4 forwarding", false, &[], now),
        ),
        (
            "svc:/network/ipv6-forwarding:default",
            service("IPv6 forwarding", false, &[], now),
        ),
        (
            "svc:/network/ssh:default",
            service(
                "SSH server",
                true,
                &[("config/port", prop("count", &["22"]))],
                now,
            ),
        ),
        (
            "svc:/system/zones:default",
            service("Zones autoboot", true, &[], now),
        ),
        (
            "svc:/milestone/multi-user:default",
            service("multi-user milestone", true, &[], now),
        ),
        (
            "svc:/network/ipfilter:default",
            service(
                "IP Filter",
                false,
                &[
                    (
                        "config/ipf6_config_file",
                        prop("astring", &["/etc/ipf/ipf6.conf"]),
                    ),
                    (
                        "config/ipnat_config_file",
                        prop("astring", &["/etc/ipf/ipnat.conf"]),
                    ),
                    (
                        "config/ippool_config_file",
                        prop("astring", &["/etc/ipf/ippool.conf"]),
                    ),
                    ("firewall_config_default/policy", prop("astring", &["none"])),
                ],
                now,
            ),
        ),
        // OmniOS's package network/service/isc-dhcp (reference §1.11), delivered disabled.
        (
            "svc:/network/service/dhcp:ipv4",
            service("ISC DHCP Server", false, &dhcp_props("", "dhcpd"), now),
        ),
        (
            "svc:/network/service/dhcp:ipv6",
            service("ISC DHCP Server", false, &dhcp_props("6", "dhcpd6"), now),
        ),
    ];
    for (f, s) in svcs {
        st.services.insert(f.into(), s);
    }
    crate::services_seed::extend(&mut st, now);
    st
}

fn config(dir: &Path, kvs: &[String]) -> Result<(), String> {
    let host = Host::new(dir);
    if !host.state_path().exists() {
        return Err(format!("{} is not an emulated host", dir.display()));
    }
    let mut conf = SimConf::load(&host);
    for kv in kvs {
        conf.set(kv)?;
    }
    if !kvs.is_empty() {
        conf.save(&host)
            .map_err(|e| format!("write sim.conf: {e}"))?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&conf).unwrap_or_default()
    );
    Ok(())
}

fn strip(v: &mut Value, keys: &[&str]) {
    if let Value::Object(m) = v {
        for k in keys {
            m.remove(*k);
        }
    }
}

/// The canonical host state: no counters, ids, timestamps or transcripts, keys sorted, plus
/// the two configuration files the agent edits.
pub fn dump_value(host: &Host, st: &State) -> Value {
    let mut v = serde_json::to_value(st).unwrap_or(Value::Null);
    strip(&mut v, &["counters", "next_zone_id", "txg", "system"]);
    for (section, keys) in [
        ("zones", &["id", "uuid", "booted_ms"][..]),
        ("datasets", &["txg", "guid", "creation"][..]),
        ("services", &["stime", "until_ms", "starts"][..]),
    ] {
        if let Some(Value::Object(m)) = v.get_mut(section) {
            for item in m.values_mut() {
                strip(item, keys);
                if let Some(g) = item.get_mut("guest") {
                    strip(g, &["transcript", "banner_shown", "vnc_socket"]);
                }
            }
        }
    }
    let mut files = serde_json::Map::new();
    for f in ["/etc/ipf/ipnat.conf", "/etc/dhcpd.conf"] {
        let c = std::fs::read(host.in_root(f))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        files.insert(f.into(), c.map(Value::from).unwrap_or(Value::Null));
    }
    v["files"] = Value::Object(files);
    v
}

fn dump(dir: &Path) -> Result<(), String> {
    let host = Host::new(dir);
    let st = {
        let _lock = HostLock::acquire(&host.lock_path()).map_err(|e| format!("lock: {e}"))?;
        State::load(&host.state_path()).map_err(|e| format!("{}: {e}", dir.display()))?
    };
    let v = dump_value(&host, &st);
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(())
}
