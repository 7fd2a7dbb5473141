//! The one place that speaks to the operating system beyond the standard library: a port to
//! another system (Windows, macOS) starts here, by giving each function below its own body.
//! Everything else in nuvosync asks this module — or the checked file layer
//! ([`crate::localfs`]), whose descriptor-based walk is the other part a port replaces.
//!
//! | function | on Linux | what a port must provide |
//! |---|---|---|
//! | [`host_name`] | `/etc/hostname`, else `$HOSTNAME` | the machine's name, for conflicted copies |
//! | [`file_id`], [`device_id`] | the inode and device of `stat` | a number that stays with a file across renames (moves are recognised by it), and one per volume |
//! | [`mtime_ns`], [`ctime_ns`] | `st_mtime`, `st_ctime` in ns | the modification time, and a time the system sets on every change (the status-change time; else the modification time) |
//! | [`mode`], [`set_mode`], [`owner`], [`user_id`] | the mode bits (`fchmod`), the owner's uid, the effective uid | the same checks (only the user reads the state folder) in the system's own terms |
//! | [`rename_at`] | `renameat2`, with `RENAME_NOREPLACE` when nothing may be replaced | an atomic rename between two open folders that can refuse to replace |
//! | [`runtime_dir`], [`create_private_dir`], [`create_private_file`] | `$XDG_RUNTIME_DIR`; modes 0700 and 0600 | a per-user folder for short-lived files, and folders and files only the user can read |
//! | [`graphical_session`], [`open_url`] | `$DISPLAY` or `$WAYLAND_DISPLAY`; `xdg-open` | whether a browser can be shown, and the desktop's way to open a page |
//! | [`dir_events`] | `inotify`: one watch per folder, added by the scan's walk threads | reports of what changed in a folder (or "not supported": periodic rescans find changes then) |
//! | [`config_home`], [`autostart`] | `$XDG_CONFIG_HOME`; an XDG autostart entry, a systemd user unit | where per-user settings live, and an entry that starts nuvosync at login |
//!
//! Elsewhere (not Unix) every function exists too, so the module type-checks there: what
//! has a plain answer gives it (the modification time, the temp folder), the rest fails with
//! "not supported on this platform" or answers "unknown" (0, `None`, false).

pub mod autostart;
pub mod dir_events;
#[cfg(any(not(unix), test))]
mod other;
#[cfg(unix)]
mod unix;

#[cfg(not(unix))]
pub use other::*;
#[cfg(unix)]
pub use unix::*;

/// The error of what this platform does not do.
pub fn unsupported(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{what} is not supported on this platform"),
    )
}
