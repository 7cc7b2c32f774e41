//! Whether a change outlives a reboot: the `-t` flag of `dladm`, `ipadm` and `svcadm`.

/// Spelled out at call sites instead of a bare boolean (`create_vnic(.., Persistence::Temporary)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// Written to the tool's persistent configuration and applied now.
    Persistent,
    /// `-t`: applied now, gone after a reboot (reference §1.5: Oxide always uses `-t` for links).
    Temporary,
}

impl Persistence {
    /// The flag to add, if any.
    pub(crate) fn flag(self) -> Option<&'static str> {
        match self {
            Persistence::Persistent => None,
            Persistence::Temporary => Some("-t"),
        }
    }
}
