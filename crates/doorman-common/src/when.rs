//! Dates, times and durations as Doorman writes and reads them: RFC 3339 for machines,
//! `2026-11-22 21:44:11 UTC` and "3 minutes ago" for people, `15m` or `1h30m` from operators.
//!
//! Instants are Unix milliseconds (`i64`, UTC), the form the stores keep; [`unix_ms`] converts a
//! `SystemTime`. Nothing here reads the clock: the time to format, and "now" for relative
//! wording, are always inputs, so the pure crates can use this module too. The calendar is
//! `jiff`'s; what is ours is the wording, which pages, receipts and tests pin word for word.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a UTC day (Unix time has no leap seconds, so every day has this many).
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the Unix epoch of `t` (negative before 1970), saturating far outside the
/// range `i64` milliseconds can hold.
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The `SystemTime` of a Unix millisecond (the inverse of [`unix_ms`]).
pub fn from_unix_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

/// `ms` later than `start_ms`, saturating: stored expiry times are "now plus a lifetime" and
/// a lifetime of years must not wrap into the past.
pub fn add(start_ms: i64, d: Duration) -> i64 {
    start_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The UTC day (days since 1970-01-01, negative before) that contains `at_ms`.
pub fn utc_day(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// The hour (hours since the epoch) that contains `at_ms`.
pub fn utc_hour(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS)
}

/// What we print for an instant no calendar can: the raw count of seconds, so that a token
/// that says "year 300 000" is still shown as what it said.
fn beyond_calendar(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    if secs >= 0 {
        format!("{secs} s after 1970-01-01T00:00:00Z")
    } else {
        format!("{} s before 1970-01-01T00:00:00Z", secs.unsigned_abs())
    }
}

/// `at_ms` in UTC with a `strftime` pattern; seconds are truncated, never rounded up into the
/// next second (a log line must not claim a later second than the event).
fn utc(at_ms: i64, pattern: &str) -> String {
    match utc_datetime(at_ms) {
        Some(datetime) => datetime.strftime(pattern).to_string(),
        None => beyond_calendar(at_ms),
    }
}

/// The UTC calendar date and time of `at_ms`. Built from the civil calendar rather than from
/// `Timestamp`, whose range stops a day short of 9999-12-31 (it leaves room for offsets), while
/// RFC 3339 and tokens' `exp` can name that last day.
fn utc_datetime(at_ms: i64) -> Option<DateTime> {
    let secs = at_ms.div_euclid(1000);
    let day = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().try_days(secs.div_euclid(86_400)).ok()?)
        .ok()?;
    let in_day = secs.rem_euclid(86_400);
    // In range by construction: `in_day` is below 86 400.
    let time = jiff::civil::Time::new(
        (in_day / 3_600) as i8,
        (in_day % 3_600 / 60) as i8,
        (in_day % 60) as i8,
        0,
    )
    .ok()?;
    Some(day.to_datetime(time))
}

/// `2026-11-22T21:44:11Z`: RFC 3339, UTC, to the second, for JSON and messages.
pub fn rfc3339(at_ms: i64) -> String {
    utc(at_ms, "%Y-%m-%dT%H:%M:%SZ")
}

/// `2026-11-22T21:44:11.250Z`: RFC 3339 with milliseconds (Statuspage and Atom documents,
/// clock comparisons).
pub fn rfc3339_ms(at_ms: i64) -> String {
    match utc_datetime(at_ms) {
        Some(_) => format!(
            "{}.{:03}Z",
            utc(at_ms, "%Y-%m-%dT%H:%M:%S"),
            at_ms.rem_euclid(1000)
        ),
        None => beyond_calendar(at_ms),
    }
}

/// [`rfc3339`] of a time in whole seconds as a token or cookie carries it (`exp`, `nbf`); such
/// a number is the sender's to choose, so any `u64` is written, beyond the calendar as seconds.
pub fn rfc3339_secs(unix_s: u64) -> String {
    match i64::try_from(unix_s).ok().and_then(|s| s.checked_mul(1000)) {
        Some(ms) => rfc3339(ms),
        None => format!("{unix_s} s after 1970-01-01T00:00:00Z"),
    }
}

