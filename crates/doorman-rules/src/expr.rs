//! The compiled expression tree and its evaluator.
//!
//! The parser builds this tree directly, with names already resolved to [`Field`] slots, set
//! literals turned into hashed or range sets, and regexes compiled; constant sub-trees are then
//! folded. Evaluation walks the tree against an [`EvalContext`], which asks the
//! [`FieldProvider`] for each field at most once per request. There is no parsing or type
//! checking here, and no failure: anything that cannot be computed is `Missing`, and a
//! comparison on `Missing` is false.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;
use std::sync::Arc;

use regex::bytes::Regex;

use crate::functions::Func;
use crate::ipset::IpRangeSet;
use crate::lists::{IntSet, List, StringSet};
use crate::scheme::Field;
use crate::value::Value;
use crate::wildcard::Wildcard;

/// Supplies field values for one request. The gateway implements it over its request facts.
///
/// `field` is called lazily, at most once per field per [`EvalContext`], and only for fields
/// some evaluated rule needs. Return [`Value::Missing`] for anything not known. A value of the
/// wrong type for the field is treated as missing by comparisons.
pub trait FieldProvider {
    /// The value of `field` for this request. Strings may borrow from `self`.
    fn field(&self, field: Field) -> Value<'_>;
}

/// A provider with no values: every field is missing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFields;

impl FieldProvider for NoFields {
    fn field(&self, _field: Field) -> Value<'_> {
        Value::Missing
    }
}

/// Per-request evaluation state: the field cache shared by every expression and ruleset
/// evaluated for this request.
pub struct EvalContext<'p> {
    provider: &'p dyn FieldProvider,
    cells: Vec<OnceCell<Value<'p>>>,
    /// ASCII-lowercased copies of string fields, by slot, for case-insensitive searches:
    /// made on first use and shared by every rule of the request. Allocated only when a rule
    /// needs one.
    lowered: OnceCell<Box<[Lowered]>>,
}

/// One field's lowercased copy, made on first use.
type Lowered = OnceCell<Box<[u8]>>;

impl<'p> EvalContext<'p> {
    /// A fresh context over `provider`; nothing is computed yet.
    pub fn new(provider: &'p dyn FieldProvider) -> EvalContext<'p> {
        let mut cells = Vec::with_capacity(Field::ALL.len());
        cells.resize_with(Field::ALL.len(), OnceCell::new);
        EvalContext {
            provider,
            cells,
            lowered: OnceCell::new(),
        }
    }

    /// The value of `field`, computing it on first use.
    #[inline]
    pub fn get(&self, field: Field) -> &Value<'p> {
        self.slot(field.index())
    }

    /// The value in slot `slot` (a [`Field::index`]); missing for a slot that names no field.
    #[inline]
    pub(crate) fn slot(&self, slot: usize) -> &Value<'p> {
        match self.cells.get(slot).and_then(OnceCell::get) {
            Some(v) => v,
            None => self.fill(slot),
        }
    }

    /// The ASCII-lowercased bytes of the string in slot `slot`, computed once per request;
    /// `None` when the value is not a string.
    pub(crate) fn lowered(&self, slot: usize) -> Option<&[u8]> {
        let Value::Bytes(b) = self.slot(slot) else {
            return None;
        };
        let cells = self
            .lowered
            .get_or_init(|| (0..Field::ALL.len()).map(|_| OnceCell::new()).collect());
        Some(
            cells
                .get(slot)?
                .get_or_init(|| b.to_ascii_lowercase().into()),
        )
    }

    /// Computes a field on first use. Out of line: it runs once per field and request, and
    /// keeping the provider call here keeps [`EvalContext::slot`] small enough to inline.
    #[cold]
    #[inline(never)]
    fn fill(&self, slot: usize) -> &Value<'p> {
        match (self.cells.get(slot), Field::from_index(slot)) {
            (Some(cell), Some(field)) => cell.get_or_init(|| self.provider.field(field)),
            _ => &MISSING,
        }
    }

    /// Fields computed so far with their values (for `doorman trace` and receipts).
    pub fn computed(&self) -> impl Iterator<Item = (Field, &Value<'p>)> {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((Field::from_index(i)?, c.get()?)))
    }
}

