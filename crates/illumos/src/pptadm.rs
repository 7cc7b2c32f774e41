//! `pptadm list -a -p -o dev,vendor,device,path`: the PCI devices set aside for passthrough
//! (illumos-gate `man8/pptadm.8`, `cmd/pptadm/pptadm.c`). `-a` lists every device the ppt
//! driver may take, not only those bound to it; `-p` is ofmt's parsable form (fields joined by
//! `:`, a `:` or `\` inside a value escaped), and a field the device lacks prints `--` (a device
//! not bound has no `/dev/pptN`). The IDs are lowercase hex without `0x`, as prtconf prints
//! them. Reading the list needs no privilege: like prtconf it reads a devinfo snapshot.

use crate::cmd::{Cmd, Tool};
use crate::parsable;
use crate::read::ReadError;
use crate::runner::Runner;

const FIELDS: [&str; 4] = ["dev", "vendor", "device", "path"];

/// One passthrough device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PptDevice {
    /// `/dev/ppt0`, `None` when the device is not bound to the ppt driver.
    pub dev: Option<String>,
    pub vendor_id: String,
    pub device_id: String,
    /// The physical `/devices` path.
    pub path: String,
}

pub fn list_cmd() -> Cmd {
    Cmd::new(Tool::Pptadm)
        .args(["list", "-a", "-p", "-o"])
        .arg(parsable::field_arg(&FIELDS))
        .quiet()
}

pub fn parse_list(text: &str) -> Result<Vec<PptDevice>, ReadError> {
    let err = |e: parsable::ParseError| ReadError::parse(Tool::Pptadm, e.to_string());
    parsable::parse_records("pptadm list", text, &FIELDS, |r| {
        let some = |v: &str| (v != "--" && !v.is_empty()).then(|| v.to_owned());
        let dev = some(r.require("dev")?);
        if dev.as_deref().is_some_and(|d| !d.starts_with("/dev/ppt")) {
            return Err(r.error("dev is not a /dev/ppt path"));
        }
        Ok(PptDevice {
            dev,
            vendor_id: r.require("vendor")?.to_ascii_lowercase(),
            device_id: r.require("device")?.to_ascii_lowercase(),
            path: r.require("path")?.to_owned(),
        })
    })
    .map_err(err)
}

pub async fn list(run: &Runner) -> Result<Vec<PptDevice>, ReadError> {
    parse_list(&run.output(&list_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_names_its_fields() {
        assert_eq!(
            list_cmd().argv(),
            ["pptadm", "list", "-a", "-p", "-o", "dev,vendor,device,path"]
        );
    }

    #[test]
    fn a_device_not_bound_has_no_dev() {
        let text = "/dev/ppt0:10de:2504:/pci@0,0/pci8086,2030@0/pci10de,1503@0\n\
                    --:8086:1521:/pci@0,0/pci8086,2032@2/pci15d9,1521@0,1\n";
        let l = parse_list(text).unwrap();
        assert_eq!(l[0].dev.as_deref(), Some("/dev/ppt0"));
        assert_eq!(
            (l[0].vendor_id.as_str(), l[0].device_id.as_str()),
            ("10de", "2504")
        );
        assert_eq!(l[1].dev, None);
        assert_eq!(l[1].path, "/pci@0,0/pci8086,2032@2/pci15d9,1521@0,1");
        assert!(parse_list("/dev/ppt0:10de:2504\n").is_err());
        assert!(parse_list("/tmp/x:10de:2504:/pci@0,0\n").is_err());
    }
}
