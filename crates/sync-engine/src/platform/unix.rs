//! The platform functions on Unix (Linux first; see the table in the module above).

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use std::os::fd::BorrowedFd;

/// This machine's name: `/etc/hostname`, else `$HOSTNAME`, else "this computer".
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this computer".into())
}

/// The file's inode: the same file keeps it across renames.
pub fn file_id(md: &Metadata) -> u64 {
    md.ino()
}

/// The device the file is on.
pub fn device_id(md: &Metadata) -> u64 {
    md.dev()
}

/// Modification time in ns.
pub fn mtime_ns(md: &Metadata) -> i64 {
    md.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec())
}

/// Status-change time in ns (set by the kernel on every write, rename, chmod; never by a user).
pub fn ctime_ns(md: &Metadata) -> i64 {
    md.ctime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.ctime_nsec())
}

/// The permission bits (and the set-id and sticky bits) of the file's mode.
pub fn mode(md: &Metadata) -> u32 {
    md.permissions().mode()
}

/// Give the open file `f` the permission bits `mode`.
pub fn set_mode(f: &File, mode: u32) -> io::Result<()> {
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// The user who owns the file.
pub fn owner(md: &Metadata) -> u32 {
    md.uid()
}

/// The user this process runs as (its effective uid).
pub fn user_id() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Rename `from` in the folder `from_dir` to `to` in `to_dir`, atomically; with
/// `no_replace`, fail (`AlreadyExists`) rather than replace what is at `to`. On Linux one
/// `renameat2` call, with `RENAME_NOREPLACE`.
pub fn rename_at(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
    no_replace: bool,
) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let flags = if no_replace {
            rustix::fs::RenameFlags::NOREPLACE
        } else {
            rustix::fs::RenameFlags::empty()
        };
        rustix::fs::renameat_with(from_dir, from, to_dir, to, flags).map_err(io::Error::from)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        if no_replace {
            return Err(super::unsupported("renaming without replacing"));
        }
        rustix::fs::renameat(from_dir, from, to_dir, to).map_err(io::Error::from)
    }
}

/// A folder for this user's short-lived files: `$XDG_RUNTIME_DIR`, else the temp folder.
pub fn runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// Create the folder `path`, which only this user may enter (mode 0700).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

/// Create the new file `path` (never an existing one), which only this user may read (mode
/// 0600), open for writing.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Whether a browser can be shown: a graphical session (X11 or Wayland).
pub fn graphical_session() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

/// Open `target` (an address, or a file such as a page) with `opener`, or else the desktop's
/// opener (`xdg-open`); true when the opener says it did. Nothing is read from the terminal
/// or written to it.
pub fn open_url(target: &OsStr, opener: Option<&OsStr>) -> bool {
    std::process::Command::new(opener.unwrap_or(OsStr::new("xdg-open")))
        .arg(target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The folder of per-user configuration: `$XDG_CONFIG_HOME`, else `~/.config`; `None`
/// without a home folder.
pub fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })
}
