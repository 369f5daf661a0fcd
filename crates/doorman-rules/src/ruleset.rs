//! `Ruleset`: an ordered list of compiled rules, each with caller data (an action, an id), and
//! the two ways to run it: first match (firewall phases) and every match (log/shadow rules).
//!
//! All rules of all rulesets evaluated for one request share one [`EvalContext`], so a field
//! used by many rules is computed once. A ruleset does not decide what a match means; the
//! caller's data (`T`) carries the action.

use crate::compiled::{CompiledExpr, MatchedCondition};
use crate::expr::EvalContext;

/// Ordered rules with caller data `T` (for example a rule id and an action).
#[derive(Clone, Debug)]
pub struct Ruleset<T> {
    rules: Vec<(T, CompiledExpr)>,
}

impl<T> Default for Ruleset<T> {
    fn default() -> Self {
        Ruleset { rules: Vec::new() }
    }
}

/// A rule that matched.
#[derive(Debug)]
pub struct RuleMatch<'r, T> {
    /// Position of the rule in the ruleset.
    pub index: usize,
    /// The caller's data for the rule.
    pub data: &'r T,
    /// The rule's expression.
    pub expr: &'r CompiledExpr,
}

impl<T> RuleMatch<'_, T> {
    /// The conditions that made the rule match, for receipts and `doorman explain`.
    pub fn explain(&self, ctx: &EvalContext<'_>) -> Vec<MatchedCondition> {
        self.expr.explain(ctx).unwrap_or_default()
    }
}

impl<T> Ruleset<T> {
    /// An empty ruleset.
    pub fn new() -> Ruleset<T> {
        Ruleset { rules: Vec::new() }
    }

    /// The data of the rule at `index` (as [`RuleMatch::index`] reports it).
    pub fn get(&self, index: usize) -> Option<&T> {
        self.rules.get(index).map(|(data, _)| data)
    }

    /// Appends a rule; rules are evaluated in insertion order.
    pub fn push(&mut self, data: T, expr: CompiledExpr) {
        self.rules.push((data, expr));
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in order.
    pub fn iter(&self) -> impl Iterator<Item = (&T, &CompiledExpr)> {
        self.rules.iter().map(|(d, e)| (d, e))
    }

    /// The first rule that matches, in order.
    pub fn first_match(&self, ctx: &EvalContext<'_>) -> Option<RuleMatch<'_, T>> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, (_, e))| e.matches(ctx))
            .map(|(index, (data, expr))| RuleMatch { index, data, expr })
    }

    /// Every rule that matches, in order.
    pub fn all_matches(&self, ctx: &EvalContext<'_>) -> Vec<RuleMatch<'_, T>> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| e.matches(ctx))
            .map(|(index, (data, expr))| RuleMatch { index, data, expr })
            .collect()
    }
}

impl<T> FromIterator<(T, CompiledExpr)> for Ruleset<T> {
    fn from_iter<I: IntoIterator<Item = (T, CompiledExpr)>>(iter: I) -> Self {
        Ruleset {
            rules: iter.into_iter().collect(),
        }
    }
}
