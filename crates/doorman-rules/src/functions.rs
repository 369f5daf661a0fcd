//! The built-in functions: their signatures (checked at compile time) and their bodies.
//!
//! `build` turns a parsed call into a [`Func`], pulling arguments that must be literals (a
//! regex, a separator, a key) into the `Func` itself so they are prepared once. `Func::apply`
//! computes one result from evaluated arguments; a missing or mistyped argument gives a missing
//! result, except where Cloudflare documents otherwise (`concat` treats missing as empty).
//! `any()` and `all()` are not here: they are logical quantifiers handled by the parser.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use regex::bytes::Regex;
use sha2::{Digest, Sha256};

use crate::error::ErrorKind;
use crate::value::{Type, Value};
use crate::wildcard::Wildcard;

/// Names of every function, for "did you mean" and docs.
pub(crate) const NAMES: &[&str] = &[
    "any",
    "all",
    "cidr",
    "cidr6",
    "coalesce",
    "concat",
    "decode_base64",
    "encode_base64",
    "ends_with",
    "hash_in_range",
    "is_timed_hmac_valid_v0",
    "join",
    "len",
    "lookup_json_integer",
    "lookup_json_string",
    "lower",
    "regex_replace",
    "remove_bytes",
    "remove_query_args",
    "sha256",
    "split",
    "starts_with",
    "substring",
    "to_string",
    "upper",
    "url_decode",
    "uuidv4",
    "wildcard_replace",
];

/// A function with its literal parameters prepared.
#[derive(Clone, Debug)]
pub(crate) enum Func {
    Lower,
    Upper,
    Len,
    /// `true` when the arguments are arrays.
    Concat(bool),
    StartsWith,
    EndsWith,
    Substring,
    UrlDecode {
        recursive: bool,
        unicode: bool,
    },
    RegexReplace(Box<Regex>, Template),
    WildcardReplace(Box<Wildcard>, Template),
    ToString,
    LookupJsonString,
    LookupJsonInteger,
    RemoveBytes(Box<[bool; 256]>),
    DecodeBase64,
    EncodeBase64 {
        url_safe: bool,
        pad: bool,
    },
    Sha256,
    Cidr,
    Cidr6,
    Split {
        sep: Box<[u8]>,
        limit: usize,
    },
    Join,
    TimedHmac(Box<HmacSpec>),
    Coalesce,
    HashInRange,
    RemoveQueryArgs,
    Uuidv4,
}

#[derive(Clone, Debug)]
pub(crate) struct HmacSpec {
    key: Vec<u8>,
    ttl: i64,
    sep_len: usize,
    url_safe: bool,
}

/// A replacement string with `${n}` references and `$$` escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Group(usize),
}

/// One parsed argument as the function checker sees it.
pub(crate) struct Arg<'s> {
    pub ty: Type,
    pub mapped: bool,
    /// The literal value, when the argument is a literal.
    pub lit: Option<Value<'static>>,
    /// Byte span in the source, for errors.
    pub span: (usize, usize),
    pub text: &'s str,
}

