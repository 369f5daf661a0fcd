//! The firewall phases through `decide`, with a fixed intel table and hand-built lists: each code,
//! precedence, shadow and log modes, and what the receipts say.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use doorman_core::firewall::{
    AccessAction, AccessRule, AccessTarget, CustomRule, Firewall, IpClass, NamedList, RuleAction,
};
use doorman_core::intel::{IpInfo, NetworkIntel};
use doorman_core::policy::{ClientIpPolicy, Route, RouteAccess, SiteInfo};
use doorman_core::{
    Code, Decision, Disclosure, LogMode, MatchAction, PhaseName, Policy, RayId, RequestFacts,
    RuleKind, RuleMatch, Scheme, Verdict,
};
use doorman_rules::{IpRangeSet, List, Lists, Ruleset, Scheme as RuleScheme, compile};
use http::{HeaderMap, Method, Uri, Version};

#[derive(Debug)]
struct Table(HashMap<IpAddr, IpInfo>);

impl NetworkIntel for Table {
    fn lookup(&self, ip: IpAddr) -> IpInfo {
        self.0.get(&ip).cloned().unwrap_or_default()
    }
}

fn info(country: &str, name: &str, asn: u32, org: &str) -> IpInfo {
    IpInfo {
        country: Some(country.into()),
        country_name: Some(name.into()),
        asn: Some(asn),
        as_org: Some(org.into()),
        ..IpInfo::default()
    }
}

fn ip_list(name: &str, items: &[&str], class: Option<IpClass>) -> NamedList {
    let set = IpRangeSet::parse(items.iter().copied()).unwrap();
    NamedList {
        name: name.into(),
        entries: items.len(),
        list: List::Ip(Arc::new(set)),
        source: format!("lists/{name}.txt"),
        updated: Some(UNIX_EPOCH + Duration::from_secs(1_795_132_800)), // 2026-11-20
        class,
        description: None,
        disclose: false,
        entry_lookup: None,
    }
}

fn access(id: &str, target: AccessTarget, action: AccessAction) -> AccessRule {
    AccessRule {
        id: id.into(),
        target,
        action,
        note: None,
        disclosure: Disclosure::Public,
        shadow: false,
    }
}

fn custom(id: &str, title: &str, action: RuleAction) -> CustomRule {
    CustomRule {
        id: id.into(),
        title: title.into(),
        action,
        disclosure: Disclosure::Public,
        remedies: vec![],
        status: 403,
        code: Code::FirewallRule,
        shadow: false,
    }
}

/// A policy with one catch-all route and the given firewall pieces; rules are compiled against the lists.
fn policy(access_rules: Vec<AccessRule>, rules: Vec<(CustomRule, &str)>) -> Policy {
    let lists = vec![
        ip_list("abuse_feed", &["203.0.113.0/24"], None),
        ip_list("vpn_exits", &["198.51.100.0/24"], Some(IpClass::Vpn)),
        ip_list("office", &["192.0.2.0/24"], None),
    ];
    let mut registry = Lists::new();
    for l in &lists {
        registry.insert(l.name.clone(), l.list.clone());
    }
    let mut ruleset = Ruleset::new();
    for (rule, expr) in rules {
        ruleset.push(
            rule,
            compile(expr, RuleScheme::builtin(), &registry).unwrap(),
        );
    }
    let table = Table(HashMap::from([
        (
            "198.51.100.7".parse().unwrap(),
            info("NL", "Netherlands", 9009, "M247 Europe SRL"),
        ),
        (
            "203.0.113.7".parse().unwrap(),
            info("US", "United States", 64500, "Example Transit"),
        ),
        (
            "100.64.1.1".parse().unwrap(),
            info("RU", "Russia", 64501, "Example RU"),
        ),
        (
            "192.0.2.10".parse().unwrap(),
            info("DE", "Germany", 64502, "Office ISP"),
        ),
    ]));
    let routes = vec![Route {
        name: "app".into(),
        hosts: vec![],
        path_prefix: "/".into(),
        upstream: 0,
        ambiguous_paths: Default::default(),
        websocket: true,
        access: RouteAccess::default(),
    }];
    Policy {
        node: Arc::from("t"),
        site: SiteInfo::default(),
        client_ip: ClientIpPolicy::default(),
        route_order: Policy::route_order_for(&routes),
        routes,
        upstreams: vec![],
        firewall: Firewall {
            lists,
            access_rules,
            rules: ruleset,
            intel: Arc::new(table),
        },
        rate_limits: doorman_rules::Ruleset::new(),
        auth: Default::default(),
        paths: Default::default(),
    }
}

