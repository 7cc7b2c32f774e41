//! Safe extraction of an artifact (tar, optionally gzip-compressed) into a directory.
//!
//! The archive is hostile until proven otherwise: an entry with an absolute path or `..`, a
//! device node or FIFO, a link pointing outside the directory, or a total over the configured
//! size or entry count is refused, and nothing is ever written through a symbolic link. After
//! unpacking, every symbolic link is resolved against what was made, so a link that only
//! escapes in combination with a later one is caught too.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("archive entry {path:?} refused: {why}")]
    Refused { path: String, why: &'static str },
    #[error("archive expands to more than {0} bytes")]
    TooBig(u64),
    #[error("archive has more than {0} entries")]
    TooManyEntries(u64),
    #[error("cannot read the archive: {0}")]
    Archive(io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
}

/// A relative path made only of normal components; `None` for anything else (absolute, `..`,
/// a Windows prefix, empty).
fn clean_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Where `target` (a link's target, relative to the link's directory `base`) lands, lexically,
/// as components below the root; `None` if it climbs out or is absolute.
fn lexical_inside(base: &Path, target: &Path) -> Option<Vec<std::ffi::OsString>> {
    if target.is_absolute() {
        return None;
    }
    let mut stack: Vec<std::ffi::OsString> = base
        .components()
        .filter_map(|c| match c {
            Component::Normal(x) => Some(x.to_owned()),
            _ => None,
        })
        .collect();
    for c in target.components() {
        match c {
            Component::Normal(x) => stack.push(x.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                stack.pop()?;
            }
            _ => return None,
        }
    }
    Some(stack)
}

/// Refuses to go through a symbolic link on the way to `rel`'s parent: every existing parent
/// component must be a real directory.
fn check_no_link_in_parents(root: &Path, rel: &Path, shown: &str) -> Result<(), ExtractError> {
    let mut cur = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ExtractError::Refused {
                        path: shown.to_owned(),
                        why: "it would be written through a symbolic link",
                    })
                }
                Ok(m) if !m.is_dir() => {
                    return Err(ExtractError::Refused {
                        path: shown.to_owned(),
                        why: "a parent is not a directory",
                    })
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Removes what is at `path` if it is a file or link (an archive may overwrite its own earlier
/// entry, never follow it).
fn clear_spot(path: &Path) -> Result<(), ExtractError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => fs::remove_file(path).map_err(write_err(path)),
        Err(_) => Ok(()),
    }
}

/// Unpacks `archive` (tar or tar.gz, detected by its magic) into `dest`, which must exist.
/// Checks `cancel` between entries.
pub fn extract(
    archive: &Path,
    dest: &Path,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Extracted, ExtractError> {
    let mut f = fs::File::open(archive).map_err(ExtractError::Archive)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(ExtractError::Archive)?;
    drop(f);
    let f = fs::File::open(archive).map_err(ExtractError::Archive)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(io::BufReader::new(f)))
    } else {
        Box::new(io::BufReader::new(f))
    };
    extract_from(reader, dest, limits, cancel)
}

