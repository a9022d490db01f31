//! The one place that sets up tracing.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber: `filter` in `EnvFilter` syntax, `format` `json` or text. Logs go to
/// stderr so that `tessera events export` can write JSON lines to stdout.
pub fn init(filter: &str, format: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
