//! The evaluation plan: a flat, specialized form of a compiled tree, built once per expression
//! and run by [`crate::CompiledExpr::matches`].
//!
//! The tree in `expr` stays the reference: explanations walk it, and anything the plan has no
//! specialized form for is evaluated through it. The plan exists because, over a thousand
//! rules, what costs is less the comparisons than getting to them: a recursive call per tree
//! level, generic matching of a `CmpOp` against a `Value`, `Cow` values built and dropped, and
//! pointer chains (`Arc` → set → vectors) that each miss the cache. So:
//!
//! - `and`, `or` and `not` become jumps between leaf tests (a short-circuit branching
//!   program) run in a loop, in the tree's order, so the same fields are computed;
//! - a leaf is a field slot plus a test specialized for its literal, dispatched once: byte
//!   equality, a small IP set as a packed array of ranges, a regex that only matches a literal
//!   as a substring search, and so on. Paths into maps and arrays, `any(…[*])` and `len()` are
//!   one boxed step away;
//! - a case-insensitive search (`matches "(?i)literal"`) searches a lowercased copy of the
//!   field, made once per request and shared by every rule ([`EvalContext::lowered`]);
//! - branches are 32 bytes and an expression's first one is stored inline in the
//!   `CompiledExpr`, so a ruleset's array holds most single-comparison rules whole.
//!
//! Every specialization must give the tree's answer on every input; the tests below check that
//! on randomized expressions and requests.

use std::net::IpAddr;
use std::sync::Arc;

use crate::expr::{
    CmpOp, EvalContext, LogicOp, Node, OrdOp, Quant, RegexTest, Scalar, Step, ValueNode, bytes_eq,
    ord_result, starts_with,
};
use crate::functions::Func;
use crate::ipset::{IpRange, IpRangeSet};
use crate::lists::{IntSet, StringSet};
use crate::value::Value;

/// Where a branch goes next: another branch, or the expression's result.
type Target = u16;
const TRUE: Target = Target::MAX;
const FALSE: Target = Target::MAX - 1;
/// More leaves than this and the expression is evaluated through the tree. An expression is at
/// most 4,096 bytes, so this is never reached in practice; it only keeps targets in range.
const MAX_BRANCHES: usize = FALSE as usize - 1;

/// The slot of a leaf that reads no field (constants, tree leaves): always missing, and never
/// asks the provider.
const NO_SLOT: u16 = u16::MAX;

/// A compiled expression's evaluation plan.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    first: Branch,
    /// Branches after the first; target `i` (from 1) is `rest[i - 1]`.
    rest: Box<[Branch]>,
}

/// One leaf test and where to go after it.
#[derive(Clone, Debug)]
struct Branch {
    test: Test,
    /// The field the test reads ([`crate::Field::index`]), or `NO_SLOT`.
    slot: u16,
    on_true: Target,
    on_false: Target,
}

/// A test of one value, specialized for its literal. Missing or mistyped values give false, as
/// in [`CmpOp::test`].
#[derive(Clone, Debug)]
enum Test {
    Eq(Box<[u8]>),
    Ne(Box<[u8]>),
    Int(OrdOp, i64),
    IsTrue,
    /// A small IP set (see [`IpRanges`]); the fields are inline so that the group count
    /// shares the tag's word and a branch stays 32 bytes.
    Ips {
        v4_groups: u16,
        groups: Box<[[u32; 8]]>,
    },
    Strs(Strs),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Contains(Box<memchr::memmem::Finder<'static>>),
    /// ASCII case-insensitive forms (`lower(x) eq "lit"`, `x matches "(?i)lit"`); the literal
    /// is lowercase.
    EqFold(Box<[u8]>),
    NeFold(Box<[u8]>),
    ContainsFold(Box<FoldNeedle>),
    StartsWithFold(Box<[u8]>),
    EndsWithFold(Box<[u8]>),
    Regex(Box<RegexTest>),
    IpSet(Arc<IpRangeSet>),
    StrSet(Arc<StringSet>),
    IntSet(Arc<IntSet>),
    /// Anything else that only needs the value (wildcards, lists, `&`, orderings on strings…).
    Op(Box<CmpOp>),
    /// A test on a value reached from the field: `field["key"][0]`, `any(field[*] …)`,
    /// `len(field)`.
    Via(Box<Via>),
    Const(bool),
    /// No specialized form: the tree evaluates it.
    Tree(Box<Node>),
}

#[derive(Clone, Debug)]
struct Via {
    access: Access,
    /// Never `Via`, `Const` or `Tree`.
    test: Test,
}

#[derive(Clone, Debug)]
enum Access {
    /// `field["key"][0]…`: each step indexes the previous value; a failed step is missing.
    Path(Box<[Step]>),
    /// `any(path[*] test)` / `all(…)` over an array's elements or a map's values.
    Each(Quant, Box<[Step]>),
    /// `len(path) test`: the byte length of a string or the length of an array.
    Len(Box<[Step]>),
}

/// Sets with at most this many ranges are scanned; larger ones keep the binary search.
const SMALL_IPS: usize = 16;
/// String sets with at most this many entries are compared one by one (as `StringSet` does).
const SMALL_STRS: usize = 6;

impl Plan {
    /// Builds the plan for a (folded) tree.
    pub(crate) fn new(root: &Node) -> Plan {
        let mut b = Builder { out: Vec::new() };
        let built = b.node(root, TRUE, FALSE).and_then(|entry| b.finish(entry));
        built.unwrap_or_else(|| Plan {
            first: Branch {
                test: Test::Tree(Box::new(root.clone())),
                slot: NO_SLOT,
                on_true: TRUE,
                on_false: FALSE,
            },
            rest: Box::new([]),
        })
    }