/// A signature error: which argument (or the call, for `None`), what kind, and the message.
pub(crate) struct SigError {
    pub arg: Option<usize>,
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

fn err(arg: Option<usize>, kind: ErrorKind, message: impl Into<String>) -> SigError {
    SigError {
        arg,
        kind,
        message: message.into(),
        hint: None,
    }
}

/// Result of checking a call: the function, its result type (per element when mapped), and
/// the indexes of the arguments that remain runtime arguments.
pub(crate) struct Built {
    pub func: Func,
    pub ret: Type,
    pub keep: Vec<usize>,
}

/// What an argument must be.
#[derive(Clone, Copy)]
enum Want {
    Bytes,
    Int,
    Ip,
    ArrayOfBytes,
    BytesOrArray,
    Scalar,
}

impl Want {
    fn fits(self, t: &Type) -> bool {
        match self {
            Want::Bytes => t.is_bytes(),
            Want::Int => *t == Type::Int,
            Want::Ip => *t == Type::Ip,
            Want::ArrayOfBytes => matches!(t, Type::Array(e) if e.is_bytes()),
            Want::BytesOrArray => t.is_bytes() || matches!(t, Type::Array(_)),
            Want::Scalar => matches!(t, Type::Int | Type::Bool | Type::Ip) || t.is_bytes(),
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Want::Bytes => "a String",
            Want::Int => "an Integer",
            Want::Ip => "an IP address",
            Want::ArrayOfBytes => "an Array<String>",
            Want::BytesOrArray => "a String, Bytes or an Array",
            Want::Scalar => "a String, Integer, Boolean or IP address",
        }
    }
}

/// The type an argument has inside the call: the element type when it is mapped.
fn elem_ty(a: &Arg<'_>) -> Type {
    a.ty.clone()
}

fn check(name: &str, args: &[Arg<'_>], i: usize, want: Want) -> Result<(), SigError> {
    let a = &args[i];
    if !want.fits(&elem_ty(a)) {
        let mut e = err(
            Some(i),
            ErrorKind::Type,
            format!(
                "argument {} of {name}() must be {}, but `{}` is {}",
                i + 1,
                want.describe(),
                a.text,
                a.ty
            ),
        );
        if matches!(a.ty, Type::Array(_) | Type::Map(_)) && !a.mapped {
            e.hint = Some(format!(
                "to apply {name}() to each element, write {}[*]",
                a.text
            ));
        }
        return Err(e);
    }
    Ok(())
}

fn arity(name: &str, args: &[Arg<'_>], min: usize, max: usize) -> Result<(), SigError> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(err(
            None,
            ErrorKind::Arguments,
            format!("{name}() takes {want} arguments, got {}", args.len()),
        ));
    }
    Ok(())
}

