//! Formats instants for people: `2026-11-22 21:44:11 UTC`, and RFC 3339 for machines. Written by
//! hand (days-to-civil conversion) because this is all the calendar the core needs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Splits seconds since the Unix epoch into (year, month, day, hour, minute, second), UTC.
pub fn civil_from_unix(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days_from_civil inverse; exact for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = if m <= 2 { y + 1 } else { y };
    (
        year,
        m,
        d,
        (rem / 3_600) as u32,
        ((rem % 3_600) / 60) as u32,
        (rem % 60) as u32,
    )
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `2026-11-22 21:44:11 UTC`: what a person reads on a page.
pub fn human_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(unix_secs(t));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// `2026-11-22T21:44:11Z`: RFC 3339, for JSON.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(unix_secs(t));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Milliseconds since the Unix epoch (what the event log stores).
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The inverse of [`unix_millis`].
pub fn from_unix_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// "1 minute", "90 seconds", "2 hours 5 minutes", "250 ms": a duration as a person says it.
/// Whole units only, largest first, at most two of them.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if !ms.is_multiple_of(1000) && ms < 10_000 {
        return format!("{:.1} seconds", ms as f64 / 1000.0);
    }
    let mut secs = d.as_secs();
    let units = [
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut parts = Vec::new();
    for (size, name) in units {
        if secs >= size && parts.len() < 2 {
            let n = secs / size;
            secs %= size;
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        } else if !parts.is_empty() {
            // Only adjacent units: "1 hour 5 seconds" reads worse than "1 hour".
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(
            human_duration(Duration::from_secs(90)),
            "1 minute 30 seconds"
        );
        assert_eq!(human_duration(Duration::from_secs(3605)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(10)), "10 seconds");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 seconds");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn known_instants() {
        assert_eq!(human_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        // 2026-11-22T21:44:11Z, checked with `date -u -d @1795383851`.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_383_851);
        assert_eq!(rfc3339(t), "2026-11-22T21:44:11Z");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn millis_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_383_851_123);
        assert_eq!(from_unix_millis(unix_millis(t)), t);
    }
}
