//! `cairn daemon`: run the node headless until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use cairn::datadir::DataDir;
use cairn::node::{self, NodeOptions};

use super::Output;

#[derive(Debug, Default, clap::Args)]
pub struct DaemonArgs {
    /// Transport listen address (repeatable; default: node.listen in config.toml).
    /// Port 0 picks a free port; the bound address is printed.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Loopback address for the local API (default: api.listen in config.toml).
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<SocketAddr>,
    /// Do not advertise or look for nodes on the LAN (overrides peers.mdns).
    #[arg(long)]
    pub no_mdns: bool,
}

pub fn daemon(dd: &DataDir, args: DaemonArgs, out: Output) -> Result<()> {
    // Before the runtime starts its threads.
    cairn_transport::malloc::tune();
    let mut config = dd.config()?;
    if args.no_mdns {
        config.peers.mdns = false;
    }
    cairn::logging::init(&config.node.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // Handlers are registered before the node starts, so a signal that
        // arrives right after the ready line is never lost.
        let signals = Signals::register()?;
        tokio::spawn(signals.cancel_on_signal(shutdown.clone()));
        let opts = NodeOptions {
            listen: (!args.listen.is_empty()).then_some(args.listen),
            api_listen: args.api_listen,
        };
        node::run(dd, config, opts, shutdown, |ready| {
            // One line on stdout, flushed: scripts and tests wait for it.
            out.print_line(ready, |r| {
                let listen: Vec<String> = r.listen.iter().map(|a| a.to_string()).collect();
                format!(
                    "cairn node {} listening on {} (API {})\nticket {}",
                    r.node_id,
                    listen.join(", "),
                    r.api,
                    r.ticket
                )
            });
            use std::io::Write;
            let _ = std::io::stdout().flush();
        })
        .await?;
        anyhow::Ok(())
    })
}

/// Ctrl-C and SIGTERM, registered eagerly.
pub(super) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn register() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub(super) async fn cancel_on_signal(mut self, shutdown: CancellationToken) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    }
}
