//! Files the helper believes: root's, and writable by nobody else. The policy and the zones'
//! index decide what a root process touches, so a copy someone else could have written is
//! worth nothing.

use crate::beneath::{self, Dir};
use crate::policy::IPath;
use crate::verbs;

/// The content of `path` below `root` (`shown` in messages), `None` when it does not exist.
/// Reached without following a link; refused when not owned by root or when group or other
/// may write it. Every error starts with `shown`.
pub fn read(root: &Dir, path: &IPath, shown: &str) -> Result<Option<Vec<u8>>, String> {
    let (parent, name) =
        beneath::parent_of(root, path).map_err(|e| format!("{shown} cannot be read ({e})"))?;
    let Some((bytes, st)) =
        verbs::read_regular(&parent, name, path).map_err(|e| format!("{shown}: {e}"))?
    else {
        return Ok(None);
    };
    if st.st_uid != 0 {
        return Err(format!("{shown} is owned by uid {}, not root", st.st_uid));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "{shown} is group- or other-writable (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    Ok(Some(bytes))
}
