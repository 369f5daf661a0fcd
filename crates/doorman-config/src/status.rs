//! Stage two for `[status]`: the public status page's path, title and address, its components
//! (each made of upstreams; one per upstream when none are written) and the public mitigations.
//!
//! A mitigation names a rule by id, so that the page lists it exactly while the rule is in the
//! config; its words default to a sentence said from the rule itself, because operators rarely
//! write one and a visitor needs to recognise what happened to them ("Challenge for visitors
//! from AS9009").

use std::collections::{HashMap, HashSet};

use crate::compile::Compiler;
use crate::raw::{
    RawAccessAction, RawAccessRule, RawConfig, RawLimitAction, RawRateLimit, RawRule, RawRuleAction,
};
use crate::settings::{StatusComponent, StatusSettings};
use crate::suggest;
use crate::values::Invalid;

impl Compiler<'_, '_> {
    /// `[status]`; `None` when the page is off (or broken: the errors are reported).
    pub(crate) fn status(
        &mut self,
        raw: &RawConfig,
        upstream_index: &HashMap<String, usize>,
    ) -> Option<StatusSettings> {
        let s = &raw.status;
        let path = self.endpoint_path("status.path", &s.path)?;
        let path = match path.trim_end_matches('/') {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        if path == "/" {
            self.invalid(
                "status.path",
                Invalid {
                    detail: "`/` would hide the whole site behind the status page".into(),
                    hint: Some("use a path of its own, e.g. \"/status\"".into()),
                },
            );
            return None;
        }
        let title = match &s.title {
            Some(t) if t.trim().is_empty() => {
                self.invalid(
                    "status.title",
                    Invalid {
                        detail: "an empty title".into(),
                        hint: Some("write the name visitors know, or remove the key".into()),
                    },
                );
                String::new()
            }
            Some(t) => t.clone(),
            None => format!("{} status", raw.site.name),
        };
        let url = match &s.public_url {
            Some(u) => {
                let host = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
                if host.is_none_or(str::is_empty) || u.contains(char::is_whitespace) {
                    self.invalid(
                        "status.public_url",
                        Invalid {
                            detail: format!("`{u}` is not an http(s) URL"),
                            hint: Some(
                                "write the page's full address, e.g. \"https://example.com/status\""
                                    .into(),
                            ),
                        },
                    );
                }
                u.trim_end_matches('/').to_owned()
            }
            None => path.clone(),
        };
        let default_slow = self.slow_threshold("status.degraded_above_ms", s.degraded_above_ms);
        let mut components = self.status_components(raw, upstream_index);
        for (i, c) in components.iter_mut().enumerate() {
            let own = raw
                .status
                .components
                .get(i)
                .and_then(|rc| rc.degraded_above_ms);
            c.degraded_above = match own {
                Some(ms) => self.slow_threshold(
                    &format!("status.components.{i}.degraded_above_ms"),
                    Some(ms),
                ),
                None => default_slow,
            };
        }
        let mitigations = self.status_mitigations(raw);
        Some(StatusSettings {
            path,
            title,
            url,
            auto_incidents: s.auto_incidents,
            components,
            mitigations,
        })
    }

    fn status_components(
        &mut self,
        raw: &RawConfig,
        upstream_index: &HashMap<String, usize>,
    ) -> Vec<StatusComponent> {
        if raw.status.components.is_empty() {
            // Only checked upstreams say anything about their state; a page of components
            // that are "operational" for want of checks would mislead. Without any checks,
            // every upstream is shown (incidents can still name them).
            let any_checked = raw.upstreams.iter().any(|u| u.health_check.is_some());
            return raw
                .upstreams
                .iter()
                .filter(|u| !any_checked || u.health_check.is_some())
                .filter_map(|u| u.name.clone())
                .map(|name| StatusComponent {
                    id: name.clone(),
                    name: name.clone(),
                    description: None,
                    group: None,
                    upstreams: vec![name],
                    degraded_above: None,
                })
                .collect();
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, c) in raw.status.components.iter().enumerate() {
            let path = format!("status.components.{i}");
            let Some(id) = c.id.clone() else {
                self.missing(
                    &path,
                    "id",
                    "[[status.components]]",
                    "give it a stable id, e.g. id = \"chat-api\" (JSON and `doorman incident --component` use it)".into(),
                );
                continue;
            };
            if id.trim().is_empty() || id.contains(char::is_whitespace) {
                self.invalid(
                    &format!("{path}.id"),
                    Invalid {
                        detail: format!("`{id}` is not an id"),
                        hint: Some("letters, digits, `-` and `_`, e.g. \"chat-api\"".into()),
                    },
                );
                continue;
            }
            if !seen.insert(id.clone()) {
                self.invalid(
                    &format!("{path}.id"),
                    Invalid {
                        detail: format!("a second component with id `{id}`"),
                        hint: Some("ids must be unique".into()),
                    },
                );
            }
            if c.upstreams.is_empty() {
                self.missing(
                    &path,
                    "upstreams",
                    "[[status.components]]",
                    "name the upstreams whose health checks make up this component, e.g. upstreams = [\"chat\"]".into(),
                );
            }
            for (j, u) in c.upstreams.iter().enumerate() {
                if !upstream_index.contains_key(u) {
                    let hint = match suggest::nearest(u, upstream_index.keys().map(String::as_str))
                    {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => "name an upstream defined in [[upstreams]]".to_owned(),
                    };
                    self.invalid(
                        &format!("{path}.upstreams.{j}"),
                        Invalid {
                            detail: format!("there is no upstream `{u}`"),
                            hint: Some(hint),
                        },
                    );
                }
            }
            out.push(StatusComponent {
                name: c.name.clone().unwrap_or_else(|| id.clone()),
                id,
                description: c.description.clone(),
                group: c.group.clone(),
                upstreams: c.upstreams.clone(),
                degraded_above: None,
            });
        }
        out
    }

    /// A `degraded_above_ms` value: 0 would call every component degraded.
    fn slow_threshold(&mut self, path: &str, ms: Option<u64>) -> Option<std::time::Duration> {
        match ms {
            Some(0) => {
                self.invalid(
                    path,
                    Invalid {
                        detail: "0 ms".into(),
                        hint: Some(
                            "use the check time above which people notice, e.g. 1500; remove the key to turn it off"
                                .into(),
                        ),
                    },
                );
                None
            }
            Some(ms) => Some(std::time::Duration::from_millis(ms)),
            None => None,
        }
    }

    fn status_mitigations(&mut self, raw: &RawConfig) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let ids = || {
            raw.access_rules
                .iter()
                .filter_map(|r| r.id.as_deref())
                .chain(raw.rules.iter().filter_map(|r| r.id.as_deref()))
                .chain(raw.rate_limits.iter().filter_map(|r| r.id.as_deref()))
        };
        for (i, m) in raw.status.mitigations.iter().enumerate() {
            let path = format!("status.mitigations.{i}");
            let Some(rule) = &m.rule else {
                self.missing(
                    &path,
                    "rule",
                    "[[status.mitigations]]",
                    "name the access rule, custom rule or rate limit by its id, e.g. rule = \"challenge-vpn\"".into(),
                );
                continue;
            };
            let said = if let Some(r) = raw
                .access_rules
                .iter()
                .find(|r| r.id.as_ref() == Some(rule))
            {
                access_rule_words(r)
            } else if let Some(r) = raw.rules.iter().find(|r| r.id.as_ref() == Some(rule)) {
                custom_rule_words(r)
            } else if let Some(r) = raw.rate_limits.iter().find(|r| r.id.as_ref() == Some(rule)) {
                rate_limit_words(r)
            } else {
                let hint = match suggest::nearest(rule, ids()) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => {
                        "name the id of an [[access_rules]], [[rules]] or [[rate_limits]] entry"
                            .to_owned()
                    }
                };
                self.invalid(
                    &format!("{path}.rule"),
                    Invalid {
                        detail: format!(
                            "no access rule, custom rule or rate limit has the id `{rule}`"
                        ),
                        hint: Some(hint),
                    },
                );
                continue;
            };
            let text = match &m.text {
                Some(t) if t.trim().is_empty() => {
                    self.invalid(
                        &format!("{path}.text"),
                        Invalid {
                            detail: "empty text".into(),
                            hint: Some("write what visitors notice, or remove the key to use the rule's own words".into()),
                        },
                    );
                    continue;
                }
                Some(t) => t.clone(),
                None => said,
            };
            out.push((format!("rule:{rule}"), text));
        }
        out
    }
}

