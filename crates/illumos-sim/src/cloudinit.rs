//! What the bhyve brand and cloud-init in the guest make of a zone's `sshkey` at boot.
//!
//! From the OmniOS bhyve brand (its boot python, run in the global zone at every boot, and
//! bhyve(7)): with `cloud-init` on (the default is off), the brand builds the guest's NoCloud
//! data; `sshkey` is read as a file when its value is an absolute path naming a regular file
//! (read whole, in the global zone, stripped), and is the key text itself otherwise; the text
//! becomes ONE entry of `ssh_authorized_keys`. A `cloud-init` naming a file is used as the
//! user-data instead (the `sshkey` attribute is then not used); a URL is fetched by the guest.
//!
//! From cloud-init (`ssh_util.AuthKeyLineParser.parse`): an entry is split at whitespace into
//! type, key and the rest (the comment, kept verbatim, newlines included) and written back
//! joined by spaces. So a file whose first key has a comment reaches `authorized_keys` line
//! for line; without one, the later keys become the first key's comment. The ssh module runs
//! once per instance (the instance id is the zone's uuid): keys reach the guest at its first
//! boot with cloud-init, not again.

use std::path::Path;

use crate::ctx::Ctx;

/// The guest file cloud-init writes root's keys to, and its once-per-instance marker.
pub const AUTHORIZED_KEYS: &str = "/root/.ssh/authorized_keys";
const SEMAPHORE: &str = "/var/lib/cloud/instance/sem/config_ssh";

/// Runs at boot, after the zone is ready: the keys the guest gets, if it gets any now.
pub fn at_boot(cx: &mut Ctx, z: &str) {
    let Some(zone) = cx.st.zones.get(z) else {
        return;
    };
    if zone.cfg.brand != "bhyve" || zone.guest.files.contains_key(SEMAPHORE) {
        return;
    }
    let attr = |name: &str| {
        zone.cfg
            .resources
            .iter()
            .filter(|r| r.kind == "attr")
            .find(|r| r.get("name") == Some(name))
            .and_then(|r| r.get("value"))
            .map(str::to_owned)
    };
    let cloud_init = attr("cloud-init").unwrap_or_else(|| "off".into());
    let generated = match cloud_init.as_str() {
        "true" | "yes" | "on" | "1" => true,
        "false" | "no" | "off" | "0" => return,
        v if v.starts_with("http://") || v.starts_with("https://") => return,
        // A user-data file of the admin's own replaces what the brand generates.
        v => !(v.starts_with('/') && cx.host.in_root(v).is_file()),
    };
    let keys = attr("sshkey")
        .filter(|_| generated)
        .map(|v| file_or_string(&cx.host.in_root(&v), &v));
    let entry = keys.as_deref().and_then(authorized_keys_line);
    let Some(zone) = cx.st.zones.get_mut(z) else {
        return;
    };
    if let Some(line) = entry {
        zone.guest
            .files
            .insert(AUTHORIZED_KEYS.into(), format!("{line}\n"));
    }
    zone.guest.files.insert(SEMAPHORE.into(), String::new());
    cx.touch();
}

/// The brand's reading of `sshkey`: a file's text when the value is an absolute path to a
/// regular file (`local` is where it lies in the emulated root), else the value; stripped.
fn file_or_string(local: &Path, value: &str) -> String {
    if value.starts_with('/') && local.is_file() {
        if let Ok(text) = std::fs::read_to_string(local) {
            return text.trim().to_owned();
        }
    }
    value.trim().to_owned()
}

/// cloud-init's line for one `ssh_authorized_keys` entry: type, key and comment (split at the
/// first two runs of whitespace, as Python's `split(None, 2)`) joined by single spaces; `None`
/// when the entry is not a key (cloud-init then drops it; key options are not modelled).
fn authorized_keys_line(entry: &str) -> Option<String> {
    let entry = entry.trim();
    let (kind, rest) = entry.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (key, comment) = match rest.split_once(char::is_whitespace) {
        Some((k, c)) => (k, c.trim_start()),
        None => (rest, ""),
    };
    let known = ["ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-"]
        .iter()
        .any(|p| kind.starts_with(p));
    if !known || key.is_empty() {
        return None;
    }
    Some(
        [kind, key, comment]
            .iter()
            .filter(|t| !t.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_whose_first_key_has_a_comment_reaches_the_guest_line_for_line() {
        let text = "ssh-ed25519 AAAA a@h\nssh-rsa BBBB b@h\nsk-ssh-ed25519@openssh.com CCCC";
        assert_eq!(authorized_keys_line(text).as_deref(), Some(text));
    }

    #[test]
    fn without_a_first_comment_the_later_keys_become_its_comment() {
        assert_eq!(
            authorized_keys_line("ssh-ed25519 AAAA\nssh-rsa BBBB b@h").as_deref(),
            Some("ssh-ed25519 AAAA ssh-rsa BBBB b@h")
        );
    }

    #[test]
    fn a_path_that_names_no_file_is_taken_as_the_key_text() {
        let missing = Path::new("/nonexistent/zw-sim/keys");
        assert_eq!(
            file_or_string(missing, "/zones/a/path/keys"),
            "/zones/a/path/keys"
        );
        // ... which cloud-init drops: it is not a key.
        assert_eq!(authorized_keys_line("/zones/a/path/keys"), None);
    }
}
