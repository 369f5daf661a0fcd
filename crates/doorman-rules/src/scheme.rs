//! The built-in scheme: every field the language knows, its type, and where its value comes from.
//!
//! Fields are a closed enum, [`Field`], so that the gateway's [`crate::FieldProvider`] can `match`
//! on them and the compiler can turn names into dense slot numbers. Aliases (`ip.geoip.*`,
//! `cf.*` names for Doorman's own facts) resolve to the same `Field`, so a value is computed once
//! whichever name a rule uses. This module only describes fields; it computes none.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::value::Type;

/// Compact type tags for the static table (a [`Type`] holds boxes, which cannot be `static`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    Bool,
    Int,
    Ip,
    Str,
    Bytes,
    ArrStr,
    ArrArrStr,
    ArrInt,
    MapArrStr,
    MapArrInt,
}

impl T {
    fn ty(self) -> Type {
        match self {
            T::Bool => Type::Bool,
            T::Int => Type::Int,
            T::Ip => Type::Ip,
            T::Str => Type::String,
            T::Bytes => Type::Bytes,
            T::ArrStr => Type::array_of_strings(),
            T::ArrArrStr => Type::Array(Box::new(Type::array_of_strings())),
            T::ArrInt => Type::Array(Box::new(Type::Int)),
            T::MapArrStr => Type::map_of_string_arrays(),
            T::MapArrInt => Type::Map(Box::new(Type::Array(Box::new(Type::Int)))),
        }
    }
}

/// Static description of one field.
struct Def {
    name: &'static str,
    ty: T,
    source: &'static str,
}