    /// Evaluates against one request; the same answer as the tree's `eval`.
    #[inline(always)]
    pub(crate) fn matches(&self, ctx: &EvalContext<'_>) -> bool {
        let mut b = &self.first;
        loop {
            let slot = usize::from(b.slot);
            let next = if b.test.test(ctx.slot(slot), slot, ctx) {
                b.on_true
            } else {
                b.on_false
            };
            match next {
                TRUE => return true,
                FALSE => return false,
                i => match self.rest.get(usize::from(i).wrapping_sub(1)) {
                    Some(n) => b = n,
                    // Targets are built in range; this only avoids a panic path.
                    None => return false,
                },
            }
        }
    }

    /// Number of leaves the tree evaluates instead of a specialized test (for tests).
    #[cfg(test)]
    pub(crate) fn tree_leaves(&self) -> usize {
        std::iter::once(&self.first)
            .chain(self.rest.iter())
            .filter(|b| matches!(b.test, Test::Tree(_)))
            .count()
    }
}

/// Builds branches back to front: a node is compiled once its successors exist, so each
/// branch knows where "true" and "false" go. `finish` then reverses the order, which puts the
/// branches in evaluation order.
struct Builder {
    out: Vec<Branch>,
}

impl Builder {
    /// Compiles `n` so that it continues at `t` when true and at `f` when false; returns its
    /// entry (an index into `out`), or `None` when the expression is too large.
    fn node(&mut self, n: &Node, t: Target, f: Target) -> Option<Target> {
        match n {
            Node::Not(inner) => self.node(inner, f, t),
            Node::Logic(LogicOp::And, ns) if !ns.is_empty() => {
                let mut next = t;
                for child in ns.iter().rev() {
                    next = self.node(child, next, f)?;
                }
                Some(next)
            }
            Node::Logic(LogicOp::Or, ns) if !ns.is_empty() => {
                let mut next = f;
                for child in ns.iter().rev() {
                    next = self.node(child, t, next)?;
                }
                Some(next)
            }
            other => {
                if self.out.len() >= MAX_BRANCHES {
                    return None;
                }
                let (slot, test) = leaf(other);
                self.out.push(Branch {
                    test,
                    slot,
                    on_true: t,
                    on_false: f,
                });
                Target::try_from(self.out.len() - 1).ok()
            }
        }
    }

