//! The host's PCI devices in the original's row shape (its `pci_devices` model: `pci_address`,
//! `vendor_id`, `device_category`, `ppt_enabled`, `assigned_to_zones`, ...), computed by pure
//! functions from `prtconf -dD`, `pptadm list -a` and the zones' `device` resources.

use std::collections::BTreeMap;

use illumos::pptadm::PptDevice;
use illumos::prtconf::PciDevice;
use serde::Serialize;
use utoipa::ToSchema;

/// A zone a passthrough device is given to: its configuration has `device match=/dev/pptN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Assignment {
    pub zone_name: String,
    /// `device`: a zonecfg `device` resource (the only way a zone is given a ppt device).
    pub assignment_type: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Device {
    /// The device's place in the tree (1 = first PCI device prtconf lists); stable while the
    /// hardware is.
    pub id: u32,
    pub host: String,
    /// The compatible name with the device's own IDs (`pciex8086,1521`); two ports of one card
    /// share it.
    pub pci_address: String,
    /// The tree's node name (`pci15d9,1521`, with subsystem IDs).
    pub node_name: String,
    /// Lowercase hex (`8086`).
    pub vendor_id: String,
    pub device_id: String,
    /// From the PCI database name prtconf prints, when it knows the device.
    pub vendor_name: Option<String>,
    pub device_name: Option<String>,
    pub driver_name: Option<String>,
    pub driver_instance: Option<u32>,
    pub driver_attached: bool,
    /// `network`, `storage`, `display`, `usb`, `audio` or `other`.
    pub device_category: String,
    /// The physical `/devices` path, when pptadm names the device.
    pub pci_path: Option<String>,
    /// `/dev/pptN` when the device is bound to the ppt driver.
    pub ppt_device_path: Option<String>,
    /// Bound to the ppt driver, so a zone can be given it.
    pub ppt_enabled: bool,
    /// Whether passthrough could be set up for it (the original's rule: not given to a zone;
    /// of Intel's devices only NICs, of AMD's only display, network and storage).
    pub ppt_capable: bool,
    pub assigned_to_zones: Vec<Assignment>,
    /// When the host was read (RFC 3339).
    pub scan_timestamp: String,
}

const CATEGORIES: [(&str, &[&str], &[&str]); 5] = [
    (
        "network",
        &["network", "ethernet", "gigabit"],
        &[
            "igb", "ixgbe", "e1000g", "bnx", "bge", "i40e", "mlxcx", "cxgbe",
        ],
    ),
    (
        "storage",
        &[
            "storage",
            "sas",
            "sata",
            "scsi",
            "raid",
            "nvme",
            "non-volatile memory",
        ],
        &["mpt", "ahci", "nvme", "mr_sas", "smrt"],
    ),
    (
        "display",
        &[
            "display", "vga", "graphics", "video", "geforce", "quadro", "radeon",
        ],
        &["vgatext"],
    ),
    (
        "usb",
        &["usb", "universal serial bus"],
        &["xhci", "ehci", "uhci", "ohci"],
    ),
    ("audio", &["audio", "sound", "multimedia"], &["audiohd"]),
];

/// The original's categories by keyword in the database name or by driver, first match wins.
/// A device bound to ppt is categorised by its name only (the driver says nothing of it).
pub fn category(description: Option<&str>, driver: Option<&str>) -> &'static str {
    let desc = description.unwrap_or_default().to_ascii_lowercase();
    let driver = driver.unwrap_or_default();
    CATEGORIES
        .iter()
        .find(|(_, words, drivers)| {
            words.iter().any(|w| desc.contains(w)) || drivers.contains(&driver)
        })
        .map_or("other", |(c, _, _)| c)
}

/// Splits `Intel Corporation I350 Gigabit ...` into vendor and device names. The database
/// name is one string; a vendor is its first word, with a company suffix that follows it.
fn split_name(description: &str) -> (String, String) {
    const SUFFIXES: [&str; 7] = [
        "Corporation",
        "Inc.",
        "Co",
        "Co.",
        "Ltd",
        "Technology,",
        "Electronics",
    ];
    let words: Vec<&str> = description.split(' ').collect();
    let mut n = 1;
    while n < words.len().saturating_sub(1) && SUFFIXES.contains(&words[n]) {
        n += 1;
    }
    (words[..n].join(" "), words[n..].join(" "))
}

fn ppt_capable(vendor: &str, category: &str, assigned: bool) -> bool {
    if assigned {
        return false;
    }
    match vendor {
        "8086" => category == "network",
        "1022" => matches!(category, "display" | "network" | "storage"),
        _ => true,
    }
}

