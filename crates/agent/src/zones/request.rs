//! Zone requests as the API receives them, and their validation into typed specs. Nothing here
//! runs a command: a spec is what a task operation may act on.

use illumos::link::{LinkName, UnicastMac, VlanId};
use illumos::names::{AttrName, DatasetName, HostPath, Size, ZoneName, ZonecfgValue};
use illumos::net::Ipv4Cidr;
use illumos::zonecfg::Net;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// `POST /zones`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateZoneRequest {
    /// Zone name: 1 to 63 characters, letters, digits, `-`, `_`, `.`, starting with a letter or digit.
    pub name: String,
    /// Only `bhyve`.
    pub brand: String,
    /// Memory, e.g. `2G` or `512M`.
    pub ram: Option<String>,
    /// CPUs: `N` or `[cpus=]N[,sockets=n][,cores=n][,threads=n]`.
    pub vcpus: Option<String>,
    /// `BHYVE_RELEASE`, `BHYVE_RELEASE_CSM`, `BHYVE_DEBUG`, `BHYVE_DEBUG_CSM`, `BHYVE`, `BHYVE_CSM`, or an absolute path.
    pub bootrom: Option<String>,
    /// `i440fx`, `q35`, `amd`, `netapp`, `intel` or `none`.
    pub hostbridge: Option<String>,
    /// `virtio`, `virtio-blk`, `ahci`, `ahci-hd` or `nvme`.
    pub diskif: Option<String>,
    /// `virtio`, `virtio-net-viona` or `e1000`.
    pub netif: Option<String>,
    /// `generic`, `windows` or `openbsd`.
    pub os_type: Option<String>,
    /// `on`, `off`, `wait`, or a bhyve option string: `unix=PATH` (a socket path inside the
    /// zone), `tcp=ADDR:PORT`, `w=`, `h=`, `vga=`, `wait`. A password (`password=`) is not
    /// taken here (it would be kept in the task's record): set it with zonecfg on the host.
    pub vnc: Option<String>,
    /// `on` or `off`.
    pub acpi: Option<String>,
    /// `on` or `off`.
    pub xhci: Option<String>,
    pub autoboot: Option<bool>,
    pub boot_volume: Option<BootVolume>,
    #[serde(default)]
    pub nics: Vec<NicRequest>,
    #[serde(default)]
    pub cdroms: Vec<CdromRequest>,
    pub cloud_init: Option<CloudInitRequest>,
    pub source: Option<SourceRequest>,
    /// Attach an `existing_dataset` even if another zone uses it; refused unless the host allows
    /// shared volumes (`zones.allow_shared_volumes`).
    #[serde(default)]
    pub force: bool,
    /// Boot the zone once it is created (a second task, `start_task_id`).
    #[serde(default)]
    pub start_after_create: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

/// bhyve attributes (bhyve(7)); each is optional and validated against what the brand accepts.
#[derive(Debug, Clone, Default)]
pub struct ZoneAttrs {
    /// Memory, e.g. `2G` or `512M`.
    pub ram: Option<String>,
    /// CPUs: `N` or `[cpus=]N[,sockets=n][,cores=n][,threads=n]`.
    pub vcpus: Option<String>,
    /// `BHYVE_RELEASE`, `BHYVE_RELEASE_CSM`, `BHYVE_DEBUG`, `BHYVE_DEBUG_CSM`, `BHYVE`, `BHYVE_CSM`, or an absolute path.
    pub bootrom: Option<String>,
    /// `i440fx`, `q35`, `amd`, `netapp`, `intel` or `none`.
    pub hostbridge: Option<String>,
    /// `virtio`, `virtio-blk`, `ahci`, `ahci-hd` or `nvme`.
    pub diskif: Option<String>,
    /// `virtio`, `virtio-net-viona` or `e1000`.
    pub netif: Option<String>,
    /// `generic`, `windows` or `openbsd`.
    pub os_type: Option<String>,
    /// `on`, `off`, `wait`, or a bhyve option string: `unix=PATH` (a socket path inside the
    /// zone), `tcp=ADDR:PORT`, `w=`, `h=`, `vga=`, `wait`. A password (`password=`) is not
    /// taken here (it would be kept in the task's record): set it with zonecfg on the host.
    pub vnc: Option<String>,
    /// `on` or `off`.
    pub acpi: Option<String>,
    /// `on` or `off`.
    pub xhci: Option<String>,
}

