//! UTC timestamps for log lines (`2026-01-31T23:59:59Z`), without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of a formatted timestamp.
pub const LEN: usize = 20;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `secs` (since the Unix epoch) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format(secs: u64) -> [u8; LEN] {
    let days = secs / 86_400;
    let time = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00Z";
    put_digits(&mut out[0..4], year % 10_000);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], time / 3600);
    put_digits(&mut out[14..16], time / 60 % 60);
    put_digits(&mut out[17..19], time % 60);
    out
}

/// The current time, formatted.
pub fn now() -> String {
    String::from_utf8_lossy(&format(now_secs())).into_owned()
}

/// Writes `value` right-aligned in `out` with leading zeros.
fn put_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
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
    }
}
