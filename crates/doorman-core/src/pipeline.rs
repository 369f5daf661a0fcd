//! The phase pipeline: runs the phases in their fixed order over one request's facts.
//!
//! Order (DESIGN.md §1): routing → route access → IP access rules → custom firewall rules →
//! (later: rate limiting → bot checks / challenge → authorization) → proxy. Each phase may end the
//! request with a receipt, let it continue, or allow it outright (skipping the later security
//! phases). Adding a phase means adding a function here and a [`PhaseName`]; the server does not
//! change.

use std::borrow::Cow;
use std::time::Duration;

use doorman_common::when::{UnitNames, duration_words, human_utc, unix_ms};
use doorman_rules::{EvalContext, MatchedCondition};

use crate::auth::{AuthFacts, AuthMethod, www_authenticate};
use crate::canonical::{AmbiguousPaths, UpgradeRequest, upgrade_request};
use crate::clearance::ClearanceFacts;
use crate::code::Code;
use crate::decision::{
    Decision, LogMode, Logged, MatchAction, Permit, PhaseName, RuleKind, RuleMatch, TraceStep,
    Verdict,
};
use crate::facts::RequestFacts;
use crate::fields::{ClientIpFacts, RequestFields};
use crate::firewall::{
    AccessAction, AccessRule, AccessTarget, CustomRule, IpClass, RuleAction, rule_matches,
};
use crate::policy::{Notice, Policy, Route};
use crate::ratelimit::{
    KEY_LIMIT, LimitAction, LimitCheck, LimitOutcome, RateLimitRule, header_values, key_for,
    key_limit_rule, rule_for,
};
use crate::receipt::Receipt;
use crate::words::{country_words, flag_in_words, network_words, seen_in_words};

/// How a security phase ended.
enum Flow {
    /// On to the next phase.
    Continue,
    /// Allowed: skip every later security phase.
    AllowAll,
    /// Denied with this receipt.
    Deny(Box<Receipt>),
}

/// What the firewall phases note besides their verdict.
#[derive(Default)]
struct Found {
    /// Matches recorded without acting ([`Decision::logged`]).
    logged: Vec<Logged>,
    /// Every match with what it did ([`Decision::matched`]).
    matched: Vec<RuleMatch>,
}

/// Decides what happens to one request. Pure: the same facts and policy always give the same
/// decision.
pub fn decide(facts: &RequestFacts<'_>, policy: &Policy) -> Decision {
    let mut trace = Vec::with_capacity(4);
    let mut found = Found::default();

    let Some(route_idx) = policy.route_for(&facts.host, facts.path()) else {
        trace.push(TraceStep {
            phase: PhaseName::Routing,
            outcome: Cow::Owned(format!(
                "no route for host `{}` and path `{}`",
                facts.host,
                facts.path()
            )),
        });
        return Decision {
            verdict: Verdict::Deny(Box::new(no_route(facts, policy))),
            route: None,
            trace,
            logged: Vec::new(),
            matched: Vec::new(),
            limits: Vec::new(),
            response_headers: Vec::new(),
            identity: None,
            strip_credentials: false,
        };
    };
    let route = &policy.routes[route_idx];
    trace.push(TraceStep {
        phase: PhaseName::Routing,
        outcome: Cow::Owned(format!("matched route `{}`", route.name)),
    });
    let deny = |receipt: Receipt, trace, found: Found| Decision {
        verdict: Verdict::Deny(Box::new(receipt)),
        route: Some(route_idx),
        trace,
        logged: found.logged,
        matched: found.matched,
        limits: Vec::new(),
        response_headers: Vec::new(),
        identity: None,
        strip_credentials: false,
    };

    if let Some(receipt) = route_access(facts, policy, route, &mut trace) {
        return deny(receipt, trace, found);
    }

    let ip = ClientIpFacts::new(facts.client_ip, &policy.firewall);
    let fields = RequestFields::new(facts, &ip, Some(route.name.as_str()));
    let ctx = EvalContext::new(&fields);
    let mut skip_rate_limit = false;
    let mut flow = access_rules(facts, policy, &ip, &mut trace, &mut found);
    if let Flow::Continue = flow {
        flow = custom_rules(
            facts,
            policy,
            &ip,
            &ctx,
            &mut trace,
            &mut found,
            &mut skip_rate_limit,
        );
    }
    if let Flow::Deny(receipt) = flow {
        return deny(*receipt, trace, found);
    }
    let limits = if matches!(flow, Flow::Continue) && !skip_rate_limit {
        rate_limit_checks(policy, facts.auth, &ip, &ctx, &mut trace)
    } else {
        if skip_rate_limit && !policy.rate_limits.is_empty() {
            trace.push(TraceStep {
                phase: PhaseName::RateLimit,
                outcome: Cow::Borrowed("skipped by a custom rule"),
            });
        }
        Vec::new()
    };

    let mut decision = Decision {
        verdict: Verdict::Allow(Permit::new(route_idx, route.upstream)),
        route: Some(route_idx),
        trace,
        logged: found.logged,
        matched: found.matched,
        limits,
        response_headers: Vec::new(),
        identity: facts.auth.identity().cloned(),
        strip_credentials: false,
    };
    // An `allow` rule skips the filtering phases, never the route's own credential requirement.
    if decision.limits.is_empty() {
        authorize(facts, policy, &mut decision);
    }
    decision
}

