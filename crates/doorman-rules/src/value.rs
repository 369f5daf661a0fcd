//! Types and runtime values of the language.
//!
//! [`Type`] is what the compiler checks against; [`Value`] is what a [`crate::FieldProvider`]
//! hands back for one field of one request. A `Value` may borrow from the request (header
//! values, the path) so that the common case allocates nothing. This module holds no
//! evaluation logic beyond small accessors.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// The type of a field, a literal, or a sub-expression.
///
/// Cloudflare documents `String` and `Bytes` separately; both are byte strings and compare the
/// same way, so the compiler treats them as one kind (see [`Type::is_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` / `false`.
    Bool,
    /// A signed 64-bit integer (Cloudflare: Integer or Number).
    Int,
    /// An IPv4 or IPv6 address.
    Ip,
    /// Text. Compared byte-wise; need not be valid UTF-8.
    String,
    /// Raw bytes (for example `cf.random_seed`).
    Bytes,
    /// An ordered list of values of one type.
    Array(Box<Type>),
    /// String keys to values of one type.
    Map(Box<Type>),
}

impl Type {
    /// `Array<String>`.
    pub fn array_of_strings() -> Type {
        Type::Array(Box::new(Type::String))
    }

    /// `Map<Array<String>>`, the shape of headers, cookies, query args and form fields.
    pub fn map_of_string_arrays() -> Type {
        Type::Map(Box::new(Type::array_of_strings()))
    }

    /// True for `String` and `Bytes`, which are interchangeable.
    pub fn is_bytes(&self) -> bool {
        matches!(self, Type::String | Type::Bytes)
    }

    /// Whether a value of type `other` may stand where `self` is expected.
    pub fn accepts(&self, other: &Type) -> bool {
        match (self, other) {
            (a, b) if a.is_bytes() && b.is_bytes() => true,
            (Type::Array(a), Type::Array(b)) | (Type::Map(a), Type::Map(b)) => a.accepts(b),
            (a, b) => a == b,
        }
    }

    /// The element type of an array or the value type of a map.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::Array(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("Boolean"),
            Type::Int => f.write_str("Integer"),
            Type::Ip => f.write_str("IP address"),
            Type::String => f.write_str("String"),
            Type::Bytes => f.write_str("Bytes"),
            Type::Array(t) => write!(f, "Array<{t}>"),
            Type::Map(t) => write!(f, "Map<{t}>"),
        }
    }
}

