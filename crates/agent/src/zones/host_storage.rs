//! What of the host's storage an operator may hand to a guest: volumes under the configured
//! parents that the host itself does not use (swap, dump), and media files under the configured
//! directories. A guest that got `rpool/dump` or `/etc/shadow` as a disk reads the host.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::http::error::ApiError;

/// `dataset` lies strictly below one of `zones.attachable_datasets`.
pub fn check_attachable(config: &Config, field: &str, dataset: &str) -> Result<(), ApiError> {
    let parents = &config.zones.attachable_datasets;
    let under = |p: &String| {
        dataset
            .strip_prefix(p.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    };
    if parents.iter().any(under) {
        return Ok(());
    }
    Err(ApiError::invalid(
        field,
        format!(
            "{dataset} is not under a dataset this host lets zones attach ({}); the host's owner can add one to zones.attachable_datasets",
            parents.join(", ")
        ),
    ))
}

/// `dataset` is not a volume the host uses itself: a swap device in `/etc/vfstab` or the dump
/// device in `/etc/dumpadm.conf`.
pub fn check_not_host_device(config: &Config, field: &str, dataset: &str) -> Result<(), ApiError> {
    let device = format!("/dev/zvol/dsk/{dataset}");
    let raw = format!("/dev/zvol/rdsk/{dataset}");
    let is_it = |d: &str| d == device || d == raw;
    let vfstab = std::fs::read_to_string(config.host_file("/etc/vfstab")).unwrap_or_default();
    if swap_devices(&vfstab).any(is_it) {
        return Err(ApiError::invalid(
            field,
            format!("{dataset} is the host's swap device"),
        ));
    }
    let dumpadm =
        std::fs::read_to_string(config.host_file("/etc/dumpadm.conf")).unwrap_or_default();
    if dump_device(&dumpadm).is_some_and(is_it) {
        return Err(ApiError::invalid(
            field,
            format!("{dataset} is the host's dump device"),
        ));
    }
    Ok(())
}

/// The devices `/etc/vfstab` mounts as swap (`device - - swap - no -`).
fn swap_devices(vfstab: &str) -> impl Iterator<Item = &str> {
    vfstab.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 4 && !f[0].starts_with('#') && f[3] == "swap").then_some(f[0])
    })
}

/// `DUMPADM_DEVICE=` of `/etc/dumpadm.conf`.
fn dump_device(conf: &str) -> Option<&str> {
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("DUMPADM_DEVICE="))
        .map(|v| v.trim().trim_matches('"'))
}

/// The firmware directory bhyve's boot ROM names resolve in.
const FIRMWARE_DIR: &str = "/usr/share/bhyve/firmware";

/// `path` (a host file the request names) resolves, links followed, to a file under one of
/// `zones.media_dirs` (or, for a boot ROM, bhyve's firmware directory).
pub fn check_media(
    config: &Config,
    field: &str,
    path: &str,
    firmware: bool,
) -> Result<(), ApiError> {
    let mut dirs: Vec<&str> = config.zones.media_dirs.iter().map(String::as_str).collect();
    if firmware {
        dirs.push(FIRMWARE_DIR);
    }
    let refused = || {
        ApiError::invalid(
            field,
            format!(
                "{path} is not in a directory this host lets zones use ({}); the host's owner can add one to zones.media_dirs",
                dirs.join(", ")
            ),
        )
    };
    let Ok(file) = std::fs::canonicalize(config.host_file(path)) else {
        return Err(ApiError::invalid(
            field,
            format!("{path} is not a file on the host"),
        ));
    };
    let inside =
        |dir: &str| canonical_dir(config, dir).is_some_and(|d| file.starts_with(&d) && file != d);
    if dirs.iter().any(|d| inside(d)) {
        Ok(())
    } else {
        Err(refused())
    }
}

fn canonical_dir(config: &Config, dir: &str) -> Option<PathBuf> {
    std::fs::canonicalize(config.host_file(dir))
        .ok()
        .filter(|d| Path::is_dir(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> (Config, PathBuf) {
        let root = std::env::temp_dir().join(format!(
            "zw-host-storage-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["iso", "etc", "usr/share/bhyve/firmware"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let mut c = Config::default();
        c.host.root = root.clone();
        (c, root)
    }

    #[test]
    fn only_datasets_below_a_configured_parent_can_be_attached() {
        let (mut c, root) = host();
        c.zones.attachable_datasets = vec!["rpool/zones".into(), "tank/vms".into()];
        for ok in ["rpool/zones/a/root", "tank/vms/old", "tank/vms/a/b"] {
            check_attachable(&c, "f", ok).unwrap();
        }
        for bad in [
            "rpool/swap",
            "rpool/dump",
            "rpool/zones",
            "rpool/zonesx/v",
            "tank/vmsx",
            "tank",
            "rpool/ROOT/omnios",
        ] {
            let e = check_attachable(&c, "f", bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("f"), "{bad}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_hosts_swap_and_dump_volumes_are_refused() {
        let (c, root) = host();
        std::fs::write(
            root.join("etc/vfstab"),
            "#device\t\tdevice\t\tmount\tFS\tfsck\tmount\tmount\n\
             /devices\t-\t/devices\tdevfs\t-\tno\t-\n\
             /dev/zvol/dsk/rpool/swap\t-\t-\tswap\t-\tno\t-\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/dumpadm.conf"),
            "DUMPADM_DEVICE=/dev/zvol/dsk/rpool/dump\nDUMPADM_ENABLE=yes\n",
        )
        .unwrap();
        assert!(check_not_host_device(&c, "f", "rpool/swap")
            .unwrap_err()
            .message
            .contains("swap"));
        assert!(check_not_host_device(&c, "f", "rpool/dump")
            .unwrap_err()
            .message
            .contains("dump"));
        check_not_host_device(&c, "f", "rpool/zones/a/root").unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn media_must_resolve_inside_a_media_directory() {
        let (c, root) = host();
        std::fs::write(root.join("iso/a.iso"), b"").unwrap();
        std::fs::write(root.join("etc/shadow"), b"").unwrap();
        std::fs::write(root.join("usr/share/bhyve/firmware/own.fd"), b"").unwrap();
        std::os::unix::fs::symlink("../etc/shadow", root.join("iso/sneaky.iso")).unwrap();
        check_media(&c, "f", "/iso/a.iso", false).unwrap();
        check_media(&c, "f", "/usr/share/bhyve/firmware/own.fd", true).unwrap();
        for (bad, firmware) in [
            ("/etc/shadow", false),
            ("/iso/sneaky.iso", false),
            ("/usr/share/bhyve/firmware/own.fd", false),
            ("/iso/missing.iso", false),
        ] {
            let e = check_media(&c, "f", bad, firmware).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("f"), "{bad}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }
}
