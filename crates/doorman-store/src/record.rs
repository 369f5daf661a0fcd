//! What the event log stores about one non-allow decision: an owned [`EventRecord`], built from
//! the core's [`Receipt`] plus the request details a receipt does not carry.
//!
//! The record keeps the whole truth whatever the receipt's
//! [`Disclosure`](doorman_core::Disclosure): the person denied may have seen only a Ray ID, but
//! the operator running `doorman explain` sees the rule, the full reason, the facts and the
//! private facts no page ever shows. Codes and phases are kept as their stable spellings
//! (not the core's enums) so that a database written by a newer Doorman stays readable by an older
//! `doorman events`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::SystemTime;

use doorman_common::when::{from_unix_ms, unix_ms};
use doorman_core::{Receipt, TraceStep};
use serde::{Deserialize, Serialize};

/// What the gateway did with a request that was not simply allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answered by Doorman with the receipt; not forwarded.
    Deny,
    /// Answered with a challenge to pass first.
    Challenge,
    /// Forwarded, but a rule asked for the request to be logged.
    Log,
    /// Forwarded; a rule in shadow (dry-run) mode would have denied it.
    Shadow,
}

impl Action {
    /// Every action, for parsing and help texts.
    pub const ALL: &'static [Action] =
        &[Action::Deny, Action::Challenge, Action::Log, Action::Shadow];

    /// `deny`, `challenge`, `log` or `shadow`: the spelling stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Challenge => "challenge",
            Action::Log => "log",
            Action::Shadow => "shadow",
        }
    }

    /// Whether the request still reached the upstream.
    pub const fn forwarded(self) -> bool {
        matches!(self, Action::Log | Action::Shadow)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored action spelling this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{0}` (expected deny, challenge, log or shadow)")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownAction(text.to_owned()))
    }
}

/// One fact that mattered to the decision, e.g. `ip.src` = `203.0.113.7`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The field's name, in the rules language's spelling.
    pub name: String,
    /// Its value, as text.
    pub value: String,
}

/// One line of the evaluation trace: how one phase concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLine {
    /// The phase's name (`routing`, `route_access`, …).
    pub phase: String,
    /// What it concluded, in a sentence.
    pub outcome: String,
}

impl From<&TraceStep> for TraceLine {
    fn from(step: &TraceStep) -> Self {
        TraceLine {
            phase: step.phase.as_str().to_owned(),
            outcome: step.outcome.to_string(),
        }
    }
}

/// The request details an event needs that a [`Receipt`] does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The host the request named.
    pub host: String,
    /// The request path. Whether the query string is included is the caller's choice; leaving it
    /// out keeps tokens passed in URLs out of the log.
    pub path: String,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The matched route's name, if a route matched.
    pub route: Option<String>,
    /// What the gateway did.
    pub action: Action,
    /// The client's autonomous system number, as the gateway's network intelligence saw it.
    pub asn: Option<u32>,
    /// The client's ISO 3166-1 alpha-2 country (`NL`; `T1` for Tor), as the gateway's network
    /// intelligence saw it.
    pub country: Option<String>,
}

/// One recorded non-allow decision. Owned and serializable: it crosses the writer thread's queue,
/// is stored in SQLite, and is printed as JSON by `doorman events --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The request's Ray ID, `<16 hex>-<node>`.
    pub ray_id: String,
    /// When the request was received, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The client's IP as the gateway resolved it.
    pub client_ip: IpAddr,
    /// The request method.
    pub method: String,
    /// The host the request named.
    pub host: String,
    /// The request path.
    pub path: String,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The HTTP status answered (or that would have been, for `log`/`shadow`).
    pub status: u16,
    /// The stable code's spelling (`1020`, `ROUTE_CLOSED`, …).
    pub code: String,
    /// The phase that decided.
    pub phase: String,
    /// The rule, route or limit that decided.
    pub rule: Option<String>,
    /// The full, operator-facing reason, whatever the client was shown.
    pub reason: String,
    /// How much the client was shown: `public`, `hint` or `private`.
    pub disclosure: String,
    /// The facts that mattered, as the client may have seen them (per the disclosure).
    pub facts: Vec<Fact>,
    /// Facts only the operator ever sees (origin addresses, internal names), never rendered on
    /// a page.
    #[serde(default)]
    pub private_facts: Vec<Fact>,
    /// The matched route's name.
    pub route: Option<String>,
    /// What the gateway did.
    pub action: Action,
    /// How each phase concluded, in order.
    pub trace: Vec<TraceLine>,
    /// The client's autonomous system number, when network intelligence knew it. Always `None`
    /// for events recorded before Doorman stored it (schema version 1).
    #[serde(default)]
    pub asn: Option<u32>,
    /// The client's ISO country code (`NL`), when network intelligence knew it; `None` for
    /// events recorded before Doorman stored it.
    #[serde(default)]
    pub country: Option<String>,
}

