//! The parser and type checker: expression text in, compiled tree ([`crate::expr`]) out.
//!
//! A hand-written recursive-descent parser over bytes. The right-hand side of a comparison is
//! lexed according to the left side's type (a CIDR after an IP field, a regex after `matches`),
//! as Cloudflare's engine does, so there is no separate token stream. While it builds the tree
//! it also builds each node's normalized text (used by `rules check` and explanations), and it
//! knows the usual mistakes well enough to say how to fix them. It never panics on any input.

use std::net::IpAddr;
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};

use crate::error::{ErrorKind, RuleError, nearest};
use crate::expr::{
    Call, CmpOp, Compare, EvalContext, LogicOp, NoFields, Node, OrdOp, Quant, Scalar, Step, Texts,
    ValueNode,
};
use crate::format::{quote_bytes, quote_regex};
use crate::functions::{self, Arg, SigError};
use crate::ipset::{IpRange, IpRangeSet};
use crate::lists::{IntSet, List, ListRegistry, StringSet};
use crate::scheme::Scheme;
use crate::value::{Type, Value};
use crate::wildcard::Wildcard;
use crate::{MAX_EXPRESSION_LEN, MAX_NESTING_DEPTH, MAX_REGEXES, REGEX_SIZE_LIMIT};

type PResult<T> = Result<T, RuleError>;

/// A parsed value expression with its static facts.
struct Typed {
    node: ValueNode,
    /// The type of the value, or of each element when `mapped`.
    ty: Type,
    mapped: bool,
    start: usize,
    end: usize,
    text: String,
}

/// A parsed condition. `array` when it yields one Boolean per element (under `[*]`).
struct Cond {
    node: Node,
    array: bool,
    start: usize,
    end: usize,
    text: String,
    /// Precedence of the top operator, for parenthesizing in normalized text.
    prec: u8,
}

enum Operand {
    Value(Typed),
    Cond(Cond),
}

const PREC_ATOM: u8 = 4;

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "xor",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "matches",
    "wildcard",
    "strict",
    "in",
    "bitwise_and",
];

pub(crate) struct Parser<'s, 'l> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    scheme: &'l Scheme,
    lists: &'l dyn ListRegistry,
    depth: usize,
    regexes: usize,
}

/// The result of parsing: the condition tree (before folding) and its normalized text.
pub(crate) struct Parsed {
    pub node: Node,
    pub text: String,
    pub regexes: usize,
}