pub fn extract_from(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
    cancel: &AtomicBool,
) -> Result<Extracted, ExtractError> {
    let mut ar = tar::Archive::new(reader);
    let mut done = Extracted::default();
    let mut links: Vec<PathBuf> = Vec::new();
    for entry in ar.entries().map_err(ExtractError::Archive)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(ExtractError::Cancelled);
        }
        let mut entry = entry.map_err(ExtractError::Archive)?;
        let count = done.files + done.dirs + done.links + 1;
        if count > limits.max_entries {
            return Err(ExtractError::TooManyEntries(limits.max_entries));
        }
        let raw = entry.path().map_err(ExtractError::Archive)?.into_owned();
        let shown = raw.display().to_string();
        let refused = |why| ExtractError::Refused {
            path: shown.clone(),
            why,
        };
        let kind = entry.header().entry_type();
        // PAX and GNU long-name headers are consumed by the tar reader; what is left here is
        // an entry to make or to refuse.
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if raw.is_absolute() {
            return Err(refused("absolute path"));
        }
        if raw.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(refused("path contains '..'"));
        }
        let rel = match clean_relative(&raw) {
            Some(r) => r,
            // "./" itself: the destination exists already.
            None if raw.components().all(|c| matches!(c, Component::CurDir)) => continue,
            None => return Err(refused("not a plain relative path")),
        };
        check_no_link_in_parents(dest, &rel, &shown)?;
        let target = dest.join(&rel);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        if kind.is_dir() {
            clear_spot(&target)?;
            fs::create_dir_all(&target).map_err(write_err(&target))?;
            set_mode(&target, mode | 0o700)?;
            done.dirs += 1;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let size = entry.header().size().map_err(ExtractError::Archive)?;
            if done.bytes + size > limits.max_bytes {
                return Err(ExtractError::TooBig(limits.max_bytes));
            }
            if let Some(p) = target.parent() {
                fs::create_dir_all(p).map_err(write_err(p))?;
            }
            clear_spot(&target)?;
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(write_err(&target))?;
            // Count what is actually read, not what the header claims.
            let mut limited = (&mut entry).take(limits.max_bytes - done.bytes + 1);
            let n = io::copy(&mut limited, &mut out).map_err(write_err(&target))?;
            done.bytes += n;
            if done.bytes > limits.max_bytes {
                return Err(ExtractError::TooBig(limits.max_bytes));
            }
            set_mode(&target, mode)?;
            done.files += 1;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(ExtractError::Archive)?
                .ok_or_else(|| refused("symbolic link without a target"))?
                .into_owned();
            let base = rel.parent().unwrap_or(Path::new(""));
            if lexical_inside(base, &link).is_none() {
                return Err(refused("symbolic link points outside the artifact"));
            }
            if let Some(p) = target.parent() {
                fs::create_dir_all(p).map_err(write_err(p))?;
            }
            clear_spot(&target)?;
            std::os::unix::fs::symlink(&link, &target).map_err(write_err(&target))?;
            links.push(rel);
            done.links += 1;
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(ExtractError::Archive)?
                .ok_or_else(|| refused("hard link without a target"))?
                .into_owned();
            // A hard link's target is relative to the archive root.
            let src_rel = clean_relative(&link)
                .filter(|_| !link.components().any(|c| matches!(c, Component::ParentDir)))
                .ok_or_else(|| refused("hard link points outside the artifact"))?;
            check_no_link_in_parents(dest, &src_rel, &shown)?;
            let src = dest.join(&src_rel);
            match fs::symlink_metadata(&src) {
                Ok(m) if m.is_file() => {}
                _ => {
                    return Err(refused(
                        "hard link to something that is not a file of the artifact",
                    ))
                }
            }
            if let Some(p) = target.parent() {
                fs::create_dir_all(p).map_err(write_err(p))?;
            }
            clear_spot(&target)?;
            fs::hard_link(&src, &target).map_err(write_err(&target))?;
            done.links += 1;
        } else if kind.is_character_special() || kind.is_block_special() {
            return Err(refused("device node"));
        } else if kind.is_fifo() {
            return Err(refused("FIFO"));
        } else {
            return Err(refused("unsupported entry type"));
        }
    }
    for l in &links {
        if !resolves_inside(dest, l) {
            return Err(ExtractError::Refused {
                path: l.display().to_string(),
                why: "symbolic link resolves outside the artifact",
            });
        }
    }
    Ok(done)
}