    fn finish(self, entry: Target) -> Option<Plan> {
        let n = self.out.len();
        // Built back to front, the entry is the last branch pushed.
        if usize::from(entry) + 1 != n {
            return None;
        }
        let renumber = |t: Target| match t {
            TRUE | FALSE => t,
            i => (n - 1 - usize::from(i)) as Target,
        };
        let mut branches = self.out.into_iter().rev().map(|b| Branch {
            on_true: renumber(b.on_true),
            on_false: renumber(b.on_false),
            ..b
        });
        let first = branches.next()?;
        Some(Plan {
            first,
            rest: branches.collect(),
        })
    }
}

/// The slot and test for a leaf node; the tree's own node when there is no specialized form.
fn leaf(n: &Node) -> (u16, Test) {
    specialize(n).unwrap_or_else(|| (NO_SLOT, Test::Tree(Box::new(n.clone()))))
}

fn specialize(n: &Node) -> Option<(u16, Test)> {
    let (slot, access, test) = match n {
        Node::Const(b) => return Some((NO_SLOT, Test::Const(*b))),
        Node::IsTrue(v, _) => {
            let (slot, steps) = path(v)?;
            (
                slot,
                (!steps.is_empty()).then(|| Access::Path(steps.into())),
                Test::IsTrue,
            )
        }
        Node::Compare(c) => {
            let test = Test::new(&c.op)?;
            match &c.lhs {
                ValueNode::Call(call)
                    if matches!(call.func, Func::Len) && !call.mapped && call.args.len() == 1 =>
                {
                    let (slot, steps) = path(&call.args[0])?;
                    (slot, Some(Access::Len(steps.into())), test)
                }
                lhs => {
                    let (slot, steps) = path(lhs)?;
                    (
                        slot,
                        (!steps.is_empty()).then(|| Access::Path(steps.into())),
                        test,
                    )
                }
            }
        }
        Node::Quant(q, inner, _) => {
            let Node::Compare(c) = &**inner else {
                return None;
            };
            let ValueNode::Each {
                base,
                flatten: false,
            } = &c.lhs
            else {
                return None;
            };
            let (slot, steps) = path(base)?;
            (
                slot,
                Some(Access::Each(*q, steps.into())),
                Test::new(&c.op)?,
            )
        }
        _ => return None,
    };
    Some(match access {
        None => (slot, test),
        Some(access) => (slot, Test::Via(Box::new(Via { access, test }))),
    })
}

/// A field slot followed by non-mapped indexes, innermost first.
fn path(v: &ValueNode) -> Option<(u16, Vec<Step>)> {
    match v {
        ValueNode::Field(f) => Some((u16::try_from(f.index()).ok()?, Vec::new())),
        ValueNode::Index {
            base,
            step,
            mapped: false,
        } => {
            let (slot, mut steps) = path(base)?;
            steps.push(step.clone());
            Some((slot, steps))
        }
        _ => None,
    }
}

static MISSING: Value<'static> = Value::Missing;

/// Follows index steps from a value; a step that does not apply gives missing.
#[inline(always)]
fn walk<'v, 'a>(mut v: &'v Value<'a>, steps: &[Step]) -> &'v Value<'a> {
    for s in steps {
        v = match (v, s) {
            (Value::Map(m), Step::Key(k, h)) => m.get_hashed(*h, k),
            (Value::Array(items), Step::Pos(i)) => items.get(*i as usize),
            _ => None,
        }
        .unwrap_or(&MISSING);
    }
    v
}

impl Test {
    /// The specialized form of `op`, or `None` when it needs more than the value (a dynamic
    /// right-hand side).
    fn new(op: &CmpOp) -> Option<Test> {
        Some(match op {
            CmpOp::Order(OrdOp::Eq, Scalar::Bytes(b)) => Test::Eq(b.clone()),
            CmpOp::Order(OrdOp::Ne, Scalar::Bytes(b)) => Test::Ne(b.clone()),
            CmpOp::Order(o, Scalar::Int(i)) => Test::Int(*o, *i),
            CmpOp::OrderDyn(..) => return None,
            CmpOp::Contains(f) => Test::Contains(f.clone()),
            CmpOp::Matches(t) => literal_regex(t.re.as_str()).unwrap_or(Test::Regex(t.clone())),
            CmpOp::StartsWith(p) => Test::StartsWith(p.clone()),
            CmpOp::EndsWith(p) => Test::EndsWith(p.clone()),
            CmpOp::EqFold(lit, false) => Test::EqFold(lit.clone()),
            CmpOp::EqFold(lit, true) => Test::NeFold(lit.clone()),
            CmpOp::InIps(set) if set.range_count() <= SMALL_IPS => {
                let IpRanges { groups, v4_groups } = IpRanges::new(set);
                Test::Ips { v4_groups, groups }
            }
            CmpOp::InIps(set) => Test::IpSet(set.clone()),
            CmpOp::InStrings(set) => match set.small_items().and_then(Strs::new) {
                Some(strs) => Test::Strs(strs),
                None => Test::StrSet(set.clone()),
            },
            CmpOp::InInts(set) => Test::IntSet(set.clone()),
            other => Test::Op(Box::new(other.clone())),
        })
    }

    /// Applies the test to `v`, the value in `slot` (`MISSING` for `NO_SLOT`) or, under
    /// `Via`, one reached from it (then `slot` is `NO_SLOT`). One dispatch on the test; the
    /// cheap tests are inline, the costly ones are calls to small functions.
    #[inline(always)]
    fn test(&self, v: &Value<'_>, slot: usize, ctx: &EvalContext<'_>) -> bool {
        match (self, v) {
            (Test::Eq(lit), Value::Bytes(b)) => bytes_eq(b, lit),
            (Test::Ne(lit), Value::Bytes(b)) => !bytes_eq(b, lit),
            (Test::Ips { v4_groups, groups }, Value::Ip(ip)) => {
                IpRanges::contains(groups, *v4_groups, *ip)
            }
            (Test::Strs(set), Value::Bytes(b)) => set.contains(b),
            (Test::Int(op, lit), Value::Int(i)) => ord_result(*op, i.cmp(lit)),
            (Test::IsTrue, v) => matches!(v, Value::Bool(true)),
            (Test::StartsWith(p), Value::Bytes(b)) => starts_with(b, p),
            (Test::EndsWith(p), Value::Bytes(b)) => b
                .len()
                .checked_sub(p.len())
                .and_then(|at| b.get(at..))
                .is_some_and(|tail| bytes_eq(tail, p)),
            (Test::EqFold(lit), Value::Bytes(b)) => b.eq_ignore_ascii_case(lit),
            (Test::NeFold(lit), Value::Bytes(b)) => !b.eq_ignore_ascii_case(lit),
            (Test::Contains(f), Value::Bytes(b)) => find(f, b),
            (Test::ContainsFold(n), Value::Bytes(b)) => n.find(b, slot, ctx),
            (Test::StartsWithFold(lit), Value::Bytes(b)) => b
                .get(..lit.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(lit)),
            (Test::EndsWithFold(lit), Value::Bytes(b)) => b
                .len()
                .checked_sub(lit.len())
                .and_then(|at| b.get(at..))
                .is_some_and(|h| h.eq_ignore_ascii_case(lit)),
            (Test::Regex(t), Value::Bytes(b)) => regex(t, b),
            (Test::IpSet(s), Value::Ip(ip)) => ip_set(s, *ip),
            (Test::StrSet(s), Value::Bytes(b)) => s.contains(b),
            (Test::IntSet(s), Value::Int(i)) => s.contains(*i),
            (Test::Op(op), v) => op.test_value(v),
            (Test::Via(via), v) => via.test(v, ctx),
            (Test::Const(b), _) => *b,
            (Test::Tree(n), _) => n.eval(ctx),
            // Every test is false on a missing value or one of another type.
            _ => false,
        }
    }
}

#[inline(never)]
fn find(f: &memchr::memmem::Finder<'_>, hay: &[u8]) -> bool {
    f.find(hay).is_some()
}

#[inline(never)]
fn regex(t: &RegexTest, hay: &[u8]) -> bool {
    t.is_match(hay)
}

#[inline(never)]
fn ip_set(s: &IpRangeSet, ip: IpAddr) -> bool {
    s.contains(ip)
}

/// The slot passed with a value reached through a `Via`: it is not a field's own value, so
/// nothing cached per field applies to it.
const NOT_A_FIELD: usize = NO_SLOT as usize;

impl Via {
    /// One function per kind of access, each small: the test is inlined into each.
    #[inline(always)]
    fn test(&self, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        match &self.access {
            Access::Path(steps) => self.path(walk(v, steps), ctx),
            Access::Each(q, steps) => self.each(*q, walk(v, steps), ctx),
            Access::Len(steps) => self.len(walk(v, steps), ctx),
        }
    }