/// A Boolean-valued node. Nodes under `any()`/`all()` are array-shaped and evaluated with
/// [`Node::eval_array`]; the parser guarantees each node is only evaluated in its own shape.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(bool),
    /// A Boolean value used as a condition (`ssl`, `any(...)` arguments of type Array<Bool>),
    /// with its normalized text.
    IsTrue(ValueNode, Arc<str>),
    Compare(Compare),
    Not(Box<Node>),
    Logic(LogicOp, Vec<Node>),
    Quant(Quant, Box<Node>, Arc<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogicOp {
    And,
    Xor,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quant {
    Any,
    All,
}

#[derive(Clone, Debug)]
pub(crate) struct Compare {
    pub lhs: ValueNode,
    pub op: CmpOp,
    /// Normalized texts, boxed: only explanations read them, so they stay off the hot path.
    pub texts: Box<Texts>,
}

/// Normalized text of a comparison and of its left side.
#[derive(Clone, Debug)]
pub(crate) struct Texts {
    pub full: String,
    pub lhs: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrdOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal right-hand side of `eq`…`ge`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Bytes(Box<[u8]>),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

#[derive(Clone, Debug)]
pub(crate) enum CmpOp {
    Order(OrdOp, Scalar),
    /// Field-to-field (or function result) comparison, new in Cloudflare's 2026 language.
    OrderDyn(OrdOp, ValueNode),
    /// Substring search with a searcher built once at compile time.
    Contains(Box<memchr::memmem::Finder<'static>>),
    Matches(Box<RegexTest>),
    /// `starts_with(x, "lit")` / `ends_with(x, "lit")`, turned into comparisons at compile time.
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    /// `lower(x) eq "lit"` (lit without uppercase) as an ASCII case-insensitive test; `true`
    /// for `ne`. Saves building the lowered copy.
    EqFold(Box<[u8]>, bool),
    Wildcard(Wildcard),
    InStrings(Arc<StringSet>),
    InInts(Arc<IntSet>),
    InIps(Arc<IpRangeSet>),
    InList(List),
    BitAnd(i64),
}

/// A value-producing node. A node is *mapped* when it sits under `[*]`: its runtime value is an
/// array holding one result per element.
#[derive(Clone, Debug)]
pub(crate) enum ValueNode {
    Lit(Value<'static>),
    Field(Field),
    Index {
        base: Box<ValueNode>,
        step: Step,
        mapped: bool,
    },
    /// `[*]`. `flatten` when the base is already mapped (`x[*][*]`).
    Each {
        base: Box<ValueNode>,
        flatten: bool,
    },
    Call(Box<Call>),
    /// A Boolean expression used as a function argument.
    Cond(Box<Node>, bool),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Pos(u32),
    /// A map key and its [`crate::value::key_hash`], computed at compile time.
    Key(Box<[u8]>, u64),
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub func: Func,
    pub args: Vec<ValueNode>,
    /// Normalized text of the first argument (for explanations of rewritten calls).
    pub arg0: Box<str>,
    /// The first argument is mapped: call once per element.
    pub mapped: bool,
}

type V<'c> = Cow<'c, Value<'c>>;

/// A shared missing value, so that a failed lookup can be returned by reference.
static MISSING: Value<'static> = Value::Missing;

impl Node {
    /// Evaluates a scalar-shaped node.
    pub(crate) fn eval(&self, ctx: &EvalContext<'_>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::IsTrue(v, _) => matches!(*v.eval(ctx), Value::Bool(true)),
            Node::Compare(c) => c.eval_scalar(ctx),
            Node::Not(n) => !n.eval(ctx),
            Node::Logic(LogicOp::And, ns) => ns.iter().all(|n| n.eval(ctx)),
            Node::Logic(LogicOp::Or, ns) => ns.iter().any(|n| n.eval(ctx)),
            Node::Logic(LogicOp::Xor, ns) => ns.iter().fold(false, |acc, n| acc ^ n.eval(ctx)),
            Node::Quant(q, n, _) => {
                // The common shape `any(x[*] op literal)`: test the elements in place, with
                // short-circuit and without building arrays.
                if let Node::Compare(c) = &**n
                    && let ValueNode::Each {
                        base,
                        flatten: false,
                    } = &c.lhs
                {
                    let b = base.eval(ctx);
                    let test = |x: &Value<'_>| c.op.test(x, ctx);
                    return match (&*b, q) {
                        (Value::Array(items), Quant::Any) => items.iter().any(test),
                        (Value::Array(items), Quant::All) => items.iter().all(test),
                        (Value::Map(m), Quant::Any) => m.iter().any(|(_, v)| test(v)),
                        (Value::Map(m), Quant::All) => m.iter().all(|(_, v)| test(v)),
                        // `[*]` over a missing value is an empty array.
                        (_, q) => *q == Quant::All,
                    };
                }
                let arr = n.eval_array(ctx);
                match (q, arr) {
                    (_, None) => false,
                    (Quant::Any, Some(a)) => a.iter().any(|&b| b),
                    (Quant::All, Some(a)) => a.iter().all(|&b| b),
                }
            }
        }
    }

    /// Evaluates an array-shaped node; `None` is a missing array.
    pub(crate) fn eval_array(&self, ctx: &EvalContext<'_>) -> Option<Vec<bool>> {
        match self {
            Node::Const(_) => None,
            Node::IsTrue(v, _) => match &*v.eval(ctx) {
                Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|x| matches!(x, Value::Bool(true)))
                        .collect(),
                ),
                _ => None,
            },
            Node::Compare(c) => match &*c.lhs.eval(ctx) {
                Value::Array(items) => Some(items.iter().map(|x| c.op.test(x, ctx)).collect()),
                _ => None,
            },
            Node::Not(n) => n
                .eval_array(ctx)
                .map(|a| a.into_iter().map(|b| !b).collect()),
            Node::Logic(op, ns) => {
                let mut acc: Option<Vec<bool>> = None;
                for n in ns {
                    let a = n.eval_array(ctx)?;
                    acc = Some(match acc {
                        None => a,
                        // Element-wise, truncated to the shorter array (as Cloudflare's engine).
                        Some(prev) => prev
                            .into_iter()
                            .zip(a)
                            .map(|(x, y)| match op {
                                LogicOp::And => x && y,
                                LogicOp::Or => x || y,
                                LogicOp::Xor => x ^ y,
                            })
                            .collect(),
                    });
                }
                acc
            }
            Node::Quant(..) => None,
        }
    }
}

impl Compare {
    #[inline]
    pub(crate) fn eval_scalar(&self, ctx: &EvalContext<'_>) -> bool {
        // The common case, a bare field on the left, skips the Cow.
        match &self.lhs {
            ValueNode::Field(f) => self.op.test(ctx.get(*f), ctx),
            lhs => self.op.test(&lhs.eval(ctx), ctx),
        }
    }
}

impl CmpOp {
    /// Applies the comparison to one left-hand value. Missing or mistyped values give false.
    ///
    /// The most frequent pairs are matched here, small enough to inline into the caller; the
    /// rest go through `test_general`, which keeps register pressure out of the hot path.
    #[inline]
    pub(crate) fn test(&self, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        match (self, v) {
            (CmpOp::Order(OrdOp::Eq, Scalar::Bytes(b)), Value::Bytes(a)) => bytes_eq(a, b),
            (CmpOp::Order(OrdOp::Ne, Scalar::Bytes(b)), Value::Bytes(a)) => !bytes_eq(a, b),
            (CmpOp::Order(op, Scalar::Int(b)), Value::Int(a)) => ord_result(*op, a.cmp(b)),
            (CmpOp::InIps(set), Value::Ip(ip)) => set.contains(*ip),
            (CmpOp::InStrings(set), Value::Bytes(b)) => set.contains(b),
            (CmpOp::InInts(set), Value::Int(i)) => set.contains(*i),
            (_, Value::Missing) => false,
            _ => self.test_general(v, ctx),
        }
    }

    #[inline(never)]
    fn test_general(&self, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        match self {
            CmpOp::OrderDyn(op, rhs) => order_values(*op, v, &rhs.eval(ctx)),
            other => other.test_value(v),
        }
    }

    /// [`CmpOp::test`] for comparisons whose right-hand side is a literal (all but
    /// `OrderDyn`, which is false here): the evaluation plan calls it without a context.
    pub(crate) fn test_value(&self, v: &Value<'_>) -> bool {
        match self {
            CmpOp::Order(op, rhs) => order_scalar(*op, v, rhs),
            CmpOp::OrderDyn(..) => false,
            CmpOp::Contains(finder) => v.as_bytes().is_some_and(|h| finder.find(h).is_some()),
            CmpOp::Matches(t) => v.as_bytes().is_some_and(|h| t.is_match(h)),
            CmpOp::StartsWith(p) => v.as_bytes().is_some_and(|h| h.starts_with(p)),
            CmpOp::EndsWith(p) => v.as_bytes().is_some_and(|h| h.ends_with(p)),
            CmpOp::EqFold(lit, ne) => v
                .as_bytes()
                .is_some_and(|h| h.eq_ignore_ascii_case(lit) != *ne),
            CmpOp::Wildcard(w) => v.as_bytes().is_some_and(|h| w.is_match(h)),
            CmpOp::InStrings(set) => v.as_bytes().is_some_and(|h| set.contains(h)),
            CmpOp::InInts(set) => v.as_int().is_some_and(|i| set.contains(i)),
            CmpOp::InIps(set) => v.as_ip().is_some_and(|ip| set.contains(ip)),
            CmpOp::InList(list) => match (list, v) {
                (List::Ip(set), Value::Ip(ip)) => set.contains(*ip),
                (List::String(set), Value::Bytes(b)) => set.contains(b),
                (List::Int(set), Value::Int(i)) => set.contains(*i),
                _ => false,
            },
            CmpOp::BitAnd(mask) => v.as_int().is_some_and(|i| i & mask != 0),
        }
    }
}

#[inline]
pub(crate) fn ord_result(op: OrdOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        OrdOp::Eq => o == Equal,
        OrdOp::Ne => o != Equal,
        OrdOp::Lt => o == Less,
        OrdOp::Le => o != Greater,
        OrdOp::Gt => o == Greater,
        OrdOp::Ge => o != Less,
    }
}

/// IPv4 and IPv6 addresses are incomparable: only `ne` is true between them.
fn ip_order(op: OrdOp, a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => ord_result(op, x.cmp(&y)),
        (IpAddr::V6(x), IpAddr::V6(y)) => ord_result(op, x.cmp(&y)),
        _ => op == OrdOp::Ne,
    }
}

