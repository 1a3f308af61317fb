//! The daemon: owns the transport endpoint, the local API and (as they are
//! added) the node's services, and shuts them all down together.
//!
//! Shape: every long-lived part is a task that owns its state, listens to one
//! `CancellationToken`, and is reached through a cheap handle or a bounded
//! channel. `run` starts them, reports readiness once everything is bound, and
//! returns when the token is cancelled (Ctrl-C / SIGTERM in the binary) and
//! every part has stopped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use cairn_transport::{Connection, Endpoint, Identity, Router};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::server::{self as api_server, ApiState, NodeInfo};
use crate::api::token::Token;
use crate::config::Config;
use crate::datadir::{DataDir, DataDirError};
use crate::store::{Store, StoreError};
use crate::ticket::Ticket;

pub mod store_service;
pub mod transfers;

use store_service::StoreService;
pub mod files_view;
pub mod logbuf;
pub mod snapshot;

/// Where the daemon listens; `None` takes the value from config.toml.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    pub listen: Option<Vec<SocketAddr>>,
    pub api_listen: Option<SocketAddr>,
}

/// What the daemon bound, reported once it is ready to serve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ready {
    pub node_id: String,
    pub listen: Vec<SocketAddr>,
    pub api: SocketAddr,
    pub ticket: String,
}

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("another cairn daemon is already running on {0}")]
    Locked(String),
    #[error("cannot lock the data directory {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    #[error("no listen address configured (node.listen is empty)")]
    NoListen,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: cairn_transport::ConnectionError,
    },
    #[error(transparent)]
    Api(#[from] api_server::ServeError),
    #[error(transparent)]
    Token(#[from] crate::api::token::TokenError),
    #[error("cannot open the store")]
    Store(#[source] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Run the daemon until `shutdown` is cancelled.
pub async fn run(
    dd: &DataDir,
    config: Config,
    opts: NodeOptions,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(&Ready),
) -> Result<(), NodeError> {
    let _lock = lock(dd)?;
    let keys = dd.keys()?;
    let identity = Identity::from_secret_bytes(*keys.identity, *keys.noise_static);
    let node_id = identity.node_id();

    let listen = opts.listen.unwrap_or_else(|| config.node.listen.clone());
    if listen.is_empty() {
        return Err(NodeError::NoListen);
    }
    let mut endpoints = Vec::with_capacity(listen.len());
    for addr in &listen {
        let ep = Endpoint::bind(identity.clone(), config.transport.clone(), *addr)
            .await
            .map_err(|source| NodeError::Listen {
                addr: *addr,
                source,
            })?;
        endpoints.push(ep);
    }
    let bound: Vec<SocketAddr> = endpoints.iter().map(|e| e.local_addr()).collect();
    let ticket = Ticket {
        node_id: *node_id.as_bytes(),
        addrs: if config.node.announce.is_empty() {
            crate::addrs::expand(&bound)
        } else {
            config.node.announce.clone()
        },
        secret: None,
    };

    // The daemon is the store's one owner while it runs: CLI commands reach
    // it through the API instead of waiting on the database lock.
    let store_dd = dd.clone();
    let store = tokio::task::spawn_blocking(move || Store::open_datadir(&store_dd))
        .await
        .map_err(|e| NodeError::Store(StoreError::Db(format!("store task failed: {e}"))))?
        .map_err(NodeError::Store)?;
    let store = StoreService::new(store);
    let token = Token::load_or_create(dd.root())?;
    let api_listener = api_server::bind(opts.api_listen.unwrap_or(config.api.listen)).await?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| NodeError::Write {
            path: "api listener".into(),
            source,
        })?;
    let started = Instant::now();
    let (snap_tx, snap_rx) = tokio::sync::watch::channel(crate::api::snapshot::Snapshot::default());
    let snapshot_sources = snapshot::Sources {
        node: crate::api::snapshot::NodeSummary {
            node_id: node_id.to_string(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            addresses: ticket.addrs.iter().map(|a| a.to_string()).collect(),
            ticket: ticket.to_string(),
            uptime_secs: 0,
            data_dir: dd.root().display().to_string(),
        },
        started,
        endpoints: endpoints.clone(),
        store_stats: Some(snapshot::cached_store_stats(store.store().clone())),
        logs: logbuf::LogBuf::global().clone(),
        data_dir: dd.root().to_path_buf(),
        // The peers and market services add theirs here.
        extra: vec![
            files_view::files_extra(
                store.store().clone(),
                *node_id.as_bytes(),
                Arc::new(HashSet::new),
            ),
            files_view::transfers_extra(store.transfers().clone()),
        ],
    };
    let api_state = ApiState::new(
        token,
        NodeInfo {
            node_id: node_id.to_string(),
            listen: bound.clone(),
            ticket: ticket.to_string(),
            data_dir: dd.root().display().to_string(),
            started,
        },
    )
    .with_store(store.clone())
    .with_snapshots(snap_rx);
    write_addr_file(dd, api_addr)?;

    // Services register their protocols here as they are added.
    let router = Router::new();

    let mut tasks = JoinSet::new();
    tasks.spawn(serve_api(api_listener, api_state, shutdown.clone()));
    tasks.spawn(snapshot::run(snapshot_sources, snap_tx, shutdown.clone()));
    for ep in &endpoints {
        tasks.spawn(accept_loop(ep.clone(), router.clone(), shutdown.clone()));
    }

    let ready = Ready {
        node_id: node_id.to_string(),
        listen: bound,
        api: api_addr,
        ticket: ticket.to_string(),
    };
    info!(node = %ready.node_id, listen = ?ready.listen, api = %ready.api, "node ready");
    on_ready(&ready);

    shutdown.cancelled().await;
    info!("shutting down");
    // Stop the transfers first, so the API's in-flight requests can end.
    store.transfers().cancel_all();
    for ep in &endpoints {
        ep.close().await;
    }
    while tasks.join_next().await.is_some() {}
    store.close().await;
    let _ = std::fs::remove_file(dd.path(crate::api::ADDR_FILE));
    info!("stopped");
    Ok(())
}

async fn serve_api(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) {
    if let Err(e) = api_server::serve(listener, state, shutdown).await {
        warn!(error = %e, "local API stopped with an error");
    }
}

/// Accept connections until shutdown; each gets a task that routes its
/// streams. The endpoint enforces the connection limits.
async fn accept_loop(endpoint: Endpoint, router: Router, shutdown: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            conn = endpoint.accept() => match conn {
                Some(conn) => {
                    info!(peer = %conn.remote_node_id(), addr = %conn.remote_addr(), "peer connected");
                    conns.spawn(serve_connection(conn, router.clone(), shutdown.clone()));
                }
                None => break,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

async fn serve_connection(conn: Connection, router: Router, shutdown: CancellationToken) {
    let peer = conn.remote_node_id();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = router.serve(conn.clone()) => {}
    }
    conn.close();
    info!(%peer, "peer disconnected");
}

/// Hold an exclusive lock on the data directory for the daemon's lifetime.
fn lock(dd: &DataDir) -> Result<std::fs::File, NodeError> {
    let path = dd.path("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| NodeError::Lock {
            path: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(NodeError::Locked(dd.root().display().to_string()))
        }
        Err(std::fs::TryLockError::Error(source)) => Err(NodeError::Lock {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Write the API address atomically, for clients to find the daemon.
fn write_addr_file(dd: &DataDir, addr: SocketAddr) -> Result<(), NodeError> {
    let path = dd.path(crate::api::ADDR_FILE);
    let tmp = dd.path("api.addr.tmp");
    let err = |source| NodeError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&tmp, format!("{addr}\n")).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)
}