    #[inline(never)]
    fn path(&self, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        self.test.test(v, NOT_A_FIELD, ctx)
    }

    #[inline(never)]
    fn each(&self, q: Quant, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        let t = &self.test;
        match (v, q) {
            (Value::Array(items), Quant::Any) => items.iter().any(|x| t.test(x, NOT_A_FIELD, ctx)),
            (Value::Array(items), Quant::All) => items.iter().all(|x| t.test(x, NOT_A_FIELD, ctx)),
            (Value::Map(m), Quant::Any) => m.iter().any(|(_, x)| t.test(x, NOT_A_FIELD, ctx)),
            (Value::Map(m), Quant::All) => m.iter().all(|(_, x)| t.test(x, NOT_A_FIELD, ctx)),
            // `[*]` over anything else is an empty array.
            (_, q) => q == Quant::All,
        }
    }

    #[inline(never)]
    fn len(&self, v: &Value<'_>, ctx: &EvalContext<'_>) -> bool {
        let len = match v {
            Value::Bytes(b) => b.len(),
            Value::Array(a) => a.len(),
            _ => return false,
        };
        self.test.test(&Value::Int(len as i64), NOT_A_FIELD, ctx)
    }
}

/// How a small IP set is stored (in [`Test::Ips`]): one allocation of 32-byte groups, so a
/// lookup touches a cache line or two. First the IPv4 groups, each four ranges as four starts
/// then four spans; then the IPv6 ranges, one per group (start then span, four words each,
/// most significant first).
///
/// Membership in a range is `x - start <= span` (wrapping, `span = end - start`): one
/// comparison, so an IPv4 group is a few vector instructions and no branch. The last IPv4
/// group is padded by repeating a range, which changes no answer.
#[derive(Clone, Debug)]
struct IpRanges {
    groups: Box<[[u32; 8]]>,
    v4_groups: u16,
}

const GROUP: usize = 4;

impl IpRanges {
    fn new(set: &IpRangeSet) -> IpRanges {
        let mut v4: Vec<(u32, u32)> = Vec::new();
        let mut v6: Vec<[u32; 8]> = Vec::new();
        for r in set.ranges() {
            match r {
                IpRange::V4(a, b) => v4.push((a, b - a)),
                IpRange::V6(a, b) => {
                    let mut g = [0; 8];
                    g[..4].copy_from_slice(&words(a));
                    g[4..].copy_from_slice(&words(b - a));
                    v6.push(g);
                }
            }
        }
        let v4_groups = v4.len().div_ceil(GROUP);
        if let Some(&last) = v4.last() {
            v4.resize(v4_groups * GROUP, last);
        }
        let mut groups: Vec<[u32; 8]> = v4
            .chunks_exact(GROUP)
            .map(|c| {
                let mut g = [0; 8];
                for (k, &(start, span)) in c.iter().enumerate() {
                    g[k] = start;
                    g[GROUP + k] = span;
                }
                g
            })
            .collect();
        groups.extend(v6);
        IpRanges {
            groups: groups.into(),
            // At most `SMALL_IPS` ranges, so at most a few groups.
            v4_groups: v4_groups as u16,
        }
    }

