//! Where the host files the network area uses are: config.yaml's `network.*_path` when set,
//! otherwise the property of the service that reads the file (reference §1.11: the DHCP
//! method reads `config/config_file` and `config/lease_file`; §1.13: ipfilter loads
//! `config/ipnat_config_file`). The property is read each time the path is needed, never
//! cached, so a service an administrator repointed is followed from the next request on.

use illumos::ipnat::ConfPath;
use illumos::smf::{self, Fmri, PropName};

use super::conffile::ConfFile;
use super::{chain, NetworkServices};

/// A host file and the service property that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFile {
    IpnatConf,
    DhcpConf,
    DhcpLeases,
}

impl HostFile {
    /// The config.yaml key that overrides the service's property.
    pub fn key(self) -> &'static str {
        match self {
            HostFile::IpnatConf => "network.ipnat_config_path",
            HostFile::DhcpConf => "network.dhcp_config_path",
            HostFile::DhcpLeases => "network.dhcp_leases_path",
        }
    }

    pub fn prop(self) -> PropName {
        match self {
            HostFile::IpnatConf => "config/ipnat_config_file",
            HostFile::DhcpConf => "config/config_file",
            HostFile::DhcpLeases => "config/lease_file",
        }
        .parse()
        .expect("a valid property name")
    }

    fn what(self) -> &'static str {
        match self {
            HostFile::IpnatConf => "the ipnat rules file",
            HostFile::DhcpConf => "the dhcpd configuration file",
            HostFile::DhcpLeases => "the dhcpd leases file",
        }
    }
}

/// The service could not say where the file is.
#[derive(Debug, thiserror::Error)]
#[error("cannot tell where {} is: {reason} (or name it with {} in config.yaml)", .file.what(), .file.key())]
pub struct PathError {
    pub file: HostFile,
    pub reason: String,
}

impl NetworkServices {
    fn owner(&self, file: HostFile) -> (&Fmri, Option<&ConfPath>) {
        let s = &self.settings;
        match file {
            HostFile::IpnatConf => (&s.ipfilter, s.ipnat_conf.as_ref()),
            HostFile::DhcpConf => (&s.dhcp_service, s.dhcp_conf.as_ref()),
            HostFile::DhcpLeases => (&s.dhcp_service, s.dhcp_leases.as_ref()),
        }
    }

    /// The illumos path of `file`: the override, or the service's property, read now.
    pub async fn path_of(
        &self,
        run: &illumos::Runner,
        file: HostFile,
    ) -> Result<ConfPath, PathError> {
        let (fmri, configured) = self.owner(file);
        if let Some(p) = configured {
            return Ok(p.clone());
        }
        let prop = file.prop();
        let bad = |reason: String| PathError { file, reason };
        let values = smf::svcprop(run, fmri, &prop)
            .await
            .map_err(|e| bad(chain(&e)))?
            .ok_or_else(|| bad(format!("{fmri} has no property {prop}")))?;
        match values.as_slice() {
            [one] if !one.is_empty() => one
                .parse()
                .map_err(|e: illumos::link::InvalidValue| bad(format!("{prop} of {fmri}: {e}"))),
            _ => Err(bad(format!("{prop} of {fmri} is not one path: {values:?}"))),
        }
    }

    /// [`NetworkServices::path_of`] as a file the agent can read and replace.
    pub async fn file_of(
        &self,
        run: &illumos::Runner,
        file: HostFile,
    ) -> Result<ConfFile, PathError> {
        Ok(ConfFile::new(&self.config, &self.path_of(run, file).await?))
    }
}