macro_rules! zone_attrs_of {
    ($t:ty) => {
        impl $t {
            pub fn attrs(&self) -> ZoneAttrs {
                ZoneAttrs {
                    ram: self.ram.clone(),
                    vcpus: self.vcpus.clone(),
                    bootrom: self.bootrom.clone(),
                    hostbridge: self.hostbridge.clone(),
                    diskif: self.diskif.clone(),
                    netif: self.netif.clone(),
                    os_type: self.os_type.clone(),
                    vnc: self.vnc.clone(),
                    acpi: self.acpi.clone(),
                    xhci: self.xhci.clone(),
                }
            }
        }
    };
}
zone_attrs_of!(CreateZoneRequest);
zone_attrs_of!(ModifyZoneRequest);

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootVolume {
    /// Make a new volume (default), or attach `existing_dataset`.
    pub create_new: Option<bool>,
    /// Default `rpool`.
    pub pool: Option<String>,
    /// Parent dataset under the pool, default `zones`: the zone's datasets live in `POOL/DATASET/NAME/`.
    pub dataset: Option<String>,
    /// Default `root`.
    pub volume_name: Option<String>,
    /// Volume size, e.g. `30G` (required for a new volume not made from a template).
    pub size: Option<String>,
    #[serde(default)]
    pub sparse: bool,
    /// An existing volume to boot from (with `create_new: false`); never destroyed by the agent.
    pub existing_dataset: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NicRequest {
    /// The VNIC's name (a datalink name: letters, digits, `_`, ending in a digit).
    pub physical: String,
    /// When set, the VNIC is created over this link when the zone boots.
    pub global_nic: Option<String>,
    pub mac_addr: Option<String>,
    pub vlan_id: Option<u16>,
    /// The only address the zone may use on this NIC (`10.0.0.5/24`).
    pub allowed_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CdromRequest {
    /// An ISO on the host.
    pub path: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudInitRequest {
    /// `on` or `off` (true and false are accepted too).
    pub enabled: Option<OnOff>,
    pub dns_domain: Option<String>,
    /// The guest's password. Stored in the zone's configuration, never returned.
    pub password: Option<String>,
    /// Comma-separated IPv4 resolvers.
    pub resolvers: Option<String>,
    /// SSH public keys: the lines of an `authorized_keys` file, as sshd(8) takes them
    /// (`[options] keytype base64 [comment]`, e.g. `restrict,command="uptime" ssh-ed25519
    /// AAAA... ci@build`; FIDO `sk-` keys; blank and `#` lines). Each line is checked: an
    /// unknown option or key type, unbalanced quotes or a control character is a 400 naming
    /// the line. One plain key (no options) is the zone's `sshkey` attribute itself; anything
    /// else is written to `<zonepath>/cloud-init-sshkeys` (root's, 0644), which the attribute
    /// names and the bhyve brand reads at boot, behind a first line of the agent's that makes
    /// cloud-init pass every line to the guest's `authorized_keys` as written. Shown back as
    /// sent.
    pub sshkey: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OnOff {
    Bool(bool),
    Text(String),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceRequest {
    /// Only `template`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The template: `POOL/PATH` (its newest snapshot is used) or `POOL/PATH@SNAPSHOT`.
    pub template_dataset: String,
    /// `clone` (thin, default) or `copy` (full send | recv).
    pub clone_strategy: Option<String>,
}

/// `PUT /zones/{name}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyZoneRequest {
    /// Memory, e.g. `2G` or `512M`.
    pub ram: Option<String>,
    /// CPUs: `N` or `[cpus=]N[,sockets=n][,cores=n][,threads=n]`.
    pub vcpus: Option<String>,
    /// `BHYVE_RELEASE`, `BHYVE_RELEASE_CSM`, `BHYVE_DEBUG`, `BHYVE_DEBUG_CSM`, `BHYVE`, `BHYVE_CSM`, or an absolute path.
    pub bootrom: Option<String>,
    /// `i440fx`, `q35`, `amd`, `netapp`, `intel` or `none`.
    pub hostbridge: Option<String>,
    /// `virtio`, `virtio-blk`, `ahci`, `ahci-hd` or `nvme`.
    pub diskif: Option<String>,
    /// `virtio`, `virtio-net-viona` or `e1000`.
    pub netif: Option<String>,
    /// `generic`, `windows` or `openbsd`.
    pub os_type: Option<String>,
    /// `on`, `off`, `wait`, or a bhyve option string: `unix=PATH` (a socket path inside the
    /// zone), `tcp=ADDR:PORT`, `w=`, `h=`, `vga=`, `wait`. A password (`password=`) is not
    /// taken here (it would be kept in the task's record): set it with zonecfg on the host.
    pub vnc: Option<String>,
    /// `on` or `off`.
    pub acpi: Option<String>,
    /// `on` or `off`.
    pub xhci: Option<String>,
    pub autoboot: Option<bool>,
    #[serde(default)]
    pub add_nics: Vec<NicRequest>,
    /// VNIC names (`physical`) to remove.
    #[serde(default)]
    pub remove_nics: Vec<String>,
    #[serde(default)]
    pub add_disks: Vec<BootVolume>,
    /// Disk slots to detach (`disk0`, ...); the volumes are kept.
    #[serde(default)]
    pub remove_disks: Vec<String>,
    #[serde(default)]
    pub add_cdroms: Vec<CdromRequest>,
    /// CD-ROMs to remove, by slot (`cdrom0`) or ISO path.
    #[serde(default)]
    pub remove_cdroms: Vec<String>,
    pub cloud_init: Option<CloudInitRequest>,
    /// Provisioning settings, stored for the provisioning pipeline.
    #[schema(value_type = Option<crate::provisioning::settings::Settings>)]
    pub provisioning: Option<serde_json::Value>,
    /// Attach existing volumes even if another zone uses them; refused unless the host allows
    /// shared volumes (`zones.allow_shared_volumes`).
    #[serde(default)]
    pub force: bool,
    /// The requester's label, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}

// ---- validated specs ----

/// Attributes as zonecfg `attr` name/value pairs, validated.
pub type AttrSet = Vec<(AttrName, ZonecfgValue)>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// `POOL/DATASET/ZONE/VOLUME` for a new one; the given dataset for an existing one.
    pub dataset: DatasetName,
    pub create_new: bool,
    pub size: Option<Size>,
    pub sparse: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateSpec {
    pub template: DatasetName,
    /// Set when the request named one; otherwise the newest is found by the task.
    pub snapshot: Option<String>,
    pub copy: bool,
}

/// A create request, validated. Serialized into the task's metadata, so secrets are kept out
/// (the cloud-init password travels in the task's secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateSpec {
    pub name: ZoneName,
    /// `POOL/DATASET/NAME`, the zone's own dataset.
    pub root_dataset: DatasetName,
    pub attrs: Vec<(AttrName, ZonecfgValue)>,
    pub autoboot: bool,
    pub boot: Option<VolumeSpec>,
    pub template: Option<TemplateSpec>,
    pub nics: Vec<Net>,
    pub cdroms: Vec<HostPath>,
    pub cloud_init: Vec<(AttrName, ZonecfgValue)>,
    /// Several SSH keys for the zone's key file (`zones::sshkeys`); empty for none or one.
    #[serde(default)]
    pub sshkeys: Vec<String>,
    pub has_password: bool,
    pub force: bool,
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), FieldError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{field} must be one of {}", allowed.join(", ")),
        ))
    }
}

