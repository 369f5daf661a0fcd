//! What keys each table of the file accepts, read from the serde structs in [`crate::raw`] so that
//! error hints, the docs test and the structs can never disagree.
//!
//! serde's derive hands the list of a struct's field names (and an enum's variant names) to the
//! deserializer it is driven by; a tiny deserializer that only records that list and then stops
//! gives it to us without a hand-kept copy.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::raw::{
    RawAccess, RawAccessAction, RawAccessLog, RawAccessLogFormat, RawAccessRule, RawAdmin,
    RawAmbiguousPaths, RawAuth, RawChallenge, RawClientIp, RawConfig, RawDisclosure, RawEvents,
    RawFailMode, RawForwarding, RawHealthCheck, RawIntel, RawIpClass, RawJwtProvider,
    RawLimitAction, RawLimitBackend, RawLimits, RawList, RawListFormat, RawListKind, RawListener,
    RawLogFormat, RawLogging, RawMode, RawNormalization, RawNormalizationType, RawPathForward,
    RawRateLimit, RawRateLimitSettings, RawRoute, RawRouteAuth, RawRule, RawRuleAction, RawServer,
    RawSite, RawSource, RawStatus, RawStatusComponent, RawStatusMitigation, RawTls, RawUpstream,
};

/// One kind of table in the file.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Path with array indexes written as `*`: `""`, `server`, `routes.*`, `listeners.*.tls`.
    pub pattern: &'static str,
    /// How people write it: `[server]`, `[[routes]]`, `[listeners.tls]`.
    pub display: &'static str,
    /// Keys it accepts, in declaration order.
    pub keys: &'static [&'static str],
}

/// Every table of the file, the top level first.
pub fn sections() -> Vec<Section> {
    vec![
        section::<RawConfig>("", "the top level"),
        section::<RawServer>("server", "[server]"),
        section::<RawListener>("listeners.*", "[[listeners]]"),
        section::<RawTls>("listeners.*.tls", "[listeners.tls]"),
        section::<RawAdmin>("admin", "[admin]"),
        section::<RawLimits>("limits", "[limits]"),
        section::<RawClientIp>("client_ip", "[client_ip]"),
        section::<RawForwarding>("forwarding", "[forwarding]"),
        section::<RawSite>("site", "[site]"),
        section::<RawLogging>("logging", "[logging]"),
        section::<RawEvents>("events", "[events]"),
        section::<RawAccessLog>("access_log", "[access_log]"),
        section::<RawUpstream>("upstreams.*", "[[upstreams]]"),
        section::<RawHealthCheck>("upstreams.*.health_check", "[upstreams.health_check]"),
        section::<RawRoute>("routes.*", "[[routes]]"),
        section::<RawRouteAuth>("routes.*.auth", "[routes.auth]"),
        section::<RawIntel>("intel", "[intel]"),
        section::<RawList>("lists.*", "[[lists]]"),
        section::<RawAccessRule>("access_rules.*", "[[access_rules]]"),
        section::<RawRule>("rules.*", "[[rules]]"),
        section::<RawRateLimitSettings>("rate_limit", "[rate_limit]"),
        section::<RawRateLimit>("rate_limits.*", "[[rate_limits]]"),
        section::<RawAuth>("auth", "[auth]"),
        section::<RawJwtProvider>("jwt_providers.*", "[[jwt_providers]]"),
        section::<RawChallenge>("challenge", "[challenge]"),
        section::<RawStatus>("status", "[status]"),
        section::<RawStatusComponent>("status.components.*", "[[status.components]]"),
        section::<RawStatusMitigation>("status.mitigations.*", "[[status.mitigations]]"),
        section::<RawNormalization>("normalization", "[normalization]"),
    ]
}

/// The section a table path (`routes.3`, `listeners.0.tls`) belongs to.
pub fn section_for(table_path: &str) -> Option<Section> {
    let pattern = pattern_of(table_path);
    sections().into_iter().find(|s| s.pattern == pattern)
}

/// `routes.3.hosts.1` → `routes.*.hosts.*`.
pub fn pattern_of(path: &str) -> String {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The accepted words of a key whose value is one of a fixed set, by path pattern
/// (`routes.*.access`).
pub fn enum_key(pattern: &str) -> Option<&'static [&'static str]> {
    Some(match pattern {
        "routes.*.access" => variants::<RawAccess>(),
        "routes.*.disclosure" => variants::<RawDisclosure>(),
        "client_ip.source" => variants::<RawSource>(),
        "logging.format" => variants::<RawLogFormat>(),
        "access_log.format" => variants::<RawAccessLogFormat>(),
        "lists.*.kind" => variants::<RawListKind>(),
        "lists.*.format" => variants::<RawListFormat>(),
        "lists.*.class" => variants::<RawIpClass>(),
        "access_rules.*.action" => variants::<RawAccessAction>(),
        "access_rules.*.disclosure" | "rules.*.disclosure" => variants::<RawDisclosure>(),
        "access_rules.*.mode" | "rules.*.mode" => variants::<RawMode>(),
        "rules.*.action" => variants::<RawRuleAction>(),
        "rate_limit.backend" => variants::<RawLimitBackend>(),
        "rate_limit.fail_mode" => variants::<RawFailMode>(),
        "rate_limits.*.action" => variants::<RawLimitAction>(),
        "rate_limits.*.disclosure" => variants::<RawDisclosure>(),
        "normalization.type" => variants::<RawNormalizationType>(),
        "normalization.forward" => variants::<RawPathForward>(),
        "normalization.ambiguous_paths" | "routes.*.ambiguous_paths" => {
            variants::<RawAmbiguousPaths>()
        }
        _ => return None,
    })
}

fn section<T: for<'de> Deserialize<'de>>(pattern: &'static str, display: &'static str) -> Section {
    Section {
        pattern,
        display,
        keys: fields::<T>(),
    }
}

/// The key names of a derived struct.
pub fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    probe::<T>()
}

/// The variant names of a derived enum, as written in the file.
pub fn variants<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    probe::<T>()
}

fn probe<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    // The probe always fails on purpose; only the names it recorded matter.
    let _ = T::deserialize(Probe(&mut names));
    names
}

/// Records the names serde passes in and refuses everything, so deserialization stops at once.
struct Probe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("schema probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("schema probe"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = variants;
        Err(de::Error::custom("schema probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_field_and_variant_names_from_the_structs() {
        let route = section_for("routes.4").expect("routes section");
        assert_eq!(route.display, "[[routes]]");
        assert!(route.keys.contains(&"upstream"));
        assert!(route.keys.contains(&"disclosure"));
        assert_eq!(variants::<RawAccess>(), ["open", "closed"]);
        assert_eq!(
            variants::<RawSource>(),
            ["x-forwarded-for", "forwarded", "proxy-protocol", "none"]
        );
        assert_eq!(
            section_for("listeners.0.tls").unwrap().keys,
            ["cert_file", "key_file"]
        );
        assert!(section_for("nope").is_none());
    }

    #[test]
    fn patterns_hide_indexes() {
        assert_eq!(pattern_of("routes.3.hosts.1"), "routes.*.hosts.*");
        assert_eq!(pattern_of(""), "");
    }
}
