//! The two failures every area shares, neutral of HTTP and tasks: a host tool that failed
//! ([`HostFailure`]) and a value that was refused ([`FieldError`]). `http/error.rs` maps each to
//! one answer and `tasks::OpError` carries each whole, so the same failure reads the same in a
//! handler and in a task, in every area.

use std::error::Error;

/// A host tool failed (or its output could not be read). The text is the whole chain of
/// causes, the tool's own words last; the source is kept for logs and for telling a
/// cancellation apart.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct HostFailure {
    text: String,
    cancelled: bool,
    #[source]
    source: Box<dyn Error + Send + Sync>,
}

impl HostFailure {
    pub fn new(e: impl Error + Send + Sync + 'static) -> Self {
        // The helper's refusal reads as what could not be done, as which user, and why.
        let text = match (&e as &dyn Error).downcast_ref::<illumos::install::InstallError>() {
            Some(i) => i.describe(illumos::runner::agent_user()),
            None => chain(&e),
        };
        HostFailure {
            text,
            cancelled: cause::<illumos::CommandError>(&e).is_some_and(|c| c.is_cancelled()),
            source: Box::new(e),
        }
    }

    /// The command was killed because its task was cancelled: not a host failure at all.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The first cause of type `T` in the chain (a tool's classified failure, say).
    pub fn cause<T: Error + 'static>(&self) -> Option<&T> {
        cause::<T>(self.source.as_ref())
    }
}

/// Every host error type converts to a [`HostFailure`], and through it to a task's or an
/// answer's error, so `?` is the whole conversion.
macro_rules! host_errors {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for HostFailure {
            fn from(e: $t) -> Self {
                HostFailure::new(e)
            }
        }
        impl From<$t> for crate::tasks::OpError {
            fn from(e: $t) -> Self {
                HostFailure::from(e).into()
            }
        }
        impl From<$t> for crate::http::error::ApiError {
            fn from(e: $t) -> Self {
                HostFailure::from(e).into()
            }
        }
    )*};
}

host_errors!(
    illumos::CommandError,
    illumos::install::InstallError,
    illumos::zoneadm::ZoneadmError,
    illumos::zoneadm::ParseError,
    illumos::zonecfg::ZonecfgError,
    illumos::zfs::ZfsError,
    illumos::zfs::ParseError,
    illumos::parsable::ParseError,
    illumos::ipnat::IpnatError,
    illumos::dladm::CreateEtherstubError,
    illumos::dladm::DeleteEtherstubError,
    illumos::dladm::CreateVnicError,
    illumos::dladm::DeleteVnicError,
    illumos::dladm::SetLinkPropError,
    illumos::dladm::ShowError,
    illumos::route::GetDefaultError,
    illumos::smf::SvcsError,
    illumos::smf::SvcadmError,
    illumos::smf::SvccfgError,
    illumos::smf::SvcpropError,
    illumos::services::ServicesError,
    illumos::power::PowerError,
    illumos::swap::SwapError,
    illumos::routeadm::ShowError,
    illumos::routeadm::SetError,
    illumos::ipadm::CreateIfError,
    illumos::ipadm::DeleteIfError,
    illumos::ipadm::CreateAddrError,
    illumos::ipadm::DeleteAddrError,
    illumos::ipadm::SetForwardingError,
    illumos::ipadm::ShowError,
    illumos::ipadm::addr::CreateAddrError,
    illumos::ipadm::addr::ToggleAddrError,
    illumos::dladm::vlan::CreateVlanError,
    illumos::dladm::vlan::DeleteVlanError,
    illumos::dladm::aggr::AggrError,
    illumos::dladm::bridge::BridgeError,
    illumos::read::ReadError,
    crate::network::paths::PathError,
);

/// A value refused, naming the request field at fault (a dotted path such as
/// `boot_volume.size`). Validation returns it wherever it runs: a handler answers it as a 400,
/// a task fails with the same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error and its causes as one line, each cause once (a cause whose text its parent already
/// shows is not repeated).
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = c.source();
    }
    s
}

fn cause<'a, T: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut at = Some(e);
    while let Some(c) = at {
        if let Some(t) = c.downcast_ref::<T>() {
            return Some(t);
        }
        at = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use illumos::{CommandError, CommandFailed};

    fn failed(stderr: &str) -> CommandError {
        CommandError::Failed(CommandFailed {
            argv: "/usr/sbin/zoneadm -z web boot".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: stderr.into(),
            hint: None,
        })
    }

    #[test]
    fn a_host_failure_reads_as_its_chain_with_the_tools_words() {
        let f = HostFailure::from(failed("zoneadm: zone 'web': must be installed\n"));
        assert!(f.to_string().contains("must be installed"), "{f}");
        assert!(!f.is_cancelled());
        assert!(f.cause::<CommandError>().is_some());
    }

    #[test]
    fn a_cancelled_command_is_told_apart() {
        let f = HostFailure::from(CommandError::Cancelled {
            argv: "zfs destroy".into(),
        });
        assert!(f.is_cancelled());
    }

    #[test]
    fn chain_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&e), "outer: inner");
    }
}
