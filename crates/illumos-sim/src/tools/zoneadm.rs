//! `zoneadm`: zone listing and the install/boot/halt state machine. Long operations release
//! the host lock while they take their configured time, so the intermediate state
//! (`incomplete` while installing, `ready` while booting, `shutting_down`) is observable.

use super::{dladm, zfs, zfsprops};
use crate::ctx::Ctx;
use crate::getopt::getopt;
use crate::state::{DsKind, ZoneState};
use crate::timefmt;

const USAGE: &str = "usage:\tzoneadm [-R root] [-z zone] [-u uuid-match] list [-cinpv]
\tzoneadm -z zone [-u uuid-match] <subcommand>
subcommands: boot, halt, ready, shutdown [-r], reboot, install [-x nodataset],
\tuninstall [-F], verify, mark incomplete, list";

pub fn run(cx: &mut Ctx, args: &[String]) -> i32 {
    let o = match getopt(args, "R:z:u:", &[]) {
        Ok(o) => o,
        Err(_) => {
            cx.errln(USAGE);
            return 2;
        }
    };
    let zone = o.val('z').map(String::from);
    let Some((sub, rest)) = o.operands.split_first() else {
        cx.errln(USAGE);
        return 2;
    };
    if let Some(z) = &zone {
        if z != "global" && !cx.st.zones.contains_key(z) {
            cx.errln(&format!("zoneadm: {z}: No such zone configured"));
            return 1;
        }
    }
    if sub == "list" {
        return list(cx, zone.as_deref(), rest);
    }
    let known = [
        "boot",
        "halt",
        "ready",
        "shutdown",
        "reboot",
        "install",
        "uninstall",
        "verify",
        "mark",
    ];
    if !known.contains(&sub.as_str()) {
        if ["clone", "move", "detach", "attach", "mount", "unmount"].contains(&sub.as_str()) {
            cx.errln(&format!(
                "zoneadm: {sub}: subcommand not emulated by illumos-sim"
            ));
            return 1;
        }
        cx.errln(&format!("zoneadm: {sub}: unknown subcommand"));
        cx.errln(USAGE);
        return 2;
    }
    let Some(z) = zone else {
        cx.errln("zoneadm: no zone specified");
        cx.errln(USAGE);
        return 2;
    };
    if z == "global" {
        cx.errln(&format!(
            "zoneadm: zone 'global': {sub} operation is invalid for the global zone."
        ));
        return 1;
    }
    if z.starts_with("SUNW") {
        cx.errln(&format!(
            "zoneadm: zone '{z}': {sub} operation is invalid for zones starting with SUNW."
        ));
        return 1;
    }
    match sub.as_str() {
        "install" => install(cx, &z, rest),
        "uninstall" => uninstall(cx, &z, rest),
        "boot" => boot_cmd(cx, &z, "boot"),
        "ready" => boot_cmd(cx, &z, "ready"),
        "halt" => halt_cmd(cx, &z),
        "shutdown" => shutdown(cx, &z, rest),
        "reboot" => reboot(cx, &z),
        "verify" => match verify(cx, &z) {
            Ok(()) => 0,
            Err(m) => zerr(cx, &z, &m),
        },
        _ => {
            if rest.first().map(String::as_str) != Some("incomplete") {
                cx.errln(USAGE);
                return 2;
            }
            if let Some(zz) = cx.st.zones.get_mut(&z) {
                if zz.state != ZoneState::Installed {
                    return zerr(
                        cx,
                        &z,
                        "mark operation is invalid for zones which are not installed.",
                    );
                }
                zz.state = ZoneState::Incomplete;
                cx.touch();
            }
            0
        }
    }
}

fn zerr(cx: &mut Ctx, z: &str, msg: &str) -> i32 {
    cx.errln(&format!("zoneadm: zone '{z}': {msg}"));
    1
}

fn state(cx: &Ctx, z: &str) -> Option<ZoneState> {
    cx.st.zones.get(z).map(|x| x.state)
}