/// `22/Nov/2026:21:44:11 +0000`: the time of Apache's common and combined log formats, in UTC.
pub fn clf(at_ms: i64) -> String {
    utc(at_ms, "%d/%b/%Y:%H:%M:%S +0000")
}

/// `2026-11-22 21:44:11 UTC`: what a person reads on a page or a receipt.
pub fn human_utc(at_ms: i64) -> String {
    utc(at_ms, "%Y-%m-%d %H:%M:%S UTC")
}

/// `2026-11-22 21:44:11`, for tables whose header already says UTC.
pub fn utc_seconds(at_ms: i64) -> String {
    utc(at_ms, "%Y-%m-%d %H:%M:%S")
}

/// `2026-11-22 21:44 UTC`, where seconds would be noise (incidents, maintenance windows).
pub fn utc_minutes(at_ms: i64) -> String {
    utc(at_ms, "%Y-%m-%d %H:%M UTC")
}

/// `2026-11-22`, the UTC date of `at_ms`.
pub fn utc_date(at_ms: i64) -> String {
    utc(at_ms, "%Y-%m-%d")
}

/// `21:44`, the UTC time of day of `at_ms`, for "since 21:44 UTC".
pub fn utc_hhmm(at_ms: i64) -> String {
    utc(at_ms, "%H:%M")
}

/// Unix seconds of a UTC date and time given field by field (as certificates store them);
/// `None` when the date does not exist. A leap second (`:60`) is the first second of the next
/// minute, as Unix time counts it.
pub fn unix_secs_from_utc(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    if second > 60 {
        return None;
    }
    let datetime = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second.min(59)).ok()?,
        0,
    )
    .ok()?;
    let t = Offset::UTC.to_timestamp(datetime).ok()?;
    Some(t.as_second() + i64::from(second == 60))
}

/// Text that is not the RFC 3339 time it was meant to be, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 time ({why}); write e.g. 2026-11-22T21:44:11Z")]
pub struct BadTime {
    pub text: String,
    pub why: String,
}

/// Reads an RFC 3339 time as an operator types it: `2026-11-22T21:44:11Z`, with `t`/space for
/// `T`, an optional fraction, `Z` or `±hh:mm`; or a bare date, meaning its midnight UTC. The
/// offset is required: a time without one is ambiguous, and guessing UTC for a person in
/// another zone would silently shift what they asked for. Result in Unix milliseconds (finer
/// fractions are dropped).
pub fn parse_rfc3339(text: &str) -> Result<i64, BadTime> {
    parse(text, Strictness::Operator)
}

/// Reads an RFC 3339 time as servers send it: like [`parse_rfc3339`], but a missing offset is
/// read as UTC and `±hhmm` is accepted, because Statuspage and Doorman both write UTC and a
/// time an hour off is more useful to a diagnosis than none. A bare date is refused: no server
/// sends one where a time is meant.
pub fn parse_rfc3339_lenient(text: &str) -> Result<i64, BadTime> {
    parse(text, Strictness::Server)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    Operator,
    Server,
}

