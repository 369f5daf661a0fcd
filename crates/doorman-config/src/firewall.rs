//! Stage two for the firewall sections: `[intel]`, `[[lists]]`, `[[access_rules]]` and
//! `[[rules]]`, compiled into the core's [`Firewall`].
//!
//! The order matters: databases first (access rules and expressions are checked against what
//! they can know), then lists (access rules and expressions refer to them by name), then access
//! rules, then custom rules, whose expressions the rules crate compiles against a registry of
//! the lists. Like the rest of the compiler, every check runs even after another failed, and a
//! broken part is replaced by a stand-in so that the parts that refer to it are still checked
//! without follow-on noise: a list whose file cannot be read is still registered (empty) under
//! its name, so `$name` in an expression is not also called unknown.
//!
//! Files are treated by how much they matter: a list file that cannot be read is an error (a
//! block list silently empty would let through what it should stop), a bad line in one is a
//! warning at that file's `file:line:col` (the rest of the list still works), and a missing
//! database is a warning (the fields it feeds become missing values; nothing else breaks).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use doorman_core::Disclosure;
use doorman_core::code::Code;
use doorman_core::firewall::{
    AccessAction, AccessRule, AccessTarget, CustomRule, Firewall, IpClass, NamedList, RuleAction,
};
use doorman_core::intel::{NetworkIntel, NoIntel};
use doorman_intel::{IntelError, ListError, ListFormat, ListKind, LoadedList, MmdbIntel};
use doorman_rules::{Field, IpRange, IpRangeSet, List, Lists, RuleError, Ruleset, Scheme};
use ipnet::IpNet;

use crate::compile::{Compiler, key_of};
use crate::diag::Position;
use crate::literal;
use crate::raw::{
    RawAccessAction, RawAccessRule, RawConfig, RawDisclosure, RawIntOrString, RawIntel, RawIpClass,
    RawList, RawListFormat, RawListKind, RawMode, RawRule, RawRuleAction,
};
use crate::suggest;
use crate::values::{self, Invalid};

/// Phases a `skip` rule may name: the rest of the custom rules, and the rate limiting rules.
/// Later phases (bot checks) add their names here as they arrive.
pub const SKIPPABLE_PHASES: &[&str] = &["custom_rules", "rate_limit"];

/// Longest list name (Cloudflare's limit, so names carry over both ways).
pub const MAX_LIST_NAME: usize = 50;

/// At most this many bad lines of one list file are shown one by one; the rest are counted in
/// one more warning, so a file in the wrong format does not bury everything else.
pub const LIST_PROBLEMS_SHOWN: usize = 10;

/// The firewall, and every file it was built from (list files and databases).
pub(crate) struct Built {
    pub firewall: Firewall,
    pub rate_limits: Ruleset<doorman_core::ratelimit::RateLimitRule>,
    pub watched_files: Vec<PathBuf>,
}

/// Which lookups the configured databases are meant to answer. A database that failed to load
/// still counts (its own warning already says what stops working), so that rules on its fields
/// are not warned about twice.
#[derive(Debug, Clone, Copy, Default)]
struct Coverage {
    /// Countries: a country database, or one that carries both.
    country_configured: bool,
    /// AS numbers: an ASN database, or one that carries both.
    asn_configured: bool,
}

/// One `[[lists]]` entry as the rest of the firewall sees it.
#[derive(Debug, Clone, Copy)]
struct ListRef {
    /// Index into [`Firewall::lists`].
    index: usize,
    /// `None` when the kind was missing or invalid (already reported).
    kind: Option<RawListKind>,
}

/// The lists by name, and whether every list has a usable name (if not, an unknown name used
/// elsewhere may well be that list, so it is not reported).
struct ListTable {
    lists: Vec<NamedList>,
    by_name: HashMap<String, ListRef>,
    names_complete: bool,
}

impl ListTable {
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// The lists as expressions see them.
pub(crate) struct ExpressionLists {
    registry: Lists,
    /// Lists whose kind is unknown (already reported): registered as IP lists so that `$name`
    /// resolves; a type error about them would be a guess, so it is not reported.
    uncertain: HashSet<String>,
    names_complete: bool,
}

impl ExpressionLists {
    fn of(table: &ListTable) -> ExpressionLists {
        let mut registry = Lists::new();
        let mut uncertain = HashSet::new();
        for (name, r) in &table.by_name {
            registry.insert(name.clone(), table.lists[r.index].list.clone());
            if r.kind.is_none() {
                uncertain.insert(name.clone());
            }
        }
        ExpressionLists {
            registry,
            uncertain,
            names_complete: table.names_complete,
        }
    }
}

impl Compiler<'_, '_> {
    /// Compiles the four firewall sections and the rate limiting rules (whose expressions use
    /// the same lists).
    pub(crate) fn firewall(&mut self, raw: &RawConfig) -> Built {
        let mut watched = Vec::new();
        let (intel, coverage) = self.intel(&raw.intel, &mut watched);
        let table = self.lists(&raw.lists, &mut watched);
        let access_rules = self.access_rules(&raw.access_rules, &table, coverage);
        let rules = self.custom_rules(&raw.rules, &table, coverage);
        let rate_limits = self.rate_limits(&raw.rate_limits, &ExpressionLists::of(&table));
        let mut seen = HashSet::new();
        watched.retain(|p| seen.insert(p.clone()));
        Built {
            firewall: Firewall {
                lists: table.lists,
                access_rules,
                rules,
                intel,
            },
            rate_limits,
            watched_files: watched,
        }
    }

