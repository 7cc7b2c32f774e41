//! The answers of `/monitoring/*`. Field names are the Node original's (its Sequelize models'
//! columns, which the Zoneweaver UI reads); figures come from the managed host's tools.
//!
//! The sampled kinds are computed here from two consecutive readings (pure functions, tested
//! below): rates over the interval between them, or since boot for the first sample after the
//! agent starts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use illumos::dladm::{Duplex, LinkClass, LinkState};
use illumos::ipadm::{AddrState, AddrType, Address, ListedAddr, ListedAddrName};
use illumos::kstat::{ArcStats, CpuNsec, LinkCounters};
use illumos::{netstat, zfs, zpool};

use super::host::{Links, Reading};

/// Host-wide CPU figures of one sample.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CpuSample {
    /// When the sample was taken (RFC 3339, UTC).
    pub scan_timestamp: String,
    pub cpu_count: u32,
    /// 100 - idle, over the interval since the previous sample (since boot for the first).
    pub cpu_utilization_pct: f64,
    pub user_pct: f64,
    /// Kernel and interrupt time.
    pub system_pct: f64,
    pub idle_pct: f64,
    /// illumos accounts no I/O wait (it counts as idle since Solaris 10): always 0.
    pub iowait_pct: f64,
    pub load_avg_1min: f64,
    pub load_avg_5min: f64,
    pub load_avg_15min: f64,
    /// Each processor's figures: present only with `include_cores=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core_parsed: Option<Vec<CoreSample>>,
}

/// One processor's share of time over the interval.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CoreSample {
    pub cpu_id: u32,
    pub utilization_pct: f64,
    pub user_pct: f64,
    pub system_pct: f64,
    pub idle_pct: f64,
}

/// Memory and virtual swap of one sample, in bytes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemorySample {
    pub scan_timestamp: String,
    /// kstat `unix:0:system_pages:physmem` × page size.
    pub total_memory_bytes: u64,
    pub used_memory_bytes: u64,
    /// `freemem` × page size.
    pub free_memory_bytes: u64,
    /// The same as free: illumos reports no separate "available" figure.
    pub available_memory_bytes: u64,
    pub memory_utilization_pct: f64,
    /// `swap -s`: used + available.
    pub swap_total_bytes: u64,
    /// `swap -s`: allocated + reserved.
    pub swap_used_bytes: u64,
    pub swap_free_bytes: u64,
    pub swap_utilization_pct: f64,
}

/// The ZFS ARC of one sample (`kstat -p zfs:0:arcstats`): sizes in bytes, counters since boot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArcSample {
    pub scan_timestamp: String,
    /// `size`.
    pub arc_size: u64,
    /// `c`.
    pub arc_target_size: u64,
    pub arc_min_size: u64,
    pub arc_max_size: u64,
    pub arc_meta_used: u64,
    pub arc_meta_limit: u64,
    pub mru_size: u64,
    pub mfu_size: u64,
    pub data_size: u64,
    pub metadata_size: u64,
    pub hits: u64,
    pub misses: u64,
    pub demand_data_hits: u64,
    pub demand_data_misses: u64,
    /// Percent of lookups that hit, over the interval (since boot for the first sample).
    pub hit_ratio: f64,
    /// Percent of demand data reads that hit, over the interval.
    pub data_demand_efficiency: f64,
    /// Percent of prefetch data reads that hit, over the interval.
    pub data_prefetch_efficiency: f64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub l2_size: u64,
}

/// One datalink's traffic in one sample (`kstat -p link:0:<link>`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkUsageSample {
    pub link: String,
    pub scan_timestamp: String,
    /// dladm's CLASS (`phys`, `vnic`, `etherstub`, ...).
    pub interface_class: String,
    /// dladm's SPEED in Mb/s, when the link has one.
    pub interface_speed_mbps: Option<u64>,
    /// Counters since the link was created.
    pub rbytes: u64,
    pub obytes: u64,
    pub ipackets: u64,
    pub opackets: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    /// Seconds since the previous sample of this link; `null` for its first sample.
    pub time_delta_seconds: Option<f64>,
    pub rbytes_delta: Option<u64>,
    pub obytes_delta: Option<u64>,
    pub ipackets_delta: Option<u64>,
    pub opackets_delta: Option<u64>,
    pub ierrors_delta: Option<u64>,
    pub oerrors_delta: Option<u64>,
    /// Bits per second received and sent over the interval.
    pub rx_bps: Option<f64>,
    pub tx_bps: Option<f64>,
    pub rx_mbps: Option<f64>,
    pub tx_mbps: Option<f64>,
}

