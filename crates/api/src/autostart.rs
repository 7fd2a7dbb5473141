//! Start at login: the one place that writes and removes the system's entry for it, whoever
//! changes the `autostart` setting — the CLI, the control socket, the tray app.
//!
//! The entry starts what runs this profile: the tray app gets an XDG autostart desktop entry
//! (`$XDG_CONFIG_HOME/autostart/nuvosync.desktop`, started `--hidden`), the headless daemon a
//! systemd user unit (`$XDG_CONFIG_HOME/systemd/user/nuvosync.service`, `Type=notify`).

use crate::Paths;
use crate::error::{ApiError, ErrorCode};
use std::path::{Path, PathBuf};

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
    /// Tell the user's systemd about the unit (off where the entry is not the user's own,
    /// as in the demo).
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

/// `s` as one argument of a desktop entry's `Exec=` (quoted, per the Desktop Entry spec).
fn desktop_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `s` as one argument of a systemd `ExecStart=` (single-quoted; `'` and `\` escaped).
fn systemd_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Autostart {
    /// The entry of this process's kind (the tray app when its program is `nuvosync-app`,
    /// else the daemon of `paths`' profile); `None` when there is no home folder to put it in.
    pub fn for_this_process(paths: &Paths) -> Option<Autostart> {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })?;
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
            Kind::App { .. } => self.config_home.join("autostart/nuvosync.desktop"),
            Kind::Daemon { .. } => self.config_home.join("systemd/user/nuvosync.service"),
        }
    }

    /// The entry's text.
    fn text(&self) -> String {
        match &self.kind {
            Kind::App { exe } => format!(
                "[Desktop Entry]\nType=Application\nName=nuvosync\nComment=Two-way Dropbox sync\nExec={} --hidden\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
                desktop_quote(&exe.display().to_string())
            ),
            Kind::Daemon { exe, args } => {
                let mut cmd = systemd_quote(&exe.display().to_string());
                for a in args {
                    cmd.push(' ');
                    // Flags as they are, values quoted.
                    if a.starts_with("--") {
                        cmd.push_str(a);
                    } else {
                        cmd.push_str(&systemd_quote(a));
                    }
                }
                format!(
                    "[Unit]\nDescription=nuvosync: two-way Dropbox sync\nAfter=network-online.target\n\n[Service]\nType=notify\nExecStart={cmd} daemon\nRestart=on-failure\nRestartSec=10\nWatchdogSec=60\n\n[Install]\nWantedBy=default.target\n"
                )
            }
        }
    }

    fn systemctl(&self, args: &[&str]) -> bool {
        self.systemd
            && std::process::Command::new("systemctl")
                .arg("--user")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Write (`on`) or remove the entry; returns what was done, for people.
    pub fn set(&self, on: bool) -> Result<String, ApiError> {
        let file = self.entry();
        let is_unit = matches!(self.kind, Kind::Daemon { .. });
        if !on {
            if is_unit {
                // Not `--now`: a daemon asked through its own socket keeps running.
                self.systemctl(&["disable", "nuvosync.service"]);
            }
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&file)(e)),
            }
            if is_unit {
                self.systemctl(&["daemon-reload"]);
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
        if self.systemctl(&["daemon-reload"]) && self.systemctl(&["enable", "nuvosync.service"]) {
            Ok(format!(
                "autostart enabled: {} (start it now with `systemctl --user start nuvosync`)",
                file.display()
            ))
        } else {
            Ok(format!(
                "wrote {}; enable it with `systemctl --user daemon-reload && systemctl --user enable --now nuvosync`",
                file.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_quote_what_they_start() {
        assert_eq!(
            desktop_quote("/opt/my \"app\"/$x"),
            "\"/opt/my \\\"app\\\"/\\$x\""
        );
        assert_eq!(systemd_quote("/home/o'neil/bin"), "'/home/o\\'neil/bin'");
    }
}
