//! `CompiledExpr`: the public face of one compiled expression, plus constant folding and
//! match explanations.
//!
//! `compile` runs the parser, keeps the normalized text, folds constants, builds the evaluation
//! plan (`plan`), and returns an immutable, `Send + Sync` value that many threads evaluate at
//! once. `matches` runs the plan; explanations re-walk the tree for a matched expression and
//! list the leaf conditions that decided it. They are only computed when asked for, so the plain
//! `matches` path allocates nothing.

use std::fmt;

use crate::error::RuleError;
use crate::expr::{CmpOp, Compare, EvalContext, LogicOp, Node, Texts, ValueNode};
use crate::lists::ListRegistry;
use crate::parser::Parser;
use crate::plan::Plan;
use crate::scheme::{Field, Scheme};
use crate::value::Value;

/// A compiled expression, ready to evaluate.
#[derive(Clone)]
pub struct CompiledExpr {
    /// What `matches` runs. Its first test is inline, so a ruleset's array holds most rules
    /// whole; everything else is behind one pointer.
    plan: Plan,
    tree: Box<Tree>,
}

/// The checked tree and what is known about it: read by explanations and introspection, not
/// by `matches`.
#[derive(Clone, Debug)]
struct Tree {
    root: Node,
    normalized: String,
    fields: Vec<Field>,
    regexes: usize,
}

/// Compiles `expr` against `scheme`, resolving `$lists` through `lists`.
///
/// ```
/// use doorman_rules::{compile, Scheme, NoLists};
/// let e = compile("http.host eq \"example.com\" and ip.src in {192.0.2.0/24}", Scheme::builtin(), &NoLists).unwrap();
/// assert_eq!(e.normalized(), "http.host eq \"example.com\" and ip.src in {192.0.2.0/24}");
/// ```
pub fn compile(
    expr: &str,
    scheme: &Scheme,
    lists: &dyn ListRegistry,
) -> Result<CompiledExpr, RuleError> {
    if may_nest_deeply(expr) {
        // The parser recurses once per nesting level; at the 128-level limit an unoptimized
        // build needs a few MiB of stack, more than a default 2 MiB thread has. Deep input
        // is rare, so only then is the work moved to a thread with room to spare.
        let spawned = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("doorman-rules-compile".into())
                .stack_size(DEEP_STACK)
                .spawn_scoped(s, || compile_here(expr, scheme, lists))
                .ok()
                .map(|h| h.join())
        });
        if let Some(Ok(result)) = spawned {
            return result;
        }
    }
    compile_here(expr, scheme, lists)
}

const DEEP_STACK: usize = 64 << 20;

/// A cheap over-estimate of nesting: any expression that could nest more than a few dozen
/// levels has that many `(`, `[`, `!` or `not`.
fn may_nest_deeply(expr: &str) -> bool {
    let marks = expr
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'!'))
        .count();
    marks + expr.matches("not").count() > 24
}

fn compile_here(
    expr: &str,
    scheme: &Scheme,
    lists: &dyn ListRegistry,
) -> Result<CompiledExpr, RuleError> {
    let parsed = Parser::new(expr, scheme, lists).parse()?;
    let root = fold(parsed.node);
    let mut fields = Vec::new();
    collect_fields(&root, &mut fields);
    fields.sort();
    fields.dedup();
    Ok(CompiledExpr {
        plan: Plan::new(&root),
        tree: Box::new(Tree {
            root,
            normalized: parsed.text,
            fields,
            regexes: parsed.regexes,
        }),
    })
}

impl CompiledExpr {
    /// Evaluates against one request.
    // Always inlined: a gateway evaluates rules one after another in a loop, and a call per
    // rule (with the registers the plan's tests need saved and restored) added about an
    // eighth to the instructions of the 1,000-rule benchmark.
    #[inline(always)]
    pub fn matches(&self, ctx: &EvalContext<'_>) -> bool {
        self.plan.matches(ctx)
    }

    /// Evaluates through the tree, as `explain` does: the reference the plan is tested
    /// against.
    #[cfg(test)]
    pub(crate) fn matches_by_tree(&self, ctx: &EvalContext<'_>) -> bool {
        self.tree.root.eval(ctx)
    }

    /// The evaluation plan (for tests).
    #[cfg(test)]
    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The normalized expression (see docs/rules.md, "Normalized form").
    pub fn normalized(&self) -> &str {
        &self.tree.normalized
    }

    /// The fields this expression may read (after constant folding), in slot order.
    pub fn fields(&self) -> &[Field] {
        &self.tree.fields
    }

    /// Number of regular expressions in the expression.
    pub fn regex_count(&self) -> usize {
        self.tree.regexes
    }

    /// True when folding reduced the expression to a constant.
    pub fn constant(&self) -> Option<bool> {
        match self.tree.root {
            Node::Const(b) => Some(b),
            _ => None,
        }
    }

