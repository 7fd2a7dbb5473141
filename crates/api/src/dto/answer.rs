//! What each command answers. One table says it, and both the daemon's typed [`Answer`] and
//! the TypeScript map `CommandAnswers` (a command's name → the type of its answer) are made
//! from it: a front end that expects another answer than the daemon gives does not type-check.

use super::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The answer of `unlink`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UnlinkDto {
    /// Dropbox revoked the token (false: it could not be told, offline say; the token is
    /// forgotten here all the same).
    pub revoked: bool,
}

/// `name: Variant => answer type` for every command that answers once, then after `; streams`
/// the commands that stream instead (answered on the control socket's event stream, never by `handle`).
macro_rules! answers {
    (
        $($name:ident: $cmd:ident => $answer:ty,)*
        ; streams $($sname:ident: $stream:ident),* $(,)?
    ) => {
        /// A command's answer, typed. It goes over the wire as the answer alone (`()` as
        /// `null`), so the variant is known from the command that was asked.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Answer {
            $(
                #[doc = concat!(" What `", stringify!($name), "` answers.")]
                $cmd($answer),
            )*
        }

        impl Answer {
            /// The name of the command this answers (its `cmd` on the wire).
            pub fn command(&self) -> &'static str {
                match self {
                    $(Answer::$cmd(_) => stringify!($name),)*
                }
            }
        }

        impl Command {
            /// The command's name (its `cmd` on the wire).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Command::$cmd { .. } => stringify!($name),)*
                    $(Command::$stream { .. } => stringify!($sname),)*
                }
            }

            /// The names of the commands that answer once.
            pub const ANSWERED: &[&str] = &[$(stringify!($name)),*];

            /// The names of the commands that stream instead of answering once.
            pub const STREAMING: &[&str] = &[$(stringify!($sname)),*];
        }

        /// What each command answers, by the command's name (`cmd`): the UI's backend types
        /// every call with it. Only its TypeScript twin is used; the daemon answers with
        /// `Answer`.
        #[derive(TS)]
        pub struct CommandAnswers {
            $(
                #[doc = concat!(" What `", stringify!($name), "` answers.")]
                pub $name: $answer,
            )*
        }
    };
}

answers! {
    status: Status => StatusDto,
    pause: Pause => (),
    resume: Resume => (),
    sync_now: SyncNow => (),
    activity: Activity => ActivityDto,
    conflicts: Conflicts => Vec<ConflictDto>,
    revisions: Revisions => Vec<RevisionDto>,
    restore_revision: RestoreRevision => (),
    excluded_free: ExcludedFree => FreedDto,
    remote_folders: RemoteFolders => Vec<RemoteFolderDto>,
    deleted: Deleted => Vec<DeletedDto>,
    undelete: Undelete => RevisionDto,
    resolve: Resolve => (),
    file_status: FileStatus => FileStatusDto,
    excluded_list: ExcludedList => Vec<String>,
    excluded_add: ExcludedAdd => Vec<String>,
    excluded_remove: ExcludedRemove => Vec<String>,
    rebuild_index: RebuildIndex => (),
    settings_get: SettingsGet => SettingsDto,
    settings_set: SettingsSet => SettingsDto,
    add_pair: AddPair => String,
    remove_pair: RemovePair => (),
    account: Account => AccountDto,
    doctor: Doctor => DoctorDto,
    link_start: LinkStart => LinkStartDto,
    link_finish: LinkFinish => AccountDto,
    link_wait: LinkWait => AccountDto,
    unlink: Unlink => UnlinkDto,
    restore_plan: RestorePlan => RestorePlanDto,
    restore_apply: RestoreApply => RestoreResultDto,
    restore_continue_preview: RestoreContinuePreview => RestorePlanDto,
    restore_continue: RestoreContinue => (),
    stop: Stop => (),
    ; streams subscribe: Subscribe,
}

impl Answer {
    /// The answer as JSON, as the control socket and the app carry it.
    pub fn into_json(self) -> Result<serde_json::Value, crate::error::ApiError> {
        serde_json::to_value(self).map_err(|e| {
            crate::error::ApiError::new(crate::error::ErrorCode::Internal, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in the table are the commands' names on the wire, every command has one
    /// answer type, and no other name is in `CommandAnswers`.
    #[test]
    fn every_command_has_its_answer_type() {
        let cfg = ts_rs::Config::new();
        let wire: std::collections::BTreeSet<String> = Command::decl(&cfg)
            .split("\"cmd\": \"")
            .skip(1)
            .filter_map(|s| s.split('"').next().map(str::to_string))
            .collect();
        assert!(wire.len() > 30, "{wire:?}");
        let named: std::collections::BTreeSet<String> = Command::ANSWERED
            .iter()
            .chain(Command::STREAMING)
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            named.len(),
            Command::ANSWERED.len() + Command::STREAMING.len()
        );
        assert_eq!(named, wire);
        for name in &wire {
            let c: Result<Command, _> = serde_json::from_value(serde_json::json!({"cmd": name}));
            if let Ok(c) = c {
                assert_eq!(c.name(), name);
            }
        }
    }

    #[test]
    fn an_answer_is_the_value_alone() {
        assert_eq!(
            Answer::Pause(()).into_json().unwrap(),
            serde_json::Value::Null
        );
        assert_eq!(
            Answer::Unlink(UnlinkDto { revoked: true })
                .into_json()
                .unwrap(),
            serde_json::json!({"revoked": true})
        );
        assert_eq!(Answer::AddPair("lab".into()).command(), "add_pair");
    }
}