fn decide(policy: &Policy, ip: &str, path: &str) -> Decision {
    let ray = RayId::new(42, Arc::from("t"));
    let uri: Uri = path.parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", "Mozilla/5.0".parse().unwrap());
    let ip: IpAddr = ip.parse().unwrap();
    let facts = RequestFacts {
        ray_id: &ray,
        now: UNIX_EPOCH + Duration::from_secs(1_795_383_851),
        client_ip: ip,
        peer_ip: ip,
        method: &Method::GET,
        uri: &uri,
        host: "chat.example".into(),
        path: uri.path().into(),
        path_problem: None,
        headers: &headers,
        version: Version::HTTP_11,
        scheme: Scheme::Https,
        tls: None,
        auth: &doorman_core::auth::NO_AUTH,
        clearance: &doorman_core::clearance::NO_CLEARANCE,
        bot: None,
    };
    doorman_core::decide(&facts, policy)
}

fn fact<'r>(d: &'r Decision, name: &str) -> Option<&'r str> {
    d.receipt()?
        .facts
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_ip_on_a_blocked_list_gets_1006_naming_the_list_and_its_date() {
    let p = policy(
        vec![access("abuse", AccessTarget::List(0), AccessAction::Block)],
        vec![],
    );
    let d = decide(&p, "203.0.113.7", "/");
    let r = d.receipt().expect("blocked");
    assert_eq!(r.code, Code::IpBlocked);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.reason,
        "Your IP address 203.0.113.7 is on the list `abuse_feed` (updated 2026-11-20)."
    );
    assert_eq!(r.rule.as_deref(), Some("access:abuse"));
    assert_eq!(fact(&d, "List"), Some("abuse_feed"));
    assert_eq!(r.phase, PhaseName::AccessRules);
    assert!(decide(&p, "192.0.2.10", "/").receipt().is_none());
}

#[test]
fn allow_wins_over_block_and_skips_custom_rules() {
    let p = policy(
        vec![
            access("abuse", AccessTarget::List(0), AccessAction::Block),
            access(
                "partner",
                AccessTarget::Ips {
                    set: Arc::new(IpRangeSet::parse(["203.0.113.7"]).unwrap()),
                    written: "203.0.113.7".into(),
                },
                AccessAction::Allow,
            ),
        ],
        vec![(custom("everything", "Block all", RuleAction::Block), "true")],
    );
    let d = decide(&p, "203.0.113.7", "/");
    assert!(
        matches!(d.verdict, Verdict::Allow(_)),
        "{:?}",
        d.receipt().map(|r| &r.reason)
    );
    assert!(
        d.trace
            .iter()
            .any(|s| s.outcome.contains("`partner` allows"))
    );
    // Someone else on the list is still blocked, by the list, not by the custom rule.
    let d = decide(&p, "203.0.113.8", "/");
    assert_eq!(d.receipt().unwrap().code, Code::IpBlocked);
}

#[test]
fn asn_and_country_blocks_name_the_network_and_country() {
    let p = policy(
        vec![
            access(
                "ru",
                AccessTarget::Country("RU".into()),
                AccessAction::Block,
            ),
            access("transit", AccessTarget::Asn(64500), AccessAction::Block),
        ],
        vec![],
    );
    let r = decide(&p, "203.0.113.7", "/").receipt().cloned().unwrap();
    assert_eq!(r.code, Code::AsnBlocked);
    assert!(
        r.reason.contains("AS64500 (Example Transit)"),
        "{}",
        r.reason
    );
    let r = decide(&p, "100.64.1.1", "/").receipt().cloned().unwrap();
    assert_eq!(r.code, Code::CountryBlocked);
    assert_eq!(
        r.reason,
        "Requests from Russia (RU) are blocked by this site."
    );
}