/// Every PCI device of the tree, with its passthrough state. A pptadm entry with a `/dev/pptN`
/// is the first not-yet-matched device with its IDs bound to the ppt driver; one without is
/// the first with its IDs bound to another driver or none (two ports of a card share IDs, so
/// the driver tells them apart). `zones_by_match` maps a `device` match to the zones using it.
pub fn devices(
    tree: &[PciDevice],
    ppt: &[PptDevice],
    zones_by_match: &BTreeMap<String, Vec<String>>,
    host: &str,
    scanned_at: &str,
) -> Vec<Device> {
    let mut taken = vec![false; tree.len()];
    let mut ppt_of: Vec<Option<&PptDevice>> = vec![None; tree.len()];
    for p in ppt {
        let found = tree.iter().enumerate().position(|(i, d)| {
            !taken[i]
                && d.vendor_id == p.vendor_id
                && d.device_id == p.device_id
                && (d.driver.as_deref() == Some("ppt")) == p.dev.is_some()
        });
        if let Some(i) = found {
            taken[i] = true;
            ppt_of[i] = Some(p);
        }
    }
    tree.iter()
        .zip(ppt_of)
        .enumerate()
        .map(|(i, (d, p))| {
            let dev = p.and_then(|p| p.dev.clone());
            let assigned_to_zones: Vec<Assignment> = dev
                .as_ref()
                .and_then(|m| zones_by_match.get(m))
                .into_iter()
                .flatten()
                .map(|z| Assignment {
                    zone_name: z.clone(),
                    assignment_type: "device".into(),
                })
                .collect();
            let driver = d.driver.as_deref().filter(|d| *d != "ppt");
            let category = category(d.description.as_deref(), driver);
            let (vendor_name, device_name) = match d.description.as_deref().map(split_name) {
                Some((v, n)) => (Some(v), Some(n)),
                None => (None, None),
            };
            Device {
                id: i as u32 + 1,
                host: host.to_owned(),
                pci_address: d.compatible.clone(),
                node_name: d.node.clone(),
                vendor_id: d.vendor_id.clone(),
                device_id: d.device_id.clone(),
                vendor_name,
                device_name,
                driver_name: d.driver.clone(),
                driver_instance: d.instance,
                driver_attached: d.driver.is_some(),
                device_category: category.to_owned(),
                pci_path: p.map(|p| p.path.clone()),
                ppt_enabled: dev.is_some(),
                ppt_capable: ppt_capable(&d.vendor_id, category, !assigned_to_zones.is_empty()),
                ppt_device_path: dev,
                assigned_to_zones,
                scan_timestamp: scanned_at.to_owned(),
            }
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSummary {
    pub total_devices: usize,
    pub by_category: BTreeMap<String, usize>,
    pub ppt_capable: usize,
    /// Devices bound to ppt and given to a zone.
    pub ppt_assigned: usize,
    pub zones_using_passthrough: Vec<String>,
}

pub fn summary(all: &[Device]) -> DeviceSummary {
    let mut by_category = BTreeMap::new();
    let mut zones = std::collections::BTreeSet::new();
    let mut ppt_assigned = 0;
    for d in all {
        *by_category.entry(d.device_category.clone()).or_insert(0) += 1;
        if d.ppt_enabled && !d.assigned_to_zones.is_empty() {
            ppt_assigned += 1;
            zones.extend(d.assigned_to_zones.iter().map(|a| a.zone_name.clone()));
        }
    }
    DeviceSummary {
        total_devices: all.len(),
        by_category,
        ppt_capable: all.iter().filter(|d| d.ppt_capable).count(),
        ppt_assigned,
        zones_using_passthrough: zones.into_iter().collect(),
    }
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CategoryCounts {
    pub total: usize,
    pub ppt_capable: usize,
    pub driver_attached: usize,
    pub available: usize,
    pub assigned: usize,
}

pub fn categories(all: &[Device]) -> BTreeMap<String, CategoryCounts> {
    let mut out: BTreeMap<String, CategoryCounts> = BTreeMap::new();
    for d in all {
        let c = out.entry(d.device_category.clone()).or_default();
        c.total += 1;
        c.ppt_capable += usize::from(d.ppt_capable);
        c.driver_attached += usize::from(d.driver_attached);
        if d.assigned_to_zones.is_empty() {
            c.available += 1;
        } else {
            c.assigned += 1;
        }
    }
    out
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneDevice {
    pub device_name: Option<String>,
    pub ppt_device_path: Option<String>,
    pub assignment_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PptSummary {
    pub total_ppt_devices: usize,
    /// Bound to ppt and given to no zone.
    pub available: usize,
    pub assigned_to_zones: usize,
    pub zone_assignments: BTreeMap<String, Vec<ZoneDevice>>,
}

/// The devices bound to ppt (in `/dev/pptN` order) and who has them.
pub fn ppt_status(all: &[Device]) -> (Vec<Device>, PptSummary) {
    let mut ppt: Vec<Device> = all.iter().filter(|d| d.ppt_enabled).cloned().collect();
    ppt.sort_by(|a, b| a.ppt_device_path.cmp(&b.ppt_device_path));
    let mut zone_assignments: BTreeMap<String, Vec<ZoneDevice>> = BTreeMap::new();
    for d in &ppt {
        for a in &d.assigned_to_zones {
            zone_assignments
                .entry(a.zone_name.clone())
                .or_default()
                .push(ZoneDevice {
                    device_name: d.device_name.clone(),
                    ppt_device_path: d.ppt_device_path.clone(),
                    assignment_type: a.assignment_type.clone(),
                });
        }
    }
    let assigned = ppt
        .iter()
        .filter(|d| !d.assigned_to_zones.is_empty())
        .count();
    let summary = PptSummary {
        total_ppt_devices: ppt.len(),
        available: ppt.len() - assigned,
        assigned_to_zones: assigned,
        zone_assignments,
    };
    (ppt, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(ids: (&str, &str), desc: &str, driver: Option<&str>) -> PciDevice {
        PciDevice {
            node: format!("pci{},{}", ids.0, ids.1),
            compatible: format!("pciex{},{}", ids.0, ids.1),
            vendor_id: ids.0.into(),
            device_id: ids.1.into(),
            description: Some(desc.into()),
            instance: Some(0),
            driver: driver.map(str::to_owned),
            depth: 3,
        }
    }

    fn ppt(dev: Option<&str>, ids: (&str, &str), path: &str) -> PptDevice {
        PptDevice {
            dev: dev.map(str::to_owned),
            vendor_id: ids.0.into(),
            device_id: ids.1.into(),
            path: path.into(),
        }
    }

    const I350: &str = "Intel Corporation I350 Gigabit Network Connection";

    #[test]
    fn of_two_ports_with_one_pair_of_ids_the_one_bound_to_ppt_is_the_ppt_device() {
        let tree = [
            dev(("8086", "1521"), I350, Some("igb")),
            dev(("8086", "1521"), I350, Some("ppt")),
        ];
        let zones = BTreeMap::from([("/dev/ppt0".to_owned(), vec!["vm1".to_owned()])]);
        let d = devices(
            &tree,
            &[ppt(Some("/dev/ppt0"), ("8086", "1521"), "/p@1")],
            &zones,
            "h",
            "t",
        );
        assert!(!d[0].ppt_enabled && d[1].ppt_enabled);
        assert_eq!(d[1].ppt_device_path.as_deref(), Some("/dev/ppt0"));
        assert_eq!(d[1].assigned_to_zones[0].zone_name, "vm1");
        // Bound to ppt, it is still a NIC by its name; given to a zone, it is no candidate.
        assert_eq!(d[1].device_category, "network");
        assert!(d[0].ppt_capable && !d[1].ppt_capable);
        let s = summary(&d);
        assert_eq!(
            (s.ppt_assigned, s.zones_using_passthrough.clone()),
            (1, vec!["vm1".to_owned()])
        );
        let (p, ps) = ppt_status(&d);
        assert_eq!((p.len(), ps.assigned_to_zones, ps.available), (1, 1, 0));
        assert_eq!(
            ps.zone_assignments["vm1"][0].ppt_device_path.as_deref(),
            Some("/dev/ppt0")
        );
    }

    #[test]
    fn a_candidate_not_bound_keeps_its_path_but_is_not_enabled() {
        let tree = [dev(
            ("10de", "2504"),
            "NVIDIA Corporation GA106 [GeForce RTX 3060]",
            None,
        )];
        let d = devices(
            &tree,
            &[ppt(None, ("10de", "2504"), "/p@3")],
            &BTreeMap::new(),
            "h",
            "t",
        );
        assert_eq!(d[0].pci_path.as_deref(), Some("/p@3"));
        assert!(!d[0].ppt_enabled && d[0].ppt_capable && !d[0].driver_attached);
        assert_eq!(d[0].device_category, "display");
        assert_eq!(d[0].vendor_name.as_deref(), Some("NVIDIA Corporation"));
        assert_eq!(
            d[0].device_name.as_deref(),
            Some("GA106 [GeForce RTX 3060]")
        );
    }

    #[test]
    fn categories_follow_names_then_drivers_and_intel_chipset_parts_are_not_candidates() {
        assert_eq!(
            category(
                Some("Samsung Electronics Co Ltd NVMe SSD Controller"),
                Some("nvme")
            ),
            "storage"
        );
        assert_eq!(
            category(Some("Intel Corporation C620 USB 3.0 xHCI Controller"), None),
            "usb"
        );
        assert_eq!(
            category(Some("Intel Corporation Sky Lake-E DMI3 Registers"), None),
            "other"
        );
        assert_eq!(category(None, Some("igb")), "network");
        let d = devices(
            &[dev(
                ("8086", "2020"),
                "Intel Corporation Sky Lake-E DMI3 Registers",
                None,
            )],
            &[],
            &BTreeMap::new(),
            "h",
            "t",
        );
        assert!(!d[0].ppt_capable);
        let c = categories(&d);
        assert_eq!((c["other"].total, c["other"].available), (1, 1));
        assert_eq!(
            split_name("Samsung Electronics Co Ltd NVMe SSD").0,
            "Samsung Electronics Co Ltd"
        );
    }
}
