//! `files/list_folder/longpoll`: wait until the cursor's scope changes, or the timeout plus
//! Dropbox's jitter.

use crate::cursor::Cursor;
use crate::routes::{self, Call};
use crate::state::Emulator;
use crate::wire::{self, ApiError, Body};
use dropbox_sdk::files;
use http::{Response, StatusCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a longpoll with `timeout` seconds waits when nothing changes: the timeout plus
/// Dropbox's random jitter, "plus up to 90 seconds of random jitter added to avoid the
/// thundering herd problem" (files.stone `ListFolderLongpollArg.timeout`), seeded.
fn longpoll_wait(emu: &Emulator, faults: &crate::faults::Faults, timeout: u64) -> Duration {
    let max = faults
        .longpoll_jitter_ms
        .unwrap_or(crate::faults::LONGPOLL_JITTER_MS);
    Duration::from_secs(timeout) + Duration::from_millis(emu.rng.lock().upto(max))
}

pub(super) async fn longpoll(emu: &Emulator, call: &Call) -> Result<Response<Body>, ApiError> {
    let arg: files::ListFolderLongpollArg = serde_json::from_slice(&call.arg)
        .map_err(|e| ApiError::bad_arg(&call.route, "request body", e))?;
    if !(30..=480).contains(&arg.timeout) {
        return Err(ApiError::bad_arg(
            &call.route,
            "request body: timeout",
            format!("{} is not within range 30..480", arg.timeout),
        ));
    }
    let cursor = Cursor::decode(&arg.cursor)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    let account = emu
        .account(&cursor.account)
        .ok_or_else(|| ApiError::bad_arg(&call.route, "request body: cursor", "Invalid cursor"))?;
    let mut rx = account.changed.subscribe();
    let faults = emu.faults.read().clone();
    let deadline = tokio::time::Instant::now() + longpoll_wait(emu, &faults, arg.timeout);
    let changes = loop {
        if cursor.epoch != account.epoch.load(Ordering::Relaxed) {
            return Err(ApiError::route(files::ListFolderLongpollError::Reset));
        }
        if routes::cursor_behind(&account, &cursor) {
            break true;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { break false },
            _ = tokio::time::sleep_until(deadline) => break false,
        }
    };
    if changes && faults.longpoll_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.longpoll_delay_ms)).await;
    }
    let mut result = files::ListFolderLongpollResult::new(changes);
    if let Some(b) = faults.longpoll_backoff_secs {
        result = result.with_backoff(b);
    }
    Ok(wire::json_response(StatusCode::OK, &result))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dropbox waits up to 90 s beyond `timeout` (files.stone `ListFolderLongpollArg`): the
    /// emulator does too by default, seeded, and a test may turn it off.
    #[test]
    fn longpoll_waits_timeout_plus_dropbox_jitter() {
        let emu = |seed| {
            crate::Emulator::new(crate::Config {
                seed,
                ..crate::Config::default()
            })
            .unwrap()
        };
        let (a, b) = (emu(7), emu(7));
        let f = crate::faults::Faults::default();
        let waits: Vec<Duration> = (0..200).map(|_| longpoll_wait(&a, &f, 30)).collect();
        let again: Vec<Duration> = (0..200).map(|_| longpoll_wait(&b, &f, 30)).collect();
        assert_eq!(waits, again, "seeded");
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*min >= Duration::from_secs(30) && *max <= Duration::from_secs(120));
        assert!(
            *max > Duration::from_secs(90),
            "jitter spans up to 90 s: {max:?}"
        );
        let off = crate::faults::Faults {
            longpoll_jitter_ms: Some(0),
            ..f
        };
        assert_eq!(longpoll_wait(&a, &off, 30), Duration::from_secs(30));
    }
}