    /// Evaluates and, when the result is true, lists the conditions that made it true.
    pub fn explain(&self, ctx: &EvalContext<'_>) -> Option<Vec<MatchedCondition>> {
        if !self.tree.root.eval(ctx) {
            return None;
        }
        let mut out = Vec::new();
        explain_true(&self.tree.root, ctx, &mut out);
        Some(out)
    }
}

impl fmt::Debug for CompiledExpr {
    /// The tree and what is known about it; the plan is derived from the tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tree {
            root,
            normalized,
            fields,
            regexes,
        } = &*self.tree;
        f.debug_struct("CompiledExpr")
            .field("root", root)
            .field("normalized", normalized)
            .field("fields", fields)
            .field("regexes", regexes)
            .finish()
    }
}

impl fmt::Display for CompiledExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tree.normalized)
    }
}

/// One condition that was true on the path that decided a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedCondition {
    /// The condition in normalized form, e.g. `ip.src in {192.0.2.0/24}`.
    pub condition: String,
    /// The value expression that was tested, e.g. `ip.src`.
    pub subject: Option<String>,
    /// The value seen for `subject`, as it would be written in an expression.
    pub seen: Option<String>,
}

impl fmt::Display for MatchedCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.condition)?;
        if let (Some(s), Some(v)) = (&self.subject, &self.seen) {
            write!(f, " ({s} = {v})")?;
        }
        Ok(())
    }
}

