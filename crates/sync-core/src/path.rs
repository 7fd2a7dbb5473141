//! Paths as Dropbox compares them, and the naming rules it enforces.
//!
//! A *key* is the normalised form of a path relative to the pair's root: Unicode NFC, then
//! lower case, with a leading `/` (`""` is the root). Two names are the same file on Dropbox
//! exactly when their keys are equal. A *display path* keeps the casing and form the user
//! gave.

use unicode_normalization::UnicodeNormalization;

/// The normalised key of a relative display path.
pub fn key(path: &str) -> String {
    // ASCII is its own NFC form, and its lower case is ASCII's (most paths: no tables read).
    if path.is_ascii() {
        return path.to_ascii_lowercase();
    }
    let nfc: String = path.nfc().collect();
    nfc.to_lowercase()
}

/// Unicode NFC form.
pub fn nfc(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    s.nfc().collect()
}

/// The parent of a path or key (`/a/b` → `/a`, `/a` → `""`).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last component.
pub fn name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// `path` is `ancestor` or below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// `path` is strictly below `ancestor`.
pub fn is_below(path: &str, ancestor: &str) -> bool {
    path != ancestor && is_within(path, ancestor)
}

/// Replace the prefix `from` of `path` with `to` (for moving a subtree).
pub fn rebase(path: &str, from: &str, to: &str) -> String {
    debug_assert!(is_within(path, from));
    format!("{to}{}", &path[from.len()..])
}

/// Join a parent path and a name.
pub fn join(parent: &str, name: &str) -> String {
    format!("{parent}/{name}")
}

/// Names Dropbox refuses to store or that its clients never sync (compared case-insensitively).
pub const DISALLOWED_NAMES: &[&str] = &[
    "desktop.ini",
    "thumbs.db",
    ".ds_store",
    "icon\r",
    ".dropbox",
    ".dropbox.attr",
    ".dropbox.cache",
];

/// One of [`DISALLOWED_NAMES`], in any case. Without allocating: every such name is ASCII,
/// and no non-ASCII name lowercases to one of them.
pub fn is_disallowed_name(name: &str) -> bool {
    name.is_ascii()
        && DISALLOWED_NAMES
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
}

/// Dropbox's limit on one name, in UTF-16 code units: it counts characters as UTF-16 does
/// (an emoji or another character above U+FFFF counts two), not bytes — a name of 100
/// Chinese characters (300 bytes of UTF-8) is a valid Dropbox name.
pub const MAX_NAME_UTF16: usize = 255;

/// The limit of local file systems on one name, in bytes (`NAME_MAX` of ext4, btrfs, XFS,
/// ZFS). Names nuvosync makes (conflicted copies) stay within it, and so within
/// [`MAX_NAME_UTF16`] too.
pub const MAX_LOCAL_NAME_BYTES: usize = 255;

/// The length of a name as Dropbox counts it (UTF-16 code units).
pub fn dropbox_name_len(name: &str) -> usize {
    name.encode_utf16().count()
}

/// Why a name cannot be synced to Dropbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// A name Dropbox refuses.
    Disallowed,
    /// Longer than 255 UTF-16 units.
    TooLong,
    /// Ends with a space (Dropbox strips or refuses it).
    TrailingSpace,
    /// Contains a character Dropbox cannot store (`/`, `\`, NUL, DEL, other controls).
    BadCharacter(char),
    /// `.` or `..`.
    Dots,
    /// Not valid UTF-8.
    NotUtf8,
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::Disallowed => f.write_str("Dropbox does not sync this name (desktop.ini, thumbs.db, .DS_Store and similar) — it stays local only"),
            NameProblem::TooLong => write!(f, "the name is longer than Dropbox's limit of {MAX_NAME_UTF16} characters (characters above U+FFFF, such as emoji, count two) — shorten it"),
            NameProblem::TrailingSpace => f.write_str("the name ends with a space, which Dropbox does not allow — remove the space"),
            NameProblem::BadCharacter(c) => write!(f, "the name contains a character Dropbox does not allow ({:?}) — rename it", c),
            NameProblem::Dots => f.write_str("\".\" and \"..\" are not file names"),
            NameProblem::NotUtf8 => f.write_str("the name is not valid UTF-8, which Dropbox requires — rename it"),
        }
    }
}