/// One pool's I/O in one sample (`zpool iostat -Hp`: averages per second since import).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PoolIoSample {
    pub pool: String,
    pub scan_timestamp: String,
    /// Bytes allocated and free.
    pub alloc: u64,
    pub free: u64,
    /// Operations per second.
    pub read_ops: u64,
    pub write_ops: u64,
    /// Bytes per second (the original printed these scaled; here they are exact).
    pub read_bandwidth: u64,
    pub write_bandwidth: u64,
    pub read_bandwidth_bytes: u64,
    pub write_bandwidth_bytes: u64,
}

/// One pool's capacity (`zpool list -Hp`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PoolSample {
    pub pool: String,
    /// The same as `pool`.
    pub name: String,
    pub scan_timestamp: String,
    pub size_bytes: u64,
    pub alloc_bytes: u64,
    pub free_bytes: u64,
    /// Bytes, as numbers (the original printed these scaled).
    pub alloc: u64,
    pub free: u64,
    /// Percent allocated.
    pub capacity: u64,
    pub fragmentation_pct: Option<u64>,
    pub dedup_ratio: f64,
    /// `ONLINE`, `DEGRADED`, ...
    pub health: String,
    /// The same as `health`.
    pub status: String,
}

/// A datalink as `/monitoring/network/interfaces` lists it: dladm's columns and kstat's
/// counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Interface {
    pub link: String,
    pub class: String,
    /// `up`, `down` or `unknown`.
    pub state: String,
    pub mtu: Option<u32>,
    /// The links under it (comma-separated), `null` for none.
    pub over: Option<String>,
    /// Mb/s (show-phys or show-vnic), when known.
    pub speed: Option<u64>,
    pub duplex: Option<String>,
    pub media: Option<String>,
    pub device: Option<String>,
    pub macaddress: Option<String>,
    pub vid: Option<u16>,
    /// The zone a VNIC is assigned to.
    pub zone: Option<String>,
    pub rbytes: Option<u64>,
    pub obytes: Option<u64>,
    pub ipackets: Option<u64>,
    pub opackets: Option<u64>,
    pub ierrors: Option<u64>,
    pub oerrors: Option<u64>,
    pub scan_timestamp: String,
}

/// An IP address (`ipadm show-addr`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IpAddress {
    pub interface: String,
    pub addrobj: String,
    /// `static`, `dhcp`, `addrconf`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    /// As ipadm prints it, with the prefix length.
    pub addr: String,
    pub ip_address: String,
    pub prefix_length: u8,
    /// `4` or `6`.
    pub ip_version: u8,
    pub scan_timestamp: String,
}

/// An IPv4 route (`netstat -rn -f inet`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Route {
    pub destination: String,
    pub gateway: String,
    pub flags: String,
    #[serde(rename = "ref")]
    pub refs: u64,
    #[serde(rename = "use")]
    pub uses: u64,
    pub interface: Option<String>,
    pub ip_version: u8,
    pub is_default: bool,
    /// netstat -rn prints no mask: always `null`.
    pub destination_mask: Option<String>,
    pub scan_timestamp: String,
}

/// A filesystem or volume (`zfs list -Hp`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dataset {
    pub name: String,
    pub pool: String,
    /// `filesystem` or `volume`.
    #[serde(rename = "type")]
    pub kind: String,
    pub used: u64,
    pub used_bytes: u64,
    pub available: u64,
    pub available_bytes: u64,
    pub referenced: u64,
    pub referenced_bytes: u64,
    pub mountpoint: Option<String>,
    pub scan_timestamp: String,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

fn core(cpu_id: u32, now: &CpuNsec, before: Option<&CpuNsec>) -> (CoreSample, [u64; 4]) {
    let zero = CpuNsec::default();
    let b = before.unwrap_or(&zero);
    let d = [
        now.user.saturating_sub(b.user),
        now.kernel.saturating_sub(b.kernel),
        now.intr.saturating_sub(b.intr),
        now.idle.saturating_sub(b.idle),
    ];
    let total: u64 = d.iter().sum();
    let idle = pct(d[3], total);
    (
        CoreSample {
            cpu_id,
            utilization_pct: if total == 0 { 0.0 } else { 100.0 - idle },
            user_pct: pct(d[0], total),
            system_pct: pct(d[1] + d[2], total),
            idle_pct: idle,
        },
        d,
    )
}

