//! One nuvosync at a time per profile: an exclusive `flock` on `<state dir>/nuvosync.lock`,
//! taken before any pair runs — by the daemon, by `sync --once`, by the tray app, and by the
//! in-process commands that change a pair's state (restore, resolve, rebuild-index, removing
//! a pair). Two engines on one index would each take the other's work for changes and race
//! on the same files.
//!
//! The control socket is not enough as a guard: its path depends on `XDG_RUNTIME_DIR` (two
//! shells, `sudo -u`, a systemd unit and a desktop session can disagree), and the app starts
//! its runners before it binds the socket. The lock lives with what it protects (the state
//! folder and its indexes), and the kernel drops it when the process ends however it ends, so
//! a crash never leaves a stale lock behind. The holder writes its pid and what it is into the
//! file, so that a refusal can name it.

use crate::config::Paths;
use crate::error::{ApiError, ErrorCode};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name in the state folder.
pub const LOCK_FILE: &str = "nuvosync.lock";

/// Held while this process may run pairs; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

/// What this process is, for a refusal met by another one: the program and its command
/// (`nuvosync daemon`, `nuvosync sync`, `nuvosync-app`). Arguments never hold a secret.
pub fn describe_self() -> String {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| "nuvosync".into());
    // The first word that is a command, not a flag or its value.
    let command = args
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| {
            matches!(
                a.as_str(),
                "daemon" | "sync" | "restore" | "resolve" | "rebuild-index" | "pair" | "demo"
            )
        })
        .unwrap_or_default();
    if command.is_empty() {
        program
    } else {
        format!("{program} {command}")
    }
}

/// Create the state folder (and its parents) readable by this user only, whatever the umask;
/// an existing folder is left as it is.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent)?;
        }
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl InstanceLock {
    /// Take the lock of the profile's state folder, or say which process has it and what to
    /// do. Never waits.
    pub fn acquire(paths: &Paths) -> Result<InstanceLock, ApiError> {
        let dir = &paths.state_dir;
        let io = |what: &str, e: std::io::Error| {
            ApiError::new(
                ErrorCode::Io,
                format!(
                    "cannot {what} in nuvosync's state folder {}: {e} — check that it is yours and writable",
                    dir.display()
                ),
            )
        };
        make_private_dir(dir).map_err(|e| io("create the lock", e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc_o_nofollow())
            .open(&path)
            .map_err(|e| io("open the lock", e))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(refusal(dir, &holder));
            }
            Err(e) => return Err(io("lock", e.into())),
        }
        let me = format!("{}\n{}\n", std::process::id(), describe_self());
        let written = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(me.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("cannot note this process in {}: {e}", path.display());
        }
        tracing::debug!(lock = %path.display(), "this process runs the pairs of this profile");
        Ok(InstanceLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `O_NOFOLLOW`: the lock file is never a link to somewhere else.
fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// The refusal met by a second process: who holds the lock, and the ways on.
fn refusal(dir: &Path, holder: &str) -> ApiError {
    let mut lines = holder.lines();
    let pid = lines.next().map(str::trim).filter(|p| !p.is_empty());
    let what = lines
        .next()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .unwrap_or("nuvosync");
    let who = match pid {
        Some(pid) => format!("{what} (pid {pid})"),
        None => what.to_string(),
    };
    let way_on = if what.ends_with(" sync") {
        "wait until it has finished, then run this again"
    } else {
        "it syncs these pairs already: see `nuvosync status`; to run this instead, stop it first (`nuvosync stop`, or Quit in the app's tray menu)"
    };
    ApiError::new(
        ErrorCode::AlreadyRunning,
        format!(
            "another nuvosync is already running with the state folder {}: {who} — {way_on} (a separate profile needs its own --state-dir)",
            dir.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let first = InstanceLock::acquire(&paths).unwrap();
        let e = InstanceLock::acquire(&paths).unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyRunning);
        assert!(
            e.message.contains(&format!("(pid {})", std::process::id())),
            "{}",
            e.message
        );
        assert!(e.message.contains("nuvosync stop"), "{}", e.message);
        drop(first);
        let again = InstanceLock::acquire(&paths).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(again.path()), 0o600);
        assert_eq!(mode(&paths.state_dir), 0o700);
    }

    #[test]
    fn a_refusal_of_a_one_shot_sync_says_to_wait() {
        let e = refusal(Path::new("/s"), "42\nnuvosync sync\n");
        assert!(
            e.message.contains("nuvosync sync (pid 42)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("wait until it has finished"));
        let e = refusal(Path::new("/s"), "");
        assert!(e.message.contains("another nuvosync"), "{}", e.message);
    }
}