/// The authorization phase: the route's credential requirements, checked against what the
/// server found. Runs after rate limiting (from [`finish_limits`] when there were counters), so
/// a flood of bad credentials is counted before it is refused.
fn authorize(facts: &RequestFacts<'_>, policy: &Policy, decision: &mut Decision) {
    let Some(route) = decision.route.map(|i| &policy.routes[i]) else {
        return;
    };
    let Some(required) = &route.access.auth else {
        return;
    };
    decision.strip_credentials = !required.keep_credentials;
    let realm = &policy.auth.realm;
    let deny = |decision: &mut Decision, outcome: String, r: Receipt| {
        decision.trace.push(TraceStep {
            phase: PhaseName::Authorization,
            outcome: Cow::Owned(outcome),
        });
        decision.verdict = Verdict::Deny(Box::new(r));
    };
    // The route's path, which the person typed, rather than its internal name.
    let route_words = if route.path_prefix == "/" {
        "This site".to_string()
    } else {
        format!("This part of the site ({})", route.path_prefix)
    };
    let methods_words = policy.auth.methods_words(required);
    match facts.auth {
        AuthFacts::None => {
            let mut r = receipt_for(facts, policy, Code::KeyMissing, PhaseName::Authorization)
                .reason(format!(
                    "{route_words} needs {methods_words}, and the request carried none."
                ))
                .rule(format!("route:{}", route.name));
            let header_hint = match &policy.auth.key_header {
                Some(h) => format!(" (or in the header `{h}: <key>`)"),
                None => String::new(),
            };
            r.remedies.push(format!(
                "Send your credential in the header `Authorization: Bearer <key or token>`{header_hint}."
            ));
            r.remedies
                .push("If you have none, ask the site's support how to get one.".into());
            // For the operator, in `doorman explain`; never on the page.
            r.private_facts.push((
                "operator hint".into(),
                "API keys are created with `doorman keys create`".into(),
            ));
            r.headers.push((
                "www-authenticate".into(),
                www_authenticate(realm, None, None, None),
            ));
            deny(decision, "no credential sent".into(), r);
        }
        AuthFacts::Rejected(failure) => {
            let mut r = receipt_for(facts, policy, failure.code, PhaseName::Authorization)
                .reason(failure.reason.clone())
                .rule(format!("route:{}", route.name));
            r.facts.extend(failure.facts.iter().cloned());
            r.remedies.push(failure.remedy.clone());
            if failure.code == Code::TokenKeysUnavailable {
                r.retry_after_s = Some(5);
            } else {
                r.headers.push((
                    "www-authenticate".into(),
                    www_authenticate(
                        realm,
                        Some("invalid_token"),
                        Some(&failure.description),
                        None,
                    ),
                ));
            }
            deny(
                decision,
                format!("credential rejected: {}", failure.code.as_str()),
                r,
            );
        }
        AuthFacts::Verified(identity) => {
            if !required.methods.contains(&identity.method) {
                let description = format!(
                    "this route accepts {}",
                    required
                        .methods
                        .iter()
                        .map(AuthMethod::spec)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut r = receipt_for(
                    facts,
                    policy,
                    Code::CredentialNotAccepted,
                    PhaseName::Authorization,
                )
                .reason(format!(
                    "Your credential ({}) is valid, but {} needs {}.",
                    policy.auth.method_words(&identity.method),
                    lower_first(&route_words),
                    methods_words
                ))
                .rule(format!("route:{}", route.name))
                .fact("credential", identity.display.clone());
                r.remedies.push(format!("Send {methods_words} instead."));
                r.headers.push((
                    "www-authenticate".into(),
                    www_authenticate(realm, Some("invalid_token"), Some(&description), None),
                ));
                deny(decision, description, r);
                return;
            }
            let missing: Vec<&String> = required
                .scopes
                .iter()
                .filter(|s| !identity.scopes.contains(s))
                .collect();
            if !missing.is_empty() {
                let needed = required.scopes.join(" ");
                let granted = if identity.scopes.is_empty() {
                    "(none)".to_string()
                } else {
                    identity.scopes.join(" ")
                };
                let missing_words = missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut r = receipt_for(
                    facts,
                    policy,
                    Code::InsufficientScope,
                    PhaseName::Authorization,
                )
                .reason(format!(
                    "Your credential {} is valid but lacks the scope {missing_words}, which {} requires.",
                    identity.display,
                    lower_first(&route_words)
                ))
                .rule(format!("route:{}", route.name))
                .fact("credential", identity.display.clone())
                .fact("scopes required", needed.clone())
                .fact("scopes granted", granted);
                r.remedies.push(format!(
                    "Ask the site's operator for a key or token with the scope {missing_words}."
                ));
                r.headers.push((
                    "www-authenticate".into(),
                    www_authenticate(
                        realm,
                        Some("insufficient_scope"),
                        Some(&format!("requires scope {missing_words}")),
                        Some(&needed),
                    ),
                ));
                deny(decision, format!("missing scope {missing_words}"), r);
                return;
            }
            decision.trace.push(TraceStep {
                phase: PhaseName::Authorization,
                outcome: Cow::Owned(format!(
                    "{} {} accepted",
                    identity.method.spec(),
                    identity.display
                )),
            });
        }
    }
}

/// The counters of every rate limiting rule whose expression matches this request.
fn rate_limit_checks(
    policy: &Policy,
    auth: &crate::auth::AuthFacts,
    ip: &ClientIpFacts<'_>,
    ctx: &EvalContext<'_>,
    trace: &mut Vec<TraceStep>,
) -> Vec<LimitCheck> {
    let mut checks = Vec::new();
    for (i, (rule, expr)) in policy.rate_limits.iter().enumerate() {
        if !expr.matches(ctx) {
            continue;
        }
        let key = key_for(rule, ctx, ip, auth);
        trace.push(TraceStep {
            phase: PhaseName::RateLimit,
            outcome: Cow::Owned(format!(
                "rate limit `{}` ({}) counts this request per {} {}{}",
                rule.id,
                rule.quota_words(),
                key.kind,
                key.shown,
                if rule.counting.is_some() {
                    " (only matching responses count)"
                } else {
                    ""
                }
            )),
        });
        checks.push(LimitCheck {
            rule: i,
            rule_id: rule.id.clone(),
            key,
            spend: rule.counting.is_none(),
        });
    }
    if let Some((requests, period)) = auth.identity().and_then(|i| i.rate_limit) {
        let rule = key_limit_rule(requests, period);
        let key = key_for(&rule, ctx, ip, auth);
        trace.push(TraceStep {
            phase: PhaseName::RateLimit,
            outcome: Cow::Owned(format!(
                "the API key's own limit ({}) counts this request",
                rule.quota_words()
            )),
        });
        checks.push(LimitCheck {
            rule: KEY_LIMIT,
            rule_id: rule.id.clone(),
            key,
            spend: true,
        });
    }
    if checks.is_empty() && !policy.rate_limits.is_empty() {
        trace.push(TraceStep {
            phase: PhaseName::RateLimit,
            outcome: Cow::Owned(format!(
                "{} rate limits, none applies",
                policy.rate_limits.len()
            )),
        });
    }
    checks
}

/// Completes a decision with the limiter's answers to its [`Decision::limits`], in order: the
/// first enforced rule over its limit denies (429, or a challenge); `log` rules over the limit
/// are recorded; allowed requests get the `RateLimit` headers of the rule closest to its limit.
pub fn finish_limits(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    decision: &mut Decision,
    outcomes: &[LimitOutcome],
) {
    if !matches!(decision.verdict, Verdict::Allow(_)) {
        return;
    }
    // (remaining, headers) of the allowed rule with the fewest units left.
    let mut tightest: Option<(u32, [(String, String); 2])> = None;
    for (check, outcome) in decision.limits.iter().zip(outcomes) {
        let Some(rule) = rule_for(policy, check, facts.auth) else {
            continue;
        };
        let rule = rule.as_ref();
        let LimitOutcome::Checked {
            allowed,
            remaining,
            reset_after_ms,
            retry_after_ms,
            blocked,
        } = *outcome
        else {
            decision.trace.push(TraceStep {
                phase: PhaseName::RateLimit,
                outcome: Cow::Owned(format!(
                    "rate limit `{}`: the shared limiter is unreachable (fail mode closed)",
                    rule.id
                )),
            });
            decision.verdict = Verdict::Deny(Box::new(limiter_unavailable(facts, policy, rule)));
            return;
        };
        // A counting rule only looks: it is over when no unit is left.
        let over = !allowed || (!check.spend && remaining == 0);
        if !over {
            if rule.response_headers && tightest.as_ref().is_none_or(|(r, _)| remaining < *r) {
                tightest = Some((remaining, header_values(rule, remaining, reset_after_ms)));
            }
            continue;
        }
        let wait_ms = retry_after_ms.or(if over && allowed {
            // A look-only check that found no unit left: the next unit frees up by the reset.
            Some(reset_after_ms)
        } else {
            None
        });
        decision.trace.push(TraceStep {
            phase: PhaseName::RateLimit,
            outcome: Cow::Owned(format!(
                "rate limit `{}` exceeded by {} {}{} ({})",
                rule.id,
                check.key.kind,
                check.key.shown,
                if blocked { ", key blocked" } else { "" },
                rule.action.as_str()
            )),
        });
        let receipt = limit_receipt(facts, policy, rule, check, wait_ms, blocked, reset_after_ms);
        let cleared = rule.action == LimitAction::Challenge && facts.clearance.is_valid();
        decision.matched.push(RuleMatch {
            kind: RuleKind::RateLimit,
            index: check.rule,
            action: match rule.action {
                LimitAction::Log => MatchAction::Log,
                LimitAction::Challenge if cleared => MatchAction::Cleared,
                LimitAction::Challenge => MatchAction::Challenge,
                LimitAction::Block => MatchAction::Block,
            },
        });
        if rule.action == LimitAction::Log {
            decision.logged.push(Logged {
                mode: LogMode::Log,
                receipt,
            });
            continue;
        }
        if cleared {
            decision.trace.push(TraceStep {
                phase: PhaseName::RateLimit,
                outcome: Cow::Owned(format!(
                    "rate limit `{}` asks for a challenge; the clearance cookie is valid",
                    rule.id
                )),
            });
            continue;
        }
        decision.verdict = Verdict::Deny(Box::new(receipt));
        return;
    }
    if let Some((_, headers)) = tightest {
        decision.response_headers.extend(headers);
    }
    authorize(facts, policy, decision);
}

fn limiter_unavailable(facts: &RequestFacts<'_>, policy: &Policy, rule: &RateLimitRule) -> Receipt {
    let mut r = receipt_for(facts, policy, Code::LimiterUnavailable, PhaseName::RateLimit)
        .reason("This site counts requests in a shared rate limiter that cannot be reached right now, and it is set to refuse requests rather than let them through uncounted. The fault is on the site's side, not yours.")
        .remedy("Try again in a few seconds.")
        .remedy("If this lasts, tell the site's support and include the Ray ID below.")
        .rule(format!("rate_limit:{}", rule.id));
    r.retry_after_s = Some(5);
    r
}

fn limit_receipt(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    rule: &RateLimitRule,
    check: &LimitCheck,
    wait_ms: Option<u64>,
    blocked: bool,
    reset_after_ms: u64,
) -> Receipt {
    let code = crate::ratelimit::denial_code(rule);
    let key = &check.key;
    let who = format!("your {} {}", key.kind, key.shown);
    // What was counted, in words: never the counting expression itself.
    let counted_words = rule
        .counting
        .as_ref()
        .map(|expr| counting_words(expr.normalized(), rule.description.as_deref()));
    let mut reason = match &counted_words {
        Some(counted) => format!(
            "There were too many {counted} from {who}: this site allows {}.",
            rule.quota_words()
        ),
        None => format!(
            "Too many requests from {who}: this site allows {}, counted per {}.",
            rule.quota_words(),
            key.kind
        ),
    };
    let until = wait_ms.map(|ms| facts.now + Duration::from_millis(ms));
    match (until, wait_ms) {
        (Some(t), Some(ms)) => {
            let wait = duration_words(
                Duration::from_millis(ms.max(1000).div_ceil(1000) * 1000),
                UnitNames::Long,
            );
            if blocked {
                reason.push_str(&format!(
                    " Requests from {who} are paused until {} (in {wait}).",
                    human_utc(unix_ms(t))
                ));
            } else {
                reason.push_str(&format!(
                    " You can send the next request at {} (in {wait}).",
                    human_utc(unix_ms(t))
                ));
            }
        }
        _ => reason.push_str(" This request costs more than the whole limit and can never pass."),
    }
    let limit = match &rule.description {
        Some(d) => format!("{d}: {}", rule.quota_words()),
        None => rule.quota_words(),
    };
    let mut r = receipt_for(facts, policy, code, PhaseName::RateLimit)
        .reason(reason)
        .rule(format!("rate_limit:{}", rule.id))
        .fact("Limit", limit)
        .fact("Counted per", format!("{} {}", key.kind, key.shown));
    // The title says what happened; the limit's own name is a fact above.
    r.title = counted_words.map(|counted| format!("Too many {counted}"));
    r.disclosure = rule.disclosure;
    r.retry_after_s = wait_ms.map(|ms| ms.div_ceil(1000).max(1));
    r.headers.extend(header_values(
        rule,
        0,
        reset_after_ms.max(wait_ms.unwrap_or(0)),
    ));
    r.private_facts
        .push(("key hash".to_string(), format!("{:016x}", key.hash)));
    if until.is_some() {
        r.remedies.push(
            "Wait until then before trying again; programs that honour the Retry-After header do this by themselves."
                .to_string(),
        );
    }
    if rule.counting.is_none() {
        r.remedies
            .push(format!("Slow down to at most {}.", rule.quota_words()));
    }
    if key.ip_fallback {
        r.remedies.push("If others share your address (an office, a mobile network, a VPN), their requests count too: sending your API key gives you a budget of your own.".to_string());
    }
    if let Some(note) = &rule.note {
        r.remedies.push(note.clone());
    }
    if code == Code::Challenge {
        r = challenge_words(r, facts);
    }
    r.remedy("If you think this is a mistake, send the Ray ID below to the site's support.")
}

/// What a counting expression counts, in words a person knows: "failed sign-ins" for 401/403,
/// "requests for pages that don't exist" for 404… Else the rule's description, else a general
/// phrase. The expression itself is never shown to a visitor.
fn counting_words(normalized: &str, description: Option<&str>) -> String {
    let mut codes: Vec<u16> = Vec::new();
    for (at, _) in normalized.match_indices("http.response.code") {
        let rest = &normalized[at + "http.response.code".len()..];
        // The literals of this comparison: up to the next `and`/`or`, or the end.
        let end = [rest.find(" and "), rest.find(" or ")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        codes.extend(
            rest[..end]
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u16>().ok())
                .filter(|n| (100..600).contains(n)),
        );
    }
    let all = |f: fn(u16) -> bool| !codes.is_empty() && codes.iter().all(|&c| f(c));
    let words = if all(|c| c == 401 || c == 403) {
        Some("failed sign-ins")
    } else if all(|c| c == 404 || c == 410) {
        Some("requests for pages that don't exist")
    } else if all(|c| c == 429) {
        Some("requests that were turned away for going too fast")
    } else if all(|c| (500..600).contains(&c)) {
        Some("requests that ended in an error on the site")
    } else if all(|c| (400..500).contains(&c)) {
        Some("rejected requests")
    } else {
        None
    };
    match (words, description) {
        (Some(w), _) => w.to_string(),
        (None, Some(d)) => format!("\u{201c}{d}\u{201d} responses"),
        (None, None) => "responses of a kind this site counts".to_string(),
    }
}

/// "This part…" → "this part…", leaving the rest (a path) as written.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Starts a receipt for this request with the site's support line filled in.
pub fn receipt_for(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    code: Code,
    phase: PhaseName,
) -> Receipt {
    let mut r = Receipt::new(
        facts.ray_id.clone(),
        facts.now,
        facts.client_ip,
        code,
        phase,
    );
    policy.site.fill(&mut r, &facts.host);
    r
}

fn no_route(facts: &RequestFacts<'_>, policy: &Policy) -> Receipt {
    let host = if facts.host.is_empty() {
        "(no host)"
    } else {
        &facts.host
    };
    let mut r = receipt_for(facts, policy, Code::NoRoute, PhaseName::Routing).reason(format!(
        "Nothing is published at {} on {host}.",
        facts.path()
    ));
    if let Some(better) = policy.did_you_mean(&facts.host, facts.path()) {
        r.reason.push_str(&format!(" Did you mean {better}?"));
        r.remedies.push(format!("Try {better} instead."));
    }
    r.remedy("Check the address for typos: the host name and the first part of the path must match a published service.")
        .remedy("If you followed a link from this site, tell the site's support which link it was.")
        .fact("Site", host)
        .fact("Path", facts.path())
}

/// What a route says about the form of the request: an ambiguous path (refused unless the route
/// passes such paths raw) and a WebSocket upgrade (refused unless the route tunnels them).
fn route_request_form(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    route: &Route,
    trace: &mut Vec<TraceStep>,
) -> Option<Receipt> {
    if let Some(problem) = facts.path_problem {
        if route.ambiguous_paths == AmbiguousPaths::PassRaw {
            trace.push(TraceStep {
                phase: PhaseName::RouteAccess,
                outcome: Cow::Owned(format!(
                    "path has {}; route `{}` passes such paths as received",
                    problem.words(),
                    route.name
                )),
            });
        } else {
            trace.push(TraceStep {
                phase: PhaseName::RouteAccess,
                outcome: Cow::Owned(format!("path refused: it has {}", problem.words())),
            });
            let raw = facts.uri.path();
            return Some(
                receipt_for(facts, policy, Code::PathAmbiguous, PhaseName::RouteAccess)
                    .reason(format!(
                        "The address's path contains {}. Servers disagree on what that means, so the gateway does not pass it on.",
                        problem.words()
                    ))
                    .remedy("If you typed or built this address, write the path plainly: use / between parts and no encoded separators.")
                    .remedy("If a link on this site led here, tell the site's support which link it was.")
                    .rule(format!("route:{}", route.name))
                    .fact("Path as sent", raw),
            );
        }
    }
    if !route.websocket
        && upgrade_request(facts.headers, facts.version) == Some(UpgradeRequest::WebSocket)
    {
        trace.push(TraceStep {
            phase: PhaseName::RouteAccess,
            outcome: Cow::Owned(format!(
                "route `{}` does not tunnel WebSocket connections",
                route.name
            )),
        });
        return Some(
            receipt_for(facts, policy, Code::UpgradeNotAllowed, PhaseName::RouteAccess)
                .reason("This address does not accept WebSocket connections.")
                .remedy("Use the address the site documents for live connections, or a plain HTTP request here.")
                .rule(format!("route:{}", route.name))
                .fact("Path", facts.path()),
        );
    }
    None
}

fn route_access(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    route: &Route,
    trace: &mut Vec<TraceStep>,
) -> Option<Receipt> {
    if let Some(notice) = &route.access.closed {
        trace.push(TraceStep {
            phase: PhaseName::RouteAccess,
            outcome: Cow::Owned(format!("route `{}` is closed", route.name)),
        });
        let mut r = receipt_for(facts, policy, Code::RouteClosed, PhaseName::RouteAccess)
            .rule(format!("route:{}", route.name));
        r.private_facts
            .push(("doorman.route".into(), route.name.clone()));
        return Some(with_notice(r, notice));
    }
    if let Some(receipt) = route_request_form(facts, policy, route, trace) {
        return Some(receipt);
    }
    if let Some(gate) = &route.access.allow_networks {
        if gate.networks.iter().any(|n| n.contains(&facts.client_ip)) {
            trace.push(TraceStep {
                phase: PhaseName::RouteAccess,
                outcome: Cow::Borrowed("client network is on the route's allowlist"),
            });
            return None;
        }
        trace.push(TraceStep {
            phase: PhaseName::RouteAccess,
            outcome: Cow::Owned(format!(
                "client IP {} is outside the allowlist of route `{}`",
                facts.client_ip, route.name
            )),
        });
        let allowed = gate
            .networks
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mut r = receipt_for(
            facts,
            policy,
            Code::NetworkNotAllowed,
            PhaseName::RouteAccess,
        )
        .rule(format!("route:{}", route.name));
        // Which networks are let in is the operator's business, not the public's.
        r.private_facts
            .push(("ip.src".into(), facts.client_ip.to_string()));
        r.private_facts.push(("allowed networks".into(), allowed));
        return Some(with_notice(r, &gate.notice));
    }
    trace.push(TraceStep {
        phase: PhaseName::RouteAccess,
        outcome: Cow::Borrowed("route is open"),
    });
    None
}

fn access_target_matches(rule: &AccessRule, ip: &ClientIpFacts<'_>, policy: &Policy) -> bool {
    match &rule.target {
        AccessTarget::Ips { set, .. } => set.contains(ip.ip()),
        AccessTarget::List(i) => {
            let list = &policy.firewall.lists[*i];
            list.contains_ip(ip.ip()) || ip.info().asn.is_some_and(|asn| list.contains_asn(asn))
        }
        AccessTarget::Asn(asn) => ip.info().asn == Some(*asn),
        AccessTarget::Country(code) => ip
            .info()
            .country
            .as_deref()
            .unwrap_or("XX")
            .eq_ignore_ascii_case(code),
    }
}

fn access_rules(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    ip: &ClientIpFacts<'_>,
    trace: &mut Vec<TraceStep>,
    found: &mut Found,
) -> Flow {
    let rules = &policy.firewall.access_rules;
    if rules.is_empty() {
        return Flow::Continue;
    }
    let mut allow: Option<(usize, &AccessRule)> = None;
    let mut deny: Option<(usize, &AccessRule)> = None;
    // Matches of enforced rules are noted with their own action until the winner is known.
    let first_match = found.matched.len();
    for (index, rule) in rules.iter().enumerate() {
        if !access_target_matches(rule, ip, policy) {
            continue;
        }
        let hit = |action| RuleMatch {
            kind: RuleKind::AccessRule,
            index,
            action,
        };
        if rule.shadow || rule.action == AccessAction::Log {
            let mode = if rule.shadow {
                LogMode::Shadow
            } else {
                LogMode::Log
            };
            trace.push(TraceStep {
                phase: PhaseName::AccessRules,
                outcome: Cow::Owned(format!(
                    "access rule `{}` matched ({}, not enforced)",
                    rule.id,
                    mode_word(mode)
                )),
            });
            found.matched.push(hit(match mode {
                LogMode::Log => MatchAction::Log,
                LogMode::Shadow => MatchAction::Shadow,
            }));
            found.logged.push(Logged {
                mode,
                receipt: access_receipt(facts, policy, ip, rule),
            });
            continue;
        }
        if rule.action == AccessAction::Challenge && facts.clearance.is_valid() {
            found.matched.push(hit(MatchAction::Cleared));
            trace.push(TraceStep {
                phase: PhaseName::AccessRules,
                outcome: Cow::Owned(format!(
                    "access rule `{}` asks for a challenge; the clearance cookie is valid",
                    rule.id
                )),
            });
            continue;
        }
        match rule.action {
            AccessAction::Allow => {
                allow.get_or_insert((index, rule));
                found.matched.push(hit(MatchAction::Allow));
            }
            AccessAction::Block | AccessAction::Challenge => {
                if deny.is_none_or(|(_, d)| rule.target.specificity() < d.target.specificity()) {
                    deny = Some((index, rule));
                }
                found
                    .matched
                    .push(hit(if rule.action == AccessAction::Block {
                        MatchAction::Block
                    } else {
                        MatchAction::Challenge
                    }));
            }
            AccessAction::Log => {}
        }
    }
    let winner = allow.or(deny).map(|(index, _)| index);
    for m in &mut found.matched[first_match..] {
        let enforced = matches!(
            m.action,
            MatchAction::Allow | MatchAction::Block | MatchAction::Challenge
        );
        if enforced && Some(m.index) != winner {
            m.action = MatchAction::Overridden;
        }
    }
    if let Some((_, rule)) = allow {
        trace.push(TraceStep {
            phase: PhaseName::AccessRules,
            outcome: Cow::Owned(format!(
                "access rule `{}` allows {}; later security phases are skipped",
                rule.id,
                ip.ip()
            )),
        });
        return Flow::AllowAll;
    }
    if let Some((_, rule)) = deny {
        trace.push(TraceStep {
            phase: PhaseName::AccessRules,
            outcome: Cow::Owned(format!(
                "access rule `{}` matched: {}",
                rule.id,
                target_words(rule, policy)
            )),
        });
        return Flow::Deny(Box::new(access_receipt(facts, policy, ip, rule)));
    }
    trace.push(TraceStep {
        phase: PhaseName::AccessRules,
        outcome: Cow::Owned(format!("{} access rules, none matched", rules.len())),
    });
    Flow::Continue
}

fn mode_word(mode: LogMode) -> &'static str {
    match mode {
        LogMode::Log => "log only",
        LogMode::Shadow => "shadow mode",
    }
}