impl EventRecord {
    /// Builds the record of a decision from its receipt, the request details the receipt lacks,
    /// and the decision's trace.
    pub fn from_receipt(receipt: &Receipt, context: EventContext, trace: &[TraceStep]) -> Self {
        EventRecord {
            ray_id: receipt.ray_id.to_string(),
            time_ms: unix_ms(receipt.time),
            client_ip: receipt.client_ip,
            method: context.method,
            host: context.host,
            path: context.path,
            user_agent: context.user_agent,
            status: receipt.status,
            code: receipt.code.as_str().to_owned(),
            phase: receipt.phase.as_str().to_owned(),
            rule: receipt.rule.clone(),
            reason: receipt.reason.clone(),
            disclosure: receipt.disclosure.as_str().to_owned(),
            facts: owned_facts(&receipt.facts),
            private_facts: owned_facts(&receipt.private_facts),
            route: context.route,
            action: context.action,
            trace: trace.iter().map(TraceLine::from).collect(),
            asn: context.asn,
            country: context.country,
        }
    }

    /// When the request was received.
    pub fn time(&self) -> SystemTime {
        from_unix_ms(self.time_ms)
    }
}

fn owned_facts(pairs: &[(String, String)]) -> Vec<Fact> {
    pairs
        .iter()
        .map(|(name, value)| Fact {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use doorman_core::{Code, Disclosure, PhaseName, RayId};

    use super::*;

    #[test]
    fn from_receipt_keeps_the_whole_truth_whatever_the_disclosure() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_383_851_123);
        let mut receipt = Receipt::new(
            RayId::new(0x4a807f60ca5727a4, Arc::from("edge1")),
            time,
            "203.0.113.7".parse().unwrap(),
            Code::RouteClosed,
            PhaseName::RouteAccess,
        )
        .reason("route admin is closed: maintenance until 18:00")
        .fact("ip.src", "203.0.113.7")
        .rule("route:admin");
        receipt.disclosure = Disclosure::Private;
        receipt
            .private_facts
            .push(("upstream.addr".into(), "10.0.0.5:8080".into()));
        let trace = [TraceStep {
            phase: PhaseName::Routing,
            outcome: Cow::Borrowed("matched route admin"),
        }];
        let context = EventContext {
            method: "GET".into(),
            host: "example.com".into(),
            path: "/admin".into(),
            user_agent: Some("curl/8.5".into()),
            route: Some("admin".into()),
            action: Action::Deny,
            asn: Some(9009),
            country: Some("NL".into()),
        };

        let record = EventRecord::from_receipt(&receipt, context, &trace);

        assert_eq!(record.ray_id, "4a807f60ca5727a4-edge1");
        assert_eq!(record.time(), time);
        assert_eq!(record.code, "ROUTE_CLOSED");
        assert_eq!(record.status, 403);
        assert_eq!(record.phase, "route_access");
        assert_eq!(record.rule.as_deref(), Some("route:admin"));
        assert_eq!(
            record.reason,
            "route admin is closed: maintenance until 18:00"
        );
        assert_eq!(record.disclosure, "private");
        assert_eq!(
            record.facts,
            [Fact {
                name: "ip.src".into(),
                value: "203.0.113.7".into()
            }]
        );
        assert_eq!(
            record.private_facts,
            [Fact {
                name: "upstream.addr".into(),
                value: "10.0.0.5:8080".into()
            }]
        );
        assert_eq!(record.trace[0].phase, "routing");
        assert_eq!(record.trace[0].outcome, "matched route admin");
        assert_eq!(record.route.as_deref(), Some("admin"));
        assert_eq!(record.user_agent.as_deref(), Some("curl/8.5"));
        assert_eq!(record.asn, Some(9009));
        assert_eq!(record.country.as_deref(), Some("NL"));
    }

    #[test]
    fn json_written_before_the_network_fields_still_reads() {
        let old = r#"{"ray_id":"4a807f60ca5727a4-edge1","time_ms":1,"client_ip":"203.0.113.7",
            "method":"GET","host":"h","path":"/","user_agent":null,"status":403,"code":"1020",
            "phase":"custom_rules","rule":null,"reason":"","disclosure":"public","facts":[],
            "route":null,"action":"shadow","trace":[]}"#;
        let record: EventRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.asn, None);
        assert_eq!(record.country, None);
        assert_eq!(record.action, Action::Shadow);
    }

    #[test]
    fn actions_round_trip_through_their_spelling() {
        for &action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        assert!("allow".parse::<Action>().is_err());
        assert!(Action::Shadow.forwarded());
        assert!(!Action::Deny.forwarded());
    }
}
