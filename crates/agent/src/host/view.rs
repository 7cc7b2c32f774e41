//! The `/stats` answer: the Node original's wire shape (its keys are those of Node's `os`
//! module, which the Zoneweaver UI reads), filled from the managed host's tools.

use std::collections::BTreeMap;

use illumos::ipadm::ListedAddr;
use illumos::zoneadm::{ZoneEntry, ZoneState};
use serde::Serialize;
use utoipa::ToSchema;

use super::facts::{Figures, Machine};

/// The host, its figures and its zones. Keys are the original agent's (Node's `os` module),
/// which the Zoneweaver UI reads; the UI also uses this call as its health and credential
/// probe, so any 2xx means "reachable with a valid key".
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// The node name (`uname -n`).
    #[schema(example = "omnios-host-01")]
    pub hostname: String,
    /// The operating system's name (`uname -s`).
    #[serde(rename = "type")]
    #[schema(example = "SunOS")]
    pub os_type: String,
    /// `type` in lower case, as Node's `os.platform()` gives it.
    #[schema(example = "sunos")]
    pub platform: String,
    /// The release level (`uname -r`).
    #[schema(example = "5.11")]
    pub release: String,
    /// The build (`uname -v`).
    #[schema(example = "omnios-r151054-7c1bde5a86")]
    pub version: String,
    /// Node's name for the architecture: `x64` for `i86pc` (OmniOS runs only 64-bit x86
    /// kernels), `arm64` for `aarch64`, otherwise `uname -p` as printed.
    #[schema(example = "x64")]
    pub arch: String,
    /// The hardware class (`uname -m`), beside Node's `arch`.
    #[schema(example = "i86pc")]
    pub machine: String,
    /// Seconds since the host booted (now less kstat `unix:0:system_misc:boot_time`).
    pub uptime: u64,
    /// When the host booted, seconds since the epoch (kstat `boot_time`).
    pub boot_time: u64,
    /// 1, 5 and 15 minute load averages (kstat `avenrun_*` / 256).
    #[schema(example = json!([0.62, 0.5, 0.25]))]
    pub loadavg: [f64; 3],
    /// Bytes of memory (kstat `unix:0:system_pages:physmem` × `pagesize`).
    pub totalmem: u64,
    /// Bytes of free memory (kstat `unix:0:system_pages:freemem` × `pagesize`).
    pub freemem: u64,
    /// One entry per virtual processor, in id order (`psrinfo -p -v`, times from kstat).
    pub cpus: Vec<Cpu>,
    /// The host's IP addresses by interface (`ipadm show-addr`), as Node's
    /// `os.networkInterfaces()` shapes them.
    #[serde(rename = "networkInterfaces")]
    pub network_interfaces: BTreeMap<String, Vec<NetAddress>>,
    /// The names of every zone but the global one, in any state (`zoneadm list -cp`).
    pub allzones: Vec<String>,
    /// The names of the zones in state `running`.
    pub runningzones: Vec<String>,
}

/// Milliseconds a processor spent in each mode since boot, as Node's `os.cpus()[].times`
/// (kstat `cpu:N:sys:cpu_nsec_*`; 0 when kstat does not list the processor).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CpuTimes {
    /// `cpu_nsec_user`.
    pub user: u64,
    /// Always 0: illumos has no separate nice time.
    pub nice: u64,
    /// `cpu_nsec_kernel`.
    pub sys: u64,
    /// `cpu_nsec_idle`.
    pub idle: u64,
    /// `cpu_nsec_intr`.
    pub irq: u64,
}

/// A virtual processor.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cpu {
    /// The processor's brand string, else its implementation (`psrinfo -p -v`).
    #[schema(example = "Intel(r) Xeon(r) Silver 4110 CPU @ 2.10GHz")]
    pub model: String,
    /// Clock in MHz, 0 when psrinfo does not say.
    #[schema(example = 2100)]
    pub speed: u32,
    pub times: CpuTimes,
    /// The processor id, beside Node's keys.
    pub id: u32,
}

/// One address of an interface.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetAddress {
    #[schema(example = "192.168.1.10")]
    pub address: String,
    /// Dotted for IPv4, the prefix as an IPv6 mask for IPv6.
    #[schema(example = "255.255.255.0")]
    pub netmask: String,
    /// `IPv4` or `IPv6`.
    pub family: String,
    /// The VNIC's MAC address (`dladm show-vnic`); `00:00:00:00:00:00` for other links, as
    /// Node reports an unknown hardware address.
    pub mac: String,
    /// Loopback.
    pub internal: bool,
    /// `address/prefix`.
    #[schema(example = "192.168.1.10/24")]
    pub cidr: String,
    /// The address object (`ipadm show-addr` ADDROBJ), beside Node's keys.
    #[schema(example = "igb0/v4")]
    pub addrobj: String,
    /// The IPv6 scope (interface) of a link-local address; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopeid: Option<String>,
}

