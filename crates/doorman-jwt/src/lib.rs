//! JWT verification for Doorman (being built).
