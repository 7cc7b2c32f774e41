//! The host-wide lock: every invocation holds it around its read-modify-write of the state,
//! so concurrent tools see each other's changes whole. flock(2) is released by the kernel if
//! the process dies, so a killed invocation never wedges the host.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub struct HostLock {
    file: File,
}

impl HostLock {
    pub fn acquire(path: &Path) -> std::io::Result<HostLock> {
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            // A tool that needs no privilege (uname, kstat) runs with the caller's ids, which
            // may not write root's lock file: flock(2) locks a read-only descriptor as well.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => File::open(path)?,
            Err(e) => return Err(e),
        };
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(HostLock { file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release it too, this is just prompt.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