fn show(v: &Value<'_>) -> String {
    const MAX: usize = 200;
    let s = v.to_string();
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

fn explain_true(node: &Node, ctx: &EvalContext<'_>, out: &mut Vec<MatchedCondition>) {
    match node {
        Node::Const(_) => {}
        Node::IsTrue(_, text) => out.push(MatchedCondition {
            condition: text.to_string(),
            subject: None,
            seen: None,
        }),
        Node::Compare(c) => out.push(MatchedCondition {
            condition: c.texts.full.clone(),
            subject: Some(c.texts.lhs.clone()),
            seen: Some(show(&c.lhs.eval(ctx))),
        }),
        Node::Not(inner) => {
            let (subject, seen) = match &**inner {
                Node::Compare(c) => (Some(c.texts.lhs.clone()), Some(show(&c.lhs.eval(ctx)))),
                _ => (None, None),
            };
            out.push(MatchedCondition {
                condition: describe(node),
                subject,
                seen,
            });
        }
        Node::Logic(LogicOp::And, ns) => ns.iter().for_each(|n| explain_true(n, ctx, out)),
        Node::Logic(LogicOp::Or, ns) => {
            if let Some(n) = ns.iter().find(|n| n.eval(ctx)) {
                explain_true(n, ctx, out);
            }
        }
        Node::Logic(LogicOp::Xor, ns) => {
            for n in ns {
                if n.eval(ctx) {
                    explain_true(n, ctx, out);
                } else {
                    out.push(MatchedCondition {
                        condition: format!("not {}", paren(n)),
                        subject: None,
                        seen: None,
                    });
                }
            }
        }
        Node::Quant(_, inner, text) => {
            let (subject, seen) = match &**inner {
                Node::Compare(c) => (Some(c.texts.lhs.clone()), Some(show(&c.lhs.eval(ctx)))),
                _ => (None, None),
            };
            out.push(MatchedCondition {
                condition: text.to_string(),
                subject,
                seen,
            });
        }
    }
}

fn paren(n: &Node) -> String {
    match n {
        Node::Logic(..) => format!("({})", describe(n)),
        _ => describe(n),
    }
}

/// Normalized text of a (possibly folded) node.
pub(crate) fn describe(n: &Node) -> String {
    match n {
        Node::Const(b) => b.to_string(),
        Node::IsTrue(_, t) | Node::Quant(_, _, t) => t.to_string(),
        Node::Compare(c) => c.texts.full.clone(),
        Node::Not(inner) => format!("not {}", paren(inner)),
        Node::Logic(op, ns) => {
            let sep = match op {
                LogicOp::And => " and ",
                LogicOp::Xor => " xor ",
                LogicOp::Or => " or ",
            };
            ns.iter().map(paren).collect::<Vec<_>>().join(sep)
        }
    }
}

/// Constant folding and flattening. Array-shaped subtrees (under any/all) are left alone.
fn fold(n: Node) -> Node {
    match n {
        Node::IsTrue(ValueNode::Call(call), text) => specialize_call(*call, text),
        Node::IsTrue(ValueNode::Lit(Value::Bool(b)), _) => Node::Const(b),
        Node::Compare(c) => {
            let c = specialize_lower_eq(c);
            if let ValueNode::Lit(v) = &c.lhs
                && !matches!(v, Value::Array(_))
                && !has_dynamic_rhs(&c.op)
            {
                let ctx = EvalContext::new(&crate::expr::NoFields);
                return Node::Const(c.op.test(v, &ctx));
            }
            Node::Compare(c)
        }
        Node::Not(inner) => match fold(*inner) {
            Node::Const(b) => Node::Const(!b),
            other => Node::Not(Box::new(other)),
        },
        Node::Logic(op, ns) => {
            let mut kept = Vec::with_capacity(ns.len());
            let mut parity = false;
            for child in ns.into_iter().map(fold) {
                match (op, child) {
                    (LogicOp::And, Node::Const(true)) | (LogicOp::Or, Node::Const(false)) => {}
                    (LogicOp::And, Node::Const(false)) => return Node::Const(false),
                    (LogicOp::Or, Node::Const(true)) => return Node::Const(true),
                    (LogicOp::Xor, Node::Const(b)) => parity ^= b,
                    // Same operator nested by parentheses: splice it in.
                    (_, Node::Logic(inner_op, inner)) if inner_op == op => kept.extend(inner),
                    (_, c) => kept.push(c),
                }
            }
            let core = match kept.len() {
                0 => Node::Const(op == LogicOp::And),
                1 => kept.pop().unwrap_or(Node::Const(false)),
                _ => Node::Logic(op, kept),
            };
            match (op, parity, core) {
                (LogicOp::Xor, true, Node::Const(b)) => Node::Const(!b),
                (LogicOp::Xor, true, other) => Node::Not(Box::new(other)),
                (_, _, other) => other,
            }
        }
        other => other,
    }
}

fn has_dynamic_rhs(op: &crate::expr::CmpOp) -> bool {
    matches!(op, crate::expr::CmpOp::OrderDyn(..))
}

fn collect_fields(n: &Node, out: &mut Vec<Field>) {
    match n {
        Node::Const(_) => {}
        Node::IsTrue(v, _) => collect_value_fields(v, out),
        Node::Compare(c) => {
            collect_value_fields(&c.lhs, out);
            if let crate::expr::CmpOp::OrderDyn(_, rhs) = &c.op {
                collect_value_fields(rhs, out);
            }
        }
        Node::Not(inner) | Node::Quant(_, inner, _) => collect_fields(inner, out),
        Node::Logic(_, ns) => ns.iter().for_each(|c| collect_fields(c, out)),
    }
}

fn collect_value_fields(v: &ValueNode, out: &mut Vec<Field>) {
    match v {
        ValueNode::Lit(_) => {}
        ValueNode::Field(f) => out.push(*f),
        ValueNode::Index { base, .. } | ValueNode::Each { base, .. } => {
            collect_value_fields(base, out)
        }
        ValueNode::Call(c) => c.args.iter().for_each(|a| collect_value_fields(a, out)),
        ValueNode::Cond(n, _) => collect_fields(n, out),
    }
}

/// `starts_with(x, "lit")` and `ends_with(x, "lit")` become comparisons on `x`, skipping the
/// generic call machinery on the hot path.
fn specialize_call(call: crate::expr::Call, text: std::sync::Arc<str>) -> Node {
    use crate::functions::Func;
    let lit = match call.args.get(1) {
        Some(ValueNode::Lit(Value::Bytes(b))) => Some(b.to_vec().into_boxed_slice()),
        _ => None,
    };
    match (&call.func, lit, call.mapped, call.args.len()) {
        (Func::StartsWith | Func::EndsWith, Some(lit), false, 2) => {
            let op = if matches!(call.func, Func::StartsWith) {
                CmpOp::StartsWith(lit)
            } else {
                CmpOp::EndsWith(lit)
            };
            let lhs_text = call.arg0.to_string();
            let lhs = call
                .args
                .into_iter()
                .next()
                .unwrap_or(ValueNode::Lit(Value::Missing));
            Node::Compare(Compare {
                lhs,
                op,
                texts: Box::new(Texts {
                    full: text.to_string(),
                    lhs: lhs_text,
                }),
            })
        }
        _ => Node::IsTrue(ValueNode::Call(Box::new(call)), text),
    }
}

/// `lower(x) eq "lit"` / `ne` with a lowercase literal: compare `x` case-insensitively.
fn specialize_lower_eq(c: Compare) -> Compare {
    use crate::expr::{OrdOp, Scalar};
    use crate::functions::Func;
    let Compare { lhs, op, texts } = c;
    match (lhs, op) {
        (
            ValueNode::Call(call),
            CmpOp::Order(ord @ (OrdOp::Eq | OrdOp::Ne), Scalar::Bytes(lit)),
        ) if matches!(call.func, Func::Lower)
            && !call.mapped
            && call.args.len() == 1
            && !lit.iter().any(u8::is_ascii_uppercase) =>
        {
            let arg0 = call.arg0.to_string();
            let lhs = call
                .args
                .into_iter()
                .next()
                .unwrap_or(ValueNode::Lit(Value::Missing));
            Compare {
                lhs,
                op: CmpOp::EqFold(lit, ord == OrdOp::Ne),
                texts: Box::new(Texts {
                    full: texts.full,
                    lhs: arg0,
                }),
            }
        }
        (lhs, op) => Compare { lhs, op, texts },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_expressions_are_shareable_across_threads() {
        fn is<T: Send + Sync>() {}
        is::<CompiledExpr>();
    }
}
