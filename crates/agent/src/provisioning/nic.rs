//! The temporary provisioning NIC: a `net` resource on the provisioning etherstub with a MAC the
//! agent chooses, and a DHCP reservation for that MAC, so the zone's address is known before it
//! boots. The pipeline's `network` stage makes both (or finds them from an earlier run); the
//! provision stage removes them when `remove_provisioning_nic` asks for it.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use illumos::link::{LinkName, Mac, UnicastMac};
use illumos::names::ZoneName;
use illumos::net::Ipv4Cidr;
use illumos::zonecfg::{self, CommandFile, Net, ZoneConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::stages::{Entry, StageParams};
use super::ProvisioningServices;
use crate::network::dhcp::{self, conf::DhcpConf, conf::HostEntry};
use crate::network::paths::HostFile;
use crate::network::settings::{usable_in, ProvisioningNet};
use crate::tasks::{Cx, OpCx, OpError, TaskOp};

pub const NIC: &str = "zone_provision_nic";

const SUFFIX: &str = "_prov0";

/// The NIC's link name, also the name of its DHCP reservation: the zone's name when it is a
/// valid link name prefix (`web_01` → `web_01_prov0`), otherwise a cleaned, shortened form with
/// a hash of the full name, so two zones never share one.
pub fn link_name(zone: &ZoneName) -> LinkName {
    let z = zone.as_str();
    let room = LinkName::MAX_LEN - SUFFIX.len();
    let clean = z.len() <= room
        && z.starts_with(|c: char| c.is_ascii_alphabetic())
        && z.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let name = if clean {
        format!("{z}{SUFFIX}")
    } else {
        // FNV-1a: stable across versions and platforms, which std's hasher does not promise.
        let hash = z.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut stem: String = z
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if !stem.starts_with(|c: char| c.is_ascii_alphabetic()) {
            stem.insert(0, 'z');
        }
        let tag = format!("_{:06x}", hash & 0xff_ffff);
        stem.truncate(room - tag.len());
        format!("{stem}{tag}{SUFFIX}")
    };
    name.parse().expect("built from letters, digits and '_'")
}

/// A random, locally administered unicast MAC with the prefix dladm itself uses for random
/// VNIC addresses (`2:8:20`).
fn generated_mac() -> UnicastMac {
    let r = uuid::Uuid::new_v4();
    let b = r.as_bytes();
    UnicastMac::try_from(Mac::new([0x02, 0x08, 0x20, b[0], b[1], b[2]])).expect("unicast")
}

/// The zone's NIC on the provisioning etherstub, if its configuration has one: (link, MAC).
pub fn find(cfg: &ZoneConfig, p: &ProvisioningNet) -> Option<(String, Option<String>)> {
    cfg.nets
        .iter()
        .find(|n| n.get("global-nic") == Some(p.etherstub.as_str()))
        .and_then(|n| {
            Some((
                n.get("physical")?.to_owned(),
                n.get("mac-addr").map(str::to_owned),
            ))
        })
}

/// The address for the reservation `name`: `want` when it is a usable address of the
/// provisioning subnet that no other reservation holds; otherwise the first free address outside
/// the dynamic pool, then the pool from its top down (so it rarely meets a dynamic lease),
/// skipping reserved and leased addresses and the host's own.
pub fn choose_address(
    p: &ProvisioningNet,
    conf: &DhcpConf,
    name: &str,
    want: Option<Ipv4Addr>,
    leased: &HashSet<Ipv4Addr>,
) -> Result<Ipv4Addr, String> {
    let taken: HashSet<Ipv4Addr> = conf
        .hosts()
        .into_iter()
        .filter(|h| h.name != name)
        .filter_map(|h| h.ip)
        .collect();
    if let Some(ip) = want.filter(|ip| usable_in(p.subnet, *ip) && *ip != p.host_ip) {
        if taken.contains(&ip) {
            return Err(format!(
                "provisioning.variables.ip {ip} is reserved by another DHCP host entry"
            ));
        }
        return Ok(ip);
    }
    let base = u32::from(p.subnet.addr());
    let size = 1u64 << (32 - u32::from(p.subnet.prefix()));
    let all = (0..size).map(|i| Ipv4Addr::from(base.wrapping_add(i as u32)));
    let (lo, hi) = (u32::from(p.range_start), u32::from(p.range_end));
    let in_pool = |ip: &Ipv4Addr| (lo..=hi).contains(&u32::from(*ip));
    let free = |ip: &Ipv4Addr| {
        usable_in(p.subnet, *ip) && *ip != p.host_ip && !taken.contains(ip) && !leased.contains(ip)
    };
    all.clone()
        .filter(|ip| !in_pool(ip))
        .chain(all.rev().filter(in_pool))
        .find(free)
        .ok_or_else(|| format!("no free address left in {}", p.subnet))
}

/// What the stage made, for its undo (network journal entries sit beside these).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    ProvisioningNic {
        zone: ZoneName,
        physical: String,
        mac: String,
    },
    /// `remove` is taking the NIC `physical` and its reservation away (journaled by the
    /// provision stage, which finishes the removal rather than undo it).
    NicRemoval { physical: String },
}