#[inline]
fn order_scalar(op: OrdOp, v: &Value<'_>, rhs: &Scalar) -> bool {
    match (v, rhs) {
        (Value::Bytes(a), Scalar::Bytes(b)) => match op {
            OrdOp::Eq => **a == **b,
            OrdOp::Ne => **a != **b,
            _ => ord_result(op, (**a).cmp(&**b)),
        },
        (Value::Int(a), Scalar::Int(b)) => ord_result(op, a.cmp(b)),
        (Value::Ip(a), Scalar::Ip(b)) => ip_order(op, *a, *b),
        (Value::Bool(a), Scalar::Bool(b)) => ord_result(op, a.cmp(b)),
        _ => false,
    }
}

fn order_values(op: OrdOp, a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Bytes(a), Value::Bytes(b)) => ord_result(op, (**a).cmp(&**b)),
        (Value::Int(a), Value::Int(b)) => ord_result(op, a.cmp(b)),
        (Value::Ip(a), Value::Ip(b)) => ip_order(op, *a, *b),
        (Value::Bool(a), Value::Bool(b)) => ord_result(op, a.cmp(b)),
        _ => false,
    }
}

impl ValueNode {
    /// Evaluates to a value borrowed from the context where possible.
    pub(crate) fn eval<'c>(&'c self, ctx: &'c EvalContext<'_>) -> V<'c> {
        match self {
            ValueNode::Lit(v) => Cow::Borrowed(v),
            ValueNode::Field(f) => Cow::Borrowed(ctx.get(*f)),
            ValueNode::Index { base, step, mapped } => {
                let b = match &**base {
                    ValueNode::Field(f) => Cow::Borrowed(ctx.get(*f)),
                    other => other.eval(ctx),
                };
                if *mapped {
                    match b {
                        Cow::Borrowed(Value::Array(items)) => Cow::Owned(Value::Array(
                            items
                                .iter()
                                .map(|x| index_ref(x, step).map_or(Value::Missing, Value::reborrow))
                                .collect(),
                        )),
                        Cow::Owned(Value::Array(items)) => Cow::Owned(Value::Array(
                            items.into_iter().map(|x| index_owned(x, step)).collect(),
                        )),
                        _ => Cow::Owned(Value::Array(Vec::new())),
                    }
                } else {
                    match b {
                        Cow::Borrowed(v) => Cow::Borrowed(index_ref(v, step).unwrap_or(&MISSING)),
                        Cow::Owned(v) => Cow::Owned(index_owned(v, step)),
                    }
                }
            }
            ValueNode::Each { base, flatten } => {
                let b = base.eval(ctx);
                let mut out = Vec::new();
                if *flatten {
                    for x in elements(b) {
                        out.extend(elements(Cow::Owned(x)));
                    }
                } else {
                    out = elements(b);
                }
                Cow::Owned(Value::Array(out))
            }
            ValueNode::Call(call) => Cow::Owned(call.eval(ctx)),
            ValueNode::Cond(n, array) => Cow::Owned(if *array {
                match n.eval_array(ctx) {
                    Some(a) => Value::Array(a.into_iter().map(Value::Bool).collect()),
                    None => Value::Missing,
                }
            } else {
                Value::Bool(n.eval(ctx))
            }),
        }
    }
}