macro_rules! fields {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal : $ty:ident, $source:literal; )*) => {
        /// A field of the built-in scheme. Its discriminant is its slot in an
        /// [`crate::EvalContext`]; `Field::ALL[f as usize] == f`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        #[non_exhaustive]
        pub enum Field {
            $( $(#[$doc])* #[doc = concat!("`", $name, "`: ", $source)] $variant, )*
        }

        impl Field {
            /// Every field, in slot order.
            pub const ALL: &'static [Field] = &[ $( Field::$variant, )* ];
        }

        static DEFS: &[Def] = &[ $( Def { name: $name, ty: T::$ty, source: $source }, )* ];
    };
}

fields! {
    // --- Client IP and what lookups say about it ---
    IpSrc = "ip.src": Ip, "the client IP address: the TCP peer, or the address a trusted proxy reported in X-Forwarded-For / Forwarded";
    IpSrcAsnum = "ip.src.asnum": Int, "autonomous system number of ip.src, from the ASN database";
    IpSrcCountry = "ip.src.country": Str, "ISO 3166-1 alpha-2 country of ip.src, from the GeoIP database (T1 for Tor exits)";
    IpSrcContinent = "ip.src.continent": Str, "continent code of ip.src (AF AN AS EU NA OC SA, T1 for Tor), from the GeoIP database";
    IpSrcCity = "ip.src.city": Str, "city of ip.src, from the GeoIP database";
    IpSrcLat = "ip.src.lat": Str, "latitude of ip.src as text, from the GeoIP database";
    IpSrcLon = "ip.src.lon": Str, "longitude of ip.src as text, from the GeoIP database";
    IpSrcPostalCode = "ip.src.postal_code": Str, "postal code of ip.src, from the GeoIP database";
    IpSrcMetroCode = "ip.src.metro_code": Str, "metro code of ip.src, from the GeoIP database";
    IpSrcRegion = "ip.src.region": Str, "region name of ip.src, from the GeoIP database";
    IpSrcRegionCode = "ip.src.region_code": Str, "region code (ISO 3166-2 suffix) of ip.src, from the GeoIP database";
    IpSrcTimezoneName = "ip.src.timezone.name": Str, "IANA time zone of ip.src, from the GeoIP database";
    IpSrcSubdivision1IsoCode = "ip.src.subdivision_1_iso_code": Str, "first-level subdivision ISO code of ip.src, from the GeoIP database";
    IpSrcSubdivision2IsoCode = "ip.src.subdivision_2_iso_code": Str, "second-level subdivision ISO code of ip.src, from the GeoIP database";
    IpSrcIsInEuropeanUnion = "ip.src.is_in_european_union": Bool, "true when ip.src is located in the European Union, from the GeoIP database";

    // --- Request line and headers ---
    HttpCookie = "http.cookie": Str, "the whole Cookie request header";
    HttpHost = "http.host": Str, "the Host header (HTTP/2 and 3: :authority) as sent, without changes";
    HttpReferer = "http.referer": Str, "the Referer request header";
    HttpUserAgent = "http.user_agent": Str, "the User-Agent request header";
    HttpXForwardedFor = "http.x_forwarded_for": Str, "the X-Forwarded-For request header as received";
    HttpRequestFullUri = "http.request.full_uri": Str, "scheme://host/path?query of the request, without the fragment";
    HttpRequestMethod = "http.request.method": Str, "the request method in uppercase (GET, POST…)";
    HttpRequestUri = "http.request.uri": Str, "path and query of the request (/path?query)";
    HttpRequestUriPath = "http.request.uri.path": Str, "the URI path, not decoded";
    HttpRequestUriPathExtension = "http.request.uri.path.extension": Str, "lowercased extension of the last path segment, without the dot";
    HttpRequestUriQuery = "http.request.uri.query": Str, "the query string without the leading ?, not decoded";
    HttpRequestVersion = "http.request.version": Str, "HTTP version: HTTP/1.0, HTTP/1.1, HTTP/2 or HTTP/3";
    HttpRequestTimestampSec = "http.request.timestamp.sec": Int, "UNIX time in seconds when the gateway received the request";
    HttpRequestTimestampMsec = "http.request.timestamp.msec": Int, "millisecond part (0-999) of the receive time";
    HttpRequestCookies = "http.request.cookies": MapArrStr, "cookies by name (names URL-decoded), each with all its values";
    HttpRequestUriArgs = "http.request.uri.args": MapArrStr, "query arguments by name, each with all its values, not decoded";
    HttpRequestUriArgsNames = "http.request.uri.args.names": ArrStr, "names of the query arguments, in request order";
    HttpRequestUriArgsValues = "http.request.uri.args.values": ArrStr, "values of the query arguments, in request order";
    HttpRequestHeaders = "http.request.headers": MapArrStr, "request headers by lowercase name, each with all its values";
    HttpRequestHeadersNames = "http.request.headers.names": ArrStr, "request header names as sent, in request order";
    HttpRequestHeadersValues = "http.request.headers.values": ArrStr, "request header values, in request order";
    HttpRequestHeadersTruncated = "http.request.headers.truncated": Bool, "true when the gateway stopped reading headers at its limit";
    HttpRequestAcceptedLanguages = "http.request.accepted_languages": ArrStr, "language tags of Accept-Language, by descending quality";
    Ssl = "ssl": Bool, "true when the client connection uses TLS";

    // --- Raw (never rewritten) URI fields ---
    RawHttpRequestFullUri = "raw.http.request.full_uri": Str, "http.request.full_uri as received, before any rewrite";
    RawHttpRequestUri = "raw.http.request.uri": Str, "http.request.uri as received, before any rewrite";
    RawHttpRequestUriPath = "raw.http.request.uri.path": Str, "http.request.uri.path as received, before any rewrite";
    RawHttpRequestUriPathExtension = "raw.http.request.uri.path.extension": Str, "http.request.uri.path.extension as received, before any rewrite";
    RawHttpRequestUriQuery = "raw.http.request.uri.query": Str, "http.request.uri.query as received, before any rewrite";
    RawHttpRequestUriArgs = "raw.http.request.uri.args": MapArrStr, "http.request.uri.args as received, before any rewrite";
    RawHttpRequestUriArgsNames = "raw.http.request.uri.args.names": ArrStr, "http.request.uri.args.names as received, before any rewrite";
    RawHttpRequestUriArgsValues = "raw.http.request.uri.args.values": ArrStr, "http.request.uri.args.values as received, before any rewrite";

    // --- Body (only when the route buffers the body; capped at the configured inspection size) ---
    HttpRequestBodyRaw = "http.request.body.raw": Str, "the request body, up to the inspection limit";
    HttpRequestBodyTruncated = "http.request.body.truncated": Bool, "true when the body is longer than the inspection limit";
    HttpRequestBodySize = "http.request.body.size": Int, "the full body size in bytes (Content-Length or counted)";
    HttpRequestBodyMime = "http.request.body.mime": Str, "media type sniffed from the body's first bytes";
    HttpRequestBodyForm = "http.request.body.form": MapArrStr, "application/x-www-form-urlencoded fields by name (not decoded)";
    HttpRequestBodyFormNames = "http.request.body.form.names": ArrStr, "form field names, in body order";
    HttpRequestBodyFormValues = "http.request.body.form.values": ArrStr, "form field values, in body order";
    HttpRequestBodyMultipart = "http.request.body.multipart": MapArrStr, "multipart/form-data part values by part name";
    HttpRequestBodyMultipartNames = "http.request.body.multipart.names": ArrArrStr, "for each part, the names in its Content-Disposition";
    HttpRequestBodyMultipartValues = "http.request.body.multipart.values": ArrStr, "the value of each part";
    HttpRequestBodyMultipartContentTypes = "http.request.body.multipart.content_types": ArrArrStr, "for each part, its Content-Type values";
    HttpRequestBodyMultipartContentDispositions = "http.request.body.multipart.content_dispositions": ArrArrStr, "for each part, its Content-Disposition values";
    HttpRequestBodyMultipartContentTransferEncodings = "http.request.body.multipart.content_transfer_encodings": ArrArrStr, "for each part, its Content-Transfer-Encoding values";
    HttpRequestBodyMultipartFilenames = "http.request.body.multipart.filenames": ArrArrStr, "for each part, the filenames in its Content-Disposition";

    // --- JWT claims (from Doorman's JWT validation; map keys are the JWT issuer names from config) ---
    HttpRequestJwtClaims = "http.request.jwt.claims": MapArrStr, "the claims of each validated JWT as JSON text, keyed by the issuer configuration name (use lookup_json_string)";
    HttpRequestJwtClaimsAud = "http.request.jwt.claims.aud": MapArrStr, "aud claim, keyed by the issuer configuration name";
    HttpRequestJwtClaimsAudNames = "http.request.jwt.claims.aud.names": ArrStr, "issuer configuration names that produced an aud claim";
    HttpRequestJwtClaimsAudValues = "http.request.jwt.claims.aud.values": ArrStr, "all aud values";
    HttpRequestJwtClaimsIatSec = "http.request.jwt.claims.iat.sec": MapArrInt, "iat claim (seconds), keyed by the issuer configuration name";
    HttpRequestJwtClaimsIatSecNames = "http.request.jwt.claims.iat.sec.names": ArrStr, "issuer configuration names that produced an iat claim";
    HttpRequestJwtClaimsIatSecValues = "http.request.jwt.claims.iat.sec.values": ArrInt, "all iat values";
    HttpRequestJwtClaimsIss = "http.request.jwt.claims.iss": MapArrStr, "iss claim, keyed by the issuer configuration name";
    HttpRequestJwtClaimsIssNames = "http.request.jwt.claims.iss.names": ArrStr, "issuer configuration names that produced an iss claim";
    HttpRequestJwtClaimsIssValues = "http.request.jwt.claims.iss.values": ArrStr, "all iss values";
    HttpRequestJwtClaimsJti = "http.request.jwt.claims.jti": MapArrStr, "jti claim, keyed by the issuer configuration name";
    HttpRequestJwtClaimsJtiNames = "http.request.jwt.claims.jti.names": ArrStr, "issuer configuration names that produced a jti claim";
    HttpRequestJwtClaimsJtiValues = "http.request.jwt.claims.jti.values": ArrStr, "all jti values";
    HttpRequestJwtClaimsNbfSec = "http.request.jwt.claims.nbf.sec": MapArrInt, "nbf claim (seconds), keyed by the issuer configuration name";
    HttpRequestJwtClaimsNbfSecNames = "http.request.jwt.claims.nbf.sec.names": ArrStr, "issuer configuration names that produced an nbf claim";
    HttpRequestJwtClaimsNbfSecValues = "http.request.jwt.claims.nbf.sec.values": ArrInt, "all nbf values";
    HttpRequestJwtClaimsSub = "http.request.jwt.claims.sub": MapArrStr, "sub claim, keyed by the issuer configuration name";
    HttpRequestJwtClaimsSubNames = "http.request.jwt.claims.sub.names": ArrStr, "issuer configuration names that produced a sub claim";
    HttpRequestJwtClaimsSubValues = "http.request.jwt.claims.sub.values": ArrStr, "all sub values";

    // --- Response phase only (missing in request phases) ---
    HttpResponseCode = "http.response.code": Int, "status code from the origin (response-phase rules only)";
    HttpResponseHeaders = "http.response.headers": MapArrStr, "response headers by lowercase name (response-phase rules only)";
    HttpResponseHeadersNames = "http.response.headers.names": ArrStr, "response header names (response-phase rules only)";
    HttpResponseHeadersValues = "http.response.headers.values": ArrStr, "response header values (response-phase rules only)";
    HttpResponseContentTypeMediaType = "http.response.content_type.media_type": Str, "lowercased media type of the response Content-Type, without parameters";
    RawHttpResponseHeaders = "raw.http.response.headers": MapArrStr, "response headers from the origin before any rewrite";
    RawHttpResponseHeadersNames = "raw.http.response.headers.names": ArrStr, "response header names from the origin before any rewrite";
    RawHttpResponseHeadersValues = "raw.http.response.headers.values": ArrStr, "response header values from the origin before any rewrite";

    // --- TLS facts under their Cloudflare names (no Doorman equivalent is needed) ---
    CfTlsVersion = "cf.tls_version": Str, "negotiated TLS version (TLSv1.2, TLSv1.3); empty without TLS";
    CfTlsCipher = "cf.tls_cipher": Str, "negotiated cipher suite name";
    CfTlsClientHelloLength = "cf.tls_client_hello_length": Int, "length in bytes of the ClientHello";
    CfTlsClientRandom = "cf.tls_client_random": Str, "ClientHello random, base64";
    CfTlsCiphersSha1 = "cf.tls_ciphers_sha1": Str, "SHA-1 (base64) of the cipher list offered in the ClientHello";
    CfTlsClientExtensionsSha1 = "cf.tls_client_extensions_sha1": Str, "SHA-1 (base64) of the extension list in the ClientHello";
    CfTlsClientExtensionsSha1Le = "cf.tls_client_extensions_sha1_le": Str, "SHA-1 (base64) of the extension list, little-endian type codes";
    CfTlsClientAuthCertPresented = "cf.tls_client_auth.cert_presented": Bool, "true when the client sent a certificate (mTLS)";
    CfTlsClientAuthCertVerified = "cf.tls_client_auth.cert_verified": Bool, "true when the client certificate chains to a configured CA";
    CfTlsClientAuthCertRevoked = "cf.tls_client_auth.cert_revoked": Bool, "true when the client certificate is on a configured revocation list";
    CfTlsClientAuthCertIssuerDn = "cf.tls_client_auth.cert_issuer_dn": Str, "issuer DN of the client certificate";
    CfTlsClientAuthCertSubjectDn = "cf.tls_client_auth.cert_subject_dn": Str, "subject DN of the client certificate";
    CfTlsClientAuthCertIssuerDnRfc2253 = "cf.tls_client_auth.cert_issuer_dn_rfc2253": Str, "issuer DN in RFC 2253 form";
    CfTlsClientAuthCertSubjectDnRfc2253 = "cf.tls_client_auth.cert_subject_dn_rfc2253": Str, "subject DN in RFC 2253 form";
    CfTlsClientAuthCertIssuerDnLegacy = "cf.tls_client_auth.cert_issuer_dn_legacy": Str, "issuer DN in the legacy OpenSSL form";
    CfTlsClientAuthCertSubjectDnLegacy = "cf.tls_client_auth.cert_subject_dn_legacy": Str, "subject DN in the legacy OpenSSL form";
    CfTlsClientAuthCertSerial = "cf.tls_client_auth.cert_serial": Str, "serial number of the client certificate (hex)";
    CfTlsClientAuthCertIssuerSerial = "cf.tls_client_auth.cert_issuer_serial": Str, "serial number of the issuing certificate (hex)";
    CfTlsClientAuthCertFingerprintSha256 = "cf.tls_client_auth.cert_fingerprint_sha256": Str, "SHA-256 fingerprint (hex) of the client certificate";
    CfTlsClientAuthCertFingerprintSha1 = "cf.tls_client_auth.cert_fingerprint_sha1": Str, "SHA-1 fingerprint (hex) of the client certificate";
    CfTlsClientAuthCertNotBefore = "cf.tls_client_auth.cert_not_before": Str, "notBefore of the client certificate (RFC 3339)";
    CfTlsClientAuthCertNotAfter = "cf.tls_client_auth.cert_not_after": Str, "notAfter of the client certificate (RFC 3339)";
    CfTlsClientAuthCertSki = "cf.tls_client_auth.cert_ski": Str, "subject key identifier of the client certificate (hex)";
    CfTlsClientAuthCertIssuerSki = "cf.tls_client_auth.cert_issuer_ski": Str, "subject key identifier of the issuer (hex)";
    CfTlsClientAuthCertRfc9440 = "cf.tls_client_auth.cert_rfc9440": Str, "client certificate in RFC 9440 Client-Cert header form";
    CfTlsClientAuthCertRfc9440TooLarge = "cf.tls_client_auth.cert_rfc9440_too_large": Bool, "true when the RFC 9440 form exceeded the header size limit";
    CfTlsClientAuthCertChainRfc9440 = "cf.tls_client_auth.cert_chain_rfc9440": Str, "chain in RFC 9440 Client-Cert-Chain header form";
    CfTlsClientAuthCertChainRfc9440TooLarge = "cf.tls_client_auth.cert_chain_rfc9440_too_large": Bool, "true when the chain exceeded the header size limit";
    CfRandomSeed = "cf.random_seed": Bytes, "16 random bytes drawn once per request (for hash_in_range, uuidv4)";

    // --- Doorman's own facts ---
    DoormanIpVpn = "doorman.ip.vpn": Bool, "ip.src belongs to a known VPN provider (IP intelligence lists)";
    DoormanIpHosting = "doorman.ip.hosting": Bool, "ip.src belongs to a hosting / cloud provider network";
    DoormanIpTor = "doorman.ip.tor": Bool, "ip.src is a Tor exit node";
    DoormanIpProxy = "doorman.ip.proxy": Bool, "ip.src is a known open or anonymising proxy";
    DoormanIpLists = "doorman.ip.lists": ArrStr, "names of the configured IP lists that contain ip.src";
    DoormanReputationScore = "doorman.reputation.score": Int, "threat score of ip.src from Doorman's reputation store: 0 (clean) to 100 (known abusive)";
    DoormanBotScore = "doorman.bot.score": Int, "bot score: 1 (surely automated) to 99 (surely human), from Doorman's bot checks";
    DoormanBotSignals = "doorman.bot.signals": ArrStr, "names of the bot-check signals that fired (for example headless_ua, header_order)";
    DoormanBotVerified = "doorman.bot.verified": Bool, "the client is a verified good bot (reverse-DNS or signed-agent check passed)";
    DoormanBotCategory = "doorman.bot.category": Str, "category of the verified bot (Search Engine Crawler…), empty otherwise";
    DoormanAuthMethod = "doorman.auth.method": Str, "how the client authenticated: none, api_key, jwt or mtls";
    DoormanAuthKeyId = "doorman.auth.key_id": Str, "id of the API key presented and found (missing when none)";
    DoormanAuthSubject = "doorman.auth.subject": Str, "authenticated subject: the key's owner or the JWT sub";
    DoormanAuthScopes = "doorman.auth.scopes": ArrStr, "scopes granted to the key or token";
    DoormanClearance = "doorman.clearance": Str, "challenge clearance cookie state: none, valid, expired, invalid or wrong_ip";
    DoormanRoute = "doorman.route": Str, "name of the configured route the request matched";
    DoormanTlsJa4 = "doorman.tls.ja4": Str, "JA4 fingerprint of the TLS ClientHello";
    DoormanTlsJa3Hash = "doorman.tls.ja3_hash": Str, "JA3 fingerprint (MD5, hex) of the TLS ClientHello";
    DoormanRayId = "doorman.ray_id": Str, "the request's Ray ID (16 hex characters, a dash, the node name)";
    DoormanServerIp = "doorman.server.ip": Ip, "the local address that accepted the connection";
    DoormanServerPort = "doorman.server.port": Int, "the local port that accepted the connection";
}

/// Other names for fields. Each resolves to the same slot as its target.
static ALIASES: &[(&str, Field)] = &[
    ("ip.geoip.asnum", Field::IpSrcAsnum),
    ("ip.geoip.country", Field::IpSrcCountry),
    ("ip.geoip.continent", Field::IpSrcContinent),
    (
        "ip.geoip.subdivision_1_iso_code",
        Field::IpSrcSubdivision1IsoCode,
    ),
    (
        "ip.geoip.subdivision_2_iso_code",
        Field::IpSrcSubdivision2IsoCode,
    ),
    (
        "ip.geoip.is_in_european_union",
        Field::IpSrcIsInEuropeanUnion,
    ),
    ("cf.client.bot", Field::DoormanBotVerified),
    ("cf.bot_management.verified_bot", Field::DoormanBotVerified),
    ("cf.verified_bot_category", Field::DoormanBotCategory),
    ("cf.bot_management.score", Field::DoormanBotScore),
    ("cf.bot_management.ja4", Field::DoormanTlsJa4),
    ("cf.bot_management.ja3_hash", Field::DoormanTlsJa3Hash),
    ("cf.threat_score", Field::DoormanReputationScore),
    ("cf.ray_id", Field::DoormanRayId),
    ("cf.edge.server_ip", Field::DoormanServerIp),
    ("cf.edge.server_port", Field::DoormanServerPort),
    ("tcp.dstport", Field::DoormanServerPort),
];

/// Cloudflare fields (or name prefixes) that Doorman cannot fill. Using one is a compile
/// error that says so, rather than a rule that silently never matches.
static CLOUDFLARE_ONLY: &[&str] = &[
    "cf.waf.",
    "cf.llm.",
    "cf.api_gateway.",
    "cf.schema_validation.",
    "cf.timings.",
    "cf.worker.",
    "cf.hostname.metadata",
    "cf.bot_management.static_resource",
    "cf.bot_management.js_detection.passed",
    "cf.bot_management.detection_ids",
    "cf.bot_management.corporate_proxy",
    "cf.bot_management.signed_agent",
    "cf.edge.l4.delivery_rate",
    "cf.edge.client_tcp",
    "cf.response.",
    "tcp.flags",
    "udp.",
    "icmp.",
];

impl Field {
    /// The field's canonical name.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The field's type.
    pub fn ty(self) -> Type {
        self.def().ty.ty()
    }

    /// Where the gateway takes the value from (one sentence, for docs and `doorman trace`).
    pub fn source(self) -> &'static str {
        self.def().source
    }

    /// The slot number (dense, starting at 0).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field with this slot number.
    pub fn from_index(i: usize) -> Option<Field> {
        Field::ALL.get(i).copied()
    }

    fn def(self) -> &'static Def {
        // The macro builds DEFS and ALL from one list, so every discriminant indexes DEFS;
        // the fallback only exists to avoid a panic path.
        DEFS.get(self as usize).unwrap_or(&DEFS[0])
    }
}