/// The NIC a [`remove`] was taking away when its task was interrupted.
pub fn interrupted_removal(journal: &[Entry]) -> Option<String> {
    journal.iter().find_map(|e| match e {
        Entry::Nic(Made::NicRemoval { physical }) => Some(physical.clone()),
        _ => None,
    })
}

impl From<Made> for Entry {
    fn from(m: Made) -> Self {
        Entry::Nic(m)
    }
}

/// A NIC name read from the zone's configuration, as the commands take it.
fn link(physical: &str) -> Result<LinkName, OpError> {
    physical
        .parse()
        .map_err(|e| OpError::failed(format!("the zone's NIC {physical}: {e}")))
}

async fn export(cx: &OpCx, zone: &ZoneName) -> Result<ZoneConfig, OpError> {
    zonecfg::export(&cx.runner, zone)
        .await?
        .ok_or_else(|| OpError::failed(format!("zone {zone} does not exist")))
}

async fn apply(
    svc: &ProvisioningServices,
    cx: &OpCx,
    zone: &ZoneName,
    f: &CommandFile,
) -> Result<(), OpError> {
    let r = zonecfg::apply_stdin(&cx.runner, zone, f).await;
    svc.zones.host.invalidate(zone.as_str());
    Ok(r?)
}

/// Addresses with an active lease in the leases file the DHCP service names now.
async fn leased(svc: &ProvisioningServices, cx: &OpCx) -> Result<HashSet<Ipv4Addr>, OpError> {
    let leases = svc
        .network
        .path_of(&cx.runner, HostFile::DhcpLeases)
        .await?;
    let path = svc.config.host_file(&leases.to_string());
    Ok(std::fs::read_to_string(path)
        .ok()
        .and_then(|t| dhcp::leases::parse(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.state.as_deref() == Some("active"))
        .filter_map(|l| l.ip.parse().ok())
        .collect())
}

/// The NIC and reservation of a zone, as recipe variables: `provisioning_nic`, `mac`, `ip`
/// (the reservation's address, unless the zone's settings name one) and `dns`.
pub async fn variables(
    svc: &ProvisioningServices,
    cfg: &ZoneConfig,
) -> Result<BTreeMap<String, String>, OpError> {
    let p = &svc.network.settings.provisioning;
    let mut vars = BTreeMap::new();
    let Some((physical, mac)) = find(cfg, p) else {
        return Ok(vars);
    };
    vars.insert("provisioning_nic".to_owned(), physical.clone());
    let conf = dhcp::read_conf(&svc.network, &svc.network.runner).await?;
    // The first DNS server the provisioning subnet hands out, for recipes that set a resolver.
    if let Some(dns) = conf
        .subnets()
        .find(|s| s.net() == p.subnet)
        .and_then(|s| s.config().dns.first().copied())
    {
        vars.insert("dns".to_owned(), dns.to_string());
    }
    if let Some(m) = mac.as_deref().and_then(|m| m.parse::<Mac>().ok()) {
        vars.insert("mac".to_owned(), m.to_string());
        if let Some(ip) = conf
            .hosts()
            .into_iter()
            .find(|h| h.mac == Some(m) && h.name == physical)
            .and_then(|h| h.ip)
        {
            vars.insert("ip".to_owned(), ip.to_string());
        }
    }
    Ok(vars)
}

/// [`variables`] for a zone, from the zones area's cached configuration (the network stage
/// invalidates it when it adds the NIC, so a later stage never reads it stale).
pub async fn zone_variables(
    svc: &ProvisioningServices,
    zone: &ZoneName,
) -> Result<BTreeMap<String, String>, OpError> {
    let cfg = svc
        .zones
        .host
        .config(zone)
        .await?
        .ok_or_else(|| OpError::failed(format!("zone {zone} does not exist")))?;
    variables(svc, &cfg).await
}

/// The pipeline's `network` stage.
pub struct NicStage(pub Arc<ProvisioningServices>);

impl TaskOp for NicStage {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        NIC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, params: StageParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        let p = &svc.network.settings.provisioning;
        if !p.enabled {
            cx.note("the provisioning network is disabled: no provisioning NIC");
            return Ok(Some(json!({ "skipped": true })));
        }
        let zone = &params.zone;
        cx.progress(10, "Reading the zone's configuration").await?;
        let cfg = export(cx, zone).await?;
        let (physical, mac, added) = match find(&cfg, p) {
            Some((phys, Some(mac))) => {
                let mac: UnicastMac = mac.parse().map_err(|e| {
                    OpError::failed(format!("NIC {phys} has an unusable mac-addr {mac}: {e}"))
                })?;
                (phys, mac, false)
            }
            Some((phys, None)) => {
                return Err(OpError::failed(format!(
                    "the zone's NIC {phys} on {} has no fixed mac-addr, so no DHCP reservation can name it; remove it or give it one",
                    p.etherstub
                )))
            }
            None => {
                let physical = link_name(zone);
                let mac = generated_mac();
                cx.progress(30, &format!("Adding NIC {physical} on {}", p.etherstub))
                    .await?;
                cx.will_make(
                    &Made::ProvisioningNic {
                        zone: zone.clone(),
                        physical: physical.to_string(),
                        mac: mac.to_string(),
                    }
                    .into(),
                )
                .await?;
                let mut f = CommandFile::new();
                f.add_net(&Net {
                    physical: physical.clone(),
                    global_nic: Some(p.etherstub.clone()),
                    mac_addr: Some(mac),
                    vlan_id: None,
                    allowed_address: None,
                    defrouter: None,
                });
                apply(svc, cx, zone, &f).await?;
                cx.note(&format!("added NIC {physical} ({mac}) on {}", p.etherstub));
                (physical.to_string(), mac, true)
            }
        };
        cx.progress(60, "Reserving the zone's address").await?;
        let mut conf = dhcp::read_conf(&svc.network, &cx.runner).await?;
        let current = conf
            .hosts()
            .into_iter()
            .find(|h| h.name == physical)
            .cloned();
        let want = params.settings.guest_address().and_then(|a| match a {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        });
        let keep = current.as_ref().filter(|h| {
            h.mac == Some(mac.mac())
                && h.ip.is_some_and(|ip| usable_in(p.subnet, ip))
                && (want.is_none_or(|w| !usable_in(p.subnet, w) || h.ip == Some(w)))
        });
        let ip = match keep {
            Some(h) => h.ip.expect("checked"),
            None => {
                let ip = choose_address(p, &conf, &physical, want, &leased(svc, cx).await?)
                    .map_err(OpError::failed)?;
                conf.remove_host(&physical);
                let entry = HostEntry {
                    name: physical.clone(),
                    mac: Some(mac.mac()),
                    ip: Some(ip),
                };
                if let Some(clash) = dhcp::host_conflict(&conf, &entry) {
                    return Err(OpError::failed(format!(
                        "cannot reserve {ip} for {physical}: {clash}"
                    )));
                }
                conf.add_host(entry);
                dhcp::apply(&svc.network, cx, &conf).await?;
                cx.note(&format!("reserved {ip} for {physical} ({mac})"));
                ip
            }
        };
        cx.progress(80, "Pinning the NIC to its address").await?;
        let allowed = pin_address(svc, cx, zone, &cfg, &physical, ip).await?;
        Ok(Some(json!({
            "nic": physical,
            "mac": mac.to_string(),
            "ip": ip.to_string(),
            "allowed_address": allowed.to_string(),
            "etherstub": p.etherstub.as_str(),
            "nic_added": added,
            "requires_restart": false,
        })))
    }

    async fn undo(
        &self,
        cx: &Cx<'_, Entry>,
        _p: StageParams,
        journal: Vec<Entry>,
    ) -> Result<(), OpError> {
        let mut nics = Vec::new();
        let mut network = Vec::new();
        for entry in journal {
            match entry {
                Entry::Nic(Made::ProvisioningNic {
                    zone,
                    physical,
                    mac,
                }) => nics.push((zone, physical, mac)),
                Entry::Network(made) => network.push(made),
                other => {
                    return Err(OpError::failed(format!(
                        "the network stage never journals {other:?}"
                    )))
                }
            }
        }
        // The reservation first (newer), then the NIC.
        crate::network::journal::undo(&self.0.network, cx, network).await?;
        for (zone, physical, mac) in nics {
            remove_nic(&self.0, cx, &zone, &physical, Some(&mac)).await?;
        }
        Ok(())
    }
}