/// Elements of an array, or values of a map; nothing for anything else (including missing).
fn elements<'c>(v: V<'c>) -> Vec<Value<'c>> {
    match v {
        Cow::Borrowed(Value::Array(items)) => items.iter().map(Value::reborrow).collect(),
        Cow::Borrowed(Value::Map(m)) => m.iter().map(|(_, v)| v.reborrow()).collect(),
        Cow::Owned(Value::Array(items)) => items,
        Cow::Owned(Value::Map(m)) => m.into_values().collect(),
        _ => Vec::new(),
    }
}

fn index_ref<'v, 'a>(v: &'v Value<'a>, step: &Step) -> Option<&'v Value<'a>> {
    match (v, step) {
        (Value::Array(items), Step::Pos(i)) => items.get(*i as usize),
        (Value::Map(m), Step::Key(k, h)) => m.get_hashed(*h, k),
        _ => None,
    }
}

fn index_owned<'a>(v: Value<'a>, step: &Step) -> Value<'a> {
    match (v, step) {
        (Value::Array(mut items), Step::Pos(i)) => {
            let i = *i as usize;
            if i < items.len() {
                items.swap_remove(i)
            } else {
                Value::Missing
            }
        }
        (Value::Map(m), Step::Key(k, _)) => m.take(k).unwrap_or(Value::Missing),
        _ => Value::Missing,
    }
}

