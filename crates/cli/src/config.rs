//! The user's stored hosts: `$XDG_CONFIG_HOME/zw/config.toml` (else `~/.config/zw/...`),
//! mode 0600 in a 0700 directory, since it holds API keys.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The host used without `--host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_host: Option<String>,
    #[serde(default)]
    pub hosts: BTreeMap<String, Host>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub url: String,
    pub api_key: String,
    /// SHA-256 of the agent's leaf certificate (lower-case hex), pinned at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What a command talks to, after `--host`, the stored hosts and `ZW_URL`/`ZW_API_KEY`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The stored host's name, when one is used (for messages).
    pub name: Option<String>,
    pub url: String,
    pub api_key: Option<String>,
    pub fingerprint: Option<String>,
}

pub fn path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow!("neither XDG_CONFIG_HOME nor HOME is set"))?;
            PathBuf::from(home).join(".config")
        }
    };
    Ok(base.join("zw").join("config.toml"))
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file whole (a temporary file renamed over it), mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().expect("a file path");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let text = format!(
            "# Written by `zw login`; holds API keys (keep it mode 0600).\n{}",
            toml::to_string(self).context("encoding the configuration")?
        );
        let tmp = dir.join(".config.toml.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        // create_new's mode is filtered by the umask; 0600 is what we promise.
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The host a command uses: `--host NAME`, else the default host, else the only one.
    pub fn pick(&self, name: Option<&str>) -> Result<Option<(String, Host)>> {
        let name = match name {
            Some(n) => n.to_owned(),
            None => match (&self.default_host, self.hosts.len()) {
                (Some(d), _) => d.clone(),
                (None, 1) => self.hosts.keys().next().expect("one").clone(),
                (None, 0) => return Ok(None),
                (None, _) => bail!(
                    "several hosts are stored and none is the default: pick one with --host NAME \
                     or `zw hosts use NAME`"
                ),
            },
        };
        match self.hosts.get(&name) {
            Some(h) => Ok(Some((name, h.clone()))),
            None => bail!(
                "no stored host named {name:?} (stored: {}); add it with `zw --host {name} login URL`",
                if self.hosts.is_empty() {
                    "none".to_owned()
                } else {
                    self.hosts.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        }
    }

    /// Resolves the target of a command. `ZW_URL` replaces the stored URL (the pin of a stored
    /// host with that same URL still applies, or `ZW_FINGERPRINT`); `ZW_API_KEY` the key.
    pub fn target(
        &self,
        name: Option<&str>,
        env_url: Option<String>,
        env_key: Option<String>,
        env_fingerprint: Option<String>,
    ) -> Result<Target> {
        let picked = match (&env_url, name) {
            // With ZW_URL and no --host, a stored host is only used when its URL is the same.
            (Some(url), None) => self
                .hosts
                .iter()
                .find(|(_, h)| same_url(&h.url, url))
                .map(|(n, h)| (n.clone(), h.clone())),
            _ => self.pick(name)?,
        };
        let mut target = match (picked, env_url) {
            (Some((n, h)), None) => Target {
                name: Some(n),
                url: h.url,
                api_key: Some(h.api_key),
                fingerprint: h.fingerprint,
            },
            (Some((n, h)), Some(url)) if same_url(&h.url, &url) => Target {
                fingerprint: h.fingerprint,
                name: Some(n),
                url,
                api_key: Some(h.api_key),
            },
            // A stored key is sent only to the URL it was stored for.
            (Some((n, h)), Some(url)) => {
                if env_key.as_deref().is_none_or(str::is_empty) {
                    bail!(
                        "ZW_URL ({url}) is not the URL stored for host {n:?} ({}), and that host's \
                         key is sent only there: set ZW_API_KEY for {url}, or run `zw --host NAME login {url}`",
                        h.url
                    );
                }
                Target {
                    fingerprint: None,
                    name: Some(n),
                    url,
                    api_key: None,
                }
            }
            (None, Some(url)) => Target {
                name: None,
                url,
                api_key: None,
                fingerprint: None,
            },
            (None, None) => bail!("no host is stored: run `zw login URL` first (or set ZW_URL)"),
        };
        if let Some(k) = env_key.filter(|k| !k.is_empty()) {
            target.api_key = Some(k);
        }
        if let Some(f) = env_fingerprint.filter(|f| !f.is_empty()) {
            target.fingerprint = Some(
                crate::tls::parse_fingerprint(&f)
                    .ok_or_else(|| anyhow!("ZW_FINGERPRINT is not a SHA-256 fingerprint"))?,
            );
        }
        target.url = normalize_url(&target.url)?;
        Ok(target)
    }
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `https://host:port` without a trailing slash; a bare `host:port` gets `https://`.
pub fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("{url}: only https:// (or http://) URLs are supported");
    }
    if url.len() <= "https://".len() {
        bail!("{url}: no host in the URL");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str, fp: &str) -> Host {
        Host {
            url: url.into(),
            api_key: format!("key-of-{url}"),
            fingerprint: Some(fp.into()),
        }
    }

    fn two() -> Config {
        let mut c = Config::default();
        c.hosts.insert("a".into(), host("https://a:5001", "aa"));
        c.hosts.insert("b".into(), host("https://b:5001", "bb"));
        c
    }

    #[test]
    fn several_hosts_and_no_default_need_a_choice() {
        let c = two();
        assert!(c.pick(None).is_err());
        assert_eq!(c.pick(Some("b")).unwrap().unwrap().0, "b");
        assert!(c
            .pick(Some("zz"))
            .unwrap_err()
            .to_string()
            .contains("stored: a, b"));
    }

    #[test]
    fn zw_url_keeps_the_pin_only_for_the_same_url() {
        let mut c = two();
        c.default_host = Some("a".into());
        let t = c
            .target(None, Some("https://b:5001/".into()), None, None)
            .unwrap();
        assert_eq!(t.fingerprint.as_deref(), Some("bb"));
        assert_eq!(t.api_key.as_deref(), Some("key-of-https://b:5001"));
        let t = c
            .target(None, Some("https://c:5001".into()), Some("k".into()), None)
            .unwrap();
        assert_eq!((t.fingerprint, t.api_key.as_deref()), (None, Some("k")));
        let t = c
            .target(
                Some("a"),
                Some("https://c:5001".into()),
                Some("k".into()),
                None,
            )
            .unwrap();
        assert_eq!(t.fingerprint, None, "a pin never follows a different URL");
        assert_eq!(t.api_key.as_deref(), Some("k"));
    }

    #[test]
    fn a_stored_key_is_never_sent_to_another_url() {
        let c = two();
        let e = c
            .target(Some("a"), Some("https://evil:5001".into()), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ZW_API_KEY") && e.contains("https://a:5001"),
            "{e}"
        );
        let t = c
            .target(None, Some("https://evil:5001".into()), None, None)
            .unwrap();
        assert_eq!(t.api_key, None);
    }

    #[test]
    fn round_trips_through_toml() {
        let mut c = two();
        c.default_host = Some("b".into());
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), c);
    }

    #[test]
    fn bare_host_port_means_https() {
        assert_eq!(normalize_url("hv:5001/").unwrap(), "https://hv:5001");
        assert!(normalize_url("ftp://x").is_err());
    }
}
