//! The answer's way back: the form the page (or an API client) POSTs to the submit path, and
//! the JSON the gateway replies with.
//!
//! Request: `application/x-www-form-urlencoded` with `token`, `counter` (decimal), and, from
//! the page, `return_to`, `clock_offset_ms` (the device's clock minus the server's), `attempts`
//! and `solve_ms` (how much work it took, and how long), all for the event log. Reply: 200 [`accepted`] with the two `Set-Cookie` headers of
//! [`crate::issue_cookies`], or 403 [`refused`]; the page reads `detail` and `remedies[0]`.

use serde_json::{Value, json};

use crate::page::safe_path;
use crate::pow::PowRejection;

/// A parsed submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The challenge token.
    pub token: String,
    /// The counter found.
    pub counter: u64,
    /// Where the page goes next (already limited to a path on this site; `/` when absent).
    pub return_to: String,
    /// The device's clock minus the server's, in ms, if the page sent it.
    pub clock_offset_ms: Option<i64>,
    /// Hashes the page computed (all workers together), if it sent them.
    pub attempts: Option<u64>,
    /// Milliseconds the page spent solving, if it sent them.
    pub solve_ms: Option<u64>,
}

/// Longest body accepted: a token, a counter and a path fit easily.
pub const MAX_BODY: usize = 4096;

impl Submission {
    /// Parses a form body. A missing or non-numeric `token`/`counter` is
    /// [`PowRejection::Malformed`]; unknown fields are ignored.
    pub fn parse(body: &[u8]) -> Result<Submission, PowRejection> {
        if body.len() > MAX_BODY {
            return Err(PowRejection::Malformed {
                why: "the form is larger than any answer",
            });
        }
        let mut token = None;
        let mut counter = None;
        let mut return_to = None;
        let mut clock_offset_ms = None;
        let mut attempts = None;
        let mut solve_ms = None;
        for pair in body.split(|b| *b == b'&') {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let value = form_decode(value);
            match name {
                b"token" => token = value,
                b"counter" => counter = value,
                b"return_to" => return_to = value,
                b"clock_offset_ms" => clock_offset_ms = value.and_then(|v| v.parse::<i64>().ok()),
                b"attempts" => attempts = value.and_then(|v| v.parse::<u64>().ok()),
                b"solve_ms" => solve_ms = value.and_then(|v| v.parse::<u64>().ok()),
                _ => {}
            }
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(PowRejection::Malformed {
                why: "the form has no `token`",
            })?;
        let counter = counter
            .filter(|c| !c.is_empty() && c.len() <= 20 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or(PowRejection::Malformed {
                why: "`counter` is missing or not a decimal number",
            })?;
        Ok(Submission {
            token,
            counter,
            return_to: safe_path(return_to.as_deref().unwrap_or("/")).to_owned(),
            clock_offset_ms,
            attempts,
            solve_ms,
        })
    }
}

/// Decodes one form value (`+` is a space, `%XX` a byte); `None` if it is not UTF-8 or has a
/// broken escape.
fn form_decode(v: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = v.get(i + 1..i + 3)?;
                let s = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The 200 reply to an accepted answer (send the cookies with it).
pub fn accepted(return_to: &str) -> Value {
    json!({ "ok": true, "return_to": safe_path(return_to) })
}

/// The 403 problem document for a refused answer.
pub fn refused(rejection: &PowRejection, ray_id: &str) -> Value {
    json!({
        "type": format!("urn:doorman:error:{}", rejection.code()),
        "title": "The challenge answer was refused",
        "status": 403,
        "code": rejection.code(),
        "detail": rejection.reason(),
        "instance": format!("urn:doorman:ray:{ray_id}"),
        "ray_id": ray_id,
        "remedies": [rejection.remedy()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_page_sends() {
        let s = Submission::parse(
            b"token=v1.k1.AAA.BBB&counter=12345&return_to=%2Fchat%3Fq%3Da%2Bb&clock_offset_ms=-420000&attempts=70000&solve_ms=812",
        )
        .unwrap();
        assert_eq!(s.token, "v1.k1.AAA.BBB");
        assert_eq!(s.counter, 12345);
        assert_eq!(s.return_to, "/chat?q=a+b");
        assert_eq!(s.clock_offset_ms, Some(-420_000));
        assert_eq!((s.attempts, s.solve_ms), (Some(70_000), Some(812)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for body in [
            &b""[..],
            b"counter=1",
            b"token=x",
            b"token=x&counter=-1",
            b"token=x&counter=1e3",
            b"token=x&counter=99999999999999999999999",
            b"token=%zz&counter=1",
        ] {
            let e = Submission::parse(body).unwrap_err();
            assert_eq!(e.code(), "CHALLENGE_MALFORMED", "{body:?}");
        }
        let s =
            Submission::parse(b"token=x&counter=7&return_to=https%3A%2F%2Fevil.example").unwrap();
        assert_eq!(s.return_to, "/");
    }
}
