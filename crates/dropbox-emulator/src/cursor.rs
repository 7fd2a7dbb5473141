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

    /// Parse a cursor string; `None` if it is not one of ours. Cursors are not signed, so one
    /// the server could not have made — a listed folder outside the token's scope, or a walk
    /// position outside the listed folder — is refused: an edited cursor must not lead out of
    /// an app folder.
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.strip_prefix("AAE")?)
            .ok()?;
        let cursor: Cursor = serde_json::from_slice(&raw).ok()?;
        let scope = crate::store::lower(&cursor.scope_root);
        let root_ok = cursor.root == crate::store::lower(&cursor.root)
            && crate::store::within(&cursor.root, &scope);
        let after_ok = cursor
            .after
            .as_deref()
            .is_none_or(|k| k.is_empty() || k.starts_with(&format!("{}/", cursor.root)));
        (root_ok && after_ok).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(sub in "(/[a-zé ]{1,8}){0,3}", seq in any::<u64>(), after in proptest::option::of("[/a-z]{0,10}")) {
            // Any cursor the server can make: a folder in the scope, a walk position in the folder.
            let root = format!("/apps/x{sub}");
            let after = after.map(|a| if a.is_empty() { a } else { format!("{root}/{a}") });
            let c = Cursor { account: "ada".into(), root, scope_root: "/Apps/x".into(), recursive: true, include_deleted: false, limit: 7, seq, epoch: 3, after };
            prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
    }

    #[test]
    fn edited_cursors_cannot_leave_the_scope() {
        let ok = Cursor {
            account: "ada".into(),
            root: "/apps/x/docs".into(),
            scope_root: "/Apps/x".into(),
            recursive: true,
            include_deleted: false,
            limit: 10,
            seq: 0,
            epoch: 1,
            after: Some("/apps/x/docs/a".into()),
        };
        assert!(Cursor::decode(&ok.encode()).is_some());
        for bad in [
            Cursor {
                root: "".into(),
                ..ok.clone()
            },
            Cursor {
                root: "/apps".into(),
                ..ok.clone()
            },
            Cursor {
                root: "/apps/x-other".into(),
                ..ok.clone()
            },
            Cursor {
                after: Some("/a".into()),
                ..ok.clone()
            },
            Cursor {
                after: Some("/apps/x/docs".into()),
                ..ok.clone()
            },
        ] {
            assert_eq!(Cursor::decode(&bad.encode()), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        assert_eq!(Cursor::decode("AAEnot base64!"), None);
        assert_eq!(Cursor::decode("xyz"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
