//! config.yaml: every key optional, unknown keys and bad values rejected by name.
//!
//! Key names follow the Node.js agent where it had them (`server.https_port`, `ssl.cert_path`,
//! `zones.max_concurrent_tasks`, `provisioning.network.*`) so an admin's file carries over.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const DEFAULT_PATH: &str = "/etc/zoneweaver-agent/config.yaml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub ssl: SslConfig,
    pub logging: LoggingConfig,
    pub zones: ZonesConfig,
    pub tasks: TasksConfig,
    pub host: HostConfig,
    pub network: NetworkConfig,
    pub provisioning: ProvisioningConfig,
    pub consoles: ConsolesConfig,
    pub terminal: TerminalConfig,
    pub monitoring: MonitoringConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub https_port: u16,
    pub http_port: Option<u16>,
    pub bind_address: IpAddr,
    pub max_body_bytes: usize,
    pub request_timeout_seconds: u64,
    /// A connection must deliver a request's headers within this long of its first byte (and
    /// a new connection its first request head within this long of being accepted).
    pub header_read_timeout_seconds: u64,
    /// An authenticated request's body must arrive whole within this long; a trickled body
    /// is cut off with a 408 (artifact uploads stream to disk and are not bound by it).
    pub body_read_timeout_seconds: u64,
    /// A kept-alive connection with no request in flight is closed after this long.
    pub idle_timeout_seconds: u64,
    /// Connections held at once; more are closed as soon as they are accepted, before any TLS.
    pub max_connections: usize,
    /// Requests one HTTP/2 connection may have in flight at once.
    pub http2_max_concurrent_streams: u32,
    /// How long one `/health` host check is reused; concurrent probes share one check.
    pub health_check_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SslConfig {
    pub cert_path: Option<PathBuf>,
    pub key_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZonesConfig {
    pub max_concurrent_tasks: usize,
    pub task_timeout: u64,
    pub shutdown_timeout: u64,
    /// The datasets under which an operator may attach an existing volume
    /// (`existing_dataset`); nothing else of the host's storage can be handed to a guest.
    pub attachable_datasets: Vec<String>,
    /// The directories whose files an operator may give a zone as CD-ROM or boot ROM (besides
    /// bhyve's firmware names).
    pub media_dirs: Vec<String>,
    /// Whether `force: true` may attach a volume another zone's configuration already uses.
    /// Off: two guests on one disk read each other's data.
    pub allow_shared_volumes: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TasksConfig {
    pub operation_timeout: u64,
    pub kill_grace_seconds: u64,
    pub retention_days: u64,
    /// Output bytes one task keeps in its log; what comes after is counted, not kept.
    pub max_output_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    pub pfexec: Option<PathBuf>,
    pub tool_dir: Option<PathBuf>,
    pub root: PathBuf,
    pub scratch_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningConfig {
    pub network: ProvisioningNetworkConfig,
    /// Where uploaded artifacts are kept; `None` means `<data_dir>/artifacts`.
    pub artifacts_dir: Option<PathBuf>,
    pub max_artifact_bytes: u64,
    pub max_extract_bytes: u64,
    pub max_extract_entries: u64,
    /// Variables every recipe and provisioner sees (a zone's own variables win).
    pub variables: std::collections::BTreeMap<String, String>,
    pub ssh: ProvisioningSshConfig,
    pub tools: ProvisioningToolsConfig,
    pub ansible: ProvisioningAnsibleConfig,
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        ProvisioningConfig {
            network: ProvisioningNetworkConfig::default(),
            artifacts_dir: None,
            max_artifact_bytes: 2 * 1024 * 1024 * 1024,
            max_extract_bytes: 8 * 1024 * 1024 * 1024,
            max_extract_entries: 100_000,
            variables: Default::default(),
            ssh: ProvisioningSshConfig::default(),
            tools: ProvisioningToolsConfig::default(),
            ansible: ProvisioningAnsibleConfig::default(),
        }
    }
}

/// How the `ansible` provisioner's controller (`ansible-playbook` on this host) is confined: a
/// playbook can run anything on its controller (`delegate_to: localhost`, `lookup('pipe')`), so
/// it runs as an account of its own, on a copy of what the run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningAnsibleConfig {
    /// The unprivileged account ansible-playbook and ansible-galaxy run as. Never the agent's
    /// own: when it is missing the stage fails.
    pub run_as: String,
    /// Where each run gets its private directory (outside the data directory).
    pub run_dir: PathBuf,
    /// Collections (`namespace.name`) an ansible provisioner may install; none by default.
    pub collections: Vec<String>,
}

impl Default for ProvisioningAnsibleConfig {
    fn default() -> Self {
        ProvisioningAnsibleConfig {
            run_as: "zoneweaver-ansible".into(),
            run_dir: PathBuf::from("/var/tmp/zoneweaver-ansible"),
            collections: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningSshConfig {
    /// The agent's provisioning key pair (made once); `None` means `<data_dir>/ssh/provision_key`.
    pub key_path: Option<PathBuf>,
    pub connect_timeout_seconds: u64,
    pub wait_timeout_seconds: u64,
    pub wait_interval_seconds: u64,
}

impl Default for ProvisioningSshConfig {
    fn default() -> Self {
        ProvisioningSshConfig {
            key_path: None,
            connect_timeout_seconds: 10,
            wait_timeout_seconds: 600,
            wait_interval_seconds: 2,
        }
    }
}

/// The programs the provisioning stages run on the agent's own host (not illumos tools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningToolsConfig {
    pub ssh: PathBuf,
    pub ssh_keygen: PathBuf,
    pub rsync: PathBuf,
    pub ansible_playbook: PathBuf,
    pub ansible_galaxy: PathBuf,
}

impl Default for ProvisioningToolsConfig {
    fn default() -> Self {
        ProvisioningToolsConfig {
            ssh: PathBuf::from("/usr/bin/ssh"),
            ssh_keygen: PathBuf::from("/usr/bin/ssh-keygen"),
            rsync: PathBuf::from("/usr/bin/rsync"),
            ansible_playbook: PathBuf::from("ansible-playbook"),
            ansible_galaxy: PathBuf::from("ansible-galaxy"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvisioningNetworkConfig {
    pub enabled: bool,
    pub etherstub_name: String,
    pub host_vnic_name: String,
    pub subnet: String,
    pub host_ip: String,
    pub dhcp_range_start: String,
    pub dhcp_range_end: String,
}

/// Host networking (`network:`): which SMF instances serve NAT and DHCP, and optionally where
/// their files are. Paths are illumos paths, reached through `host.root`, except `dhcpd_path`.
/// An unset file path is read from the service's own property each time it is used
/// (reference §1.11, §1.13), so an administrator who repoints the service is followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub ipnat_config_path: Option<String>,
    pub ipfilter_service: String,
    pub dhcp_config_path: Option<String>,
    pub dhcp_leases_path: Option<String>,
    pub dhcp_service: String,
    pub dhcpd_path: PathBuf,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            ipnat_config_path: None,
            ipfilter_service: "svc:/network/ipfilter:default".into(),
            dhcp_config_path: None,
            dhcp_leases_path: None,
            dhcp_service: "svc:/network/service/dhcp:ipv4".into(),
            dhcpd_path: PathBuf::from("/usr/sbin/dhcpd"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/zoneweaver-agent"),
            server: ServerConfig::default(),
            ssl: SslConfig::default(),
            logging: LoggingConfig::default(),
            zones: ZonesConfig::default(),
            tasks: TasksConfig::default(),
            host: HostConfig::default(),
            network: NetworkConfig::default(),
            provisioning: ProvisioningConfig::default(),
            consoles: ConsolesConfig::default(),
            terminal: TerminalConfig::default(),
            monitoring: MonitoringConfig::default(),
        }
    }
}

/// The host monitoring sampler (`/monitoring/*`, the host gauges of `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Whether the agent samples on its own every `interval_secs` (the first sample one
    /// interval after start). `POST /monitoring/collect` samples either way.
    pub enabled: bool,
    pub interval_secs: u64,
    /// Samples older than this are deleted after each sample.
    pub retention_hours: u64,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig {
            enabled: true,
            interval_secs: 60,
            retention_hours: 24,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            https_port: 5001,
            http_port: None,
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            max_body_bytes: 1024 * 1024,
            request_timeout_seconds: 60,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            http2_max_concurrent_streams: 64,
            health_check_seconds: 10,
        }
    }
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}

impl Default for ZonesConfig {
    fn default() -> Self {
        ZonesConfig {
            max_concurrent_tasks: 5,
            task_timeout: 1800,
            shutdown_timeout: 120,
            attachable_datasets: vec!["rpool/zones".into()],
            media_dirs: vec!["/iso".into()],
            allow_shared_volumes: false,
        }
    }
}

impl Default for TasksConfig {
    fn default() -> Self {
        TasksConfig {
            operation_timeout: 7200,
            kill_grace_seconds: 10,
            retention_days: 30,
            max_output_bytes: 4 * 1024 * 1024,
        }
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            pfexec: Some(PathBuf::from("/usr/bin/pfexec")),
            tool_dir: None,
            root: PathBuf::from("/"),
            scratch_dir: PathBuf::from("/var/lib/zoneweaver-agent/tmp"),
        }
    }
}

impl Default for ProvisioningNetworkConfig {
    fn default() -> Self {
        ProvisioningNetworkConfig {
            enabled: true,
            etherstub_name: "estub_provision0".into(),
            host_vnic_name: "provision_interconnect0".into(),
            subnet: "10.190.190.0/24".into(),
            host_ip: "10.190.190.1".into(),
            dhcp_range_start: "10.190.190.10".into(),
            dhcp_range_end: "10.190.190.254".into(),
        }
    }
}

/// The full default configuration, every key commented. `config defaults` prints it; a test
/// checks it parses to exactly [`Config::default`], so the two cannot drift apart.
pub const DEFAULTS_YAML: &str = r#"# Zoneweaver agent configuration (/etc/zoneweaver-agent/config.yaml).
# Every key is optional; the values below are the defaults. Unknown keys are an error.

# Where the agent keeps its database, TLS material, the bootstrap API key, artifacts and task
# logs.
data_dir: /var/lib/zoneweaver-agent

server:
  # HTTPS listener port.
  https_port: 5001
  # Plain-HTTP listener port; off unless set. Only for a trusted, local network.
  http_port:
  # Address both listeners bind to.
  bind_address: 0.0.0.0
  # Largest accepted request body, in bytes (artifact uploads have their own limit).
  max_body_bytes: 1048576
  # A request that takes longer than this many seconds is answered 408.
  request_timeout_seconds: 60
  # Seconds a client has to send a request's headers, counted from their first byte (and, on
  # a new connection, from the accept). Only then is the API key looked at.
  header_read_timeout_seconds: 10
  # Seconds an authenticated request's body may take to arrive; a trickled body is answered
  # 408. A request without a valid key gets its 401 before any byte of its body is read.
  body_read_timeout_seconds: 30
  # Seconds a kept-alive connection may sit with no request in flight before it is closed.
  idle_timeout_seconds: 60
  # Connections held at once (both listeners together); more are closed right after the
  # accept, before any TLS work. The SMF manifest raises the file descriptor limit to match.
  max_connections: 1024
  # Requests one HTTP/2 connection may have in flight at once.
  http2_max_concurrent_streams: 64
  # Seconds one host check of GET /health (zoneadm list -cp) is reused; any number of
  # concurrent probes share one check.
  health_check_seconds: 10

ssl:
  # PEM certificate and private key. When unset or missing, a self-signed certificate for this
  # host's name, localhost and 127.0.0.1 is generated once under data_dir/tls.
  cert_path:
  key_path:

logging:
  # json (one object a line, for log collectors) or text (for a terminal).
  format: json
  # A tracing filter: error, warn, info, debug, trace, or per-module directives.
  level: info

zones:
  # How many tasks may run at once across the whole host.
  max_concurrent_tasks: 5
  # Seconds a single host command may run before it is killed.
  task_timeout: 1800
  # Seconds a graceful stop (zoneadm shutdown) may take before the zone is halted.
  shutdown_timeout: 120
  # Datasets under which an existing volume may be attached to a zone (existing_dataset).
  # Nothing else of the host's storage (rpool/swap, rpool/dump, other pools) can be given to a
  # guest; a volume the host uses as swap or dump device is refused even under these.
  attachable_datasets: [rpool/zones]
  # Directories whose files may be a zone's CD-ROM (cdroms, add_cdroms) or boot ROM (bootrom,
  # besides bhyve's firmware names).
  media_dirs: [/iso]
  # Whether force: true may attach a volume that another zone's configuration already uses.
  allow_shared_volumes: false

tasks:
  # Seconds a whole operation may run before it is cancelled and undone.
  operation_timeout: 7200
  # Seconds between SIGTERM and SIGKILL when a command is cancelled or times out.
  kill_grace_seconds: 10
  # Finished tasks older than this many days are pruned; 0 keeps them forever.
  retention_days: 30
  # Bytes of output one task keeps in its log (a guest being provisioned decides how much it
  # prints); what follows is dropped and its size noted at the end of the log.
  max_output_bytes: 4194304

host:
  # Privilege prefix for every host tool; empty to run tools directly (agent running as root).
  pfexec: /usr/bin/pfexec
  # When set, every host tool is run from this directory instead of its OmniOS path.
  tool_dir:
  # Prefix for every host file the agent reads or writes (/etc/dhcpd.conf, ...).
  root: /
  # Host directory (under root) for the command files the agent hands to zonecfg.
  scratch_dir: /var/lib/zoneweaver-agent/tmp

network:
  # The SMF instance of ipfilter; a NAT change is loaded by `svcadm refresh` of it, which
  # reruns its own load (per-service NAT rules, then the ipnat config file).
  ipfilter_service: svc:/network/ipfilter:default
  # ipfilter's NAT rules file, rewritten atomically (backup kept as FILE.zw-backup). Empty:
  # the service's config/ipnat_config_file, read when needed (/etc/ipf/ipnat.conf on OmniOS).
  ipnat_config_path:
  # The SMF instance of the DHCP server (OmniOS's package network/service/isc-dhcp). After a
  # change to its configuration a running server is restarted: its refresh does nothing.
  dhcp_service: svc:/network/service/dhcp:ipv4
  # ISC dhcpd's configuration file, rewritten atomically (backup kept as FILE.zw-backup).
  # Empty: the service's config/config_file, read when needed (/etc/dhcpd.conf on OmniOS).
  dhcp_config_path:
  # dhcpd's leases file, read for GET /network/dhcp/leases. Empty: the service's
  # config/lease_file, read when needed (/var/db/dhcpd.leases on OmniOS).
  dhcp_leases_path:
  # The dhcpd binary used to check a new configuration (dhcpd -t -cf FILE); the check is
  # skipped with a warning when it is absent. A path on the agent's own file system.
  dhcpd_path: /usr/sbin/dhcpd

provisioning:
  network:
    # Whether the provisioning network may be set up.
    enabled: true
    # Etherstub the provisioning network hangs off (a datalink name: it must end in a digit,
    # so the original agent's estub_provision became estub_provision0).
    etherstub_name: estub_provision0
    # Host VNIC on that etherstub; carries host_ip.
    host_vnic_name: provision_interconnect0
    # Provisioning subnet, NATed to the outside.
    subnet: 10.190.190.0/24
    # Host address on the provisioning subnet (the zones' gateway and DHCP server).
    host_ip: 10.190.190.1
    # DHCP pool handed to zones on the provisioning network.
    dhcp_range_start: 10.190.190.10
    dhcp_range_end: 10.190.190.254
  # Where uploaded artifacts are kept (default: data_dir/artifacts).
  artifacts_dir:
  # Largest accepted artifact upload, in bytes.
  max_artifact_bytes: 2147483648
  # Extraction refuses an artifact that expands to more bytes than this ...
  max_extract_bytes: 8589934592
  # ... or holds more entries (files, directories, links) than this.
  max_extract_entries: 100000
  # Variables every recipe and provisioner sees; a zone's provisioning.variables win.
  variables: {}
  ssh:
    # The agent's provisioning key pair, generated once (default: data_dir/ssh/provision_key).
    # Its public key is what recipes install in guests ({{ssh_public_key}}).
    key_path:
    # Seconds one SSH connection attempt may take.
    connect_timeout_seconds: 10
    # Seconds the wait-for-SSH stage waits for the guest before it fails.
    wait_timeout_seconds: 600
    # Seconds between two attempts of the wait-for-SSH stage.
    wait_interval_seconds: 2
  tools:
    # Programs the provisioning stages run on this host (a bare name is looked up in
    # /usr/local/bin, /usr/bin, /bin, /opt/local/bin).
    ssh: /usr/bin/ssh
    # Makes the provisioning key pair.
    ssh_keygen: /usr/bin/ssh-keygen
    # Syncs folders into the guest.
    rsync: /usr/bin/rsync
    # Runs ansible provisioners from this host.
    ansible_playbook: ansible-playbook
    # Installs the collections an ansible provisioner names.
    ansible_galaxy: ansible-galaxy
  ansible:
    # The unprivileged account the ansible provisioner's ansible-playbook and ansible-galaxy
    # run as (the package creates it; no RBAC profile, no access to data_dir). When the agent
    # runs as root it switches to it itself, otherwise through pfexec and the exec_attr
    # entries that carry uid= and gid= of this account. If it is missing, the stage fails.
    run_as: zoneweaver-ansible
    # Each run's private directory is made under this one, group-owned by run_as's group,
    # holding only a copy of the playbook's folder, the vars file, the guest's key and
    # known_hosts; it is removed after the run. It must lie outside data_dir.
    run_dir: /var/tmp/zoneweaver-ansible
    # Collections (namespace.name) an ansible or ansible_local provisioner may name; any
    # other is refused when the settings are saved. None by default.
    collections: []

consoles:
  # Seconds a console session (zlogin -C, host terminal) may go without input or output
  # before it is closed (its WebSockets get a close frame saying so).
  idle_timeout_secs: 1800
  # Bytes of recent console output kept per session and replayed to a WebSocket that joins.
  scrollback_bytes: 16384

terminal:
  # Whether admins may open a shell on the host (POST /terminal/start): it runs as the
  # agent's account with its RBAC profile (README, "Host terminal").
  enabled: false
monitoring:
  # Whether the agent samples the host's figures (CPU, memory, swap, link counters, pool
  # capacity and I/O, ZFS ARC) on its own, the first sample one interval after start.
  # POST /monitoring/collect samples either way.
  enabled: true
  # Seconds between two samples.
  interval_secs: 60
  # Samples older than this many hours are deleted after each sample.
  retention_hours: 24
"#;

/// Console sessions (zlogin -C and the host terminal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsolesConfig {
    pub idle_timeout_secs: u64,
    pub scrollback_bytes: usize,
}

impl Default for ConsolesConfig {
    fn default() -> Self {
        ConsolesConfig {
            idle_timeout_secs: 1800,
            scrollback_bytes: 16 * 1024,
        }
    }
}

/// The host terminal (`POST /terminal/start`): off unless enabled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalConfig {
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

impl Config {
    /// Reads `path`; a missing file at the default path means all defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Parses and checks a config file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            key,
            message,
        };
        // An empty file (or one with only comments) is all defaults.
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Config::default());
        }
        let de = yaml_serde::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner().to_string();
            let key = match unknown_field(&inner) {
                Some(field) if key == "." => field.to_owned(),
                Some(field) if key == field || key.ends_with(&format!(".{field}")) => key,
                Some(field) => format!("{key}.{field}"),
                None => key,
            };
            // yaml_serde prefixes its own idea of the location; the key already says it.
            let parent = key.rsplit_once('.').map_or("", |(p, _)| p);
            let message = inner
                .strip_prefix(&format!("{parent}: "))
                .unwrap_or(&inner)
                .to_owned();
            invalid(key, message)
        })?;
        config
            .check()
            .map_err(|(key, message)| invalid(key.to_owned(), message))?;
        Ok(config)
    }

    /// Rules serde cannot express; each error names its key.
    fn check(&self) -> Result<(), (&'static str, String)> {
        self.check_network()?;
        if self.monitoring.interval_secs == 0 {
            return Err((
                "monitoring.interval_secs",
                "must be at least 1 second".into(),
            ));
        }
        if self.monitoring.retention_hours == 0 {
            return Err((
                "monitoring.retention_hours",
                "must be at least 1 hour".into(),
            ));
        }
        if self.server.https_port == 0 {
            return Err(("server.https_port", "must be a port from 1 to 65535".into()));
        }
        if self.server.http_port == Some(0) {
            return Err(("server.http_port", "must be a port from 1 to 65535".into()));
        }
        if self.server.http_port == Some(self.server.https_port) {
            return Err((
                "server.http_port",
                "must differ from server.https_port".into(),
            ));
        }
        for (i, d) in self.zones.attachable_datasets.iter().enumerate() {
            if d.parse::<illumos::names::DatasetName>().is_err() || d.contains('@') {
                return Err((
                    "zones.attachable_datasets",
                    format!("entry {i} ({d:?}) is not a dataset name"),
                ));
            }
        }
        for (i, d) in self.zones.media_dirs.iter().enumerate() {
            if d.parse::<illumos::names::HostPath>().is_err() {
                return Err((
                    "zones.media_dirs",
                    format!("entry {i} ({d:?}) is not an absolute path"),
                ));
            }
        }
        if self.zones.max_concurrent_tasks == 0 {
            return Err(("zones.max_concurrent_tasks", "must be at least 1".into()));
        }
        if self.zones.task_timeout == 0 {
            return Err(("zones.task_timeout", "must be at least 1 second".into()));
        }
        if self.tasks.max_output_bytes < 64 * 1024 {
            return Err(("tasks.max_output_bytes", "must be at least 65536".into()));
        }
        if self.tasks.operation_timeout == 0 {
            return Err((
                "tasks.operation_timeout",
                "must be at least 1 second".into(),
            ));
        }
        for (key, secs) in [
            (
                "server.header_read_timeout_seconds",
                self.server.header_read_timeout_seconds,
            ),
            (
                "server.body_read_timeout_seconds",
                self.server.body_read_timeout_seconds,
            ),
            (
                "server.idle_timeout_seconds",
                self.server.idle_timeout_seconds,
            ),
            (
                "server.health_check_seconds",
                self.server.health_check_seconds,
            ),
        ] {
            if secs == 0 {
                return Err((key, "must be at least 1 second".into()));
            }
            // A connection's deadlines are instants (now + this): a day is far past any use,
            // and a value near u64::MAX would overflow the clock's arithmetic.
            if secs > 86_400 {
                return Err((key, "must be at most 86400 seconds (a day)".into()));
            }
        }
        if self.server.max_connections < 16 {
            return Err(("server.max_connections", "must be at least 16".into()));
        }
        if self.server.http2_max_concurrent_streams == 0 {
            return Err((
                "server.http2_max_concurrent_streams",
                "must be at least 1".into(),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(("server.max_body_bytes", "must be at least 1024".into()));
        }
        if self.ssl.cert_path.is_some() != self.ssl.key_path.is_some() {
            return Err((
                "ssl.key_path",
                "ssl.cert_path and ssl.key_path must be set together".into(),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return Err((
                "logging.level",
                format!("not a log filter: {}", self.logging.level),
            ));
        }
        if !self.host.root.is_absolute() {
            return Err(("host.root", "must be an absolute path".into()));
        }
        if !self.host.scratch_dir.is_absolute() {
            return Err(("host.scratch_dir", "must be an absolute path".into()));
        }
        if self.provisioning.ssh.connect_timeout_seconds == 0 {
            return Err((
                "provisioning.ssh.connect_timeout_seconds",
                "must be at least 1 second".into(),
            ));
        }
        if self.provisioning.ssh.wait_interval_seconds == 0 {
            return Err((
                "provisioning.ssh.wait_interval_seconds",
                "must be at least 1 second".into(),
            ));
        }
        if self.provisioning.max_extract_entries == 0 {
            return Err((
                "provisioning.max_extract_entries",
                "must be at least 1".into(),
            ));
        }
        let ansible = &self.provisioning.ansible;
        if !ansible.run_dir.is_absolute() || ansible.run_dir.starts_with(&self.data_dir) {
            return Err((
                "provisioning.ansible.run_dir",
                "must be an absolute path outside data_dir".into(),
            ));
        }
        if ansible.run_as.is_empty() || ansible.run_as.contains(['/', ':', '\0']) {
            return Err((
                "provisioning.ansible.run_as",
                "must be an account name".into(),
            ));
        }
        if self.zones.shutdown_timeout == 0 {
            return Err(("zones.shutdown_timeout", "must be at least 1 second".into()));
        }
        Ok(())
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.zones.task_timeout)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.tasks.operation_timeout)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("agent.db")
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.provisioning
            .artifacts_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("artifacts"))
    }

    pub fn provisioning_key_path(&self) -> PathBuf {
        self.provisioning
            .ssh
            .key_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ssh/provision_key"))
    }

    pub fn bootstrap_key_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap-api-key")
    }

    /// Where an illumos path (`/etc/dhcpd.conf`) lives for this agent: under `host.root`.
    pub fn host_file(&self, illumos_path: &str) -> PathBuf {
        self.host.root.join(illumos_path.trim_start_matches('/'))
    }

    pub fn runner_config(&self) -> illumos::RunnerConfig {
        illumos::RunnerConfig {
            pfexec: self.host.pfexec.clone(),
            tool_dir: self.host.tool_dir.clone(),
            tool_paths: Default::default(),
            timeout: self.command_timeout(),
            kill_grace: Duration::from_secs(self.tasks.kill_grace_seconds),
            ..Default::default()
        }
    }
}