impl<'s, 'l> Parser<'s, 'l> {
    pub(crate) fn new(src: &'s str, scheme: &'l Scheme, lists: &'l dyn ListRegistry) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            scheme,
            lists,
            depth: 0,
            regexes: 0,
        }
    }

    pub(crate) fn parse(mut self) -> PResult<Parsed> {
        if self.b.len() > MAX_EXPRESSION_LEN {
            return Err(self.err_at(
                ErrorKind::TooLong,
                MAX_EXPRESSION_LEN,
                1,
                format!(
                    "the expression is {} bytes long; the limit is {MAX_EXPRESSION_LEN}",
                    self.b.len()
                ),
                Some(
                    "split the rule in two, or move long sets of values into a named list ($name)"
                        .into(),
                ),
            ));
        }
        self.ws();
        if self.pos >= self.b.len() {
            return Err(self.err_at(
                ErrorKind::Syntax,
                self.pos,
                1,
                "the expression is empty",
                Some("write a condition such as http.host eq \"example.com\", or true to match every request".into()),
            ));
        }
        let op = self.parse_or()?;
        self.ws();
        if self.pos < self.b.len() {
            return Err(self.unexpected_after_condition());
        }
        let cond = self.to_cond(op, true)?;
        if cond.array {
            return Err(self.err_at(
                ErrorKind::NotBoolean,
                cond.start,
                cond.end - cond.start,
                "this yields one result per element ([*]), not a single true/false",
                Some(format!("wrap it in any(…) or all(…): any({})", cond.text)),
            ));
        }
        Ok(Parsed {
            node: cond.node,
            text: cond.text,
            regexes: self.regexes,
        })
    }

    // ----- errors -------------------------------------------------------------------------

    fn err_at(
        &self,
        kind: ErrorKind,
        offset: usize,
        len: usize,
        msg: impl Into<String>,
        hint: Option<String>,
    ) -> RuleError {
        RuleError::new(kind, self.src, offset, len, msg, hint)
    }

    fn err(&self, kind: ErrorKind, msg: impl Into<String>, hint: Option<String>) -> RuleError {
        let len = self.token_len_at(self.pos);
        self.err_at(kind, self.pos, len, msg, hint)
    }

    /// Length of the "word" at `pos`, for caret width.
    fn token_len_at(&self, pos: usize) -> usize {
        let rest = &self.b[pos.min(self.b.len())..];
        let n = rest
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
            .count();
        n.max(1)
    }

    fn describe_here(&self) -> String {
        if self.pos >= self.b.len() {
            return "the end of the expression".into();
        }
        let n = self.token_len_at(self.pos);
        let s = self.src.get(self.pos..self.pos + n).unwrap_or("");
        if s.is_empty() {
            let c = self.src[self.pos..].chars().next().unwrap_or(' ');
            format!("`{c}`")
        } else {
            format!("`{s}`")
        }
    }

    fn unexpected_after_condition(&self) -> RuleError {
        let word = self.peek_word();
        if let Some(w) = word {
            let lower = w.to_ascii_lowercase();
            if lower != w && KEYWORDS.contains(&lower.as_str()) {
                return self.err(
                    ErrorKind::Syntax,
                    format!("unknown operator `{w}`"),
                    Some(format!("operators are lowercase: {lower}")),
                );
            }
        }
        if self.peek() == Some(b')') {
            return self.err(
                ErrorKind::Syntax,
                "unmatched `)`",
                Some("remove it, or add the `(` it closes".into()),
            );
        }
        self.err(
            ErrorKind::Syntax,
            format!(
                "expected and, or, xor or the end of the expression, found {}",
                self.describe_here()
            ),
            Some("join conditions with and / or; each condition is `field operator value`".into()),
        )
    }

    // ----- lexing helpers -----------------------------------------------------------------

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    /// Skips spaces, tabs and line breaks. (Cloudflare's engine rejects tabs; accepting them
    /// costs nothing and helps pasted expressions.)
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn is_ident_start(c: u8) -> bool {
        c.is_ascii_alphabetic() || c == b'_'
    }

    fn is_ident_char(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_'
    }

    /// The identifier-like word at the cursor (letters, digits, `_`, inner dots), not consumed.
    fn peek_word(&self) -> Option<&'s str> {
        let c = self.peek()?;
        if !Self::is_ident_start(c) {
            return None;
        }
        let mut end = self.pos;
        loop {
            while self.b.get(end).is_some_and(|&c| Self::is_ident_char(c)) {
                end += 1;
            }
            if self.b.get(end) == Some(&b'.')
                && self.b.get(end + 1).is_some_and(|&c| Self::is_ident_char(c))
            {
                end += 1;
                continue;
            }
            break;
        }
        self.src.get(self.pos..end)
    }

    /// A plain keyword (letters and `_` only) at the cursor, if followed by a non-identifier
    /// character.
    fn peek_keyword(&self) -> Option<&'s str> {
        let start = self.pos;
        let mut end = start;
        while self
            .b
            .get(end)
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
        {
            end += 1;
        }
        if end == start
            || self
                .b
                .get(end)
                .is_some_and(|&c| c.is_ascii_digit() || c == b'.')
        {
            return None;
        }
        self.src.get(start..end)
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek_keyword() == Some(kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.b[self.pos.min(self.b.len())..].starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self, at: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(self.err_at(
                ErrorKind::TooDeep,
                at,
                1,
                format!("the expression nests deeper than {MAX_NESTING_DEPTH} levels"),
                Some("flatten it: chains of and/or need no parentheses".into()),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ----- logical level ------------------------------------------------------------------

    /// A chain of operands joined by logical operators. The chain is read flat and grouped by
    /// precedence afterwards, so nesting costs stack only for parentheses, not for each
    /// precedence level.
    fn parse_or(&mut self) -> PResult<Operand> {
        let mut items = vec![self.parse_not()?];
        let mut ops = Vec::new();
        loop {
            let save = self.pos;
            self.ws();
            let op = if self.eat_keyword("or") || self.eat("||") {
                LogicOp::Or
            } else if self.eat_keyword("xor") || self.eat("^^") {
                LogicOp::Xor
            } else if self.eat_keyword("and") || self.eat("&&") {
                LogicOp::And
            } else {
                self.pos = save;
                break;
            };
            self.ws();
            if self.pos >= self.b.len() {
                let name = op_name(op);
                return Err(self.err_at(
                    ErrorKind::Syntax,
                    self.pos,
                    1,
                    format!("expected a condition after `{name}`"),
                    Some(format!(
                        "remove the trailing {name}, or complete the condition"
                    )),
                ));
            }
            ops.push(op);
            items.push(self.parse_not()?);
        }
        self.group(items, ops, LogicOp::Or)
    }

    /// Groups `items` joined by `ops` at precedence `level` (or < xor < and).
    fn group(
        &self,
        mut items: Vec<Operand>,
        ops: Vec<LogicOp>,
        level: LogicOp,
    ) -> PResult<Operand> {
        if items.len() == 1 {
            return Ok(items.pop().unwrap_or_else(unreachable_operand));
        }
        let next = match level {
            LogicOp::Or => LogicOp::Xor,
            LogicOp::Xor => LogicOp::And,
            LogicOp::And => LogicOp::And,
        };
        let mut groups: Vec<(Vec<Operand>, Vec<LogicOp>)> = vec![(Vec::new(), Vec::new())];
        let mut ops_iter = ops.into_iter();
        for item in items {
            if let Some(g) = groups.last_mut() {
                g.0.push(item);
            }
            match ops_iter.next() {
                Some(op) if op == level => groups.push((Vec::new(), Vec::new())),
                Some(op) => {
                    if let Some(g) = groups.last_mut() {
                        g.1.push(op);
                    }
                }
                None => {}
            }
        }
        if groups.len() == 1 && level != LogicOp::And {
            let (items, ops) = groups.pop().unwrap_or_default();
            return self.group(items, ops, next);
        }
        let mut parts = Vec::with_capacity(groups.len());
        for (items, ops) in groups {
            parts.push(if level == LogicOp::And {
                // At the tightest level every operator is `and`: each group is one operand.
                items.into_iter().next().unwrap_or_else(unreachable_operand)
            } else {
                self.group(items, ops, next)?
            });
        }
        self.logic(level, parts)
    }

    fn logic(&self, op: LogicOp, items: Vec<Operand>) -> PResult<Operand> {
        let mut conds = Vec::with_capacity(items.len());
        for it in items {
            conds.push(self.to_cond(it, false)?);
        }
        let array = conds.first().is_some_and(|c| c.array);
        if let Some(bad) = conds.iter().find(|c| c.array != array) {
            return Err(self.err_at(
                ErrorKind::Type,
                bad.start,
                bad.end - bad.start,
                "cannot combine a per-element condition ([*]) with a single condition",
                Some("put the per-element part inside any(…) or all(…)".into()),
            ));
        }
        let prec = prec_of(op);
        let sep = format!(" {} ", op_name(op));
        let text = conds
            .iter()
            .map(|c| paren_if(c, prec))
            .collect::<Vec<_>>()
            .join(&sep);
        let start = conds.first().map_or(0, |c| c.start);
        let end = conds.last().map_or(start, |c| c.end);
        Ok(Operand::Cond(Cond {
            node: Node::Logic(op, conds.into_iter().map(|c| c.node).collect()),
            array,
            start,
            end,
            text,
            prec,
        }))
    }

    /// Any number of `not` / `!` prefixes (read in a loop), then a simple expression.
    fn parse_not(&mut self) -> PResult<Operand> {
        let mut nots = Vec::new();
        loop {
            self.ws();
            let start = self.pos;
            let is_not = if self.peek() == Some(b'!') && self.peek_at(1) != Some(b'=') {
                self.pos += 1;
                true
            } else {
                self.eat_keyword("not")
            };
            if !is_not {
                break;
            }
            self.enter(start)?;
            nots.push(start);
            self.ws();
            if self.pos >= self.b.len() {
                return Err(self.err(ErrorKind::Syntax, "expected a condition after `not`", None));
            }
        }
        let mut op = self.parse_simple()?;
        while let Some(start) = nots.pop() {
            self.leave();
            let c = self.to_cond(op, false)?;
            let text = format!("not {}", paren_if(&c, PREC_ATOM));
            op = Operand::Cond(Cond {
                node: Node::Not(Box::new(c.node)),
                array: c.array,
                start,
                end: c.end,
                text,
                prec: PREC_ATOM,
            });
        }
        Ok(op)
    }

    fn parse_simple(&mut self) -> PResult<Operand> {
        self.ws();
        let start = self.pos;
        if self.peek() == Some(b'(') {
            self.enter(start)?;
            self.pos += 1;
            self.ws();
            if self.peek() == Some(b')') {
                return Err(self.err(
                    ErrorKind::Syntax,
                    "empty parentheses",
                    Some("put a condition inside, or remove them".into()),
                ));
            }
            let inner = self.parse_or()?;
            self.ws();
            if self.peek() != Some(b')') {
                let mut e = self.unexpected_after_condition();
                if self.pos >= self.b.len() {
                    e = self.err_at(
                        ErrorKind::Syntax,
                        start,
                        1,
                        "this `(` is never closed",
                        Some("add the missing `)`".into()),
                    );
                }
                return Err(e);
            }
            self.pos += 1;
            self.leave();
            let mut c = self.to_cond(inner, false)?;
            c.start = start;
            c.end = self.pos;
            return Ok(Operand::Cond(c));
        }
        if let Some(kw) = self.peek_keyword()
            && (kw == "any" || kw == "all")
            && self.after_ws_is(kw.len(), b'(')
        {
            return self.parse_quantifier(kw);
        }
        self.parse_comparison()
    }

    fn after_ws_is(&self, skip: usize, c: u8) -> bool {
        let mut i = self.pos + skip;
        while matches!(self.b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        self.b.get(i) == Some(&c)
    }

    fn parse_quantifier(&mut self, kw: &str) -> PResult<Operand> {
        let start = self.pos;
        self.enter(start)?;
        self.pos += kw.len();
        self.ws();
        self.pos += 1; // the `(` checked by the caller
        self.ws();
        let inner = self.parse_or()?;
        self.ws();
        if self.peek() != Some(b')') {
            if self.peek() == Some(b',') {
                return Err(self.err(
                    ErrorKind::Arguments,
                    format!("{kw}() takes one argument"),
                    None,
                ));
            }
            return Err(self.err(
                ErrorKind::Syntax,
                format!(
                    "expected `)` to close {kw}(…), found {}",
                    self.describe_here()
                ),
                None,
            ));
        }
        self.pos += 1;
        self.leave();
        let c = match inner {
            Operand::Cond(c) => c,
            Operand::Value(v) => {
                let is_bool_array = (v.mapped && v.ty == Type::Bool)
                    || (!v.mapped && v.ty == Type::Array(Box::new(Type::Bool)));
                if !is_bool_array {
                    return Err(self.err_at(
                        ErrorKind::Type,
                        v.start,
                        v.end - v.start,
                        format!(
                            "{kw}() needs one true/false per element, but `{}` is {}",
                            v.text,
                            show_ty(&v)
                        ),
                        Some(format!(
                            "compare each element: {kw}({}[*] == \"…\")",
                            v.text.trim_end_matches("[*]")
                        )),
                    ));
                }
                Cond {
                    text: v.text.clone(),
                    node: Node::IsTrue(v.node, Arc::from(v.text.as_str())),
                    array: true,
                    start: v.start,
                    end: v.end,
                    prec: PREC_ATOM,
                }
            }
        };
        if !c.array {
            return Err(self.err_at(
                ErrorKind::Type,
                c.start,
                c.end - c.start,
                format!("{kw}() needs a condition over array elements, written with [*]"),
                Some(format!(
                    "for example {kw}(http.request.headers[\"accept\"][*] contains \"json\")"
                )),
            ));
        }
        let text = format!("{kw}({})", c.text);
        let q = if kw == "any" { Quant::Any } else { Quant::All };
        Ok(Operand::Cond(Cond {
            node: Node::Quant(q, Box::new(c.node), Arc::from(text.as_str())),
            array: false,
            start,
            end: self.pos,
            text,
            prec: PREC_ATOM,
        }))
    }

    /// Turns an operand into a condition: a Boolean value becomes `IsTrue`.
    fn to_cond(&self, op: Operand, root: bool) -> PResult<Cond> {
        match op {
            Operand::Cond(c) => Ok(c),
            Operand::Value(v) => {
                if v.ty == Type::Bool {
                    let node = match &v.node {
                        ValueNode::Lit(Value::Bool(b)) if !v.mapped => Node::Const(*b),
                        _ => Node::IsTrue(v.node, Arc::from(v.text.as_str())),
                    };
                    return Ok(Cond {
                        node,
                        array: v.mapped,
                        start: v.start,
                        end: v.end,
                        text: v.text,
                        prec: PREC_ATOM,
                    });
                }
                let example = example_for(&v);
                let what = if root {
                    "a rule needs a condition"
                } else {
                    "expected a condition"
                };
                Err(self.err_at(
                    ErrorKind::NotBoolean,
                    v.start,
                    v.end - v.start,
                    format!("{what}, but `{}` is {}", v.text, show_ty(&v)),
                    Some(format!("compare it with something: {example}")),
                ))
            }
        }
    }

    // ----- comparisons --------------------------------------------------------------------

    fn parse_comparison(&mut self) -> PResult<Operand> {
        let lhs = self.parse_value()?;
        let save = self.pos;
        self.ws();
        if let Some(w @ ("starts_with" | "ends_with")) = self.peek_keyword() {
            let at = self.pos;
            self.pos += w.len();
            self.ws();
            let arg_start = self.pos;
            let arg = match self.lex_bytes_literal() {
                Ok(_) => self.src[arg_start..self.pos].to_string(),
                Err(_) => "\"…\"".to_string(),
            };
            return Err(self.err_at(
                ErrorKind::Syntax,
                at,
                w.len(),
                format!("{w} is a function, not an operator"),
                Some(format!("{w} is a function: {w}({}, {arg})", lhs.text)),
            ));
        }
        let op_start = self.pos;
        let Some(op) = self.parse_cmp_op()? else {
            self.pos = save;
            return Ok(Operand::Value(lhs));
        };
        let op_text = &self.src[op_start..self.pos];
        self.ws();
        self.parse_rhs(lhs, op, op_start, op_text)
    }

    /// Reads a comparison operator, or returns `None` (cursor unchanged) when the next thing is
    /// not one; reports common mistakes (uppercase, `ends_with` as an operator, `=`).
    fn parse_cmp_op(&mut self) -> PResult<Option<Cmp>> {
        const SYMBOLS: &[(&str, Cmp)] = &[
            ("==", Cmp::Ord(OrdOp::Eq)),
            ("!=", Cmp::Ord(OrdOp::Ne)),
            ("<=", Cmp::Ord(OrdOp::Le)),
            (">=", Cmp::Ord(OrdOp::Ge)),
            ("<", Cmp::Ord(OrdOp::Lt)),
            (">", Cmp::Ord(OrdOp::Gt)),
            ("~", Cmp::Matches),
        ];
        for (s, op) in SYMBOLS {
            if self.eat(s) {
                return Ok(Some(*op));
            }
        }
        if self.peek() == Some(b'&') && self.peek_at(1) != Some(b'&') {
            self.pos += 1;
            return Ok(Some(Cmp::BitAnd));
        }
        if self.peek() == Some(b'=') {
            return Err(self.err(
                ErrorKind::Syntax,
                "`=` is not an operator",
                Some("use == or eq to compare".into()),
            ));
        }
        let Some(word) = self.peek_keyword() else {
            return Ok(None);
        };
        let op = match word {
            "eq" => Cmp::Ord(OrdOp::Eq),
            "ne" => Cmp::Ord(OrdOp::Ne),
            "lt" => Cmp::Ord(OrdOp::Lt),
            "le" => Cmp::Ord(OrdOp::Le),
            "gt" => Cmp::Ord(OrdOp::Gt),
            "ge" => Cmp::Ord(OrdOp::Ge),
            "contains" => Cmp::Contains,
            "matches" => Cmp::Matches,
            "wildcard" => Cmp::Wildcard(false),
            "in" => Cmp::In,
            "bitwise_and" => Cmp::BitAnd,
            "strict" => {
                let save = self.pos;
                self.pos += word.len();
                self.ws();
                if self.eat_keyword("wildcard") {
                    return Ok(Some(Cmp::Wildcard(true)));
                }
                self.pos = save;
                return Err(self.err(
                    ErrorKind::Syntax,
                    "`strict` must be followed by `wildcard`",
                    Some("write: strict wildcard \"pattern\"".into()),
                ));
            }
            "and" | "or" | "xor" | "not" => return Ok(None),
            _ => return Ok(None),
        };
        self.pos += word.len();
        Ok(Some(op))
    }

    fn parse_rhs(
        &mut self,
        lhs: Typed,
        op: Cmp,
        op_start: usize,
        op_text: &str,
    ) -> PResult<Operand> {
        let scalar_ty = lhs.ty.clone();
        if matches!(scalar_ty, Type::Array(_) | Type::Map(_)) {
            let idx = if matches!(scalar_ty, Type::Map(_)) {
                "[\"key\"]"
            } else {
                "[0]"
            };
            return Err(self.err_at(
                ErrorKind::Type,
                lhs.start,
                lhs.end - lhs.start,
                format!(
                    "`{}` is {}; operators compare single values",
                    lhs.text,
                    show_ty(&lhs)
                ),
                Some(format!(
                    "pick one element with {0}{idx}, or test every element: any({0}[*] {1} …)",
                    lhs.text,
                    op.name()
                )),
            ));
        }
        let rhs_start = self.pos;
        let (cmp, rhs_text): (CmpOp, String) = match op {
            Cmp::Ord(o) => self.rhs_ordering(&lhs, o)?,
            Cmp::Contains => {
                self.require(
                    &lhs,
                    scalar_ty.is_bytes(),
                    "contains",
                    "strings",
                    op_start,
                    op_text,
                )?;
                let b = self.lex_bytes_literal()?;
                let t = quote_bytes(&b);
                (
                    CmpOp::Contains(Box::new(memchr::memmem::Finder::new(&b).into_owned())),
                    t,
                )
            }
            Cmp::Matches => {
                self.require(
                    &lhs,
                    scalar_ty.is_bytes(),
                    "matches",
                    "strings",
                    op_start,
                    op_text,
                )?;
                let (pat, at) = self.lex_regex_literal()?;
                let re = self.compile_regex(&pat, at, self.pos - at)?;
                (
                    CmpOp::Matches(Box::new(crate::expr::RegexTest::new(re, &pat))),
                    quote_regex(&pat),
                )
            }
            Cmp::Wildcard(strict) => {
                let name = if strict {
                    "strict wildcard"
                } else {
                    "wildcard"
                };
                self.require(
                    &lhs,
                    scalar_ty.is_bytes(),
                    name,
                    "strings",
                    op_start,
                    op_text,
                )?;
                let at = self.pos;
                let pat = self.lex_string_literal()?;
                let w = Wildcard::new(&pat, strict).map_err(|e| {
                    self.err_at(
                        ErrorKind::Wildcard,
                        at,
                        self.pos - at,
                        e.message,
                        Some("escape a literal star as \\* (in a raw string: r\"a\\*b\")".into()),
                    )
                })?;
                (CmpOp::Wildcard(w), quote_bytes(&pat))
            }
            Cmp::In => self.rhs_in(&lhs)?,
            Cmp::BitAnd => {
                self.require(
                    &lhs,
                    scalar_ty == Type::Int,
                    "bitwise_and",
                    "integers",
                    op_start,
                    op_text,
                )?;
                let n = self.lex_int()?;
                (CmpOp::BitAnd(n), n.to_string())
            }
        };
        let end = self.pos;
        // Catch `ip.src == 192.0.2.0/24` style leftovers right here, with the best hint.
        let text = format!("{} {} {}", lhs.text, op.name(), rhs_text);
        let _ = rhs_start;
        let lhs_text = lhs.text.clone();
        let array = lhs.mapped;
        Ok(Operand::Cond(Cond {
            node: Node::Compare(Compare {
                lhs: lhs.node,
                op: cmp,
                texts: Box::new(Texts {
                    full: text.clone(),
                    lhs: lhs_text,
                }),
            }),
            array,
            start: lhs.start,
            end,
            text,
            prec: PREC_ATOM,
        }))
    }

    fn require(
        &self,
        lhs: &Typed,
        ok: bool,
        op: &str,
        what: &str,
        at: usize,
        op_text: &str,
    ) -> PResult<()> {
        if ok {
            return Ok(());
        }
        Err(self.err_at(
            ErrorKind::Type,
            at,
            op_text.len().max(1),
            format!(
                "`{op}` works on {what}, but `{}` is {}",
                lhs.text,
                show_ty(lhs)
            ),
            type_hint(lhs, op),
        ))
    }

    fn rhs_ordering(&mut self, lhs: &Typed, o: OrdOp) -> PResult<(CmpOp, String)> {
        let ty = &lhs.ty;
        // A dynamic right-hand side: a field or a function result (Cloudflare, 2026).
        if self.rhs_is_dynamic(ty) {
            let rhs = self.parse_value()?;
            if rhs.mapped {
                return Err(self.err_at(
                    ErrorKind::Type,
                    rhs.start,
                    rhs.end - rhs.start,
                    "[*] is not allowed on the right of a comparison",
                    None,
                ));
            }
            if !ty.accepts(&rhs.ty) {
                return Err(self.err_at(
                    ErrorKind::Type,
                    rhs.start,
                    rhs.end - rhs.start,
                    format!(
                        "cannot compare {} `{}` with {} `{}`",
                        show_ty(lhs),
                        lhs.text,
                        rhs.ty,
                        rhs.text
                    ),
                    None,
                ));
            }
            if *ty == Type::Bool && !matches!(o, OrdOp::Eq | OrdOp::Ne) {
                return Err(self.err_at(
                    ErrorKind::Type,
                    rhs.start,
                    rhs.end - rhs.start,
                    "Booleans can only be compared with eq or ne",
                    None,
                ));
            }
            let text = rhs.text.clone();
            return Ok((CmpOp::OrderDyn(o, rhs.node), text));
        }
        let (scalar, text) = match ty {
            t if t.is_bytes() => {
                let b = self.lex_bytes_literal()?;
                let t = quote_bytes(&b);
                (Scalar::Bytes(b.into()), t)
            }
            Type::Int => {
                let n = self.lex_int()?;
                (Scalar::Int(n), n.to_string())
            }
            Type::Ip => {
                let ip = self.lex_ip_scalar(&lhs.text)?;
                (Scalar::Ip(ip), ip.to_string())
            }
            Type::Bool => {
                if !matches!(o, OrdOp::Eq | OrdOp::Ne) {
                    return Err(self.err(
                        ErrorKind::Type,
                        "Booleans can only be compared with eq or ne",
                        Some(format!("use the field alone: {0} or not {0}", lhs.text)),
                    ));
                }
                let b = if self.eat_keyword("true") {
                    true
                } else if self.eat_keyword("false") {
                    false
                } else {
                    return Err(self.err(
                        ErrorKind::Literal,
                        format!("expected true or false, found {}", self.describe_here()),
                        Some(format!(
                            "a Boolean field is a condition by itself: {0} or not {0}",
                            lhs.text
                        )),
                    ));
                };
                (Scalar::Bool(b), b.to_string())
            }
            _ => return Err(self.err(ErrorKind::Type, "this value cannot be compared", None)),
        };
        Ok((CmpOp::Order(o, scalar), text))
    }

    /// Whether the right-hand side starts a field name or function call rather than a literal.
    fn rhs_is_dynamic(&self, ty: &Type) -> bool {
        let Some(c) = self.peek() else { return false };
        if !Self::is_ident_start(c) {
            return false;
        }
        let word = self.peek_word().unwrap_or("");
        if word == "true" || word == "false" {
            return false;
        }
        if self.scheme.lookup(word).is_some() || self.after_ws_is(word.len(), b'(') {
            return true;
        }
        if ty.is_bytes() {
            // `r"…"` raw strings and `6F:72` byte strings are literals.
            if (c == b'r') && matches!(self.peek_at(1), Some(b'"' | b'#')) {
                return false;
            }
            if self.looks_like_byte_string() {
                return false;
            }
        }
        if *ty == Type::Ip {
            // `fe80::1`, `abcd:…` are addresses, not names.
            let tok = self.ip_token_at(self.pos);
            if tok.contains(':') {
                return false;
            }
        }
        true
    }

    fn rhs_in(&mut self, lhs: &Typed) -> PResult<(CmpOp, String)> {
        let ty = &lhs.ty;
        if self.peek() == Some(b'$') {
            return self.rhs_list(lhs);
        }
        if self.peek() != Some(b'{') {
            let start = self.pos;
            let tok = self.ip_token_at(start);
            let hint = if !tok.is_empty() {
                Some(format!("a set needs braces: {} in {{{tok}}}", lhs.text))
            } else {
                Some(format!(
                    "write a set in braces, separated by spaces: {} in {{…}}, or a list: {} in $name",
                    lhs.text, lhs.text
                ))
            };
            return Err(self.err(
                ErrorKind::Syntax,
                format!(
                    "expected `{{` or `$list` after `in`, found {}",
                    self.describe_here()
                ),
                hint,
            ));
        }
        let open = self.pos;
        self.pos += 1;
        match ty {
            t if t.is_bytes() => {
                let mut items: Vec<Vec<u8>> = Vec::new();
                let mut texts = Vec::new();
                loop {
                    self.ws();
                    if self.close_set(open, &texts)? {
                        break;
                    }
                    let b = self.lex_bytes_literal()?;
                    texts.push(quote_bytes(&b));
                    items.push(b);
                }
                let text = format!("{{{}}}", texts.join(" "));
                Ok((CmpOp::InStrings(Arc::new(StringSet::new(items))), text))
            }
            Type::Int => {
                let mut ranges = Vec::new();
                let mut texts = Vec::new();
                loop {
                    self.ws();
                    if self.close_set(open, &texts)? {
                        break;
                    }
                    let at = self.pos;
                    let a = self.lex_int()?;
                    if self.eat("..") {
                        let b = self.lex_int()?;
                        if a > b {
                            return Err(self.err_at(
                                ErrorKind::Literal,
                                at,
                                self.pos - at,
                                format!("the range {a}..{b} is reversed"),
                                Some(format!("write {b}..{a}")),
                            ));
                        }
                        ranges.push((a, b));
                        texts.push(format!("{a}..{b}"));
                    } else {
                        ranges.push((a, a));
                        texts.push(a.to_string());
                    }
                }
                let text = format!("{{{}}}", texts.join(" "));
                Ok((CmpOp::InInts(Arc::new(IntSet::new(ranges))), text))
            }
            Type::Ip => {
                let mut ranges = Vec::new();
                let mut texts = Vec::new();
                loop {
                    self.ws();
                    if self.close_set(open, &texts)? {
                        break;
                    }
                    let at = self.pos;
                    let tok = self.ip_token_at(at);
                    if tok.is_empty() {
                        return Err(self.err(
                            ErrorKind::Literal,
                            format!(
                                "expected an IP address, CIDR or range in the set, found {}",
                                self.describe_here()
                            ),
                            None,
                        ));
                    }
                    let r: IpRange = tok.parse().map_err(|e: crate::ipset::IpEntryError| {
                        self.err_at(ErrorKind::Literal, at, tok.len(), e.to_string(), None)
                    })?;
                    self.pos += tok.len();
                    texts.push(r.to_string());
                    ranges.push(r);
                }
                let text = format!("{{{}}}", texts.join(" "));
                Ok((
                    CmpOp::InIps(Arc::new(IpRangeSet::from_ranges(ranges))),
                    text,
                ))
            }
            _ => Err(self.err_at(
                ErrorKind::Type,
                open,
                1,
                format!(
                    "`in` works on strings, integers and IP addresses, but `{}` is {}",
                    lhs.text,
                    show_ty(lhs)
                ),
                type_hint(lhs, "in"),
            )),
        }
    }

    /// Handles the end of a set and the usual mistakes inside one. True when `}` was consumed.
    fn close_set(&mut self, open: usize, texts: &[String]) -> PResult<bool> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                Ok(true)
            }
            None => Err(self.err_at(
                ErrorKind::Syntax,
                open,
                1,
                "this `{` is never closed",
                Some("add the missing `}`".into()),
            )),
            Some(b',') => {
                let fixed = self.fix_commas(open);
                Err(self.err(
                    ErrorKind::Syntax,
                    "set elements are separated by spaces, not commas",
                    Some(format!("write {fixed}")),
                ))
            }
            Some(b'\'') => Err(self.single_quote_error()),
            _ => {
                let _ = texts;
                Ok(false)
            }
        }
    }

    /// The set starting at `open` with commas replaced by spaces (for the hint).
    fn fix_commas(&self, open: usize) -> String {
        let rest = &self.src[open..];
        let end = rest.find('}').map_or(rest.len(), |i| i + 1);
        let mut out = String::new();
        let mut in_str = false;
        let mut prev_space = false;
        for c in rest[..end].chars() {
            match c {
                '"' => {
                    in_str = !in_str;
                    out.push(c);
                    prev_space = false;
                }
                ',' if !in_str => {
                    if !prev_space {
                        out.push(' ');
                        prev_space = true;
                    }
                }
                ' ' if !in_str && prev_space => {}
                _ => {
                    prev_space = c == ' ';
                    out.push(c);
                }
            }
        }
        out
    }

    fn rhs_list(&mut self, lhs: &Typed) -> PResult<(CmpOp, String)> {
        let start = self.pos;
        self.pos += 1;
        let name_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            self.pos += 1;
        }
        let name = &self.src[name_start..self.pos];
        if name.is_empty() || name.starts_with('.') || name.ends_with('.') {
            return Err(self.err_at(
                ErrorKind::Syntax,
                start,
                1,
                "expected a list name after `$`",
                Some("list names use lowercase letters, digits and _: $office_network".into()),
            ));
        }
        if name.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(self.err_at(
                ErrorKind::Syntax,
                start,
                self.pos - start,
                format!("list names are lowercase: ${}", name.to_ascii_lowercase()),
                None,
            ));
        }
        let Some(list) = self.lists.get(name) else {
            let mut known = self.lists.names();
            known.sort();
            let near = nearest(name, known.iter().map(String::as_str));
            let hint = if known.is_empty() {
                "no lists are defined; define one in the configuration first".to_string()
            } else if !near.is_empty() {
                format!(
                    "did you mean {}? known lists: {}",
                    near.iter()
                        .map(|n| format!("${n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    list_names(&known)
                )
            } else {
                format!("known lists: {}", list_names(&known))
            };
            return Err(self.err_at(
                ErrorKind::UnknownList,
                start,
                self.pos - start,
                format!("unknown list ${name}"),
                Some(hint),
            ));
        };
        let fits = match &list {
            List::Ip(_) => lhs.ty == Type::Ip,
            List::String(_) => lhs.ty.is_bytes(),
            List::Int(_) => lhs.ty == Type::Int,
        };
        if !fits {
            return Err(self.err_at(
                ErrorKind::Type,
                start,
                self.pos - start,
                format!(
                    "list ${name} holds {}, but `{}` is {}",
                    list.kind(),
                    lhs.text,
                    show_ty(lhs)
                ),
                None,
            ));
        }
        Ok((CmpOp::InList(list), format!("${name}")))
    }

    // ----- values -------------------------------------------------------------------------

    /// A field, function call or literal, followed by any `[…]` indexes.
    fn parse_value(&mut self) -> PResult<Typed> {
        self.ws();
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.err(
                ErrorKind::Syntax,
                "expected a field, function or value, found the end of the expression",
                None,
            ));
        };
        let mut v = if Self::is_ident_start(c)
            && !(c == b'r' && matches!(self.peek_at(1), Some(b'"' | b'#')))
        {
            self.parse_name()?
        } else if c == b'"' || c == b'r' {
            let b = self.lex_string_literal()?;
            let text = quote_bytes(&b);
            Typed {
                node: ValueNode::Lit(Value::Bytes(b.into())),
                ty: Type::String,
                mapped: false,
                start,
                end: self.pos,
                text,
            }
        } else if c.is_ascii_digit() || c == b'-' {
            let n = self.lex_int()?;
            Typed {
                node: ValueNode::Lit(Value::Int(n)),
                ty: Type::Int,
                mapped: false,
                start,
                end: self.pos,
                text: n.to_string(),
            }
        } else if c == b'\'' {
            return Err(self.single_quote_error());
        } else {
            return Err(self.err(
                ErrorKind::Syntax,
                format!(
                    "expected a field, function or value, found {}",
                    self.describe_here()
                ),
                match c {
                    b'$' => Some("a list goes after `in`: ip.src in $name".into()),
                    b'{' => Some("a set goes after `in`: ip.src in {192.0.2.1 192.0.2.2}".into()),
                    b')' => Some("there is a `)` without a condition before it".into()),
                    _ => None,
                },
            ));
        };
        let mut steps = 0;
        loop {
            let save = self.pos;
            self.ws();
            if self.peek() != Some(b'[') {
                self.pos = save;
                break;
            }
            steps += 1;
            if steps > 16 {
                return Err(self.err(ErrorKind::TooDeep, "more than 16 indexes in a row", None));
            }
            v = self.parse_index(v)?;
        }
        Ok(v)
    }

    fn parse_index(&mut self, base: Typed) -> PResult<Typed> {
        let open = self.pos;
        self.pos += 1;
        self.ws();
        enum Ix {
            Each,
            Pos(u32),
            Key(Vec<u8>),
        }
        let ix = match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Ix::Each
            }
            Some(c) if c.is_ascii_digit() => {
                let s = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                let n: u32 = self.src[s..self.pos].parse().map_err(|_| {
                    self.err_at(
                        ErrorKind::Literal,
                        s,
                        self.pos - s,
                        "array index too large",
                        None,
                    )
                })?;
                Ix::Pos(n)
            }
            Some(b'"') | Some(b'r') => Ix::Key(self.lex_string_literal()?),
            Some(b'\'') => return Err(self.single_quote_error()),
            _ => {
                return Err(self.err(
                    ErrorKind::Syntax,
                    format!(
                        "expected an index ([0]), a key ([\"name\"]) or [*], found {}",
                        self.describe_here()
                    ),
                    None,
                ));
            }
        };
        self.ws();
        if self.peek() != Some(b']') {
            return Err(self.err(
                ErrorKind::Syntax,
                format!("expected `]`, found {}", self.describe_here()),
                None,
            ));
        }
        self.pos += 1;
        let span = (open, self.pos);
        let bad = |p: &Self, what: &str| {
            p.err_at(
                ErrorKind::Type,
                span.0,
                span.1 - span.0,
                format!("`{}` is {}; {what}", base.text, show_ty(&base)),
                None,
            )
        };
        match ix {
            Ix::Each => {
                let Some(elem) = base.ty.element().cloned() else {
                    return Err(bad(self, "only arrays and maps can be unpacked with [*]"));
                };
                let text = format!("{}[*]", base.text);
                Ok(Typed {
                    node: ValueNode::Each {
                        flatten: base.mapped,
                        base: Box::new(base.node),
                    },
                    ty: elem,
                    mapped: true,
                    start: base.start,
                    end: self.pos,
                    text,
                })
            }
            Ix::Pos(n) => {
                let Type::Array(elem) = &base.ty else {
                    let hint = if matches!(base.ty, Type::Map(_)) {
                        "maps are indexed by key: [\"name\"]"
                    } else {
                        "only arrays can be indexed with [n]"
                    };
                    return Err(bad(self, hint));
                };
                let ty = (**elem).clone();
                let text = format!("{}[{n}]", base.text);
                Ok(Typed {
                    node: ValueNode::Index {
                        base: Box::new(base.node),
                        step: Step::Pos(n),
                        mapped: base.mapped,
                    },
                    ty,
                    mapped: base.mapped,
                    start: base.start,
                    end: self.pos,
                    text,
                })
            }
            Ix::Key(k) => {
                let Type::Map(elem) = &base.ty else {
                    let hint = if matches!(base.ty, Type::Array(_)) {
                        "arrays are indexed by position: [0]"
                    } else {
                        "only maps can be indexed with [\"key\"]"
                    };
                    return Err(bad(self, hint));
                };
                let ty = (**elem).clone();
                let text = format!("{}[{}]", base.text, quote_bytes(&k));
                Ok(Typed {
                    node: ValueNode::Index {
                        base: Box::new(base.node),
                        step: Step::Key(k.clone().into(), crate::value::key_hash(&k)),
                        mapped: base.mapped,
                    },
                    ty,
                    mapped: base.mapped,
                    start: base.start,
                    end: self.pos,
                    text,
                })
            }
        }
    }

    /// A field name, `true`/`false`, or a function call.
    fn parse_name(&mut self) -> PResult<Typed> {
        let start = self.pos;
        let name = self.peek_word().unwrap_or("");
        let after = self.pos + name.len();
        let is_call = {
            let mut i = after;
            while matches!(self.b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                i += 1;
            }
            self.b.get(i) == Some(&b'(')
        };
        if is_call {
            return self.parse_call(name);
        }
        if name == "true" || name == "false" {
            self.pos = after;
            return Ok(Typed {
                node: ValueNode::Lit(Value::Bool(name == "true")),
                ty: Type::Bool,
                mapped: false,
                start,
                end: after,
                text: name.to_string(),
            });
        }
        if let Some(field) = self.scheme.lookup(name) {
            self.pos = after;
            return Ok(Typed {
                node: ValueNode::Field(field),
                ty: field.ty(),
                mapped: false,
                start,
                end: after,
                // Aliases print as written, so `rules check` does not surprise the author.
                text: name.to_string(),
            });
        }
        Err(self.unknown_name(name, start))
    }

    fn unknown_name(&self, name: &str, start: usize) -> RuleError {
        let len = name.len().max(1);
        let lower = name.to_ascii_lowercase();
        if lower != name {
            if KEYWORDS.contains(&lower.as_str()) {
                return self.err_at(
                    ErrorKind::Syntax,
                    start,
                    len,
                    format!("unknown word `{name}`"),
                    Some(format!("operators are lowercase: {lower}")),
                );
            }
            if self.scheme.lookup(&lower).is_some() || lower == "true" || lower == "false" {
                return self.err_at(
                    ErrorKind::UnknownField,
                    start,
                    len,
                    format!("unknown field `{name}`"),
                    Some(format!("field names are lowercase: {lower}")),
                );
            }
        }
        if KEYWORDS.contains(&name) {
            return self.err_at(
                ErrorKind::Syntax,
                start,
                len,
                format!("expected a field, function or value, found the operator `{name}`"),
                Some(
                    "each condition starts with a field, for example http.host eq \"example.com\""
                        .into(),
                ),
            );
        }
        if functions::NAMES.contains(&name) {
            return self.err_at(
                ErrorKind::Syntax,
                start,
                len,
                format!("{name} is a function"),
                Some(format!("call it with parentheses: {name}(…)")),
            );
        }
        if Scheme::is_cloudflare_only(name) {
            return self.err_at(ErrorKind::UnsupportedField, start, len, format!("`{name}` is a Cloudflare field that Doorman does not provide"), Some("see docs/rules.md for the fields Doorman fills, and doorman.* for its own signals".into()));
        }
        let near = nearest(name, self.scheme.names());
        let hint = if near.is_empty() {
            Some("see docs/rules.md for the list of fields".to_string())
        } else {
            Some(format!("did you mean {}?", near.join(", ")))
        };
        self.err_at(
            ErrorKind::UnknownField,
            start,
            len,
            format!("unknown field `{name}`"),
            hint,
        )
    }

    fn parse_call(&mut self, name: &'s str) -> PResult<Typed> {
        let start = self.pos;
        if !functions::NAMES.contains(&name) || name == "any" || name == "all" {
            let len = name.len().max(1);
            let lower = name.to_ascii_lowercase();
            if lower != name && functions::NAMES.contains(&lower.as_str()) {
                return Err(self.err_at(
                    ErrorKind::UnknownFunction,
                    start,
                    len,
                    format!("unknown function {name}()"),
                    Some(format!("function names are lowercase: {lower}()")),
                ));
            }
            if name == "any" || name == "all" {
                return Err(self.err_at(
                    ErrorKind::Type,
                    start,
                    len,
                    format!("{name}() is a condition, not a value"),
                    Some(format!("use it on its own: {name}(… [*] …) and …")),
                ));
            }
            if name == "bit_slice" {
                return Err(self.err_at(
                    ErrorKind::UnknownFunction,
                    start,
                    len,
                    "bit_slice() is a Magic Firewall (packet) function; Doorman inspects HTTP",
                    None,
                ));
            }
            let near = nearest(name, functions::NAMES.iter().copied());
            let hint = if near.is_empty() {
                "see docs/rules.md for the list of functions".to_string()
            } else {
                format!(
                    "did you mean {}?",
                    near.iter()
                        .map(|n| format!("{n}()"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(self.err_at(
                ErrorKind::UnknownFunction,
                start,
                len,
                format!("unknown function {name}()"),
                Some(hint),
            ));
        }
        self.enter(start)?;
        self.pos += name.len();
        self.ws();
        self.pos += 1; // `(`
        let mut args: Vec<Typed> = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                let a = self.parse_arg()?;
                args.push(a);
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                    }
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    None => {
                        return Err(self.err_at(
                            ErrorKind::Syntax,
                            start,
                            name.len(),
                            format!("the call {name}( is never closed"),
                            Some("add the missing `)`".into()),
                        ));
                    }
                    _ => {
                        return Err(self.err(
                            ErrorKind::Syntax,
                            format!(
                                "expected `,` or `)` in the arguments of {name}(), found {}",
                                self.describe_here()
                            ),
                            None,
                        ));
                    }
                }
                if args.len() > 64 {
                    return Err(self.err(ErrorKind::Arguments, "too many arguments", None));
                }
            }
        }
        self.leave();
        let end = self.pos;
        let text = format!(
            "{name}({})",
            args.iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sig_args: Vec<Arg<'_>> = args
            .iter()
            .map(|a| Arg {
                ty: a.ty.clone(),
                mapped: a.mapped,
                lit: match &a.node {
                    ValueNode::Lit(v) if !a.mapped => Some(v.clone()),
                    _ => None,
                },
                span: (a.start, a.end),
                text: a.text.as_str(),
            })
            .collect();
        let mut regexes = 0usize;
        let mut regex_err: Option<RuleError> = None;
        let built = {
            let src = self.src;
            let spans: Vec<(usize, usize)> = sig_args.iter().map(|a| a.span).collect();
            let mut make_regex = |pat: &str, arg: usize| -> Result<Regex, SigError> {
                regexes += 1;
                let (s, e) = spans.get(arg).copied().unwrap_or((start, end));
                build_regex(pat).map_err(|(kind, msg)| {
                    regex_err = Some(RuleError::new(kind, src, s, e - s, msg.clone(), None));
                    SigError {
                        arg: Some(arg),
                        kind,
                        message: msg,
                        hint: None,
                    }
                })
            };
            functions::build(name, &sig_args, &mut make_regex)
        };
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                if let Some(re) = regex_err {
                    return Err(re);
                }
                let (s, l) = match e.arg.and_then(|i| sig_args.get(i)) {
                    Some(a) => (a.span.0, a.span.1 - a.span.0),
                    None => (start, name.len()),
                };
                return Err(self.err_at(e.kind, s, l, e.message, e.hint));
            }
        };
        self.add_regexes(regexes, start, name.len())?;
        let mapped = args.first().is_some_and(|a| a.mapped);
        let arg0_text = args.first().map(|a| a.text.clone()).unwrap_or_default();
        let ret = built.ret.clone();
        let mut kept = Vec::with_capacity(built.keep.len());
        for (i, a) in args.into_iter().enumerate() {
            if built.keep.contains(&i) {
                kept.push(a.node);
            }
        }
        let all_lit = !mapped && kept.iter().all(|n| matches!(n, ValueNode::Lit(_)));
        let call = Call {
            func: built.func,
            args: kept,
            mapped,
            arg0: arg0_text.into(),
        };
        // Constant folding: a call on literals is computed once, here.
        let node = if all_lit {
            let ctx = EvalContext::new(&NoFields);
            let v = ValueNode::Call(Box::new(call));
            ValueNode::Lit(v.eval(&ctx).into_owned().into_owned())
        } else {
            ValueNode::Call(Box::new(call))
        };
        let ty = if mapped {
            Type::Array(Box::new(ret))
        } else {
            ret
        };
        Ok(Typed {
            node,
            ty,
            mapped: false,
            start,
            end,
            text,
        })
    }

    /// A function argument: a value, or a condition (which becomes a Boolean value).
    fn parse_arg(&mut self) -> PResult<Typed> {
        let op = self.parse_or()?;
        Ok(match op {
            Operand::Value(v) => v,
            Operand::Cond(c) => {
                let array = c.array;
                Typed {
                    node: ValueNode::Cond(Box::new(c.node), array),
                    ty: if array {
                        Type::Array(Box::new(Type::Bool))
                    } else {
                        Type::Bool
                    },
                    mapped: false,
                    start: c.start,
                    end: c.end,
                    text: c.text,
                }
            }
        })
    }

    // ----- literals -----------------------------------------------------------------------

    fn single_quote_error(&self) -> RuleError {
        let rest = &self.src[self.pos..];
        let inner: String = rest.chars().skip(1).take_while(|&c| c != '\'').collect();
        self.err(
            ErrorKind::Syntax,
            "strings use double quotes",
            Some(format!("write \"{inner}\"")),
        )
    }

    fn looks_like_byte_string(&self) -> bool {
        let b = &self.b[self.pos..];
        b.len() >= 5
            && b[0].is_ascii_hexdigit()
            && b[1].is_ascii_hexdigit()
            && matches!(b[2], b':' | b'-' | b'.')
            && b[3].is_ascii_hexdigit()
            && b[4].is_ascii_hexdigit()
    }

    /// A String/Bytes literal: `"…"`, `r"…"`, or hex bytes `6F:72:67`.
    fn lex_bytes_literal(&mut self) -> PResult<Vec<u8>> {
        if self.looks_like_byte_string() {
            let mut out = Vec::new();
            loop {
                let pair = self.b.get(self.pos..self.pos + 2).unwrap_or(&[]);
                if pair.len() != 2 || !pair.iter().all(u8::is_ascii_hexdigit) {
                    return Err(self.err(
                        ErrorKind::Literal,
                        "expected two hex digits in the byte string",
                        None,
                    ));
                }
                let hi = hex(pair[0]);
                let lo = hex(pair[1]);
                out.push(hi * 16 + lo);
                self.pos += 2;
                if matches!(self.peek(), Some(b':' | b'-' | b'.'))
                    && self.peek_at(1).is_some_and(|c| c.is_ascii_hexdigit())
                {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            return Ok(out);
        }
        self.lex_string_literal()
    }

    /// `"…"` with escapes, or a raw string.
    fn lex_string_literal(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.lex_quoted(),
            Some(b'r') if matches!(self.peek_at(1), Some(b'"' | b'#')) => self.lex_raw(),
            Some(b'\'') => Err(self.single_quote_error()),
            _ => {
                let hint = self.peek_word().map(|w| format!("quote it: \"{w}\""));
                Err(self.err(
                    ErrorKind::Literal,
                    format!(
                        "expected a string in double quotes, found {}",
                        self.describe_here()
                    ),
                    hint,
                ))
            }
        }
    }

    fn lex_quoted(&mut self) -> PResult<Vec<u8>> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(
                    ErrorKind::Syntax,
                    open,
                    1,
                    "this string is never closed",
                    Some("add the closing \"".into()),
                ));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let esc_at = self.pos - 1;
                    match self.peek() {
                        Some(b'"') => {
                            out.push(b'"');
                            self.pos += 1;
                        }
                        Some(b'\\') => {
                            out.push(b'\\');
                            self.pos += 1;
                        }
                        Some(b'x') => {
                            let h = self.b.get(self.pos + 1..self.pos + 3).unwrap_or(&[]);
                            if h.len() != 2 || !h.iter().all(u8::is_ascii_hexdigit) {
                                return Err(self.err_at(
                                    ErrorKind::Literal,
                                    esc_at,
                                    2,
                                    "\\x needs exactly two hex digits, as in \\x2e",
                                    None,
                                ));
                            }
                            out.push(hex(h[0]) * 16 + hex(h[1]));
                            self.pos += 3;
                        }
                        Some(d @ b'0'..=b'7') => {
                            let o = self.b.get(self.pos..self.pos + 3).unwrap_or(&[]);
                            if o.len() != 3 || !o.iter().all(|c| (b'0'..=b'7').contains(c)) {
                                return Err(self.err_at(
                                    ErrorKind::Literal,
                                    esc_at,
                                    2,
                                    "an octal escape needs exactly three digits, as in \\056",
                                    None,
                                ));
                            }
                            let v = u32::from(d - b'0') * 64
                                + u32::from(o[1] - b'0') * 8
                                + u32::from(o[2] - b'0');
                            let Ok(v) = u8::try_from(v) else {
                                return Err(self.err_at(
                                    ErrorKind::Literal,
                                    esc_at,
                                    4,
                                    "octal escapes go up to \\377",
                                    None,
                                ));
                            };
                            out.push(v);
                            self.pos += 3;
                        }
                        other => {
                            let shown = other.map(|c| (c as char).to_string()).unwrap_or_default();
                            let hint = match other {
                                Some(b'n') => {
                                    "write \\x0a for a newline, or \\\\n for a backslash and n"
                                }
                                Some(b't') => "write \\x09 for a tab",
                                _ => {
                                    "escape only \\\" and \\\\ (or use \\xHH); for regexes and wildcards a raw string r\"…\" needs no escaping"
                                }
                            };
                            return Err(self.err_at(
                                ErrorKind::Literal,
                                esc_at,
                                2,
                                format!("unknown escape \\{shown} in a string"),
                                Some(hint.into()),
                            ));
                        }
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn lex_raw(&mut self) -> PResult<Vec<u8>> {
        let open = self.pos;
        self.pos += 1; // r
        let mut hashes = 0usize;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.pos += 1;
        }
        if hashes > 255 {
            return Err(self.err_at(
                ErrorKind::Literal,
                open,
                hashes + 1,
                "a raw string may use at most 255 #",
                None,
            ));
        }
        if self.peek() != Some(b'"') {
            return Err(self.err(
                ErrorKind::Syntax,
                "expected `\"` to start the raw string",
                Some("raw strings look like r\"…\" or r#\"…\"#".into()),
            ));
        }
        self.pos += 1;
        let body_start = self.pos;
        let mut close = vec![b'"'];
        close.extend(std::iter::repeat_n(b'#', hashes));
        let rest = &self.b[body_start..];
        match rest
            .windows(close.len())
            .position(|w| w == close.as_slice())
        {
            Some(i) => {
                self.pos = body_start + i + close.len();
                Ok(rest[..i].to_vec())
            }
            None => Err(self.err_at(
                ErrorKind::Syntax,
                open,
                1 + hashes + 1,
                "this raw string is never closed",
                Some(format!("end it with \"{}", "#".repeat(hashes))),
            )),
        }
    }

    /// The right side of `matches`: a raw string as is, or a quoted string under regex
    /// escaping (backslash pairs are kept for the regex engine; only `\"` is unescaped, and a
    /// `"` inside a `[…]` class does not end the literal). Returns the pattern and its offset.
    fn lex_regex_literal(&mut self) -> PResult<(String, usize)> {
        let at = self.pos;
        let bytes = match self.peek() {
            Some(b'r') if matches!(self.peek_at(1), Some(b'"' | b'#')) => self.lex_raw()?,
            Some(b'"') => {
                self.pos += 1;
                let mut out = Vec::new();
                let mut class_depth = 0usize;
                let mut class_fresh = false;
                loop {
                    let Some(c) = self.peek() else {
                        return Err(self.err_at(
                            ErrorKind::Syntax,
                            at,
                            1,
                            "this regex string is never closed",
                            Some("add the closing \" (or use a raw string r\"…\")".into()),
                        ));
                    };
                    self.pos += 1;
                    match c {
                        b'\\' => {
                            let Some(n) = self.peek() else { continue };
                            self.pos += 1;
                            if n == b'"' {
                                out.push(b'"');
                            } else {
                                out.push(b'\\');
                                out.push(n);
                            }
                        }
                        b'"' if class_depth == 0 => break,
                        b'[' => {
                            class_depth += 1;
                            class_fresh = true;
                            out.push(c);
                            if self.peek() == Some(b'^') {
                                out.push(b'^');
                                self.pos += 1;
                            }
                            continue;
                        }
                        b']' if class_depth > 0 && !class_fresh => {
                            class_depth -= 1;
                            out.push(c);
                        }
                        _ => out.push(c),
                    }
                    class_fresh = false;
                }
                out
            }
            Some(b'\'') => return Err(self.single_quote_error()),
            _ => {
                return Err(self.err(
                    ErrorKind::Literal,
                    format!(
                        "expected a regular expression in quotes, found {}",
                        self.describe_here()
                    ),
                    Some("for example: http.request.uri.path matches r\"^/api/v[0-9]+/\"".into()),
                ));
            }
        };
        let pat = String::from_utf8(bytes).map_err(|_| {
            self.err_at(
                ErrorKind::Regex,
                at,
                self.pos - at,
                "a regular expression must be valid UTF-8",
                None,
            )
        })?;
        Ok((pat, at))
    }

    fn compile_regex(&mut self, pat: &str, at: usize, len: usize) -> PResult<Regex> {
        self.add_regexes(1, at, len)?;
        build_regex(pat).map_err(|(kind, msg)| {
            self.err_at(
                kind,
                at,
                len,
                msg,
                Some("test it at https://rustexp.lpil.uk/ (Rust regex syntax)".into()),
            )
        })
    }

    fn add_regexes(&mut self, n: usize, at: usize, len: usize) -> PResult<()> {
        self.regexes += n;
        if self.regexes > MAX_REGEXES {
            return Err(self.err_at(
                ErrorKind::TooManyRegexes,
                at,
                len,
                format!("more than {MAX_REGEXES} regular expressions in one rule"),
                Some("split the rule, or combine patterns with | in one regex".into()),
            ));
        }
        Ok(())
    }

    fn lex_int(&mut self) -> PResult<i64> {
        let start = self.pos;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let digits_start = self.pos;
        let (radix, body_start) = if self.eat("0x") || self.eat("0X") {
            (16, self.pos)
        } else if self.peek() == Some(b'0') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            (8, self.pos + 1)
        } else {
            (10, self.pos)
        };
        self.pos = body_start;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        let body = &self.src[body_start..self.pos];
        if body.is_empty() {
            if self.pos == digits_start && self.peek() == Some(b'"') {
                return Err(self.err(
                    ErrorKind::Literal,
                    "expected an integer, found a string",
                    Some("integers are written without quotes: 443".into()),
                ));
            }
            if self.peek() == Some(b'\'') {
                return Err(self.single_quote_error());
            }
            self.pos = start;
            return Err(self.err(
                ErrorKind::Literal,
                format!("expected an integer, found {}", self.describe_here()),
                None,
            ));
        }
        let full = &self.src[start..self.pos];
        let parsed = i64::from_str_radix(body, radix)
            .ok()
            .and_then(|v| if neg { v.checked_neg() } else { Some(v) });
        // i64::MIN has no positive counterpart; parse it with its sign.
        let parsed = parsed.or_else(|| {
            if neg && radix == 10 {
                full.parse::<i64>().ok()
            } else {
                None
            }
        });
        match parsed {
            Some(v) => {
                if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                {
                    return Err(self.err_at(
                        ErrorKind::Literal,
                        start,
                        self.pos - start + 1,
                        "expected an integer; numbers with a fraction are not supported",
                        None,
                    ));
                }
                Ok(v)
            }
            None => {
                let what = if body.bytes().all(|c| c.is_ascii_digit())
                    && radix != 16
                    && (radix == 10 || body.bytes().all(|c| c < b'8'))
                {
                    "the integer does not fit in 64 bits"
                } else if radix == 8 {
                    "a number starting with 0 is octal and may only use digits 0-7"
                } else {
                    "not a valid integer"
                };
                Err(self.err_at(
                    ErrorKind::Literal,
                    start,
                    self.pos - start,
                    format!("{what}: `{full}`"),
                    None,
                ))
            }
        }
    }

    /// The run of address characters at `at` (`0-9a-fA-F:./`), which may be an IP, a CIDR or
    /// an IP range.
    fn ip_token_at(&self, at: usize) -> &'s str {
        let mut end = at;
        while self
            .b
            .get(end)
            .is_some_and(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.' || c == b'/')
        {
            end += 1;
        }
        self.src.get(at..end).unwrap_or("")
    }

    /// A single IP address on the right of `eq`…`ge`.
    fn lex_ip_scalar(&mut self, lhs_text: &str) -> PResult<IpAddr> {
        let at = self.pos;
        let tok = self.ip_token_at(at);
        if tok.is_empty() {
            if self.peek() == Some(b'"') {
                return Err(self.err(
                    ErrorKind::Literal,
                    "IP addresses are written without quotes",
                    Some("for example: ip.src eq 192.0.2.1".into()),
                ));
            }
            return Err(self.err(
                ErrorKind::Literal,
                format!("expected an IP address, found {}", self.describe_here()),
                None,
            ));
        }
        if tok.contains('/') || tok.contains("..") {
            let kind = if tok.contains('/') {
                "a CIDR"
            } else {
                "an IP range"
            };
            return Err(self.err_at(
                ErrorKind::Literal,
                at,
                tok.len(),
                format!("{kind} cannot be compared with ==; it only goes inside a set"),
                Some(format!(
                    "a CIDR only goes inside a set: {lhs_text} in {{{tok}}}"
                )),
            ));
        }
        match tok.parse::<IpAddr>() {
            Ok(ip) => {
                self.pos += tok.len();
                Ok(ip)
            }
            Err(_) => Err(self.err_at(
                ErrorKind::Literal,
                at,
                tok.len(),
                format!("`{tok}` is not a valid IP address"),
                None,
            )),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Cmp {
    Ord(OrdOp),
    Contains,
    Matches,
    Wildcard(bool),
    In,
    BitAnd,
}

impl Cmp {
    fn name(self) -> &'static str {
        match self {
            Cmp::Ord(o) => ord_name(o),
            Cmp::Contains => "contains",
            Cmp::Matches => "matches",
            Cmp::Wildcard(false) => "wildcard",
            Cmp::Wildcard(true) => "strict wildcard",
            Cmp::In => "in",
            Cmp::BitAnd => "bitwise_and",
        }
    }
}

pub(crate) fn ord_name(o: OrdOp) -> &'static str {
    match o {
        OrdOp::Eq => "eq",
        OrdOp::Ne => "ne",
        OrdOp::Lt => "lt",
        OrdOp::Le => "le",
        OrdOp::Gt => "gt",
        OrdOp::Ge => "ge",
    }
}