fn parse(text: &str, strictness: Strictness) -> Result<i64, BadTime> {
    let bad = |why: &str| BadTime {
        text: text.to_owned(),
        why: why.to_owned(),
    };
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    // jiff's own grammar (ISO 8601 / Temporal) is wider than RFC 3339: it takes `21:44Z`,
    // week dates and bracketed zones. Checking our shape first keeps "what RFC 3339 says" the
    // contract, and lets the error say which part is wrong.
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return Err(bad("expected a date as YYYY-MM-DD"));
    }
    let date = &text[..10];
    let date_only = b.len() == 10;
    if date_only && strictness == Strictness::Server {
        return Err(bad("a date without a time"));
    }
    let mut canonical = String::with_capacity(text.len() + 6);
    canonical.push_str(date);
    if date_only {
        canonical.push_str("T00:00:00Z");
    } else {
        if !matches!(b[10], b'T' | b't' | b' ') {
            return Err(bad("expected `T` between the date and the time"));
        }
        if !(digits(11..13)
            && b.get(13) == Some(&b':')
            && digits(14..16)
            && b.get(16) == Some(&b':')
            && digits(17..19))
        {
            return Err(bad("expected a time as hh:mm:ss"));
        }
        canonical.push('T');
        canonical.push_str(&text[11..19]);
        let mut rest = &text[19..];
        if let Some(after_dot) = rest.strip_prefix('.') {
            let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return Err(bad("a `.` must be followed by digits"));
            }
            // Milliseconds are all we keep; jiff would refuse more than nine digits.
            canonical.push('.');
            canonical.push_str(&after_dot[..n.min(9)]);
            rest = &after_dot[n..];
        }
        let zone = rest.as_bytes();
        match zone {
            [b'Z' | b'z'] => canonical.push('Z'),
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                push_offset(&mut canonical, *sign, [*h1, *h2], [*m1, *m2])
                    .ok_or_else(|| bad("a bad UTC offset"))?;
            }
            [sign @ (b'+' | b'-'), h1, h2, m1, m2] if strictness == Strictness::Server => {
                push_offset(&mut canonical, *sign, [*h1, *h2], [*m1, *m2])
                    .ok_or_else(|| bad("a bad UTC offset"))?;
            }
            [] if strictness == Strictness::Server => canonical.push('Z'),
            [] => return Err(bad("no UTC offset: end with Z or ±hh:mm")),
            _ => return Err(bad("expected Z or ±hh:mm after the time")),
        }
    }
    let leap_second = &canonical[17..19] == "60";
    if leap_second {
        canonical.replace_range(17..19, "59");
    }
    let t: Timestamp = canonical
        .parse()
        .map_err(|e: jiff::Error| bad(&why_invalid(&e)))?;
    Ok(t.as_millisecond() + if leap_second { 1000 } else { 0 })
}

/// Appends `±hh:mm` when the digits are an offset a clock can have.
fn push_offset(out: &mut String, sign: u8, hours: [u8; 2], minutes: [u8; 2]) -> Option<()> {
    let two = |d: [u8; 2]| -> Option<u8> {
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| (d[0] - b'0') * 10 + (d[1] - b'0'))
    };
    let (h, m) = (two(hours)?, two(minutes)?);
    if h > 23 || m > 59 {
        return None;
    }
    out.push(char::from(sign));
    out.push_str(&format!("{h:02}:{m:02}"));
    Some(())
}

/// jiff's error names the field and its range ("parameter 'day' with value 30 is not in the
/// required range of 1..=28"); that is the part worth showing, without the parser's context.
fn why_invalid(e: &jiff::Error) -> String {
    let message = e.to_string();
    message.rsplit(": ").next().unwrap_or(&message).to_owned()
}

/// Reads an operator's duration: a whole number and a unit (`s`, `m`, `h`, `d`, `w`), or
/// several in a row (`1h30m`). `None` for anything else, including fractions and a bare number:
/// `--since 15` could mean minutes or days, and a guess would show the wrong events.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        let unit_secs = match rest.as_bytes().get(digits)? {
            b's' => 1,
            b'm' => 60,
            b'h' => 3_600,
            b'd' => 86_400,
            b'w' => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit_secs)?)?;
        rest = &rest[digits + 1..];
    }
    Some(Duration::from_secs(total))
}

/// Reads a duration as someone may write it in a config file where milliseconds or seconds are
/// expected (`2s`, `500ms`, `1.5m`, `1 hour`), in milliseconds, to suggest the number to write.
/// Wider than [`parse_duration`] because it only feeds a hint, never a setting.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let number: f64 = t[..end].replace('_', "").parse().ok()?;
    let scale: f64 = match t[end..].trim().to_ascii_lowercase().as_str() {
        "ms" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hour" | "hours" => 3_600_000.0,
        _ => return None,
    };
    Some((number * scale).round() as u64)
}

