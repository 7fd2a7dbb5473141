//! Careful local file operations: the pair's private temp folder, renames that never
//! replace, the re-check of a file against what was observed, and deletion to the trash.
//!
//! Temporary files live in `<root>/.nuvosync/tmp/` — on the same file system as the target
//! (so the final rename is atomic) but outside every synced folder, so a partial download is
//! never visible where the user looks.
//!
//! Nothing is ever written outside the pair's folder: [`abs`] refuses a relative path that
//! could climb out of it (remote paths are checked where they enter, in
//! [`crate::remote::RemoteRoot`]; this is the last line), and [`inside`] also refuses one that
//! passes through a symbolic link or a file on its way down (the scanner never follows
//! links, so anything below one is not ours to write).

use crate::index::Sig;
use crate::rules::STATE_DIR;
use crate::scan::sig_of;
use std::io;
use std::path::{Path, PathBuf};
use sync_core::{LocalKind, LocalNode};

/// The absolute path of a pair-relative display path (`/a/b`). A path that is not of that
/// form — an empty, `.` or `..` component, a NUL — is refused (`InvalidInput`): it could
/// lead out of the pair's folder.
pub fn abs(root: &Path, rel: &str) -> io::Result<PathBuf> {
    let below = rel.strip_prefix('/').unwrap_or(rel);
    if !rel.is_empty()
        && (!rel.starts_with('/')
            || below
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0')))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing the path {rel:?}: it could lead out of the synced folder"),
        ));
    }
    Ok(root.join(below))
}

/// [`abs`], and every folder on the way from `root` down to the path that exists is a real
/// folder — not a symbolic link, not a file — so that what is written there lands inside
/// the pair's folder. The path itself may be anything (or nothing). `NotFound` means the
/// pair's folder itself is gone (see [`root_present`]).
pub fn inside(root: &Path, rel: &str) -> io::Result<PathBuf> {
    root_present(root)?;
    let path = abs(root, rel)?;
    let mut at = root.to_path_buf();
    let comps: Vec<&str> = rel.split('/').skip(1).collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(md) if md.is_dir() => {}
            Ok(md) => {
                let what = if md.file_type().is_symlink() {
                    "a symbolic link"
                } else {
                    "not a folder"
                };
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!(
                        "{} is {what}, so nothing is written below it — replace it with a folder to sync what Dropbox has there",
                        at.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => break, // created on the way
            Err(e) => return Err(e),
        }
    }
    Ok(path)
}

/// The pair's folder is there. Nothing is ever created below a folder that went away (an
/// unmounted drive, a folder moved or deleted): brought back with a few new files in it, it
/// would look as if everything else had been deleted.
pub fn root_present(root: &Path) -> io::Result<()> {
    match std::fs::metadata(root) {
        Ok(md) if md.is_dir() => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the synced folder {} is gone (unmounted, moved or deleted?)",
                root.display()
            ),
        )),
    }
}

/// The pair's private folder, created on demand (never the pair's folder itself).
pub fn state_dir(root: &Path) -> io::Result<PathBuf> {
    root_present(root)?;
    let d = root.join(STATE_DIR);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// A fresh temp file path in the pair's private temp folder.
pub fn temp_path(root: &Path) -> io::Result<PathBuf> {
    let dir = state_dir(root)?.join("tmp");
    std::fs::create_dir_all(&dir)?;
    let n: u64 = rand::random();
    Ok(dir.join(format!("dl-{n:016x}.part")))
}

/// Remove leftovers of interrupted transfers.
pub fn clean_temp(root: &Path) {
    if let Ok(rd) = std::fs::read_dir(root.join(STATE_DIR).join("tmp")) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Rename `from` to `to`, failing with `AlreadyExists` rather than replacing anything.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(io::Error::from)
}

/// Create the parent folders of `path` (existing ones are fine; a file in the way is an error).
pub fn ensure_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(p) => std::fs::create_dir_all(p),
        None => Ok(()),
    }
}

/// Does the entry at `path` still match the observed node (same kind, inode, size, mtime)?
pub fn matches(path: &Path, node: &LocalNode) -> bool {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let sig = sig_of(&md);
    match &node.kind {
        LocalKind::Folder => sig.folder && sig.inode == node.inode,
        LocalKind::File { size, mtime_ns, .. } => {
            !sig.folder && sig.inode == node.inode && sig.size == *size && sig.mtime_ns == *mtime_ns
        }
    }
}

/// The signature of what is at `path` now, if anything.
pub fn current_sig(path: &Path) -> Option<Sig> {
    std::fs::symlink_metadata(path).ok().map(|md| sig_of(&md))
}

/// Move `path` to the OS trash (when `os_trash`); where there is none (or it refuses), into
/// `<root>/.nuvosync/trash/<stamp>/` — never delete outright.
pub fn to_trash(root: &Path, rel: &str, stamp: &str, os_trash: bool) -> io::Result<()> {
    let path = inside(root, rel)?;
    if os_trash && trash::delete(&path).is_ok() {
        return Ok(());
    }
    let dest = state_dir(root)?
        .join("trash")
        .join(stamp)
        .join(rel.trim_start_matches('/'));
    ensure_parent(&dest)?;
    let mut target = dest.clone();
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = PathBuf::from(format!("{}.{n}", dest.display()));
    }
    std::fs::rename(&path, &target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreplace_refuses_to_clobber() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"a").unwrap();
        std::fs::write(d.path().join("b"), b"b").unwrap();
        let e = rename_noreplace(&d.path().join("a"), &d.path().join("b")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(d.path().join("b")).unwrap(), b"b");
        rename_noreplace(&d.path().join("a"), &d.path().join("c")).unwrap();
    }

    #[test]
    fn paths_never_lead_out_of_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        assert_eq!(abs(&root, "/a/b").unwrap(), root.join("a/b"));
        assert_eq!(abs(&root, "").unwrap(), root);
        for bad in [
            "/../x",
            "/a/../../x",
            "/./x",
            "//etc/passwd",
            "/a/",
            "a/b",
            "/a\0b",
        ] {
            let e = abs(&root, bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
        // Through a link to elsewhere, or below a file: refused; below a missing folder: fine.
        std::fs::create_dir_all(d.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(d.path().join("elsewhere"), root.join("link")).unwrap();
        std::fs::write(root.join("file"), b"f").unwrap();
        for bad in ["/link/x", "/link/deeper/x", "/file/x"] {
            let e = inside(&root, bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotADirectory, "{bad}");
        }
        assert_eq!(inside(&root, "/link").unwrap(), root.join("link"));
        assert_eq!(inside(&root, "/a/new/x").unwrap(), root.join("a/new/x"));
        assert!(to_trash(&root, "/link/x", "s", false).is_err());
    }

    #[test]
    fn trash_fallback_keeps_the_data() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x/y")).unwrap();
        std::fs::write(d.path().join("x/y/f"), b"keep me").unwrap();
        to_trash(d.path(), "/x", "stamp", false).unwrap();
        assert!(!d.path().join("x").exists());
        assert_eq!(
            std::fs::read(d.path().join(".nuvosync/trash/stamp/x/y/f")).unwrap(),
            b"keep me"
        );
    }
}
