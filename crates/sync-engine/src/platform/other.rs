//! The platform functions where nuvosync has no port yet: plain answers where the standard
//! library has them, "unknown" or "not supported on this platform" for the rest (see the
//! table in the module above). Built in the tests on Unix too, so it keeps type-checking.

use super::unsupported;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// A handle of an open folder (a port's own type: a descriptor, a handle).
pub type BorrowedFd<'a> = std::marker::PhantomData<&'a ()>;

/// This machine's name: `$COMPUTERNAME`, else `$HOSTNAME`, else "this computer".
pub fn host_name() -> String {
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this computer".into())
}

/// Unknown (0): moves of local files are not recognised.
pub fn file_id(_md: &Metadata) -> u64 {
    0
}

/// Unknown (0).
pub fn device_id(_md: &Metadata) -> u64 {
    0
}

/// Modification time in ns.
pub fn mtime_ns(md: &Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// No status-change time: the modification time.
pub fn ctime_ns(md: &Metadata) -> i64 {
    mtime_ns(md)
}

/// Read-only or not, as mode bits of the owner only.
pub fn mode(md: &Metadata) -> u32 {
    if md.permissions().readonly() {
        0o400
    } else {
        0o600
    }
}

/// Read-only when `mode` lets no one write.
pub fn set_mode(f: &File, mode: u32) -> io::Result<()> {
    let mut p = f.metadata()?.permissions();
    p.set_readonly(mode & 0o222 == 0);
    f.set_permissions(p)
}

/// Unknown (0).
pub fn owner(_md: &Metadata) -> u32 {
    0
}

/// Unknown (0).
pub fn user_id() -> u32 {
    0
}

/// Not supported.
pub fn rename_at(
    _from_dir: BorrowedFd<'_>,
    _from: &str,
    _to_dir: BorrowedFd<'_>,
    _to: &str,
    _no_replace: bool,
) -> io::Result<()> {
    Err(unsupported("renaming within open folders"))
}

/// The temp folder.
pub fn runtime_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Not supported (nothing here makes a folder private).
pub fn create_private_dir(_path: &Path) -> io::Result<()> {
    Err(unsupported("a private folder"))
}

/// Not supported (nothing here makes a file private).
pub fn create_private_file(_path: &Path) -> io::Result<File> {
    Err(unsupported("a private file"))
}

/// Unknown: no.
pub fn graphical_session() -> bool {
    false
}

/// Only with an `opener` (there is no desktop opener here).
pub fn open_url(target: &OsStr, opener: Option<&OsStr>) -> bool {
    opener.is_some_and(|o| {
        std::process::Command::new(o)
            .arg(target)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Unknown.
pub fn config_home() -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_a_port_the_platform_says_what_it_cannot_do() {
        let md = std::fs::metadata(std::env::temp_dir()).unwrap();
        assert!(!super::host_name().is_empty());
        assert_eq!((super::file_id(&md), super::device_id(&md)), (0, 0));
        assert!(super::mtime_ns(&md) > 0 && super::ctime_ns(&md) == super::mtime_ns(&md));
        assert_eq!(
            (super::mode(&md), super::owner(&md), super::user_id()),
            (0o600, 0, 0)
        );
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("f")).unwrap();
        super::set_mode(&f, 0o444).unwrap();
        assert!(f.metadata().unwrap().permissions().readonly());
        let none = std::marker::PhantomData;
        let e = super::rename_at(none, "a", none, "b", true).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("not supported on this platform"));
        let p = std::env::temp_dir().join("nuvosync-platform-never-made");
        assert!(super::create_private_dir(&p).is_err() && super::create_private_file(&p).is_err());
        assert!(!p.exists());
        assert_eq!(super::runtime_dir(), std::env::temp_dir());
        assert!(!super::graphical_session() && super::config_home().is_none());
        assert!(!super::open_url("https://example.com".as_ref(), None));
        assert!(super::open_url("x".as_ref(), Some("true".as_ref())));
    }
}