/// Node's `os.arch()` for illumos' machine class and processor type.
pub fn node_arch(machine: &str, processor: &str) -> String {
    match (machine, processor) {
        ("i86pc", _) | (_, "amd64") => "x64".into(),
        ("aarch64", _) | (_, "aarch64") => "arm64".into(),
        _ => processor.into(),
    }
}

fn v6_mask(prefix: u8) -> String {
    let bits: u128 = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    std::net::Ipv6Addr::from(bits).to_string()
}

fn interfaces(figures: &Figures) -> BTreeMap<String, Vec<NetAddress>> {
    let mut out: BTreeMap<String, Vec<NetAddress>> = BTreeMap::new();
    for a in &figures.addresses {
        let ifname = a.interface.to_string();
        let mac = figures
            .vnics
            .iter()
            .find(|v| v.link == a.interface)
            .map(|v| v.mac.to_string())
            .unwrap_or_else(|| "00:00:00:00:00:00".into());
        let addrobj = match a.addrobj() {
            Some(o) => o.to_string(),
            None => format!("{ifname}/?"),
        };
        let entry = match &a.addr {
            ListedAddr::V4(c) => NetAddress {
                address: c.addr().to_string(),
                netmask: c.netmask().to_string(),
                family: "IPv4".into(),
                mac,
                internal: c.addr().is_loopback(),
                cidr: c.to_string(),
                addrobj,
                scopeid: None,
            },
            ListedAddr::V6 {
                addr,
                prefix,
                scope,
            } => NetAddress {
                address: addr.to_string(),
                netmask: v6_mask(*prefix),
                family: "IPv6".into(),
                mac,
                internal: addr.is_loopback(),
                cidr: format!("{addr}/{prefix}"),
                addrobj,
                scopeid: scope.clone(),
            },
            // A DHCP address not bound yet has no address to report.
            ListedAddr::Pending => continue,
        };
        out.entry(ifname).or_default().push(entry);
    }
    out
}

fn cpus(machine: &Machine, figures: &Figures) -> Vec<Cpu> {
    let times = |id: &u32| {
        let ms = |ns: u64| ns / 1_000_000;
        figures
            .system
            .cpu_nsec
            .get(id)
            .map(|t| CpuTimes {
                user: ms(t.user),
                nice: 0,
                sys: ms(t.kernel),
                idle: ms(t.idle),
                irq: ms(t.intr),
            })
            .unwrap_or_default()
    };
    let mut cpus: Vec<Cpu> = machine
        .sockets
        .iter()
        .flat_map(|s| {
            s.cpus.iter().map(|id| Cpu {
                model: s.model().to_owned(),
                speed: s.clock_mhz().unwrap_or(0),
                times: times(id),
                id: *id,
            })
        })
        .collect();
    cpus.sort_by_key(|c| c.id);
    cpus
}

/// The answer from the host's reads; `now` is seconds since the epoch (for the uptime).
pub fn stats(machine: &Machine, figures: &Figures, zones: &[ZoneEntry], now: u64) -> Stats {
    let u = &machine.uname;
    let names = |keep: fn(&ZoneEntry) -> bool| {
        zones
            .iter()
            .filter(|z| z.name != "global" && keep(z))
            .map(|z| z.name.clone())
            .collect()
    };
    Stats {
        hostname: u.nodename.clone(),
        os_type: u.sysname.clone(),
        platform: u.sysname.to_lowercase(),
        release: u.release.clone(),
        version: u.version.clone(),
        arch: node_arch(&u.machine, &u.processor),
        machine: u.machine.clone(),
        uptime: now.saturating_sub(figures.system.boot_time),
        boot_time: figures.system.boot_time,
        loadavg: figures.system.load,
        totalmem: figures
            .system
            .physmem_pages
            .saturating_mul(machine.pagesize),
        freemem: figures
            .system
            .freemem_pages
            .saturating_mul(machine.pagesize),
        cpus: cpus(machine, figures),
        network_interfaces: interfaces(figures),
        allzones: names(|_| true),
        runningzones: names(|z| z.state == ZoneState::Running),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_the_architecture_x64() {
        assert_eq!(node_arch("i86pc", "i386"), "x64");
        assert_eq!(node_arch("aarch64", "aarch64"), "arm64");
        assert_eq!(node_arch("sun4v", "sparc"), "sparc");
    }

    #[test]
    fn ipv6_masks_from_prefixes() {
        assert_eq!(v6_mask(64), "ffff:ffff:ffff:ffff::");
        assert_eq!(v6_mask(10), "ffc0::");
        assert_eq!(v6_mask(0), "::");
        assert_eq!(v6_mask(128), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    }
}