    #[inline]
    fn contains(groups: &[[u32; 8]], v4_groups: u16, ip: IpAddr) -> bool {
        let (v4, v6) = groups.split_at(usize::from(v4_groups).min(groups.len()));
        match ip {
            IpAddr::V4(a) => {
                let x = u32::from(a);
                v4.iter().any(|g| {
                    // `|` over the lanes, not `any`: no branch inside a group.
                    (0..GROUP).fold(false, |hit, k| hit | (x.wrapping_sub(g[k]) <= g[GROUP + k]))
                })
            }
            IpAddr::V6(a) => {
                let x = u128::from(a);
                v6.iter()
                    .any(|g| x.wrapping_sub(unwords(&g[..4])) <= unwords(&g[4..]))
            }
        }
    }
}

fn words(x: u128) -> [u32; 4] {
    [
        (x >> 96) as u32,
        (x >> 64) as u32,
        (x >> 32) as u32,
        x as u32,
    ]
}

fn unwords(w: &[u32]) -> u128 {
    w.iter().fold(0u128, |acc, &x| acc << 32 | u128::from(x))
}

/// A small string set packed in one allocation: each entry as its length (one byte) and its
/// bytes. Most values differ from every entry in length, which is checked first.
#[derive(Clone, Debug)]
struct Strs(Box<[u8]>);

impl Strs {
    fn new(items: &[Box<[u8]>]) -> Option<Strs> {
        if items.len() > SMALL_STRS {
            return None;
        }
        let mut out = Vec::new();
        for it in items {
            out.push(u8::try_from(it.len()).ok()?);
            out.extend_from_slice(it);
        }
        Some(Strs(out.into()))
    }

    #[inline]
    fn contains(&self, v: &[u8]) -> bool {
        let mut rest = &self.0[..];
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            let Some((item, next)) = tail.split_at_checked(len) else {
                return false;
            };
            if len == v.len() && bytes_eq(item, v) {
                return true;
            }
            rest = next;
        }
        false
    }
}

/// A lowercase needle for an ASCII case-insensitive substring search.
#[derive(Clone, Debug)]
struct FoldNeedle {
    /// Searches the field's lowercased copy (made once per request, see
    /// [`EvalContext::lowered`]).
    finder: memchr::memmem::Finder<'static>,
    /// For values with no lowercased copy (reached through a path): the position of the
    /// needle's rarest byte, which `contains_fold` looks for first in either case.
    rare: u32,
}

impl FoldNeedle {
    fn new(lit: &[u8]) -> FoldNeedle {
        FoldNeedle {
            finder: memchr::memmem::Finder::new(lit).into_owned(),
            rare: rarest(lit),
        }
    }

    #[inline(never)]
    fn find(&self, hay: &[u8], slot: usize, ctx: &EvalContext<'_>) -> bool {
        match ctx.lowered(slot) {
            Some(lowered) => self.finder.find(lowered).is_some(),
            None => contains_fold(hay, self.finder.needle(), self.rare),
        }
    }
}

/// ASCII case-insensitive substring search; `lit` is lowercase, and `rare` is the position of
/// the byte to look for first (in either case).
fn contains_fold(hay: &[u8], lit: &[u8], rare: u32) -> bool {
    let rare = rare as usize;
    let Some(&anchor) = lit.get(rare) else {
        return true;
    };
    let upper = anchor.to_ascii_uppercase();
    let mut from = rare;
    while let Some(i) = hay
        .get(from..)
        .and_then(|h| memchr::memchr2(anchor, upper, h))
    {
        let at = from + i - rare;
        match hay.get(at..at + lit.len()) {
            Some(w) if w.eq_ignore_ascii_case(lit) => return true,
            Some(_) => from += i + 1,
            None => return false,
        }
    }
    false
}

/// The position of the byte of `lit` (lowercase) least likely to occur in a haystack, by
/// memchr's background frequencies (the byte its own substring search looks for first).
fn rarest(lit: &[u8]) -> u32 {
    memchr::arch::all::packedpair::Pair::new(lit).map_or(0, |p| u32::from(p.index1()))
}

/// A regex that only matches a literal, as the equivalent string test: `abc` (contains),
/// `^abc` (starts with), `abc$` (ends with), `^abc$` (equals), each optionally `(?i)`
/// (ASCII case-insensitive: patterns are compiled without Unicode, see `parser::build_regex`).
///
/// Only a conservative subset is recognized: printable ASCII, and escapes of the
/// metacharacters. Anything else (classes, repetitions, groups, other flags, `\d`…) stays a
/// regex.
fn literal_regex(pattern: &str) -> Option<Test> {
    let (fold, p) = match pattern.strip_prefix("(?i)") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (start, p) = match p.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    // A trailing `$` is an anchor unless it is escaped (`\$`), which the loop below decides.
    let mut lit = Vec::with_capacity(p.len());
    let mut end = false;
    let mut bytes = p.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(e) if META.contains(&e) => lit.push(e),
                _ => return None,
            },
            b'$' if bytes.len() == 0 => end = true,
            b if META.contains(&b) => return None,
            b' '..=b'~' => lit.push(b),
            _ => return None,
        }
    }
    if fold {
        lit.make_ascii_lowercase();
    }
    Some(match (start, end, fold) {
        (false, false, false) => {
            Test::Contains(Box::new(memchr::memmem::Finder::new(&lit).into_owned()))
        }
        (true, false, false) => Test::StartsWith(lit.into()),
        (false, true, false) => Test::EndsWith(lit.into()),
        (true, true, false) => Test::Eq(lit.into()),
        (false, false, true) => Test::ContainsFold(Box::new(FoldNeedle::new(&lit))),
        (true, false, true) => Test::StartsWithFold(lit.into()),
        (false, true, true) => Test::EndsWithFold(lit.into()),
        (true, true, true) => Test::EqFold(lit.into()),
    })
}