/// CPU figures from the processors' times now and at the previous sample (or since boot).
pub fn cpu(now: &Reading, before: Option<&Reading>, at: &str) -> CpuSample {
    let mut cores = Vec::new();
    let mut sum = [0u64; 4];
    for (id, t) in &now.kstat.system.cpu_nsec {
        let (c, d) = core(*id, t, before.and_then(|b| b.kstat.system.cpu_nsec.get(id)));
        for (s, v) in sum.iter_mut().zip(d) {
            *s += v;
        }
        cores.push(c);
    }
    let total: u64 = sum.iter().sum();
    let idle = pct(sum[3], total);
    let load = now.kstat.system.load;
    CpuSample {
        scan_timestamp: at.to_owned(),
        cpu_count: cores.len() as u32,
        cpu_utilization_pct: if total == 0 { 0.0 } else { 100.0 - idle },
        user_pct: pct(sum[0], total),
        system_pct: pct(sum[1] + sum[2], total),
        idle_pct: idle,
        iowait_pct: 0.0,
        load_avg_1min: load[0],
        load_avg_5min: load[1],
        load_avg_15min: load[2],
        per_core_parsed: Some(cores),
    }
}

pub fn memory(now: &Reading, pagesize: u64, at: &str) -> MemorySample {
    let s = &now.kstat.system;
    let total = s.physmem_pages * pagesize;
    let free = (s.freemem_pages * pagesize).min(total);
    let swap_total = now.swap.used + now.swap.available;
    MemorySample {
        scan_timestamp: at.to_owned(),
        total_memory_bytes: total,
        used_memory_bytes: total - free,
        free_memory_bytes: free,
        available_memory_bytes: free,
        memory_utilization_pct: pct(total - free, total),
        swap_total_bytes: swap_total,
        swap_used_bytes: now.swap.used,
        swap_free_bytes: now.swap.available,
        swap_utilization_pct: pct(now.swap.used, swap_total),
    }
}

pub fn arc(now: &ArcStats, before: Option<&ArcStats>, at: &str) -> ArcSample {
    let zero = ArcStats::default();
    let b = before.unwrap_or(&zero);
    let ratio = |hits: u64, bh: u64, misses: u64, bm: u64| {
        let (h, m) = (hits.saturating_sub(bh), misses.saturating_sub(bm));
        pct(h, h + m)
    };
    ArcSample {
        scan_timestamp: at.to_owned(),
        arc_size: now.size,
        arc_target_size: now.target,
        arc_min_size: now.min,
        arc_max_size: now.max,
        arc_meta_used: now.meta_used,
        arc_meta_limit: now.meta_limit,
        mru_size: now.mru_size,
        mfu_size: now.mfu_size,
        data_size: now.data_size,
        metadata_size: now.metadata_size,
        hits: now.hits,
        misses: now.misses,
        demand_data_hits: now.demand_data_hits,
        demand_data_misses: now.demand_data_misses,
        hit_ratio: ratio(now.hits, b.hits, now.misses, b.misses),
        data_demand_efficiency: ratio(
            now.demand_data_hits,
            b.demand_data_hits,
            now.demand_data_misses,
            b.demand_data_misses,
        ),
        data_prefetch_efficiency: ratio(
            now.prefetch_data_hits,
            b.prefetch_data_hits,
            now.prefetch_data_misses,
            b.prefetch_data_misses,
        ),
        l2_hits: now.l2_hits,
        l2_misses: now.l2_misses,
        l2_size: now.l2_size,
    }
}

pub fn class_name(c: &LinkClass) -> String {
    match c {
        LinkClass::Phys => "phys",
        LinkClass::Aggr => "aggr",
        LinkClass::Etherstub => "etherstub",
        LinkClass::Overlay => "overlay",
        LinkClass::Vlan => "vlan",
        LinkClass::Vnic => "vnic",
        LinkClass::Simnet => "simnet",
        LinkClass::Bridge => "bridge",
        LinkClass::Iptun => "iptun",
        LinkClass::Misc => "misc",
        LinkClass::Other(s) => s,
    }
    .to_owned()
}

