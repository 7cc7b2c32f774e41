//! `prtconf -dD`: the host's device tree with each PCI device's IDs, its name from the PCI
//! database and the driver bound to it (illumos-gate `man8/prtconf.8`: `-d` adds the vendor
//! and device IDs and, when known, their names; `-D` the driver). Readable by anyone.
//!
//! A PCI node prints as (indented four spaces per level of the tree):
//! `pci8086,1521 (pciex8086,1521) [Intel Corporation I350 Gigabit Network Connection],
//! instance #0 (driver name: igb)`; `[...]` is absent when the database does not know the
//! device, `, instance #N` when no instance was assigned, and `(driver not attached)` stands
//! for the driver when none is. Other nodes (`i86pc`, `scsi_vhci`, ...) have no ID pair.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

/// One PCI or PCI Express device of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevice {
    /// The node name (`pci8086,1521`: subsystem IDs when the device has them).
    pub node: String,
    /// The compatible name in parentheses (`pciex8086,1521`): the device's own IDs.
    pub compatible: String,
    /// Lowercase hex, as prtconf prints them (`8086`).
    pub vendor_id: String,
    pub device_id: String,
    /// `Vendor Device` from the PCI database, when known.
    pub description: Option<String>,
    pub instance: Option<u32>,
    /// The bound driver (`ppt` for a device set aside for passthrough), `None` when no driver
    /// is attached.
    pub driver: Option<String>,
    /// Depth in the tree (0 = the root node).
    pub depth: usize,
}

pub fn devices_cmd() -> Cmd {
    Cmd::new(Tool::Prtconf).arg("-dD").quiet()
}

/// The PCI devices of `prtconf -dD` output, in tree order. Header lines (`System
/// Configuration:`, `Memory size:`, `System Peripherals ...`) and non-PCI nodes are skipped; a
/// PCI line (one with a `(pci...,...)` ID pair) that does not have the shape above is an error
/// quoting it.
pub fn parse_devices(text: &str) -> Result<Vec<PciDevice>, ReadError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let depth = (line.len() - line.trim_start_matches(' ').len()) / 4;
        let l = line.trim();
        let Some((node, rest)) = l.split_once(" (pci") else {
            continue;
        };
        if node.contains(' ') || node.contains(':') {
            continue; // a header line, not a node
        }
        let bad = |why: &str| ReadError::parse(Tool::Prtconf, format!("{why}: {line:?}"));
        let (compat, mut rest) = rest.split_once(')').ok_or_else(|| bad("no ')'"))?;
        let compatible = format!("pci{compat}");
        let ids = compatible
            .strip_prefix("pciex")
            .or_else(|| compatible.strip_prefix("pci"))
            .unwrap_or_default();
        let (vendor_id, device_id) = ids.split_once(',').ok_or_else(|| bad("no ID pair"))?;
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(vendor_id) || !hex(device_id) {
            return Err(bad("IDs are not hexadecimal"));
        }
        let mut description = None;
        if let Some(r) = rest.strip_prefix(" [") {
            // A name may itself hold brackets ("[GeForce RTX 3060]"): the last "]" before
            // ", instance" or " (driver" closes it.
            let end = [", instance #", " (driver"]
                .iter()
                .filter_map(|m| r.find(m))
                .min()
                .unwrap_or(r.len());
            let name = r[..end]
                .strip_suffix(']')
                .ok_or_else(|| bad("no ']' after the name"))?;
            description = Some(name.to_owned());
            rest = &r[end..];
        }
        let mut instance = None;
        if let Some(r) = rest.strip_prefix(", instance #") {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            instance = Some(r[..digits].parse().map_err(|_| bad("bad instance"))?);
            rest = &r[digits..];
        }
        let driver = match rest.trim() {
            "" | "(driver not attached)" => None,
            d => Some(
                d.strip_prefix("(driver name: ")
                    .and_then(|d| d.strip_suffix(')'))
                    .filter(|d| !d.is_empty() && !d.contains(' '))
                    .ok_or_else(|| bad("unexpected text after the node"))?
                    .to_owned(),
            ),
        };
        out.push(PciDevice {
            node: node.trim_end_matches(',').to_owned(),
            vendor_id: vendor_id.to_ascii_lowercase(),
            device_id: device_id.to_ascii_lowercase(),
            compatible,
            description,
            instance,
            driver,
            depth,
        });
    }
    Ok(out)
}

pub async fn devices(run: &Runner) -> Result<Vec<PciDevice>, ReadError> {
    parse_devices(&run.output(&devices_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    // As prtconf -dD prints it on an x86 host (cut).
    const CAPTURED: &str = "System Configuration:  Oracle Corporation  i86pc
Memory size: 65536 Megabytes
System Peripherals (Software Nodes):

i86pc (driver name: rootnex)
    scsi_vhci, instance #0 (driver name: scsi_vhci)
    pci, instance #0 (driver name: npe)
        pci8086,0 (pciex8086,2020) [Intel Corporation Sky Lake-E DMI3 Registers], instance #0
        pci8086,0 (pciex8086,2030) [Intel Corporation Sky Lake-E PCI Express Root Port A], instance #1 (driver name: pcieb)
            pci15d9,1521 (pciex8086,1521) [Intel Corporation I350 Gigabit Network Connection], instance #0 (driver name: igb)
            pci10de,1503 (pciex10de,2504) [NVIDIA Corporation GA106 [GeForce RTX 3060 Lite Hash Rate]], instance #0 (driver name: ppt)
        pci1b4b,9230 (pci1b4b,9230) (driver not attached)
";

    #[test]
    fn pci_nodes_are_read_and_other_nodes_skipped() {
        let d = parse_devices(CAPTURED).unwrap();
        assert_eq!(d.len(), 5, "{d:?}");
        assert_eq!(d[0].instance, Some(0));
        assert_eq!(d[0].driver, None);
        let nic = &d[2];
        assert_eq!(
            (nic.vendor_id.as_str(), nic.device_id.as_str(), nic.depth),
            ("8086", "1521", 3)
        );
        assert_eq!(nic.node, "pci15d9,1521");
        assert_eq!(nic.driver.as_deref(), Some("igb"));
        assert_eq!(
            nic.description.as_deref(),
            Some("Intel Corporation I350 Gigabit Network Connection")
        );
    }

    #[test]
    fn a_name_may_hold_brackets_and_a_device_may_have_no_name_or_driver() {
        let d = parse_devices(CAPTURED).unwrap();
        assert_eq!(
            d[3].description.as_deref(),
            Some("NVIDIA Corporation GA106 [GeForce RTX 3060 Lite Hash Rate]")
        );
        assert_eq!(d[3].driver.as_deref(), Some("ppt"));
        let bare = &d[4];
        assert_eq!(bare.compatible, "pci1b4b,9230");
        assert_eq!((bare.description.clone(), bare.instance), (None, None));
        assert_eq!(bare.driver, None);
    }

    #[test]
    fn a_pci_line_of_another_shape_is_an_error_quoting_it() {
        let e = parse_devices("    pci8086,0 (pciex8086,zz) [X], instance #0\n").unwrap_err();
        assert!(e.to_string().contains("pciex8086,zz"), "{e}");
        let e =
            parse_devices("    pci8086,0 (pciex8086,1) [X], instance #0 trailing\n").unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");
    }
}