fn value(field: &str, v: &str) -> Result<ZonecfgValue, FieldError> {
    v.parse()
        .map_err(|e: illumos::names::InvalidName| FieldError::new(field, format!("{field}: {e}")))
}

/// A `vnc` value bhyve and the agent both understand; a password is refused (see the field).
fn check_vnc(field: &str, v: &str) -> Result<(), FieldError> {
    let bad = |why: String| FieldError::new(field, format!("{field}: {why}"));
    super::vnc::endpoint::parse(v).map_err(bad)?;
    if v.split(',').any(|o| o.starts_with("password=")) {
        return Err(bad(
            "a VNC password is not taken through the API (it would be kept in the task's \
             record); set it with zonecfg on the host"
                .into(),
        ));
    }
    Ok(())
}

fn attr(name: &str) -> AttrName {
    name.parse().expect("built-in attr names are valid")
}

fn check_ram(v: &str) -> bool {
    let digits = v.trim_end_matches(['G', 'g', 'M', 'm', 'T', 't']);
    v.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.len() <= 12
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

fn check_vcpus(v: &str) -> bool {
    let small = |n: &str| n.parse::<u32>().is_ok_and(|n| (1..=512).contains(&n));
    if small(v) {
        return true;
    }
    let mut first = true;
    v.split(',').all(|part| {
        let ok = match part.split_once('=') {
            Some((k, n)) => matches!(k, "cpus" | "sockets" | "cores" | "threads") && small(n),
            None => first && small(part),
        };
        first = false;
        ok
    })
}

impl ZoneAttrs {
    pub fn is_empty(&self) -> bool {
        self.to_pairs().is_empty()
    }

    /// (request field, bhyve attr name, value) for each attribute given.
    fn to_pairs(&self) -> Vec<(&'static str, &'static str, &String)> {
        [
            ("ram", "ram", &self.ram),
            ("vcpus", "vcpus", &self.vcpus),
            ("bootrom", "bootrom", &self.bootrom),
            ("hostbridge", "hostbridge", &self.hostbridge),
            ("diskif", "diskif", &self.diskif),
            ("netif", "netif", &self.netif),
            ("os_type", "type", &self.os_type),
            ("vnc", "vnc", &self.vnc),
            ("acpi", "acpi", &self.acpi),
            ("xhci", "xhci", &self.xhci),
        ]
        .into_iter()
        .filter_map(|(f, a, v)| v.as_ref().map(|v| (f, a, v)))
        .collect()
    }

    /// Validated `attr` pairs, each error naming its field.
    pub fn validate(&self) -> Result<AttrSet, FieldError> {
        let mut out = Vec::new();
        for (field, name, v) in self.to_pairs() {
            match field {
                "ram" if !check_ram(v) => {
                    return Err(FieldError::new(
                        field,
                        "ram must be a size such as 2G or 512M",
                    ))
                }
                "vcpus" if !check_vcpus(v) => {
                    return Err(FieldError::new(
                        field,
                        "vcpus must be N or [cpus=]N[,sockets=n][,cores=n][,threads=n]",
                    ))
                }
                "bootrom" if v.parse::<HostPath>().is_err() => one_of(
                    field,
                    v,
                    &[
                        "BHYVE_RELEASE",
                        "BHYVE_RELEASE_CSM",
                        "BHYVE_DEBUG",
                        "BHYVE_DEBUG_CSM",
                        "BHYVE",
                        "BHYVE_CSM",
                    ],
                )?,
                "hostbridge" => one_of(
                    field,
                    v,
                    &["i440fx", "q35", "amd", "netapp", "intel", "none"],
                )?,
                "diskif" => one_of(
                    field,
                    v,
                    &["virtio", "virtio-blk", "ahci", "ahci-hd", "nvme"],
                )?,
                "netif" => one_of(field, v, &["virtio", "virtio-net-viona", "e1000"])?,
                "os_type" => one_of(field, v, &["generic", "windows", "openbsd"])?,
                "vnc" => check_vnc(field, v)?,
                "acpi" | "xhci" => one_of(field, v, &["on", "off"])?,
                _ => {}
            }
            out.push((attr(name), value(field, v)?));
        }
        Ok(out)
    }
}

impl NicRequest {
    pub fn validate(&self, field: &str) -> Result<illumos::zonecfg::Net, FieldError> {
        let link = |f: &str, v: &str| {
            v.parse::<LinkName>()
                .map_err(|e| FieldError::new(format!("{field}.{f}"), format!("{field}.{f}: {e}")))
        };
        Ok(illumos::zonecfg::Net {
            physical: link("physical", &self.physical)?,
            global_nic: self
                .global_nic
                .as_deref()
                .map(|g| link("global_nic", g))
                .transpose()?,
            mac_addr: self
                .mac_addr
                .as_deref()
                .map(|m| {
                    m.parse::<UnicastMac>().map_err(|e| {
                        FieldError::new(
                            format!("{field}.mac_addr"),
                            format!("{field}.mac_addr: {e}"),
                        )
                    })
                })
                .transpose()?,
            vlan_id: self
                .vlan_id
                .map(|v| {
                    v.to_string().parse::<VlanId>().map_err(|e| {
                        FieldError::new(format!("{field}.vlan_id"), format!("{field}.vlan_id: {e}"))
                    })
                })
                .transpose()?,
            allowed_address: self
                .allowed_address
                .as_deref()
                .map(|a| {
                    a.parse::<Ipv4Cidr>().map_err(|e| {
                        FieldError::new(
                            format!("{field}.allowed_address"),
                            format!("{field}.allowed_address: {e}"),
                        )
                    })
                })
                .transpose()?,
            defrouter: None,
        })
    }
}

pub fn host_path(field: &str, v: &str) -> Result<HostPath, FieldError> {
    v.parse()
        .map_err(|e: illumos::names::InvalidName| FieldError::new(field, format!("{field}: {e}")))
}

/// A dataset a request names. Beyond ZFS's own rules, no component may begin with `-`: ZFS
/// accepts it, but such a name is one slip away from being read as an option.
pub fn dataset(field: &str, v: &str) -> Result<DatasetName, FieldError> {
    if v.split('/').any(|c| c.starts_with('-')) {
        return Err(FieldError::new(
            field,
            format!("{field}: no component of a dataset name may begin with '-'"),
        ));
    }
    v.parse()
        .map_err(|e: illumos::names::InvalidName| FieldError::new(field, format!("{field}: {e}")))
}

pub fn zone_name(v: &str) -> Result<ZoneName, FieldError> {
    v.parse::<ZoneName>()
        .map_err(|e| FieldError::new("name", e.to_string()))
}

impl CloudInitRequest {
    /// The cloud-init `attr` pairs (password included: the caller keeps it out of metadata).
    pub fn validate(&self, field: &str) -> Result<Vec<(AttrName, ZonecfgValue)>, FieldError> {
        let mut out = Vec::new();
        if let Some(e) = &self.enabled {
            let on = match e {
                OnOff::Bool(b) => *b,
                OnOff::Text(t) if t == "on" || t == "true" => true,
                OnOff::Text(t) if t == "off" || t == "false" => false,
                OnOff::Text(_) => {
                    return Err(FieldError::new(
                        format!("{field}.enabled"),
                        "cloud_init.enabled must be on or off",
                    ))
                }
            };
            out.push((
                attr("cloud-init"),
                value("x", if on { "on" } else { "off" })?,
            ));
        }
        if let Some(d) = &self.dns_domain {
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(FieldError::new(
                    format!("{field}.dns_domain"),
                    "cloud_init.dns_domain must be a domain name",
                ));
            }
            out.push((attr("dns-domain"), value("x", d)?));
        }
        if let Some(r) = &self.resolvers {
            // Passed to the guest as written: no blanks, exactly the addresses.
            if r.is_empty()
                || r.split(',')
                    .any(|a| a.parse::<std::net::Ipv4Addr>().is_err())
            {
                return Err(FieldError::new(
                    format!("{field}.resolvers"),
                    "cloud_init.resolvers must be comma-separated IPv4 addresses",
                ));
            }
            out.push((attr("resolvers"), value("x", r)?));
        }
        if let Some(k) = &self.sshkey {
            let (lines, one_plain) =
                ssh_keys(k).map_err(|m| FieldError::new(format!("{field}.sshkey"), m))?;
            // Anything but one plain key goes to the key file (`sshkey_file_lines`), which
            // the task names in the attribute; so does a key a zonecfg value cannot hold.
            if let (true, Ok(v)) = (one_plain, lines[0].parse::<ZonecfgValue>()) {
                out.push((attr("sshkey"), v));
            }
        }
        if let Some(p) = &self.password {
            if p.is_empty() {
                return Err(FieldError::new(
                    format!("{field}.password"),
                    "cloud_init.password must not be empty",
                ));
            }
            out.push((
                attr("password"),
                p.parse().map_err(|_| {
                    FieldError::new(
                        format!("{field}.password"),
                        "cloud_init.password may hold printable ASCII and spaces, but no '\"', '\\' or ';'",
                    )
                })?,
            ));
        }
        Ok(out)
    }

    /// The lines of an `sshkey` that goes to the zone's key file: several keys, options,
    /// comment lines, or a key a zonecfg value cannot hold. Empty for one plain key (an inline
    /// attribute) or none.
    pub fn sshkey_file_lines(&self) -> Vec<String> {
        match self.sshkey.as_deref().map(ssh_keys) {
            Some(Ok((lines, one_plain)))
                if !(one_plain && lines[0].parse::<ZonecfgValue>().is_ok()) =>
            {
                lines
            }
            _ => Vec::new(),
        }
    }
}