fn state_name(s: LinkState) -> &'static str {
    match s {
        LinkState::Up => "up",
        LinkState::Down => "down",
        LinkState::Unknown => "unknown",
    }
}

fn duplex_name(d: Duplex) -> &'static str {
    match d {
        Duplex::Full => "full",
        Duplex::Half => "half",
        Duplex::Unknown => "unknown",
    }
}

/// A link's speed: show-phys for a physical link, show-vnic for a VNIC.
fn speed(
    links: &[illumos::dladm::Phys],
    vnics: &[illumos::dladm::Vnic],
    link: &str,
) -> Option<u64> {
    links
        .iter()
        .find(|p| p.link.as_str() == link)
        .and_then(|p| p.speed_mbps)
        .or_else(|| {
            vnics
                .iter()
                .find(|v| v.link.as_str() == link)
                .and_then(|v| v.speed_mbps)
        })
}

/// Each link's traffic: counters now, and deltas and rates against the previous sample when
/// that sample had the link and `secs` (the time between them) is known.
pub fn link_usage(
    now: &Reading,
    before: Option<(&Reading, f64)>,
    at: &str,
) -> Vec<LinkUsageSample> {
    now.links
        .iter()
        .filter_map(|l| {
            let name = l.link.as_str();
            let c = now.kstat.links.get(name)?;
            let prev: Option<(&LinkCounters, f64)> = before
                .and_then(|(b, secs)| b.kstat.links.get(name).map(|p| (p, secs)))
                .filter(|(_, secs)| *secs > 0.0);
            let delta = |f: fn(&LinkCounters) -> u64| prev.map(|(p, _)| f(c).saturating_sub(f(p)));
            let bps = |d: Option<u64>| {
                prev.and_then(|(_, secs)| {
                    d.map(|d| (d as f64 * 8.0 / secs * 100.0).round() / 100.0)
                })
            };
            let (rd, od) = (delta(|c| c.rbytes), delta(|c| c.obytes));
            let (rx, tx) = (bps(rd), bps(od));
            Some(LinkUsageSample {
                link: name.to_owned(),
                scan_timestamp: at.to_owned(),
                interface_class: class_name(&l.class),
                interface_speed_mbps: speed(&now.phys, &now.vnics, name),
                rbytes: c.rbytes,
                obytes: c.obytes,
                ipackets: c.ipackets,
                opackets: c.opackets,
                ierrors: c.ierrors,
                oerrors: c.oerrors,
                time_delta_seconds: prev.map(|(_, s)| s),
                rbytes_delta: rd,
                obytes_delta: od,
                ipackets_delta: delta(|c| c.ipackets),
                opackets_delta: delta(|c| c.opackets),
                ierrors_delta: delta(|c| c.ierrors),
                oerrors_delta: delta(|c| c.oerrors),
                rx_bps: rx,
                tx_bps: tx,
                rx_mbps: rx.map(|b| (b / 10_000.0).round() / 100.0),
                tx_mbps: tx.map(|b| (b / 10_000.0).round() / 100.0),
            })
        })
        .collect()
}

pub fn pool_io(io: &zpool::PoolIo, at: &str) -> PoolIoSample {
    PoolIoSample {
        pool: io.name.clone(),
        scan_timestamp: at.to_owned(),
        alloc: io.alloc,
        free: io.free,
        read_ops: io.read_ops,
        write_ops: io.write_ops,
        read_bandwidth: io.read_bytes,
        write_bandwidth: io.write_bytes,
        read_bandwidth_bytes: io.read_bytes,
        write_bandwidth_bytes: io.write_bytes,
    }
}

pub fn pool(p: &zpool::Pool, at: &str) -> PoolSample {
    PoolSample {
        pool: p.name.clone(),
        name: p.name.clone(),
        scan_timestamp: at.to_owned(),
        size_bytes: p.size,
        alloc_bytes: p.alloc,
        free_bytes: p.free,
        alloc: p.alloc,
        free: p.free,
        capacity: p.capacity_pct,
        fragmentation_pct: p.fragmentation_pct,
        dedup_ratio: p.dedup_ratio,
        health: p.health.clone(),
        status: p.health.clone(),
    }
}

