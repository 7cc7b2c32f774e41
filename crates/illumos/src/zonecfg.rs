//! zonecfg: zone configuration as one command file (all or nothing), and `export` parsed back.
//!
//! zonecfg joins its argv and re-parses it, so values never travel on the command line: the
//! agent writes a command file and runs `zonecfg -z NAME -f FILE`. Every value written into the
//! file is a validated newtype; free text is double-quoted and cannot hold a quote.

use std::fmt::Write as _;

use crate::cmd::{Cmd, Tool};
use crate::link::{LinkName, UnicastMac, VlanId};
use crate::names::{AttrName, DatasetName, HostPath, ZoneName, ZonecfgValue};
use crate::net::Ipv4Cidr;
use crate::runner::{CommandError, Runner};

// Reference §1.1, zonecfg errors.
const NO_SUCH_ZONE: &str = "No such zone configured";
const ALREADY_INSTALLED: &str = "already installed; create not allowed";
const ZONE_EXISTS: &str = "Zone exists";

#[derive(Debug, thiserror::Error)]
pub enum ZonecfgFailure {
    #[error("no such zone configured")]
    NotFound,
    #[error("zone already exists")]
    AlreadyExists,
    #[error(transparent)]
    Command(CommandError),
}

#[derive(Debug, thiserror::Error)]
#[error("zonecfg {op} of zone {zone}: {kind}")]
pub struct ZonecfgError {
    pub op: &'static str,
    pub zone: String,
    #[source]
    pub kind: ZonecfgFailure,
}

impl ZonecfgError {
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ZonecfgFailure::NotFound)
    }

    pub fn detail(&self) -> String {
        match &self.kind {
            ZonecfgFailure::Command(CommandError::Failed(f)) => f.stderr.trim().to_owned(),
            other => other.to_string(),
        }
    }
}

fn classify(op: &'static str, zone: &ZoneName, e: CommandError) -> ZonecfgError {
    let kind = match e.stderr() {
        Some(s) if s.contains(NO_SUCH_ZONE) => ZonecfgFailure::NotFound,
        Some(s) if s.contains(ZONE_EXISTS) || s.contains(ALREADY_INSTALLED) => {
            ZonecfgFailure::AlreadyExists
        }
        _ => ZonecfgFailure::Command(e),
    };
    ZonecfgError {
        op,
        zone: zone.to_string(),
        kind,
    }
}

/// A `net` resource of an exclusive-IP zone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Net {
    pub physical: LinkName,
    /// When set, the VNIC is created over this link when the zone boots.
    pub global_nic: Option<LinkName>,
    pub mac_addr: Option<UnicastMac>,
    pub vlan_id: Option<VlanId>,
    pub allowed_address: Option<Ipv4Cidr>,
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub defrouter: Option<std::net::Ipv4Addr>,
}

/// A zonecfg command file, built only from validated parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandFile {
    lines: Vec<String>,
}

impl CommandFile {
    pub fn new() -> Self {
        Self::default()
    }

    /// A blank bhyve zone: `create -b`, brand, exclusive IP (the portable form, reference §1.1).
    pub fn create_bhyve(zonepath: &HostPath, autoboot: bool) -> Self {
        let mut f = CommandFile::new();
        f.line("create -b");
        f.line(&format!("set zonepath={zonepath}"));
        f.line("set brand=bhyve");
        f.line("set ip-type=exclusive");
        f.set_autoboot(autoboot);
        f
    }

    fn line(&mut self, l: &str) {
        self.lines.push(l.to_owned());
    }

    pub fn set_autoboot(&mut self, on: bool) -> &mut Self {
        self.line(&format!("set autoboot={on}"));
        self
    }

    /// `add attr` with a string value.
    pub fn add_attr(&mut self, name: &AttrName, value: &ZonecfgValue) -> &mut Self {
        self.line("add attr");
        self.line(&format!("set name={name}"));
        self.line("set type=string");
        self.line(&format!("set value=\"{value}\""));
        self.line("end");
        self
    }

    /// Replaces an attr's value, or adds it (`remove -F` tolerates its absence).
    pub fn set_attr(&mut self, name: &AttrName, value: &ZonecfgValue) -> &mut Self {
        self.remove_attr(name);
        self.add_attr(name, value)
    }

