//! An emulated OmniOS host: a directory `illumos-sim init` fills.

use std::path::{Path, PathBuf};

use zoneweaver_agent::demo::{self, HostLayout};

use crate::bins::binary;

/// A fresh emulated host. Made by the agent's own `demo::init_host`, so `serve --demo` and the
/// tests create hosts the same way, and its [`HostLayout`] is the one the demo configures.
#[derive(Debug, Clone)]
pub struct EmulatedHost {
    pub dir: PathBuf,
    pub layout: HostLayout,
}

impl EmulatedHost {
    /// `illumos-sim init DIR` with the workspace's emulator.
    pub fn init(dir: &Path) -> EmulatedHost {
        EmulatedHost::init_with(&binary("illumos-sim"), dir, None)
    }

    /// `SIM init DIR [--pool-size SIZE]`: `sim` may be a copy of the emulator elsewhere (the
    /// host's tools link to the emulator that made it, which its users must be able to reach).
    /// Panics with the emulator's error when it fails.
    pub fn init_with(sim: &Path, dir: &Path, pool_size: Option<&str>) -> EmulatedHost {
        if let Err(e) = demo::init_host(sim, dir, pool_size) {
            panic!("{e}");
        }
        EmulatedHost {
            dir: dir.to_path_buf(),
            layout: HostLayout::of(dir),
        }
    }
}