fn target_words(rule: &AccessRule, policy: &Policy) -> String {
    match &rule.target {
        AccessTarget::Ips { written, .. } => format!("IP {written}"),
        AccessTarget::List(i) => format!("list `{}`", policy.firewall.lists[*i].name),
        AccessTarget::Asn(asn) => format!("AS{asn}"),
        AccessTarget::Country(c) => format!("country {c}"),
    }
}

/// Adds what a classification list says about the client's network, if it says anything.
fn explain_class(mut r: Receipt, ip: &ClientIpFacts<'_>) -> Receipt {
    for class in [IpClass::Vpn, IpClass::Tor, IpClass::Proxy, IpClass::Hosting] {
        if let Some(list) = ip.class(class) {
            let via = network_words(ip)
                .map(|n| format!(" through {n}"))
                .unwrap_or_default();
            r.reason.push_str(&format!(
                " You appear to connect{via}, which the list {} names as {}.",
                list.cited(),
                class.described()
            ));
            r.remedies.insert(0, class.remedy().to_string());
            if let Some(fact) = flag_in_words(&format!("doorman.ip.{}", class.as_str()), ip)
                && !r.facts.contains(&fact)
            {
                r.facts.push(fact);
            }
            break;
        }
    }
    r
}

/// The client's network and country in words (its IP is on every receipt already), and the
/// raw fields for `doorman explain`.
fn ip_facts(mut r: Receipt, ip: &ClientIpFacts<'_>) -> Receipt {
    r.private_facts.push(("ip.src".into(), ip.ip().to_string()));
    if let Some(n) = network_words(ip) {
        r.private_facts.push(("ip.src.asnum".into(), n.clone()));
        r.facts.push(("Network".into(), n));
    }
    if let Some(c) = country_words(ip) {
        if let Some(code) = &ip.info().country {
            r.private_facts
                .push(("ip.src.country".into(), code.clone()));
        }
        r.facts.push(("Country".into(), c));
    }
    r
}

