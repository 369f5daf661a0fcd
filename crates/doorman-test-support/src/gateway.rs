//! Gateways for tests, configured from TOML text exactly as an operator would: in this process
//! (feature `in-process`: a real demo origin and a real gateway on ephemeral loopback ports), or
//! the `doorman` binary as a child process ([`process`]).

pub mod process;

#[cfg(feature = "in-process")]
mod in_process;
#[cfg(feature = "in-process")]
pub use in_process::*;

/// Asks `done` every 50 ms until it says yes; fails the test naming `what` after `secs` seconds.
/// For what a gateway does on its own time (health checks, incidents, the event log): a test
/// waits for the state rather than sleeping for a guess.
pub async fn until(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(secs),
            "never happened: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
