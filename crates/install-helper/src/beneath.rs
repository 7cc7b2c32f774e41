//! File operations relative to an open directory, never following a symbolic link.
//!
//! The helper runs with euid 0 on paths below directories the caller may one day own (a
//! mountpoint it was handed). Checking a path with `lstat` and then using it by name would
//! leave a window in which a component is swapped for a link; instead every directory on the
//! way is opened with `O_NOFOLLOW` relative to its parent, and the last step works on that
//! descriptor (`openat`, `renameat`, `unlinkat`, `fchown`), so what was checked is what is
//! changed. These calls exist on illumos and Linux alike.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::policy::IPath;

/// An open directory.
pub struct Dir(OwnedFd);

fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// What a name in a directory is, looked at without following it.
pub enum Kind {
    Missing,
    Link,
    Dir,
    File(libc::stat),
    Socket,
    Other,
}

impl Dir {
    /// Opens the helper's root (a canonical path: no link to worry about).
    pub fn open_root(root: &Path) -> io::Result<Dir> {
        let c = cstr(&root.to_string_lossy())?;
        // SAFETY: a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = check(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Dir(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn fd(&self) -> libc::c_int {
        self.0.as_raw_fd()
    }

    pub fn kind(&self, name: &str) -> io::Result<Kind> {
        let c = cstr(name)?;
        // SAFETY: stat is plain old data; fstatat fills it or fails.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor, NUL-terminated name, a stat buffer we own.
        let r = unsafe { libc::fstatat(self.fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::NotFound {
                Ok(Kind::Missing)
            } else {
                Err(e)
            };
        }
        Ok(match st.st_mode & libc::S_IFMT {
            libc::S_IFLNK => Kind::Link,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFREG => Kind::File(st),
            libc::S_IFSOCK => Kind::Socket,
            _ => Kind::Other,
        })
    }

    /// Opens the subdirectory `name` (`O_NOFOLLOW`: a link in its place fails, not followed).
    pub fn sub(&self, name: &str) -> io::Result<Dir> {
        let c = cstr(name)?;
        // SAFETY: valid descriptor and name; the descriptor returned is owned below.
        let fd = check(unsafe {
            libc::openat(
                self.fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(Dir(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes this directory the process's working directory, so that a name in it can be
    /// used where no `*at` call exists (connect(2) on a UNIX socket).
    pub fn chdir(&self) -> io::Result<()> {
        // SAFETY: a valid descriptor.
        check(unsafe { libc::fchdir(self.fd()) }).map(drop)
    }

    /// Opens the regular file `name` for reading, without following a link.
    pub fn open_read(&self, name: &str) -> io::Result<File> {
        self.open(name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
    }

    /// Creates `name`, which must not exist, for writing.
    pub fn create_new(&self, name: &str, mode: libc::mode_t) -> io::Result<File> {
        self.open(
            name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            mode,
        )
    }

    fn open(&self, name: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<File> {
        let c = cstr(name)?;
        // SAFETY: valid descriptor and name; the descriptor returned is owned by the File.
        let fd = check(unsafe {
            libc::openat(
                self.fd(),
                c.as_ptr(),
                flags | libc::O_CLOEXEC,
                libc::c_uint::from(mode),
            )
        })?;
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Renames `from` to `to` within this directory (atomic: a reader sees one or the other).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (f, t) = (cstr(from)?, cstr(to)?);
        // SAFETY: valid descriptors and names.
        check(unsafe { libc::renameat(self.fd(), f.as_ptr(), self.fd(), t.as_ptr()) }).map(drop)
    }

    /// Removes the file `name`; one that is not there is already removed.
    pub fn unlink(&self, name: &str) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: valid descriptor and name.
        match check(unsafe { libc::unlinkat(self.fd(), c.as_ptr(), 0) }) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes this directory's entries (a rename, an unlink) durable.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: valid descriptor.
        check(unsafe { libc::fsync(self.fd()) }).map(drop)
    }

    pub fn stat(&self) -> io::Result<libc::stat> {
        fstat(self.fd())
    }

    /// Whether the directory holds nothing but `.` and `..`.
    pub fn is_empty(&self) -> io::Result<bool> {
        // fdopendir takes the descriptor it is given: hand it a duplicate.
        // SAFETY: valid descriptor.
        let dup = check(unsafe { libc::fcntl(self.fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `dup` is ours; on success the DIR stream owns it and closedir closes it.
        let stream = unsafe { libc::fdopendir(dup) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `dup` is still ours to close.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        let mut empty = true;
        loop {
            // SAFETY: a valid stream; the entry is read before the next readdir call.
            let ent = unsafe { libc::readdir(stream) };
            if ent.is_null() {
                break;
            }
            // SAFETY: d_name is a NUL-terminated array inside the entry.
            let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
            if name.to_bytes() != b"." && name.to_bytes() != b".." {
                empty = false;
                break;
            }
        }
        // SAFETY: the stream is valid and closed once.
        unsafe { libc::closedir(stream) };
        Ok(empty)
    }

    /// Gives the directory to `uid`:`gid`.
    pub fn chown(&self, uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
        // SAFETY: valid descriptor.
        check(unsafe { libc::fchown(self.fd(), uid, gid) }).map(drop)
    }
}

pub fn fstat(fd: libc::c_int) -> io::Result<libc::stat> {
    // SAFETY: stat is plain old data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a stat buffer we own.
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Sets a file's owner and mode through its descriptor.
pub fn own_file(
    f: &File,
    uid: libc::uid_t,
    gid: libc::gid_t,
    mode: libc::mode_t,
) -> io::Result<()> {
    // SAFETY: a valid descriptor owned by `f`.
    check(unsafe { libc::fchown(f.as_raw_fd(), uid, gid) })?;
    // SAFETY: as above.
    check(unsafe { libc::fchmod(f.as_raw_fd(), mode) }).map(drop)
}

/// Opens the directory holding `path` below `root`, refusing a component that is missing, a
/// symbolic link or not a directory. Returns it with the last component's name.
pub fn parent_of<'p>(root: &Dir, path: &'p IPath) -> Result<(Dir, &'p str), String> {
    parent_below(root, path, 0)
}

/// As [`parent_of`], from `start`, an open directory that is `path`'s first `depth`
/// components: what lies above it is not looked at again.
pub fn parent_below<'p>(
    start: &Dir,
    path: &'p IPath,
    depth: usize,
) -> Result<(Dir, &'p str), String> {
    let parts = path.components();
    let (last, dirs) = parts.split_last().expect("an IPath has a component");
    let mut dir = start.sub(".").map_err(|e| match depth {
        0 => format!("cannot open the root: {e}"),
        _ => format!("cannot open {}: {e}", path.prefix(depth)),
    })?;
    for (i, name) in dirs.iter().enumerate().skip(depth) {
        dir = dir.sub_dir(name, &path.prefix(i + 1))?;
    }
    Ok((dir, last))
}

impl Dir {
    /// Opens the subdirectory `name` (shown as `shown`), refusing what is missing, a symbolic
    /// link or not a directory.
    pub fn sub_dir(&self, name: &str, shown: &IPath) -> Result<Dir, String> {
        match self
            .kind(name)
            .map_err(|e| format!("cannot look at {shown}: {e}"))?
        {
            Kind::Dir => {}
            Kind::Missing => return Err(format!("{shown} does not exist")),
            Kind::Link => return Err(format!("{shown} is a symbolic link")),
            _ => return Err(format!("{shown} is not a directory")),
        }
        self.sub(name)
            .map_err(|e| format!("cannot open {shown}: {e}"))
    }
}