/// Check one name against Dropbox's rules.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name == "." || name == ".." {
        return Err(NameProblem::Dots);
    }
    if is_disallowed_name(name) {
        return Err(NameProblem::Disallowed);
    }
    // Cheap first: 255 bytes of UTF-8 are at most 255 UTF-16 units.
    if name.len() > MAX_NAME_UTF16 && dropbox_name_len(name) > MAX_NAME_UTF16 {
        return Err(NameProblem::TooLong);
    }
    if name.ends_with(' ') {
        return Err(NameProblem::TrailingSpace);
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == '\\' || *c == '\0' || c.is_control())
    {
        return Err(NameProblem::BadCharacter(c));
    }
    Ok(())
}

/// Check a raw file-system name (which may not be UTF-8).
pub fn check_os_name(name: &std::ffi::OsStr) -> Result<&str, NameProblem> {
    let s = name.to_str().ok_or(NameProblem::NotUtf8)?;
    check_name(s)?;
    Ok(s)
}

/// Split `file.ext` into (`file`, `.ext`); names starting with a dot have no extension.
pub fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// The name of a conflicted copy: `name (conflicted copy from HOST YYYY-MM-DD).ext`, or with
/// ` N` before the closing parenthesis when `n > 1`. The stem is shortened where the result
/// would pass [`MAX_LOCAL_NAME_BYTES`].
pub fn conflicted_copy_name(name: &str, host: &str, date: &str, n: u32) -> String {
    let tag = if n <= 1 {
        format!(" (conflicted copy from {host} {date})")
    } else {
        format!(" (conflicted copy from {host} {date} {n})")
    };
    tagged(name, &tag)
}

/// The name for a local file whose name clashes with another's on Dropbox (only case or
/// Unicode form differs): `name (case conflict).ext` or `name (unicode conflict).ext`,
/// shortened like [`conflicted_copy_name`].
pub fn clash_name(name: &str, unicode: bool, n: u32) -> String {
    let what = if unicode {
        "unicode conflict"
    } else {
        "case conflict"
    };
    let tag = if n <= 1 {
        format!(" ({what})")
    } else {
        format!(" ({what} {n})")
    };
    tagged(name, &tag)
}

/// `stem` + `tag` + `.ext`, within [`MAX_LOCAL_NAME_BYTES`]: a long stem loses its end (on a
/// character boundary, never ending in a space); an extension too long to keep beside the
/// tag counts as part of the stem.
fn tagged(name: &str, tag: &str) -> String {
    let (mut stem, mut ext) = split_ext(name);
    if ext.len() + tag.len() + 1 > MAX_LOCAL_NAME_BYTES {
        (stem, ext) = (name, "");
    }
    let budget = MAX_LOCAL_NAME_BYTES.saturating_sub(tag.len() + ext.len());
    if stem.len() > budget {
        let mut end = budget;
        while !stem.is_char_boundary(end) {
            end -= 1;
        }
        stem = stem[..end].trim_end_matches(' ');
    }
    format!("{stem}{tag}{ext}")
}

