//! UTC calendar arithmetic on Unix milliseconds, with no clock of its own: every function takes
//! the time it works on. Days are counted from 1970-01-01 (day 0), as [`utc_day`] returns them;
//! dates are printed with the proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).

/// Milliseconds in a UTC day (leap seconds do not exist in Unix time).
pub const DAY_MS: i64 = 86_400_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;

/// The UTC day (days since 1970-01-01) that contains `at_ms`; negative before 1970.
pub fn utc_day(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// The hour (hours since the epoch) that contains `at_ms`.
pub fn utc_hour(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS)
}

/// Year, month (1–12) and day of month (1–31) of a day number.
pub fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` of a day number.
pub fn date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 in UTC with milliseconds, as Statuspage and Atom expect:
/// `2026-11-20T14:02:00.000Z`.
pub fn rfc3339(at_ms: i64) -> String {
    let day = utc_day(at_ms);
    let in_day = at_ms - day * DAY_MS;
    let (h, rest) = (in_day / HOUR_MS, in_day % HOUR_MS);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{}T{h:02}:{min:02}:{s:02}.{ms:03}Z", date(day))
}

/// `HH:MM` UTC, for "since 14:02 UTC".
pub fn hhmm(at_ms: i64) -> String {
    let in_day = at_ms.rem_euclid(DAY_MS);
    format!("{:02}:{:02}", in_day / HOUR_MS, (in_day % HOUR_MS) / 60_000)
}

/// `YYYY-MM-DD HH:MM UTC`, for people.
pub fn human(at_ms: i64) -> String {
    format!("{} {} UTC", date(utc_day(at_ms)), hhmm(at_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        // 2000-03-01 (leap year) and 2026-11-20.
        assert_eq!(date(11_017), "2000-03-01");
        assert_eq!(rfc3339(1_795_184_520_123), "2026-11-20T14:22:00.123Z");
        assert_eq!(hhmm(1_795_184_520_123), "14:22");
        assert_eq!(utc_day(-1), -1);
        assert_eq!(utc_day(DAY_MS - 1), 0);
        assert_eq!(utc_day(DAY_MS), 1);
    }
}
