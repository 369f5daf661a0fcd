//! The phase pipeline: runs the phases in their fixed order over one request's facts.
//!
//! Order (DESIGN.md §1): routing → route access → (later: network access rules → custom firewall
//! rules → rate limiting → bot checks / challenge → authorization) → proxy. Each phase may end the
//! request with a receipt, or let it continue. Adding a phase means adding a function here and a
//! [`PhaseName`]; the server does not change.

use std::borrow::Cow;

use crate::code::Code;
use crate::decision::{Decision, Permit, PhaseName, TraceStep, Verdict};
use crate::facts::RequestFacts;
use crate::policy::{Notice, Policy, Route};
use crate::receipt::Receipt;

/// Decides what happens to one request. Pure: the same facts and policy always give the same
/// decision.
pub fn decide(facts: &RequestFacts<'_>, policy: &Policy) -> Decision {
    let mut trace = Vec::with_capacity(2);

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
        };
    };
    let route = &policy.routes[route_idx];
    trace.push(TraceStep {
        phase: PhaseName::Routing,
        outcome: Cow::Owned(format!("matched route `{}`", route.name)),
    });

    if let Some(receipt) = route_access(facts, policy, route, &mut trace) {
        return Decision {
            verdict: Verdict::Deny(Box::new(receipt)),
            route: Some(route_idx),
            trace,
        };
    }

    Decision {
        verdict: Verdict::Allow(Permit::new(route_idx, route.upstream)),
        route: Some(route_idx),
        trace,
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
    r.support = policy.site.support.clone();
    r
}

fn no_route(facts: &RequestFacts<'_>, policy: &Policy) -> Receipt {
    let host = if facts.host.is_empty() {
        "(no host)"
    } else {
        &facts.host
    };
    receipt_for(facts, policy, Code::NoRoute, PhaseName::Routing)
        .reason(format!(
            "This gateway has no route for host `{host}` and path `{}`.",
            facts.path()
        ))
        .remedy("Check the address for typos: the host name and the first part of the path must match a published service.")
        .remedy("If you followed a link from this site, tell the site's support which link it was.")
        .fact("http.host", host)
        .fact("http.request.uri.path", facts.path())
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
        let r = receipt_for(facts, policy, Code::RouteClosed, PhaseName::RouteAccess)
            .rule(format!("route:{}", route.name))
            .fact("doorman.route", route.name.clone());
        return Some(with_notice(r, notice));
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
        let r = receipt_for(
            facts,
            policy,
            Code::NetworkNotAllowed,
            PhaseName::RouteAccess,
        )
        .rule(format!("route:{}", route.name))
        .fact("ip.src", facts.client_ip.to_string())
        .fact("allowed networks", allowed);
        return Some(with_notice(r, &gate.notice));
    }
    trace.push(TraceStep {
        phase: PhaseName::RouteAccess,
        outcome: Cow::Borrowed("route is open"),
    });
    None
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
                access: RouteAccess::default(),
            },
            Route {
                name: "admin".into(),
                hosts: vec![],
                path_prefix: "/admin".into(),
                upstream: 0,
                access: RouteAccess {
                    closed: Some(Notice {
                        title: Some("Admin is internal".into()),
                        reason: "The admin area is not published.".into(),
                        remedies: vec!["Use the staff VPN.".into()],
                        disclosure: Disclosure::Public,
                    }),
                    allow_networks: None,
                },
            },
            Route {
                name: "internal".into(),
                hosts: vec![crate::policy::HostPattern::Exact("internal.example".into())],
                path_prefix: "/".into(),
                upstream: 0,
                access: RouteAccess {
                    closed: None,
                    allow_networks: Some(NetworkGate {
                        networks: vec!["10.0.0.0/8".parse().unwrap()],
                        notice: Notice {
                            reason: "Only the office network may use this.".into(),
                            ..Notice::default()
                        },
                    }),
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
            headers: &headers,
            version: Version::HTTP_11,
            scheme: Scheme::Http,
            tls: None,
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
        assert!(r.facts.contains(&("ip.src".into(), "203.0.113.7".into())));
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
            headers: &headers,
            version: Version::HTTP_11,
            scheme: Scheme::Http,
            tls: None,
        };
        let d = decide(&facts, &p);
        let r = d.receipt().expect("denied");
        assert_eq!(r.code, Code::NoRoute);
        assert_eq!(r.status, 404);
        assert!(r.reason.contains("nope.example"));
    }
}