/// A name known to the scheme, for introspection (`doorman trace`, generated docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// The name as written in expressions.
    pub name: &'static str,
    /// The field it designates (the same for an alias and its target).
    pub field: Field,
    /// The value type.
    pub ty: Type,
    /// Where the value comes from.
    pub source: &'static str,
    /// For an alias, the canonical name it stands for.
    pub alias_of: Option<&'static str>,
}

/// The set of fields an expression may use.
///
/// There is one built-in scheme ([`Scheme::builtin`]); the type exists so that the compiler's
/// signature says what it resolves names against, and so a future phase-restricted scheme
/// (for example request-only) can be added without changing callers.
#[derive(Debug)]
pub struct Scheme {
    by_name: HashMap<&'static str, Field>,
}

impl Scheme {
    /// The built-in scheme with every field and alias.
    pub fn builtin() -> &'static Scheme {
        static SCHEME: OnceLock<Scheme> = OnceLock::new();
        SCHEME.get_or_init(|| {
            let mut by_name = HashMap::new();
            for &f in Field::ALL {
                by_name.insert(f.name(), f);
            }
            for &(alias, f) in ALIASES {
                by_name.insert(alias, f);
            }
            Scheme { by_name }
        })
    }

    /// Resolves a field name or alias.
    pub fn lookup(&self, name: &str) -> Option<Field> {
        self.by_name.get(name).copied()
    }

    /// Number of slots an evaluation context needs.
    pub fn slot_count(&self) -> usize {
        Field::ALL.len()
    }

    /// Every name the scheme accepts: fields first (in slot order), then aliases.
    pub fn fields(&self) -> Vec<FieldInfo> {
        let mut out: Vec<FieldInfo> = Field::ALL
            .iter()
            .map(|&f| FieldInfo {
                name: f.name(),
                field: f,
                ty: f.ty(),
                source: f.source(),
                alias_of: None,
            })
            .collect();
        out.extend(ALIASES.iter().map(|&(alias, f)| FieldInfo {
            name: alias,
            field: f,
            ty: f.ty(),
            source: f.source(),
            alias_of: Some(f.name()),
        }));
        out
    }

    /// All accepted names (for "did you mean" suggestions).
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    /// True when `name` is a Cloudflare field Doorman does not provide.
    pub(crate) fn is_cloudflare_only(name: &str) -> bool {
        CLOUDFLARE_ONLY.iter().any(|p| {
            if p.ends_with('.') {
                name.starts_with(p)
            } else {
                name == *p || name.starts_with(&format!("{p}."))
            }
        })
    }
}
