//! Bot signals as the core sees them: a score and the named signals that produced it, computed
//! by the server from the request's headers and TLS handshake (crate `doorman-botcheck`) and
//! read by rules as `doorman.bot.score` / `cf.bot_management.score` and `doorman.bot.signals`.
//!
//! A rule that blocks on them with code 1010 gets a receipt that names each inconsistency in
//! plain words ("your browser says Chrome 131 but did not send Sec-CH-UA…") with its fix,
//! instead of the bare "browser signature" people get elsewhere.

/// The bot assessment of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BotFacts {
    /// Cloudflare's scale: 1 (surely automated) to 99 (surely human).
    pub score: u8,
    /// The signals that fired, strongest first.
    pub signals: Vec<BotSignal>,
}

/// One signal that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSignal {
    /// Stable id (`chrome_without_client_hints`, `ua_missing`, …).
    pub id: String,
    /// What was seen, in plain words, for the person blocked.
    pub explanation: String,
    /// What they can do about it.
    pub remedy: String,
}

impl BotFacts {
    /// The signal ids, for `doorman.bot.signals`.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.signals.iter().map(|s| s.id.as_str())
    }
}
