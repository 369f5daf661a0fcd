//! Tolerant decoding of one MaxMind DB record into the few fields Doorman uses (country, its
//! name, continent, EU membership, AS number and organisation).
//!
//! One decoder reads every supported layout, because it looks for each layout's field names in
//! the same pass and skips everything else without decoding it:
//! - GeoIP2/GeoLite2 Country and City, DB-IP Lite Country/City: `country { iso_code, names.en,
//!   is_in_european_union }`, `registered_country` (used when `country` is absent),
//!   `continent { code }`;
//! - GeoIP2/GeoLite2 ASN, GeoIP2 ISP, DB-IP Lite ASN: `autonomous_system_number`,
//!   `autonomous_system_organization` (also inside `traits`, as in GeoIP2 Enterprise);
//! - IPinfo Lite (flat): `country_code`, `country` (a name), `continent_code`, `asn`
//!   (`"AS13335"`), `as_name`; and IPinfo's older country+ASN layout, where `country` is the code
//!   and `country_name` the name. A flat `country`/`continent` of two letters is taken as a code.
//!
//! Strings borrow from the database buffer; only the final [`IpInfo`] allocates. A value of an
//! unexpected type (a number where a string was expected, an array instead of a map…) is
//! ignored, never an error, so an odd record yields missing fields rather than a failed lookup.
//! This is not a general MMDB decoder: it knows nothing beyond these fields.

use std::borrow::Cow;
use std::fmt;

use doorman_core::intel::IpInfo;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The fields of interest found in one record, borrowed from the database.
#[derive(Debug, Default)]
pub(crate) struct Record<'a> {
    country: Place<'a>,
    registered: Place<'a>,
    continent_code: Option<Cow<'a, str>>,
    /// A flat `country` string: a code when it has two letters, else a name.
    flat_country: Option<Cow<'a, str>>,
    country_code: Option<Cow<'a, str>>,
    country_name: Option<Cow<'a, str>>,
    asn: Option<u32>,
    as_org: Option<Cow<'a, str>>,
}

/// A nested map such as `country`, `registered_country`, `continent` or `traits`.
#[derive(Debug, Default)]
struct Place<'a> {
    iso_code: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    name_en: Option<Cow<'a, str>>,
    in_eu: Option<bool>,
    asn: Option<u32>,
    as_org: Option<Cow<'a, str>>,
}

/// EU member states (ISO 3166-1 alpha-2) since 1 February 2020. Used only when a database does
/// not say (flat layouts have no `is_in_european_union`; GeoLite2 omits it when false).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// A two-letter code, upper-cased; anything else is not a code.
fn as_code(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

fn non_empty(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Record<'_> {
    /// Fills the country fields of `info` that are still missing.
    pub(crate) fn fill_country(&self, info: &mut IpInfo) {
        if info.country.is_some() {
            return;
        }
        // Prefer where the user is (`country`) over where the network is registered.
        let (code, name, in_eu) =
            if let Some(code) = self.country.iso_code.as_deref().and_then(as_code) {
                (
                    Some(code),
                    non_empty(&self.country.name_en),
                    self.country.in_eu,
                )
            } else if let Some(code) = self.country_code.as_deref().and_then(as_code) {
                let name = non_empty(&self.country_name)
                    .or_else(|| non_empty(&self.flat_country).filter(|n| as_code(n).is_none()));
                (Some(code), name, None)
            } else if let Some(code) = self.flat_country.as_deref().and_then(as_code) {
                (Some(code), non_empty(&self.country_name), None)
            } else if let Some(code) = self.registered.iso_code.as_deref().and_then(as_code) {
                (
                    Some(code),
                    non_empty(&self.registered.name_en),
                    self.registered.in_eu,
                )
            } else {
                (None, None, None)
            };
        let in_eu = in_eu.or_else(|| code.as_deref().map(|c| EU.contains(&c)));
        info.country = code;
        info.country_name = info.country_name.take().or(name);
        info.in_eu = info.in_eu.or(in_eu);
        if info.continent.is_none() {
            info.continent = self.continent_code.as_deref().and_then(as_code);
        }
    }

    /// Fills the AS fields of `info` that are still missing.
    pub(crate) fn fill_asn(&self, info: &mut IpInfo) {
        if info.asn.is_none() {
            info.asn = self.asn;
        }
        if info.as_org.is_none() {
            info.as_org = non_empty(&self.as_org);
        }
    }
}

/// Ignores a value of any type, consuming it so that the decoder stays in step.
macro_rules! ignore_other_values {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, _v: $ty) -> Result<Self::Value, E> {
                Ok(Self::Value::default())
            }
        )*
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Self::Value::default())
        }
    };
}

/// A leaf value: strings and integers are kept, anything else is skipped.
#[derive(Debug, Default)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    UInt(u64),
    Bool(bool),
    #[default]
    Other,
}

