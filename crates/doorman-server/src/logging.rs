//! Log set-up: JSON or human-readable lines through tracing, written by a background thread so
//! that a slow terminal or pipe never stalls a request. The channel is bounded; when it is full,
//! lines are dropped (and tracing-appender counts them) rather than blocking.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Keep the guard alive for the life of the process: dropping it
/// flushes the remaining lines.
pub fn init(json: bool, level: &str) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(64 * 1024)
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = result;
    guard
}
