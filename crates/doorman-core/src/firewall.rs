//! The firewall phases: IP access rules (by IP/CIDR, list, ASN, country), then ordered custom rules
//! in the rules language. Both run after route access and before every later security phase.
//!
//! Precedence follows Cloudflare's IP access rules: an `allow` that matches wins over any block
//! and skips the later security phases; among blocks, the most specific target decides (IP, then
//! list, then ASN, then country). Custom rules run in file order; `log` rules and rules in
//! `shadow` mode record what they would have done and change nothing.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use doorman_rules::{CompiledExpr, EvalContext, IpRangeSet, List, MatchedCondition, Ruleset};

use crate::code::Code;
use crate::intel::{NetworkIntel, NoIntel};
use crate::receipt::Disclosure;

/// What a classification list says about the networks on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpClass {
    /// Commercial VPN exits.
    Vpn,
    /// Hosting and data-centre ranges.
    Hosting,
    /// Tor exit nodes.
    Tor,
    /// Open proxies.
    Proxy,
}

impl IpClass {
    /// The spelling used in config and fields (`vpn`, `hosting`, `tor`, `proxy`).
    pub fn as_str(self) -> &'static str {
        match self {
            IpClass::Vpn => "vpn",
            IpClass::Hosting => "hosting",
            IpClass::Tor => "tor",
            IpClass::Proxy => "proxy",
        }
    }

    /// How a blocked person would describe the network.
    pub fn described(self) -> &'static str {
        match self {
            IpClass::Vpn => "a VPN service",
            IpClass::Hosting => "a hosting or data-centre network (often used by VPNs and proxies)",
            IpClass::Tor => "the Tor network",
            IpClass::Proxy => "an open proxy",
        }
    }

    /// The one fix that applies.
    pub fn remedy(self) -> &'static str {
        match self {
            IpClass::Vpn => {
                "Disconnect the VPN (or switch it to split tunnelling for this site) and reload the page."
            }
            IpClass::Hosting => {
                "If you use a VPN, proxy or cloud desktop, turn it off for this site; connect from your home or mobile network."
            }
            IpClass::Tor => {
                "Use a regular browser connection for this site; Tor exit addresses are shared with many others."
            }
            IpClass::Proxy => "Stop using the proxy for this site and connect directly.",
        }
    }
}

/// A named list with where it came from, for receipts ("on the list `abuse-feed`, updated …").
#[derive(Debug, Clone)]
pub struct NamedList {
    /// The name rules use (`$name`).
    pub name: String,
    /// The contents, shared with compiled rules.
    pub list: List,
    /// A file path, or `inline`.
    pub source: String,
    /// When the file last changed.
    pub updated: Option<SystemTime>,
    /// How many entries were loaded.
    pub entries: usize,
    /// Whether it classifies networks (VPN, hosting, …).
    pub class: Option<IpClass>,
    /// What the list is, in the operator's words (shown with public disclosure).
    pub description: Option<String>,
    /// The trace endpoint may tell a client it is on this list.
    pub disclose: bool,
    /// Which entry matched an address, for lists small enough to keep one (see
    /// `doorman_intel::entry_index`); `None` for others.
    pub entry_lookup: Option<Arc<dyn EntryLookup>>,
}

/// The entry of an IP list that holds an address, as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line in the file.
    pub line: usize,
    /// The entry (`203.0.113.0/24`).
    pub item: String,
    /// Its comment or CSV description ("reported for credential stuffing on 2026-11-30").
    pub note: Option<String>,
}

/// Finds the entry of a list that holds an address. The core does no I/O, so the list's loader
/// provides it.
pub trait EntryLookup: Send + Sync + std::fmt::Debug {
    /// The narrowest entry containing `ip`, if the lookup knows one.
    fn entry_for(&self, ip: IpAddr) -> Option<ListEntry>;
}

impl NamedList {
    /// The entry holding `ip`, when the list keeps its entries.
    pub fn entry_for(&self, ip: IpAddr) -> Option<ListEntry> {
        self.entry_lookup.as_ref()?.entry_for(ip)
    }

