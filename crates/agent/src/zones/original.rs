//! The Node original's shape of a zone, which the Zoneweaver UI reads, served beside the
//! spec's keys: `zone_info` (the original's zone row) and `configuration` (zonecfg's own keys,
//! as the original served `zadm show`: global properties by name, bhyve attributes by name,
//! `bootdisk`/`disk[]` as objects, resources as arrays of their properties).

use illumos::zonecfg::{Resource, ZoneConfig};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::view::DatasetView;

/// Global properties `zonecfg info` always lists, empty when unset; the UI shows them all.
const LISTED_GLOBALS: &[&str] = &[
    "bootargs",
    "pool",
    "limitpriv",
    "scheduling-class",
    "hostid",
    "fs-allowed",
];

/// A net resource's properties, shown (null when unset) whether set or not.
const NET_PROPS: &[&str] = &[
    "physical",
    "global-nic",
    "mac-addr",
    "vlan-id",
    "allowed-address",
    "defrouter",
];

/// The original's zone row (`zone_info`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZoneInfo {
    /// When the host's listing last showed the zone (this answer's listing); null when the
    /// host does not have it.
    pub last_seen: Option<String>,
    /// True for a zone found on the host that the agent did not create or configure.
    pub auto_discovered: bool,
    /// True when the agent has a record of the zone but the host no longer has it.
    pub is_orphaned: bool,
    /// The VNC console's port while a session runs; null otherwise (consoles are served
    /// apart).
    pub vnc_port: Option<u16>,
}

impl ZoneInfo {
    pub fn of(on_host: bool, managed: bool, listed_at: &str) -> Self {
        ZoneInfo {
            last_seen: on_host.then(|| listed_at.to_owned()),
            auto_discovered: on_host && !managed,
            is_orphaned: managed && !on_host,
            vnc_port: None,
        }
    }
}

fn props(r: &Resource) -> Value {
    let mut m = Map::new();
    for (k, v) in &r.props {
        // A list property (`add options ro`) repeats: keep every value.
        match m.get_mut(k) {
            Some(Value::Array(a)) => a.push(v.clone().into()),
            Some(prev) => *prev = Value::Array(vec![prev.take(), v.clone().into()]),
            None => {
                m.insert(k.clone(), v.clone().into());
            }
        }
    }
    Value::Object(m)
}

/// A disk attribute (`rpool/zones/vm/root` or `pool/vol,serial=...`) as the original showed
/// it: the volume and its size when known (bytes); sparse and block size are not read.
fn disk(value: &str, datasets: &[DatasetView]) -> Value {
    let path = value.split(',').next().unwrap_or_default();
    let size = datasets
        .iter()
        .find(|d| d.name == path)
        .and_then(|d| d.volsize);
    serde_json::json!({ "path": path, "size": size, "sparse": null, "blocksize": null })
}

fn is_data_disk(name: &str) -> bool {
    name.strip_prefix("disk")
        .is_some_and(|n| !n.is_empty() && n.parse::<u8>().is_ok())
}

/// zonecfg's keys for the zone, secrets masked.
pub fn configuration(name: &str, cfg: &ZoneConfig, datasets: &[DatasetView]) -> Value {
    let mut m = Map::new();
    m.insert("zonename".into(), name.into());
    m.insert("zonepath".into(), cfg.zonepath.clone().into());
    m.insert("brand".into(), cfg.brand.clone().into());
    m.insert(
        "autoboot".into(),
        cfg.autoboot.map(|b| b.to_string()).into(),
    );
    m.insert("ip-type".into(), cfg.ip_type.clone().into());
    for g in LISTED_GLOBALS {
        m.insert((*g).into(), "".into());
    }
    for (k, v) in &cfg.globals {
        m.insert(k.clone(), v.clone().into());
    }
    let mut disks = Vec::new();
    let mut attrs = Vec::new();
    for a in &cfg.attrs {
        let value = super::view::shown_attr(&a.name, &a.value);
        attrs.push(serde_json::json!({ "name": a.name, "type": a.kind, "value": value }));
        if a.name == "bootdisk" {
            m.insert(a.name.clone(), disk(&a.value, datasets));
        } else if is_data_disk(&a.name) {
            disks.push(disk(&a.value, datasets));
        } else {
            m.insert(a.name.clone(), value.into());
        }
    }
    m.insert("disk".into(), disks.into());
    m.insert("attr".into(), attrs.into());
    let list = |rs: &[Resource]| Value::Array(rs.iter().map(props).collect());
    let mut nets = list(&cfg.nets);
    // `zonecfg info` lists a net's properties whether set or not: null when unset.
    for n in nets.as_array_mut().into_iter().flatten() {
        if let Some(o) = n.as_object_mut() {
            for k in NET_PROPS {
                o.entry(*k).or_insert(Value::Null);
            }
        }
    }
    m.insert("net".into(), nets);
    m.insert("fs".into(), list(&cfg.fs));
    m.insert("device".into(), list(&cfg.devices));
    m.insert("dataset".into(), list(&cfg.datasets));
    for (kind, r) in &cfg.other {
        if let Value::Array(a) = m
            .entry(kind.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(props(r));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_uses_zonecfgs_own_keys() {
        let cfg = illumos::zonecfg::parse_export(
            "create -b\nset zonepath=/zones/vm1\nset brand=bhyve\nset autoboot=true\n\
             set ip-type=exclusive\nset bootargs=-v\n\
             add net\nset physical=vm1_0\nset global-nic=estub0\nset vlan-id=12\nend\n\
             add attr\nset name=ram\nset type=string\nset value=2G\nend\n\
             add attr\nset name=bootdisk\nset type=string\nset value=rpool/vm1/root,serial=x\nend\n\
             add attr\nset name=disk0\nset type=string\nset value=rpool/vm1/d0\nend\n\
             add attr\nset name=password\nset type=string\nset value=hunter2\nend\n\
             add rctl\nset name=zone.cpu-shares\nend\n",
        );
        let ds = [DatasetView {
            name: "rpool/vm1/root".into(),
            kind: "volume".into(),
            volsize: Some(1 << 30),
            owned: true,
        }];
        let c = configuration("vm1", &cfg, &ds);
        assert_eq!(c["zonename"], "vm1");
        assert_eq!(c["autoboot"], "true");
        assert_eq!(c["bootargs"], "-v");
        assert_eq!(c["pool"], "");
        assert_eq!(c["ram"], "2G");
        assert_eq!(c["bootdisk"]["path"], "rpool/vm1/root");
        assert_eq!(c["bootdisk"]["size"], 1u64 << 30);
        assert_eq!(c["disk"][0]["path"], "rpool/vm1/d0");
        assert_eq!(c["net"][0]["global-nic"], "estub0");
        assert_eq!(c["net"][0]["vlan-id"], "12");
        assert_eq!(c["net"][0]["mac-addr"], Value::Null);
        assert_eq!(c["password"], "********");
        assert!(!c.to_string().contains("hunter2"));
        assert_eq!(c["rctl"][0]["name"], "zone.cpu-shares");
    }
}
