//! Which desktop notifications to show, and when: conflicts, errors that need the user,
//! guards that paused sync and detected snapshot restores at once; finished files batched
//! into one "N files synced" per window — never one per file. A lost Dropbox link is said
//! once (with "Sign in again"), however many pairs find out, until the account is linked
//! again; a file that keeps failing is said once until it syncs or fails otherwise. The
//! level and snooze settings apply. Pure: time is passed in.

use crate::config::NotifyLevel;
use crate::dto::{Event, EventDto};

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
    /// Offers to sign in to Dropbox again when clicked.
    pub relink: bool,
}

/// Turns events into notifications.
#[derive(Debug, Default)]
pub struct Notifier {
    synced: u64,
    window_start: Option<i64>,
    /// The link loss was said (until the account is linked again).
    link_lost: bool,
    /// Files whose failure was said, with what was said: (pair, path) → message.
    failing: std::collections::HashMap<(String, String), String>,
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
            EventDto::Pair(Event::Synced { pair, path, .. }) => {
                self.failing.remove(&(pair.clone(), path.clone()));
                self.synced += 1;
                self.window_start.get_or_insert(now);
            }
            EventDto::Link { linked: true, .. } => self.link_lost = false,
            EventDto::Pair(Event::Paused { message, code, .. }) if code == "auth" => {
                // Said once, however many pairs find out.
                let first = !std::mem::replace(&mut self.link_lost, true);
                out.extend(first.then(|| Notification {
                    title: "Dropbox link lost — sign in again".into(),
                    body: format!(
                        "{}. Nothing is synced or deleted until you sign in again (the app's Sign in, or `nuvosync link`).",
                        message.trim_end_matches('.')
                    ),
                    attention: true,
                    restore: false,
                    relink: true,
                }));
            }
            EventDto::Pair(Event::Conflict {
                path, copy_path, ..
            }) => out.push(Notification {
                title: "Conflict: both versions kept".into(),
                body: format!(
                    "{path} was changed here and on Dropbox. Your version is saved as {copy_path}."
                ),
                attention: true,
                restore: false,
                relink: false,
            }),
            EventDto::Pair(Event::Paused { message, code, .. }) => out.push(Notification {
                title: if code == "restore_detected" {
                    "Snapshot restore detected — sync paused".into()
                } else {
                    "Sync paused".into()
                },
                body: message.clone(),
                attention: true,
                restore: code == "restore_detected",
                relink: false,
            }),
            EventDto::Pair(Event::FileError {
                pair,
                path,
                message,
            }) => {
                let said = self
                    .failing
                    .insert((pair.clone(), path.clone()), message.clone());
                if said.as_ref() != Some(message) {
                    out.push(Notification {
                        title: format!("Cannot sync {path}"),
                        body: message.clone(),
                        attention: true,
                        restore: false,
                        relink: false,
                    });
                }
            }
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
                    relink: false,
                }]
            }
            _ => vec![],
        }
    }
}

/// Now, in seconds since the epoch, on the engine's clock: the time to feed a [`Notifier`].
pub fn now() -> i64 {
    sync_engine::engine::now()
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
        EventDto::Pair(Event::Synced {
            pair: "p".into(),
            path: "/a".into(),
            action: "uploaded".into(),
        })
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
    fn a_lost_link_is_said_once_until_linked_again() {
        let mut n = Notifier::default();
        let lost = |pair: &str| {
            EventDto::Pair(Event::Paused {
                pair: pair.into(),
                message: "the Dropbox link was revoked".into(),
                code: "auth".into(),
            })
        };
        let out = n.event(&lost("a"), 0, NotifyLevel::Attention, false);
        assert_eq!(out.len(), 1);
        assert!(out[0].relink && !out[0].restore);
        assert!(out[0].title.contains("sign in again"), "{:?}", out[0]);
        assert!(
            n.event(&lost("b"), 1, NotifyLevel::Attention, false)
                .is_empty(),
            "a second pair finding out says nothing new"
        );
        n.event(&EventDto::Link { linked: true }, 2, NotifyLevel::All, false);
        assert_eq!(n.event(&lost("a"), 3, NotifyLevel::All, false).len(), 1);
    }

    #[test]
    fn a_file_that_keeps_failing_is_said_once_until_it_changes() {
        let mut n = Notifier::default();
        let failed = |message: &str| {
            EventDto::Pair(Event::FileError {
                pair: "p".into(),
                path: "/a".into(),
                message: message.into(),
            })
        };
        assert_eq!(
            n.event(&failed("denied"), 0, NotifyLevel::All, false).len(),
            1
        );
        for t in 1..5 {
            assert!(
                n.event(&failed("denied"), t * 60, NotifyLevel::All, false)
                    .is_empty(),
                "every rescan fails it again: said once"
            );
        }
        assert_eq!(
            n.event(&failed("disk full"), 400, NotifyLevel::All, false)
                .len(),
            1,
            "failing otherwise is news"
        );
        n.event(&synced(), 500, NotifyLevel::All, false);
        assert_eq!(
            n.event(&failed("disk full"), 600, NotifyLevel::Attention, false)
                .len(),
            1,
            "synced in between: a new failure"
        );
    }

    #[test]
    fn attention_events_come_at_once_and_levels_and_snooze_apply() {
        let mut n = Notifier::default();
        let paused = EventDto::Pair(Event::Paused {
            pair: "p".into(),
            message: "a restore".into(),
            code: "restore_detected".into(),
        });
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