/// One field's value for one request, as given by a [`crate::FieldProvider`].
///
/// Byte strings are `Cow` so a provider can lend `&str` slices of the request without copying.
/// `Missing` is the language's nil: a comparison on it is false.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value<'a> {
    /// No value (absent header, field the gateway could not compute, out-of-range index…).
    #[default]
    Missing,
    /// A Boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An IP address.
    Ip(IpAddr),
    /// A String or Bytes value.
    Bytes(Cow<'a, [u8]>),
    /// An array; all elements have the field's element type.
    Array(Vec<Value<'a>>),
    /// A map with string keys, kept sorted for binary search.
    Map(Map<'a>),
}

impl<'a> Value<'a> {
    /// A borrowed string.
    pub fn str(s: &'a str) -> Value<'a> {
        Value::Bytes(Cow::Borrowed(s.as_bytes()))
    }

    /// A borrowed string, or `Missing` when `None`.
    pub fn opt_str(s: Option<&'a str>) -> Value<'a> {
        s.map_or(Value::Missing, Value::str)
    }

    /// An owned string.
    pub fn string(s: String) -> Value<'a> {
        Value::Bytes(Cow::Owned(s.into_bytes()))
    }

    /// Borrowed bytes.
    pub fn bytes(b: &'a [u8]) -> Value<'a> {
        Value::Bytes(Cow::Borrowed(b))
    }

    /// An array of borrowed strings.
    pub fn strs<I: IntoIterator<Item = &'a str>>(items: I) -> Value<'a> {
        Value::Array(items.into_iter().map(Value::str).collect())
    }

    /// True when this is `Missing`.
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    /// The bytes of a String/Bytes value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The Boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The address, if this is one.
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    /// A copy that borrows this value's bytes instead of owning them (no byte copies).
    pub fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Missing => Value::Missing,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Ip(ip) => Value::Ip(*ip),
            Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            Value::Array(items) => Value::Array(items.iter().map(Value::reborrow).collect()),
            Value::Map(m) => Value::Map(Map {
                entries: m
                    .entries
                    .iter()
                    .map(|(h, k, v)| (*h, Cow::Borrowed(k.as_ref()), v.reborrow()))
                    .collect(),
                index: m.index.clone(),
            }),
        }
    }

    /// Detach from any borrow.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Missing => Value::Missing,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Ip(ip) => Value::Ip(ip),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Map(m) => Value::Map(Map {
                entries: m
                    .entries
                    .into_iter()
                    .map(|(h, k, v)| (h, Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
                index: m.index,
            }),
        }
    }

    /// Whether the value has the given type (`Missing` has every type).
    pub fn has_type(&self, ty: &Type) -> bool {
        match (self, ty) {
            (Value::Missing, _) => true,
            (Value::Bool(_), Type::Bool)
            | (Value::Int(_), Type::Int)
            | (Value::Ip(_), Type::Ip) => true,
            (Value::Bytes(_), t) => t.is_bytes(),
            (Value::Array(items), Type::Array(t)) => items.iter().all(|v| v.has_type(t)),
            (Value::Map(m), Type::Map(t)) => m.iter().all(|(_, v)| v.has_type(t)),
            _ => false,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Renders the value as it would be written in an expression (strings quoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => f.write_str("(missing)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Bytes(b) => crate::format::write_quoted(f, b),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    crate::format::write_quoted(f, k.as_bytes())?;
                    write!(f, ": {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A map value with string keys, ordered by a hash of the key and indexed by it, so that
/// `["key"]` is a hash-table probe (the key's hash is computed once, when the rule is compiled).
///
/// Keys of HTTP header maps are lowercase header names; that is the provider's job, since only
/// it knows whether a copy is needed. When a key appears twice, the first entry given wins.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map<'a> {
    entries: Vec<(u64, Cow<'a, str>, Value<'a>)>,
    /// An open-addressing table over `entries`, at most half full: a slot is 0 (empty) or the
    /// entry's position + 1 in the low 16 bits and the top 16 bits of its key's hash above, so
    /// a probe for an absent key rarely touches an entry. Empty for maps too large for 16-bit
    /// positions, which are binary-searched by hash instead.
    index: Vec<u32>,
}

impl<'a> Map<'a> {
    /// Builds a map from entries in any order.
    pub fn new<I: IntoIterator<Item = (Cow<'a, str>, Value<'a>)>>(entries: I) -> Map<'a> {
        let mut entries: Vec<_> = entries
            .into_iter()
            .map(|(k, v)| (key_hash(k.as_bytes()), k, v))
            .collect();
        // Stable sort then dedup keeps the first of equal keys, as documented.
        entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        entries.dedup_by(|later, earlier| later.1 == earlier.1);
        Map::from_sorted(entries)
    }

    /// Builds a `Map<Array<String>>` by grouping `(name, value)` pairs, keeping value order.
    pub fn from_pairs<I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>>(pairs: I) -> Map<'a> {
        let mut pairs: Vec<(u64, usize, Cow<'a, str>, Cow<'a, str>)> = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (key_hash(k.as_bytes()), i, k, v))
            .collect();
        // Positions are unique, so the order is total and an unstable sort gives the same
        // result as a stable one (this runs per request for the headers).
        pairs.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.2.cmp(&b.2))
                .then(a.1.cmp(&b.1))
        });
        let mut entries: Vec<(u64, Cow<'a, str>, Value<'a>)> = Vec::with_capacity(pairs.len());
        for (h, _, k, v) in pairs {
            let v = Value::Bytes(match v {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            });
            match entries.last_mut() {
                Some((_, last, Value::Array(items))) if *last == k => items.push(v),
                _ => entries.push((h, k, Value::Array(vec![v]))),
            }
        }
        Map::from_sorted(entries)
    }

    /// The value under `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.get_hashed(key_hash(key), key)
    }

    /// The value under `key`, whose [`key_hash`] is `hash`.
    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&Value<'a>> {
        if self.index.is_empty() {
            return self.get_sorted(hash, key);
        }
        let mask = self.index.len() - 1;
        let tag = (hash >> 48) as u32;
        let mut i = (hash >> INDEX_SHIFT) as usize & mask;
        // The table is at most half full, so an empty slot ends every probe sequence.
        while let Some(&slot) = self.index.get(i) {
            if slot == 0 {
                return None;
            }
            if slot >> 16 == tag {
                let at = (slot & 0xffff) as usize - 1;
                if let Some((h, k, v)) = self.entries.get(at)
                    && *h == hash
                    && same_key(k, key)
                {
                    return Some(v);
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Lookup in the entries' hash order, for maps without an index.
    fn get_sorted(&self, hash: u64, key: &[u8]) -> Option<&Value<'a>> {
        let first = self.entries.partition_point(|(h, _, _)| *h < hash);
        // Equal hashes are adjacent; different keys may share one.
        self.entries
            .get(first..)?
            .iter()
            .take_while(|(h, _, _)| *h == hash)
            .find(|(_, k, _)| crate::expr::bytes_eq(k.as_bytes(), key))
            .map(|(_, _, v)| v)
    }

    fn from_sorted(entries: Vec<(u64, Cow<'a, str>, Value<'a>)>) -> Map<'a> {
        let index = build_index(&entries);
        Map { entries, index }
    }

    /// Entries in the map's internal order (stable, but not alphabetical).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.entries.iter().map(|(_, k, v)| (k.as_ref(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Consumes the map, returning the entry under `key`.
    pub(crate) fn take(mut self, key: &[u8]) -> Option<Value<'a>> {
        let i = self
            .entries
            .binary_search_by(|(h, k, _)| h.cmp(&key_hash(key)).then_with(|| k.as_bytes().cmp(key)))
            .ok()?;
        Some(self.entries.swap_remove(i).2)
    }

    pub(crate) fn into_values(self) -> impl Iterator<Item = Value<'a>> {
        self.entries.into_iter().map(|(_, _, v)| v)
    }
}