/// Where a zone's datasets live: `POOL/DATASET/NAME`.
pub fn zone_root(
    pool: Option<&str>,
    parent: Option<&str>,
    zone: &ZoneName,
) -> Result<DatasetName, FieldError> {
    let pool = pool.unwrap_or("rpool");
    let parent = parent.unwrap_or("zones");
    let p: illumos::names::Pool = pool.parse().map_err(|e: illumos::names::InvalidName| {
        FieldError::new("boot_volume.pool", format!("boot_volume.pool: {e}"))
    })?;
    // Each part is checked on its own (a pool name too long is the pool's fault), then the
    // whole, where only the parent dataset can make it too long.
    dataset("boot_volume.pool", pool)?;
    dataset("boot_volume.dataset", &format!("{p}/{parent}"))?;
    let root = format!("{p}/{parent}/{zone}");
    dataset("boot_volume.dataset", &root)
}

impl BootVolume {
    /// The volume a disk request names: new under the zone's root, or an existing one.
    pub fn validate(
        &self,
        field: &str,
        zone: &ZoneName,
        default_name: &str,
        size_required: bool,
    ) -> Result<VolumeSpec, FieldError> {
        let create_new = self.create_new.unwrap_or(self.existing_dataset.is_none());
        if !create_new {
            let existing = self.existing_dataset.as_deref().ok_or_else(|| {
                FieldError::new(
                    format!("{field}.existing_dataset"),
                    "existing_dataset is required when create_new is false",
                )
            })?;
            let ds = dataset(&format!("{field}.existing_dataset"), existing)?;
            if self.size.is_some() {
                return Err(FieldError::new(
                    format!("{field}.size"),
                    "size applies only to a new volume",
                ));
            }
            return Ok(VolumeSpec {
                dataset: ds,
                create_new: false,
                size: None,
                sparse: false,
            });
        }
        if self.existing_dataset.is_some() {
            return Err(FieldError::new(
                format!("{field}.existing_dataset"),
                "existing_dataset needs create_new: false",
            ));
        }
        let root =
            zone_root(self.pool.as_deref(), self.dataset.as_deref(), zone).map_err(|mut e| {
                e.field = e.field.replacen("boot_volume", field, 1);
                e
            })?;
        let name = self.volume_name.as_deref().unwrap_or(default_name);
        let ds = root.child(name).map_err(|e| {
            FieldError::new(
                format!("{field}.volume_name"),
                format!("{field}.volume_name: {e}"),
            )
        })?;
        if name.contains('/')
            || name == "path"
            || name == "provisioning"
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                format!("{field}.volume_name"),
                "volume_name must be one component starting with a letter or digit, and not 'path' or 'provisioning'",
            ));
        }
        let size = match &self.size {
            Some(s) => Some(s.parse::<Size>().map_err(|e| {
                FieldError::new(format!("{field}.size"), format!("{field}.size: {e}"))
            })?),
            None if size_required => {
                return Err(FieldError::new(
                    format!("{field}.size"),
                    format!("{field}.size is required for a new volume"),
                ))
            }
            None => None,
        };
        Ok(VolumeSpec {
            dataset: ds,
            create_new: true,
            size,
            sparse: self.sparse,
        })
    }
}

