//! List-folder cursors: opaque to clients, self-contained for the server.
//!
//! A cursor names the account, the listed folder, the options, the journal position and
//! the cursor epoch (bumping the epoch expires every cursor → `reset`). While an initial
//! listing is still walking the tree, `after` holds the last key returned.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The decoded content of a cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Account name.
    #[serde(rename = "a")]
    pub account: String,
    /// Lower-cased full path of the listed folder (`""` = the whole account).
    #[serde(rename = "p")]
    pub root: String,
    /// The root of the token's scope when the cursor was made (an app folder or `""`).
    #[serde(rename = "s")]
    pub scope_root: String,
    /// Recursive listing.
    #[serde(rename = "r")]
    pub recursive: bool,
    /// Include deleted entries in the initial walk.
    #[serde(rename = "d")]
    pub include_deleted: bool,
    /// Page size.
    #[serde(rename = "l")]
    pub limit: usize,
    /// Journal position.
    #[serde(rename = "q")]
    pub seq: u64,
    /// Cursor epoch.
    #[serde(rename = "e")]
    pub epoch: u64,
    /// Initial walk in progress: the last key returned (`""` before the first page).
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl Cursor {
    /// The opaque string form.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "AAE{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }

    /// Parse a cursor string; `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.strip_prefix("AAE")?)
            .ok()?;
        serde_json::from_slice(&raw).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(root in "(/[a-zé ]{1,8}){0,3}", seq in any::<u64>(), after in proptest::option::of("[/a-z]{0,10}")) {
            let c = Cursor { account: "ada".into(), root, scope_root: "/Apps/x".into(), recursive: true, include_deleted: false, limit: 7, seq, epoch: 3, after };
            prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        assert_eq!(Cursor::decode("AAEnot base64!"), None);
        assert_eq!(Cursor::decode("xyz"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
