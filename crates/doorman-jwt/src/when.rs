//! Times as people read them: RFC 3339 UTC instants and short relative durations.
//!
//! Hand-written (civil-from-days, H. Hinnant's algorithm) because rejections only ever need
//! these two shapes, and a calendar crate would be the largest dependency here for it.

/// The last second RFC 3339 can write with a four-digit year (9999-12-31T23:59:59Z).
const MAX_RFC3339: u64 = 253_402_300_799;

/// `secs` since the Unix epoch as `2026-03-01T14:02:11Z`. Beyond year 9999 (a token can say
/// anything) the raw number is shown instead.
pub fn rfc3339(secs: u64) -> String {
    if secs > MAX_RFC3339 {
        return format!("{secs} s after 1970-01-01T00:00:00Z");
    }
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian. Only non-negative days
/// occur here, which keeps the arithmetic unsigned.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A duration in the two largest units that matter: `45 s`, `3 min`, `3 min 20 s`, `2 h 5 min`,
/// `4 days 1 h`.
pub fn human(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    let pair = |big: String, small: u64, unit: &str| {
        if small == 0 {
            big
        } else {
            format!("{big} {small} {unit}")
        }
    };
    if d > 0 {
        let days = if d == 1 {
            "1 day".to_string()
        } else {
            format!("{d} days")
        };
        pair(days, h, "h")
    } else if h > 0 {
        pair(format!("{h} h"), m, "min")
    } else if m > 0 {
        pair(format!("{m} min"), s, "s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_772_373_731), "2026-03-01T14:02:11Z");
        assert_eq!(rfc3339(MAX_RFC3339), "9999-12-31T23:59:59Z");
        assert!(rfc3339(u64::MAX).contains("after 1970"));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(59), "59 s");
        assert_eq!(human(180), "3 min");
        assert_eq!(human(200), "3 min 20 s");
        assert_eq!(human(7_500), "2 h 5 min");
        assert_eq!(human(86_400), "1 day");
        assert_eq!(human(4 * 86_400 + 3600), "4 days 1 h");
    }
}
