//! What the core answers: a [`Decision`] is either a [`Permit`] to forward or a [`Receipt`], plus
//! the trace of how it got there (for `doorman explain` and `doorman trace`).
//!
//! A denial is a value, not an error. A `Permit` can only be made inside this crate, so code that
//! forwards a request holds proof that the pipeline ran.

use std::borrow::Cow;

use crate::ratelimit::LimitCheck;
use crate::receipt::Receipt;

/// The phases, in the order they run. Later phases are added here and in [`crate::pipeline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseName {
    /// Matching the request to a route.
    Routing,
    /// Route-level access: closed routes and network allowlists.
    RouteAccess,
    /// IP access rules: by address, list, ASN or country.
    AccessRules,
    /// Custom firewall rules in the rules language.
    CustomRules,
    /// Rate limiting rules: counted per key, decided with the limiter's answer.
    RateLimit,
    /// The route's credential requirements: API keys, JWTs, scopes.
    Authorization,
    /// The proxy itself: limits, timeouts, origin failures (decided by the server, not the core).
    Proxy,
}

impl PhaseName {
    /// Every phase, in the order they run.
    pub const ALL: &'static [PhaseName] = &[
        PhaseName::Routing,
        PhaseName::RouteAccess,
        PhaseName::AccessRules,
        PhaseName::CustomRules,
        PhaseName::RateLimit,
        PhaseName::Authorization,
        PhaseName::Proxy,
    ];

    /// The phase's name in logs and events.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Routing => "routing",
            PhaseName::RouteAccess => "route_access",
            PhaseName::AccessRules => "access_rules",
            PhaseName::CustomRules => "custom_rules",
            PhaseName::RateLimit => "rate_limit",
            PhaseName::Authorization => "authorization",
            PhaseName::Proxy => "proxy",
        }
    }

    /// Parses [`PhaseName::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<PhaseName> {
        PhaseName::ALL.iter().copied().find(|p| p.as_str() == text)
    }
}

/// Proof that the pipeline allowed a request, and what the upstream should receive.
#[derive(Debug, Clone)]
pub struct Permit {
    route: usize,
    upstream: usize,
}

impl Permit {
    pub(crate) fn new(route: usize, upstream: usize) -> Self {
        Permit { route, upstream }
    }

    /// Index of the matched route in the policy.
    pub fn route(&self) -> usize {
        self.route
    }

    /// Index of the upstream to forward to.
    pub fn upstream(&self) -> usize {
        self.upstream
    }
}

/// Allow or deny.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Forward the request.
    Allow(Permit),
    /// Answer with the receipt.
    Deny(Box<Receipt>),
}

/// One phase's part in a decision, for the evaluation trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// Which phase.
    pub phase: PhaseName,
    /// What it concluded, in a sentence.
    pub outcome: Cow<'static, str>,
}

/// Why a match was recorded without acting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// The rule's action is `log`.
    Log,
    /// The rule is in shadow mode: the receipt says what it would have done.
    Shadow,
}

/// A match that was recorded but changed nothing.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Log or shadow.
    pub mode: LogMode,
    /// What the rule would have answered (for `log`, what it matched).
    pub receipt: Receipt,
}

/// Which kind of rule a [`RuleMatch`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// An IP access rule: `policy.firewall.access_rules[index]`.
    AccessRule,
    /// A custom firewall rule: `policy.firewall.rules.get(index)`.
    CustomRule,
    /// A rate limiting rule: `policy.rate_limits.get(index)`, or the API key's own limit when
    /// the index is [`KEY_LIMIT`](crate::ratelimit::KEY_LIMIT).
    RateLimit,
}

impl RuleKind {
    /// The spelling in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::AccessRule => "access_rule",
            RuleKind::CustomRule => "custom_rule",
            RuleKind::RateLimit => "rate_limit",
        }
    }
}

/// What a matching rule did to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchAction {
    /// Denied it.
    Block,
    /// Asked for a challenge.
    Challenge,
    /// Would have asked for a challenge, but the client's clearance cookie was valid.
    Cleared,
    /// Let it pass, skipping the later security phases.
    Allow,
    /// Skipped the remaining custom rules (and the phases the rule names).
    Skip,
    /// Recorded it (`action = "log"`, or a rate limit in log mode that was exceeded).
    Log,
    /// Recorded what it would have done (shadow mode).
    Shadow,
    /// An access rule that matched while another one decided: an `allow` over blocks, a more
    /// specific block over a less specific one, or the first of several allows.
    Overridden,
}

impl MatchAction {
    /// Every action, in the order of [`MatchAction::index`].
    pub const ALL: [MatchAction; 8] = [
        MatchAction::Block,
        MatchAction::Challenge,
        MatchAction::Cleared,
        MatchAction::Allow,
        MatchAction::Skip,
        MatchAction::Log,
        MatchAction::Shadow,
        MatchAction::Overridden,
    ];

    /// The spelling in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchAction::Block => "block",
            MatchAction::Challenge => "challenge",
            MatchAction::Cleared => "cleared",
            MatchAction::Allow => "allow",
            MatchAction::Skip => "skip",
            MatchAction::Log => "log",
            MatchAction::Shadow => "shadow",
            MatchAction::Overridden => "overridden",
        }
    }

    /// The position in [`MatchAction::ALL`], for tables indexed by action.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One rule that matched a request, and what it did. Indices rather than ids, so that the
/// server can count a match with a handle it prepared per configuration snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMatch {
    /// Access rule, custom rule or rate limit.
    pub kind: RuleKind,
    /// The rule's position in its list in the policy (see [`RuleKind`]).
    pub index: usize,
    /// What it did.
    pub action: MatchAction,
}

/// The core's answer for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Allow or deny.
    pub verdict: Verdict,
    /// The matched route's index, when one matched.
    pub route: Option<usize>,
    /// How the phases concluded, in order.
    pub trace: Vec<TraceStep>,
    /// Log and shadow matches, to be recorded whatever the verdict.
    pub logged: Vec<Logged>,
    /// Every rule that matched, in the order they were evaluated, with what each did: access
    /// and custom rules from `decide`, exceeded rate limits from
    /// [`finish_limits`](crate::pipeline::finish_limits). Log and shadow matches included.
    pub matched: Vec<RuleMatch>,
    /// Rate limit counters this request must be checked against before it may pass (only when
    /// allowed so far). The server asks its limiter and calls
    /// [`finish_limits`](crate::pipeline::finish_limits); until then the verdict is provisional.
    pub limits: Vec<LimitCheck>,
    /// Headers for the response if the request passes (`RateLimit-Policy`, `RateLimit`).
    pub response_headers: Vec<(String, String)>,
    /// The verified identity to tell the upstream about (identity headers), if any.
    pub identity: Option<crate::auth::Identity>,
    /// Remove the client's credential before forwarding (the route checked it and does not
    /// keep it).
    pub strip_credentials: bool,
}

impl Decision {
    /// The receipt, if the request was denied.
    pub fn receipt(&self) -> Option<&Receipt> {
        match &self.verdict {
            Verdict::Deny(r) => Some(r),
            Verdict::Allow(_) => None,
        }
    }
}