/// Follows `rel` (a symbolic link below `root`) through every link on the way, as the kernel
/// would, and says whether it stays below `root`.
fn resolves_inside(root: &Path, rel: &Path) -> bool {
    let mut todo: Vec<std::ffi::OsString> = rel
        .components()
        .rev()
        .map(|c| c.as_os_str().to_owned())
        .collect();
    let mut at: Vec<std::ffi::OsString> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            if at.pop().is_none() {
                return false;
            }
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        at.push(c);
        let here: PathBuf = std::iter::once(root.as_os_str().to_owned())
            .chain(at.iter().cloned())
            .collect();
        if let Ok(m) = fs::symlink_metadata(&here) {
            if m.file_type().is_symlink() {
                hops += 1;
                if hops > 40 {
                    return false;
                }
                let Ok(t) = fs::read_link(&here) else {
                    return false;
                };
                if t.is_absolute() {
                    return false;
                }
                at.pop();
                for tc in t.components().rev() {
                    todo.push(tc.as_os_str().to_owned());
                }
            }
        }
    }
    true
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ExtractError> {
    use std::os::unix::fs::PermissionsExt;
    // Never setuid, setgid or sticky: only the permission bits survive.
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o777)).map_err(write_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Dir {
        fn new(label: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "zw-extract-{}-{label}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    /// A raw tar header with any path (the tar crate's builder refuses hostile paths, so
    /// hostile archives are written by hand).
    fn header(path: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..path.len()].copy_from_slice(path.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn archive(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, kind, data, link) in entries {
            out.extend(header(path, *kind, data.len(), link));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend(vec![0u8; 1024]);
        out
    }

    fn run(bytes: &[u8], dest: &Path) -> Result<Extracted, ExtractError> {
        extract_from(bytes, dest, LIMITS, &AtomicBool::new(false))
    }

    #[test]
    fn a_plain_archive_unpacks_with_dirs_files_and_inside_links() {
        let d = Dir::new("ok");
        let a = archive(&[
            ("scripts/", b'5', b"", ""),
            ("scripts/setup.sh", b'0', b"echo hi\n", ""),
            ("scripts/link.sh", b'2', b"", "setup.sh"),
            ("top.sh", b'1', b"", "scripts/setup.sh"),
        ]);
        let got = run(&a, &d.0).unwrap();
        assert_eq!((got.files, got.dirs, got.links, got.bytes), (1, 1, 2, 8));
        assert_eq!(fs::read_to_string(d.0.join("top.sh")).unwrap(), "echo hi\n");
    }

    #[test]
    fn gzip_is_detected() {
        use std::io::Write;
        let d = Dir::new("gz");
        let a = archive(&[("a.txt", b'0', b"x", "")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&a).unwrap();
        let path = d.0.join("a.tgz");
        fs::write(&path, gz.finish().unwrap()).unwrap();
        let out = d.0.join("out");
        fs::create_dir(&out).unwrap();
        extract(&path, &out, LIMITS, &AtomicBool::new(false)).unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "x");
    }

    fn refused(entries: &[(&str, u8, &[u8], &str)]) -> String {
        let d = Dir::new("bad");
        let out = d.0.join("out");
        fs::create_dir(&out).unwrap();
        let err = run(&archive(entries), &out).unwrap_err().to_string();
        // Nothing landed outside the destination.
        let outside: Vec<_> = fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["out"], "{err}");
        err
    }

    #[test]
    fn hostile_entries_are_refused() {
        assert!(refused(&[("/etc/passwd", b'0', b"x", "")]).contains("absolute path"));
        assert!(refused(&[("../evil", b'0', b"x", "")]).contains(".."));
        assert!(refused(&[("a/../../evil", b'0', b"x", "")]).contains(".."));
        assert!(refused(&[("l", b'2', b"", "/etc")]).contains("outside"));
        assert!(refused(&[("l", b'2', b"", "../..")]).contains("outside"));
        assert!(refused(&[("h", b'1', b"", "../x")]).contains("outside"));
        assert!(refused(&[("h", b'1', b"", "/etc/shadow")]).contains("outside"));
        assert!(refused(&[("dev", b'3', b"", "")]).contains("device node"));
        assert!(refused(&[("blk", b'4', b"", "")]).contains("device node"));
        assert!(refused(&[("fifo", b'6', b"", "")]).contains("FIFO"));
    }

    #[test]
    fn writing_through_a_link_is_refused() {
        // A link to an inside directory, then a file "through" it.
        let err = refused(&[
            ("d/", b'5', b"", ""),
            ("l", b'2', b"", "d"),
            ("l/x", b'0', b"x", ""),
        ]);
        assert!(err.contains("symbolic link"), "{err}");
    }

    #[test]
    fn links_that_escape_only_together_are_caught() {
        // c -> deep/a/../.. looks inside until deep/a becomes a link to ../x.
        let err = refused(&[
            ("deep/", b'5', b"", ""),
            ("x/", b'5', b"", ""),
            ("c", b'2', b"", "deep/a/../.."),
            ("deep/a", b'2', b"", "../x"),
        ]);
        assert!(err.contains("resolves outside"), "{err}");
    }

    #[test]
    fn size_and_entry_limits_hold() {
        let d = Dir::new("limits");
        let big = vec![b'a'; 2048];
        let a = archive(&[("big", b'0', &big, "")]);
        let err = extract_from(
            &a[..],
            &d.0,
            Limits {
                max_bytes: 1024,
                max_entries: 10,
            },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::TooBig(1024)), "{err}");
        let many: Vec<(String, u8, &[u8], &str)> = (0..5)
            .map(|i| (format!("f{i}"), b'0', &b""[..], ""))
            .collect();
        let refs: Vec<(&str, u8, &[u8], &str)> = many
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), *b, *c, *d))
            .collect();
        let err = extract_from(
            &archive(&refs)[..],
            &d.0,
            Limits {
                max_bytes: 1024,
                max_entries: 3,
            },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::TooManyEntries(3)), "{err}");
    }
}