#[test]
fn the_most_specific_block_decides() {
    let p = policy(
        vec![
            access(
                "us",
                AccessTarget::Country("US".into()),
                AccessAction::Block,
            ),
            access("abuse", AccessTarget::List(0), AccessAction::Block),
        ],
        vec![],
    );
    assert_eq!(
        decide(&p, "203.0.113.7", "/").receipt().unwrap().code,
        Code::IpBlocked
    );
}

#[test]
fn unknown_country_is_xx() {
    let p = policy(
        vec![access(
            "unknown",
            AccessTarget::Country("XX".into()),
            AccessAction::Block,
        )],
        vec![],
    );
    let r = decide(&p, "10.9.9.9", "/").receipt().cloned().unwrap();
    assert_eq!(r.code, Code::CountryBlocked);
    assert!(r.reason.contains("cannot be determined"));
}

#[test]
fn a_custom_rule_block_is_1020_with_title_and_matched_facts() {
    let p = policy(
        vec![],
        vec![(
            custom(
                "admin-outside",
                "Admin pages from outside the office",
                RuleAction::Block,
            ),
            r#"starts_with(http.request.uri.path, "/admin") and not ip.src in $office"#,
        )],
    );
    let d = decide(&p, "203.0.113.7", "/admin/users");
    let r = d.receipt().expect("blocked");
    assert_eq!(r.code, Code::FirewallRule);
    assert_eq!(r.shown_title(), "Admin pages from outside the office");
    assert_eq!(r.rule.as_deref(), Some("rule:admin-outside"));
    // In words for the person, the rule's field and raw value for `doorman explain`.
    assert_eq!(fact(&d, "Path"), Some("/admin/users"));
    assert!(
        r.private_facts
            .contains(&("http.request.uri.path".into(), "\"/admin/users\"".into()))
    );
    let step = d
        .trace
        .iter()
        .find(|s| s.phase == PhaseName::CustomRules)
        .unwrap();
    assert!(
        step.outcome
            .contains("rule `admin-outside` (block) matched"),
        "{}",
        step.outcome
    );
    assert!(
        step.outcome
            .contains("starts_with(http.request.uri.path, \"/admin\")"),
        "{}",
        step.outcome
    );
    // Inside the office: allowed.
    assert!(decide(&p, "192.0.2.10", "/admin/users").receipt().is_none());
}