fn lit_bytes(name: &str, args: &[Arg<'_>], i: usize, what: &str) -> Result<Vec<u8>, SigError> {
    match &args[i].lit {
        Some(Value::Bytes(b)) => Ok(b.to_vec()),
        _ => Err(err(
            Some(i),
            ErrorKind::Arguments,
            format!("the {what} of {name}() must be a string literal"),
        )),
    }
}

fn lit_int(name: &str, args: &[Arg<'_>], i: usize, what: &str) -> Result<i64, SigError> {
    match &args[i].lit {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(err(
            Some(i),
            ErrorKind::Arguments,
            format!("the {what} of {name}() must be an integer literal"),
        )),
    }
}

/// Checks a call and prepares its function. `regex` builds a regex within the size limits.
pub(crate) fn build(
    name: &str,
    args: &[Arg<'_>],
    regex: &mut dyn FnMut(&str, usize) -> Result<Regex, SigError>,
) -> Result<Built, SigError> {
    let all: Vec<usize> = (0..args.len()).collect();
    let simple = |func: Func, ret: Type| Built {
        func,
        ret,
        keep: all.clone(),
    };
    for (i, a) in args.iter().enumerate().skip(1) {
        if a.mapped {
            return Err(SigError {
                arg: Some(i),
                kind: ErrorKind::Type,
                message: "[*] may only be used in the first argument of a function".into(),
                hint: None,
            });
        }
    }
    Ok(match name {
        "lower" | "upper" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::Bytes)?;
            simple(
                if name == "lower" {
                    Func::Lower
                } else {
                    Func::Upper
                },
                Type::String,
            )
        }
        "len" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::BytesOrArray)?;
            simple(Func::Len, Type::Int)
        }
        "concat" => {
            arity(name, args, 1, 32)?;
            check(name, args, 0, Want::BytesOrArray)?;
            let first = elem_ty(&args[0]);
            for i in 1..args.len() {
                let t = elem_ty(&args[i]);
                if !first.accepts(&t) {
                    return Err(err(
                        Some(i),
                        ErrorKind::Type,
                        format!(
                            "concat() arguments must all be strings or all be arrays of one type; `{}` is {t}",
                            args[i].text
                        ),
                    ));
                }
            }
            let arrays = matches!(first, Type::Array(_));
            let ret = if arrays { first } else { Type::String };
            simple(Func::Concat(arrays), ret)
        }
        "starts_with" | "ends_with" => {
            arity(name, args, 2, 2)?;
            check(name, args, 0, Want::Bytes)?;
            check(name, args, 1, Want::Bytes)?;
            let f = if name == "starts_with" {
                Func::StartsWith
            } else {
                Func::EndsWith
            };
            simple(f, Type::Bool)
        }
        "substring" => {
            arity(name, args, 2, 3)?;
            check(name, args, 0, Want::Bytes)?;
            check(name, args, 1, Want::Int)?;
            if args.len() == 3 {
                check(name, args, 2, Want::Int)?;
            }
            simple(Func::Substring, Type::String)
        }
        "url_decode" => {
            arity(name, args, 1, 2)?;
            check(name, args, 0, Want::Bytes)?;
            let (mut recursive, mut unicode) = (false, false);
            if args.len() == 2 {
                for b in lit_bytes(name, args, 1, "options")? {
                    match b {
                        b'r' => recursive = true,
                        b'u' => unicode = true,
                        _ => {
                            return Err(err(
                                Some(1),
                                ErrorKind::Arguments,
                                "url_decode() options are \"r\" (recursive) and \"u\" (%uXXXX)",
                            ));
                        }
                    }
                }
            }
            Built {
                func: Func::UrlDecode { recursive, unicode },
                ret: Type::String,
                keep: vec![0],
            }
        }
        "regex_replace" => {
            arity(name, args, 3, 3)?;
            check(name, args, 0, Want::Bytes)?;
            let pat = lit_bytes(name, args, 1, "regular expression")?;
            let pat = String::from_utf8(pat).map_err(|_| {
                err(
                    Some(1),
                    ErrorKind::Regex,
                    "a regular expression must be valid UTF-8",
                )
            })?;
            let re = regex(&pat, 1)?;
            let tpl = template(&lit_bytes(name, args, 2, "replacement")?)
                .map_err(|m| err(Some(2), ErrorKind::Arguments, m))?;
            Built {
                func: Func::RegexReplace(Box::new(re), tpl),
                ret: Type::String,
                keep: vec![0],
            }
        }
        "wildcard_replace" => {
            arity(name, args, 3, 4)?;
            check(name, args, 0, Want::Bytes)?;
            let strict = if args.len() == 4 {
                match lit_bytes(name, args, 3, "flags")?.as_slice() {
                    b"s" => true,
                    b"" => false,
                    _ => {
                        return Err(err(
                            Some(3),
                            ErrorKind::Arguments,
                            "the only wildcard_replace() flag is \"s\" (case-sensitive)",
                        ));
                    }
                }
            } else {
                false
            };
            let pat = lit_bytes(name, args, 1, "pattern")?;
            let w = Wildcard::new(&pat, strict)
                .map_err(|e| err(Some(1), ErrorKind::Wildcard, e.message))?;
            let tpl = template(&lit_bytes(name, args, 2, "replacement")?)
                .map_err(|m| err(Some(2), ErrorKind::Arguments, m))?;
            Built {
                func: Func::WildcardReplace(Box::new(w), tpl),
                ret: Type::String,
                keep: vec![0],
            }
        }
        "to_string" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::Scalar)?;
            simple(Func::ToString, Type::String)
        }
        "lookup_json_string" | "lookup_json_integer" => {
            arity(name, args, 2, usize::MAX)?;
            check(name, args, 0, Want::Bytes)?;
            for i in 1..args.len() {
                let t = elem_ty(&args[i]);
                if !(t.is_bytes() || t == Type::Int) {
                    return Err(err(
                        Some(i),
                        ErrorKind::Type,
                        format!(
                            "{name}() keys are strings (attribute names) or integers (array positions)"
                        ),
                    ));
                }
            }
            if name == "lookup_json_string" {
                simple(Func::LookupJsonString, Type::String)
            } else {
                simple(Func::LookupJsonInteger, Type::Int)
            }
        }
        "remove_bytes" => {
            arity(name, args, 2, 2)?;
            check(name, args, 0, Want::Bytes)?;
            let mut table = Box::new([false; 256]);
            for b in lit_bytes(name, args, 1, "bytes to remove")? {
                table[b as usize] = true;
            }
            Built {
                func: Func::RemoveBytes(table),
                ret: Type::Bytes,
                keep: vec![0],
            }
        }
        "decode_base64" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::Bytes)?;
            simple(Func::DecodeBase64, Type::String)
        }
        "encode_base64" => {
            arity(name, args, 1, 2)?;
            check(name, args, 0, Want::Bytes)?;
            let (mut url_safe, mut pad) = (false, false);
            if args.len() == 2 {
                for b in lit_bytes(name, args, 1, "flags")? {
                    match b {
                        b'u' => url_safe = true,
                        b'p' => pad = true,
                        _ => {
                            return Err(err(
                                Some(1),
                                ErrorKind::Arguments,
                                "encode_base64() flags are \"u\" (URL-safe) and \"p\" (padding)",
                            ));
                        }
                    }
                }
            }
            Built {
                func: Func::EncodeBase64 { url_safe, pad },
                ret: Type::String,
                keep: vec![0],
            }
        }
        "sha256" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::Bytes)?;
            simple(Func::Sha256, Type::Bytes)
        }
        "cidr" | "cidr6" => {
            let n = if name == "cidr" { 3 } else { 2 };
            arity(name, args, n, n)?;
            check(name, args, 0, Want::Ip)?;
            for i in 1..n {
                check(name, args, i, Want::Int)?;
            }
            let v4_at = if name == "cidr" { Some(1) } else { None };
            for i in 1..n {
                let max = if Some(i) == v4_at { 32 } else { 128 };
                if let Some(Value::Int(b)) = &args[i].lit
                    && !(1..=max).contains(b)
                {
                    return Err(err(
                        Some(i),
                        ErrorKind::Arguments,
                        format!("network bits must be between 1 and {max}"),
                    ));
                }
            }
            simple(
                if name == "cidr" {
                    Func::Cidr
                } else {
                    Func::Cidr6
                },
                Type::Ip,
            )
        }
        "split" => {
            arity(name, args, 3, 3)?;
            check(name, args, 0, Want::Bytes)?;
            let sep = lit_bytes(name, args, 1, "separator")?;
            if sep.is_empty() {
                return Err(err(
                    Some(1),
                    ErrorKind::Arguments,
                    "the separator of split() must not be empty",
                ));
            }
            let limit = lit_int(name, args, 2, "limit")?;
            if !(1..=128).contains(&limit) {
                return Err(err(
                    Some(2),
                    ErrorKind::Arguments,
                    "the limit of split() must be between 1 and 128",
                ));
            }
            Built {
                func: Func::Split {
                    sep: sep.into(),
                    limit: limit as usize,
                },
                ret: Type::array_of_strings(),
                keep: vec![0],
            }
        }
        "join" => {
            arity(name, args, 2, 2)?;
            check(name, args, 0, Want::ArrayOfBytes)?;
            check(name, args, 1, Want::Bytes)?;
            simple(Func::Join, Type::String)
        }
        "is_timed_hmac_valid_v0" => {
            arity(name, args, 4, 6)?;
            let key = lit_bytes(name, args, 0, "key")?;
            check(name, args, 1, Want::Bytes)?;
            let ttl = lit_int(name, args, 2, "ttl")?;
            check(name, args, 3, Want::Int)?;
            let sep_len = if args.len() >= 5 {
                lit_int(name, args, 4, "separator length")?
            } else {
                0
            };
            if !(0..=1024).contains(&sep_len) {
                return Err(err(
                    Some(4),
                    ErrorKind::Arguments,
                    "the separator length must be between 0 and 1024",
                ));
            }
            let url_safe = if args.len() == 6 {
                match lit_bytes(name, args, 5, "flags")?.as_slice() {
                    b"s" => true,
                    _ => {
                        return Err(err(
                            Some(5),
                            ErrorKind::Arguments,
                            "the only is_timed_hmac_valid_v0() flag is \"s\" (URL-safe Base64 MAC)",
                        ));
                    }
                }
            } else {
                false
            };
            Built {
                func: Func::TimedHmac(Box::new(HmacSpec {
                    key,
                    ttl,
                    sep_len: sep_len as usize,
                    url_safe,
                })),
                ret: Type::Bool,
                keep: vec![1, 3],
            }
        }
        "coalesce" => {
            arity(name, args, 1, 32)?;
            let first = elem_ty(&args[0]);
            for i in 1..args.len() {
                if !first.accepts(&elem_ty(&args[i])) {
                    return Err(err(
                        Some(i),
                        ErrorKind::Type,
                        format!(
                            "coalesce() arguments must have one type; the first is {first}, `{}` is {}",
                            args[i].text, args[i].ty
                        ),
                    ));
                }
            }
            simple(Func::Coalesce, first)
        }
        "hash_in_range" => {
            arity(name, args, 3, 18)?;
            check(name, args, 0, Want::Int)?;
            check(name, args, 1, Want::Int)?;
            for i in 2..args.len() {
                check(name, args, i, Want::Scalar)?;
            }
            if let (Some(Value::Int(lo)), Some(Value::Int(hi))) = (&args[0].lit, &args[1].lit)
                && lo > hi
            {
                return Err(err(
                    Some(1),
                    ErrorKind::Arguments,
                    "hash_in_range(min, max, …) needs min <= max",
                ));
            }
            simple(Func::HashInRange, Type::Int)
        }
        "remove_query_args" => {
            arity(name, args, 2, usize::MAX)?;
            for i in 0..args.len() {
                check(name, args, i, Want::Bytes)?;
            }
            simple(Func::RemoveQueryArgs, Type::String)
        }
        "uuidv4" => {
            arity(name, args, 1, 1)?;
            check(name, args, 0, Want::Bytes)?;
            simple(Func::Uuidv4, Type::String)
        }
        _ => {
            return Err(err(
                None,
                ErrorKind::UnknownFunction,
                format!("unknown function {name}()"),
            ));
        }
    })
}

