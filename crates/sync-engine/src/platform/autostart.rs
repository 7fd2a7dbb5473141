//! Start at login as the desktop knows it: where the entry that starts nuvosync lives, what
//! it says, and how the system is told about it. What starts, and when, is the caller's
//! (`nuvosync_api::autostart`).
//!
//! On Linux (and other free desktops) a program with a window — the tray app — gets an XDG
//! autostart desktop entry (`CONFIG_HOME/autostart/nuvosync.desktop`), a service — the
//! daemon — a systemd user unit (`CONFIG_HOME/systemd/user/nuvosync.service`, `Type=notify`)
//! that `systemctl --user` enables. A port gives these functions its own entries (macOS: a
//! launchd agent; Windows: a `Run` key or a startup shortcut) and says so in
//! [`supported`]; until then the caller refuses the setting.

use std::path::{Path, PathBuf};

/// Whether start at login can be set up here.
pub fn supported() -> bool {
    cfg!(all(unix, not(target_vendor = "apple")))
}

/// The tray app's entry.
pub fn app_entry(config_home: &Path) -> PathBuf {
    config_home.join("autostart/nuvosync.desktop")
}

/// The text of the tray app's entry: it starts `exe` with `flags` (written as they are).
pub fn app_entry_text(exe: &Path, flags: &[&str]) -> String {
    let mut cmd = desktop_quote(&exe.display().to_string());
    for f in flags {
        cmd.push(' ');
        cmd.push_str(f);
    }
    format!(
        "[Desktop Entry]\nType=Application\nName=nuvosync\nComment=Two-way Dropbox sync\nExec={cmd}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )
}

/// The daemon's entry (a service of the user's).
pub fn service_entry(config_home: &Path) -> PathBuf {
    config_home.join("systemd/user/nuvosync.service")
}

/// The text of the daemon's entry: it starts `exe` with `args` (flags as they are, values
/// quoted) and then `command`; the service tells when it is ready and is watched.
pub fn service_entry_text(exe: &Path, args: &[String], command: &str) -> String {
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
        "[Unit]\nDescription=nuvosync: two-way Dropbox sync\nAfter=network-online.target\n\n[Service]\nType=notify\nExecStart={cmd} {command}\nRestart=on-failure\nRestartSec=10\nWatchdogSec=60\n\n[Install]\nWantedBy=default.target\n"
    )
}

/// Have the service manager read the entries again (after one was written or removed).
pub fn reload_services() -> bool {
    systemctl(&["daemon-reload"])
}

/// Start the daemon's entry at the next logins (`systemctl --user enable`; not now).
pub fn enable_service() -> bool {
    systemctl(&["enable", "nuvosync.service"])
}

/// No longer start the daemon's entry at login (not `--now`: a running daemon keeps running).
pub fn disable_service() -> bool {
    systemctl(&["disable", "nuvosync.service"])
}

/// How a user starts the enabled daemon now.
pub const START_HINT: &str = "start it now with `systemctl --user start nuvosync`";
/// How a user enables the daemon's entry where nuvosync could not.
pub const ENABLE_HINT: &str =
    "enable it with `systemctl --user daemon-reload && systemctl --user enable --now nuvosync`";

fn systemctl(args: &[&str]) -> bool {
    supported()
        && std::process::Command::new("systemctl")
            .arg("--user")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
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
