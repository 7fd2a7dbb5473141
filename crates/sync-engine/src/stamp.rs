//! Dropbox's timestamps (`2015-05-12T15:50:38Z`, as `nuvosync_dropbox::client::timestamp`
//! writes them) read back as seconds since the epoch, by the Dropbox client's one reader.

/// Seconds since the epoch of a Dropbox timestamp (`2015-05-12T15:50:38Z`).
pub(crate) fn parse_ts(s: &str) -> Option<i64> {
    nuvosync_dropbox::client::parse_timestamp(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_ts("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ts("2015-05-12T15:50:38Z"), Some(1_431_445_838));
        assert_eq!(parse_ts("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        for bad in [
            "bad",
            "2023-02-29T00:00:00Z",
            "+2015-05-12T15:50:38Z",
            "2015-05-12 15:50:38Z",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
    }
}
