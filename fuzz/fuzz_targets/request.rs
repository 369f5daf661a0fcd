//! Fuzz target: request-head handling and the canonical request. The input is a raw HTTP/1.1
//! request head as a client could send it.
//!
//! 1. The head as hyper would take it: parsed with httparse (as hyper does), its target and Host
//!    headers turned into an `http` request; then the canonical form of doorman-core: the one
//!    authority (`request_authority`), the normalized path (`normalize_path`, every type) and the
//!    protocol switch (`upgrade_request`). Oracles: no panic; a normalized path starts with `/`
//!    when the raw one did, holds only bytes a URI path may hold, has no `.`/`..` segment (and,
//!    for the Cloudflare type, no empty segment but the last), parses as an `http` path, and
//!    normalizes to itself; an accepted authority read from a canonical Host is spelled as received, and
//!    its canonical spelling re-parses to itself.
//! 2. Arbitrary text as a path, for each normalization type: the same oracles on any string.
//! 3. The head as hyper would refuse it: `doorman_server::malformed::diagnose`, which words the
//!    receipt for a head hyper answered 400, 414 or 431, for each of those statuses. Oracles: no
//!    panic; the code matches the status (400 BAD_REQUEST or 431 HEADERS_TOO_LARGE); the reason
//!    and a remedy are there, on one line.

#![no_main]

use doorman_core::canonical::{
    NormalizationType, normalize_path, request_authority, upgrade_request,
};
use doorman_core::Code;
use doorman_server::malformed::{HeadLimits, diagnose};
use libfuzzer_sys::fuzz_target;

const TYPES: [NormalizationType; 3] = [
    NormalizationType::Cloudflare,
    NormalizationType::Rfc3986,
    NormalizationType::None,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_path(text);
    }
    check_head(data);
    check_refusal(data);
});

fn check_refusal(head: &[u8]) {
    let limits = HeadLimits {
        max_header_bytes: 1024,
        max_headers: 16,
    };
    for status in [400, 414, 431] {
        let m = diagnose(head, status, &limits);
        assert_eq!(m.status, m.code.default_status(), "{m:?}");
        assert!(matches!(m.code, Code::BadRequest | Code::HeadersTooLarge), "{m:?}");
        assert!(!m.reason.is_empty() && !m.reason.contains('\n'), "{m:?}");
        assert!(!m.remedies.is_empty(), "{m:?}");
    }
}

fn check_path(raw: &str) {
    for kind in TYPES {
        let normal = normalize_path(raw, kind);
        let path: &str = &normal.path;
        if kind == NormalizationType::None || !raw.starts_with('/') {
            assert_eq!(path, raw, "only normalization changes a path");
            continue;
        }
        assert!(path.starts_with('/'), "{raw:?} → {path:?}");
        assert!(
            path.bytes().all(|b| b.is_ascii_graphic()),
            "{raw:?} → {path:?} holds a byte a path may not"
        );
        let segments: Vec<&str> = path[1..].split('/').collect();
        let last = segments.len() - 1;
        for (i, s) in segments.iter().enumerate() {
            assert!(*s != "." && *s != "..", "{raw:?} → {path:?} keeps a dot segment");
            if kind == NormalizationType::Cloudflare {
                assert!(
                    !s.is_empty() || i == last,
                    "{raw:?} → {path:?} keeps an empty segment"
                );
                assert!(!s.contains('\\'), "{raw:?} → {path:?} keeps a backslash");
            }
        }
        assert!(
            http::uri::PathAndQuery::try_from(path).is_ok(),
            "{raw:?} → {path:?} is not a valid URI path"
        );
        let again = normalize_path(path, kind);
        assert_eq!(again.path, path, "normalizing {raw:?} twice changed it");
    }
}

fn check_head(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else {
        return;
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return;
    };
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target)
        .version(if version == 1 {
            http::Version::HTTP_11
        } else {
            http::Version::HTTP_10
        });
    for h in req.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    // What hyper would refuse before Doorman sees it is not Doorman's to canonicalize.
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    check_path(parts.uri.path());
    let _ = upgrade_request(&parts.headers, parts.version);
    if let Ok(authority) = request_authority(&parts.uri, &parts.headers, parts.version) {
        let spelled = authority.host_header();
        if authority.canonical {
            let host = parts.headers.get(http::header::HOST).expect("read from a Host header");
            assert_eq!(host.as_bytes(), spelled.as_bytes(), "{authority:?} is not spelled as received");
        }
        if !authority.host.is_empty() {
            let mut again = http::HeaderMap::new();
            again.insert(http::header::HOST, spelled.parse().expect("a valid header"));
            let root = http::Uri::from_static("/");
            let reparsed = request_authority(&root, &again, http::Version::HTTP_11)
                .expect("the canonical host parses");
            assert!(reparsed.canonical, "{spelled:?} reads back as canonical");
            assert_eq!(
                (&reparsed.host, reparsed.port),
                (&authority.host, authority.port),
                "the canonical host reads back the same"
            );
        }
    }
}
