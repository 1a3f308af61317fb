//! The API server: axum routes behind a bearer-token check, on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

mod broken;
mod store;
pub use broken::STREAM_HEADER;

use super::token::Token;
use super::types::{ApiError, ApiErrorKind, Status};

/// What the API knows of the node that does not change while it runs.
#[derive(Debug)]
pub struct NodeInfo {
    pub node_id: String,
    pub listen: Vec<SocketAddr>,
    pub ticket: String,
    pub data_dir: String,
    pub started: Instant,
}

/// Shared state of the API's handlers: cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    token: Token,
    node: Arc<NodeInfo>,
    /// The daemon's store, when it runs one (the store routes need it).
    store: Option<crate::node::store_service::StoreService>,
    snapshots: Option<tokio::sync::watch::Receiver<super::snapshot::Snapshot>>,
    peers: Option<crate::peers::PeerService>,
    dht: Option<crate::dht::service::DhtHandle>,
    exchange: Option<crate::exchange::ExchangeHandle>,
    /// Why streamed answers broke off (see [`broken`]).
    broken: Arc<broken::BrokenStreams>,
}

impl ApiState {
    pub fn new(token: Token, node: NodeInfo) -> ApiState {
        ApiState {
            token,
            node: Arc::new(node),
            store: None,
            snapshots: None,
            peers: None,
            dht: None,
            exchange: None,
            broken: Arc::default(),
        }
    }

    /// Serve `/v1/limits` from this exchange.
    pub fn with_exchange(mut self, ex: crate::exchange::ExchangeHandle) -> ApiState {
        self.exchange = Some(ex);
        self
    }

    /// The node's block exchange, when it runs one.
    pub fn exchange(&self) -> Option<&crate::exchange::ExchangeHandle> {
        self.exchange.as_ref()
    }

    /// Serve `GET /v1/dht` from this DHT.
    pub fn with_dht(mut self, dht: crate::dht::service::DhtHandle) -> ApiState {
        self.dht = Some(dht);
        self
    }

    /// The node's DHT, when it runs one.
    pub fn dht(&self) -> Option<&crate::dht::service::DhtHandle> {
        self.dht.as_ref()
    }

    /// Serve the store routes from this store.
    pub fn with_store(mut self, store: crate::node::store_service::StoreService) -> ApiState {
        self.store = Some(store);
        self
    }

    /// Serve the node's snapshots (see [`super::feed`]).
    pub fn with_snapshots(
        mut self,
        rx: tokio::sync::watch::Receiver<super::snapshot::Snapshot>,
    ) -> ApiState {
        self.snapshots = Some(rx);
        self
    }

    /// The node's snapshot feed, when it publishes one.
    pub fn snapshots(&self) -> Option<tokio::sync::watch::Receiver<super::snapshot::Snapshot>> {
        self.snapshots.clone()
    }

    /// Serve the peer routes from `svc`.
    pub fn with_peers(mut self, svc: crate::peers::PeerService) -> ApiState {
        self.peers = Some(svc);
        self
    }

    /// The peer service, when the node runs one.
    pub fn peers(&self) -> Option<&crate::peers::PeerService> {
        self.peers.as_ref()
    }
}

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("the local API must bind a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot bind the local API on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Bind the API's listener, refusing any non-loopback address.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// The routes, with the token check in front of all of them.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .merge(store::routes())
        .merge(super::feed::routes())
        .merge(super::peers::routes())
        .merge(super::dht::routes())
        .merge(super::limits::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// Serve until `shutdown` is cancelled; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// An API error as an HTTP response with a JSON body.
pub struct ErrorResponse(pub StatusCode, pub ApiError);

impl ErrorResponse {
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> ErrorResponse {
        let status = match kind {
            ApiErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ApiErrorKind::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
            ApiErrorKind::Integrity => StatusCode::UNPROCESSABLE_ENTITY,
            ApiErrorKind::Cancelled => StatusCode::CONFLICT,
            ApiErrorKind::Refused => StatusCode::FORBIDDEN,
            ApiErrorKind::Unreachable => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ErrorResponse(
            status,
            ApiError {
                kind,
                message: message.into(),
            },
        )
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

async fn require_token(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(t) if state.token.matches(t.trim()) => next.run(req).await,
        _ => ErrorResponse::new(
            ApiErrorKind::Unauthorized,
            "missing or wrong API token (see api.token in the data directory)",
        )
        .into_response(),
    }
}

async fn not_found() -> ErrorResponse {
    ErrorResponse::new(ApiErrorKind::NotFound, "no such API endpoint")
}

/// A known path with a method it does not take: 405, with the API's error
/// object (kind `invalid_input`) rather than an empty body.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ErrorResponse {
    ErrorResponse(
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError {
            kind: ApiErrorKind::InvalidInput,
            message: format!("{} does not take {method}", uri.path()),
        },
    )
}

async fn status(State(state): State<ApiState>) -> Json<Status> {
    let n = &state.node;
    Json(Status {
        node_id: n.node_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: n.started.elapsed().as_secs(),
        listen: n.listen.iter().map(|a| a.to_string()).collect(),
        ticket: n.ticket.clone(),
        data_dir: n.data_dir.clone(),
    })
}