fn access_receipt(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    ip: &ClientIpFacts<'_>,
    rule: &AccessRule,
) -> Receipt {
    let fw = &policy.firewall;
    let (code, reason) = match &rule.target {
        AccessTarget::Ips { written, .. } => (
            Code::IpBlocked,
            format!("Your IP address {} is blocked by this site (access rule for {written}).", ip.ip()),
        ),
        AccessTarget::List(i) => {
            let list = &fw.lists[*i];
            if list.contains_ip(ip.ip()) {
                let mut reason = format!("Your IP address {} is on the list {}.", ip.ip(), list.cited());
                if let Some(entry) = list.entry_for(ip.ip()) {
                    // The entry's own words say why this address is there, which a list's
                    // description cannot.
                    match &entry.note {
                        Some(note) => reason.push_str(&format!(
                            " The entry that holds it ({}) says: \u{201c}{note}\u{201d}.",
                            entry.item
                        )),
                        None => reason.push_str(&format!(" The entry that holds it is {}.", entry.item)),
                    }
                }
                (Code::IpBlocked, reason)
            } else {
                let net = network_words(ip).unwrap_or_else(|| "Your network".into());
                (Code::AsnBlocked, format!("Your network {net} is on the list {}.", list.cited()))
            }
        }
        AccessTarget::Asn(_) => {
            let net = network_words(ip).unwrap_or_else(|| "unknown".into());
            (Code::AsnBlocked, format!("Requests from your network {net} are blocked by this site."))
        }
        AccessTarget::Country(c) => (
            Code::CountryBlocked,
            match c.as_str() {
                "T1" => "Requests through the Tor network are blocked by this site.".to_string(),
                "XX" => "Requests from addresses whose country cannot be determined are blocked by this site.".to_string(),
                _ => {
                    let name = ip.info().country_name.clone().unwrap_or_else(|| c.clone());
                    format!("Requests from {name} ({c}) are blocked by this site.")
                }
            },
        ),
    };
    let code = if rule.action == AccessAction::Challenge {
        Code::Challenge
    } else {
        code
    };
    let mut r = receipt_for(facts, policy, code, PhaseName::AccessRules)
        .reason(reason)
        .rule(format!("access:{}", rule.id));
    r.disclosure = rule.disclosure;
    r = ip_facts(r, ip);
    if let AccessTarget::List(i) = &rule.target {
        r.facts.push(("List".into(), fw.lists[*i].name.clone()));
        if let Some(entry) = fw.lists[*i].entry_for(ip.ip()) {
            r.private_facts.push((
                "list entry".into(),
                format!("line {}: {}", entry.line, entry.item),
            ));
        }
        if let Some(d) = &fw.lists[*i].description {
            r.reason.push_str(&format!(" That list holds {d}."));
        }
    }
    if let Some(note) = &rule.note {
        r.remedies.push(note.clone());
    }
    r = explain_class(r, ip);
    if code == Code::Challenge {
        r = challenge_words(r, facts);
    }
    if code == Code::IpBlocked {
        r.remedies.push("An address is often shared (an office, a school, a mobile network, a VPN): if someone else using it caused this, tell the site's support, with the Ray ID below.".into());
    }
    if code == Code::CountryBlocked {
        r.remedies.push("If you are travelling or your address is placed in the wrong country, contact support with the Ray ID.".into());
    }
    if code == Code::IpBlocked {
        return r;
    }
    r.remedy("If you think this is a mistake, send the Ray ID below to the site's support.")
}

