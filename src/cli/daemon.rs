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
}

pub fn daemon(dd: &DataDir, args: DaemonArgs, out: Output) -> Result<()> {
    let config = dd.config()?;
    cairn::logging::init(&config.node.log);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
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
        .await
    })?;
    Ok(())
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    shutdown.cancel();
}