/// Gives the NIC `allowed-address` = its reservation, unless it has it already. Booted with it,
/// the zone's link drops packets from any other source address (ip-nospoof): a co-resident
/// guest cannot take this zone's address and be handed what the pipeline sends there.
async fn pin_address(
    svc: &ProvisioningServices,
    cx: &OpCx,
    zone: &ZoneName,
    cfg: &ZoneConfig,
    physical: &str,
    ip: Ipv4Addr,
) -> Result<Ipv4Cidr, OpError> {
    let subnet = svc.network.settings.provisioning.subnet;
    let want = Ipv4Cidr::new(ip, subnet.prefix()).map_err(|e| OpError::failed(e.to_string()))?;
    let has = cfg
        .nets
        .iter()
        .find(|n| n.get("physical") == Some(physical))
        .and_then(|n| n.get("allowed-address"));
    if has != Some(want.to_string().as_str()) {
        let mut f = CommandFile::new();
        f.set_net_allowed_address(&link(physical)?, &want);
        apply(svc, cx, zone, &f).await?;
        cx.note(&format!(
            "NIC {physical} may only use {want} (allowed-address)"
        ));
    }
    Ok(want)
}

/// Removes the zone's `net` resource `physical` if it is still the one on the provisioning
/// etherstub (with `mac`, when given). Returns whether it was there.
async fn remove_nic(
    svc: &ProvisioningServices,
    cx: &OpCx,
    zone: &ZoneName,
    physical: &str,
    mac: Option<&str>,
) -> Result<bool, OpError> {
    let Some(cfg) = zonecfg::export(&cx.runner, zone).await? else {
        return Ok(false);
    };
    let p = &svc.network.settings.provisioning;
    let same = |a: &str, b: &str| match (a.parse::<Mac>(), b.parse::<Mac>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let ours = cfg.nets.iter().any(|n| {
        n.get("physical") == Some(physical)
            && n.get("global-nic") == Some(p.etherstub.as_str())
            && mac.is_none_or(|m| n.get("mac-addr").is_some_and(|x| same(x, m)))
    });
    if !ours {
        return Ok(false);
    }
    let mut f = CommandFile::new();
    f.remove_net(&link(physical)?);
    apply(svc, cx, zone, &f).await?;
    cx.note(&format!("removed NIC {physical} from zone {zone}"));
    Ok(true)
}

/// `remove_provisioning_nic`: the NIC leaves the configuration (a running zone keeps it until
/// its next boot) and its reservation leaves dhcpd.conf. The NIC goes first, journaled, so a
/// run finishing an interrupted one (`interrupted`: the NIC it was removing) still finds the
/// reservation once the NIC is gone.
pub async fn remove(
    svc: &ProvisioningServices,
    cx: &Cx<'_, Entry>,
    zone: &ZoneName,
    interrupted: Option<&str>,
) -> Result<Value, OpError> {
    let cfg = export(cx, zone).await?;
    let p = &svc.network.settings.provisioning;
    let physical = match (find(&cfg, p), interrupted) {
        (Some((physical, _)), _) => {
            cx.will_make(
                &Made::NicRemoval {
                    physical: physical.clone(),
                }
                .into(),
            )
            .await?;
            remove_nic(svc, cx, zone, &physical, None).await?;
            physical
        }
        (None, Some(physical)) => physical.to_owned(),
        (None, None) => {
            cx.note("no provisioning NIC to remove");
            return Ok(json!({ "removed": false }));
        }
    };
    let mut conf = dhcp::read_conf(&svc.network, &cx.runner).await?;
    let reservation = conf.remove_host(&physical);
    if reservation {
        dhcp::apply(&svc.network, cx, &conf).await?;
        cx.note(&format!("removed the DHCP reservation {physical}"));
    } else if interrupted.is_some() {
        // Finishing an interrupted removal: it may have written the file and stopped before
        // the restart, and a running dhcpd would keep serving the reservation.
        dhcp::restart_if_running(&svc.network, cx).await?;
    }
    let running = illumos::zoneadm::get(&cx.runner, zone)
        .await?
        .is_some_and(|z| z.state.is_booted());
    if running {
        cx.note("the running zone keeps the NIC until its next boot");
        svc.zones
            .queue_for_next_boot(zone, vec![format!("remove nic {physical}")])
            .await?;
    }
    Ok(json!({
        "removed": true,
        "nic": physical,
        "reservation_removed": reservation,
        "requires_restart": running,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> ProvisioningNet {
        ProvisioningNet {
            enabled: true,
            etherstub: "estub_provision0".parse().unwrap(),
            host_vnic: "provision_interconnect0".parse().unwrap(),
            subnet: "10.190.190.0/24".parse().unwrap(),
            host_ip: "10.190.190.1".parse().unwrap(),
            range_start: "10.190.190.10".parse().unwrap(),
            range_end: "10.190.190.254".parse().unwrap(),
        }
    }

    fn zone(s: &str) -> ZoneName {
        s.parse().unwrap()
    }

    #[test]
    fn link_names_are_valid_and_distinct() {
        assert_eq!(link_name(&zone("web01")).as_str(), "web01_prov0");
        assert_eq!(link_name(&zone("web_01")).as_str(), "web_01_prov0");
        let dashed = link_name(&zone("web-01"));
        assert_ne!(dashed, link_name(&zone("web_01")));
        assert!(dashed.as_str().starts_with("web_01_"), "{dashed}");
        let long = "a".repeat(63);
        let l = link_name(&zone(&long));
        assert!(l.as_str().len() <= LinkName::MAX_LEN);
        assert_ne!(l, link_name(&zone(&format!("{}b", "a".repeat(62)))));
        assert!(link_name(&zone("9lives")).as_str().starts_with('z'));
        assert!(link_name(&zone("a.b")).as_str().ends_with("_prov0"));
    }

    #[test]
    fn generated_macs_are_local_unicast() {
        let m = generated_mac().mac();
        assert!(m.is_local() && !m.is_multicast());
        assert_eq!(&m.octets()[..3], &[2, 8, 0x20]);
    }

    fn conf(text: &str) -> DhcpConf {
        DhcpConf::parse(text).unwrap()
    }

    #[test]
    fn the_wanted_address_is_used_when_free() {
        let c = conf("");
        let ip = choose_address(
            &net(),
            &c,
            "z_prov0",
            Some("10.190.190.50".parse().unwrap()),
            &HashSet::new(),
        );
        assert_eq!(ip.unwrap().to_string(), "10.190.190.50");
    }

    #[test]
    fn a_wanted_address_held_by_another_host_is_refused() {
        let c =
            conf("host other { hardware ethernet 2:8:20:0:0:1; fixed-address 10.190.190.50; }\n");
        let e = choose_address(
            &net(),
            &c,
            "z_prov0",
            Some("10.190.190.50".parse().unwrap()),
            &HashSet::new(),
        );
        assert!(e.unwrap_err().contains("reserved"));
        // Its own earlier reservation is no obstacle.
        let ip = choose_address(
            &net(),
            &c,
            "other",
            Some("10.190.190.50".parse().unwrap()),
            &HashSet::new(),
        );
        assert!(ip.is_ok());
    }

    #[test]
    fn addresses_outside_the_pool_come_first_then_the_pool_from_the_top() {
        let c = conf("host a { hardware ethernet 2:8:20:0:0:1; fixed-address 10.190.190.2; }\n");
        let ip = choose_address(&net(), &c, "z_prov0", None, &HashSet::new()).unwrap();
        assert_eq!(ip.to_string(), "10.190.190.3");
        // An address outside the subnet (a guest reached another way) is not reserved.
        let ip = choose_address(
            &net(),
            &c,
            "z_prov0",
            Some("127.0.0.1".parse().unwrap()),
            &HashSet::new(),
        )
        .unwrap();
        assert_eq!(ip.to_string(), "10.190.190.3");
        let mut p = net();
        p.range_start = "10.190.190.2".parse().unwrap();
        let leased: HashSet<Ipv4Addr> = ["10.190.190.254".parse().unwrap()].into();
        let ip = choose_address(&p, &conf(""), "z_prov0", None, &leased).unwrap();
        assert_eq!(ip.to_string(), "10.190.190.253");
    }

    #[test]
    fn a_full_subnet_is_an_error() {
        let mut p = net();
        p.subnet = "10.190.190.0/30".parse().unwrap();
        p.host_ip = "10.190.190.1".parse().unwrap();
        p.range_start = "10.190.190.2".parse().unwrap();
        p.range_end = "10.190.190.2".parse().unwrap();
        let c = conf("host a { hardware ethernet 2:8:20:0:0:1; fixed-address 10.190.190.2; }\n");
        assert!(choose_address(&p, &c, "z_prov0", None, &HashSet::new()).is_err());
    }
}
