//! Start at login: the one place that writes and removes the system's entry for it, whoever
//! changes the `autostart` setting — the CLI, the control socket, the tray app.
//!
//! The entry starts what runs this profile: the tray app (started `--hidden`), or the
//! headless daemon of the profile (`nuvosync --config-dir … --state-dir … daemon`). Where the
//! entry lives, what it says and how the system is told are the platform's
//! ([`sync_engine::platform::autostart`]: on Linux an XDG autostart desktop entry for the app,
//! a systemd user unit for the daemon).

use crate::Paths;
use crate::error::{ApiError, ErrorCode};
use std::path::{Path, PathBuf};
use sync_engine::platform::autostart as os;

/// What starts at login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The tray app.
    App {
        /// The app's program.
        exe: PathBuf,
    },
    /// The headless daemon (`nuvosync daemon`).
    Daemon {
        /// The CLI's program.
        exe: PathBuf,
        /// The profile's arguments (`--config-dir`, `--state-dir`).
        args: Vec<String>,
    },
}

/// Where and how the entry is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Autostart {
    /// What starts.
    pub kind: Kind,
    /// The folder of per-user configuration (`$XDG_CONFIG_HOME`, else `~/.config`).
    pub config_home: PathBuf,
    /// Tell the system's service manager (the user's systemd) about the daemon's entry (off
    /// where the entry is not the user's own, as in the demo).
    pub systemd: bool,
}

fn io(file: &Path) -> impl Fn(std::io::Error) -> ApiError + '_ {
    move |e| {
        ApiError::new(
            ErrorCode::Io,
            format!("cannot change the autostart entry {}: {e}", file.display()),
        )
    }
}

impl Autostart {
    /// The entry of this process's kind (the tray app when its program is `nuvosync-app`,
    /// else the daemon of `paths`' profile); `None` when there is no home folder to put it in.
    pub fn for_this_process(paths: &Paths) -> Option<Autostart> {
        let config_home = sync_engine::platform::config_home()?;
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("nuvosync"));
        let kind = if exe.file_name().is_some_and(|n| n == "nuvosync-app") {
            Kind::App { exe }
        } else {
            Kind::Daemon {
                exe,
                args: vec![
                    "--config-dir".into(),
                    paths.config_dir.display().to_string(),
                    "--state-dir".into(),
                    paths.state_dir.display().to_string(),
                ],
            }
        };
        Some(Autostart {
            kind,
            config_home,
            systemd: true,
        })
    }

    /// The entry's file.
    pub fn entry(&self) -> PathBuf {
        match self.kind {
            Kind::App { .. } => os::app_entry(&self.config_home),
            Kind::Daemon { .. } => os::service_entry(&self.config_home),
        }
    }

    /// The entry's text.
    fn text(&self) -> String {
        match &self.kind {
            Kind::App { exe } => os::app_entry_text(exe, &["--hidden"]),
            Kind::Daemon { exe, args } => os::service_entry_text(exe, args, "daemon"),
        }
    }

    /// Tell the service manager, if this entry is the user's own.
    fn tell(&self, what: fn() -> bool) -> bool {
        self.systemd && what()
    }

    /// Write (`on`) or remove the entry; returns what was done, for people.
    pub fn set(&self, on: bool) -> Result<String, ApiError> {
        let file = self.entry();
        if !os::supported() {
            return Err(ApiError::new(
                ErrorCode::Io,
                "start at login is not supported on this platform",
            ));
        }
        let is_unit = matches!(self.kind, Kind::Daemon { .. });
        if !on {
            if is_unit {
                // A daemon asked through its own socket keeps running.
                self.tell(os::disable_service);
            }
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&file)(e)),
            }
            if is_unit {
                self.tell(os::reload_services);
            }
            return Ok(format!("autostart disabled ({} removed)", file.display()));
        }
        let dir = file.parent().unwrap_or(&self.config_home);
        std::fs::create_dir_all(dir).map_err(io(&file))?;
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, self.text())
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(io(&file))?;
        if !is_unit {
            return Ok(format!("autostart enabled: {}", file.display()));
        }
        if self.tell(os::reload_services) && self.tell(os::enable_service) {
            Ok(format!(
                "autostart enabled: {} ({})",
                file.display(),
                os::START_HINT
            ))
        } else {
            Ok(format!("wrote {}; {}", file.display(), os::ENABLE_HINT))
        }
    }
}
