//! `GET /v1/dht`: the DHT's routing table and counters, for the dashboard
//! and for people debugging why a block cannot be found.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::server::{ApiState, ErrorResponse};
use super::types::ApiErrorKind;

/// One routing-table entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhtPeerView {
    /// Bucket index (255 = the most distant half of the id space).
    pub bucket: usize,
    pub node_id: String,
    pub addrs: Vec<String>,
    /// Unix ms.
    pub first_seen_ms: u64,
    /// Unix ms.
    pub last_seen_ms: u64,
    /// Consecutive requests it failed to answer.
    pub failures: u8,
}

/// `GET /v1/dht` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhtView {
    pub table_size: usize,
    pub running_queries: usize,
    pub stored_provider_keys: usize,
    pub stored_records: usize,
    /// Keys this node provides itself.
    #[serde(default)]
    pub providing_keys: usize,
    pub requests_sent: u64,
    pub requests_failed: u64,
    /// Inbound requests dropped: over a peer's rate, over the concurrency
    /// cap, from banned peers; and malformed ones.
    pub refused_rate: u64,
    pub refused_busy: u64,
    pub refused_banned: u64,
    pub malformed: u64,
    /// Provider-record batches written to `dht.redb`.
    #[serde(default)]
    pub batches_written: u64,
    /// Changed provider keys and batches not yet on disk (0: all written).
    #[serde(default)]
    pub persist_pending: usize,
    pub table: Vec<DhtPeerView>,
}

pub(super) fn routes() -> axum::Router<ApiState> {
    axum::Router::new().route("/v1/dht", get(dht))
}

async fn dht(State(state): State<ApiState>) -> Result<Json<DhtView>, ErrorResponse> {
    let dht = state
        .dht()
        .ok_or_else(|| ErrorResponse::new(ApiErrorKind::Internal, "this node runs no DHT"))?;
    let err = |e: crate::dht::service::ServiceError| {
        ErrorResponse::new(ApiErrorKind::Internal, e.to_string())
    };
    let stats = dht.stats().await.map_err(err)?;
    let mut table: Vec<DhtPeerView> = dht
        .table()
        .await
        .map_err(err)?
        .into_iter()
        .map(|e| DhtPeerView {
            bucket: e.bucket,
            node_id: e.node.to_string(),
            addrs: e.addrs.iter().map(|a| a.to_string()).collect(),
            first_seen_ms: e.first_seen.0,
            last_seen_ms: e.last_seen.0,
            failures: e.failures,
        })
        .collect();
    table.sort_by(|a, b| b.bucket.cmp(&a.bucket).then(a.node_id.cmp(&b.node_id)));
    Ok(Json(DhtView {
        table_size: stats.table_size,
        running_queries: stats.running_queries,
        stored_provider_keys: stats.stored_provider_keys,
        stored_records: stats.stored_records,
        providing_keys: stats.providing_keys,
        requests_sent: stats.requests_sent,
        requests_failed: stats.requests_failed,
        refused_rate: stats.refused_rate,
        refused_busy: stats.refused_busy,
        refused_banned: stats.refused_banned,
        malformed: stats.malformed,
        batches_written: stats.batches_written,
        persist_pending: stats.persist_pending,
        table,
    }))
}

impl super::client::ApiClient {
    /// `GET /v1/dht`.
    pub async fn dht(&self) -> Result<DhtView, super::client::ClientError> {
        self.get("/v1/dht").await
    }
}
