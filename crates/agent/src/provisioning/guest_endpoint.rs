//! Where the agent may dial a guest. On an emulated host (`illumos-sim`, as `--demo` and the
//! tests use) the guests exist only in the emulator: an address such as its 10.190.190.x would
//! send packets onto whatever network the machine is on. There only loopback is dialled, where
//! a stand-in guest's sshd can listen; anything else fails the stage at once.

use std::net::IpAddr;

use crate::config::Config;

/// The file `illumos-sim init` lays in its host root to say the host is emulated.
pub const EMULATED_MARKER: &str = "/etc/illumos-sim";

pub fn is_emulated(config: &Config) -> bool {
    config.host_file(EMULATED_MARKER).is_file()
}

/// Ok when the agent may connect to `addr:port` for a guest.
pub fn check(config: &Config, addr: IpAddr, port: u16) -> Result<(), String> {
    if addr.is_loopback() || !is_emulated(config) {
        return Ok(());
    }
    Err(format!(
        "the host is emulated (illumos-sim), so its guests are on no network: {addr}:{port} is not dialled. \
         Point provisioning.variables.ip at a loopback address (127.0.0.1) and ssh_port at the port where a \
         stand-in guest's sshd listens"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_an_emulated_host_only_loopback_is_dialled() {
        let root = std::env::temp_dir().join(format!("zw-guest-endpoint-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        let mut c = Config::default();
        c.host.root = root.clone();
        let lan: IpAddr = "10.190.190.10".parse().unwrap();
        assert!(check(&c, lan, 22).is_ok(), "a real host dials its guests");
        std::fs::write(root.join("etc/illumos-sim"), "").unwrap();
        let e = check(&c, lan, 22).unwrap_err();
        assert!(
            e.contains("provisioning.variables.ip")
                && e.contains("ssh_port")
                && e.contains("10.190.190.10:22"),
            "{e}"
        );
        for ok in ["127.0.0.1", "127.9.9.9", "::1"] {
            assert!(check(&c, ok.parse().unwrap(), 2222).is_ok(), "{ok}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }
}