fn custom_rules(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    ip: &ClientIpFacts<'_>,
    ctx: &EvalContext<'_>,
    trace: &mut Vec<TraceStep>,
    found: &mut Found,
    skip_rate_limit: &mut bool,
) -> Flow {
    let rules = &policy.firewall.rules;
    if rules.is_empty() {
        return Flow::Continue;
    }
    let mut evaluated = 0usize;
    for (index, (rule, expr)) in rules.iter().enumerate() {
        evaluated += 1;
        let Some(why) = rule_matches(expr, ctx) else {
            continue;
        };
        let mut hit = |action| {
            found.matched.push(RuleMatch {
                kind: RuleKind::CustomRule,
                index,
                action,
            })
        };
        let conditions = why
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let enforced = !(rule.shadow || rule.action == RuleAction::Log);
        trace.push(TraceStep {
            phase: PhaseName::CustomRules,
            outcome: Cow::Owned(format!(
                "rule `{}` ({}{}) matched: {conditions}",
                rule.id,
                rule.action.as_str(),
                if rule.shadow { ", shadow mode" } else { "" }
            )),
        });
        if !enforced {
            let (mode, action) = if rule.shadow {
                (LogMode::Shadow, MatchAction::Shadow)
            } else {
                (LogMode::Log, MatchAction::Log)
            };
            hit(action);
            found.logged.push(Logged {
                mode,
                receipt: custom_receipt(facts, policy, ip, rule, &why),
            });
            continue;
        }
        match &rule.action {
            RuleAction::Challenge if facts.clearance.is_valid() => {
                hit(MatchAction::Cleared);
                trace.push(TraceStep {
                    phase: PhaseName::CustomRules,
                    outcome: Cow::Owned(format!(
                        "rule `{}` asks for a challenge; the clearance cookie is valid",
                        rule.id
                    )),
                });
            }
            RuleAction::Block | RuleAction::Challenge => {
                hit(if rule.action == RuleAction::Block {
                    MatchAction::Block
                } else {
                    MatchAction::Challenge
                });
                return Flow::Deny(Box::new(custom_receipt(facts, policy, ip, rule, &why)));
            }
            RuleAction::Allow => {
                hit(MatchAction::Allow);
                return Flow::AllowAll;
            }
            RuleAction::Skip { phases } => {
                hit(MatchAction::Skip);
                *skip_rate_limit = phases.iter().any(|p| p == "rate_limit");
                trace.push(TraceStep {
                    phase: PhaseName::CustomRules,
                    outcome: Cow::Owned(format!("remaining custom rules skipped by `{}`", rule.id)),
                });
                return Flow::Continue;
            }
            RuleAction::Log => {}
        }
    }
    trace.push(TraceStep {
        phase: PhaseName::CustomRules,
        outcome: Cow::Owned(format!("{evaluated} custom rules evaluated, none blocked")),
    });
    Flow::Continue
}

