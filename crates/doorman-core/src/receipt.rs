//! The receipt: everything a non-allow decision tells the person denied and the operator.
//!
//! A receipt always holds the whole truth (the event log records all of it); how much of it a
//! page shows is decided at render time by its [`Disclosure`], in one place ([`crate::render`]).

use std::net::IpAddr;
use std::time::SystemTime;

use crate::code::Code;
use crate::decision::PhaseName;
use crate::ray::RayId;

/// How much of a denial's reason the denied person may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Disclosure {
    /// Name the rule's public title, the reason and the facts that matched.
    #[default]
    Public,
    /// Only the category (the code's generic title and advice).
    Hint,
    /// Only the Ray ID and generic text.
    Private,
}

impl Disclosure {
    /// `public`, `hint` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disclosure::Public => "public",
            Disclosure::Hint => "hint",
            Disclosure::Private => "private",
        }
    }
}

/// One non-allow decision, explained.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The request's Ray ID.
    pub ray_id: RayId,
    /// When the request was received.
    pub time: SystemTime,
    /// The client's IP as the gateway saw it.
    pub client_ip: IpAddr,
    /// The stable code.
    pub code: Code,
    /// The HTTP status sent.
    pub status: u16,
    /// A public title; `None` uses the code's own.
    pub title: Option<String>,
    /// What happened, in plain words, with the facts that matter.
    pub reason: String,
    /// What the person can do, most likely fix first.
    pub remedies: Vec<String>,
    /// Seconds after which a retry may succeed.
    pub retry_after_s: Option<u64>,
    /// How much of the above the person sees.
    pub disclosure: Disclosure,
    /// The phase that decided.
    pub phase: PhaseName,
    /// The rule (or route, or limit) that decided, for the operator.
    pub rule: Option<String>,
    /// Facts that mattered, in words a person reads, as (label, value), e.g. ("Network",
    /// "AS9009 (M247 Europe SRL)"). Rule fields and raw values go in `private_facts`.
    pub facts: Vec<(String, String)>,
    /// Facts only the operator sees (the event log and `doorman explain`), never rendered on a
    /// page whatever the disclosure: origin addresses, internal names.
    pub private_facts: Vec<(String, String)>,
    /// Extra response headers (WWW-Authenticate, RateLimit, …), as (name, value).
    pub headers: Vec<(String, String)>,
    /// Whom to contact, from the site config.
    pub support: Option<String>,
    /// The site as people know it, with the host asked for: "Example Chat (chat.example.com)".
    pub site: Option<String>,
    /// Where a JSON receipt's `type` points (the code is appended); `None`: the gateway's own
    /// page of codes.
    pub errors_url: Option<String>,
    /// Links worth following (e.g. the status page), as (label, url).
    pub links: Vec<(String, String)>,
}

impl Receipt {
    /// A receipt with the code's default status and title, and nothing else said yet.
    pub fn new(
        ray_id: RayId,
        time: SystemTime,
        client_ip: IpAddr,
        code: Code,
        phase: PhaseName,
    ) -> Self {
        Receipt {
            ray_id,
            time,
            client_ip,
            code,
            status: code.default_status(),
            title: None,
            reason: String::new(),
            remedies: Vec::new(),
            retry_after_s: None,
            disclosure: Disclosure::Public,
            phase,
            rule: None,
            facts: Vec::new(),
            private_facts: Vec::new(),
            headers: Vec::new(),
            support: None,
            site: None,
            errors_url: None,
            links: Vec::new(),
        }
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Adds a remedy.
    pub fn remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedies.push(remedy.into());
        self
    }

    /// Adds a fact that mattered.
    pub fn fact(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.facts.push((name.into(), value.into()));
        self
    }

    /// Names the rule, route or limit that decided.
    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }

    /// The title a page shows: the public one when disclosure allows, else the code's.
    pub fn shown_title(&self) -> &str {
        match (&self.title, self.disclosure) {
            (Some(t), Disclosure::Public) => t,
            _ => self.code.title(),
        }
    }
}
