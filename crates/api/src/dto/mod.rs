//! The types front ends see: commands, answers and events, all serialisable, with TypeScript
//! twins generated into `ui/src/bindings/` (a test fails when those are stale).
//!
//! Times are seconds since the epoch; sizes are bytes.
//!
//! `status` holds what the status, activity and event stream show; `files` the answers about
//! files (conflicts, versions, deleted files, folders); `settings` the settings and their
//! changes, a new pair and linking; `restore` the restore wizard's answers; `command` the
//! commands themselves; `answer` what each command answers.

mod answer;
mod command;
mod files;
mod restore;
mod settings;
mod status;

pub use answer::*;
pub use command::*;
pub use files::*;
pub use restore::*;
pub use settings::*;
pub use status::*;

use ts_rs::TS;

/// The TypeScript declarations of every DTO, as `(file name, content)`.
pub fn typescript() -> Vec<(String, String)> {
    let cfg = ts_rs::Config::new().with_large_int("number");
    macro_rules! ts {
        ($($t:ty),* $(,)?) => { vec![$( (format!("{}.ts", <$t as TS>::name(&cfg)), <$t as TS>::export_to_string(&cfg).unwrap_or_default()) ),*] };
    }
    ts![
        PairState,
        TransferDto,
        IssueDto,
        PairStatusDto,
        AccountDto,
        Verdict,
        CheckDto,
        DoctorDto,
        StatusDto,
        HistoryDto,
        ActivityDto,
        VersionDto,
        RevisionDto,
        DeletedDto,
        FreedDto,
        RemoteFolderDto,
        ConflictDto,
        Resolution,
        FileStatusDto,
        PairSettingsDto,
        SettingsDto,
        NewPairDto,
        LinkStartDto,
        RestoreItemDto,
        RestorePlanDto,
        RestoreResultDto,
        Event,
        EventDto,
        SettingsPatch,
        PairPatch,
        Command,
        UnlinkDto,
        CommandAnswers,
        crate::error::ApiError,
        crate::error::ErrorCode,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UI's TypeScript types are generated from these; run with `UPDATE_BINDINGS=1` to
    /// refresh them after changing a DTO. A binding whose type is gone is stale too.
    #[test]
    fn typescript_bindings_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings");
        let update = std::env::var_os("UPDATE_BINDINGS").is_some();
        let mut stale = vec![];
        let generated = typescript();
        for (file, text) in &generated {
            let path = dir.join(file);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(file.clone());
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            if file.ends_with(".ts") && !generated.iter().any(|(f, _)| *f == file) {
                if update {
                    std::fs::remove_file(dir.join(&file)).unwrap();
                } else {
                    stale.push(format!("{file} (no such type any more)"));
                }
            }
        }
        assert!(
            stale.is_empty(),
            "stale TypeScript bindings in ui/src/bindings: {stale:?} — run `UPDATE_BINDINGS=1 cargo test -p nuvosync-api typescript`"
        );
    }

    /// A pair's events go out as the engine says them, beside the API's own, in one form.
    #[test]
    fn events_have_a_stable_wire_form() {
        let synced = EventDto::Pair(Event::Synced {
            pair: "lab".into(),
            path: "/a".into(),
            action: "uploaded".into(),
        });
        let state = EventDto::Pair(Event::State {
            pair: "lab".into(),
            state: PairState::UpToDate,
        });
        let link = EventDto::Link { linked: true };
        let wire = [
            r#"{"type":"synced","pair":"lab","path":"/a","action":"uploaded"}"#,
            r#"{"type":"state","pair":"lab","state":"up_to_date"}"#,
            r#"{"type":"link","linked":true}"#,
        ];
        for (e, w) in [synced, state, link].into_iter().zip(wire) {
            assert_eq!(serde_json::to_string(&e).unwrap(), w);
            assert_eq!(serde_json::from_str::<EventDto>(w).unwrap(), e);
        }
        let progress: EventDto = serde_json::from_str(
            r#"{"type":"progress","transfer":{"pair":"p","path":"/b","direction":"upload","done":1,"total":2,"bytes_per_sec":1.0,"eta_secs":null}}"#,
        )
        .unwrap();
        assert!(
            matches!(progress, EventDto::Progress { .. }),
            "{progress:?}"
        );
    }

    #[test]
    fn commands_have_a_stable_wire_form() {
        let c: Command = serde_json::from_str(
            r#"{"cmd":"resume","args":{"pair":"lab","confirm_deletes":true}}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            Command::Resume {
                pair: Some("lab".into()),
                confirm_deletes: true
            }
        );
        assert_eq!(
            serde_json::to_string(&Command::Status).unwrap(),
            r#"{"cmd":"status"}"#
        );
        let r: Command = serde_json::from_str(
            r#"{"cmd":"resolve","args":{"pair":"p","id":3,"choice":"keep_mine"}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Command::Resolve {
                pair: "p".into(),
                id: 3,
                choice: Resolution::KeepMine
            }
        );
    }
}
