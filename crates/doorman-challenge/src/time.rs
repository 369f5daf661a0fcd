//! Times as people read them: RFC 3339 UTC instants and spans in words ("3 minutes").
//!
//! Hand-written (H. Hinnant's civil-from-days) like the other crates' copies: rejections need
//! only these two shapes, and this crate should not depend on the core for them.

/// The last second RFC 3339 can write with a four-digit year (9999-12-31T23:59:59Z).
const MAX_RFC3339: u64 = 253_402_300_799;

/// `secs` since the Unix epoch as `2026-03-01T14:02:11Z`.
pub fn rfc3339(secs: u64) -> String {
    if secs > MAX_RFC3339 {
        return format!("{secs} s after 1970-01-01T00:00:00Z");
    }
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// A span in the largest unit that fits, rounded to the nearest: `1 second`, `45 seconds`,
/// `3 minutes`, `2 hours`, `4 days`. Rounding (not truncating) so that "expired 2 minutes 50
/// seconds ago" reads "3 minutes", as a person would say it.
pub fn span(secs: u64) -> String {
    let (n, unit) = if secs < 90 {
        (secs, "second")
    } else if secs < 3570 {
        ((secs + 30) / 60, "minute")
    } else if secs < 36 * 3600 {
        ((secs + 1800) / 3600, "hour")
    } else {
        (secs.saturating_add(43_200) / 86_400, "day")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert!(rfc3339(u64::MAX).contains("after 1970"));
    }

    #[test]
    fn spans_read_like_speech() {
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(89), "89 seconds");
        assert_eq!(span(170), "3 minutes");
        assert_eq!(span(3600), "1 hour");
        assert_eq!(span(7 * 86_400), "7 days");
        assert!(!span(u64::MAX).is_empty());
    }
}