fn list(cx: &mut Ctx, zone: Option<&str>, args: &[String]) -> i32 {
    let o = match getopt(args, "cinpv", &[]) {
        Ok(o) => o,
        Err(_) => {
            cx.errln(USAGE);
            return 2;
        }
    };
    struct Row {
        id: String,
        name: String,
        state: String,
        path: String,
        uuid: String,
        brand: String,
        ip: String,
    }
    let global = Row {
        id: "0".into(),
        name: "global".into(),
        state: "running".into(),
        path: "/".into(),
        uuid: String::new(),
        brand: "ipkg".into(),
        ip: "shared".into(),
    };
    let mut zones: Vec<(&String, &crate::state::Zone)> = cx.st.zones.iter().collect();
    zones.sort_by_key(|(n, z)| (z.id.is_none(), z.id, (*n).clone()));
    let mut rows = Vec::new();
    if !o.has('n') && zone.is_none_or(|z| z == "global") {
        rows.push(global);
    }
    for (n, z) in zones {
        if let Some(only) = zone {
            if only != n {
                continue;
            }
        } else if o.has('c') {
        } else if o.has('i') {
            if matches!(z.state, ZoneState::Configured) {
                continue;
            }
        } else if !z.state.in_kernel() {
            continue;
        }
        rows.push(Row {
            id: z.id.map_or("-".into(), |i| i.to_string()),
            name: n.clone(),
            state: z.state.as_str().into(),
            path: z.cfg.zonepath.clone(),
            uuid: z.uuid.clone().unwrap_or_default(),
            brand: z.cfg.brand.clone(),
            ip: if z.cfg.ip_type == "exclusive" {
                "excl".into()
            } else {
                "shared".into()
            },
        });
    }
    if o.has('p') {
        for r in rows {
            cx.outln(&format!(
                "{}:{}:{}:{}:{}:{}:{}",
                r.id,
                r.name,
                r.state,
                r.path.replace('\\', "\\\\").replace(':', "\\:"),
                r.uuid,
                r.brand,
                r.ip
            ));
        }
    } else if o.has('v') {
        cx.outln("  ID NAME             STATUS     PATH                           BRAND    IP    ");
        for r in rows {
            cx.outln(&format!(
                "{:>4} {:<16} {:<10} {:<30} {:<8} {:<6}",
                r.id, r.name, r.state, r.path, r.brand, r.ip
            ));
        }
    } else {
        for r in rows {
            cx.outln(&r.name);
        }
    }
    0
}

fn verify(cx: &Ctx, z: &str) -> Result<(), String> {
    let zz = cx.st.zones.get(z).ok_or("No such zone configured")?;
    if zz.cfg.zonepath.is_empty() {
        return Err("zonepath not specified".into());
    }
    if zz.cfg.brand == "bhyve" && zz.cfg.ip_type != "exclusive" {
        return Err("the bhyve brand requires ip-type exclusive".into());
    }
    Ok(())
}

fn invalid_running(cx: &mut Ctx, z: &str, op: &str) -> Option<i32> {
    let st = state(cx, z)?;
    if st.in_kernel() {
        let s = if st == ZoneState::Ready {
            "ready"
        } else {
            "running"
        };
        return Some(zerr(
            cx,
            z,
            &format!("{op} operation is invalid for {s} zones."),
        ));
    }
    None
}

fn uuid(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in format!("{seed}{}{}", timefmt::now_ms(), std::process::id()).bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        h2 = (h2 ^ h).rotate_left(13).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        0x8000 | (h2 >> 48) & 0x3fff,
        h2 & 0xffff_ffff_ffff
    )
}

/// The dataset a zonepath lives on: the child of the dataset mounted at its parent directory.
fn zonepath_dataset(cx: &Ctx, zonepath: &str) -> Option<String> {
    let (dir, base) = zonepath.rsplit_once('/')?;
    let dir = if dir.is_empty() { "/" } else { dir };
    cx.st
        .datasets
        .iter()
        .filter(|(_, d)| d.kind == DsKind::Filesystem)
        .find(|(n, _)| zfsprops::value(&cx.st, n, "mountpoint").is_some_and(|v| v.0 == dir))
        .map(|(n, _)| format!("{n}/{base}"))
}

