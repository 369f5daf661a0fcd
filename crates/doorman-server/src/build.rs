//! What this binary was built from: the version, and the git commit and its date that the build
//! script (`build.rs`) found. `doorman_build_info` reports them, and `doorman --version` can.

/// The workspace version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit, `DOORMAN_COMMIT` from the build's environment, or "unknown".
pub const COMMIT: &str = env!("DOORMAN_COMMIT");

/// The commit's date (`YYYY-MM-DD`), `DOORMAN_COMMIT_DATE` from the build's environment, or
/// "unknown". The commit's, not the build's, so that the same source builds the same binary.
pub const COMMIT_DATE: &str = env!("DOORMAN_COMMIT_DATE");