fn custom_receipt(
    facts: &RequestFacts<'_>,
    policy: &Policy,
    ip: &ClientIpFacts<'_>,
    rule: &CustomRule,
    why: &[MatchedCondition],
) -> Receipt {
    let code = if rule.action == RuleAction::Challenge {
        Code::Challenge
    } else {
        rule.code
    };
    let mut r = receipt_for(facts, policy, code, PhaseName::CustomRules)
        .reason(format!(
            "The request matched this site's firewall rule \u{201c}{}\u{201d}.",
            rule.title
        ))
        .rule(format!("rule:{}", rule.id));
    if rule.action == RuleAction::Block {
        r.status = rule.status;
    }
    r.title = Some(rule.title.clone());
    r.disclosure = rule.disclosure;
    for c in why {
        let worded = match (&c.subject, &c.seen) {
            (Some(subject), Some(seen)) => {
                r.private_facts.push((subject.clone(), seen.clone()));
                seen_in_words(subject, seen, facts, ip)
            }
            _ => flag_in_words(&c.condition, ip),
        };
        if let Some(fact) = worded
            && !r.facts.contains(&fact)
        {
            r.facts.push(fact);
        }
        r.private_facts
            .push(("matched".to_string(), c.condition.clone()));
    }
    r.remedies.extend(rule.remedies.iter().cloned());
    let about_bot = rule.code == Code::BrowserSignature
        || why.iter().any(|c| {
            c.condition.contains("doorman.bot.") || c.condition.contains("cf.bot_management")
        });
    if about_bot && let Some(bot) = facts.bot {
        r = explain_bot(r, bot);
    }
    let about_network = why
        .iter()
        .any(|c| c.condition.contains("doorman.ip.") || c.condition.contains("ip.src in $"));
    if about_network {
        r = explain_class(r, ip);
    }
    if code == Code::Challenge {
        r = challenge_words(r, facts);
    }
    r.remedy("If you think this is a mistake, send the Ray ID below to the site's support.")
}

