//! Several SSH keys for a bhyve zone: the key file the brand reads.
//!
//! A zonecfg attribute value cannot hold a newline, so one `sshkey` attribute holds one key.
//! The OmniOS bhyve brand also takes a file there: at each boot its boot script (run in the
//! global zone) reads the value as a path when it is absolute and names a regular file, and
//! passes the file's text, stripped, to cloud-init as the guest's authorized keys; any other
//! value is taken as the key itself (`file_or_string` in the brand's python, bhyve(7); see
//! ARCHITECTURE.md, "The bhyve brand's sshkey"). So several keys are written, one a line, to
//! `<zonepath>/cloud-init-sshkeys`, and the attribute names that file:
//! - the zonepath is the zone's own (root's, 0700, made by `zoneadm install` and destroyed by
//!   `zoneadm uninstall`), so the file goes with the zone and the guest never sees it;
//! - it is replaced like the agent's other root files (`ConfFile`: atomically, with a backup
//!   for the undo; through `zoneweaver-install` when the agent cannot write the zonepath,
//!   whose allow-list names it with a `zonepath-file` line);
//! - the zone's detail shows the keys back only from this one path, never from whatever file
//!   an `sshkey` attribute set by hand may name.

use illumos::install::Target;
use illumos::ipnat::ConfPath;
use illumos::names::ZonecfgValue;
use illumos::zonecfg::ZoneConfig;
use illumos::Runner;

use crate::config::Config;
use crate::network::conffile::{ConfFile, Replaced};
use crate::tasks::{Cx, OpCx, OpError};
use crate::zones::ops::Made;

/// The key file's name in the zonepath (the install helper's allow-list names it too).
pub const FILE_NAME: &str = "cloud-init-sshkeys";

/// `<zonepath>/cloud-init-sshkeys`.
pub fn path(zonepath: &str) -> Result<ConfPath, OpError> {
    format!("{}/{FILE_NAME}", zonepath.trim_end_matches('/'))
        .parse()
        .map_err(|e| OpError::failed(format!("the zone's key file: {e}")))
}

/// The key file's first line. The brand hands the file's text to cloud-init as ONE
/// `ssh_authorized_keys` entry, and cloud-init (`ssh_util.AuthKeyLineParser.parse`, then
/// `update_authorized_keys`) keeps an entry only when it starts with a key: it splits it with
/// `split(None, 2)` into type, key and "comment" (the rest, newlines included) and writes the
/// three back joined by spaces. An entry starting with `#` (or a blank line) is not a key and
/// is dropped whole; one whose first key has no comment loses the newline after it; one whose
/// first key has options loses them for root (`cc_ssh` parses root's keys with `options=""`).
/// So the agent's own first line is what cloud-init takes as the key (a known type, a token,
/// a comment), and every line the client sent rides verbatim in its comment. sshd skips the
/// line: its "key" is base64 of `zoneweaver-agent`, no key blob, so it authorizes nothing.
pub const HEADER: &str = "ssh-ed25519 em9uZXdlYXZlci1hZ2VudA== zoneweaver-agent: not a key, \
                          sshd skips this line; cloud-init keeps the lines below as written";

