//! UTC timestamps for log lines (`2026-01-31T23:59:59Z`), formatted by `humantime`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of a formatted timestamp.
pub(crate) const LEN: usize = 20;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `secs` (since the Unix epoch) as `YYYY-MM-DDTHH:MM:SSZ`, in a fixed-size buffer that the
/// access log keeps from one second to the next.
pub(crate) fn format(secs: u64) -> [u8; LEN] {
    let mut out = *b"0000-00-00T00:00:00Z";
    // humantime refuses years after 9999: such a time stays all zeros.
    if let Some(time) = UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
        let _ = write!(&mut out[..], "{}", humantime::format_rfc3339_seconds(time));
    }
    out
}

/// The current time, formatted.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(secs: u64) -> String {
        String::from_utf8(format(secs).to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(text(0), "1970-01-01T00:00:00Z");
        assert_eq!(text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(text(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(text(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(now().len(), LEN);
    }
}
