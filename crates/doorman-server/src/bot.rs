//! The bot assessment of a request, for rules that read `doorman.bot.*`: header consistency
//! against the browser the User-Agent claims, automation signatures, and the TLS fingerprint's
//! family against the User-Agent (crate `doorman-botcheck`).
//!
//! Computed only when the policy's rules read a bot field (about a microsecond and a half per
//! request otherwise spent for nothing).

use doorman_botcheck::{RequestView, assess};
use doorman_core::bot::{BotFacts, BotSignal};
use doorman_core::facts::{Scheme, TlsFacts};
use http::{HeaderMap, Method, Version};

/// Scores a request.
pub fn facts(
    method: &Method,
    path: &str,
    version: Version,
    headers: &HeaderMap,
    scheme: Scheme,
    tls: Option<&TlsFacts>,
) -> BotFacts {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let mut view = RequestView::new(method.as_str(), path, version, &pairs);
    view.secure = scheme == Scheme::Https;
    let ja4 = tls.and_then(|t| t.ja4.as_deref());
    view.ja4 = ja4;
    let assessment = assess(&view);
    BotFacts {
        score: assessment.cloudflare_score(),
        signals: assessment
            .signals
            .iter()
            .map(|s| BotSignal {
                id: s.id.as_str().to_owned(),
                explanation: s.explanation.clone(),
                remedy: s.remedy.to_owned(),
            })
            .collect(),
    }
}