impl Call {
    fn eval<'c>(&'c self, ctx: &'c EvalContext<'_>) -> Value<'c> {
        if !self.mapped {
            // Most calls have one to three arguments: keep them on the stack, not in a Vec.
            match self.args.as_slice() {
                [] => return self.func.apply(&[]),
                [a] => return self.func.apply(&[a.eval(ctx)]),
                [a, b] => return self.func.apply(&[a.eval(ctx), b.eval(ctx)]),
                [a, b, c] => return self.func.apply(&[a.eval(ctx), b.eval(ctx), c.eval(ctx)]),
                _ => {}
            }
        }
        let mut args: Vec<V<'c>> = self.args.iter().map(|a| a.eval(ctx)).collect();
        if self.mapped {
            let first = if args.is_empty() {
                Cow::Owned(Value::Missing)
            } else {
                args.remove(0)
            };
            let items = elements(first);
            let mut out = Vec::with_capacity(items.len());
            let mut call_args: Vec<Cow<'_, Value<'_>>> = Vec::with_capacity(args.len() + 1);
            for item in items {
                call_args.clear();
                call_args.push(Cow::Owned(item));
                call_args.extend(args.iter().map(|a| Cow::Borrowed(&**a)));
                out.push(self.func.apply(&call_args));
            }
            Value::Array(out)
        } else {
            self.func.apply(&args)
        }
    }
}