fn install(cx: &mut Ctx, z: &str, args: &[String]) -> i32 {
    let nodataset = args.windows(2).any(|w| w[0] == "-x" && w[1] == "nodataset");
    if let Some(rc) = invalid_running(cx, z, "install") {
        return rc;
    }
    match state(cx, z) {
        Some(ZoneState::Installed) => return zerr(cx, z, "is already installed."),
        Some(ZoneState::Incomplete) => {
            return zerr(cx, z, "zone is incomplete; uninstall required.")
        }
        _ => {}
    }
    if let Err(m) = verify(cx, z) {
        return zerr(cx, z, &m);
    }
    let zonepath = cx.st.zones[z].cfg.zonepath.clone();
    if !nodataset {
        if let Some(ds) = zonepath_dataset(cx, &zonepath) {
            if !cx.st.datasets.contains_key(&ds) {
                let args: Vec<String> = vec![ds.clone()];
                let rc = zfs::run(cx, &[vec!["create".to_string()], args].concat());
                if rc != 0 {
                    return zerr(cx, z, "could not create ZFS file system for zonepath");
                }
                cx.outln("A ZFS file system has been created for this zone.");
            }
        }
    }
    // As zoneadm leaves a zonepath (validate_zonepath in zoneadm.c: root's, mode 0700), which
    // the agent's privileged helper checks before it reaches a socket inside the zone.
    let dir = cx.host.in_root(&zonepath);
    let _ = std::fs::create_dir_all(&dir);
    {
        use std::os::unix::fs::PermissionsExt;
        if crate::layout::is_root() {
            let _ = std::os::unix::fs::chown(&dir, Some(0), Some(0));
        }
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    if let Some(zz) = cx.st.zones.get_mut(z) {
        zz.state = ZoneState::Incomplete;
        if zz.uuid.is_none() {
            zz.uuid = Some(uuid(z));
        }
    }
    cx.touch();
    let ms = cx.conf().install_ms;
    cx.pause(ms);
    match cx.st.zones.get_mut(z) {
        Some(zz) if zz.state == ZoneState::Incomplete => {
            zz.state = ZoneState::Installed;
            cx.touch();
            0
        }
        _ => zerr(cx, z, "zone state changed during install"),
    }
}

fn uninstall(cx: &mut Ctx, z: &str, args: &[String]) -> i32 {
    if let Some(rc) = invalid_running(cx, z, "uninstall") {
        return rc;
    }
    if state(cx, z) == Some(ZoneState::Configured) {
        return zerr(cx, z, "is already in state 'configured'.");
    }
    if !args.iter().any(|a| a == "-F") {
        return zerr(
            cx,
            z,
            "Input not from terminal and -F not specified: uninstall not done.",
        );
    }
    if let Some(zz) = cx.st.zones.get_mut(z) {
        zz.state = ZoneState::Incomplete;
    }
    cx.touch();
    let ms = cx.conf().uninstall_ms;
    cx.pause(ms);
    let Some(zonepath) = cx.st.zones.get(z).map(|x| x.cfg.zonepath.clone()) else {
        return 1;
    };
    let ds = cx
        .st
        .datasets
        .keys()
        .find(|n| {
            !n.contains('@')
                && zfsprops::value(&cx.st, n, "mountpoint").is_some_and(|v| v.0 == zonepath)
        })
        .cloned();
    if let Some(ds) = ds {
        zfs::destroy_tree(cx, &ds);
    }
    let dir = cx.host.in_root(&zonepath);
    if dir != cx.host.root {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(zz) = cx.st.zones.get_mut(z) {
        zz.state = ZoneState::Configured;
        zz.guest = Default::default();
    }
    cx.touch();
    0
}

/// Brings the zone to `ready`: checks its devices and links, creates on-demand VNICs, takes
/// its links. On failure nothing is left behind.
fn make_ready(cx: &mut Ctx, z: &str) -> Result<(), String> {
    let cfg = cx.st.zones[z].cfg.clone();
    for r in cfg.resources.iter().filter(|r| r.kind == "device") {
        let m = r.get("match").unwrap_or_default();
        let ds = m
            .strip_prefix("/dev/zvol/rdsk/")
            .or_else(|| m.strip_prefix("/dev/zvol/dsk/"));
        if let Some(ds) = ds.filter(|d| !d.contains(['*', '?', '['])) {
            if cx
                .st
                .datasets
                .get(ds)
                .is_none_or(|d| d.kind != DsKind::Volume)
            {
                return Err(format!("device '{m}' does not exist"));
            }
        }
    }
    if cfg.brand == "bhyve" {
        for r in cfg.resources.iter().filter(|r| r.kind == "attr") {
            let (n, v) = (
                r.get("name").unwrap_or_default(),
                r.get("value").unwrap_or_default(),
            );
            if n == "bootdisk"
                || (n.starts_with("disk") && n[4..].chars().all(|c| c.is_ascii_digit()))
            {
                let ds = v.split(',').next().unwrap_or_default();
                if cx
                    .st
                    .datasets
                    .get(ds)
                    .is_none_or(|d| d.kind != DsKind::Volume)
                {
                    return Err(format!("{n} '{ds}' does not exist"));
                }
            }
            if n == "bootrom"
                && !v.starts_with('/')
                && ![
                    "BHYVE",
                    "BHYVE_RELEASE",
                    "BHYVE_CSM",
                    "BHYVE_RELEASE_CSM",
                    "BHYVE_DEBUG",
                    "BHYVE_DEBUG_CSM",
                ]
                .contains(&v)
            {
                return Err(format!("bootrom {v} not found."));
            }
        }
    }
    let mut made: Vec<String> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let fail = |cx: &mut Ctx, made: &[String], msg: String| {
        for m in made {
            cx.st.links.remove(m);
        }
        Err(msg)
    };
    for r in cfg.resources.iter().filter(|r| r.kind == "net") {
        let phys = r.get("physical").unwrap_or_default().to_string();
        if let Some(gnic) = r.get("global-nic") {
            if !cx.st.links.contains_key(gnic) {
                return fail(
                    cx,
                    &made,
                    format!("global-nic '{gnic}' for '{phys}' does not exist"),
                );
            }
            if cx.st.links.contains_key(&phys) {
                return fail(cx, &made, format!("datalink '{phys}' already exists"));
            }
            let vid = r.get("vlan-id").and_then(|v| v.parse().ok()).unwrap_or(0);
            let link = dladm::new_vnic(gnic, &phys, r.get("mac-addr"), vid, 1500, true);
            cx.st.links.insert(phys.clone(), link);
            made.push(phys.clone());
        } else {
            match cx.st.links.get(&phys) {
                None => return fail(cx, &made, format!("datalink '{phys}' does not exist")),
                Some(l) if l.zone.as_deref().is_some_and(|o| o != z) => {
                    return fail(
                        cx,
                        &made,
                        format!(
                            "datalink '{phys}' is in use by zone '{}'",
                            l.zone.clone().unwrap_or_default()
                        ),
                    );
                }
                Some(_) if cx.st.ifs.contains_key(&phys) => {
                    return fail(
                        cx,
                        &made,
                        format!("datalink '{phys}' is in use in the global zone"),
                    );
                }
                Some(_) => {}
            }
        }
        taken.push(phys);
    }
    for t in &taken {
        if let Some(l) = cx.st.links.get_mut(t) {
            l.zone = Some(z.to_string());
        }
    }
    if cx.st.next_zone_id == 0 {
        cx.st.next_zone_id = 1;
    }
    let id = cx.st.next_zone_id;
    cx.st.next_zone_id += 1;
    if let Some(zz) = cx.st.zones.get_mut(z) {
        zz.ondemand.extend(made);
        zz.id = Some(id);
        zz.state = ZoneState::Ready;
    }
    cx.touch();
    Ok(())
}

/// Back to `installed`: on-demand VNICs deleted, links released, zone id gone.
fn teardown(cx: &mut Ctx, z: &str) {
    let Some(zz) = cx.st.zones.get_mut(z) else {
        return;
    };
    let ondemand = std::mem::take(&mut zz.ondemand);
    crate::vnc::stop(cx, z);
    let Some(zz) = cx.st.zones.get_mut(z) else {
        return;
    };
    zz.id = None;
    zz.booted_ms = None;
    zz.state = ZoneState::Installed;
    for l in ondemand {
        cx.st.links.remove(&l);
    }
    for l in cx.st.links.values_mut() {
        if l.zone.as_deref() == Some(z) {
            l.zone = None;
        }
    }
    cx.touch();
}

fn boot(cx: &mut Ctx, z: &str) -> i32 {
    if state(cx, z) == Some(ZoneState::Installed) {
        if let Err(m) = make_ready(cx, z) {
            zerr(cx, z, &m);
            return zerr(cx, z, "call to zoneadmd failed");
        }
    }
    let ms = cx.conf().boot_ms;
    cx.pause(ms);
    match cx.st.zones.get_mut(z) {
        Some(zz) if zz.state == ZoneState::Ready => {
            zz.state = ZoneState::Running;
            zz.booted_ms = Some(timefmt::now_ms());
            zz.guest.banner_shown = false;
            cx.touch();
            crate::vnc::start(cx, z);
            crate::cloudinit::at_boot(cx, z);
            0
        }
        _ => zerr(cx, z, "zone state changed during boot"),
    }
}

fn boot_cmd(cx: &mut Ctx, z: &str, op: &str) -> i32 {
    let Some(st) = state(cx, z) else { return 1 };
    match (op, st) {
        (_, ZoneState::Configured | ZoneState::Incomplete) => {
            zerr(cx, z, &format!("must be installed before {op}."))
        }
        ("boot", ZoneState::Running) => {
            cx.errln(&format!("zoneadm: zone '{z}': zone is already booted"));
            0
        }
        ("ready", ZoneState::Ready) => {
            cx.errln(&format!("zoneadm: zone '{z}': zone is already ready"));
            0
        }
        ("boot", ZoneState::Installed | ZoneState::Ready) => boot(cx, z),
        ("ready", ZoneState::Installed) => match make_ready(cx, z) {
            Ok(()) => 0,
            Err(m) => {
                zerr(cx, z, &m);
                zerr(cx, z, "call to zoneadmd failed")
            }
        },
        _ => zerr(
            cx,
            z,
            &format!(
                "{op} operation is invalid for zones in state '{}'",
                st.as_str()
            ),
        ),
    }
}

fn halt_cmd(cx: &mut Ctx, z: &str) -> i32 {
    match state(cx, z) {
        Some(ZoneState::Configured | ZoneState::Incomplete) => {
            zerr(cx, z, "must be installed before halt.")
        }
        Some(ZoneState::Installed) => {
            cx.errln(&format!("zoneadm: zone '{z}': zone is already halted"));
            0
        }
        Some(_) => {
            let ms = cx.conf().halt_ms;
            cx.pause(ms);
            teardown(cx, z);
            0
        }
        None => 1,
    }
}

fn shutdown(cx: &mut Ctx, z: &str, args: &[String]) -> i32 {
    let st = state(cx, z);
    if st != Some(ZoneState::Running) {
        let s = st.map_or("unknown", |s| s.as_str());
        return zerr(
            cx,
            z,
            &format!("shutdown operation is invalid for zones in state '{s}'"),
        );
    }
    if let Some(zz) = cx.st.zones.get_mut(z) {
        zz.state = ZoneState::ShuttingDown;
    }
    cx.touch();
    let ms = cx.conf().shutdown_ms;
    cx.pause(ms);
    if state(cx, z).is_none_or(|s| !s.in_kernel()) {
        return 0;
    }
    teardown(cx, z);
    if args.iter().any(|a| a == "-r") {
        return boot(cx, z);
    }
    0
}

fn reboot(cx: &mut Ctx, z: &str) -> i32 {
    if state(cx, z) != Some(ZoneState::Running) {
        return zerr(cx, z, "not running");
    }
    teardown(cx, z);
    boot(cx, z)
}
