//! The emulated host's state: one compact JSON document, read and rewritten whole under the
//! host lock. Writes go to a temp file that is renamed over `state`, so a crash at any moment
//! leaves either the old or the new state, never a torn one.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub zones: BTreeMap<String, Zone>,
    #[serde(default)]
    pub pools: BTreeMap<String, Pool>,
    #[serde(default)]
    pub datasets: BTreeMap<String, Dataset>,
    #[serde(default)]
    pub links: BTreeMap<String, Link>,
    /// Link properties set at `create-vnic -p` (beyond `mtu`, which the link keeps), by link
    /// and property, each value as dladm shows it (a list comma-joined).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub link_props: BTreeMap<String, BTreeMap<String, String>>,
    /// Link aggregations by name (each also a `links` entry of class `aggr`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aggrs: BTreeMap<String, crate::tools::dladm_aggr::Aggr>,
    /// Bridge instances by name (each also a `links` entry `<name>0` of class `bridge`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bridges: BTreeMap<String, crate::tools::dladm_bridge::Bridge>,
    #[serde(default)]
    pub ifs: BTreeMap<String, IpIf>,
    #[serde(default)]
    pub addrs: BTreeMap<String, Addr>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub routing: Routing,
    /// Active NAT rules, normalised as `ipnat -l` prints them.
    #[serde(default)]
    pub nat_rules: Vec<String>,
    /// What each running DHCP instance's dhcpd loaded when it started, keyed by FMRI: it reads
    /// its configuration only at start (a refresh of the OmniOS service does nothing to it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dhcpd: BTreeMap<String, DhcpdLoaded>,
    /// What uname and kstat report of the machine itself: fixed at `init`.
    #[serde(default)]
    pub system: System,
    /// The run level and the power requests the stand-in tools recorded.
    #[serde(default, skip_serializing_if = "Power::is_initial")]
    pub power: Power,
    // Bookkeeping below: never part of `dump`.
    /// Fault-rule match counters, keyed by the rule's text.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    #[serde(default)]
    pub next_zone_id: u32,
    #[serde(default)]
    pub txg: u64,
}

/// The machine's identity and boot time, recorded by `init` so that every read of them
/// (`uname -n`, `kstat ... boot_time`) answers the same.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct System {
    pub hostname: String,
    /// Seconds since the epoch, when `init` ran.
    pub boot_time: u64,
}

/// What `shutdown`, `reboot`, `halt`, `poweroff` and `init` did to the emulated machine: they
/// record the request and change the run level (and the boot time on a reboot), never touching
/// the machine the emulator runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Power {
    /// `who -r`'s level; empty means 3 (multi-user server, OmniOS's default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runlevel: String,
    /// Each request as its argv (tool first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Vec<String>>,
}

impl Power {
    pub fn is_initial(&self) -> bool {
        self == &Power::default()
    }
}

/// The configuration an emulated dhcpd serves: its config file's text and the interfaces it
/// was told to listen on (empty: all), as the service's start method read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpdLoaded {
    pub config_file: String,
    pub config: String,
    pub lease_file: String,
    pub listen_ifnames: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneState {
    Configured,
    Incomplete,
    Installed,
    Ready,
    Mounted,
    Running,
    ShuttingDown,
    Down,
}

