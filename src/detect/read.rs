//! Reading a repository's files as untrusted input: only regular files (a FIFO named
//! `package.json` would hang the run; a link to `/dev/zero` would fill memory), never through a
//! symbolic link, never outside the repository, and at most [`MAX_BYTES`] of each. What is
//! refused becomes a warning in the detection result, not an error.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest manifest read; real ones are a few KiB, the largest seen (a monorepo's
/// package.json) a few hundred.
pub const MAX_BYTES: u64 = 1 << 20;
/// How many `-r` includes deep a requirements file may pull others in.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// The text of the regular file at `path`, without following a link at its last component and
/// without blocking on a FIFO or device.
pub fn text(path: &Path) -> io::Result<String> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
    );
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(io::Error::other("a symbolic link; not followed"));
    }
    let opened = options.open(path);
    #[cfg(unix)]
    let opened = opened.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => io::Error::other("a symbolic link; not followed"),
        _ => e,
    });
    let file = opened?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("not a regular file; skipped"));
    }
    if meta.len() > MAX_BYTES {
        return Err(io::Error::other(format!(
            "{} bytes, more than the {} KiB read from a manifest; skipped",
            meta.len(),
            MAX_BYTES / 1024
        )));
    }
    let mut text = String::new();
    // Bounded again while reading: the file may grow after the size was read.
    file.take(MAX_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// `path` resolved and spelled from `root` again (so the walk's paths and an include's meet),
/// when it is inside `root`: includes such as `-r ../../x` and links out of the repository are
/// refused.
pub fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let canonical_root = root.canonicalize().ok()?;
    let resolved = path.canonicalize().ok()?;
    let rel = resolved.strip_prefix(&canonical_root).ok()?;
    Some(root.join(rel))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files_inside_the_root_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("ok.txt"), "pg\n").unwrap();
        assert_eq!(text(&root.join("ok.txt")).unwrap(), "pg\n");

        std::os::unix::fs::symlink("/dev/zero", root.join("zero")).unwrap();
        assert!(text(&root.join("zero")).is_err());
        let fifo = root.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a plain mkfifo on a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(text(&fifo).is_err(), "a FIFO is refused without blocking");
        std::fs::write(root.join("big"), vec![b'a'; MAX_BYTES as usize + 1]).unwrap();
        assert!(text(&root.join("big")).is_err());

        assert!(inside(root, &root.join("ok.txt")).is_some());
        assert!(inside(root, &root.join("sub/../../etc/passwd")).is_none());
        assert!(inside(root, Path::new("/etc/passwd")).is_none());
    }
}