/// serde reports an unknown key inside the message only; pull it out so the error names the
/// full key path.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_defaults_are_the_defaults() {
        assert_eq!(
            Config::parse(DEFAULTS_YAML, "defaults").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn every_key_of_the_defaults_has_a_comment_above_it() {
        let lines: Vec<&str> = DEFAULTS_YAML.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let next = lines[i + 1..].iter().find(|l| !l.trim().is_empty());
            let is_section = next.is_some_and(|n| indent(n) > indent(line));
            if is_section {
                continue;
            }
            let commented = lines[..i]
                .iter()
                .rev()
                .take_while(|l| !l.trim().is_empty())
                .any(|l| l.trim_start().starts_with('#'));
            assert!(commented, "no comment for {line:?}");
        }
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(Config::parse("", "x").unwrap(), Config::default());
        assert_eq!(
            Config::parse("# nothing\n", "x").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn keys_from_the_original_agent_are_accepted() {
        let c = Config::parse(
            "server:\n  https_port: 6001\n  http_port: 6000\nssl:\n  cert_path: /a.crt\n  key_path: /a.key\nzones:\n  max_concurrent_tasks: 2\nprovisioning:\n  network:\n    subnet: 10.1.2.0/24\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.server.https_port, 6001);
        assert_eq!(c.server.http_port, Some(6000));
        assert_eq!(c.zones.max_concurrent_tasks, 2);
        assert_eq!(c.provisioning.network.subnet, "10.1.2.0/24");
        assert_eq!(c.provisioning.network.host_ip, "10.190.190.1");
    }

    #[test]
    fn a_connection_deadline_past_a_day_is_refused_by_name() {
        let err = Config::parse(
            "server:\n  header_read_timeout_seconds: 18446744073709551615\n",
            "c.yaml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("server.header_read_timeout_seconds: must be at most 86400"),
            "{err}"
        );
        let c = Config::parse("server:\n  idle_timeout_seconds: 86400\n", "x").unwrap();
        assert_eq!(c.server.idle_timeout_seconds, 86_400);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = Config::parse("server:\n  https_prot: 1\n", "c.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("c.yaml: server.https_prot: unknown field"),
            "{msg}"
        );
        let err = Config::parse("colour: red\n", "c.yaml").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn a_bad_value_is_named() {
        let err = Config::parse("server:\n  https_port: lots\n", "c.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with("c.yaml: server.https_port:"),
            "{err}"
        );
        let err = Config::parse("zones:\n  max_concurrent_tasks: 0\n", "c.yaml").unwrap_err();
        assert!(
            err.to_string().contains("zones.max_concurrent_tasks"),
            "{err}"
        );
        let err = Config::parse("logging:\n  format: xml\n", "c.yaml").unwrap_err();
        assert!(err.to_string().contains("logging.format"), "{err}");
        for (yaml, key) in [
            (
                "monitoring:\n  interval_secs: 0\n",
                "monitoring.interval_secs",
            ),
            (
                "monitoring:\n  retention_hours: 0\n",
                "monitoring.retention_hours",
            ),
            ("monitoring:\n  retention_secs: 5\n", "retention_secs"),
        ] {
            let err = Config::parse(yaml, "c.yaml").unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn host_files_live_under_the_root_prefix() {
        let mut c = Config::default();
        assert_eq!(
            c.host_file("/etc/dhcpd.conf"),
            PathBuf::from("/etc/dhcpd.conf")
        );
        c.host.root = PathBuf::from("/tmp/h/root");
        assert_eq!(
            c.host_file("/etc/dhcpd.conf"),
            PathBuf::from("/tmp/h/root/etc/dhcpd.conf")
        );
    }
}