impl<'a> Scalar<'a> {
    fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An AS number: an integer, or a string `13335` / `AS13335`.
    fn into_asn(self) -> Option<u32> {
        match self {
            Scalar::UInt(n) => u32::try_from(n).ok(),
            Scalar::Str(s) => {
                let s = s.trim();
                let digits = match s.get(..2) {
                    Some(p) if p.eq_ignore_ascii_case("as") => &s[2..],
                    _ => s,
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()
            }
            _ => None,
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(u64::try_from(v).map_or(Scalar::Other, Scalar::UInt))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar<'de>, E> {
        Ok(u64::try_from(v).map_or(Scalar::Other, Scalar::UInt))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }

    ignore_other_values!(visit_i128: i128, visit_f64: f64, visit_bytes: &[u8]);
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The keys the decoder acts on; every other key's value is skipped.
enum Key {
    Country,
    RegisteredCountry,
    Continent,
    Traits,
    CountryCode,
    CountryName,
    ContinentCode,
    Asn,
    AsOrg,
    IsoCode,
    Code,
    Names,
    InEu,
    En,
    Other,
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "country" => Key::Country,
            "registered_country" => Key::RegisteredCountry,
            "continent" => Key::Continent,
            "traits" => Key::Traits,
            "country_code" => Key::CountryCode,
            "country_name" => Key::CountryName,
            "continent_code" => Key::ContinentCode,
            "autonomous_system_number" | "asn" => Key::Asn,
            "autonomous_system_organization" | "as_name" => Key::AsOrg,
            "iso_code" => Key::IsoCode,
            "code" => Key::Code,
            "names" => Key::Names,
            "is_in_european_union" => Key::InEu,
            "en" => Key::En,
            _ => Key::Other,
        })
    }

    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Key, E> {
        Ok(Key::Other)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

/// A value that is either a nested map (GeoIP2 layouts) or a flat string (IPinfo layouts).
#[derive(Debug, Default)]
enum PlaceOrStr<'a> {
    Place(Place<'a>),
    Str(Cow<'a, str>),
    #[default]
    Other,
}

struct PlaceVisitor;

impl<'de> Visitor<'de> for PlaceVisitor {
    type Value = PlaceOrStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map or a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(PlaceOrStr::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PlaceOrStr::Str(Cow::Owned(v.to_string())))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(PlaceVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Place::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::IsoCode => p.iso_code = map.next_value::<Scalar>()?.into_str(),
                Key::Code => p.code = map.next_value::<Scalar>()?.into_str(),
                Key::Names => p.name_en = map.next_value::<Names>()?.0,
                Key::InEu => {
                    if let Scalar::Bool(b) = map.next_value::<Scalar>()? {
                        p.in_eu = Some(b);
                    }
                }
                Key::Asn => p.asn = map.next_value::<Scalar>()?.into_asn(),
                Key::AsOrg => p.as_org = map.next_value::<Scalar>()?.into_str(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(PlaceOrStr::Place(p))
    }

    ignore_other_values!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_bytes: &[u8],
    );
}

impl<'de> Deserialize<'de> for PlaceOrStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PlaceVisitor)
    }
}

/// The English entry of a `names` map.
#[derive(Debug, Default)]
struct Names<'a>(Option<Cow<'a, str>>);

struct NamesVisitor;

impl<'de> Visitor<'de> for NamesVisitor {
    type Value = Names<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of names by language")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut en = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::En => en = map.next_value::<Scalar>()?.into_str(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Names(en))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(NamesVisitor)
    }

    ignore_other_values!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str,
        visit_bytes: &[u8],
    );
}

impl<'de> Deserialize<'de> for Names<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NamesVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut r = Record::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Country => match map.next_value::<PlaceOrStr>()? {
                    PlaceOrStr::Place(p) => r.country = p,
                    PlaceOrStr::Str(s) => r.flat_country = Some(s),
                    PlaceOrStr::Other => {}
                },
                Key::RegisteredCountry => {
                    if let PlaceOrStr::Place(p) = map.next_value::<PlaceOrStr>()? {
                        r.registered = p;
                    }
                }
                Key::Continent => match map.next_value::<PlaceOrStr>()? {
                    PlaceOrStr::Place(p) => r.continent_code = r.continent_code.take().or(p.code),
                    // IPinfo Lite's `continent` is a name; the older layout's is the code.
                    PlaceOrStr::Str(s) if as_code(&s).is_some() => {
                        r.continent_code = r.continent_code.take().or(Some(s));
                    }
                    _ => {}
                },
                Key::Traits => {
                    if let PlaceOrStr::Place(p) = map.next_value::<PlaceOrStr>()? {
                        r.asn = r.asn.or(p.asn);
                        r.as_org = r.as_org.take().or(p.as_org);
                    }
                }
                Key::CountryCode => r.country_code = map.next_value::<Scalar>()?.into_str(),
                Key::CountryName => r.country_name = map.next_value::<Scalar>()?.into_str(),
                Key::ContinentCode => {
                    // An explicit code beats one guessed from a flat `continent`.
                    if let Some(c) = map.next_value::<Scalar>()?.into_str() {
                        r.continent_code = Some(c);
                    }
                }
                Key::Asn => {
                    if let Some(n) = map.next_value::<Scalar>()?.into_asn() {
                        r.asn = Some(n);
                    }
                }
                Key::AsOrg => {
                    if let Some(s) = map.next_value::<Scalar>()?.into_str() {
                        r.as_org = Some(s);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(RecordVisitor)
    }

    ignore_other_values!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str,
        visit_bytes: &[u8],
    );
}

impl<'de> Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}
