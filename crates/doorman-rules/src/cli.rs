//! The library side of `doorman rules check` and `doorman rules eval`.
//!
//! The `doorman` binary (crate doorman-cli) parses arguments, reads the fields file or stdin,
//! prints, and maps errors to exit codes with [`CliError::exit_code`]. Everything with meaning
//! lives here so the contract is tested in this crate:
//!
//! - `check`: valid → exit 0, the normalized expression on stdout; invalid → exit 1, the error
//!   (with caret) on stderr.
//! - `eval`: prints `true` or `false`, exit 0; a bad expression, bad JSON, a value of the wrong
//!   type for its field, or an unknown field name → exit 2, the error on stderr.
//!
//! ```no_run
//! // In doorman-cli:
//! # fn run(expr: &str, json: &str) -> i32 {
//! match doorman_rules::cli::eval_command(expr, json) {
//!     Ok(b) => { println!("{b}"); 0 }
//!     Err(e) => { eprintln!("{e}"); e.exit_code() }
//! }
//! # }
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;

use crate::compiled::compile;
use crate::error::{RuleError, nearest};
use crate::expr::{EvalContext, FieldProvider};
use crate::lists::{ListRegistry, NoLists};
use crate::scheme::{Field, Scheme};
use crate::value::{Map, Type, Value};

/// Why a `rules` subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `check`: the expression is invalid (exit 1).
    #[error("{0}")]
    Invalid(RuleError),
    /// `eval`: the expression is invalid (exit 2).
    #[error("{0}")]
    EvalInvalid(RuleError),
    /// `eval`: the fields file is not a JSON object of known fields with fitting values (exit 2).
    #[error("fields: {0}")]
    Fields(String),
    /// `eval`: the fields could not be read (exit 2).
    #[error("fields: cannot read: {0}")]
    Read(#[from] std::io::Error),
}

impl CliError {
    /// The process exit code for this error (1 for `check`, 2 for `eval`).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Invalid(_) => 1,
            _ => 2,
        }
    }
}

/// `doorman rules check 'EXPR'`: the normalized expression, or the error.
pub fn check_command(expr: &str) -> Result<String, CliError> {
    check_command_with(expr, &NoLists)
}

/// `check` with named lists available.
pub fn check_command_with(expr: &str, lists: &dyn ListRegistry) -> Result<String, CliError> {
    compile(expr, Scheme::builtin(), lists)
        .map(|e| e.normalized().to_string())
        .map_err(CliError::Invalid)
}

/// `doorman rules eval 'EXPR' --fields FILE` where `fields_json` is the file's content.
pub fn eval_command(expr: &str, fields_json: &str) -> Result<bool, CliError> {
    eval_command_with(expr, fields_json, &NoLists)
}

/// `eval` reading the fields JSON from a reader (a file, or stdin for `-`).
pub fn eval_command_reader(expr: &str, mut fields: impl Read) -> Result<bool, CliError> {
    let mut text = String::new();
    fields.read_to_string(&mut text)?;
    eval_command(expr, &text)
}

/// `eval` with named lists available.
pub fn eval_command_with(
    expr: &str,
    fields_json: &str,
    lists: &dyn ListRegistry,
) -> Result<bool, CliError> {
    let compiled = compile(expr, Scheme::builtin(), lists).map_err(CliError::EvalInvalid)?;
    let fields = JsonFields::parse(fields_json)?;
    let ctx = EvalContext::new(&fields);
    Ok(compiled.matches(&ctx))
}

/// Field values read from a JSON object (`{"http.host": "example.com", "ip.src": "192.0.2.1"}`).
///
/// Strings give String, Bytes and IP fields; numbers give Integer fields; booleans give
/// Boolean fields; arrays and objects give Array and Map fields; `null` or an absent key is a
/// missing value. Also useful in tests of other crates.
#[derive(Debug, Default)]
pub struct JsonFields {
    values: HashMap<Field, Value<'static>>,
}

impl JsonFields {
    /// Parses and type-checks the object.
    pub fn parse(json: &str) -> Result<JsonFields, CliError> {
        let doc: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| CliError::Fields(format!("invalid JSON: {e}")))?;
        let serde_json::Value::Object(obj) = doc else {
            return Err(CliError::Fields(
                "expected a JSON object mapping field names to values".into(),
            ));
        };
        let scheme = Scheme::builtin();
        let mut values = HashMap::new();
        let mut given: HashMap<Field, String> = HashMap::new();
        for (name, v) in obj {
            let Some(field) = scheme.lookup(&name) else {
                let near = nearest(&name, scheme.names());
                let hint = if near.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", near.join(", "))
                };
                return Err(CliError::Fields(format!("unknown field `{name}`{hint}")));
            };
            if let Some(prev) = given.insert(field, name.clone()) {
                return Err(CliError::Fields(format!(
                    "`{name}` and `{prev}` name the same field; give it once"
                )));
            }
            let ty = field.ty();
            let value = convert(&v, &ty).map_err(|what| {
                CliError::Fields(format!("`{name}` is {ty}, but the value {what}"))
            })?;
            values.insert(field, value);
        }
        Ok(JsonFields { values })
    }
}

impl FieldProvider for JsonFields {
    fn field(&self, field: Field) -> Value<'_> {
        self.values
            .get(&field)
            .map_or(Value::Missing, Value::reborrow)
    }
}

fn convert(v: &serde_json::Value, ty: &Type) -> Result<Value<'static>, String> {
    use serde_json::Value as J;
    Ok(match (v, ty) {
        (J::Null, _) => Value::Missing,
        (J::String(s), t) if t.is_bytes() => Value::string(s.clone()),
        (J::String(s), Type::Ip) => Value::Ip(
            s.parse::<IpAddr>()
                .map_err(|_| format!("\"{s}\" is not an IP address"))?,
        ),
        (J::Number(n), Type::Int) => Value::Int(
            n.as_i64()
                .ok_or_else(|| format!("{n} is not a 64-bit integer"))?,
        ),
        (J::Bool(b), Type::Bool) => Value::Bool(*b),
        (J::Array(items), Type::Array(elem)) => Value::Array(
            items
                .iter()
                .map(|x| convert(x, elem))
                .collect::<Result<_, _>>()?,
        ),
        (J::Object(obj), Type::Map(elem)) => {
            let mut entries = Vec::with_capacity(obj.len());
            for (k, x) in obj {
                entries.push((std::borrow::Cow::Owned(k.clone()), convert(x, elem)?));
            }
            Value::Map(Map::new(entries))
        }
        (other, _) => {
            let kind = match other {
                J::String(_) => "is a string",
                J::Number(_) => "is a number",
                J::Bool(_) => "is a boolean",
                J::Array(_) => "is an array",
                J::Object(_) => "is an object",
                J::Null => "is null",
            };
            return Err(kind.to_string());
        }
    })
}