impl ZoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Configured => "configured",
            ZoneState::Incomplete => "incomplete",
            ZoneState::Installed => "installed",
            ZoneState::Ready => "ready",
            ZoneState::Mounted => "mounted",
            ZoneState::Running => "running",
            ZoneState::ShuttingDown => "shutting_down",
            ZoneState::Down => "down",
        }
    }
    /// States in which the zone exists in the kernel (has a zone id).
    pub fn in_kernel(self) -> bool {
        matches!(
            self,
            ZoneState::Ready
                | ZoneState::Mounted
                | ZoneState::Running
                | ZoneState::ShuttingDown
                | ZoneState::Down
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    pub state: ZoneState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub cfg: ZoneCfg,
    /// VNICs created at boot for `net` resources with `global-nic`; removed at halt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ondemand: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booted_ms: Option<u64>,
    #[serde(default)]
    pub guest: Guest,
}

/// What the emulated guest OS inside a bhyve zone remembers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Guest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Console transcript (what the guest printed and what was typed), newest last.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transcript: String,
    /// The boot banner of the current boot has been shown on a console.
    #[serde(default, skip_serializing_if = "is_false")]
    pub banner_shown: bool,
    /// The VNC server's socket of the current boot (the real path), removed at halt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnc_socket: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ZoneCfg {
    pub zonepath: String,
    pub brand: String,
    pub autoboot: bool,
    pub ip_type: String,
    /// Other global properties (bootargs, pool, limitpriv, ...), only when set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub globals: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, String>,
    /// List-valued properties (`options`, net `property`, rctl `value`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lists: BTreeMap<String, Vec<String>>,
}

impl Resource {
    pub fn get(&self, p: &str) -> Option<&str> {
        self.props
            .get(p)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool {
    pub size: u64,
    pub health: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DsKind {
    Filesystem,
    Volume,
    Snapshot,
}

impl DsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DsKind::Filesystem => "filesystem",
            DsKind::Volume => "volume",
            DsKind::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    pub kind: DsKind,
    /// Locally set properties (native and user).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, String>,
    /// Properties set by `zfs recv` of a stream sent with `-p`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub received: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub referenced: u64,
    pub txg: u64,
    pub guid: u64,
    pub creation: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub class: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub over: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_type: String,
    #[serde(default)]
    pub vid: u16,
    pub mtu: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub temporary: bool,
    /// The zone a running exclusive-IP zone has taken this link into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phys: Option<PhysInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhysInfo {
    pub media: String,
    pub speed: u64,
    pub duplex: String,
    pub device: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IpIf {
    #[serde(default, skip_serializing_if = "is_false")]
    pub temporary: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub v6: bool,
    /// Interface properties set with set-ifprop, keyed `proto/prop` (e.g. `ipv4/forwarding`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Addr {
    #[serde(rename = "type")]
    pub ty: String,
    pub addr: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub temporary: bool,
    /// `ipadm disable-addr -t`: kept, shown as `disabled`, not configured until enabled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub dest: String,
    pub gateway: String,
    pub ifname: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Routing {
    /// Options (`ipv4-forwarding`, ...) → (persistent, current).
    pub options: BTreeMap<String, (bool, bool)>,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prop {
    #[serde(rename = "type")]
    pub ty: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Service {
    pub desc: String,
    pub enabled: bool,
    /// `svcadm enable/disable -t`: an override of `enabled` until reboot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_enabled: Option<bool>,
    pub state: String,
    /// Target of a transition in progress (shown as `state*`), reached at `until_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_state: Option<String>,
    #[serde(default)]
    pub until_ms: u64,
    /// When the state last changed (seconds since the epoch).
    pub stime: u64,
    /// Why the instance is in maintenance (`svcs -x`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Property groups → type.
    #[serde(default)]
    pub pgs: BTreeMap<String, String>,
    /// The editing view (`svccfg`), keyed `pg/prop`.
    #[serde(default)]
    pub props: BTreeMap<String, Prop>,
    /// The running snapshot (`svcprop`), taken at refresh.
    #[serde(default)]
    pub running: BTreeMap<String, Prop>,
    /// Services this one depends on (`require_all/none`), as `svcs -l` names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// Command names of the processes its contract holds while online (`svcs -p`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procs: Vec<String>,
    /// Start methods run since the host was made: each start is a new contract.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub starts: u64,
    /// `svcadm restart` is pending: svc.startd stops and starts the instance at `until_ms`
    /// (svcadm itself returns at once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarting: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Service {
    pub fn effective_enabled(&self) -> bool {
        self.temp_enabled.unwrap_or(self.enabled)
    }
}

impl State {
    pub fn load(path: &Path) -> std::io::Result<State> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad state file: {e}"),
            )
        })
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }

    pub fn next_txg(&mut self) -> u64 {
        self.txg += 1;
        self.txg
    }
}