/// A compiled `matches` regex, with a literal prefix that anchored patterns (`^/admin/…`) must
/// start with: checking it first rejects most values without entering the regex engine.
#[derive(Clone, Debug)]
pub(crate) struct RegexTest {
    pub re: Regex,
    pub prefix: Box<[u8]>,
}

impl RegexTest {
    pub(crate) fn new(re: Regex, pattern: &str) -> RegexTest {
        RegexTest {
            re,
            prefix: anchored_prefix(pattern).into(),
        }
    }

    #[inline]
    pub(crate) fn is_match(&self, h: &[u8]) -> bool {
        starts_with(h, &self.prefix) && self.re.is_match(h)
    }
}

/// The literal text every match of `pattern` must start with, when the pattern is anchored
/// with `^` and has no alternation or flags (which could make the prefix optional).
fn anchored_prefix(pattern: &str) -> Vec<u8> {
    let Some(rest) = pattern.strip_prefix('^') else {
        return Vec::new();
    };
    if pattern.contains('|') || rest.starts_with("(?") {
        return Vec::new();
    }
    let mut out: Vec<char> = Vec::new();
    for c in rest.chars() {
        if "\\.+*?()[]{}|^$".contains(c) {
            // A quantifier makes the preceding character optional or repeatable.
            if matches!(c, '?' | '*' | '{') {
                out.pop();
            }
            break;
        }
        out.push(c);
    }
    out.into_iter().collect::<String>().into_bytes()
}

/// Byte-string equality without a `memcmp` call for the short strings rules mostly compare
/// (methods, country codes, header names), where the call costs more than the comparison.
/// Up to 16 bytes, two overlapping word loads per side compare the whole string without a
/// loop: for 8 to 16 bytes the first and the last 8, for 4 to 7 the first and the last 4.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// `h.starts_with(p)` through [`bytes_eq`]: no `memcmp` call for short prefixes.
#[inline]
pub(crate) fn starts_with(h: &[u8], p: &[u8]) -> bool {
    h.get(..p.len()).is_some_and(|head| bytes_eq(head, p))
}

/// `N` bytes of `s` from `at` as an array (compared as one word); callers keep `at + N` in
/// range, so the fallback never applies.
#[inline(always)]
fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
    s.get(at..at + N)
        .and_then(|w| w.try_into().ok())
        .unwrap_or([0; N])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_byte_strings_compare_like_slices() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(bytes_eq(&a, &a.clone()), "{n}");
            // A difference at any position, and a different length, are seen.
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 1;
                assert!(!bytes_eq(&a, &b), "{n} bytes, differing at {at}");
            }
            assert!(n == 0 || !bytes_eq(&a, &a[..n - 1]));
            assert!(starts_with(&a, &a[..n / 2]));
            assert_eq!(starts_with(&a[..n / 2], &a), n == 0);
        }
    }
}