    pub fn remove_attr(&mut self, name: &AttrName) -> &mut Self {
        self.line(&format!("remove -F attr name={name}"));
        self
    }

    /// Passes a volume through to the zone (`device match=/dev/zvol/rdsk/...`).
    pub fn add_device(&mut self, volume: &DatasetName) -> &mut Self {
        self.line("add device");
        self.line(&format!("set match={}", volume.zvol_rdsk()));
        self.line("end");
        self
    }

    pub fn remove_device(&mut self, volume: &DatasetName) -> &mut Self {
        self.line(&format!("remove -F device match={}", volume.zvol_rdsk()));
        self
    }

    /// A read-only lofs mount of an ISO, as the bhyve brand needs for a cdrom.
    pub fn add_iso(&mut self, iso: &HostPath) -> &mut Self {
        self.line("add fs");
        self.line(&format!("set dir={iso}"));
        self.line(&format!("set special={iso}"));
        self.line("set type=lofs");
        self.line("add options ro");
        self.line("add options nodevices");
        self.line("end");
        self
    }

    pub fn remove_fs(&mut self, dir: &HostPath) -> &mut Self {
        self.line(&format!("remove -F fs dir={dir}"));
        self
    }

    pub fn add_net(&mut self, net: &Net) -> &mut Self {
        self.line("add net");
        self.line(&format!("set physical={}", net.physical));
        if let Some(g) = &net.global_nic {
            self.line(&format!("set global-nic={g}"));
        }
        if let Some(m) = &net.mac_addr {
            self.line(&format!("set mac-addr={m}"));
        }
        if let Some(v) = &net.vlan_id {
            self.line(&format!("set vlan-id={v}"));
        }
        if let Some(a) = &net.allowed_address {
            self.line(&format!("set allowed-address={a}"));
        }
        if let Some(r) = &net.defrouter {
            self.line(&format!("set defrouter={r}"));
        }
        self.line("end");
        self
    }

    /// Pins the address a `net` may use (`allowed-address`: on an exclusive-IP zone, boot
    /// turns on the link's IP spoofing protection for it, reference §1.1 "net / exclusive-IP").
    pub fn set_net_allowed_address(&mut self, physical: &LinkName, addr: &Ipv4Cidr) -> &mut Self {
        self.line(&format!("select net physical={physical}"));
        self.line(&format!("set allowed-address={addr}"));
        self.line("end");
        self
    }

    pub fn remove_net(&mut self, physical: &LinkName) -> &mut Self {
        self.line(&format!("remove -F net physical={physical}"));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The file's text, one subcommand a line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            let _ = writeln!(s, "{l}");
        }
        s
    }
}

/// `zonecfg -z NAME -f -` with the command file on stdin (illumos zonecfg reads `-` as its
/// standard input): no file is made and removed on the way, which on a busy host costs more
/// than the rest of the agent's work between two commands, and a password set by the file
/// never reaches a disk.
pub fn apply_stdin_cmd(zone: &ZoneName, file: &CommandFile) -> Cmd {
    Cmd::new(Tool::Zonecfg)
        .args(["-z", zone.as_str(), "-f", "-"])
        .stdin(file.render())
}

pub fn delete_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zonecfg).args(["-z", zone.as_str(), "delete", "-F"])
}

pub fn export_cmd(zone: &ZoneName) -> Cmd {
    Cmd::new(Tool::Zonecfg)
        .args(["-z", zone.as_str(), "export"])
        .quiet()
}

/// Applies a command file, given on stdin ([`apply_stdin_cmd`]).
pub async fn apply_stdin(
    run: &Runner,
    zone: &ZoneName,
    file: &CommandFile,
) -> Result<(), ZonecfgError> {
    run.output(&apply_stdin_cmd(zone, file))
        .await
        .map(drop)
        .map_err(|e| classify("apply", zone, e))
}

