//! API keys for Doorman (being built).
