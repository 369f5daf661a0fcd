//! Times as the key store keeps them (Unix milliseconds, UTC) and as people read them: RFC 3339
//! (`2026-11-22T21:44:11Z`) and relative to now (`3 minutes ago`, `in 2 days`).
//!
//! Written here rather than borrowed from `doorman-core` so that this crate needs nothing of the
//! HTTP vocabulary; it is the same days-to-civil conversion.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch of a `SystemTime` (negative before 1970).
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// `ms` after `start`, saturating, for adding a `Duration` to a stored time.
pub fn add(start_ms: i64, d: Duration) -> i64 {
    start_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 in UTC, to the second: `2026-11-22T21:44:11Z`.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days; exact for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// `at` relative to `now` in the largest unit that fits: `just now`, `42 seconds ago`,
/// `in 3 minutes`, `5 hours ago`, `in 12 days`. Rounded to the nearest unit, so that a key
/// created "for 30d" a few milliseconds ago still reads "in 30 days".
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = at_ms.saturating_sub(now_ms);
    let ms = delta.unsigned_abs();
    if ms < 1_000 {
        return "just now".to_owned();
    }
    let secs = ms / 1000;
    let round = |unit_ms: u64| (ms + unit_ms / 2) / unit_ms;
    let (n, unit) = match secs {
        s if s < 60 => (s, "second"),
        s if s < 3_600 => (round(60_000), "minute"),
        s if s < 48 * 3_600 => (round(3_600_000), "hour"),
        _ => (round(86_400_000), "day"),
    };
    let amount = if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    };
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `2026-11-22T21:44:11Z (3 minutes ago)`: both forms, as receipts and the CLI show a time.
pub fn both(at_ms: i64, now_ms: i64) -> String {
    format!("{} ({})", rfc3339(at_ms), relative(at_ms, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1795383851`.
        assert_eq!(rfc3339(1_795_383_851_000), "2026-11-22T21:44:11Z");
        assert_eq!(rfc3339(951_782_400_999), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn relative_picks_the_unit_and_direction() {
        let now = 1_000_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now - 1_000, now), "1 second ago");
        assert_eq!(relative(now - 180_000, now), "3 minutes ago");
        assert_eq!(relative(now + 3_600_000, now), "in 1 hour");
        assert_eq!(relative(now + 47 * 3_600_000, now), "in 47 hours");
        assert_eq!(relative(now + 24 * 3_600_000 - 5, now), "in 24 hours");
        assert_eq!(relative(now + 30 * 86_400_000 - 5, now), "in 30 days");
        assert_eq!(relative(now - 150_000, now), "3 minutes ago");
        assert_eq!(relative(now - 30 * 86_400_000, now), "30 days ago");
    }
}
