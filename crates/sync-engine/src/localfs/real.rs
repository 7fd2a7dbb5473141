//! The checked file layer on the real disk: every path is resolved below an open folder
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a symbolic link anywhere on the
//! way — planted before the run or swapped in during it — makes the operation fail (`ELOOP`)
//! instead of leading out of the pair's folder.
//!
//! Where the kernel has no `openat2` (Linux before 5.6, or a sandbox that filters it: `ENOSYS`
//! or `EPERM`), paths are walked one folder at a time with `openat(O_PATH | O_DIRECTORY |
//! O_NOFOLLOW)`: a link or a file on the way fails with `ENOTDIR`. Never with plain paths.
//! The final operation is always made relative to the folder it happens in (`mkdirat`,
//! `renameat2`, `unlinkat`, `openat` with `O_NOFOLLOW` or `O_EXCL`), which never follows a
//! link in the last component either.

use super::{Dir, Fs};
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The real disk.
#[derive(Debug, Default)]
pub struct RealFs;

/// `openat2` is missing or filtered here: every resolution walks instead.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Make every resolution walk folder by folder, as on a kernel without `openat2` (tests of
/// the fallback). Returns the previous setting. (Feature `testing`.)
#[cfg(any(test, feature = "testing"))]
pub fn force_walk(on: bool) -> bool {
    NO_OPENAT2.swap(on, Ordering::SeqCst)
}

fn split(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((parent, name)) => (parent, name),
        None => ("", rel),
    }
}

fn dot(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

/// Open `rel` below `at` without following a link anywhere and without leaving `at`.
fn resolve(at: BorrowedFd<'_>, rel: &str, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        for _ in 0..8 {
            match rustix::fs::openat2(
                at,
                dot(rel),
                flags,
                mode,
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            ) {
                // A rename elsewhere raced the lookup; the kernel asks to try again.
                Err(Errno::AGAIN) => continue,
                Err(Errno::NOSYS) | Err(Errno::PERM) => {
                    NO_OPENAT2.store(true, Ordering::SeqCst);
                    break;
                }
                r => return r.map_err(io::Error::from),
            }
        }
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            return Err(io::Error::other(
                "the folder kept changing while a path in it was opened; try again",
            ));
        }
    }
    walk(at, rel, flags, mode)
}

/// The fallback: one folder at a time, never through a link (`O_NOFOLLOW` with
/// `O_DIRECTORY` fails with `ENOTDIR` on a link, as on a file).
fn walk(at: BorrowedFd<'_>, rel: &str, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
    if rel.is_empty() {
        return rustix::fs::openat(at, ".", flags, mode).map_err(io::Error::from);
    }
    let (parent, name) = split(rel);
    let dir = walk_dir(at, parent)?;
    let last = rustix::fs::openat(&dir, name, flags | OFlags::NOFOLLOW, mode);
    // With O_PATH and O_NOFOLLOW a final link opens as itself (lstat semantics), as with
    // openat2; a final link is refused otherwise (ELOOP), as with RESOLVE_NO_SYMLINKS.
    last.map_err(io::Error::from)
}

/// The folder `rel` below `at`, walked one component at a time.
fn walk_dir(at: BorrowedFd<'_>, rel: &str) -> io::Result<OwnedFd> {
    let step = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur = rustix::fs::openat(at, ".", step, Mode::empty())?;
    if rel.is_empty() {
        return Ok(cur);
    }
    for c in rel.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing the path component {c:?}"),
            ));
        }
        cur = rustix::fs::openat(&cur, c, step, Mode::empty())?;
    }
    Ok(cur)
}

/// The folder that holds `rel` (opened as a path: enough for the `*at` calls), and the name.
fn parent_of<'a>(at: &Dir, rel: &'a str) -> io::Result<(OwnedFd, &'a str)> {
    let (parent, name) = split(rel);
    if name.is_empty() || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing the path {rel:?}"),
        ));
    }
    let fd = resolve(
        at.fd(),
        parent,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )?;
    Ok((fd, name))
}

fn metadata(fd: OwnedFd) -> io::Result<Metadata> {
    File::from(fd).metadata()
}

