//! Logging: `tracing` events to stderr, filtered by `RUST_LOG` when set, else
//! by the `node.log` setting of config.toml; every event that passes the
//! filter is also kept in the node's log ring ([`LogBuf::global`]) for the
//! dashboard's Logs tab.
//!
//! Two shapes: [`init`] for the headless daemon and the CLI (stderr + ring),
//! [`init_dashboard`] for `cairn` with the dashboard in the same terminal,
//! where writing to stderr would tear the screen (ring only).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::node::logbuf::LogBuf;

fn filter(config_filter: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(config_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Install the global subscriber: stderr and the log ring. Calling it twice
/// is harmless (the second call changes nothing), so tests and the binary
/// can both call it.
pub fn init(config_filter: &str) {
    let _ = tracing_subscriber::registry()
        .with(filter(config_filter))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(true),
        )
        .with(LogBuf::global().layer())
        .try_init();
}

/// Install the global subscriber with the log ring only: nothing is written
/// to the terminal, the dashboard's Logs tab shows the events.
pub fn init_dashboard(config_filter: &str) {
    let _ = tracing_subscriber::registry()
        .with(filter(config_filter))
        .with(LogBuf::global().layer())
        .try_init();
}
