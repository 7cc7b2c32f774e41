//! The config.yaml of an agent on an emulated host.

use std::path::{Path, PathBuf};

use zoneweaver_agent::demo::HostLayout;

use crate::host::EmulatedHost;

/// What varies between the harness's agents; [`AgentConfig::to_yaml`] writes the rest
/// (HTTPS on 127.0.0.1 only, text logs, the host section of the demo's [`HostLayout`]).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub data_dir: PathBuf,
    pub port: u16,
    pub host: HostLayout,
    /// Lines added to the `server:` section, each indented two spaces and ending in a newline.
    pub server: String,
    /// `logging.level` (`info`; the bench uses `warn` to keep logging out of its figures).
    pub log_level: String,
    /// YAML appended at the end: top-level keys not written here.
    pub extra: String,
}

impl AgentConfig {
    pub fn new(data_dir: &Path, port: u16, host: &EmulatedHost) -> AgentConfig {
        AgentConfig {
            data_dir: data_dir.to_path_buf(),
            port,
            host: host.layout.clone(),
            server: String::new(),
            log_level: "info".into(),
            extra: String::new(),
        }
    }

    pub fn to_yaml(&self) -> String {
        format!(
            "data_dir: {data}\nserver:\n  https_port: {port}\n  bind_address: 127.0.0.1\n{server}\
             logging:\n  format: text\n  level: {level}\n\
             host:\n  pfexec: {pfexec}\n  tool_dir: {tools}\n  root: {root}\n{extra}",
            data = self.data_dir.display(),
            port = self.port,
            server = self.server,
            level = self.log_level,
            pfexec = self.host.pfexec.display(),
            tools = self.host.tool_dir.display(),
            root = self.host.root.display(),
            extra = self.extra,
        )
    }

    /// Writes [`AgentConfig::to_yaml`] to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_yaml())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoneweaver_agent::config::Config;

    /// The agent reads the harness's file as meant: a typo in a key would otherwise only show
    /// as an agent that refuses to start in every test at once.
    #[test]
    fn the_agent_reads_the_written_config() {
        let host = EmulatedHost {
            dir: "/h".into(),
            layout: HostLayout::of(Path::new("/h")),
        };
        let mut config = AgentConfig::new(Path::new("/d"), 4242, &host);
        config.server = "  request_timeout_seconds: 7\n".into();
        config.log_level = "warn".into();
        config.extra = "provisioning:\n  max_artifact_bytes: 1234\n".into();
        let parsed = Config::parse(&config.to_yaml(), "test").unwrap();
        assert_eq!(parsed.data_dir, Path::new("/d"));
        assert_eq!(parsed.server.https_port, 4242);
        assert_eq!(parsed.server.request_timeout_seconds, 7);
        assert_eq!(parsed.server.bind_address.to_string(), "127.0.0.1");
        assert_eq!(
            parsed.host.pfexec.as_deref(),
            Some(Path::new("/h/bin/pfexec"))
        );
        assert_eq!(parsed.host.tool_dir.as_deref(), Some(Path::new("/h/bin")));
        assert_eq!(parsed.host.root, Path::new("/h/root"));
        assert_eq!(parsed.provisioning.max_artifact_bytes, 1234);
    }
}
