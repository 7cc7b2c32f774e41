//! `serve --demo`: the agent on an emulated OmniOS host (the `illumos-sim` emulator), so anyone
//! can try it on a machine that is not illumos.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;

pub const DEFAULT_DIR: &str = "zoneweaver-demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot find the illumos-sim emulator beside {0} or on PATH; build it with `cargo build --release --workspace`")]
    NoEmulator(String),
    #[error("cannot create the emulated host in {path}: {message}")]
    Init { path: String, message: String },
}

/// Points the configuration at an emulated host under the data directory, creating the host
/// on first use and reusing it afterwards. Returns the host directory.
pub fn prepare(
    config: &mut Config,
    explicit_config: bool,
    pool_size: Option<&str>,
) -> Result<PathBuf, DemoError> {
    if !explicit_config {
        config.data_dir = std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(DEFAULT_DIR);
        config.server.bind_address = std::net::Ipv4Addr::LOCALHOST.into();
        config.logging.format = crate::config::LogFormat::Text;
    }
    let host = config.data_dir.join("host");
    init_host(&emulator()?, &host, pool_size)?;
    HostLayout::of(&host).configure(&mut config.host);
    Ok(host)
}

/// Where an emulated host made by `illumos-sim init` keeps what the agent's `host` section
/// points at. The dev-only harness (`crates/testkit`) writes its config.yaml from this too, so
/// the tests run the agent exactly as the demo does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    /// The tools (`zoneadm`, `dladm`, ...): links to the emulator.
    pub tool_dir: PathBuf,
    /// The emulator's pfexec, which applies the package's RBAC profile.
    pub pfexec: PathBuf,
    /// The emulated root file system.
    pub root: PathBuf,
}

impl HostLayout {
    pub fn of(host: &Path) -> HostLayout {
        HostLayout {
            tool_dir: host.join("bin"),
            pfexec: host.join("bin").join("pfexec"),
            root: host.join("root"),
        }
    }

    /// Points the agent's `host` section at this host.
    pub fn configure(self, config: &mut crate::config::HostConfig) {
        config.tool_dir = Some(self.tool_dir);
        config.pfexec = Some(self.pfexec);
        config.root = self.root;
    }
}

/// `illumos-sim init HOST [--pool-size SIZE]` with the emulator `sim`: creates the emulated
/// host, or keeps the one already there.
pub fn init_host(sim: &Path, host: &Path, pool_size: Option<&str>) -> Result<(), DemoError> {
    let mut init = Command::new(sim);
    init.arg("init").arg(host);
    if let Some(size) = pool_size {
        init.arg("--pool-size").arg(size);
    }
    let out = init.output().map_err(|e| DemoError::Init {
        path: host.display().to_string(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(DemoError::Init {
            path: host.display().to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The emulator binary: beside this executable (as cargo builds them), else on PATH.
fn emulator() -> Result<PathBuf, DemoError> {
    let exe = std::env::current_exe().unwrap_or_default();
    if let Some(dir) = exe.parent() {
        for candidate in [dir.join("illumos-sim"), dir.join("../illumos-sim")] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("illumos-sim");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(DemoError::NoEmulator(exe.display().to_string()))
}

/// What the demo prints once it listens.
pub fn banner(host: &Path, url: &str, key: &str) -> String {
    format!(
        "\nZoneweaver agent (demo) is running against an emulated OmniOS host.\n\
         \n  emulated host  {host}\n                 (inspect it by hand: {host}/bin/zoneadm list -cp)\n\
         \n  API            {url}\
         \n  API key        {key}\
         \n  API docs       {url}/api-docs\
         \n\n  try:\n    curl -k -H \"Authorization: Bearer {key}\" {url}/tasks\n\
         \n    curl -k -H \"Authorization: Bearer {key}\" -H 'Content-Type: application/json' \\\n         -d '{{\"operation\":\"noop\",\"duration_ms\":2000}}' {url}/tasks\n\
         \nPress Ctrl-C to stop.\n",
        host = host.display()
    )
}