/// The names a duration's units are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitNames {
    /// `1 minute 30 seconds`, `250 ms`: pages, receipts, the CLI.
    Long,
    /// `1 min 30 s`, `2 h 5 min`, `4 days 1 h`: JWT rejections, where the message around the
    /// duration is already long.
    Short,
}

impl UnitNames {
    /// Singular and plural of days, hours, minutes, seconds, largest first.
    fn units(self) -> [(u64, &'static str, &'static str); 4] {
        match self {
            UnitNames::Long => [
                (86_400, "day", "days"),
                (3_600, "hour", "hours"),
                (60, "minute", "minutes"),
                (1, "second", "seconds"),
            ],
            UnitNames::Short => [
                (86_400, "day", "days"),
                (3_600, "h", "h"),
                (60, "min", "min"),
                (1, "s", "s"),
            ],
        }
    }
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration as a person says it: whole units, largest first, at most two and only
/// adjacent ones ("1 hour 5 seconds" reads worse than "1 hour", and the seconds do not matter
/// once there are hours). Under a second it is milliseconds; under ten seconds a fraction is
/// kept ("1.5 seconds"), since that is where it changes what a person does.
pub fn duration_words(d: Duration, names: UnitNames) -> String {
    let ms = d.as_millis();
    let [.., (_, _, seconds)] = names.units();
    // Zero is "0 seconds", not "0 ms": "try again in 0 ms" reads like a measurement.
    if ms == 0 {
        return format!("0 {seconds}");
    }
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if !ms.is_multiple_of(1000) && ms < 10_000 {
        return format!("{:.1} {seconds}", ms as f64 / 1000.0);
    }
    let mut secs = d.as_secs();
    let mut parts = Vec::new();
    for (size, one, many) in names.units() {
        if secs >= size && parts.len() < 2 {
            parts.push(count(secs / size, one, many));
            secs %= size;
        } else if !parts.is_empty() {
            break;
        }
    }
    parts.join(" ")
}

/// Where a rounded span moves on to the next larger unit, in seconds. Three scales exist
/// because three kinds of message were worded apart and people now read them that way; they
/// share the rounding, so a span never reads "60 minutes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    minutes_from: u64,
    hours_from: u64,
    days_from: u64,
    /// `None`: days however many (a key valid "for 1000 days" says so).
    years_from: Option<u64>,
}

impl Scale {
    /// The next unit as soon as there is one of it, but hours up to two days: API keys'
    /// lifetimes ("in 30 days", "47 hours ago").
    pub const ONE_OF_THE_NEXT: Scale = Scale {
        minutes_from: 60,
        hours_from: 3_600,
        days_from: 48 * 3_600,
        years_from: None,
    };
    /// Seconds up to 90, hours up to a day and a half: challenge and clearance messages, where
    /// "89 seconds" after a check is more useful than "1 minute".
    pub const CHALLENGE: Scale = Scale {
        minutes_from: 90,
        hours_from: 3_600,
        days_from: 36 * 3_600,
        years_from: None,
    };
    /// The next unit once there are two of it, years included: `doorman doctor`'s facts
    /// (certificate lifetimes, clock offsets), where "90 seconds" and "18 months" are kept
    /// precise and "3 years" needs no more.
    pub const TWO_OF_THE_NEXT: Scale = Scale {
        minutes_from: 120,
        hours_from: 2 * 3_600,
        days_from: 2 * 86_400,
        years_from: Some(2 * 365 * 86_400),
    };
}

/// A Julian year (365.25 days): certificate lifetimes span leap days, and "3 years" should not
/// turn into "2 years" a day early.
const YEAR_SECS: u64 = 365 * 86_400 + 21_600;