/// Bytes with a meaning in a regex outside a class; an escaped one is a literal.
const META: &[u8] = b"\\.+*?()|[]{}^$";

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider with one string field, the user agent.
    struct Agent<'a>(&'a [u8]);

    impl crate::FieldProvider for Agent<'_> {
        fn field(&self, f: crate::Field) -> Value<'_> {
            match f {
                crate::Field::HttpUserAgent => Value::bytes(self.0),
                _ => Value::Missing,
            }
        }
    }

    fn regex_agrees(pattern: &str, hays: &[&[u8]]) {
        let check = literal_regex(pattern).unwrap_or_else(|| panic!("{pattern} is literal"));
        let re = regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .unwrap();
        let slot = crate::Field::HttpUserAgent.index();
        for h in hays {
            let want = re.is_match(h);
            let agent = Agent(h);
            let ctx = EvalContext::new(&agent);
            let shown = String::from_utf8_lossy(h);
            // As a field's own value (case-insensitive searches use the lowercased copy)…
            assert_eq!(
                check.test(ctx.slot(slot), slot, &ctx),
                want,
                "{pattern} on {shown:?}"
            );
            // …and as a value reached through a path (they search the value itself).
            assert_eq!(
                check.test(&Value::bytes(h), NOT_A_FIELD, &ctx),
                want,
                "{pattern} on {shown:?}"
            );
        }
    }

    #[test]
    fn literal_regexes_match_as_the_regex_does() {
        let hays: &[&[u8]] = &[
            b"",
            b"crawler",
            b"Mozilla CRAWLER/1.0",
            b"xcrawle",
            b"a.b",
            b"axb",
            b"a.b$",
            b"\xe2\x84\xaarawler",
            b"KELVIN k \xe2\x84\xaa",
            b"ends with a.b",
            b"a.b at start",
        ];
        for p in [
            "crawler",
            "(?i)crawler",
            "^crawler",
            "(?i)^crawler$",
            "crawler$",
            "(?i)CrAwLeR$",
            r"a\.b",
            r"^a\.b",
            r"a\.b$",
            r"a\.b\$",
            r"(?i)^A\.B$",
            "(?i)k",
            "",
            "^$",
            "(?i)",
            " with ",
        ] {
            regex_agrees(p, hays);
        }
    }

    #[test]
    fn non_literal_regexes_stay_regexes() {
        for p in [
            "a.b",
            "a+",
            "(?i:a)b",
            "(?u)k",
            "(?x)a b",
            "a|b",
            r"\d",
            "[ab]",
            "a{2}",
            "é",
            "^/api/v[0-9]+/",
        ] {
            assert!(literal_regex(p).is_none(), "{p}");
        }
    }

    #[test]
    fn case_insensitive_substring_search() {
        let fold = |h: &[u8], lit: &[u8]| contains_fold(h, lit, rarest(lit));
        assert!(fold(b"Mozilla CRAWLER", b"crawler"));
        assert!(fold(b"Mozilla CRAWLER/1", b"crawler"));
        assert!(fold(b"wwwWWW", b"ww"));
        assert!(!fold(b"Mozilla CRAWLE", b"crawler"));
        assert!(!fold(b"rawler", b"crawler"));
        assert!(fold(b"anything", b""));
        assert!(fold(b"x", b"x"));
        assert!(!fold(b"", b"x"));
        // Every anchor position gives the same answers.
        for rare in 0..7 {
            assert!(contains_fold(b"a CrAwLeR b", b"crawler", rare));
            assert!(!contains_fold(b"a CrAwLe b", b"crawler", rare));
        }
    }

    #[test]
    fn small_ip_sets_agree_with_range_sets() {
        let v4 = [
            "10.0.0.0/8",
            "192.0.2.7",
            "255.255.255.255",
            "0.0.0.0",
            "172.16.0.0/12",
            "100.64.0.0..100.64.0.9",
        ];
        let v6 = [
            "2001:db8::/32",
            "::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        let mut x: u64 = 7;
        let mut probes: Vec<IpAddr> = [
            "10.0.0.0",
            "9.255.255.255",
            "10.255.255.255",
            "11.0.0.0",
            "192.0.2.7",
            "192.0.2.8",
            "0.0.0.0",
            "255.255.255.255",
            "172.31.255.255",
            "100.64.0.9",
            "100.64.0.10",
            "::",
            "::1",
            "2001:db8::",
            "2001:db7:ffff::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for _ in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            probes.push(IpAddr::from(((x >> 32) as u32).to_be_bytes()));
            probes.push(IpAddr::from(
                (u128::from(x) << 64 | u128::from(x >> 3)).to_be_bytes(),
            ));
        }
        // No IPv4 group, one, two (the second padded); with and without IPv6 ranges.
        for (n4, n6) in [(0, 3), (1, 0), (4, 3), (5, 0), (6, 3), (0, 1)] {
            let set = IpRangeSet::parse(v4[..n4].iter().chain(&v6[..n6]).copied()).unwrap();
            let Some(Test::Ips { v4_groups, groups }) =
                Test::new(&CmpOp::InIps(Arc::new(set.clone())))
            else {
                panic!("small set expected");
            };
            for &ip in &probes {
                assert_eq!(
                    IpRanges::contains(&groups, v4_groups, ip),
                    set.contains(ip),
                    "{ip} in {n4} v4 and {n6} v6 ranges"
                );
            }
        }
    }
}