/// Names each bot signal that fired, in the words `doorman-botcheck` gives it, with its fix.
fn explain_bot(mut r: Receipt, bot: &crate::bot::BotFacts) -> Receipt {
    if bot.signals.is_empty() {
        return r;
    }
    r.reason.push_str(" What the gateway noticed:");
    for s in &bot.signals {
        r.reason.push(' ');
        r.reason.push_str(&s.explanation);
        if !r.remedies.contains(&s.remedy) {
            r.remedies.push(s.remedy.clone());
        }
    }
    r.private_facts.push((
        "doorman.bot.signals".into(),
        bot.ids().collect::<Vec<_>>().join(" "),
    ));
    r.private_facts
        .push(("doorman.bot.score".into(), bot.score.to_string()));
    r
}

/// What a challenge receipt says about the clearance the client did (or did not) bring.
fn challenge_words(mut r: Receipt, facts: &RequestFacts<'_>) -> Receipt {
    match facts.clearance {
        ClearanceFacts::CookieLost { seconds_ago } => {
            r.reason.push_str(&format!(
                " You passed this check {seconds_ago} seconds ago, but your browser did not send the clearance cookie back: cookies are blocked for this site, or an extension removes them."
            ));
            r.remedies.insert(
                0,
                "Allow cookies for this site (or turn off the extension that removes them), then reload.".into(),
            );
        }
        ClearanceFacts::Refused {
            reason,
            remedy,
            code,
        } => {
            r.reason.push_str(&format!(
                " Your clearance cookie was not accepted: {reason}"
            ));
            r.remedies.insert(0, remedy.clone());
            r.private_facts.push(("clearance".into(), code.clone()));
        }
        ClearanceFacts::None | ClearanceFacts::Valid { .. } => {}
    }
    r.remedies.push("Open this address in a regular web browser with JavaScript and cookies enabled to pass the check; API clients should use an API key instead.".into());
    r
}

