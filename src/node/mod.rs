//! The daemon: owns the transport endpoint, the local API and (as they are
//! added) the node's services, and shuts them all down together.
//!
//! Shape: every long-lived part is a task that owns its state, listens to one
//! `CancellationToken`, and is reached through a cheap handle or a bounded
//! channel. `run` starts them, reports readiness once everything is bound, and
//! returns when the token is cancelled (Ctrl-C / SIGTERM in the binary) and
//! every part has stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_transport::{Endpoint, Identity, Router};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::server::{self as api_server, ApiState, NodeInfo};
use crate::api::token::Token;
use crate::config::Config;
use crate::datadir::{DataDir, DataDirError};
use crate::net::ConnPool;
use crate::peers::{self, Backoff, BookRules, PeerBook, PeerService, ServiceOptions};
use crate::store::{Store, StoreError};
use crate::ticket::{Ticket, TicketError};

/// How long one block request to one peer may take before the next holder
/// is asked (a shard is at most a few MiB on a LAN or a home uplink).
const EXCHANGE_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Hosted blocks waiting to be announced in the DHT.
const HOSTED_ANNOUNCE_QUEUE: usize = 4096;
/// Longest wait at shutdown for the DHT's last write of its records.
const DHT_FLUSH_WAIT: Duration = Duration::from_secs(5);
/// A connection that lives this long resets its peer's redial backoff.
const REDIAL_STABLE: Duration = Duration::from_secs(10);
/// `pair/1` streams queued for the peer service before the router drops new
/// ones. Deep enough that one peer flooding opens (which the service drops
/// beyond two per peer as fast as it reads them) does not crowd out others.
const PAIR_INBOX: usize = 256;

/// The peer book's rules from config `[peers]`.
fn book_rules(config: &Config) -> BookRules {
    let p = &config.peers;
    BookRules {
        default_permissions: crate::api::snapshot::Permissions {
            store: p.store,
            fetch: p.fetch,
            compute: p.compute,
            relay: p.relay,
        },
        ban_after_offences: p.ban_after_offences,
    }
}

pub mod store_service;
pub mod transfers;

use store_service::StoreService;
pub mod discovery;
pub mod files_view;
pub mod logbuf;
pub mod providing;
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
    #[error("cannot open the peer book: {0}")]
    PeerBook(#[from] peers::BookError),
    #[error("a ticket in peers.bootstrap is malformed: {0}")]
    Bootstrap(#[source] TicketError),
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
    let mut snapshot_sources = snapshot::Sources {
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
        // Files and peers are added once the pool and the peer book exist.
        extra: vec![files_view::transfers_extra(store.transfers().clone())],
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

    // The peer book is opened (and bootstrap tickets checked) before
    // anything is served, so a bad file or config stops the start cleanly.
    let book = PeerBook::open(&dd.path(peers::BOOK_FILE), book_rules(&config))?;
    let bootstrap = config
        .peers
        .bootstrap
        .iter()
        .map(|t| t.parse::<Ticket>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(NodeError::Bootstrap)?;

    // The one place streams are routed: each service adds its protocol here.
    let (pair_tx, pair_rx) = mpsc::channel(PAIR_INBOX);
    let dht_inbound = crate::dht::service::Inbound::new(&config.dht);
    let (blocks_tx, blocks_rx) = crate::exchange::inbox();
    let router = Router::new()
        .route(peers::pair::PROTOCOL, pair_tx)
        .route(crate::dht::service::PROTOCOL, dht_inbound.sender())
        .route(crate::exchange::PROTOCOL, blocks_tx);

    // One pool over the first endpoint dials and owns every connection; every
    // endpoint's inbound connections are adopted into it.
    let pool = ConnPool::new(endpoints[0].clone(), router, shutdown.clone());
    let mut tasks = JoinSet::new();
    let peer_service = PeerService::start(
        book,
        pool.clone(),
        ServiceOptions {
            ticket: ticket.clone(),
            bootstrap,
            backoff: Backoff {
                min: Duration::from_millis(config.peers.redial_min_ms.max(1)),
                max: Duration::from_millis(
                    config
                        .peers
                        .redial_max_ms
                        .max(config.peers.redial_min_ms.max(1)),
                ),
                stable: REDIAL_STABLE,
            },
            pairing_ttl: Duration::from_secs(config.peers.pairing_ttl_secs),
        },
        pair_rx,
        &mut tasks,
        shutdown.clone(),
    );
    if config.peers.mdns {
        tasks.spawn(peers::mdns::run(
            peer_service.clone(),
            bound[0].port(),
            shutdown.clone(),
        ));
    }
    let policy: Arc<dyn crate::net::PeerPolicy> = Arc::new(peer_service.book().clone());
    let dht = crate::dht::service::spawn_persistent(
        pool.clone(),
        policy.clone(),
        dht_inbound,
        crate::dht::Config {
            listen_addrs: ticket.addrs.clone(),
            ..Default::default()
        },
        config.dht.clone(),
        dd.path(crate::dht::service::persist::FILE),
        shutdown.clone(),
    );
    // Block exchange: serves and fetches blocks, places the shards of adds
    // on peers, reads missing shards from holders or DHT providers; the
    // blocks it agrees to host are announced in the DHT.
    let (hosted_tx, hosted_rx) = mpsc::channel(HOSTED_ANNOUNCE_QUEUE);
    let exchange = crate::exchange::spawn(
        pool.clone(),
        store.store().clone(),
        policy.clone(),
        Arc::new(providing::DhtProviders(dht.clone())),
        crate::exchange::ExchangeConfig {
            limits: (&config.exchange).into(),
            keep_local: config.placement.keep_local,
            hosted: Some(hosted_tx),
            request_timeout: EXCHANGE_REQUEST_TIMEOUT,
            public_filter: (&config.host).into(),
            ..Default::default()
        },
        blocks_rx,
        shutdown.clone(),
    );
    crate::exchange::install(&exchange, tokio::runtime::Handle::current(), true);
    tasks.spawn(providing::announce(
        dht.clone(),
        store.store().clone(),
        hosted_rx,
        shutdown.clone(),
    ));
    tasks.spawn(discovery::run(
        dht.clone(),
        peer_service.book().clone(),
        shutdown.clone(),
    ));
    {
        let p = pool.clone();
        snapshot_sources.extra.push(files_view::files_extra(
            store.store().clone(),
            *node_id.as_bytes(),
            Arc::new(move || {
                p.connected_peers()
                    .iter()
                    .map(|id| *id.as_bytes())
                    .collect()
            }),
        ));
        snapshot_sources
            .extra
            .push(files_view::peers_extra(peer_service.book().clone()));
    }
    let api_state = api_state
        .with_peers(peer_service)
        .with_dht(dht.clone())
        .with_exchange(exchange.clone());
    tasks.spawn(serve_api(api_listener, api_state, shutdown.clone()));
    tasks.spawn(snapshot::run(snapshot_sources, snap_tx, shutdown.clone()));
    for ep in &endpoints {
        let pool = pool.clone();
        let ep = ep.clone();
        tasks.spawn(async move { pool.accept_from(ep).await });
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
    // The DHT writes the provider records it holds for others last.
    if tokio::time::timeout(DHT_FLUSH_WAIT, dht.stopped())
        .await
        .is_err()
    {
        warn!("the DHT did not finish writing its records in time");
    }
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
