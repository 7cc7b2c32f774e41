//! What `GET /zones` and `GET /zones/{name}` answer, assembled from the host (the truth for
//! state and configuration) and the database (what only the agent knows).

use std::collections::BTreeMap;

use illumos::zoneadm::ZoneEntry;
use illumos::zonecfg::ZoneConfig;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::original::{self, ZoneInfo};
use super::store::ZoneRecord;
use crate::tasks::Task;
use crate::time::now_rfc3339;

/// Attributes never shown as they are.
pub const SECRET_ATTRS: &[&str] = &["password"];

/// An attribute's value as shown: a secret attribute masked, and the `password=` option of
/// `vnc` (the zone's VNC password) masked inside its option string.
pub fn shown_attr(name: &str, value: &str) -> String {
    if SECRET_ATTRS.contains(&name) {
        return "********".to_owned();
    }
    if name != "vnc" {
        return value.to_owned();
    }
    value
        .split(',')
        .map(|o| match o.split_once('=') {
            Some(("password", _)) => "password=********",
            _ => o,
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Debug, Clone, Serialize, ToSchema)]
/// What the list and the detail both say of a zone.
pub struct ZoneFacts {
    pub name: String,
    pub brand: String,
    /// `configured`, `incomplete`, `installed`, `ready`, `running`, `shutting_down`, `down`, or
    /// `creating` while the agent's create task has not configured it yet.
    pub state: String,
    pub autoboot: Option<bool>,
    pub zonepath: Option<String>,
    pub uuid: Option<String>,
    /// True when the agent has a record of the zone (it created or configured it).
    pub managed: bool,
    /// The agent's own status: `creating`, `ready`, `deleting`.
    pub agent_status: Option<String>,
    pub created_by: Option<String>,
    pub created_at: Option<String>,
}

/// A zone in `GET /zones`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZoneSummary {
    #[serde(flatten)]
    pub zone: ZoneFacts,
    /// The name again, under the Node original's key (the Zoneweaver UI reads it).
    pub zonename: String,
    /// The state again, under the Node original's key.
    pub status: String,
    /// zoneadm's zone id while the zone runs (`zoneadm list -p`'s first field); null otherwise.
    pub id: Option<u64>,
    /// How many configuration changes wait for the next boot (`GET /zones/{name}` lists them).
    pub pending_changes: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneList {
    pub zones: Vec<ZoneSummary>,
    pub total: usize,
}

impl ZoneSummary {
    pub fn of(
        entry: Option<&ZoneEntry>,
        record: Option<&ZoneRecord>,
        autoboot: Option<bool>,
    ) -> Self {
        let zone = ZoneFacts::of(entry, record, autoboot);
        ZoneSummary {
            zonename: zone.name.clone(),
            status: zone.state.clone(),
            id: entry.and_then(|e| e.id),
            zone,
            pending_changes: record.map_or(0, |r| r.pending_changes.len()),
        }
    }
}

impl ZoneFacts {
    pub fn of(
        entry: Option<&ZoneEntry>,
        record: Option<&ZoneRecord>,
        autoboot: Option<bool>,
    ) -> Self {
        ZoneFacts {
            name: entry
                .map(|e| e.name.clone())
                .or_else(|| record.map(|r| r.name.clone()))
                .unwrap_or_default(),
            brand: entry
                .map(|e| e.brand.clone())
                .or_else(|| record.map(|r| r.brand.clone()))
                .unwrap_or_default(),
            state: entry
                .map(|e| e.state.as_str().to_owned())
                .unwrap_or_else(|| "creating".into()),
            autoboot,
            zonepath: entry.map(|e| e.zonepath.clone()),
            uuid: entry.and_then(|e| e.uuid.clone()),
            managed: record.is_some(),
            agent_status: record.map(|r| r.status.clone()),
            created_by: record.and_then(|r| r.created_by.clone()),
            created_at: record.map(|r| r.created_at.clone()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskView {
    /// `bootdisk` or `disk0` ... `disk15`.
    pub slot: String,
    pub dataset: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NicView {
    pub physical: Option<String>,
    pub global_nic: Option<String>,
    pub mac_addr: Option<String>,
    pub vlan_id: Option<String>,
    pub allowed_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CdromView {
    pub slot: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CloudInitView {
    pub enabled: Option<String>,
    pub dns_domain: Option<String>,
    pub resolvers: Option<String>,
    /// The SSH public keys as sent (`authorized_keys` lines): the `sshkey` attribute, or the
    /// lines of the zone's key file (`<zonepath>/cloud-init-sshkeys`, without the agent's
    /// first line) when it names that file.
    pub sshkey: Option<String>,
    /// Whether a password is set (it is never shown).
    pub password_set: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatasetView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub volsize: Option<u64>,
    /// Made by the agent for this zone (cleanup may destroy it).
    pub owned: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZoneDetail {
    #[serde(flatten)]
    pub zone: ZoneFacts,
    pub ip_type: Option<String>,
    /// bhyve attributes (`ram`, `vcpus`, ...); secrets masked.
    pub attributes: BTreeMap<String, String>,
    pub disks: Vec<DiskView>,
    pub nics: Vec<NicView>,
    pub cdroms: Vec<CdromView>,
    pub cloud_init: CloudInitView,
    pub datasets: Vec<DatasetView>,
    /// Changes applied to the configuration that take effect at the next boot.
    pub pending_changes: Vec<String>,
    pub requires_restart: bool,
    /// Provisioning settings (secrets masked).
    #[schema(value_type = Option<Object>)]
    pub provisioning: Option<Value>,
    /// The zone's ten most recent tasks.
    pub recent_tasks: Vec<Task>,
    /// The Node original's zone row (the Zoneweaver UI reads it).
    pub zone_info: ZoneInfo,
    /// zonecfg's own keys, as the Node original served them (`zonename`, `zonepath`, `brand`,
    /// `autoboot`, the global properties `zonecfg info` lists (empty when unset), each bhyve
    /// attribute by name (`ram`, `vcpus`, `bootrom`, ...; secrets masked), `bootdisk` and
    /// `disk[]` as `{path, size (bytes, null when not read), sparse, blocksize (null: not
    /// read)}`, and the resources as arrays of their properties: `net[]` (`physical`,
    /// `global-nic`, `mac-addr`, `vlan-id`, ...), `attr[]`, `fs[]`, `device[]`, `dataset[]`).
    /// An empty object while the zone is not configured on the host.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// The zone's running VNC session, as the consoles serve it; null when there is none.
    #[schema(value_type = Option<Object>)]
    pub active_vnc_session: Option<Value>,
    /// The same session's details; null when there is none.
    #[schema(value_type = Option<Object>)]
    pub vnc_session_info: Option<Value>,
}

pub fn detail(
    entry: Option<&ZoneEntry>,
    config: Option<&ZoneConfig>,
    record: Option<&ZoneRecord>,
    datasets: Vec<DatasetView>,
    recent_tasks: Vec<Task>,
) -> ZoneDetail {
    let empty = ZoneConfig::default();
    let cfg = config.unwrap_or(&empty);
    let mut attributes = BTreeMap::new();
    let mut disks = Vec::new();
    let mut cdroms = Vec::new();
    for a in &cfg.attrs {
        let masked = shown_attr(&a.name, &a.value);
        if a.name == "bootdisk" || a.name.starts_with("disk") && a.name[4..].parse::<u8>().is_ok() {
            disks.push(DiskView {
                slot: a.name.clone(),
                dataset: a.value.split(',').next().unwrap_or_default().to_owned(),
            });
        }
        if a.name.starts_with("cdrom") {
            cdroms.push(CdromView {
                slot: a.name.clone(),
                path: a.value.clone(),
            });
        }
        attributes.insert(a.name.clone(), masked);
    }
    let nics = cfg
        .nets
        .iter()
        .map(|n| NicView {
            physical: n.get("physical").map(str::to_owned),
            global_nic: n.get("global-nic").map(str::to_owned),
            mac_addr: n.get("mac-addr").map(str::to_owned),
            vlan_id: n.get("vlan-id").map(str::to_owned),
            allowed_address: n.get("allowed-address").map(str::to_owned),
        })
        .collect();
    let cloud_init = CloudInitView {
        enabled: cfg.attr("cloud-init").map(str::to_owned),
        dns_domain: cfg.attr("dns-domain").map(str::to_owned),
        resolvers: cfg.attr("resolvers").map(str::to_owned),
        sshkey: cfg.attr("sshkey").map(str::to_owned),
        password_set: cfg.attr("password").is_some(),
    };
    let pending = record
        .map(|r| r.pending_changes.clone())
        .unwrap_or_default();
    let name = entry
        .map(|e| e.name.as_str())
        .or_else(|| record.map(|r| r.name.as_str()))
        .unwrap_or_default();
    let configuration = match config {
        Some(cfg) => original::configuration(name, cfg, &datasets),
        None => Value::Object(Default::default()),
    };
    ZoneDetail {
        zone_info: ZoneInfo::of(entry.is_some(), record.is_some(), &now_rfc3339()),
        configuration,
        active_vnc_session: None,
        vnc_session_info: None,
        zone: ZoneFacts::of(entry, record, cfg.autoboot),
        ip_type: cfg.ip_type.clone(),
        attributes,
        disks,
        nics,
        cdroms,
        cloud_init,
        datasets,
        requires_restart: !pending.is_empty(),
        pending_changes: pending,
        provisioning: record.and_then(|r| r.provisioning.clone()),
        recent_tasks,
    }
}

/// A strong validator of what a client sees of the zone (tasks aside): any change on the host
/// or in the agent's record changes it.
pub fn etag(d: &ZoneDetail, last_modify: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("recent_tasks");
        // The time of the listing it was read from, not a change.
        o.remove("zone_info");
    }
    let mut hasher = Sha256::new();
    hasher.update(v.to_string().as_bytes());
    hasher.update(last_modify.unwrap_or("").as_bytes());
    let digest = hasher.finalize();
    format!("\"{}\"", crate::keys::hex(&digest[..16]))
}