fn with_notice(mut r: Receipt, notice: &Notice) -> Receipt {
    r.title = notice.title.clone();
    r.reason = notice.reason.clone();
    r.remedies = notice.remedies.clone();
    r.disclosure = notice.disclosure;
    r
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use http::{HeaderMap, Method, Uri, Version};

    use super::*;
    use crate::facts::Scheme;
    use crate::policy::{ClientIpPolicy, NetworkGate, RouteAccess, SiteInfo};
    use crate::ray::RayId;
    use crate::receipt::Disclosure;

    fn policy() -> Policy {
        let routes = vec![
            Route {
                name: "app".into(),
                hosts: vec![],
                path_prefix: "/".into(),
                upstream: 0,
                ambiguous_paths: Default::default(),
                websocket: true,
                access: RouteAccess::default(),
            },
            Route {
                name: "admin".into(),
                hosts: vec![],
                path_prefix: "/admin".into(),
                upstream: 0,
                ambiguous_paths: Default::default(),
                websocket: true,
                access: RouteAccess {
                    closed: Some(Notice {
                        title: Some("Admin is internal".into()),
                        reason: "The admin area is not published.".into(),
                        remedies: vec!["Use the staff VPN.".into()],
                        disclosure: Disclosure::Public,
                    }),
                    allow_networks: None,
                    auth: None,
                },
            },
            Route {
                name: "internal".into(),
                hosts: vec![crate::policy::HostPattern::Exact("internal.example".into())],
                path_prefix: "/".into(),
                upstream: 0,
                ambiguous_paths: Default::default(),
                websocket: true,
                access: RouteAccess {
                    closed: None,
                    allow_networks: Some(NetworkGate {
                        networks: vec!["10.0.0.0/8".parse().unwrap()],
                        notice: Notice {
                            reason: "Only the office network may use this.".into(),
                            ..Notice::default()
                        },
                    }),
                    auth: None,
                },
            },
        ];
        Policy {
            node: Arc::from("test"),
            site: SiteInfo {
                support: Some("help@example.com".into()),
                ..SiteInfo::default()
            },
            client_ip: ClientIpPolicy::default(),
            route_order: Policy::route_order_for(&routes),
            routes,
            upstreams: vec![],
            firewall: Default::default(),
            rate_limits: doorman_rules::Ruleset::new(),
            auth: Default::default(),
            paths: Default::default(),
        }
    }

    fn decide_for(host: &str, path: &str, ip: &str) -> Decision {
        let ray = RayId::new(1, Arc::from("test"));
        let uri: Uri = path.parse().unwrap();
        let headers = HeaderMap::new();
        let ip: IpAddr = ip.parse().unwrap();
        let facts = RequestFacts {
            ray_id: &ray,
            now: UNIX_EPOCH + Duration::from_secs(1_795_383_851),
            client_ip: ip,
            peer_ip: ip,
            method: &Method::GET,
            uri: &uri,
            host: host.into(),
            path: uri.path().into(),
            path_problem: None,
            headers: &headers,
            version: Version::HTTP_11,
            scheme: Scheme::Http,
            tls: None,
            auth: &crate::auth::NO_AUTH,
            clearance: &crate::clearance::NO_CLEARANCE,
            bot: None,
        };
        decide(&facts, &policy())
    }

    #[test]
    fn open_route_is_permitted() {
        let d = decide_for("chat.example", "/v1/chat", "203.0.113.7");
        match d.verdict {
            Verdict::Allow(p) => assert_eq!(p.route(), 0),
            Verdict::Deny(r) => panic!("denied: {}", r.reason),
        }
    }

    #[test]
    fn closed_route_denies_with_the_operators_words() {
        let d = decide_for("chat.example", "/admin/users", "203.0.113.7");
        let r = d.receipt().expect("denied");
        assert_eq!(r.code, Code::RouteClosed);
        assert_eq!(r.status, 403);
        assert_eq!(r.shown_title(), "Admin is internal");
        assert_eq!(r.remedies, vec!["Use the staff VPN.".to_string()]);
        assert_eq!(r.support.as_deref(), Some("help@example.com"));
        assert_eq!(r.rule.as_deref(), Some("route:admin"));
        assert_eq!(d.trace.last().unwrap().phase, PhaseName::RouteAccess);
    }

    #[test]
    fn network_gate_admits_inside_and_names_outside() {
        assert!(
            decide_for("internal.example", "/", "10.1.2.3")
                .receipt()
                .is_none()
        );
        let d = decide_for("internal.example", "/", "203.0.113.7");
        let r = d.receipt().expect("denied");
        assert_eq!(r.code, Code::NetworkNotAllowed);
        // The networks let in are the operator's business: kept for explain, never shown.
        assert!(
            r.private_facts
                .contains(&("ip.src".into(), "203.0.113.7".into()))
        );
        assert!(
            r.private_facts
                .iter()
                .any(|(k, v)| k == "allowed networks" && v == "10.0.0.0/8")
        );
        assert!(
            r.facts.iter().all(|(_, v)| !v.contains("10.0.0.0")),
            "{:?}",
            r.facts
        );
    }

    #[test]
    fn unknown_host_and_path_is_no_route() {
        let p = {
            let mut p = policy();
            p.routes.retain(|r| r.name == "internal");
            p.route_order = Policy::route_order_for(&p.routes);
            p
        };
        let ray = RayId::new(1, Arc::from("test"));
        let uri: Uri = "/x".parse().unwrap();
        let headers = HeaderMap::new();
        let facts = RequestFacts {
            ray_id: &ray,
            now: UNIX_EPOCH,
            client_ip: "192.0.2.1".parse().unwrap(),
            peer_ip: "192.0.2.1".parse().unwrap(),
            method: &Method::GET,
            uri: &uri,
            host: "nope.example".into(),
            path: uri.path().into(),
            path_problem: None,
            headers: &headers,
            version: Version::HTTP_11,
            scheme: Scheme::Http,
            tls: None,
            auth: &crate::auth::NO_AUTH,
            clearance: &crate::clearance::NO_CLEARANCE,
            bot: None,
        };
        let d = decide(&facts, &p);
        let r = d.receipt().expect("denied");
        assert_eq!(r.code, Code::NoRoute);
        assert_eq!(r.status, 404);
        assert!(r.reason.contains("nope.example"));
    }
}