pub(crate) fn op_name(op: LogicOp) -> &'static str {
    match op {
        LogicOp::And => "and",
        LogicOp::Xor => "xor",
        LogicOp::Or => "or",
    }
}

fn prec_of(op: LogicOp) -> u8 {
    match op {
        LogicOp::Or => 1,
        LogicOp::Xor => 2,
        LogicOp::And => 3,
    }
}

/// Parenthesizes a nested logical expression. Any nesting of different operators is shown
/// with parentheses, even where precedence makes them optional, so the normalized form reads
/// unambiguously.
fn paren_if(c: &Cond, parent: u8) -> String {
    if c.prec < PREC_ATOM && c.prec != parent {
        format!("({})", c.text)
    } else {
        c.text.clone()
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

fn show_ty(v: &Typed) -> String {
    if v.mapped {
        format!("one {} per element ([*])", v.ty)
    } else {
        article(&v.ty)
    }
}

fn article(t: &Type) -> String {
    match t {
        Type::Int => "an Integer".into(),
        Type::Ip => "an IP address".into(),
        Type::Array(_) => format!("an {t}"),
        _ => format!("a {t}"),
    }
}

fn example_for(v: &Typed) -> String {
    let t = &v.text;
    match &v.ty {
        t2 if t2.is_bytes() => format!("{t} eq \"…\""),
        Type::Int => format!("{t} gt 10"),
        Type::Ip => format!("{t} in {{192.0.2.0/24}}"),
        Type::Map(_) => format!("any({t}[\"name\"][*] eq \"…\")"),
        Type::Array(_) => format!("any({t}[*] eq \"…\")"),
        _ => format!("{t} eq …"),
    }
}

fn type_hint(lhs: &Typed, op: &str) -> Option<String> {
    match (&lhs.ty, op) {
        (Type::Ip, "contains" | "matches" | "wildcard" | "strict wildcard") => Some(format!(
            "to test a network, use a set: {} in {{192.0.2.0/24}}",
            lhs.text
        )),
        (Type::Int, "contains" | "matches" | "wildcard" | "strict wildcard") => Some(format!(
            "compare numbers with eq, lt, gt… or a set: {} in {{80 443}}",
            lhs.text
        )),
        (Type::Bool, _) => Some(format!(
            "a Boolean is a condition by itself: {0} or not {0}",
            lhs.text
        )),
        _ => None,
    }
}

fn list_names(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("${n}")).collect();
    if names.len() > 10 {
        format!("{} … ({} in all)", shown.join(", "), names.len())
    } else {
        shown.join(", ")
    }
}

/// Compiles a regex the way Cloudflare's engine does: byte-oriented (Unicode classes only with
/// `(?u)`), within a 10 MiB compiled-size limit.
fn build_regex(pat: &str) -> Result<Regex, (ErrorKind, String)> {
    RegexBuilder::new(pat)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(2 * (1 << 20))
        .nest_limit(64)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(n) => (
                ErrorKind::Regex,
                format!("the regular expression is too big once compiled (limit {n} bytes)"),
            ),
            regex::Error::Syntax(s) => (
                ErrorKind::Regex,
                format!(
                    "invalid regular expression: {}",
                    s.lines()
                        .last()
                        .unwrap_or("syntax error")
                        .trim_start_matches("error: ")
                ),
            ),
            other => (
                ErrorKind::Regex,
                format!("invalid regular expression: {other}"),
            ),
        })
}

fn unreachable_operand() -> Operand {
    Operand::Cond(Cond {
        node: Node::Const(false),
        array: false,
        start: 0,
        end: 0,
        text: String::new(),
        prec: PREC_ATOM,
    })
}
