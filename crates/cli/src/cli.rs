//! The command line, as data: clap parses it, `zw man` and `zw completions` render it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Command-line client of the Zoneweaver Agent (bhyve zones on OmniOS).
///
/// Log in once with `zw login URL`; the URL, API key and the agent's certificate fingerprint
/// are kept in $XDG_CONFIG_HOME/zw/config.toml (mode 0600). ZW_URL and ZW_API_KEY override the
/// stored host. Exit status: 0 success, 1 error (the API's message and field are printed),
/// 2 usage error, 3 a followed task failed or was cancelled.
#[derive(Debug, Parser)]
#[command(name = "zw", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The stored host to talk to (see `zw hosts list`); default: the default host.
    #[arg(long, global = true, env = "ZW_HOST", value_name = "NAME")]
    pub host: Option<String>,

    /// Print the API's JSON answer unchanged instead of a table.
    #[arg(long, global = true)]
    pub json: bool,

    /// When the answer is a queued task, follow it to its end (progress bars on a terminal)
    /// and exit 3 if it fails.
    #[arg(long, global = true)]
    pub wait: bool,

    /// Print the agent's text (names, messages, task output) as received, terminal control
    /// sequences included. Without it they are shown as escapes (`^[`, `\u{9b}`), so an
    /// answer cannot move the cursor, recolour or retitle the terminal, or hide text.
    #[arg(long, global = true)]
    pub raw: bool,

    #[command(subcommand)]
    pub command: Command,
}

// One value per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store an agent's URL and API key, pinning its certificate after showing its fingerprint.
    Login(LoginArgs),
    /// The stored hosts.
    #[command(subcommand)]
    Hosts(HostsCmd),
    /// The agent's health (no key needed).
    Health,
    /// Zones: list, show, create, modify, lifecycle, delete.
    #[command(subcommand)]
    Zones(ZonesCmd),
    /// Tasks: list, show, cancel, wait, logs.
    #[command(subcommand)]
    Tasks(TasksCmd),
    /// The host's virtual network: etherstubs, VNICs, NAT, forwarding, DHCP.
    #[command(subcommand)]
    Net(NetCmd),
    /// Run a zone's provisioning pipeline, or see, cancel or roll it back.
    Provision(ProvisionArgs),
    /// Provisioning recipes (zlogin automation).
    #[command(subcommand)]
    Recipes(RecipesCmd),
    /// Provisioning artifacts (tar or tar.gz archives).
    #[command(subcommand)]
    Artifacts(ArtifactsCmd),
    /// API keys (admin).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write zw.1, zw-zones.1, zw-zones-create.1, ... here instead of printing zw.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The agent's URL, e.g. https://hv-04:5001.
    pub url: String,
    /// Refused: a key on the command line is visible to every user in `ps`. The key is read
    /// from ZW_API_KEY, else asked for without echo, else the first line of standard input.
    #[arg(long, hide = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Accept the certificate's fingerprint without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The name to store the host under (default: --host, else "default").
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum HostsCmd {
    /// List the stored hosts.
    List,
    /// Make NAME the default host.
    Use { name: String },
    /// Forget a stored host (its key and pinned fingerprint).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ZonesCmd {
    /// List zones.
    List {
        /// Only zones in this state (running, installed, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only zones of this brand.
        #[arg(long)]
        brand: Option<String>,
    },
    /// Show one zone.
    Show { name: String },
    /// Create a zone from flags, or from a full request in a YAML or JSON file (flags override
    /// the file's fields).
    Create(CreateArgs),
    /// Change a zone's configuration (takes effect at its next boot).
    Modify(ModifyArgs),
    /// Boot a zone.
    Start { name: String },
    /// Shut a zone down gracefully.
    Stop { name: String },
    /// Reboot a zone (applies pending changes).
    Restart { name: String },
    /// Halt a zone at once.
    Halt { name: String },
    /// Delete a zone (its datasets are kept unless --cleanup-datasets).
    Delete {
        name: String,
        /// Also destroy the datasets the agent made for the zone.
        #[arg(long)]
        cleanup_datasets: bool,
        /// Only forget the agent's record of a zone already gone from the host.
        #[arg(long, conflicts_with = "cleanup_datasets")]
        force: bool,
    },
}