/// The file's text: [`HEADER`], then the lines as the client sent them.
pub fn render(lines: &[String]) -> String {
    let mut text = format!("{HEADER}\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text
}

/// The client's lines back from the file's text (a file without the header, as written
/// before it existed, is shown whole).
fn unrender(text: &str) -> String {
    let text = text.trim_end_matches('\n');
    match text.split_once('\n') {
        Some((first, rest)) if first == HEADER => rest.to_owned(),
        _ if text == HEADER => String::new(),
        _ => text.to_owned(),
    }
}

/// Replaces the zone's key file with `keys` (journalled first, so an undo puts back what was
/// there, or removes it) and answers the `sshkey` attribute value that names it.
pub async fn write(
    config: &Config,
    cx: &Cx<'_, Made>,
    zonepath: &str,
    keys: &[String],
) -> Result<ZonecfgValue, OpError> {
    let target = path(zonepath)?;
    let file = ConfFile::new(config, &target);
    let replaced = file.keep_backup(&cx.runner).await?;
    cx.will_make(&Made::KeyFile { replaced }).await?;
    file.write_temp(&render(keys))?;
    file.commit_temp(&cx.runner).await?;
    cx.note(&format!(
        "wrote {} lines of SSH keys to {target}",
        keys.len()
    ));
    super::ops::value(&target.to_string())
}

/// Removes the zone's key file when `cfg`'s `sshkey` names it and a change sets one key
/// inline: journalled with a backup first, so an undo puts it back.
pub async fn remove_unused(
    config: &Config,
    cx: &Cx<'_, Made>,
    cfg: &ZoneConfig,
) -> Result<(), OpError> {
    let Some(own) = own_file(cfg) else {
        return Ok(());
    };
    let file = ConfFile::new(config, &own);
    let replaced = file.keep_backup(&cx.runner).await?;
    if !replaced.existed {
        return Ok(());
    }
    cx.will_make(&Made::KeyFile {
        replaced: replaced.clone(),
    })
    .await?;
    // Restoring "a file that did not exist" is removing it.
    let gone = Replaced {
        existed: false,
        ..replaced
    };
    file.restore(&cx.runner, &gone).await?;
    cx.note(&format!(
        "removed {own}: the zone's sshkey holds one key again"
    ));
    Ok(())
}

/// The zone's own key file, when its `sshkey` attribute names it.
fn own_file(cfg: &ZoneConfig) -> Option<ConfPath> {
    let value = cfg.attr("sshkey")?;
    cfg.zonepath
        .as_deref()
        .and_then(|zp| path(zp).ok())
        .filter(|p| p.to_string() == value)
}

/// Undoes [`write`]: the previous file back, or none.
pub async fn undo(config: &Config, cx: &OpCx, replaced: &Replaced) -> Result<(), OpError> {
    ConfFile::new(config, &replaced.path)
        .restore(&cx.runner, replaced)
        .await
}

/// The keys to show for a zone's `sshkey`: its key file's lines when the attribute names the
/// zone's own key file, else the attribute's value (also when the file cannot be read).
pub async fn shown(config: &Config, runner: &Runner, cfg: &ZoneConfig) -> Option<String> {
    let value = cfg.attr("sshkey")?;
    if let Some(own) = own_file(cfg) {
        let text = match std::fs::read_to_string(config.host_file(value)) {
            Ok(t) => Some(t),
            // The packaged agent facing a root-only zonepath: the helper reads it.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                illumos::install::read(runner, &Target::from(&own))
                    .await
                    .ok()
            }
            Err(_) => None,
        };
        if let Some(t) = text {
            return Some(unrender(&t));
        }
    }
    Some(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_sits_in_the_zonepath_and_holds_one_key_a_line() {
        assert_eq!(
            path("/rpool/zones/web/path/").unwrap().to_string(),
            "/rpool/zones/web/path/cloud-init-sshkeys"
        );
        let text = render(&["a 1".into(), "# b".into(), "".into(), "c 3 z".into()]);
        assert_eq!(text, format!("{HEADER}\na 1\n# b\n\nc 3 z\n"));
        assert_eq!(unrender(&text), "a 1\n# b\n\nc 3 z");
        // A file written before the header existed is the client's lines alone.
        assert_eq!(unrender("a 1 x\nb 2 y\n"), "a 1 x\nb 2 y");
    }

    #[tokio::test]
    async fn only_the_zones_own_key_file_is_read_back() {
        let dir = std::env::temp_dir().join(format!("zw-sshkeys-{}", std::process::id()));
        let zp = dir.join("zones/web/path");
        std::fs::create_dir_all(&zp).unwrap();
        std::fs::write(
            zp.join(FILE_NAME),
            render(&["k1 A a".into(), "k2 B b".into()]),
        )
        .unwrap();
        std::fs::write(dir.join("secret"), "not a key\n").unwrap();
        let mut config = Config::default();
        config.host.root = dir.clone();
        let cfg = |value: &str| {
            illumos::zonecfg::parse_export(&format!(
                "create -b\nset zonepath=/zones/web/path\nadd attr\nset name=sshkey\n\
                 set type=string\nset value=\"{value}\"\nend\n"
            ))
        };
        let own = cfg("/zones/web/path/cloud-init-sshkeys");
        let run = Runner::new(config.runner_config());
        assert_eq!(
            shown(&config, &run, &own).await.as_deref(),
            Some("k1 A a\nk2 B b")
        );
        // An attribute naming another file (set by hand) is shown as it is, never read.
        assert_eq!(
            shown(&config, &run, &cfg("/secret")).await.as_deref(),
            Some("/secret")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