    // ----- [intel] ---------------------------------------------------------------------------

    fn intel(
        &mut self,
        raw: &RawIntel,
        watched: &mut Vec<PathBuf>,
    ) -> (Arc<dyn NetworkIntel>, Coverage) {
        for key in ["country_db", "asn_db"] {
            let given = if key == "country_db" {
                raw.country_db.is_some()
            } else {
                raw.asn_db.is_some()
            };
            if raw.db.is_some() && given {
                self.error(
                    self.index.key(&format!("intel.{key}")),
                    format!("`db` and `{key}` cannot both be set"),
                    Some(
                        "`db` is one database with both country and AS data; give either `db`, or `country_db` and/or `asn_db`"
                            .into(),
                    ),
                );
            }
        }
        // (key, path) of each database to open; `db` stands for both lookups.
        let mut wanted: Vec<(&'static str, PathBuf)> = Vec::new();
        for (key, value) in [
            ("db", &raw.db),
            ("country_db", &raw.country_db),
            ("asn_db", &raw.asn_db),
        ] {
            let Some(written) = value else { continue };
            if written.as_os_str().is_empty() {
                self.invalid(
                    &format!("intel.{key}"),
                    Invalid {
                        detail: "an empty path".into(),
                        hint: Some("write the .mmdb file's path, or remove the key".into()),
                    },
                );
                continue;
            }
            let resolved = self.resolve(&self.config_dir.clone(), written);
            watched.push(resolved.clone());
            wanted.push((key, resolved));
        }
        self.open_databases(&wanted)
    }

    /// Opens the databases. One that cannot be read is a warning naming what stops working, and
    /// the others are still used.
    fn open_databases(
        &mut self,
        wanted: &[(&'static str, PathBuf)],
    ) -> (Arc<dyn NetworkIntel>, Coverage) {
        let path_of = |key: &str| {
            wanted
                .iter()
                .filter(|(k, _)| *k == key || *k == "db")
                .map(|(_, p)| p.clone())
                .next()
        };
        let mut country = path_of("country_db");
        let mut asn = path_of("asn_db");
        // Databases that failed, by the key that named them; they still count as configured so
        // that rules on their fields are not warned about a second time.
        let mut failed: Vec<&'static str> = Vec::new();
        let intel = loop {
            if country.is_none() && asn.is_none() {
                break None;
            }
            match MmdbIntel::open(country.as_deref(), asn.as_deref()) {
                Ok(intel) => break Some(intel),
                Err(e) => {
                    let bad = match &e {
                        IntelError::NotFound { path, .. }
                        | IntelError::Read { path, .. }
                        | IntelError::Invalid { path, .. } => path.clone(),
                    };
                    // Which keys named the file that failed (`db` names it for both lookups).
                    let keys: Vec<&'static str> = wanted
                        .iter()
                        .filter(|(_, p)| *p == bad)
                        .map(|(k, _)| *k)
                        .collect();
                    if country.as_ref() == Some(&bad) {
                        country = None;
                    }
                    if asn.as_ref() == Some(&bad) {
                        asn = None;
                    }
                    if keys.is_empty() {
                        // Not a file we asked for: nothing more can be learnt by retrying.
                        self.warn(self.index.value("intel"), e.to_string(), None);
                        break None;
                    }
                    for key in keys {
                        failed.push(key);
                        self.database_warning(key, &e);
                    }
                }
            }
        };
        let Some(intel) = intel else {
            let coverage = Coverage {
                country_configured: !failed.is_empty() && path_of("country_db").is_some(),
                asn_configured: !failed.is_empty() && path_of("asn_db").is_some(),
            };
            return (Arc::new(NoIntel), coverage);
        };
        for warning in intel.warnings() {
            let key = if warning.starts_with("the country database") {
                "country_db"
            } else {
                "asn_db"
            };
            let at = if self.index.has(&format!("intel.{key}")) {
                self.index.value(&format!("intel.{key}"))
            } else {
                self.index.value("intel.db")
            };
            self.warn(
                at,
                warning,
                Some("ip.src.country needs a country database (GeoLite2-Country, DB-IP Country), ip.src.asnum an ASN one (GeoLite2-ASN, DB-IP ASN); IPinfo Lite has both".into()),
            );
        }
        // What the open files can answer: a database may carry both (IPinfo), and each lookup
        // falls back to the other file.
        let infos = intel.database_info();
        let coverage = Coverage {
            country_configured: failed.iter().any(|k| *k != "asn_db")
                || infos
                    .iter()
                    .any(|d| d.role.starts_with("country") || d.layout.has_country()),
            asn_configured: failed.iter().any(|k| *k != "country_db")
                || infos
                    .iter()
                    .any(|d| d.role.ends_with("ASN") || d.layout.has_asn()),
        };
        (Arc::new(intel), coverage)
    }

    fn database_warning(&mut self, key: &str, e: &IntelError) {
        let fields = match key {
            "country_db" => "ip.src.country and country access rules",
            "asn_db" => "ip.src.asnum and asn access rules",
            _ => "ip.src.country, ip.src.asnum, and country and asn access rules",
        };
        let written = self.written_path(&format!("intel.{key}"));
        let problem = match e {
            IntelError::NotFound { .. } => "does not exist".to_owned(),
            IntelError::Read { source, .. } => format!("cannot be read ({source})"),
            IntelError::Invalid { reason, .. } => format!("is not usable: {reason}"),
        };
        let dir = self.config_dir.display().to_string();
        self.warn(
            self.index.value(&format!("intel.{key}")),
            format!(
                "database `{written}` {problem}; {fields} will never match until it loads"
            ),
            Some(format!(
                "relative paths start from the config file's directory ({dir}); download the .mmdb file (GeoLite2, DB-IP Lite or IPinfo Lite) or remove the key. Doorman reloads when the file changes"
            )),
        );
    }

    /// The text of a string value as written in the file (for messages), else the path key.
    fn written_path(&self, path: &str) -> String {
        let span = self.index.value(path);
        self.sink
            .text()
            .get(span)
            .map(|s| s.trim_matches(['"', '\'']).to_owned())
            .unwrap_or_else(|| key_of(path).to_owned())
    }

    // ----- [[lists]] -------------------------------------------------------------------------

    fn lists(&mut self, raw: &[RawList], watched: &mut Vec<PathBuf>) -> ListTable {
        let mut table = ListTable {
            lists: Vec::new(),
            by_name: HashMap::new(),
            names_complete: true,
        };
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (i, l) in raw.iter().enumerate() {
            let path = format!("lists.{i}");
            let name = self.list_name(&path, l.name.as_deref(), &mut seen);
            if name.is_none() {
                // A duplicate still names a list that exists; a missing or invalid name leaves
                // a list that rules may be referring to under some name we cannot see.
                table.names_complete &= l.name.as_ref().is_some_and(|n| seen.contains_key(n));
            }
            if l.kind.is_none() {
                self.missing(
                    &path,
                    "kind",
                    "[[lists]]",
                    "say what the list holds: kind = \"ip\", \"asn\", \"string\" or \"hostname\""
                        .into(),
                );
            }
            let class = l.class.map(|c| match c {
                RawIpClass::Vpn => IpClass::Vpn,
                RawIpClass::Hosting => IpClass::Hosting,
                RawIpClass::Tor => IpClass::Tor,
                RawIpClass::Proxy => IpClass::Proxy,
            });
            if let (Some(class), Some(kind)) = (class, l.kind)
                && kind != RawListKind::Ip
            {
                self.error(
                    self.index.key(&format!("{path}.class")),
                    format!(
                        "`class` only applies to ip lists; this list is kind = \"{}\"",
                        kind_word(kind)
                    ),
                    Some(format!(
                        "doorman.ip.{} is set from the IP lists that carry the class; remove `class`, or list the networks' addresses in an ip list",
                        class.as_str()
                    )),
                );
            }
            if l.description
                .as_deref()
                .is_some_and(|d| d.trim().is_empty())
            {
                self.invalid(
                    &format!("{path}.description"),
                    Invalid {
                        detail: "empty text".into(),
                        hint: Some("say what the list holds, or remove the key".into()),
                    },
                );
            }
            let shown_name = name.as_deref().or(l.name.as_deref()).unwrap_or_default();
            let contents = self.list_contents(&path, shown_name, l, watched);
            let index = table.lists.len();
            if let Some(n) = &name {
                table.by_name.insert(
                    n.clone(),
                    ListRef {
                        index,
                        kind: l.kind,
                    },
                );
            }
            let stand_in = || match l.kind {
                Some(RawListKind::Asn) => List::Int(Arc::default()),
                Some(RawListKind::String | RawListKind::Hostname) => List::String(Arc::default()),
                _ => List::Ip(Arc::new(IpRangeSet::new())),
            };
            let (list, entries, updated, source, entry_lookup) = match contents {
                Some(c) => (
                    c.to_rule_list(),
                    c.entries,
                    c.modified,
                    c.source,
                    c.entry_index
                        .map(|i| i as Arc<dyn doorman_core::firewall::EntryLookup>),
                ),
                None => (stand_in(), 0, None, String::new(), None),
            };
            table.lists.push(NamedList {
                name: name.unwrap_or_default(),
                list,
                source,
                updated,
                entries,
                class,
                description: l.description.clone().filter(|d| !d.trim().is_empty()),
                disclose: l.disclose,
                entry_lookup,
            });
        }
        table
    }

    /// A list's name: required, `[a-z0-9_]+`, at most [`MAX_LIST_NAME`], unique.
    fn list_name(
        &mut self,
        path: &str,
        written: Option<&str>,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<String> {
        let Some(name) = written else {
            self.missing(
                path,
                "name",
                "[[lists]]",
                "every list needs a name, which rules write as $name: name = \"office\"".into(),
            );
            return None;
        };
        let name_path = format!("{path}.name");
        if let Err(e) = values::list_name(name, MAX_LIST_NAME) {
            self.invalid(&name_path, e);
            return None;
        }
        self.first_use(
            &name_path,
            name,
            &format!("list name `{name}`"),
            "list names",
            seen,
        )
    }

    /// Loads a list's entries from its file or its inline items. `None` when there is nothing
    /// to load or it failed (reported).
    fn list_contents(
        &mut self,
        path: &str,
        name: &str,
        l: &RawList,
        watched: &mut Vec<PathBuf>,
    ) -> Option<LoadedList> {
        let file_path = format!("{path}.file");
        let items_path = format!("{path}.items");
        let has_file = l.file.is_some() || self.reported.contains(&file_path);
        let has_items = l.items.is_some() || self.reported.contains(&items_path);
        match (has_file, has_items) {
            (false, false) => {
                self.error(
                    self.index.value(path),
                    "a list needs `file` or `items`",
                    Some(
                        "load it from a file, file = \"lists/office.txt\", or write it here, items = [\"192.0.2.0/24\"]"
                            .into(),
                    ),
                );
                return None;
            }
            (true, true) => {
                self.error(
                    self.index.key(&items_path),
                    "`file` and `items` cannot both be set",
                    Some("a list comes from one place: keep the file, or the inline items".into()),
                );
            }
            _ => {}
        }
        if let Some(items) = &l.items {
            if l.format != RawListFormat::Auto && l.file.is_none() {
                self.warn(
                    self.index.key(&format!("{path}.format")),
                    "`format` has no effect on inline items",
                    Some("it says how a list file is written; remove it".into()),
                );
            }
            if l.file.is_none() {
                let kind = l.kind?;
                return Some(self.inline_items(&items_path, name, kind, items));
            }
        }
        let written = l.file.as_ref()?;
        if written.as_os_str().is_empty() {
            self.invalid(
                &file_path,
                Invalid {
                    detail: "an empty path".into(),
                    hint: Some("write the list file's path, e.g. \"lists/office.txt\"".into()),
                },
            );
            return None;
        }
        let resolved = self.resolve(&self.config_dir.clone(), written);
        watched.push(resolved.clone());
        // With the kind unknown (already reported), the file is still read, as strings, so that a
        // missing file is reported in the same run; its lines are not judged.
        let kind = l.kind.unwrap_or(RawListKind::String);
        match doorman_intel::load_list_file(&resolved, list_kind(kind), list_format(l.format)) {
            Ok(_) if l.kind.is_none() => None,
            Ok(loaded) => {
                self.list_file_problems(&file_path, name, &loaded);
                if loaded.entries == 0 && loaded.bad_lines == 0 {
                    self.warn(
                        self.index.value(&file_path),
                        format!("list `{name}` is empty: its file has no entries"),
                        Some("rules that use it never match until the file has entries; Doorman reloads when it changes".into()),
                    );
                }
                Some(loaded)
            }
            Err(e) => {
                let problem = match &e {
                    ListError::NotFound { .. } => "does not exist".to_owned(),
                    ListError::IsDirectory { .. } => "is a directory".to_owned(),
                    ListError::Read { source, .. } => format!("cannot be read ({source})"),
                };
                let dir = self.config_dir.display().to_string();
                self.error(
                    self.index.value(&file_path),
                    format!(
                        "list file `{}` {problem} (looked at {})",
                        written.display(),
                        resolved.display()
                    ),
                    Some(format!(
                        "relative paths start from the config file's directory ({dir})"
                    )),
                );
                None
            }
        }
    }

    /// Inline items: a bad one is an error at its element, as for any value in the file.
    fn inline_items(
        &mut self,
        items_path: &str,
        name: &str,
        kind: RawListKind,
        items: &[RawIntOrString],
    ) -> LoadedList {
        let texts: Vec<String> = items.iter().map(ToString::to_string).collect();
        let loaded = doorman_intel::list_from_items(&texts, list_kind(kind));
        for p in &loaded.problems {
            let element = format!("{items_path}.{}", p.line.saturating_sub(1));
            self.error(
                self.index.value(&element),
                format!("invalid item in list `{name}`: {}", p.message),
                None,
            );
        }
        if loaded.bad_lines > loaded.problems.len() {
            self.error(
                self.index.value(items_path),
                format!(
                    "{} more invalid items in list `{name}`",
                    loaded.bad_lines - loaded.problems.len()
                ),
                None,
            );
        }
        if items.is_empty() {
            self.warn(
                self.index.value(items_path),
                format!("list `{name}` is empty"),
                Some("rules that use it never match; add items or remove the list".into()),
            );
        }
        loaded
    }

    /// A list file's bad lines: warnings at `file:line:col` of the list file, placed after the
    /// config's `file = …` in the output.
    fn list_file_problems(&mut self, file_path: &str, name: &str, loaded: &LoadedList) {
        let anchor = self.index.value(file_path).start;
        for p in loaded.problems.iter().take(LIST_PROBLEMS_SHOWN) {
            self.sink.warn_in(
                anchor,
                p.file.to_string(),
                Some(Position {
                    line: p.line,
                    column: p.column,
                }),
                format!("in list `{name}`: {}", p.message),
                Some("the line is skipped; the rest of the list is loaded".into()),
            );
        }
        if loaded.bad_lines > LIST_PROBLEMS_SHOWN {
            self.sink.warn_in(
                anchor,
                loaded.source.clone(),
                None,
                format!(
                    "in list `{name}`: {} more bad lines, not shown; they are skipped",
                    loaded.bad_lines - LIST_PROBLEMS_SHOWN
                ),
                Some(format!(
                    "this file was read as {}; if that is wrong, set `format`",
                    loaded.format
                )),
            );
        }
    }

    // ----- [[access_rules]] ------------------------------------------------------------------

    fn access_rules(
        &mut self,
        raw: &[RawAccessRule],
        table: &ListTable,
        coverage: Coverage,
    ) -> Vec<AccessRule> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("access_rules.{i}");
            let id = self
                .unique_id(&path, "[[access_rules]]", r.id.as_deref(), &mut seen)
                .unwrap_or_default();
            let target = self.access_target(&path, r, table, coverage);
            let action = match r.action {
                Some(a) => a,
                None => {
                    self.missing(
                        &path,
                        "action",
                        "[[access_rules]]",
                        "say what to do with a match: action = \"allow\", \"block\", \"challenge\" or \"log\"".into(),
                    );
                    RawAccessAction::Log
                }
            };
            self.non_empty_text(&format!("{path}.note"), r.note.as_deref());
            out.push(AccessRule {
                id,
                target: target.unwrap_or(AccessTarget::Asn(0)),
                action: match action {
                    RawAccessAction::Allow => AccessAction::Allow,
                    RawAccessAction::Block => AccessAction::Block,
                    RawAccessAction::Challenge => AccessAction::Challenge,
                    RawAccessAction::Log => AccessAction::Log,
                },
                note: r.note.clone().filter(|n| !n.trim().is_empty()),
                disclosure: disclosure(r.disclosure),
                shadow: r.mode == RawMode::Shadow,
            });
        }
        out
    }

    /// The one target of an access rule. Every target written is checked, so that all of
    /// their problems come out; with more than one, the rule is an error regardless.
    fn access_target(
        &mut self,
        path: &str,
        r: &RawAccessRule,
        table: &ListTable,
        coverage: Coverage,
    ) -> Option<AccessTarget> {
        const TARGETS: [&str; 5] = ["ip", "ips", "list", "asn", "country"];
        let written = [
            r.ip.is_some(),
            r.ips.is_some(),
            r.list.is_some(),
            r.asn.is_some(),
            r.country.is_some(),
        ];
        // A target cut out by stage one was written too, just badly.
        let present: Vec<&str> = TARGETS
            .iter()
            .zip(written)
            .filter(|(key, w)| *w || self.reported.contains(&format!("{path}.{key}")))
            .map(|(key, _)| *key)
            .collect();
        match present.as_slice() {
            [] => self.error(
                self.index.value(path),
                "an access rule needs a target",
                Some(
                    "write exactly one of ip = \"192.0.2.0/24\", ips = […], list = \"name\", asn = 64500 or country = \"DE\""
                        .into(),
                ),
            ),
            [first, rest @ ..] => {
                for other in rest {
                    self.error(
                        self.index.key(&format!("{path}.{other}")),
                        format!("an access rule has one target, but this one has `{first}` and `{other}`"),
                        Some("split it into one rule per target".into()),
                    );
                }
            }
        }
        let mut targets = Vec::new();
        if let Some(ip) = &r.ip {
            targets.push(self.ip_target(&format!("{path}.ip"), ip, table));
        }
        if let Some(ips) = &r.ips {
            targets.push(self.ips_target(&format!("{path}.ips"), ips));
        }
        if let Some(list) = &r.list {
            targets.push(self.list_target(&format!("{path}.list"), list, table));
        }
        if let Some(asn) = &r.asn {
            let target = match values::asn(asn) {
                Ok(n) => Some(AccessTarget::Asn(n)),
                Err(e) => {
                    self.invalid(&format!("{path}.asn"), e);
                    None
                }
            };
            if target.is_some() && !coverage.asn_configured {
                self.warn(
                    self.index.value(&format!("{path}.asn")),
                    "this asn rule will never match: no AS database is configured",
                    Some(
                        "set [intel] asn_db (or db) to a GeoLite2-ASN, DB-IP or IPinfo .mmdb file"
                            .into(),
                    ),
                );
            }
            targets.push(target);
        }
        if let Some(country) = &r.country {
            let target = match values::country(country) {
                Ok(c) => Some(AccessTarget::Country(c)),
                Err(e) => {
                    self.invalid(&format!("{path}.country"), e);
                    None
                }
            };
            if let Some(AccessTarget::Country(c)) = &target
                && !coverage.country_configured
            {
                let span = self.index.value(&format!("{path}.country"));
                let tor_list = table.lists.iter().any(|l| l.class == Some(IpClass::Tor));
                match c.as_str() {
                    "T1" if tor_list => {}
                    "T1" => self.warn(
                        span,
                        "this rule will never match: T1 (Tor) comes from an ip list with class = \"tor\", and there is none",
                        Some("add a [[lists]] entry with the Tor exit addresses and class = \"tor\"".into()),
                    ),
                    "XX" => self.warn(
                        span,
                        "this rule matches every client: with no country database configured, every country is unknown (XX)",
                        Some("set [intel] country_db (or db) to a country .mmdb file".into()),
                    ),
                    _ => self.warn(
                        span,
                        format!("this rule will never match: no country database is configured to tell {c}"),
                        Some("set [intel] country_db (or db) to a GeoLite2-Country, DB-IP or IPinfo .mmdb file".into()),
                    ),
                }
            }
            targets.push(target);
        }
        if present.len() == 1 {
            targets.into_iter().next().flatten()
        } else {
            None
        }
    }

    fn ip_target(&mut self, path: &str, text: &str, table: &ListTable) -> Option<AccessTarget> {
        match values::network(text) {
            Ok((net, meant)) => {
                if let Some(meant) = meant {
                    self.warn(
                        self.index.value(path),
                        format!("`{text}` has host bits set; it means {meant}"),
                        Some(format!("write \"{meant}\" to say so")),
                    );
                }
                Some(AccessTarget::Ips {
                    set: Arc::new(set_of(&[net])?),
                    written: text.trim().to_owned(),
                })
            }
            Err(mut e) => {
                if table.by_name.contains_key(text.trim()) {
                    e.hint = Some(format!("`{text}` is a list: write list = \"{text}\""));
                }
                self.invalid(path, e);
                None
            }
        }
    }

    fn ips_target(&mut self, path: &str, ips: &[String]) -> Option<AccessTarget> {
        if ips.is_empty() {
            self.error(
                self.index.value(path),
                "`ips` is empty",
                Some("list at least one address or CIDR, e.g. ips = [\"192.0.2.0/24\"]".into()),
            );
            return None;
        }
        let mut nets = Vec::new();
        let mut ok = true;
        for (j, text) in ips.iter().enumerate() {
            let element = format!("{path}.{j}");
            match values::network(text) {
                Ok((net, meant)) => {
                    if let Some(meant) = meant {
                        self.warn(
                            self.index.value(&element),
                            format!("`{text}` has host bits set; it means {meant}"),
                            Some(format!("write \"{meant}\" to say so")),
                        );
                    }
                    nets.push(net);
                }
                Err(e) => {
                    ok = false;
                    self.invalid(&element, e);
                }
            }
        }
        if !ok {
            return None;
        }
        Some(AccessTarget::Ips {
            set: Arc::new(set_of(&nets)?),
            written: ips.iter().map(|s| s.trim()).collect::<Vec<_>>().join(", "),
        })
    }

    fn list_target(&mut self, path: &str, name: &str, table: &ListTable) -> Option<AccessTarget> {
        let name = name.strip_prefix('$').unwrap_or(name);
        match table.by_name.get(name) {
            Some(ListRef {
                kind: Some(kind @ (RawListKind::String | RawListKind::Hostname)),
                ..
            }) => {
                self.error(
                    self.index.value(path),
                    format!(
                        "list `{name}` is a {} list; an access rule needs an ip or asn list",
                        kind_word(*kind)
                    ),
                    Some(format!(
                        "use a string list in a [[rules]] expression instead, e.g. http.host in ${name}"
                    )),
                );
                None
            }
            Some(r) => Some(AccessTarget::List(r.index)),
            None => {
                if table.names_complete {
                    let known = table.names();
                    let hint = match suggest::nearest(name, known.iter().copied()) {
                        Some(near) => {
                            format!("did you mean `{near}`? (lists: {})", known.join(", "))
                        }
                        None if known.is_empty() => format!(
                            "define it: [[lists]] name = \"{name}\" kind = \"ip\" file = \"…\""
                        ),
                        None => format!("lists: {}", known.join(", ")),
                    };
                    self.error(
                        self.index.value(path),
                        format!("unknown list `{name}`"),
                        Some(hint),
                    );
                }
                None
            }
        }
    }

    // ----- [[rules]] -------------------------------------------------------------------------

    fn custom_rules(
        &mut self,
        raw: &[RawRule],
        table: &ListTable,
        coverage: Coverage,
    ) -> Ruleset<CustomRule> {
        let registry = ExpressionLists::of(table);
        let mut seen = HashMap::new();
        let mut out = Ruleset::new();
        for (i, r) in raw.iter().enumerate() {
            let path = format!("rules.{i}");
            let id = self
                .unique_id(&path, "[[rules]]", r.id.as_deref(), &mut seen)
                .unwrap_or_default();
            let title = match &r.title {
                Some(t) if t.trim().is_empty() => {
                    self.invalid(
                        &format!("{path}.title"),
                        Invalid {
                            detail: "an empty title".into(),
                            hint: Some(
                                "people who are blocked read it: say what the rule is for".into(),
                            ),
                        },
                    );
                    String::new()
                }
                Some(t) => t.trim().to_owned(),
                None => {
                    self.missing(
                        &path,
                        "title",
                        "[[rules]]",
                        "give the rule a public title, e.g. title = \"Admin pages from outside the office\"".into(),
                    );
                    String::new()
                }
            };
            let expr = match &r.expression {
                None => {
                    self.missing(
                        &path,
                        "expression",
                        "[[rules]]",
                        "write when the rule matches, e.g. expression = 'http.request.uri.path eq \"/admin\"'".into(),
                    );
                    None
                }
                Some(text) => {
                    self.compile_expression(&format!("{path}.expression"), &id, text, &registry)
                }
            };
            if let Some(e) = &expr {
                self.intel_field_warnings(
                    &format!("{path}.expression"),
                    &id,
                    e.fields(),
                    coverage,
                    table,
                );
            }
            let action = self.rule_action(&path, r);
            let (status, code) = self.block_status_and_code(&path, r);
            let Some(expr) = expr else { continue };
            out.push(
                CustomRule {
                    id,
                    title,
                    action,
                    disclosure: disclosure(r.disclosure),
                    remedies: r.remedies.clone(),
                    status,
                    code,
                    shadow: r.mode == RawMode::Shadow,
                },
                expr,
            );
        }
        out
    }

    /// Compiles one expression against the lists, reporting an error inside the string unless
    /// it only follows from a list problem already reported.
    pub(crate) fn compile_expression(
        &mut self,
        path: &str,
        id: &str,
        text: &str,
        lists: &ExpressionLists,
    ) -> Option<doorman_rules::CompiledExpr> {
        match doorman_rules::compile(text, Scheme::builtin(), &lists.registry) {
            Ok(e) => Some(e),
            Err(e) => {
                let suppressed = match e.kind {
                    doorman_rules::ErrorKind::UnknownList => !lists.names_complete,
                    doorman_rules::ErrorKind::Type => lists.uncertain.iter().any(|n| {
                        text.get(e.offset..)
                            .is_some_and(|rest| rest.starts_with(&format!("${n}")))
                    }),
                    _ => false,
                };
                if !suppressed {
                    self.expression_error(path, id, text, &e);
                }
                None
            }
        }
    }

    /// A rules-language error, at its own place inside the expression string.
    fn expression_error(&mut self, path: &str, id: &str, text: &str, e: &RuleError) {
        let value = self.index.value(path);
        let raw = self.sink.text().get(value.clone()).unwrap_or_default();
        let span = match literal::content_offsets(raw, text) {
            Some(offsets) => {
                let at = |o: usize| value.start + offsets[o.min(offsets.len() - 1)];
                at(e.offset)..at(e.offset + e.len).max(at(e.offset) + 1)
            }
            // A string form the walk does not know: the whole value is still the right place.
            None => value,
        };
        let rule = if id.is_empty() {
            String::new()
        } else {
            format!(" of rule `{id}`")
        };
        self.error(
            span,
            format!("in the expression{rule}: {}", e.message),
            e.hint.clone(),
        );
    }

    /// Expressions on country or AS fields when no database could answer them.
    fn intel_field_warnings(
        &mut self,
        path: &str,
        id: &str,
        fields: &[Field],
        coverage: Coverage,
        table: &ListTable,
    ) {
        let country_fields = [
            Field::IpSrcCountry,
            Field::IpSrcContinent,
            Field::IpSrcIsInEuropeanUnion,
        ];
        let tor_list = table.lists.iter().any(|l| l.class == Some(IpClass::Tor));
        if !coverage.country_configured
            && let Some(f) = fields.iter().find(|f| country_fields.contains(f))
        {
            let except = if tor_list && *f != Field::IpSrcIsInEuropeanUnion {
                " (except T1 for addresses on the tor list)"
            } else {
                ""
            };
            self.warn(
                self.index.value(path),
                format!(
                    "rule `{id}` uses {}, but no country database is configured, so it has no value{except}",
                    f.name()
                ),
                Some("set [intel] country_db (or db) to a country .mmdb file".into()),
            );
        }
        if !coverage.asn_configured && fields.contains(&Field::IpSrcAsnum) {
            self.warn(
                self.index.value(path),
                format!(
                    "rule `{id}` uses ip.src.asnum, but no AS database is configured, so it has no value"
                ),
                Some("set [intel] asn_db (or db) to an ASN .mmdb file".into()),
            );
        }
    }

    fn rule_action(&mut self, path: &str, r: &RawRule) -> RuleAction {
        let skip_path = format!("{path}.skip_phases");
        let Some(action) = r.action else {
            self.missing(
                path,
                "action",
                "[[rules]]",
                "say what to do with a match: action = \"block\", \"challenge\", \"allow\", \"skip\" or \"log\"".into(),
            );
            return RuleAction::Log;
        };
        if action != RawRuleAction::Skip {
            if r.skip_phases.is_some() {
                self.warn(
                    self.index.key(&skip_path),
                    "`skip_phases` has no effect: the rule's action is not \"skip\"",
                    Some("remove it, or set action = \"skip\"".into()),
                );
            }
            return match action {
                RawRuleAction::Block => RuleAction::Block,
                RawRuleAction::Challenge => RuleAction::Challenge,
                RawRuleAction::Allow => RuleAction::Allow,
                RawRuleAction::Log | RawRuleAction::Skip => RuleAction::Log,
            };
        }
        let phases = r.skip_phases.clone().unwrap_or_default();
        if phases.is_empty() && !self.reported.contains(&skip_path) {
            let span = if self.index.has(&skip_path) {
                self.index.value(&skip_path)
            } else {
                self.index.value(&format!("{path}.action"))
            };
            self.error(
                span,
                "action = \"skip\" needs the phases to skip",
                Some(format!(
                    "write skip_phases = [\"custom_rules\"] to skip the rest of the rules (phases: {})",
                    SKIPPABLE_PHASES.join(", ")
                )),
            );
        }
        for (j, phase) in phases.iter().enumerate() {
            if !SKIPPABLE_PHASES.contains(&phase.as_str()) {
                let hint = match suggest::nearest(phase, SKIPPABLE_PHASES.iter().copied()) {
                    Some(near) => format!(
                        "did you mean \"{near}\"? (phases: {})",
                        SKIPPABLE_PHASES.join(", ")
                    ),
                    None => format!(
                        "only these phases can be skipped: {}",
                        SKIPPABLE_PHASES.join(", ")
                    ),
                };
                self.error(
                    self.index.value(&format!("{skip_path}.{j}")),
                    format!("`{phase}` is not a phase a rule can skip"),
                    Some(hint),
                );
            }
        }
        RuleAction::Skip { phases }
    }

    /// `status` and `code` (which only a `block` uses).
    fn block_status_and_code(&mut self, path: &str, r: &RawRule) -> (u16, Code) {
        let blocks = r.action.is_none_or(|a| a == RawRuleAction::Block);
        let code = match &r.code {
            None => Code::FirewallRule,
            Some(written) => {
                let text = written.to_string();
                match Code::parse(text.trim()) {
                    Some(c) => c,
                    None => {
                        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
                        let hint = match suggest::nearest(text.trim(), names.iter().copied()) {
                            Some(near) => format!(
                                "did you mean \"{near}\"? (codes are listed in docs/errors.md)"
                            ),
                            None => {
                                format!("the usual one is \"1020\"; codes: {}", names.join(", "))
                            }
                        };
                        self.error(
                            self.index.value(&format!("{path}.code")),
                            format!("unknown code `{text}`"),
                            Some(hint),
                        );
                        Code::FirewallRule
                    }
                }
            }
        };
        let status = match r.status {
            None if (400..=499).contains(&code.default_status()) => code.default_status(),
            None => 403,
            Some(s) if (400..=499).contains(&s) => s as u16,
            Some(s) => {
                self.invalid(
                    &format!("{path}.status"),
                    Invalid {
                        detail: format!("{s} is not a client-error status (400–499)"),
                        hint: Some(
                            "a block answers with 4xx: 403 Forbidden is usual, 429 for rate-like limits, 451 for legal reasons"
                                .into(),
                        ),
                    },
                );
                403
            }
        };
        if !blocks {
            for key in ["status", "code"] {
                let key_path = format!("{path}.{key}");
                if self.index.has(&key_path) {
                    self.warn(
                        self.index.key(&key_path),
                        format!("`{key}` has no effect: only action = \"block\" uses it"),
                        Some("remove it, or set action = \"block\"".into()),
                    );
                }
            }
        }
        (status, code)
    }

    // ----- shared ----------------------------------------------------------------------------

    /// A required, unique id of an access rule or custom rule.
    pub(crate) fn unique_id(
        &mut self,
        table_path: &str,
        section: &str,
        written: Option<&str>,
        seen: &mut HashMap<String, Range<usize>>,
    ) -> Option<String> {
        self.unique_key(
            table_path,
            "id",
            section,
            written,
            seen,
            "every rule needs an id for logs and events, e.g. id = \"block-admin\"",
            Some("ids are up to 64 letters, digits, `-`, `_` and `.`"),
        )
    }

    /// Optional text that, when given, may not be blank.
    fn non_empty_text(&mut self, path: &str, text: Option<&str>) {
        if text.is_some_and(|t| t.trim().is_empty()) {
            self.invalid(
                path,
                Invalid {
                    detail: "empty text".into(),
                    hint: Some("write what the person should know, or remove the key".into()),
                },
            );
        }
    }
}

pub(crate) fn disclosure(raw: RawDisclosure) -> Disclosure {
    match raw {
        RawDisclosure::Public => Disclosure::Public,
        RawDisclosure::Hint => Disclosure::Hint,
        RawDisclosure::Private => Disclosure::Private,
    }
}

/// The networks as one range set.
fn set_of(nets: &[IpNet]) -> Option<IpRangeSet> {
    let ranges: Result<Vec<IpRange>, _> = nets
        .iter()
        .map(|n| IpRange::cidr(n.addr(), u32::from(n.prefix_len())))
        .collect();
    ranges.ok().map(IpRangeSet::from_ranges)
}

fn kind_word(kind: RawListKind) -> &'static str {
    match kind {
        RawListKind::Ip => "ip",
        RawListKind::Asn => "asn",
        RawListKind::String => "string",
        RawListKind::Hostname => "hostname",
    }
}

fn list_kind(kind: RawListKind) -> ListKind {
    match kind {
        RawListKind::Ip => ListKind::Ip,
        RawListKind::Asn => ListKind::Asn,
        RawListKind::String => ListKind::String,
        RawListKind::Hostname => ListKind::Hostname,
    }
}

fn list_format(format: RawListFormat) -> ListFormat {
    match format {
        RawListFormat::Auto => ListFormat::Auto,
        RawListFormat::Plain => ListFormat::Plain,
        RawListFormat::Csv => ListFormat::Csv,
        RawListFormat::Netset => ListFormat::Netset,
    }
}