/// bhyve attributes shared by create and modify.
#[derive(Debug, Args, Default)]
pub struct AttrArgs {
    /// Memory, e.g. 2G or 512M.
    #[arg(long)]
    pub ram: Option<String>,
    /// CPUs: N or cpus=N,sockets=S,cores=C,threads=T.
    #[arg(long)]
    pub vcpus: Option<String>,
    /// BHYVE_RELEASE, BHYVE_RELEASE_CSM, BHYVE_DEBUG, ... or an absolute path.
    #[arg(long)]
    pub bootrom: Option<String>,
    /// i440fx, q35, amd, netapp, intel or none.
    #[arg(long)]
    pub hostbridge: Option<String>,
    /// virtio, virtio-blk, ahci, ahci-hd or nvme.
    #[arg(long)]
    pub diskif: Option<String>,
    /// virtio, virtio-net-viona or e1000.
    #[arg(long)]
    pub netif: Option<String>,
    /// generic, windows or openbsd.
    #[arg(long)]
    pub os_type: Option<String>,
    /// on, off or wait.
    #[arg(long)]
    pub vnc: Option<String>,
    /// on or off.
    #[arg(long)]
    pub acpi: Option<String>,
    /// on or off.
    #[arg(long)]
    pub xhci: Option<String>,
    /// Boot the zone when the host boots.
    #[arg(long, value_name = "BOOL")]
    pub autoboot: Option<bool>,
    /// Cloud-init: on or off.
    #[arg(long, value_name = "ON|OFF")]
    pub cloud_init: Option<String>,
    /// Cloud-init SSH public keys, one per line (e.g. "$(cat ~/.ssh/authorized_keys)").
    #[arg(long)]
    pub sshkey: Option<String>,
    /// Cloud-init resolvers, comma-separated.
    #[arg(long)]
    pub resolvers: Option<String>,
    /// Cloud-init DNS domain.
    #[arg(long)]
    pub dns_domain: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A full create request (YAML or JSON; `-` reads standard input).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The zone's name.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// Only bhyve today.
    #[arg(long, required_unless_present = "file")]
    pub brand: Option<String>,
    #[command(flatten)]
    pub attrs: AttrArgs,
    /// Size of a new boot volume, e.g. 30G.
    #[arg(long, value_name = "SIZE")]
    pub disk_size: Option<String>,
    /// Pool of the new boot volume (default rpool).
    #[arg(long)]
    pub pool: Option<String>,
    /// Make the new boot volume sparse.
    #[arg(long)]
    pub sparse: bool,
    /// Boot from this existing volume instead of a new one.
    #[arg(long, value_name = "DATASET", conflicts_with_all = ["disk_size", "template"])]
    pub boot_dataset: Option<String>,
    /// Clone the boot volume from this template (POOL/PATH or POOL/PATH@SNAPSHOT).
    #[arg(long, value_name = "DATASET")]
    pub template: Option<String>,
    /// Copy the template (zfs send | recv) instead of cloning it.
    #[arg(long, requires = "template")]
    pub copy: bool,
    /// A NIC: VNIC[,global_nic=LINK][,mac_addr=MAC][,vlan_id=N][,allowed_address=CIDR] (repeatable).
    #[arg(long = "nic", value_name = "SPEC")]
    pub nics: Vec<String>,
    /// An ISO on the host (repeatable).
    #[arg(long = "cdrom", value_name = "PATH")]
    pub cdroms: Vec<String>,
    /// Boot the zone once it is created.
    #[arg(long)]
    pub start: bool,
    /// Attach an existing dataset even if another zone uses it.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ModifyArgs {
    pub name: String,
    /// A full modify request (YAML or JSON; `-` reads standard input).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub attrs: AttrArgs,
    /// Add a NIC: VNIC[,global_nic=LINK][,mac_addr=MAC][,vlan_id=N][,allowed_address=CIDR].
    #[arg(long = "add-nic", value_name = "SPEC")]
    pub add_nics: Vec<String>,
    /// Remove a NIC by its VNIC name.
    #[arg(long = "remove-nic", value_name = "VNIC")]
    pub remove_nics: Vec<String>,
    /// Add a new disk of this size (e.g. 10G).
    #[arg(long = "add-disk", value_name = "SIZE")]
    pub add_disks: Vec<String>,
    /// Detach a disk by slot (disk0, ...); the volume is kept.
    #[arg(long = "remove-disk", value_name = "SLOT")]
    pub remove_disks: Vec<String>,
    /// Add an ISO on the host as a CD-ROM.
    #[arg(long = "add-cdrom", value_name = "PATH")]
    pub add_cdroms: Vec<String>,
    /// Remove a CD-ROM by slot or ISO path.
    #[arg(long = "remove-cdrom", value_name = "SLOT|PATH")]
    pub remove_cdroms: Vec<String>,
    /// Attach existing volumes even if another zone uses them.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum TasksCmd {
    /// List tasks, newest first.
    List {
        /// pending, running, completed, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only tasks of this zone (or scope: system, network).
        #[arg(long)]
        zone: Option<String>,
        #[arg(long)]
        operation: Option<String>,
        /// Only the children of this group task.
        #[arg(long, value_name = "TASK_ID")]
        parent: Option<String>,
        /// Page size, 1 to 1000.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Show one task.
    Show { id: String },
    /// Cancel a task (a running one is stopped and what it made undone).
    Cancel { id: String },
    /// Follow a task to its end; exit 3 if it fails or is cancelled.
    Wait { id: String },
    /// Print a task's output log.
    Logs {
        id: String,
        /// Keep printing new lines until the task ends.
        #[arg(long, short = 'F')]
        follow: bool,
    },
}

/// A request body for the generic commands: `-f FILE` and/or FIELD=VALUE pairs.
#[derive(Debug, Args, Default)]
pub struct BodyArgs {
    /// The request body from a YAML or JSON file (`-` reads standard input).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Fields: FIELD=TEXT sets a string, FIELD:=JSON sets any JSON value (a.b=x sets a nested
    /// field). Applied over the file's fields.
    #[arg(value_name = "FIELD=VALUE")]
    pub fields: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum NetCmd {
    /// Etherstubs (virtual switches).
    #[command(subcommand)]
    Etherstubs(LinkCmd),
    /// VNICs.
    #[command(subcommand)]
    Vnics(LinkCmd),
    /// NAT rules (ipnat).
    #[command(subcommand)]
    Nat(NatCmd),
    /// IP forwarding.
    #[command(subcommand)]
    Forwarding(SettingCmd),
    /// The DHCP server.
    #[command(subcommand)]
    Dhcp(DhcpCmd),
    /// The provisioning network (etherstub, host VNIC, NAT, DHCP in one).
    #[command(subcommand)]
    Provisioning(ProvNetCmd),
}

#[derive(Debug, Subcommand)]
pub enum LinkCmd {
    /// List them.
    List,
    /// Show one.
    Show { name: String },
    /// Create one: e.g. `name=web0 link=igb0 vlan_id:=10`.
    Create(BodyArgs),
    /// Delete one.
    Delete {
        name: String,
        /// Delete even if in use.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NatCmd {
    /// List them.
    List,
    /// Add a rule: e.g. `bridge=igb0 subnet=10.190.190.0/24 type=map`.
    Create(BodyArgs),
    /// Delete a rule by its id (see `list`).
    Delete { id: String },
    /// The ipfilter service's state.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum SettingCmd {
    /// Show it.
    Show,
    /// Change it: e.g. `enabled:=true interfaces:='["igb0"]'`.
    Set(BodyArgs),
}

#[derive(Debug, Subcommand)]
pub enum DhcpCmd {
    /// The DHCP configuration (`show`, or `set` with fields).
    #[command(subcommand)]
    Config(SettingCmd),
    /// Static host entries.
    #[command(subcommand)]
    Hosts(DhcpHostsCmd),
    /// The service's state, or `set action=start|stop|restart|refresh`.
    #[command(subcommand)]
    Status(SettingCmd),
    /// Current leases.
    Leases,
}

#[derive(Debug, Subcommand)]
pub enum DhcpHostsCmd {
    /// List them.
    List,
    /// Add one: `hostname=web01 mac=02:08:20:0a:0b:0c ip=10.190.190.10`.
    Add(BodyArgs),
    /// Delete one.
    Delete { hostname: String },
}

#[derive(Debug, Subcommand)]
pub enum ProvNetCmd {
    /// Show its state.
    Status,
    /// Set it up (fields override the agent's provisioning.network settings).
    Setup(BodyArgs),
    /// Remove it.
    Teardown,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ProvisionArgs {
    /// Run the pipeline on this zone.
    #[arg(required = true)]
    pub zone: Option<String>,
    /// Follow the pipeline's tasks to the end (the same as --wait).
    #[arg(long)]
    pub follow: bool,
    #[command(subcommand)]
    pub action: Option<ProvisionCmd>,
}

#[derive(Debug, Subcommand)]
pub enum ProvisionCmd {
    /// Where the zone's pipeline is.
    Status { zone: String },
    /// Cancel the zone's running pipeline.
    Cancel { zone: String },
    /// Roll the zone's provisioning dataset back to @pre-provision.
    Rollback { zone: String },
}

#[derive(Debug, Subcommand)]
pub enum RecipesCmd {
    /// List them.
    List,
    /// Show one.
    Show { id: String },
    /// Create one from a file and/or fields.
    Create(BodyArgs),
    /// Replace one.
    Update {
        id: String,
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Delete one.
    Delete { id: String },
    /// Run (or dry-run) a recipe: e.g. `zone_name=web01 dry_run:=true`.
    Test {
        id: String,
        #[command(flatten)]
        body: BodyArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCmd {
    /// List them.
    List,
    /// Show one.
    Show { id: String },
    /// Upload a tar or tar.gz (with a progress bar on a terminal); its SHA-256 is checked by
    /// the agent.
    Upload { file: PathBuf },
    /// Delete one.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List them.
    List,
    /// Create one (the key is shown once): e.g. `name=ops role=operator`.
    Create(BodyArgs),
    /// Revoke one by id.
    Revoke { id: String },
}