/// Differential tests: the plan against the tree on randomized expressions and requests.
#[cfg(test)]
mod differential {
    use std::borrow::Cow;
    use std::net::IpAddr;

    use crate::value::Map;
    use crate::{EvalContext, Field, FieldProvider, Lists, Scheme, Value, compile};

    /// A small deterministic generator (the crate has no `rand` dependency).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Few distinct values, so that comparisons are true often enough to exercise both sides.
    const WORDS: &[&str] = &[
        "",
        "a",
        "A",
        "ab",
        "Ab",
        "crawler",
        "CRAWLER",
        "/seg/",
        "x/seg/y",
        "www.example.com",
        "example",
        "a.b",
        "axb",
        "GET",
        "POST",
        "k",
    ];
    const STR_FIELDS: &[&str] = &[
        "http.host",
        "http.request.uri.path",
        "http.user_agent",
        "http.cookie",
        "ip.src.country",
    ];
    const HEADER_KEYS: &[&str] = &["a", "x-h", "user-agent", "missing"];
    const IPS: &[&str] = &[
        "10.0.0.1",
        "10.1.2.3",
        "192.0.2.7",
        "192.0.2.200",
        "255.255.255.255",
        "0.0.0.0",
        "2001:db8::1",
        "2001:db9::1",
        "::",
    ];
    const NETS: &[&str] = &[
        "10.0.0.0/8",
        "10.0.0.1",
        "192.0.2.0/25",
        "192.0.2.200..192.0.2.210",
        "255.255.255.255",
        "0.0.0.0/0",
        "2001:db8::/32",
        "::/0",
        "::",
    ];
    const REGEXES: &[&str] = &[
        "crawler",
        "(?i)crawler",
        "^crawler",
        "(?i)^CRAWLER$",
        "ler$",
        "(?i)B$",
        r"a\\.b",
        r"^a\\.b$",
        "a.b",
        "^(a|x)",
        "",
        "(?i)k",
    ];

    fn quoted(w: &str) -> String {
        format!("\"{w}\"")
    }

    fn str_value(r: &mut Rng) -> String {
        match r.below(6) {
            0 => format!("http.request.headers[\"{}\"][0]", r.pick(HEADER_KEYS)),
            1 => format!("lower({})", r.pick(STR_FIELDS)),
            _ => r.pick(STR_FIELDS).to_string(),
        }
    }

    fn leaf(r: &mut Rng) -> String {
        let w = quoted(r.pick(WORDS));
        match r.below(22) {
            0 => format!("{} eq {w}", str_value(r)),
            1 => format!("{} ne {w}", str_value(r)),
            2 => format!("{} lt {w}", str_value(r)),
            3 => format!("{} contains {w}", str_value(r)),
            4 => format!("{} matches \"{}\"", str_value(r), r.pick(REGEXES)),
            5 => {
                let n = 1 + r.below(9);
                let set: Vec<String> = (0..n).map(|_| quoted(r.pick(WORDS))).collect();
                format!("{} in {{{}}}", str_value(r), set.join(" "))
            }
            6 => format!("starts_with({}, {w})", str_value(r)),
            7 => format!("ends_with({}, {w})", str_value(r)),
            8 => format!("{} wildcard \"*{}*\"", str_value(r), r.pick(&WORDS[1..])),
            9 => {
                let max = if r.below(4) == 0 { 30 } else { 5 };
                let n = 1 + r.below(max);
                let set: Vec<&str> = (0..n).map(|_| r.pick(NETS)).collect();
                format!("ip.src in {{{}}}", set.join(" "))
            }
            10 => format!("ip.src eq {}", r.pick(IPS)),
            11 => format!("ip.src ge {}", r.pick(IPS)),
            12 => {
                let lo = r.below(5);
                format!(
                    "ip.src.asnum in {{{} {lo}..{}}}",
                    r.below(5),
                    lo + r.below(4)
                )
            }
            13 => format!("ip.src.asnum gt {}", r.below(5)),
            14 => "ssl".to_string(),
            15 => format!(
                "{}(http.request.headers[\"{}\"][*] {} {w})",
                ["any", "all"][r.below(2)],
                r.pick(HEADER_KEYS),
                ["eq", "contains", "ne"][r.below(3)]
            ),
            16 => format!(
                "len(http.request.headers[\"{}\"]) gt {}",
                r.pick(HEADER_KEYS),
                r.below(3)
            ),
            17 => format!("len({}) eq {}", r.pick(STR_FIELDS), r.below(4)),
            18 => format!("any(http.request.headers.names[*] eq {w})"),
            19 => format!("{} eq {}", r.pick(STR_FIELDS), r.pick(STR_FIELDS)),
            20 => format!("ip.src.asnum & {}", 1 + r.below(4)),
            _ => format!(
                "lower({}) eq \"{}\"",
                r.pick(STR_FIELDS),
                r.pick(WORDS).to_ascii_lowercase()
            ),
        }
    }