fn template(t: &[u8]) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut refs = 0;
    let mut i = 0;
    while let Some(&b) = t.get(i) {
        if b != b'$' {
            text.push(b);
            i += 1;
            continue;
        }
        match t.get(i + 1) {
            Some(b'$') => {
                text.push(b'$');
                i += 2;
            }
            Some(b'{') => {
                let close = t[i + 2..]
                    .iter()
                    .position(|&c| c == b'}')
                    .ok_or("unclosed ${ in the replacement")?;
                let digits = &t[i + 2..i + 2 + close];
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|d| d.parse().ok())
                    .ok_or("a reference in the replacement is written ${1}, ${2}…")?;
                refs += 1;
                if refs > 8 {
                    return Err("a replacement may hold at most eight ${n} references".into());
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(n));
                i += 3 + close;
            }
            _ => {
                return Err(
                    "write $$ for a literal $ in the replacement, or ${1} for a reference".into(),
                );
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Template(pieces))
}

impl Template {
    fn expand(&self, group: impl Fn(usize) -> Option<Vec<u8>>, out: &mut Vec<u8>) {
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Group(n) => {
                    if let Some(g) = group(*n) {
                        out.extend_from_slice(&g);
                    }
                }
            }
        }
    }
}

fn bytes<'a>(args: &'a [Cow<'_, Value<'_>>], i: usize) -> Option<&'a [u8]> {
    args.get(i).and_then(|v| v.as_bytes())
}