    /// Whether this is an IP list containing `ip`.
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        match &self.list {
            List::Ip(set) => set.contains(ip),
            _ => false,
        }
    }

    /// Whether this is an ASN/integer list containing `asn`.
    pub fn contains_asn(&self, asn: u32) -> bool {
        match &self.list {
            List::Int(set) => set.contains(i64::from(asn)),
            _ => false,
        }
    }

    /// "`abuse-feed` (updated 2026-11-20)".
    pub fn cited(&self) -> String {
        match self.updated {
            Some(t) => format!(
                "`{}` (updated {})",
                self.name,
                doorman_common::when::utc_date(doorman_common::when::unix_ms(t))
            ),
            None => format!("`{}`", self.name),
        }
    }
}

/// What an IP access rule matches.
#[derive(Debug, Clone)]
pub enum AccessTarget {
    /// Addresses and CIDRs, with the text the operator wrote.
    Ips {
        set: Arc<IpRangeSet>,
        written: String,
    },
    /// An IP or ASN list, by index into [`Firewall::lists`].
    List(usize),
    /// An autonomous system.
    Asn(u32),
    /// A country code, or `T1` (Tor) or `XX` (unknown).
    Country(String),
}

impl AccessTarget {
    /// Lower is more specific; decides among blocks.
    pub(crate) fn specificity(&self) -> u8 {
        match self {
            AccessTarget::Ips { .. } => 0,
            AccessTarget::List(_) => 1,
            AccessTarget::Asn(_) => 2,
            AccessTarget::Country(_) => 3,
        }
    }
}

/// What an IP access rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessAction {
    /// Pass, and skip every later security phase.
    Allow,
    /// Deny with 1006/1005/1009 by target.
    Block,
    /// Ask for a challenge.
    Challenge,
    /// Record and continue.
    Log,
}

/// One IP access rule.
#[derive(Debug, Clone)]
pub struct AccessRule {
    /// Stable id (for logs, events, `explain`).
    pub id: String,
    /// What it matches.
    pub target: AccessTarget,
    /// What it does.
    pub action: AccessAction,
    /// The operator's note, shown to the person per disclosure.
    pub note: Option<String>,
    /// How much the person sees.
    pub disclosure: Disclosure,
    /// Record what would happen without acting.
    pub shadow: bool,
}

/// What a custom rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Deny with the rule's code (default 1020).
    Block,
    /// Ask for a challenge.
    Challenge,
    /// Pass, skipping the remaining custom rules and every later security phase.
    Allow,
    /// Skip the remaining custom rules (and the named later phases, when they exist).
    Skip { phases: Vec<String> },
    /// Record and continue.
    Log,
}

impl RuleAction {
    /// `block`, `challenge`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleAction::Block => "block",
            RuleAction::Challenge => "challenge",
            RuleAction::Allow => "allow",
            RuleAction::Skip { .. } => "skip",
            RuleAction::Log => "log",
        }
    }
}

/// A custom firewall rule.
#[derive(Debug, Clone)]
pub struct CustomRule {
    /// Stable id.
    pub id: String,
    /// Public title, shown per disclosure.
    pub title: String,
    /// What it does.
    pub action: RuleAction,
    /// How much the person sees.
    pub disclosure: Disclosure,
    /// What the person can do, written by the operator.
    pub remedies: Vec<String>,
    /// HTTP status for `block` (default 403).
    pub status: u16,
    /// Code for `block` (default 1020).
    pub code: Code,
    /// Record what would happen without acting.
    pub shadow: bool,
}

/// Everything the firewall phases need; part of the [`crate::Policy`].
#[derive(Debug, Clone)]
pub struct Firewall {
    /// Named lists (IP, ASN, string), including classification lists.
    pub lists: Vec<NamedList>,
    /// IP access rules, in file order.
    pub access_rules: Vec<AccessRule>,
    /// Custom rules, in file order.
    pub rules: Ruleset<CustomRule>,
    /// Country and AS lookups.
    pub intel: Arc<dyn NetworkIntel>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            lists: Vec::new(),
            access_rules: Vec::new(),
            rules: Ruleset::new(),
            intel: Arc::new(NoIntel),
        }
    }
}

impl Firewall {
    /// The list called `name`.
    pub fn list(&self, name: &str) -> Option<&NamedList> {
        self.lists.iter().find(|l| l.name == name)
    }
}

/// Evaluates one custom rule's expression and, when it matches, why.
pub(crate) fn rule_matches(
    expr: &CompiledExpr,
    ctx: &EvalContext<'_>,
) -> Option<Vec<MatchedCondition>> {
    if expr.matches(ctx) {
        Some(expr.explain(ctx).unwrap_or_default())
    } else {
        None
    }
}
