//! The local clock against the server's: tokens, signed links and clearance cookies are
//! time-stamped, so a device whose clock is minutes off sees valid ones as expired or not yet
//! valid, and the refusal looks like the site's fault.
//!
//! Two measures: the `Date` header (whole seconds, so ±1 s) and the trace endpoint's
//! `server_time_ms`, taken half-way through the round trip (± half the round trip). The more
//! precise one wins.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doorman_common::when::{self, Scale};

use crate::http::Fetched;
use crate::{Status, Step};

/// Beyond this, tokens and cookies start to fail (the gateway's JWT leeway is 60 s).
const LIMIT_MS: i64 = 60_000;

/// Local time in ms since the epoch, with the pretend skew applied.
pub(crate) fn now_ms(skew_ms: i64) -> i64 {
    let now = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    now.saturating_add(skew_ms)
}

/// A duration for a person: "0.4 ms", "12 ms", "1.3 s".
pub(crate) fn elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// One reading of the server's clock.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub source: String,
    pub server_ms: i64,
    pub local_ms: i64,
    pub uncertainty_ms: i64,
}

/// A reading from an answer's `Date` header.
pub(crate) fn from_date(f: &Fetched, source: &str) -> Option<Sample> {
    let date = httpdate::parse_http_date(f.header("date")?).ok()?;
    let secs = i64::try_from(date.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let rtt = i64::try_from(f.rtt.as_millis()).unwrap_or(i64::MAX / 4);
    // The header is truncated to the second: the middle of that second is the best guess.
    Some(Sample {
        source: source.to_owned(),
        server_ms: secs * 1000 + 500,
        local_ms: f.sent_ms + rtt / 2,
        uncertainty_ms: 500 + rtt / 2,
    })
}

/// The clock step.
pub(crate) fn step(samples: &[Sample], skew_ms: i64) -> Step {
    let Some(best) = samples.iter().min_by_key(|s| s.uncertainty_ms) else {
        return Step::skipped(
            "clock",
            "the server sent no Date header and has no trace endpoint",
        );
    };
    let mut step = Step::new("clock");
    let offset = best.local_ms - best.server_ms;
    step.fact("local clock", when::rfc3339_ms(best.local_ms));
    step.fact("server clock", when::rfc3339_ms(best.server_ms));
    // Rounded first so that a few ms either way print as +0.0, not -0.0.
    let secs = (offset as f64 / 100.0).round() / 10.0 + 0.0;
    let error = if best.uncertainty_ms < 1000 {
        format!("{} ms", best.uncertainty_ms)
    } else {
        format!("{:.1} s", best.uncertainty_ms as f64 / 1000.0)
    };
    step.fact(
        "offset",
        format!("{secs:+.1} s (± {error}; local minus server)"),
    );
    step.fact("measured from", best.source.clone());
    if skew_ms != 0 {
        step.fact(
            "pretend skew",
            format!("{skew_ms} ms added to the local clock (--clock-skew)"),
        );
    }
    // Only an offset beyond the limit *and* beyond the measurement's own error is a failure.
    if offset.abs() > LIMIT_MS && offset.abs() > best.uncertainty_ms {
        let how = when::span_words(
            Duration::from_secs(offset.unsigned_abs() / 1000),
            Scale::TWO_OF_THE_NEXT,
        );
        let dir = if offset > 0 { "fast" } else { "slow" };
        step.fail(format!(
            "your clock is {how} {dir}; turn on automatic time (network time) in your system's date and time settings. \
             Tokens, signed links and clearance cookies are time-stamped, so a wrong clock makes valid ones look {}. \
             (If this device's clock is right, the server's is wrong: tell the site's operator.)",
            if offset > 0 { "expired" } else { "not yet valid" }
        ));
    } else if offset.abs() > 10_000 && offset.abs() > best.uncertainty_ms {
        step.status = Status::Warn;
        step.fix = Some(format!(
            "your clock is {} {}; within the 60 s that time-stamped credentials tolerate, but turn on automatic time before it grows",
            when::span_words(
                Duration::from_secs(offset.unsigned_abs() / 1000),
                Scale::TWO_OF_THE_NEXT
            ),
            if offset > 0 { "fast" } else { "slow" }
        ));
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offset_ms: i64) -> Sample {
        Sample {
            source: "test".into(),
            server_ms: 1_000_000_000_000,
            local_ms: 1_000_000_000_000 + offset_ms,
            uncertainty_ms: 500,
        }
    }

    #[test]
    fn judges_offsets() {
        assert_eq!(step(&[sample(300)], 0).status, Status::Ok);
        assert_eq!(step(&[sample(-20_000)], 0).status, Status::Warn);
        let s = step(&[sample(600_000)], 0);
        assert_eq!(s.status, Status::Fail);
        assert!(
            s.fix
                .as_deref()
                .unwrap()
                .starts_with("your clock is 10 minutes fast")
        );
        let s = step(&[sample(-3 * 3_600_000)], 0);
        assert!(s.fix.as_deref().unwrap().contains("3 hours slow"));
        assert_eq!(step(&[], 0).status, Status::Skip);
        // The precise sample wins.
        let mut precise = sample(1_000);
        precise.uncertainty_ms = 2;
        assert_eq!(step(&[sample(600_000), precise], 0).status, Status::Ok);
    }
}
