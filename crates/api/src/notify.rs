//! Which desktop notifications to show, and when: conflicts, errors that need the user,
//! guards that paused sync and detected snapshot restores at once; finished files batched
//! into one "N files synced" per window — never one per file. The level and snooze settings
//! apply. Pure: time is passed in.

use crate::config::NotifyLevel;
use crate::dto::EventDto;

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Needs the user (kept when only "attention" notifications are wanted).
    pub attention: bool,
    /// Opens the restore wizard when clicked.
    pub restore: bool,
}

/// Turns events into notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    synced: u64,
    window_start: Option<i64>,
}

/// Seconds over which finished files are summed into one notification.
pub const BATCH_SECS: i64 = 10;

impl Notifier {
    /// Feed an event at time `now` (seconds); returns what to show now.
    pub fn event(
        &mut self,
        e: &EventDto,
        now: i64,
        level: NotifyLevel,
        snoozed: bool,
    ) -> Vec<Notification> {
        let mut out = vec![];
        match e {
            EventDto::Synced { .. } => {
                self.synced += 1;
                self.window_start.get_or_insert(now);
            }
            EventDto::Conflict {
                path, copy_path, ..
            } => out.push(Notification {
                title: "Conflict: both versions kept".into(),
                body: format!(
                    "{path} was changed here and on Dropbox. Your version is saved as {copy_path}."
                ),
                attention: true,
                restore: false,
            }),
            EventDto::Paused { message, code, .. } => out.push(Notification {
                title: if code == "restore_detected" {
                    "Snapshot restore detected — sync paused".into()
                } else {
                    "Sync paused".into()
                },
                body: message.clone(),
                attention: true,
                restore: code == "restore_detected",
            }),
            EventDto::FileError { path, message, .. } => out.push(Notification {
                title: format!("Cannot sync {path}"),
                body: message.clone(),
                attention: true,
                restore: false,
            }),
            _ => {}
        }
        out.extend(self.tick(now));
        filter(out, level, snoozed)
    }

    /// Called now and then: flushes the batch when its window has passed.
    pub fn tick(&mut self, now: i64) -> Vec<Notification> {
        match self.window_start {
            Some(start) if now - start >= BATCH_SECS && self.synced > 0 => {
                let n = std::mem::take(&mut self.synced);
                self.window_start = None;
                vec![Notification {
                    title: "nuvosync".into(),
                    body: format!("{n} file{} synced", if n == 1 { "" } else { "s" }),
                    attention: false,
                    restore: false,
                }]
            }
            _ => vec![],
        }
    }
}

/// Apply the level and the snooze.
pub fn filter(n: Vec<Notification>, level: NotifyLevel, snoozed: bool) -> Vec<Notification> {
    if snoozed {
        return vec![];
    }
    match level {
        NotifyLevel::Off => vec![],
        NotifyLevel::Attention => n.into_iter().filter(|n| n.attention).collect(),
        NotifyLevel::All => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced() -> EventDto {
        EventDto::Synced {
            pair: "p".into(),
            path: "/a".into(),
            action: "uploaded".into(),
        }
    }

    #[test]
    fn finished_files_are_batched_never_one_per_file() {
        let mut n = Notifier::default();
        for i in 0..25 {
            assert!(
                n.event(&synced(), 100 + i / 5, NotifyLevel::All, false)
                    .is_empty(),
                "no notification per file"
            );
        }
        let out = n.tick(100 + BATCH_SECS);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body, "25 files synced");
        assert!(n.tick(200).is_empty(), "the batch was emptied");
    }

    #[test]
    fn attention_events_come_at_once_and_levels_and_snooze_apply() {
        let mut n = Notifier::default();
        let paused = EventDto::Paused {
            pair: "p".into(),
            message: "a restore".into(),
            code: "restore_detected".into(),
        };
        let out = n.event(&paused, 0, NotifyLevel::Attention, false);
        assert_eq!(out.len(), 1);
        assert!(out[0].restore);
        assert!(n.event(&paused, 0, NotifyLevel::Off, false).is_empty());
        assert!(
            n.event(&paused, 0, NotifyLevel::All, true).is_empty(),
            "snoozed"
        );
        n.event(&synced(), 0, NotifyLevel::Attention, false);
        assert!(
            filter(n.tick(BATCH_SECS), NotifyLevel::Attention, false).is_empty(),
            "\"N files synced\" is not an attention notification"
        );
    }
}