impl Fs for RealFs {
    fn open_dir_path(&self, path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir::new(fd, path))
    }

    fn open_dir(&self, at: &Dir, rel: &str) -> io::Result<Dir> {
        let fd = resolve(
            at.fd(),
            rel,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        Ok(Dir::new(fd, &at.path().join(rel)))
    }

    fn stat(&self, at: &Dir, rel: &str) -> io::Result<Metadata> {
        metadata(resolve(
            at.fd(),
            rel,
            OFlags::PATH | OFlags::NOFOLLOW,
            Mode::empty(),
        )?)
    }

    fn list(&self, at: &Dir, rel: &str) -> io::Result<Vec<(OsString, Metadata)>> {
        let fd = resolve(
            at.fd(),
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        let dir_fd = rustix::io::dup(&fd)?;
        let mut d = rustix::fs::Dir::new(fd)?;
        let mut out = vec![];
        while let Some(e) = d.read() {
            let e = e?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let md = match rustix::fs::openat(
                &dir_fd,
                e.file_name(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => metadata(fd)?,
                Err(Errno::NOENT) => continue, // gone meanwhile
                Err(e) => return Err(e.into()),
            };
            out.push((std::ffi::OsStr::from_bytes(name).to_os_string(), md));
        }
        Ok(out)
    }

    fn mkdir(&self, at: &Dir, rel: &str, mode: Option<u32>) -> io::Result<()> {
        let (dir, name) = parent_of(at, rel)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode.unwrap_or(0o777)))?;
        if let Some(mode) = mode {
            // The umask may have taken bits away: the folder gets exactly `mode`.
            let fd = rustix::fs::openat(
                &dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        }
        Ok(())
    }

    fn create(&self, at: &Dir, rel: &str, mode: u32) -> io::Result<File> {
        let fd = resolve(
            at.fd(),
            rel,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
            Mode::from_raw_mode(mode),
        )?;
        Ok(File::from(fd))
    }

    fn open_read(&self, at: &Dir, rel: &str) -> io::Result<File> {
        open_regular(at, rel, OFlags::RDONLY, "not read")
    }

    fn open_write(&self, at: &Dir, rel: &str) -> io::Result<File> {
        open_regular(at, rel, OFlags::RDWR, "not written")
    }

    fn rename(
        &self,
        from_dir: &Dir,
        from: &str,
        to_dir: &Dir,
        to: &str,
        noreplace: bool,
    ) -> io::Result<()> {
        let (a, an) = parent_of(from_dir, from)?;
        let (b, bn) = parent_of(to_dir, to)?;
        crate::platform::rename_at(a.as_fd(), an, b.as_fd(), bn, noreplace)
    }

    fn remove_file(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let (dir, name) = parent_of(at, rel)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(io::Error::from)
    }

    fn remove_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let (dir, name) = parent_of(at, rel)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR).map_err(io::Error::from)
    }

    fn sync_file(&self, f: &File) -> io::Result<()> {
        f.sync_all()
    }

    fn sync_dir(&self, at: &Dir, rel: &str) -> io::Result<()> {
        let fd = resolve(
            at.fd(),
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        rustix::fs::fsync(&fd).map_err(io::Error::from)
    }
}

impl Dir {
    /// A folder handle from an open descriptor; `path` is for messages only.
    pub fn new(fd: OwnedFd, path: &Path) -> Dir {
        Dir {
            fd: Arc::new(fd),
            path: Arc::from(path),
        }
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Where it was when it was opened (for messages; it may have moved since).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The device and inode of the folder.
    pub fn id(&self) -> io::Result<(u64, u64)> {
        let st = rustix::fs::fstat(self.fd())?;
        Ok((st.st_dev, st.st_ino))
    }
}

/// Open the existing regular file `rel` (never through a link) with `access`. Non-blocking: a
/// pipe swapped in for a file would block the open until a writer came; it is refused instead
/// (a regular file ignores the flag). `refused` ends the message for what is not a file.
fn open_regular(at: &Dir, rel: &str, access: OFlags, refused: &str) -> io::Result<File> {
    let fd = resolve(
        at.fd(),
        rel,
        access | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let f = File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file (a folder, pipe, socket or device): {refused}"),
        ));
    }
    Ok(f)
}