impl CreateZoneRequest {
    /// The typed spec and the secrets that must stay out of task metadata.
    pub fn validate(&self) -> Result<(CreateSpec, Option<String>), FieldError> {
        let zone = zone_name(&self.name)?;
        if self.brand != "bhyve" {
            return Err(FieldError::new("brand", "brand must be bhyve"));
        }
        let attrs = self.attrs().validate()?;
        let template = match &self.source {
            None => None,
            Some(s) => {
                if s.kind != "template" {
                    return Err(FieldError::new(
                        "source.type",
                        "source.type must be template",
                    ));
                }
                let copy = match s.clone_strategy.as_deref().unwrap_or("clone") {
                    "clone" => false,
                    "copy" => true,
                    _ => {
                        return Err(FieldError::new(
                            "source.clone_strategy",
                            "source.clone_strategy must be clone or copy",
                        ))
                    }
                };
                let (ds, snap) = match s.template_dataset.split_once('@') {
                    Some((d, sn)) => (d, Some(sn)),
                    None => (s.template_dataset.as_str(), None),
                };
                let ds = dataset("source.template_dataset", ds)?;
                if let Some(sn) = snap {
                    ds.snapshot(sn).map_err(|e| {
                        FieldError::new(
                            "source.template_dataset",
                            format!("source.template_dataset: {e}"),
                        )
                    })?;
                }
                Some(TemplateSpec {
                    template: ds,
                    snapshot: snap.map(str::to_owned),
                    copy,
                })
            }
        };
        let boot = match &self.boot_volume {
            None if template.is_some() => Some(
                BootVolume {
                    create_new: Some(true),
                    pool: None,
                    dataset: None,
                    volume_name: None,
                    size: None,
                    sparse: false,
                    existing_dataset: None,
                }
                .validate("boot_volume", &zone, "root", false)?,
            ),
            None => None,
            Some(b) => {
                let v = b.validate("boot_volume", &zone, "root", template.is_none())?;
                if template.is_some() && !v.create_new {
                    return Err(FieldError::new(
                        "source",
                        "a template makes a new boot volume; it cannot be combined with existing_dataset",
                    ));
                }
                Some(v)
            }
        };
        let root = match &self.boot_volume {
            Some(b) if b.create_new.unwrap_or(b.existing_dataset.is_none()) => {
                zone_root(b.pool.as_deref(), b.dataset.as_deref(), &zone)?
            }
            _ => zone_root(None, None, &zone)?,
        };
        let mut nics = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, n) in self.nics.iter().enumerate() {
            let net = n.validate(&format!("nics[{i}]"))?;
            if !seen.insert(net.physical.to_string()) {
                return Err(FieldError::new(
                    format!("nics[{i}].physical"),
                    "two NICs have the same name",
                ));
            }
            nics.push(net);
        }
        if self.cdroms.len() > 16 {
            return Err(FieldError::new("cdroms", "at most 16 CD-ROMs"));
        }
        let mut cdroms = Vec::new();
        for (i, c) in self.cdroms.iter().enumerate() {
            cdroms.push(host_path(&format!("cdroms[{i}].path"), &c.path)?);
        }
        let mut cloud = Vec::new();
        let mut password = None;
        if let Some(ci) = &self.cloud_init {
            for (k, v) in ci.validate("cloud_init")? {
                if k.as_str() == "password" {
                    password = Some(v.to_string());
                } else {
                    cloud.push((k, v));
                }
            }
        }
        Ok((
            CreateSpec {
                name: zone,
                root_dataset: root,
                attrs,
                autoboot: self.autoboot.unwrap_or(false),
                boot,
                template,
                nics,
                cdroms,
                cloud_init: cloud,
                sshkeys: self
                    .cloud_init
                    .as_ref()
                    .map(CloudInitRequest::sshkey_file_lines)
                    .unwrap_or_default(),
                has_password: password.is_some(),
                force: self.force,
            },
            password,
        ))
    }
}

