//! Calendar arithmetic for UTC timestamps: certificate dates and clock facts are printed as
//! RFC 3339 and durations in words. Hand-written (Howard Hinnant's `days_from_civil`) because
//! the doctor needs these few lines, not a date library.

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch for a UTC date and time; `None` when a field is out of range.
pub(crate) fn unix_from_parts(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// Parses an RFC 3339 time (`2026-11-20T14:05:11.000Z`, `2023-11-08T06:28:00-08:00`) as seconds
/// since the epoch; fractions are dropped. A missing offset is read as UTC, because Statuspage
/// and Doorman both write UTC and a wrong hour is better than no time at all.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let base = unix_from_parts(
        i64::from(n(0..4)?),
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    )?;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hm = &rest[1..];
            let (h, m) = match hm.len() {
                5 if hm.as_bytes()[2] == b':' => (hm.get(0..2)?, hm.get(3..5)?),
                4 => (hm.get(0..2)?, hm.get(2..4)?),
                _ => return None,
            };
            let secs =
                i64::from(h.parse::<u32>().ok()?) * 3600 + i64::from(m.parse::<u32>().ok()?) * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        Some(_) => return None,
    };
    Some(base - offset)
}

/// `2026-11-23T00:38:41Z`.
pub(crate) fn rfc3339(unix_s: i64) -> String {
    let (y, m, d) = civil_from_days(unix_s.div_euclid(86_400));
    let t = unix_s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// `2026-11-23T00:38:41.250Z` for a time in milliseconds.
pub(crate) fn rfc3339_ms(unix_ms: i64) -> String {
    let s = rfc3339(unix_ms.div_euclid(1000));
    format!("{}.{:03}Z", &s[..s.len() - 1], unix_ms.rem_euclid(1000))
}

/// A length of time in the largest unit that keeps it readable: "45 seconds", "10 minutes",
/// "3 hours", "12 days".
pub(crate) fn words(secs: u64) -> String {
    let (n, unit) = if secs < 120 {
        (secs, "second")
    } else if secs < 2 * 3600 {
        ((secs + 30) / 60, "minute")
    } else if secs < 2 * 86_400 {
        ((secs + 1800) / 3600, "hour")
    } else if secs < 2 * 365 * 86_400 {
        ((secs + 43_200) / 86_400, "day")
    } else {
        (secs / (365 * 86_400 + 21_600), "year")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_ms(1_500), "1970-01-01T00:00:01.500Z");
        for z in [-800_000, -1, 0, 59, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(unix_from_parts(2000, 2, 29, 0, 0, 0), Some(951_782_400));
        assert_eq!(unix_from_parts(2000, 13, 1, 0, 0, 0), None);
    }

    #[test]
    fn parses_rfc3339_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00.123Z"), Some(951_782_400));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.389-08:00"),
            Some(8 * 3600)
        );
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+0200"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00"), Some(60));
        assert_eq!(parse_rfc3339("2000-02-29"), None);
        assert_eq!(parse_rfc3339("2000-0x-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2000-01-29T00:00:00 UTC"), None);
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(words(1), "1 second");
        assert_eq!(words(45), "45 seconds");
        assert_eq!(words(600), "10 minutes");
        assert_eq!(words(3 * 3600), "3 hours");
        assert_eq!(words(12 * 86_400), "12 days");
        assert_eq!(words(3 * 365 * 86_400 + 86_400), "3 years");
    }
}