/// Out of line: a probe rarely gets this far, and the comparison's code would otherwise make
/// every lookup save and restore more registers.
#[inline(never)]
fn same_key(k: &str, key: &[u8]) -> bool {
    crate::expr::bytes_eq(k.as_bytes(), key)
}

/// Where a key's probe sequence starts: hash bits below the 16 the slots keep as a tag.
const INDEX_SHIFT: u32 = 32;

fn build_index(entries: &[(u64, Cow<'_, str>, Value<'_>)]) -> Vec<u32> {
    if entries.is_empty() || entries.len() >= 0xffff {
        return Vec::new();
    }
    let size = (entries.len() * 2).next_power_of_two();
    let mask = size - 1;
    let mut index = vec![0u32; size];
    for (at, (h, _, _)) in entries.iter().enumerate() {
        let mut i = (h >> INDEX_SHIFT) as usize & mask;
        while index[i] != 0 {
            i = (i + 1) & mask;
        }
        index[i] = ((h >> 48) as u32) << 16 | (at as u32 + 1);
    }
    index
}

/// The hash that orders map keys (FxHash; keys are header and argument names).
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::lists::FxHasher::default();
    h.write(key);
    h.write_usize(key.len());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_lookups(n: usize) {
        let keys: Vec<String> = (0..n).map(|i| format!("key-{i}")).collect();
        let m = Map::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (Cow::Borrowed(k.as_str()), Value::Int(i as i64))),
        );
        assert_eq!(m.len(), n);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k.as_bytes()), Some(&Value::Int(i as i64)), "{k}");
        }
        for i in n..n + 200 {
            assert_eq!(m.get(format!("key-{i}").as_bytes()), None);
        }
        assert_eq!(m.get(b""), None);
    }

    #[test]
    fn indexed_and_large_maps_find_every_key() {
        for n in [0, 1, 2, 3, 12, 100, 1000] {
            check_lookups(n);
        }
        // Too many entries for 16-bit positions: the binary-search path.
        check_lookups(70_000);
    }

    #[test]
    fn duplicate_keys_keep_the_first() {
        let m = Map::new([
            (Cow::Borrowed("a"), Value::Int(1)),
            (Cow::Borrowed("b"), Value::Int(2)),
            (Cow::Borrowed("a"), Value::Int(3)),
        ]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(b"a"), Some(&Value::Int(1)));
        let owned = Value::Map(m);
        let Value::Map(m) = owned.reborrow() else {
            unreachable!()
        };
        assert_eq!(m.get(b"b"), Some(&Value::Int(2)));
    }
}