pub fn interfaces(l: &Links, at: &str) -> Vec<Interface> {
    l.links
        .iter()
        .map(|link| {
            let name = link.link.as_str();
            let phys = l.phys.iter().find(|p| p.link.as_str() == name);
            let vnic = l.vnics.iter().find(|v| v.link.as_str() == name);
            let c = l.counters.get(name);
            let over: Vec<String> = link.over.iter().map(|o| o.to_string()).collect();
            Interface {
                link: name.to_owned(),
                class: class_name(&link.class),
                state: state_name(link.state).to_owned(),
                mtu: link.mtu,
                over: (!over.is_empty()).then(|| over.join(",")),
                speed: speed(&l.phys, &l.vnics, name),
                duplex: phys.map(|p| duplex_name(p.duplex).to_owned()),
                media: phys.map(|p| p.media.clone()),
                device: phys.map(|p| p.device.clone()),
                macaddress: vnic.map(|v| v.mac.to_string()),
                vid: vnic.and_then(|v| v.vlan.map(|id| id.get())),
                zone: vnic.and_then(|v| v.zone.as_ref().map(|z| z.to_string())),
                rbytes: c.map(|c| c.rbytes),
                obytes: c.map(|c| c.obytes),
                ipackets: c.map(|c| c.ipackets),
                opackets: c.map(|c| c.opackets),
                ierrors: c.map(|c| c.ierrors),
                oerrors: c.map(|c| c.oerrors),
                scan_timestamp: at.to_owned(),
            }
        })
        .collect()
}

pub fn ip_address(a: &Address, at: &str) -> IpAddress {
    let interface = a.interface.to_string();
    let addrobj = match &a.name {
        ListedAddrName::Named(_) => a.addrobj().map(|o| o.to_string()).unwrap_or_default(),
        ListedAddrName::Unnamed => format!("{interface}/?"),
        ListedAddrName::Generated(n) => format!("{interface}/{n}"),
    };
    let (addr, ip, prefix, version) = match &a.addr {
        ListedAddr::V4(c) => (c.to_string(), c.addr().to_string(), c.prefix(), 4),
        ListedAddr::V6 {
            addr,
            prefix,
            scope,
        } => {
            let ip = match scope {
                Some(z) => format!("{addr}%{z}"),
                None => addr.to_string(),
            };
            (format!("{ip}/{prefix}"), addr.to_string(), *prefix, 6)
        }
        // A DHCP address not yet bound: ipadm prints `?`.
        ListedAddr::Pending => ("?".into(), String::new(), 0, 4),
    };
    IpAddress {
        interface,
        addrobj,
        kind: match &a.kind {
            AddrType::Static => "static".into(),
            AddrType::Dhcp => "dhcp".into(),
            AddrType::Addrconf => "addrconf".into(),
            AddrType::FromGz => "from-gz".into(),
            AddrType::Other(s) => s.clone(),
        },
        state: match &a.state {
            AddrState::Ok => "ok".into(),
            AddrState::Tentative => "tentative".into(),
            AddrState::Duplicate => "duplicate".into(),
            AddrState::Down => "down".into(),
            AddrState::Disabled => "disabled".into(),
            AddrState::Inaccessible => "inaccessible".into(),
            AddrState::Other(s) => s.clone(),
        },
        addr,
        ip_address: ip,
        prefix_length: prefix,
        ip_version: version,
        scan_timestamp: at.to_owned(),
    }
}

pub fn route(r: &netstat::Route, at: &str) -> Route {
    Route {
        destination: r.destination.clone(),
        gateway: r.gateway.clone(),
        flags: r.flags.clone(),
        refs: r.refs,
        uses: r.uses,
        interface: r.interface.clone(),
        ip_version: 4,
        is_default: r.destination == "default",
        destination_mask: None,
        scan_timestamp: at.to_owned(),
    }
}

