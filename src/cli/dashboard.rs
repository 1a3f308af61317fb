//! `cairn dashboard` (attach to the data directory's running daemon) and
//! `cairn` with no command (run the node in this process with the dashboard
//! on top; headless when stdout is not a terminal).

use std::io::IsTerminal;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use cairn::api::client::ApiClient;
use cairn::api::token::Token;
use cairn::dashboard::remote::{self, Target};
use cairn::datadir::DataDir;
use cairn::node::{self, NodeError, NodeOptions, Ready};

use super::Output;
use super::daemon::{self, Signals};

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn require_terminal() -> Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal (stdout is not one)");
    }
    Ok(())
}

/// `cairn dashboard`: attach to the running daemon of `dd`.
pub fn dashboard(dd: &DataDir) -> Result<()> {
    // "No daemon" first: it is the likelier mistake and has its own exit code.
    ApiClient::for_data_dir(dd.root())?;
    require_terminal()?;
    let rt = runtime()?;
    rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(Signals::register()?.cancel_on_signal(stop.clone()));
        remote::attach(Target::DataDir(dd.root().to_owned()), Vec::new(), stop)
            .await
            .map_err(attach_error)?;
        anyhow::Ok(())
    })
}

/// `cairn`: the node in this process with the dashboard attached to its own
/// API; when a daemon already runs for `dd`, attach to it instead. Without a
/// terminal on stdout, run headless exactly like `cairn daemon`.
pub fn local(dd: &DataDir, out: Output) -> Result<()> {
    if !std::io::stdout().is_terminal() {
        return daemon::daemon(dd, daemon::DaemonArgs::default(), out);
    }
    // The node runs in this process: its allocator settings, before the
    // runtime starts its threads.
    cairn_transport::malloc::tune();
    let config = dd.config()?;
    // Logs go to the Logs tab only: stderr would tear the dashboard.
    cairn::logging::init_dashboard(&config.node.log);
    let rt = runtime()?;
    rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(Signals::register()?.cancel_on_signal(stop.clone()));
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Ready>();
        let node_dd = dd.clone();
        let node_shutdown = shutdown.clone();
        let node_task = tokio::spawn(async move {
            node::run(
                &node_dd,
                config,
                NodeOptions::default(),
                node_shutdown,
                |r| {
                    let _ = ready_tx.send(r.clone());
                },
            )
            .await
        });
        let ready = match ready_rx.await {
            Ok(ready) => ready,
            // The node stopped before it was ready: say why.
            Err(_) => match node_task.await? {
                Err(NodeError::Locked(_)) => {
                    // A daemon already runs for this directory: use it.
                    let target = Target::DataDir(dd.root().to_owned());
                    remote::attach(target, Vec::new(), stop)
                        .await
                        .map_err(attach_error)?;
                    return anyhow::Ok(());
                }
                Err(e) => return Err(e.into()),
                Ok(()) => anyhow::bail!("the node stopped before it was ready"),
            },
        };
        let client = ApiClient::new(ready.api, Token::load(dd.root())?);
        let result = remote::attach(Target::Client(client), Vec::new(), stop)
            .await
            .map_err(attach_error);
        // Quitting the dashboard stops the node, cleanly.
        shutdown.cancel();
        let stopped = node_task.await;
        result?;
        stopped??;
        anyhow::Ok(())
    })
}

/// The attach error with a client error unwrapped, so the exit code
/// classifies it (no daemon: 7).
pub(super) fn attach_error(e: remote::AttachError) -> anyhow::Error {
    match e {
        remote::AttachError::Client(c) => c.into(),
        other => other.into(),
    }
}