#[test]
fn shadow_and_log_rules_change_nothing_but_are_recorded() {
    let mut shadow = custom("would-block", "Would block", RuleAction::Block);
    shadow.shadow = true;
    let p = policy(
        vec![],
        vec![
            (
                custom("note-api", "API traffic", RuleAction::Log),
                r#"starts_with(http.request.uri.path, "/v1/")"#,
            ),
            (shadow, r#"http.request.uri.path contains "chat""#),
        ],
    );
    let d = decide(&p, "203.0.113.7", "/v1/chat/completions");
    assert!(matches!(d.verdict, Verdict::Allow(_)));
    let modes: Vec<LogMode> = d.logged.iter().map(|l| l.mode).collect();
    assert_eq!(modes, vec![LogMode::Log, LogMode::Shadow]);
    assert_eq!(d.logged[1].receipt.code, Code::FirewallRule);
    assert_eq!(
        d.logged[1].receipt.rule.as_deref(),
        Some("rule:would-block")
    );
}

#[test]
fn vpn_ranges_are_named_with_their_network_and_fix() {
    let p = policy(
        vec![],
        vec![(
            custom("no-vpn", "VPN traffic", RuleAction::Block),
            "doorman.ip.vpn",
        )],
    );
    let r = decide(&p, "198.51.100.7", "/").receipt().cloned().unwrap();
    assert!(
        r.reason.contains("You appear to connect through AS9009 (M247 Europe SRL), which the list `vpn_exits` (updated 2026-11-20) names as a VPN service."),
        "{}",
        r.reason
    );
    assert!(
        r.remedies[0].starts_with("Disconnect the VPN"),
        "{:?}",
        r.remedies
    );
}

#[test]
fn challenge_actions_answer_with_the_challenge_code() {
    let p = policy(
        vec![access(
            "vpn",
            AccessTarget::List(1),
            AccessAction::Challenge,
        )],
        vec![],
    );
    let r = decide(&p, "198.51.100.7", "/").receipt().cloned().unwrap();
    assert_eq!(r.code, Code::Challenge);
}

#[test]
fn skip_stops_the_remaining_custom_rules() {
    let p = policy(
        vec![],
        vec![
            (
                custom(
                    "trusted",
                    "Trusted office",
                    RuleAction::Skip { phases: vec![] },
                ),
                "ip.src in $office",
            ),
            (custom("all", "Block all", RuleAction::Block), "true"),
        ],
    );
    assert!(decide(&p, "192.0.2.10", "/").receipt().is_none());
    assert_eq!(
        decide(&p, "203.0.113.7", "/").receipt().unwrap().code,
        Code::FirewallRule
    );
}

/// `(kind, index, action)` of each match, in order.
fn matches(d: &Decision) -> Vec<(RuleKind, usize, MatchAction)> {
    d.matched
        .iter()
        .map(
            |&RuleMatch {
                 kind,
                 index,
                 action,
             }| (kind, index, action),
        )
        .collect()
}

#[test]
fn every_match_is_reported_with_what_it_did() {
    use MatchAction::*;
    use RuleKind::{AccessRule as A, CustomRule as C};
    let mut shadow_block = access(
        "us",
        AccessTarget::Country("US".into()),
        AccessAction::Block,
    );
    shadow_block.shadow = true;
    let mut shadow_rule = custom("would-block", "Would block", RuleAction::Block);
    shadow_rule.shadow = true;
    let partner = AccessTarget::Ips {
        set: Arc::new(IpRangeSet::parse(["203.0.113.7"]).unwrap()),
        written: "203.0.113.7".into(),
    };
    let p = policy(
        vec![
            access("transit", AccessTarget::Asn(64500), AccessAction::Block),
            access("abuse", AccessTarget::List(0), AccessAction::Block),
            shadow_block,
            access("partner", partner, AccessAction::Allow),
            access("watch", AccessTarget::List(0), AccessAction::Log),
        ],
        vec![
            (
                custom("note-api", "API traffic", RuleAction::Log),
                r#"starts_with(http.request.uri.path, "/v1/")"#,
            ),
            (shadow_rule, r#"http.request.uri.path contains "chat""#),
            (
                custom("skip-rest", "Skip", RuleAction::Skip { phases: vec![] }),
                r#"http.request.uri.path eq "/v1/skip""#,
            ),
            (custom("all", "Block all", RuleAction::Block), "true"),
        ],
    );
    // The partner's allow decides; the blocks it beat are overridden, the log and shadow
    // matches are reported as such, and the custom rules do not run.
    assert_eq!(
        matches(&decide(&p, "203.0.113.7", "/v1/chat")),
        vec![
            (A, 0, Overridden),
            (A, 1, Overridden),
            (A, 2, Shadow),
            (A, 3, Allow),
            (A, 4, Log),
        ]
    );
    // Without the allow, the most specific block (the list) decides over the ASN.
    let blocks = policy(
        vec![
            access("transit", AccessTarget::Asn(64500), AccessAction::Block),
            access("abuse", AccessTarget::List(0), AccessAction::Block),
        ],
        vec![],
    );
    let d = decide(&blocks, "203.0.113.7", "/");
    assert_eq!(d.receipt().unwrap().code, Code::IpBlocked);
    assert_eq!(matches(&d), vec![(A, 0, Overridden), (A, 1, Block)]);
    // Custom rules: log and shadow go on, a skip ends them, a block denies.
    assert_eq!(
        matches(&decide(&p, "192.0.2.10", "/v1/chat")),
        vec![(C, 0, Log), (C, 1, Shadow), (C, 3, Block)]
    );
    assert_eq!(
        matches(&decide(&p, "192.0.2.10", "/v1/skip")),
        vec![(C, 0, Log), (C, 2, Skip)]
    );
}