/// A span in the one unit that fits it on `scale`, rounded to the nearest ("expired 2 minutes
/// 50 seconds ago" is "3 minutes ago", as a person says it); seconds are not rounded.
pub fn span_words(d: Duration, scale: Scale) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let secs = ms / 1000;
    let nearest = |unit_secs: u64| ms.saturating_add(unit_secs * 500) / (unit_secs * 1000);
    // Each step: (this unit, where the next begins). Rounding up to the next unit's start
    // (59.5 minutes) moves on to it, so a span never reads "60 minutes" or "48 hours".
    let steps = [
        (60, "minute", scale.hours_from),
        (3_600, "hour", scale.days_from),
        (86_400, "day", scale.years_from.unwrap_or(u64::MAX)),
        (YEAR_SECS, "year", u64::MAX),
    ];
    if secs < scale.minutes_from {
        return plural(secs, "second");
    }
    for (unit_secs, name, next_from) in steps {
        let n = nearest(unit_secs);
        if secs < next_from && n.saturating_mul(unit_secs) < next_from {
            return plural(n, name);
        }
    }
    plural(nearest(YEAR_SECS), "year")
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `at_ms` relative to `now_ms`: `just now` within a second, else `42 seconds ago`,
/// `in 3 minutes`, `in 30 days` on [`Scale::ONE_OF_THE_NEXT`]. Rounded to the nearest unit,
/// so that a key created "for 30d" a few milliseconds ago still reads "in 30 days".
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = at_ms.saturating_sub(now_ms);
    if delta.unsigned_abs() < 1000 {
        return "just now".to_owned();
    }
    let amount = span_words(
        Duration::from_millis(delta.unsigned_abs()),
        Scale::ONE_OF_THE_NEXT,
    );
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `2026-11-22T21:44:11Z (3 minutes ago)`: both forms, as key receipts and the CLI show a
/// time.
pub fn rfc3339_and_relative(at_ms: i64, now_ms: i64) -> String {
    format!("{} ({})", rfc3339(at_ms), relative(at_ms, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T21:44:11Z, checked with `date -u -d @1795383851`.
    const NOV_22_MS: i64 = 1_795_383_851_000;
    /// 2000-02-29T00:00:00Z: a leap day in a century year divisible by 400.
    const LEAP_DAY_MS: i64 = 951_782_400_000;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(NOV_22_MS), "2026-11-22T21:44:11Z");
        assert_eq!(rfc3339(LEAP_DAY_MS), "2000-02-29T00:00:00Z");
        // Truncated, never rounded into the next second.
        assert_eq!(rfc3339(LEAP_DAY_MS + 999), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599_000), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(1_772_373_731_000), "2026-03-01T14:02:11Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_ms(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(1_795_184_520_123), "2026-11-20T14:22:00.123Z");
    }

    #[test]
    fn leap_years_follow_the_gregorian_rules() {
        // 2024 is a leap year, 2100 is not (divisible by 100), 2000 is (divisible by 400).
        let feb_28 = |year| unix_secs_from_utc(year, 2, 28, 0, 0, 0).unwrap() * 1000;
        assert_eq!(utc_date(feb_28(2024) + DAY_MS), "2024-02-29");
        assert_eq!(utc_date(feb_28(2100) + DAY_MS), "2100-03-01");
        assert_eq!(utc_date(feb_28(2000) + DAY_MS), "2000-02-29");
        assert_eq!(unix_secs_from_utc(2100, 2, 29, 0, 0, 0), None);
        assert_eq!(utc_date(11_017 * DAY_MS), "2000-03-01");
        assert_eq!(utc_date(-DAY_MS), "1969-12-31");
    }

    #[test]
    fn far_future_and_past_are_written_as_seconds() {
        let max_rfc3339_secs: u64 = 253_402_300_799;
        assert_eq!(rfc3339_secs(max_rfc3339_secs), "9999-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_secs(max_rfc3339_secs + 1),
            "253402300800 s after 1970-01-01T00:00:00Z"
        );
        assert!(rfc3339_secs(u64::MAX).contains("after 1970"));
        assert!(rfc3339(i64::MAX).contains("after 1970"));
        assert!(rfc3339_ms(i64::MAX).contains("after 1970"));
        assert!(human_utc(i64::MIN).contains("before 1970"));
        // A key "valid for" a huge duration saturates instead of wrapping into the past.
        assert_eq!(add(NOV_22_MS, Duration::MAX), i64::MAX);
        assert_eq!(add(NOV_22_MS, Duration::from_secs(1)), NOV_22_MS + 1000);
    }

    #[test]
    fn people_read_utc_in_their_shapes() {
        assert_eq!(human_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(human_utc(NOV_22_MS + 123), "2026-11-22 21:44:11 UTC");
        assert_eq!(utc_seconds(NOV_22_MS), "2026-11-22 21:44:11");
        assert_eq!(utc_minutes(1_795_184_520_123), "2026-11-20 14:22 UTC");
        assert_eq!(utc_hhmm(1_795_184_520_123), "14:22");
        assert_eq!(utc_date(NOV_22_MS), "2026-11-22");
        assert_eq!(utc_day(-1), -1);
        assert_eq!(utc_day(DAY_MS - 1), 0);
        assert_eq!(utc_day(DAY_MS), 1);
        assert_eq!(utc_hour(HOUR_MS * 5 + 1), 5);
    }

    #[test]
    fn system_times_round_trip_through_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_383_851_123);
        assert_eq!(unix_ms(t), 1_795_383_851_123);
        assert_eq!(from_unix_ms(unix_ms(t)), t);
        let before = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(unix_ms(before), -1_500);
        assert_eq!(from_unix_ms(-1_500), before);
    }

    #[test]
    fn certificate_fields_convert_to_unix_seconds() {
        assert_eq!(unix_secs_from_utc(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_secs_from_utc(2000, 2, 29, 0, 0, 0), Some(951_782_400));
        assert_eq!(unix_secs_from_utc(2000, 13, 1, 0, 0, 0), None);
        assert_eq!(unix_secs_from_utc(2026, 4, 31, 0, 0, 0), None);
        assert_eq!(unix_secs_from_utc(2026, 1, 1, 24, 0, 0), None);
        // A leap second is the next minute's first second.
        assert_eq!(
            unix_secs_from_utc(2016, 12, 31, 23, 59, 60),
            unix_secs_from_utc(2017, 1, 1, 0, 0, 0)
        );
    }

    #[test]
    fn operators_write_rfc3339_with_an_offset_or_a_bare_date() {
        let t = NOV_22_MS;
        for ok in [
            "2026-11-22T21:44:11Z",
            "2026-11-22t21:44:11z",
            "2026-11-22 21:44:11Z",
            "2026-11-22T22:44:11+01:00",
            "2026-11-22T20:14:11-01:30",
        ] {
            assert_eq!(parse_rfc3339(ok), Ok(t), "{ok}");
        }
        assert_eq!(parse_rfc3339("2026-11-22T21:44:11.250Z"), Ok(t + 250));
        assert_eq!(
            parse_rfc3339("2026-11-22T21:44:11.1234567891Z"),
            Ok(t + 123)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22"),
            Ok(t - (21 * 3_600 + 44 * 60 + 11) * 1000)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Ok(LEAP_DAY_MS));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(-1000));
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2017-01-01T00:00:00Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-11-22T21:44:11",
            "2026-13-01",
            "2026-02-30",
            "2026-02-29",
            "2100-02-29",
            "2026-11-22T24:00:00Z",
            "2026-11-22T21:44Z",
            "2026-11-22T21:44:11+0100",
            "2026-11-22T21:44:11+24:00",
            "2026-11-22T21:44:11.Z",
            "2026-11-22T21:44:11 UTC",
            "2026-11-22T21:44:11Z[Europe/Amsterdam]",
            "２０２６-11-22",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_rfc3339_says_what_is_wrong() {
        let e = parse_rfc3339("2026-02-30").unwrap_err();
        assert_eq!(e.text, "2026-02-30");
        let message = e.to_string();
        assert!(
            message.starts_with("`2026-02-30` is not an RFC 3339 time ("),
            "{message}"
        );
        assert!(message.contains("day"), "{message}");
        assert!(
            message.ends_with("write e.g. 2026-11-22T21:44:11Z"),
            "{message}"
        );
        let e = parse_rfc3339("2026-11-22T21:44:11").unwrap_err();
        assert!(e.why.contains("no UTC offset"), "{e}");
        let e = parse_rfc3339("22/11/2026").unwrap_err();
        assert!(e.why.contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn servers_may_leave_out_the_offset() {
        assert_eq!(parse_rfc3339_lenient("1970-01-01T00:01:00Z"), Ok(60_000));
        assert_eq!(
            parse_rfc3339_lenient("2000-02-29T00:00:00.123Z"),
            Ok(LEAP_DAY_MS + 123)
        );
        assert_eq!(
            parse_rfc3339_lenient("1970-01-01T00:00:00.389-08:00"),
            Ok(8 * HOUR_MS + 389)
        );
        assert_eq!(parse_rfc3339_lenient("1970-01-01T02:00:00+0200"), Ok(0));
        assert_eq!(parse_rfc3339_lenient("1970-01-01T00:01:00"), Ok(60_000));
        for bad in [
            "2000-02-29",
            "2000-0x-29T00:00:00Z",
            "2000-01-29T00:00:00 UTC",
        ] {
            assert!(parse_rfc3339_lenient(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn operator_durations() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(parse_duration("30s"), secs(30));
        assert_eq!(parse_duration("15m"), secs(900));
        assert_eq!(parse_duration("2h"), secs(7_200));
        assert_eq!(parse_duration("7d"), secs(604_800));
        assert_eq!(parse_duration("2w"), secs(1_209_600));
        assert_eq!(parse_duration("1h30m"), secs(5_400));
        assert_eq!(parse_duration("0s"), secs(0));
        for bad in [
            "",
            "15",
            "m",
            "15x",
            "-5m",
            "1.5h",
            "15m ",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        // Overflows the seconds a Duration is built from: refused, not wrapped.
        assert_eq!(parse_duration("30600000000000w"), None);
    }

    #[test]
    fn config_hint_durations() {
        assert_eq!(parse_duration_ms("2s"), Some(2_000));
        assert_eq!(parse_duration_ms("1.5m"), Some(90_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("1 hour"), Some(3_600_000));
        assert_eq!(parse_duration_ms("1_000 ms"), Some(1_000));
        assert_eq!(parse_duration_ms("0s"), Some(0));
        assert_eq!(parse_duration_ms("500"), None);
        assert_eq!(parse_duration_ms("soon"), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        let long = |d| duration_words(d, UnitNames::Long);
        assert_eq!(long(Duration::ZERO), "0 seconds");
        assert_eq!(long(Duration::from_millis(250)), "250 ms");
        assert_eq!(long(Duration::from_millis(1500)), "1.5 seconds");
        assert_eq!(long(Duration::from_secs(1)), "1 second");
        assert_eq!(long(Duration::from_secs(10)), "10 seconds");
        assert_eq!(long(Duration::from_millis(10_500)), "10 seconds");
        assert_eq!(long(Duration::from_secs(60)), "1 minute");
        assert_eq!(long(Duration::from_secs(90)), "1 minute 30 seconds");
        assert_eq!(long(Duration::from_secs(3605)), "1 hour");
        assert_eq!(long(Duration::from_secs(120)), "2 minutes");
        assert_eq!(long(Duration::from_secs(7200)), "2 hours");
        assert_eq!(long(Duration::from_secs(3660)), "1 hour 1 minute");
        assert_eq!(
            long(Duration::from_secs(2 * 86_400 + 3_600)),
            "2 days 1 hour"
        );
        assert!(!long(Duration::MAX).is_empty());
    }

    #[test]
    fn short_unit_names_for_jwt_messages() {
        let short = |s| duration_words(Duration::from_secs(s), UnitNames::Short);
        assert_eq!(short(0), "0 s");
        assert_eq!(short(59), "59 s");
        assert_eq!(short(180), "3 min");
        assert_eq!(short(200), "3 min 20 s");
        assert_eq!(short(7_500), "2 h 5 min");
        assert_eq!(short(86_400), "1 day");
        assert_eq!(short(4 * 86_400 + 3600), "4 days 1 h");
    }

    #[test]
    fn challenge_spans_round_to_the_nearest_unit() {
        let span = |s| span_words(Duration::from_secs(s), Scale::CHALLENGE);
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(89), "89 seconds");
        assert_eq!(span(90), "2 minutes");
        assert_eq!(span(170), "3 minutes");
        // 59.5 minutes rounds to an hour, not to "60 minutes".
        assert_eq!(span(3_570), "1 hour");
        assert_eq!(span(3600), "1 hour");
        assert_eq!(span(35 * 3600), "35 hours");
        assert_eq!(span(36 * 3600), "2 days");
        assert_eq!(span(7 * 86_400), "7 days");
        assert!(!span(u64::MAX).is_empty());
    }

    #[test]
    fn doctor_spans_keep_two_of_a_unit_before_moving_on() {
        let words = |s| span_words(Duration::from_secs(s), Scale::TWO_OF_THE_NEXT);
        assert_eq!(words(1), "1 second");
        assert_eq!(words(45), "45 seconds");
        assert_eq!(words(90), "90 seconds");
        assert_eq!(words(600), "10 minutes");
        assert_eq!(words(100 * 60), "100 minutes");
        assert_eq!(words(3 * 3600), "3 hours");
        assert_eq!(words(12 * 86_400), "12 days");
        assert_eq!(words(729 * 86_400), "729 days");
        assert_eq!(words(730 * 86_400), "2 years");
        assert_eq!(words(3 * 365 * 86_400 + 86_400), "3 years");
    }

    #[test]
    fn relative_picks_the_unit_and_direction() {
        let now = 1_000_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now + 999, now), "just now");
        assert_eq!(relative(now - 1_000, now), "1 second ago");
        assert_eq!(relative(now - 59_999, now), "59 seconds ago");
        assert_eq!(relative(now - 60_000, now), "1 minute ago");
        assert_eq!(relative(now - 150_000, now), "3 minutes ago");
        assert_eq!(relative(now - 180_000, now), "3 minutes ago");
        assert_eq!(relative(now + 3_590_000, now), "in 1 hour");
        assert_eq!(relative(now + 3_600_000, now), "in 1 hour");
        assert_eq!(relative(now + 2 * 3_600_000, now), "in 2 hours");
        assert_eq!(relative(now + 24 * 3_600_000 - 5, now), "in 24 hours");
        assert_eq!(relative(now + 47 * 3_600_000, now), "in 47 hours");
        assert_eq!(relative(now + 48 * 3_600_000, now), "in 2 days");
        assert_eq!(relative(now + 30 * 86_400_000 - 5, now), "in 30 days");
        assert_eq!(relative(now - 30 * 86_400_000, now), "30 days ago");
        assert_eq!(relative(now + 1000 * 86_400_000, now), "in 1000 days");
        // The extremes saturate rather than overflow.
        assert!(relative(i64::MAX, i64::MIN).starts_with("in "));
        assert!(relative(i64::MIN, i64::MAX).ends_with(" ago"));
    }

    #[test]
    fn both_forms_together() {
        assert_eq!(
            rfc3339_and_relative(NOV_22_MS, NOV_22_MS + 180_000),
            "2026-11-22T21:44:11Z (3 minutes ago)"
        );
    }
}