fn access_rule_words(r: &RawAccessRule) -> String {
    let whom = if let Some(asn) = &r.asn {
        let n = asn.to_string();
        let n = n.trim_start_matches("AS").trim_start_matches("as");
        format!("visitors from network AS{n}")
    } else if let Some(c) = &r.country {
        format!("visitors from country {}", c.to_uppercase())
    } else if let Some(l) = &r.list {
        format!("visitors on the list `{l}`")
    } else if let Some(ip) = &r.ip {
        format!("visitors from {ip}")
    } else if let Some(ips) = &r.ips {
        format!("visitors from {}", ips.join(", "))
    } else {
        "some visitors".to_owned()
    };
    let said = match r.action {
        Some(RawAccessAction::Block) => format!("Blocked: {whom}"),
        Some(RawAccessAction::Challenge) => format!("Challenge for {whom}"),
        Some(RawAccessAction::Allow) => format!("Always allowed: {whom}"),
        Some(RawAccessAction::Log) | None => format!("Watched: {whom}"),
    };
    match &r.note {
        Some(note) if !note.trim().is_empty() => format!("{said} ({})", note.trim()),
        _ => said,
    }
}

fn custom_rule_words(r: &RawRule) -> String {
    let action = match r.action {
        Some(RawRuleAction::Block) => "Blocked",
        Some(RawRuleAction::Challenge) => "Challenge",
        _ => "Rule",
    };
    let title = r.title.as_deref().or(r.id.as_deref()).unwrap_or("a rule");
    format!("{action}: {title}")
}

fn rate_limit_words(r: &RawRateLimit) -> String {
    let title = r
        .description
        .as_deref()
        .or(r.id.as_deref())
        .unwrap_or("a limit");
    let what = match (r.requests_per_period, r.period_secs) {
        (Some(n), Some(p)) => format!(" ({n} requests per {p} s)"),
        _ => String::new(),
    };
    let action = match r.action {
        Some(RawLimitAction::Challenge) => "Rate limit with challenge",
        _ => "Rate limit",
    };
    format!("{action}: {title}{what}")
}
