//! Logging: `tracing` events to stderr, filtered by `RUST_LOG` when set, else
//! by the `node.log` setting of config.toml.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Calling it twice is harmless (the second
/// call changes nothing), so tests and the binary can both call it.
pub fn init(config_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(config_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