/// True if `name` looks like a temporary file of an editor or office suite (never synced).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with("~$")
        || name.starts_with(".~")
        || (name.starts_with('~') && name.to_lowercase().ends_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_and_unicode_form() {
        assert_eq!(
            key("/Docs/Ünïcode.TXT"),
            key("/docs/u\u{308}ni\u{308}code.txt")
        );
        assert_ne!(key("/a"), key("/b"));
        // The ASCII shortcut gives what the Unicode tables give, for every ASCII character.
        let all: String = (0u8..128).map(char::from).collect();
        let by_tables = |p: &str| p.nfc().collect::<String>().to_lowercase();
        assert_eq!(key(&all), by_tables(&all));
        assert_eq!(nfc(&all), all.nfc().collect::<String>());
        assert_eq!(key("/A/É"), by_tables("/A/É"));
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "");
        assert_eq!(name("/a/b/c.txt"), "c.txt");
        assert!(is_within("/a/b", "/a") && !is_within("/ab", "/a") && is_within("/x", ""));
        assert!(!is_below("/a", "/a"));
        assert_eq!(rebase("/a/b/c", "/a/b", "/z"), "/z/c");
    }

    #[test]
    fn names_dropbox_refuses() {
        assert_eq!(check_name("Desktop.ini"), Err(NameProblem::Disallowed));
        assert_eq!(check_name("Thumbs.db"), Err(NameProblem::Disallowed));
        assert_eq!(check_name(&"x".repeat(256)), Err(NameProblem::TooLong));
        assert!(check_name(&"é".repeat(127)).is_ok(), "254 bytes is fine");
        // Dropbox counts UTF-16 units, not bytes: 100 CJK characters (300 bytes) are a valid
        // name, 255 of them too; 128 emoji (256 units) are not.
        assert!(check_name(&"中".repeat(100)).is_ok());
        assert!(check_name(&"中".repeat(255)).is_ok());
        assert_eq!(check_name(&"中".repeat(256)), Err(NameProblem::TooLong));
        assert!(check_name(&"🎉".repeat(127)).is_ok());
        assert_eq!(check_name(&"🎉".repeat(128)), Err(NameProblem::TooLong));
        assert_eq!(check_name("trailing "), Err(NameProblem::TrailingSpace));
        assert_eq!(
            check_name("tab\there"),
            Err(NameProblem::BadCharacter('\t'))
        );
        assert_eq!(
            check_name("back\\slash"),
            Err(NameProblem::BadCharacter('\\'))
        );
        assert!(check_name("normal name (1).txt").is_ok());
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(
            check_os_name(std::ffi::OsStr::from_bytes(b"bad\xff")),
            Err(NameProblem::NotUtf8)
        );
    }

    #[test]
    fn conflict_names() {
        assert_eq!(
            conflicted_copy_name("report.docx", "lab-pc", "2026-11-27", 1),
            "report (conflicted copy from lab-pc 2026-11-27).docx"
        );
        assert_eq!(
            conflicted_copy_name("report.docx", "lab-pc", "2026-11-27", 2),
            "report (conflicted copy from lab-pc 2026-11-27 2).docx"
        );
        assert_eq!(
            conflicted_copy_name(".bashrc", "h", "d", 1),
            ".bashrc (conflicted copy from h d)"
        );
        assert_eq!(clash_name("A.txt", false, 1), "A (case conflict).txt");
        assert!(
            is_temporary("~$report.docx")
                && is_temporary(".~lock.x#")
                && is_temporary("~WRL0001.tmp")
        );
        assert!(!is_temporary("report~.txt"));
    }

    #[test]
    fn names_made_for_conflicts_stay_within_the_limit() {
        // A long name whose conflicted copy would pass 255 bytes: the stem gives way.
        let long = format!("{}.csv", "é".repeat(124)); // 252 bytes
        let copy = conflicted_copy_name(&long, "lab-pc", "2026-11-27", 2);
        assert!(copy.len() <= MAX_LOCAL_NAME_BYTES, "{}", copy.len());
        assert!(check_name(&copy).is_ok());
        assert!(copy.ends_with(" (conflicted copy from lab-pc 2026-11-27 2).csv"));
        assert!(copy.starts_with("éé"));
        let clash = clash_name(&format!("{} x", "a".repeat(253)), true, 1);
        assert!(
            clash.len() <= MAX_LOCAL_NAME_BYTES && check_name(&clash).is_ok(),
            "{clash}"
        );
        assert!(clash.ends_with(" (unicode conflict)"));
        // An extension too long to keep beside the tag is shortened with the rest.
        let odd = format!("a.{}", "x".repeat(250));
        let copy = conflicted_copy_name(&odd, "h", "d", 1);
        assert!(
            copy.len() <= MAX_LOCAL_NAME_BYTES && copy.ends_with(" (conflicted copy from h d)")
        );
        // Short names are untouched.
        assert_eq!(clash_name("A.txt", false, 2), "A (case conflict 2).txt");
    }
}
