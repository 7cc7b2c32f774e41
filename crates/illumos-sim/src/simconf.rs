//! Timing knobs (`<host>/sim.conf`, JSON), set with `illumos-sim config <host> key=value`.

use serde::{Deserialize, Serialize};

use crate::host::Host;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConf {
    /// `zoneadm install`: time spent in `incomplete` before `installed`.
    pub install_ms: u64,
    /// `zoneadm uninstall`.
    pub uninstall_ms: u64,
    /// `zoneadm boot`: time spent in `ready` before `running`.
    pub boot_ms: u64,
    /// `zoneadm shutdown`: time spent in `shutting_down`.
    pub shutdown_ms: u64,
    /// `zoneadm halt`.
    pub halt_ms: u64,
    /// `svcadm enable/restart`: time an instance spends in `offline*` before `online`.
    pub svc_start_ms: u64,
}

impl Default for SimConf {
    fn default() -> Self {
        SimConf {
            install_ms: 30,
            uninstall_ms: 10,
            boot_ms: 20,
            shutdown_ms: 20,
            halt_ms: 0,
            svc_start_ms: 0,
        }
    }
}

impl SimConf {
    pub fn load(host: &Host) -> SimConf {
        std::fs::read(host.conf_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, host: &Host) -> std::io::Result<()> {
        let tmp = host.conf_path().with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, host.conf_path())
    }

    /// Applies `key=value`; the error names what was wrong.
    pub fn set(&mut self, kv: &str) -> Result<(), String> {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got '{kv}'"))?;
        let n: u64 = v
            .parse()
            .map_err(|_| format!("{k}: '{v}' is not a number of milliseconds"))?;
        match k {
            "install_ms" => self.install_ms = n,
            "uninstall_ms" => self.uninstall_ms = n,
            "boot_ms" => self.boot_ms = n,
            "shutdown_ms" => self.shutdown_ms = n,
            "halt_ms" => self.halt_ms = n,
            "svc_start_ms" => self.svc_start_ms = n,
            _ => return Err(format!("unknown key '{k}'")),
        }
        Ok(())
    }
}
