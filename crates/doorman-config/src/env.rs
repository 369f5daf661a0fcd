//! `${VAR}` in the file's string values: secrets and per-machine values (a Redis URL, a support
//! address) come from the environment instead of being written into the file. Done on the parsed
//! tree before anything reads it, so every later check sees the substituted value and every
//! error still points into the file. An unset variable is an error at the value that names it;
//! `$${` writes a literal `${`. The values themselves never appear in a message.

use std::borrow::Cow;

use toml::de::{DeTable, DeValue};

use crate::diag::Sink;

/// Replaces `${VAR}` in every string value of `table`, reporting unset or malformed references
/// into `sink`. `lookup` reads the environment (a parameter so that tests need not change it).
pub(crate) fn substitute(
    table: &mut DeTable<'_>,
    sink: &mut Sink<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) {
    for (_, value) in table.iter_mut() {
        let span = value.span();
        substitute_value(value.get_mut(), span, sink, lookup);
    }
}

fn substitute_value(
    value: &mut DeValue<'_>,
    span: std::ops::Range<usize>,
    sink: &mut Sink<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) {
    match value {
        DeValue::String(s) if s.contains('$') => match expand(s, lookup) {
            Ok(Some(expanded)) => *s = Cow::Owned(expanded),
            Ok(None) => {}
            Err(problem) => {
                let (message, hint) = problem.words();
                sink.error(span, message, Some(hint));
            }
        },
        DeValue::Table(t) => substitute(t, sink, lookup),
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                let span = item.span();
                substitute_value(item.get_mut(), span, sink, lookup);
            }
        }
        _ => {}
    }
}

/// What is wrong with a reference.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    Unset(String),
    Unclosed,
    BadName(String),
}

impl Problem {
    fn words(&self) -> (String, String) {
        match self {
            Problem::Unset(name) => (
                format!("environment variable `{name}` is not set"),
                format!(
                    "set it where doorman runs (export {name}=…, or Environment= in the systemd unit), or write the value here; write $${{ for a literal ${{"
                ),
            ),
            Problem::Unclosed => (
                "`${` is not closed".to_owned(),
                "write ${NAME} with a closing brace, or $${ for a literal ${".to_owned(),
            ),
            Problem::BadName(name) => (
                format!("`{name}` is not an environment variable name"),
                "names are letters, digits and `_`, not starting with a digit: ${DOORMAN_REDIS_URL}"
                    .to_owned(),
            ),
        }
    }
}

/// The string with every `${NAME}` replaced; `None` when it has none (nothing to change).
fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, Problem> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(literal) = after.strip_prefix("${") {
            out.push_str("${");
            rest = literal;
        } else if let Some(reference) = after.strip_prefix('{') {
            let end = reference.find('}').ok_or(Problem::Unclosed)?;
            let name = &reference[..end];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(Problem::BadName(name.to_owned()));
            }
            let value = lookup(name).ok_or_else(|| Problem::Unset(name.to_owned()))?;
            out.push_str(&value);
            rest = &reference[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "REDIS" => Some("redis://10.0.0.5:6379".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn references_are_replaced_and_literals_kept() {
        assert_eq!(
            expand("${REDIS}/0", &env),
            Ok(Some("redis://10.0.0.5:6379/0".into()))
        );
        assert_eq!(expand("a${EMPTY}b", &env), Ok(Some("ab".into())));
        assert_eq!(expand("price $5", &env), Ok(None));
        assert_eq!(expand("$${REDIS}", &env), Ok(Some("${REDIS}".into())));
        assert_eq!(
            expand("$$x ${REDIS}", &env),
            Ok(Some("$$x redis://10.0.0.5:6379".into()))
        );
    }

    #[test]
    fn problems_are_named() {
        assert_eq!(expand("${NOPE}", &env), Err(Problem::Unset("NOPE".into())));
        assert_eq!(expand("${REDIS", &env), Err(Problem::Unclosed));
        assert_eq!(expand("${1X}", &env), Err(Problem::BadName("1X".into())));
        assert_eq!(expand("${A B}", &env), Err(Problem::BadName("A B".into())));
    }
}