/// A modify request, validated. Secrets (the cloud-init password) travel apart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModifySpec {
    pub attrs: Vec<(AttrName, ZonecfgValue)>,
    pub autoboot: Option<bool>,
    pub add_nics: Vec<Net>,
    pub remove_nics: Vec<LinkName>,
    pub add_disks: Vec<VolumeSpec>,
    /// Slots (`disk3`).
    pub remove_disks: Vec<String>,
    pub add_cdroms: Vec<HostPath>,
    /// Slots (`cdrom1`) or ISO paths.
    pub remove_cdroms: Vec<String>,
    pub cloud_init: Vec<(AttrName, ZonecfgValue)>,
    /// Several SSH keys: the zone's key file is rewritten (`zones::sshkeys`).
    #[serde(default)]
    pub sshkeys: Vec<String>,
    pub has_password: bool,
    pub force: bool,
}

impl ModifySpec {
    /// True when nothing on the host would change.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
            && self.autoboot.is_none()
            && self.add_nics.is_empty()
            && self.remove_nics.is_empty()
            && self.add_disks.is_empty()
            && self.remove_disks.is_empty()
            && self.add_cdroms.is_empty()
            && self.remove_cdroms.is_empty()
            && self.cloud_init.is_empty()
            && self.sshkeys.is_empty()
            && !self.has_password
    }

    /// One line per change, for the pending-changes list of a running zone.
    pub fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .attrs
            .iter()
            .map(|(k, val)| format!("set {k}={val}"))
            .collect();
        if let Some(a) = self.autoboot {
            v.push(format!("set autoboot={a}"));
        }
        v.extend(
            self.add_nics
                .iter()
                .map(|n| format!("add nic {}", n.physical)),
        );
        v.extend(self.remove_nics.iter().map(|n| format!("remove nic {n}")));
        v.extend(
            self.add_disks
                .iter()
                .map(|d| format!("add disk {}", d.dataset)),
        );
        v.extend(self.remove_disks.iter().map(|d| format!("remove disk {d}")));
        v.extend(self.add_cdroms.iter().map(|c| format!("add cdrom {c}")));
        v.extend(
            self.remove_cdroms
                .iter()
                .map(|c| format!("remove cdrom {c}")),
        );
        v.extend(
            self.cloud_init
                .iter()
                .map(|(k, _)| format!("set cloud-init {k}")),
        );
        if !self.sshkeys.is_empty() {
            let keys = self
                .sshkeys
                .iter()
                .filter(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
                .count();
            v.push(format!("set cloud-init sshkey ({keys} keys)"));
        }
        if self.has_password {
            v.push("set cloud-init password".into());
        }
        v
    }
}

fn slot(field: &str, v: &str, prefix: &str) -> Result<String, FieldError> {
    let ok = v
        .strip_prefix(prefix)
        .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n < 16) && !n.starts_with('0') || n == "0");
    if ok {
        Ok(v.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{field} must name slots {prefix}0 to {prefix}15"),
        ))
    }
}

