//! TOML snippets that many tests' configs repeat. Configs stay whole TOML text in the tests (they
//! are what an operator would write); only the parts no test is about come from here.

/// One listener and the admin API, each on an ephemeral loopback port: a fixed port would collide
/// with other tests' gateways (the admin default, 9090, included).
pub const LOOPBACK_LISTENERS: &str = r#"[[listeners]]
addr = "127.0.0.1:0"

[admin]
addr = "127.0.0.1:0""#;