    fn expr(r: &mut Rng, depth: usize) -> String {
        if depth == 0 || r.below(3) == 0 {
            return leaf(r);
        }
        match r.below(6) {
            0 => format!("not ({})", expr(r, depth - 1)),
            1 => format!("({}) xor ({})", expr(r, depth - 1), expr(r, depth - 1)),
            2 => format!("({}) or ({})", expr(r, depth - 1), expr(r, depth - 1)),
            3 => format!(
                "({}) and ({}) and ({})",
                expr(r, depth - 1),
                expr(r, depth - 1),
                expr(r, depth - 1)
            ),
            _ => format!("({}) and ({})", expr(r, depth - 1), expr(r, depth - 1)),
        }
    }

    /// A request with each field present or missing at random.
    struct Req {
        strs: Vec<Option<&'static str>>,
        ip: Option<IpAddr>,
        asn: Option<i64>,
        ssl: Option<bool>,
        headers: Option<Vec<(&'static str, &'static str)>>,
    }

    impl Req {
        fn random(r: &mut Rng) -> Req {
            let some = |r: &mut Rng| r.below(5) != 0;
            Req {
                strs: (0..STR_FIELDS.len())
                    .map(|_| some(r).then(|| r.pick(WORDS)))
                    .collect(),
                ip: some(r).then(|| r.pick(IPS).parse().unwrap()),
                asn: some(r).then(|| r.below(6) as i64),
                ssl: some(r).then(|| r.below(2) == 0),
                headers: some(r).then(|| {
                    (0..r.below(5))
                        .map(|_| (r.pick(&HEADER_KEYS[..3]), r.pick(WORDS)))
                        .collect()
                }),
            }
        }
    }

    impl FieldProvider for Req {
        fn field(&self, f: Field) -> Value<'_> {
            let s = |i: usize| Value::opt_str(self.strs[i]);
            match f {
                Field::HttpHost => s(0),
                Field::HttpRequestUriPath => s(1),
                Field::HttpUserAgent => s(2),
                Field::HttpCookie => s(3),
                Field::IpSrcCountry => s(4),
                Field::IpSrc => self.ip.map_or(Value::Missing, Value::Ip),
                Field::IpSrcAsnum => self.asn.map_or(Value::Missing, Value::Int),
                Field::Ssl => self.ssl.map_or(Value::Missing, Value::Bool),
                Field::HttpRequestHeaders => match &self.headers {
                    Some(h) => Value::Map(Map::from_pairs(
                        h.iter()
                            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))),
                    )),
                    None => Value::Missing,
                },
                Field::HttpRequestHeadersNames => match &self.headers {
                    Some(h) => Value::strs(h.iter().map(|(k, _)| *k)),
                    None => Value::Missing,
                },
                _ => Value::Missing,
            }
        }
    }

    #[test]
    fn plan_and_tree_agree_on_random_expressions() {
        let mut r = Rng(0x5eed);
        let lists = Lists::new();
        let (mut checked, mut true_seen, mut specialized) = (0, 0, 0);
        for _ in 0..3000 {
            let text = expr(&mut r, 3);
            let e = compile(&text, Scheme::builtin(), &lists)
                .unwrap_or_else(|err| panic!("generated `{text}` does not compile: {err}"));
            if e.plan().tree_leaves() == 0 {
                specialized += 1;
            }
            for _ in 0..20 {
                let req = Req::random(&mut r);
                // Separate contexts: each side computes its own fields.
                let plan = e.matches(&EvalContext::new(&req));
                let tree = e.matches_by_tree(&EvalContext::new(&req));
                assert_eq!(plan, tree, "`{text}` (normalized `{e}`)");
                // Shared context, plan first: the fields it computed serve the tree too.
                let ctx = EvalContext::new(&req);
                assert_eq!(e.matches(&ctx), e.matches_by_tree(&ctx), "`{text}`");
                // The plan short-circuits in the tree's order: the same fields are computed.
                let (a, b) = (EvalContext::new(&req), EvalContext::new(&req));
                e.matches(&a);
                e.matches_by_tree(&b);
                let fa: Vec<Field> = a.computed().map(|(f, _)| f).collect();
                let fb: Vec<Field> = b.computed().map(|(f, _)| f).collect();
                assert_eq!(fa, fb, "`{text}` computes other fields");
                checked += 1;
                true_seen += usize::from(plan);
            }
        }
        // The generator must exercise both answers and mostly specialized plans.
        assert!(true_seen > checked / 10, "{true_seen} of {checked} true");
        assert!(
            specialized > 1000,
            "{specialized} of 3000 fully specialized"
        );
    }
}

#[cfg(test)]
mod layout {
    #[test]
    fn branches_stay_small() {
        // Two branches per cache line; a ruleset's array holds most rules whole.
        assert!(std::mem::size_of::<super::Branch>() <= 32);
        assert!(std::mem::size_of::<crate::CompiledExpr>() <= 56);
    }
}
