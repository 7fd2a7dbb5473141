//! What the tray shows, as a pure function of the status: the icon for the state, the
//! one-line status (tooltip and menu), and the labels of the toggles. The tray app only
//! renders it, so tests check the tray through the same API the tray code uses.

use crate::dto::{PairState, StatusDto};

/// The tray's look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrayModel {
    /// Icon name (`icons/tray/<icon>-<light|dark>.png`).
    pub icon: &'static str,
    /// One line: tooltip and the menu's status line.
    pub status_line: String,
    /// "Pause syncing" or "Resume syncing".
    pub pause_label: &'static str,
    /// Every pair is paused.
    pub paused: bool,
    /// "Link Dropbox…" or "Unlink Dropbox".
    pub link_label: &'static str,
    /// The web address of the first pair's Dropbox folder.
    pub web_url: Option<String>,
    /// The first pair's local folder.
    pub local: Option<String>,
}

/// The icon name for a state.
pub fn icon_for(state: &PairState) -> &'static str {
    match state {
        PairState::UpToDate => "up_to_date",
        PairState::Syncing => "syncing",
        PairState::Paused => "paused",
        PairState::Offline => "offline",
        PairState::Attention => "attention",
        PairState::Error => "error",
    }
}

impl TrayModel {
    /// The tray for a status.
    pub fn from_status(s: &StatusDto) -> TrayModel {
        let paused = !s.pairs.is_empty() && s.pairs.iter().all(|p| p.paused);
        TrayModel {
            icon: icon_for(&s.state),
            status_line: format!("nuvosync: {}", s.summary),
            pause_label: if paused {
                "Resume syncing"
            } else {
                "Pause syncing"
            },
            paused,
            link_label: if s.linked {
                "Unlink Dropbox"
            } else {
                "Link Dropbox…"
            },
            web_url: s.pairs.first().map(|p| p.web_url.clone()),
            local: s.pairs.first().map(|p| p.local.clone()),
        }
    }
}