fn int(args: &[Cow<'_, Value<'_>>], i: usize) -> Option<i64> {
    args.get(i).and_then(|v| v.as_int())
}

fn owned(b: Vec<u8>) -> Value<'static> {
    Value::Bytes(Cow::Owned(b))
}

impl Func {
    /// Computes the function for one set of evaluated arguments (runtime arguments only).
    pub(crate) fn apply(&self, args: &[Cow<'_, Value<'_>>]) -> Value<'static> {
        self.apply_opt(args).unwrap_or(Value::Missing)
    }

    /// The cheap, common functions, kept small so the call stays cheap; the rest are in
    /// `apply_heavy`, whose larger frame (hash states, buffers) only they pay for.
    #[inline]
    fn apply_opt(&self, args: &[Cow<'_, Value<'_>>]) -> Option<Value<'static>> {
        Some(match self {
            Func::Lower => owned(bytes(args, 0)?.to_ascii_lowercase()),
            Func::Upper => owned(bytes(args, 0)?.to_ascii_uppercase()),
            Func::Len => match &**args.first()? {
                Value::Bytes(b) => Value::Int(b.len() as i64),
                Value::Array(a) => Value::Int(a.len() as i64),
                _ => return None,
            },
            Func::StartsWith => Value::Bool(bytes(args, 0)?.starts_with(bytes(args, 1)?)),
            Func::EndsWith => Value::Bool(bytes(args, 0)?.ends_with(bytes(args, 1)?)),
            _ => return self.apply_heavy(args),
        })
    }

    #[inline(never)]
    fn apply_heavy(&self, args: &[Cow<'_, Value<'_>>]) -> Option<Value<'static>> {
        Some(match self {
            Func::Concat(false) => {
                let mut out = Vec::new();
                for a in args {
                    // Cloudflare: a missing argument counts as an empty string.
                    if let Value::Bytes(b) = &**a {
                        out.extend_from_slice(b);
                    }
                }
                owned(out)
            }
            Func::Concat(true) => {
                let mut out = Vec::new();
                for a in args {
                    if let Value::Array(items) = &**a {
                        out.extend(items.iter().map(|v| v.clone().into_owned()));
                    }
                }
                Value::Array(out)
            }
            Func::Substring => {
                let s = bytes(args, 0)?;
                let len = s.len() as i64;
                let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let start = norm(int(args, 1)?);
                let end = match args.get(2) {
                    Some(v) => norm(v.as_int()?),
                    None => len,
                };
                if start >= end {
                    owned(Vec::new())
                } else {
                    owned(s[start as usize..end as usize].to_vec())
                }
            }
            Func::UrlDecode { recursive, unicode } => {
                let mut cur = url_decode(bytes(args, 0)?, *unicode);
                if *recursive {
                    // Bounded: each round that changes the string shortens it.
                    for _ in 0..16 {
                        let next = url_decode(&cur, *unicode);
                        if next == cur {
                            break;
                        }
                        cur = next;
                    }
                }
                owned(cur)
            }
            Func::RegexReplace(re, tpl) => {
                let s = bytes(args, 0)?;
                let Some(caps) = re.captures(s) else {
                    return Some(owned(s.to_vec()));
                };
                let whole = caps.get(0)?;
                let mut out = s[..whole.start()].to_vec();
                tpl.expand(|n| caps.get(n).map(|m| m.as_bytes().to_vec()), &mut out);
                out.extend_from_slice(&s[whole.end()..]);
                owned(out)
            }
            Func::WildcardReplace(w, tpl) => {
                let s = bytes(args, 0)?;
                let mut caps: Vec<&[u8]> = Vec::with_capacity(w.stars());
                if w.captures(s, |c| caps.push(c)).is_none() {
                    return Some(owned(s.to_vec()));
                }
                let mut out = Vec::new();
                tpl.expand(
                    |n| {
                        n.checked_sub(1)
                            .and_then(|i| caps.get(i))
                            .map(|c| c.to_vec())
                    },
                    &mut out,
                );
                owned(out)
            }
            Func::ToString => match &**args.first()? {
                Value::Int(i) => Value::string(i.to_string()),
                Value::Bool(b) => Value::string(b.to_string()),
                Value::Ip(ip) => Value::string(ip.to_string()),
                Value::Bytes(b) => owned(b.to_vec()),
                _ => return None,
            },
            Func::LookupJsonString => match json_lookup(args)? {
                serde_json::Value::String(s) => Value::string(s),
                _ => return None,
            },
            Func::LookupJsonInteger => match json_lookup(args)? {
                serde_json::Value::Number(n) => Value::Int(n.as_i64()?),
                _ => return None,
            },
            Func::RemoveBytes(table) => owned(
                bytes(args, 0)?
                    .iter()
                    .copied()
                    .filter(|&b| !table[b as usize])
                    .collect(),
            ),
            Func::DecodeBase64 => owned(decode_base64(bytes(args, 0)?)?),
            Func::EncodeBase64 { url_safe, pad } => {
                use base64::engine::general_purpose as gp;
                let input = bytes(args, 0)?;
                let s = match (url_safe, pad) {
                    (false, false) => gp::STANDARD_NO_PAD.encode(input),
                    (false, true) => gp::STANDARD.encode(input),
                    (true, false) => gp::URL_SAFE_NO_PAD.encode(input),
                    (true, true) => gp::URL_SAFE.encode(input),
                };
                Value::string(s)
            }
            Func::Sha256 => owned(Sha256::digest(bytes(args, 0)?).to_vec()),
            Func::Cidr | Func::Cidr6 => {
                let ip = args.first()?.as_ip()?;
                let (v4, v6) = match self {
                    Func::Cidr => (int(args, 1)?, int(args, 2)?),
                    _ => (32, int(args, 1)?),
                };
                Value::Ip(mask_ip(ip, v4, v6)?)
            }
            Func::Split { sep, limit } => {
                let s = bytes(args, 0)?;
                let mut out = Vec::new();
                let mut rest = s;
                while out.len() + 1 < *limit {
                    match find(rest, sep) {
                        Some(i) => {
                            out.push(owned(rest[..i].to_vec()));
                            rest = &rest[i + sep.len()..];
                        }
                        None => break,
                    }
                }
                out.push(owned(rest.to_vec()));
                Value::Array(out)
            }
            Func::Join => {
                let Value::Array(items) = &**args.first()? else {
                    return None;
                };
                let sep = bytes(args, 1)?;
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(sep);
                    }
                    out.extend_from_slice(it.as_bytes()?);
                }
                owned(out)
            }
            Func::TimedHmac(spec) => Value::Bool(spec.valid(bytes(args, 0)?, int(args, 1)?)),
            Func::Coalesce => args
                .iter()
                .find(|a| !a.is_missing())
                .map(|a| (**a).clone().into_owned())?,
            Func::HashInRange => {
                let (lo, hi) = (int(args, 0)?, int(args, 1)?);
                if lo > hi {
                    return None;
                }
                let mut h = Sha256::new();
                for a in &args[2..] {
                    // A type tag keeps "1" (string) and 1 (integer) apart.
                    match &**a {
                        Value::Bytes(b) => {
                            h.update([1]);
                            h.update((b.len() as u64).to_le_bytes());
                            h.update(b);
                        }
                        Value::Int(i) => {
                            h.update([2]);
                            h.update(i.to_le_bytes());
                        }
                        Value::Bool(b) => h.update([3, u8::from(*b)]),
                        Value::Ip(ip) => {
                            h.update([4]);
                            h.update(ip.to_string().as_bytes());
                        }
                        _ => return None,
                    }
                }
                let d = h.finalize();
                let mut first = [0u8; 8];
                first.copy_from_slice(&d[..8]);
                let x = u64::from_be_bytes(first);
                let span = (hi as i128 - lo as i128 + 1) as u128;
                Value::Int((lo as i128 + (x as u128 % span) as i128) as i64)
            }
            Func::RemoveQueryArgs => {
                let q = bytes(args, 0)?;
                let names: Vec<&[u8]> = args[1..].iter().filter_map(|a| a.as_bytes()).collect();
                let kept: Vec<&[u8]> = q
                    .split(|&b| b == b'&')
                    .filter(|p| {
                        let name = p.split(|&b| b == b'=').next().unwrap_or(p);
                        !names.contains(&name)
                    })
                    .collect();
                owned(kept.join(&b'&'))
            }
            Func::Uuidv4 => {
                let seed = bytes(args, 0)?;
                let d = Sha256::digest(seed);
                let mut b = [0u8; 16];
                b.copy_from_slice(&d[..16]);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                Value::string(format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..32]
                ))
            }
            // Served by `apply_opt`; listed so the match stays exhaustive.
            Func::Lower | Func::Upper | Func::Len | Func::StartsWith | Func::EndsWith => {
                return self.apply_opt(args);
            }
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn mask_ip(ip: IpAddr, v4_bits: i64, v6_bits: i64) -> Option<IpAddr> {
    Some(match ip {
        IpAddr::V4(a) => {
            if !(1..=32).contains(&v4_bits) {
                return None;
            }
            let mask = u32::MAX << (32 - v4_bits as u32);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            if !(1..=128).contains(&v6_bits) {
                return None;
            }
            let mask = u128::MAX << (128 - v6_bits as u32);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding with `+` as space; malformed escapes are kept as they are.
pub(crate) fn url_decode(s: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                if unicode && matches!(s.get(i + 1), Some(b'u' | b'U')) {
                    let cp = s
                        .get(i + 2..i + 6)
                        .filter(|h| h.iter().all(|c| c.is_ascii_hexdigit()))
                        .map(|h| {
                            h.iter().fold(0u32, |acc, &c| {
                                acc * 16 + u32::from(hex_val(c).unwrap_or(0))
                            })
                        })
                        .and_then(char::from_u32);
                    if let Some(c) = cp {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                        continue;
                    }
                }
                match (
                    s.get(i + 1).and_then(|&c| hex_val(c)),
                    s.get(i + 2).and_then(|&c| hex_val(c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let cfg = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    let url = s.iter().any(|&b| b == b'-' || b == b'_');
    let engine = if url {
        GeneralPurpose::new(&alphabet::URL_SAFE, cfg)
    } else {
        GeneralPurpose::new(&alphabet::STANDARD, cfg)
    };
    engine.decode(s).ok()
}

fn json_lookup(args: &[Cow<'_, Value<'_>>]) -> Option<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_slice(bytes(args, 0)?).ok()?;
    let mut cur = &doc;
    for k in &args[1..] {
        cur = match &**k {
            Value::Bytes(key) => cur.get(std::str::from_utf8(key).ok()?)?,
            Value::Int(i) => cur.get(usize::try_from(*i).ok()?)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over `parts` concatenated; parts so that message and timestamp need no copy.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

impl HmacSpec {
    /// `message` `separator` `timestamp(10 digits)` `-` `mac`; the MAC covers message and
    /// timestamp. The rightmost `dddddddddd-` with at least 43 bytes after it is the split
    /// point, as the documented regex `(.+)(.*)(\d{10})-(.{43,})` picks it.
    fn valid(&self, mm: &[u8], now: i64) -> bool {
        let n = mm.len();
        if n < 1 + 11 + 43 {
            return false;
        }
        let mut ts_at = None;
        let mut i = n - 43 - 11;
        loop {
            if mm[i + 10] == b'-'
                && mm[i..i + 10].iter().all(u8::is_ascii_digit)
                && i > self.sep_len
            {
                ts_at = Some(i);
                break;
            }
            if i == 0 {
                break;
            }
            i -= 1;
        }
        let Some(t) = ts_at else {
            return false;
        };
        let message = &mm[..t - self.sep_len];
        let ts_text = &mm[t..t + 10];
        let Some(ts) = std::str::from_utf8(ts_text)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        else {
            return false;
        };
        let mac_text = &mm[t + 11..];
        let mac = if self.url_safe {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(mac_text)
                .ok()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(url_decode(mac_text, false))
                .ok()
        };
        let Some(mac) = mac else {
            return false;
        };
        // Constant time: the key is secret and MACs are attacker-supplied.
        let same = hmac_sha256(&self.key, &[message, ts_text])
            .verify_slice(&mac)
            .is_ok();
        // Cloudflare's formula: valid while `now < issued + ttl`.
        same && now < ts.saturating_add(self.ttl)
    }
}

/// Builds a MessageMAC the way Cloudflare's token-authentication docs describe (for tests and
/// for operators who want to issue tokens that Doorman validates).
pub fn timed_hmac_token(
    key: &[u8],
    message: &str,
    separator: &str,
    timestamp: u32,
    url_safe: bool,
) -> String {
    let ts = format!("{timestamp:010}");
    let mac = hmac_sha256(key, &[message.as_bytes(), ts.as_bytes()])
        .finalize()
        .into_bytes();
    let b64 = if url_safe {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    } else {
        let s = base64::engine::general_purpose::STANDARD.encode(mac);
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    format!("{message}{separator}{ts}-{b64}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
        let mac = hmac_sha256(key, parts).finalize().into_bytes();
        mac.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // Test case 2, the message in two parts.
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hmac_hex(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn timed_hmac_tokens_verify_and_tampered_ones_do_not() {
        let key = b"secret";
        let token = timed_hmac_token(key, "/path", "?verify=", 1_700_000_000, true);
        let spec = HmacSpec {
            key: key.to_vec(),
            ttl: 60,
            sep_len: "?verify=".len(),
            url_safe: true,
        };
        assert!(spec.valid(token.as_bytes(), 1_700_000_010));
        assert!(!spec.valid(token.as_bytes(), 1_700_000_060), "expired");
        let mut tampered = token.into_bytes();
        tampered[1] ^= 1;
        assert!(!spec.valid(&tampered, 1_700_000_010));
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode(b"John%20Doe", false), b"John Doe");
        assert_eq!(url_decode(b"John+Doe", false), b"John Doe");
        assert_eq!(url_decode(b"%2520", false), b"%20");
        assert_eq!(url_decode(b"%u2601", true), "\u{2601}".as_bytes());
        assert_eq!(url_decode(b"%zz%", false), b"%zz%");
    }

    #[test]
    fn templates() {
        assert!(template(b"/b$$").is_ok());
        assert!(template(b"${1}${2}").is_ok());
        assert!(template(b"$1").is_err());
        assert!(template(b"${").is_err());
        assert!(template(b"${1}${1}${1}${1}${1}${1}${1}${1}${1}").is_err());
    }
}