impl ModifyZoneRequest {
    pub fn validate(&self, zone: &ZoneName) -> Result<(ModifySpec, Option<String>), FieldError> {
        let attrs = self.attrs().validate()?;
        let mut add_nics = Vec::new();
        for (i, n) in self.add_nics.iter().enumerate() {
            add_nics.push(n.validate(&format!("add_nics[{i}]"))?);
        }
        let mut remove_nics = Vec::new();
        for (i, n) in self.remove_nics.iter().enumerate() {
            let l: LinkName = n.parse().map_err(|e| {
                FieldError::new(
                    format!("remove_nics[{i}]"),
                    format!("remove_nics[{i}]: {e}"),
                )
            })?;
            remove_nics.push(l);
        }
        let mut add_disks = Vec::new();
        for (i, d) in self.add_disks.iter().enumerate() {
            let field = format!("add_disks[{i}]");
            add_disks.push(d.validate(&field, zone, &format!("disk{i}"), true)?);
        }
        let remove_disks = self
            .remove_disks
            .iter()
            .enumerate()
            .map(|(i, d)| slot(&format!("remove_disks[{i}]"), d, "disk"))
            .collect::<Result<Vec<_>, _>>()?;
        let add_cdroms = self
            .add_cdroms
            .iter()
            .enumerate()
            .map(|(i, c)| host_path(&format!("add_cdroms[{i}].path"), &c.path))
            .collect::<Result<Vec<_>, _>>()?;
        let remove_cdroms = self
            .remove_cdroms
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let field = format!("remove_cdroms[{i}]");
                if c.starts_with('/') {
                    host_path(&field, c).map(|p| p.to_string())
                } else {
                    slot(&field, c, "cdrom")
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut cloud_init = Vec::new();
        let mut password = None;
        if let Some(ci) = &self.cloud_init {
            for (k, v) in ci.validate("cloud_init")? {
                if k.as_str() == "password" {
                    password = Some(v.to_string());
                } else {
                    cloud_init.push((k, v));
                }
            }
        }
        Ok((
            ModifySpec {
                attrs,
                autoboot: self.autoboot,
                add_nics,
                remove_nics,
                add_disks,
                remove_disks,
                add_cdroms,
                remove_cdroms,
                cloud_init,
                sshkeys: self
                    .cloud_init
                    .as_ref()
                    .map(CloudInitRequest::sshkey_file_lines)
                    .unwrap_or_default(),
                has_password: password.is_some(),
                force: self.force,
            },
            password,
        ))
    }
}

/// The most lines one `cloud_init.sshkey` may hold (a bound, not a brand limit).
const MAX_SSH_KEY_LINES: usize = 200;

/// `cloud_init.sshkey`: the lines of an `authorized_keys` file, each checked as sshd reads it
/// (`zones::authorized_keys`), so the answer names a bad line by its number and text. Answers
/// the lines as sent (line ends and blank lines at the end dropped), and whether they are one
/// plain key (`keytype base64 [comment]`), the only value a zonecfg attribute holds itself.
fn ssh_keys(value: &str) -> Result<(Vec<String>, bool), String> {
    use crate::zones::authorized_keys::{line, Line};
    let mut lines: Vec<String> = value.lines().map(str::to_owned).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let mut keys = 0;
    let mut plain = 0;
    for (n, l) in lines.iter().enumerate() {
        match line(l) {
            Ok(Line::Comment) => {}
            Ok(kind) => {
                keys += 1;
                plain += usize::from(kind == Line::Plain);
            }
            Err(why) => {
                let shown: String = l.chars().take(80).collect();
                return Err(format!(
                    "cloud_init.sshkey (line {}): {why}: {shown:?}",
                    n + 1
                ));
            }
        }
    }
    if keys == 0 {
        return Err("cloud_init.sshkey must hold an SSH public key \
                    ([options] keytype base64 [comment], one a line)"
            .into());
    }
    if lines.len() > MAX_SSH_KEY_LINES {
        return Err(format!(
            "cloud_init.sshkey holds at most {MAX_SSH_KEY_LINES} lines"
        ));
    }
    let one_plain = lines.len() == 1 && plain == 1;
    Ok((lines, one_plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_of_every_type_openssh_names_are_accepted_fido_included() {
        for k in [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK u@h",
            "ssh-rsa AAAAB3NzaC1yc2E=",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNh u@h",
            "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t yubikey",
            "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNh u@h",
            "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5 u@h",
        ] {
            assert_eq!(ssh_keys(k).unwrap(), (vec![k.to_owned()], true), "{k}");
        }
        for k in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 ",
            "rsa AAAA",
            "ssh-ed25519;x AAAA",
        ] {
            assert!(ssh_keys(k).is_err(), "{k}");
        }
    }

    #[test]
    fn every_line_sshd_takes_is_kept_as_sent_and_a_bad_line_is_named() {
        let ok = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 a@h";
        // One key with a line end is still one plain key (the attribute holds it without).
        assert_eq!(
            ssh_keys(&format!("{ok}\r\n")).unwrap(),
            (vec![ok.into()], true)
        );
        // No comment on the first key, options, comment and blank lines: all kept as sent.
        let fido = "sk-ssh-ed25519@openssh.com AAAAGnNr";
        let value = format!("{fido}\n# the build host\n\nrestrict,command=\"echo hi\" {ok}\n\n");
        let (lines, one) = ssh_keys(&value).unwrap();
        assert_eq!(lines.join("\n"), value.trim_end());
        assert!(!one);
        // One key with options is not a plain key.
        assert!(!ssh_keys(&format!("no-pty {ok}")).unwrap().1);
        let bad = ssh_keys(&format!("{ok}\n\nno-such-option {ok}")).unwrap_err();
        assert!(
            bad.starts_with("cloud_init.sshkey (line 3): unknown key option \"no-such-option\": \"no-such-option ssh-ed25519"),
            "{bad}"
        );
        assert!(ssh_keys("\n").is_err());
        assert!(ssh_keys("# only a comment").is_err());
        assert!(ssh_keys(&vec![ok; MAX_SSH_KEY_LINES + 1].join("\n")).is_err());
    }

    #[test]
    fn several_keys_leave_the_attribute_to_the_task_and_one_key_is_the_attribute() {
        let keys = "ssh-ed25519 AAAA a@h\nssh-rsa BBBB b@h\necdsa-sha2-nistp256 CCCC c@h";
        let (spec, _) = create(serde_json::json!({"name": "k", "brand": "bhyve",
            "cloud_init": {"enabled": "on", "sshkey": keys}}))
        .unwrap();
        assert_eq!(spec.sshkeys, keys.lines().collect::<Vec<_>>());
        assert!(!spec.cloud_init.iter().any(|(k, _)| k.as_str() == "sshkey"));
        let (spec, _) = create(serde_json::json!({"name": "k", "brand": "bhyve",
            "cloud_init": {"sshkey": "ssh-rsa BBBB b@h\n"}}))
        .unwrap();
        assert!(spec.sshkeys.is_empty());
        assert!(spec
            .cloud_init
            .iter()
            .any(|(k, v)| k.as_str() == "sshkey" && v.to_string() == "ssh-rsa BBBB b@h"));
    }

    fn create(v: serde_json::Value) -> Result<(CreateSpec, Option<String>), FieldError> {
        let r: CreateZoneRequest = serde_json::from_value(v).unwrap();
        r.validate()
    }

    #[test]
    fn the_spec_example_with_resources_validates() {
        let (spec, pw) = create(serde_json::json!({
            "name": "web-server-01", "brand": "bhyve", "ram": "2G", "vcpus": "2",
            "diskif": "virtio", "netif": "virtio", "vnc": "on",
            "boot_volume": {"create_new": true, "pool": "rpool", "dataset": "zones",
                            "volume_name": "root", "size": "30G", "sparse": true},
            "nics": [{"physical": "vnic0", "global_nic": "igb0"}],
            "cdroms": [{"path": "/iso/omnios-r151050.iso"}],
            "cloud_init": {"enabled": "on", "password": "changeme", "sshkey": "ssh-rsa AAAA u@h"},
            "start_after_create": true
        }))
        .unwrap();
        assert_eq!(spec.root_dataset.as_str(), "rpool/zones/web-server-01");
        assert_eq!(
            spec.boot.unwrap().dataset.as_str(),
            "rpool/zones/web-server-01/root"
        );
        assert_eq!(pw.as_deref(), Some("changeme"));
        assert!(spec.has_password);
        assert!(!serde_json::to_string(&spec.cloud_init)
            .unwrap()
            .contains("changeme"));
    }

    #[test]
    fn each_bad_field_is_named() {
        for (body, field) in [
            (serde_json::json!({"name": "a;b", "brand": "bhyve"}), "name"),
            (serde_json::json!({"name": "ok", "brand": "kvm"}), "brand"),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "ram": "lots"}),
                "ram",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "vcpus": "0"}),
                "vcpus",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "diskif": "scsi"}),
                "diskif",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "nics": [{"physical": "vnic 0"}]}),
                "nics[0].physical",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "nics": [{"physical": "vnic0", "mac_addr": "ff:ff:ff:ff:ff:ff"}]}),
                "nics[0].mac_addr",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "cdroms": [{"path": "/iso/../etc/shadow"}]}),
                "cdroms[0].path",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "boot_volume": {"size": "30G", "pool": "rpool;x"}}),
                "boot_volume.pool",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "boot_volume": {"volume_name": "root"}}),
                "boot_volume.size",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "cloud_init": {"password": "a\"b"}}),
                "cloud_init.password",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "cloud_init": {"resolvers": "8.8.8.8;id"}}),
                "cloud_init.resolvers",
            ),
            (
                serde_json::json!({"name": "ok", "brand": "bhyve", "source": {"type": "template", "template_dataset": "rpool/t", "clone_strategy": "dd"}}),
                "source.clone_strategy",
            ),
        ] {
            let e = create(body.clone()).unwrap_err();
            assert_eq!(e.field, field, "{body}: {}", e.message);
        }
    }

    #[test]
    fn vcpu_topologies() {
        assert!(check_vcpus("4"));
        assert!(check_vcpus("cpus=16,sockets=2,cores=4,threads=2"));
        assert!(check_vcpus("16,sockets=2"));
        assert!(!check_vcpus("sockets=2,16"));
        assert!(!check_vcpus("cpus=16;reboot"));
    }
}