pub fn dataset(d: &zfs::Usage, at: &str) -> Dataset {
    Dataset {
        name: d.name.clone(),
        pool: d.name.split('/').next().unwrap_or_default().to_owned(),
        kind: d.kind.as_str().to_owned(),
        used: d.used,
        used_bytes: d.used,
        available: d.available,
        available_bytes: d.available,
        referenced: d.referenced,
        referenced_bytes: d.referenced,
        mountpoint: d.mountpoint.clone(),
        scan_timestamp: at.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_come_from_the_time_between_samples() {
        let t = |user, kernel, intr, idle| CpuNsec {
            user,
            kernel,
            idle,
            intr,
        };
        // Since boot: 10% user. Over the interval: 50% user, 25% kernel + interrupts.
        let (c, _) = core(0, &t(60, 20, 5, 115), Some(&t(10, 0, 0, 90)));
        assert_eq!(
            (c.user_pct, c.system_pct, c.idle_pct, c.utilization_pct),
            (50.0, 25.0, 25.0, 75.0)
        );
        let (first, _) = core(1, &t(10, 0, 0, 90), None);
        assert_eq!(first.user_pct, 10.0);
        // No time passed: nothing is busy rather than a division by zero.
        let (same, _) = core(2, &t(1, 1, 1, 1), Some(&t(1, 1, 1, 1)));
        assert_eq!((same.utilization_pct, same.idle_pct), (0.0, 0.0));
    }

    #[test]
    fn arc_ratios_are_over_the_interval() {
        let now = ArcStats {
            hits: 1_000,
            misses: 100,
            ..Default::default()
        };
        let before = ArcStats {
            hits: 900,
            misses: 0,
            ..Default::default()
        };
        assert_eq!(arc(&now, Some(&before), "t").hit_ratio, 50.0);
        assert_eq!(arc(&now, None, "t").hit_ratio, 90.91);
        assert_eq!(arc(&now, None, "t").data_demand_efficiency, 0.0);
    }
}

/// One disk's I/O in one sample (its kstat I/O counters): counts since boot, and rates over
/// the time since the previous sample when that sample had the disk.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiskIoSample {
    /// The instance name (`sd0`, `blkdev0`), as iostat prints it without `-n`.
    pub device_name: String,
    pub scan_timestamp: String,
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub time_delta_seconds: Option<f64>,
    /// Operations and bytes per second over the interval.
    pub read_ops_per_sec: Option<f64>,
    pub write_ops_per_sec: Option<f64>,
    pub read_bandwidth_bytes: Option<f64>,
    pub write_bandwidth_bytes: Option<f64>,
    /// Percent of the interval with a request active (iostat's `%b`).
    pub busy_percent: Option<f64>,
}

pub fn disk_io(now: &Reading, before: Option<(&Reading, f64)>, at: &str) -> Vec<DiskIoSample> {
    now.disks
        .iter()
        .map(|d| {
            let prev = before
                .and_then(|(b, secs)| b.disks.iter().find(|p| p.name == d.name).map(|p| (p, secs)))
                .filter(|(_, secs)| *secs > 0.0);
            let rate = |f: fn(&illumos::diskstat::Disk) -> u64| {
                prev.map(|(p, secs)| {
                    (f(d).saturating_sub(f(p)) as f64 / secs * 100.0).round() / 100.0
                })
            };
            DiskIoSample {
                device_name: d.name.clone(),
                scan_timestamp: at.to_owned(),
                reads: d.reads,
                writes: d.writes,
                bytes_read: d.nread,
                bytes_written: d.nwritten,
                time_delta_seconds: prev.map(|(_, s)| s),
                read_ops_per_sec: rate(|d| d.reads),
                write_ops_per_sec: rate(|d| d.writes),
                read_bandwidth_bytes: rate(|d| d.nread),
                write_bandwidth_bytes: rate(|d| d.nwritten),
                // rtime is in ns: ns busy per second, as a percentage, at most 100.
                busy_percent: rate(|d| d.rtime).map(|ns| (ns / 1e7).min(100.0)),
            }
        })
        .collect()
}

/// One disk as the host describes it (the original's `disks` row keys where known).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskRow {
    pub device_name: String,
    /// `sd` (SCSI/SATA) or `blkdev` (NVMe and other block devices).
    pub interface_type: String,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub scan_timestamp: String,
}

pub fn disk(d: &illumos::diskstat::Disk, at: &str) -> DiskRow {
    DiskRow {
        device_name: d.name.clone(),
        interface_type: d
            .name
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned(),
        manufacturer: d.vendor.clone(),
        model: d.product.clone(),
        serial_number: d.serial.clone(),
        capacity_bytes: d.size,
        scan_timestamp: at.to_owned(),
    }
}