/// Deletes the configuration; an unknown zone counts as done.
pub async fn delete(run: &Runner, zone: &ZoneName) -> Result<(), ZonecfgError> {
    match run.output(&delete_cmd(zone)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = classify("delete", zone, e);
            if e.is_not_found() {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// The zone's configuration, or `None` for an unknown zone.
pub async fn export(run: &Runner, zone: &ZoneName) -> Result<Option<ZoneConfig>, ZonecfgError> {
    Ok(export_text(run, zone).await?.map(|t| parse_export(&t)))
}

/// What `zonecfg export` printed for the zone (for a caller that keeps it and parses it again
/// with [`parse_export`] later), or `None` for an unknown zone.
pub async fn export_text(run: &Runner, zone: &ZoneName) -> Result<Option<String>, ZonecfgError> {
    match run.output(&export_cmd(zone)).await {
        Ok(out) => Ok(Some(out.stdout)),
        Err(e) => {
            let e = classify("export", zone, e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// A zone's configuration as `zonecfg export` prints it. Values are kept as text: this is what
/// the host says, shown to users, not fed back into commands unvalidated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneConfig {
    pub zonepath: Option<String>,
    pub brand: Option<String>,
    pub autoboot: Option<bool>,
    pub ip_type: Option<String>,
    /// The other global properties set (`bootargs`, `pool`, `limitpriv`, `hostid`, ...),
    /// in file order.
    pub globals: Vec<(String, String)>,
    pub attrs: Vec<Attr>,
    pub nets: Vec<Resource>,
    pub devices: Vec<Resource>,
    pub fs: Vec<Resource>,
    pub datasets: Vec<Resource>,
    /// Other resources (rctl, capped-memory, ...) by type.
    pub other: Vec<(String, Resource)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub kind: String,
    pub value: String,
}

/// A resource's properties in file order; list properties (`add options ro`) repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub props: Vec<(String, String)>,
}

impl Resource {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl ZoneConfig {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Volumes passed through with `device match=/dev/zvol/rdsk/...`.
    pub fn zvols(&self) -> Vec<String> {
        self.devices
            .iter()
            .filter_map(|d| d.get("match"))
            .filter_map(|m| m.strip_prefix("/dev/zvol/rdsk/"))
            .map(str::to_owned)
            .collect()
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// Parses `zonecfg export` (reference §1.1, export format): `set` lines at global scope, then
/// `add RES` … `end` blocks without indentation; values with spaces are double-quoted.
/// Lines it does not understand are skipped rather than guessed at.
pub fn parse_export(text: &str) -> ZoneConfig {
    let mut cfg = ZoneConfig::default();
    let mut current: Option<(String, Resource)> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match (verb, &mut current) {
            ("add", None) => current = Some((rest.trim().to_owned(), Resource::default())),
            ("add", Some((_, res))) => {
                // A list property: `add options ro`.
                if let Some((k, v)) = rest.trim().split_once(' ') {
                    res.props.push((k.to_owned(), unquote(v)));
                }
            }
            ("set", Some((_, res))) => {
                if let Some((k, v)) = rest.split_once('=') {
                    res.props.push((k.trim().to_owned(), unquote(v)));
                }
            }
            ("set", None) => {
                if let Some((k, v)) = rest.split_once('=') {
                    let v = unquote(v);
                    match k.trim() {
                        "zonepath" => cfg.zonepath = Some(v),
                        "brand" => cfg.brand = Some(v),
                        "autoboot" => cfg.autoboot = Some(v == "true"),
                        "ip-type" => cfg.ip_type = Some(v),
                        other => cfg.globals.push((other.to_owned(), v)),
                    }
                }
            }
            ("end", Some(_)) => {
                let (kind, res) = current.take().expect("matched Some");
                match kind.as_str() {
                    "attr" => cfg.attrs.push(Attr {
                        name: res.get("name").unwrap_or_default().to_owned(),
                        kind: res.get("type").unwrap_or("string").to_owned(),
                        value: res.get("value").unwrap_or_default().to_owned(),
                    }),
                    "net" => cfg.nets.push(res),
                    "device" => cfg.devices.push(res),
                    "fs" => cfg.fs.push(res),
                    "dataset" => cfg.datasets.push(res),
                    _ => cfg.other.push((kind, res)),
                }
            }
            _ => {}
        }
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bhyve_zone_file_is_one_subcommand_a_line() {
        let mut f = CommandFile::create_bhyve(&"/rpool/zones/vm1/path".parse().unwrap(), false);
        f.add_attr(&"ram".parse().unwrap(), &"2G".parse().unwrap());
        f.add_device(&"rpool/zones/vm1/root".parse().unwrap());
        f.add_net(&Net {
            physical: "vm1net0".parse().unwrap(),
            global_nic: Some("igb0".parse().unwrap()),
            mac_addr: None,
            vlan_id: Some("12".parse().unwrap()),
            allowed_address: None,
            defrouter: None,
        });
        f.add_iso(&"/iso/a.iso".parse().unwrap());
        assert_eq!(
            f.render(),
            "create -b\nset zonepath=/rpool/zones/vm1/path\nset brand=bhyve\nset ip-type=exclusive\nset autoboot=false\n\
             add attr\nset name=ram\nset type=string\nset value=\"2G\"\nend\n\
             add device\nset match=/dev/zvol/rdsk/rpool/zones/vm1/root\nend\n\
             add net\nset physical=vm1net0\nset global-nic=igb0\nset vlan-id=12\nend\n\
             add fs\nset dir=/iso/a.iso\nset special=/iso/a.iso\nset type=lofs\nadd options ro\nadd options nodevices\nend\n"
        );
    }

    #[test]
    fn an_allowed_address_is_set_on_the_selected_net() {
        let mut f = CommandFile::new();
        f.set_net_allowed_address(
            &"web_prov0".parse().unwrap(),
            &Ipv4Cidr::new("10.190.190.2".parse().unwrap(), 24).unwrap(),
        );
        assert_eq!(
            f.render(),
            "select net physical=web_prov0\nset allowed-address=10.190.190.2/24\nend\n"
        );
    }

    #[test]
    fn apply_passes_the_file_not_the_values() {
        let z: ZoneName = "vm1".parse().unwrap();
        let mut f = CommandFile::new();
        f.line("set autoboot=false");
        let cmd = apply_stdin_cmd(&z, &f);
        assert_eq!(cmd.argv(), ["zonecfg", "-z", "vm1", "-f", "-"]);
        assert_eq!(cmd.get_stdin(), Some(&b"set autoboot=false\n"[..]));
        assert_eq!(
            delete_cmd(&z).argv(),
            ["zonecfg", "-z", "vm1", "delete", "-F"]
        );
    }

    #[test]
    fn export_of_the_reference_sample_parses() {
        // reference §1.1, export format
        let text = "create -b\nset zonepath=/data/zone/bhyve\nset brand=bhyve\nset autoboot=false\nset ip-type=exclusive\nadd fs\nset dir=/tank/iso/debian-9.4.0-amd64-netinst.iso\nset special=/tank/iso/debian-9.4.0-amd64-netinst.iso\nset type=lofs\nadd options ro\nadd options nodevices\nend\nadd net\nset allowed-address=10.0.0.112/24\nset physical=bhyve0\nend\nadd device\nset match=/dev/zvol/rdsk/tank/hdd/bhyve0\nend\nadd attr\nset name=ram\nset type=string\nset value=4G\nend\n";
        let c = parse_export(text);
        assert_eq!(c.zonepath.as_deref(), Some("/data/zone/bhyve"));
        assert_eq!(c.brand.as_deref(), Some("bhyve"));
        assert_eq!(c.autoboot, Some(false));
        assert_eq!(c.attr("ram"), Some("4G"));
        assert_eq!(c.zvols(), ["tank/hdd/bhyve0"]);
        assert_eq!(c.nets[0].get("physical"), Some("bhyve0"));
        assert_eq!(
            c.fs[0].props.iter().filter(|(k, _)| k == "options").count(),
            2
        );
    }

    #[test]
    fn other_global_properties_are_kept_in_order() {
        let c = parse_export(
            "create -b\nset zonepath=/z/a\nset bootargs=\"-k -v\"\nset limitpriv=default,dtrace_proc\nset hostid=1a2b\n",
        );
        assert_eq!(
            c.globals,
            [
                ("bootargs".to_owned(), "-k -v".to_owned()),
                ("limitpriv".to_owned(), "default,dtrace_proc".to_owned()),
                ("hostid".to_owned(), "1a2b".to_owned()),
            ]
        );
    }

    #[test]
    fn quoted_values_lose_their_quotes() {
        let c = parse_export(
            "add attr\nset name=sshkey\nset type=string\nset value=\"ssh-rsa AAAA u@h\"\nend\n",
        );
        assert_eq!(c.attr("sshkey"), Some("ssh-rsa AAAA u@h"));
    }
}
