//! `GET /v1/limits` and `POST /v1/limits`: the block exchange's bandwidth
//! limits, changeable while the node runs, with its traffic counters.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::get;

use super::server::{ApiState, ErrorResponse};
use super::types::ApiErrorKind;
use crate::exchange::{ExchangeStats, Limits};

pub(super) fn routes() -> axum::Router<ApiState> {
    axum::Router::new().route("/v1/limits", get(show).post(set))
}

fn exchange(state: &ApiState) -> Result<&crate::exchange::ExchangeHandle, ErrorResponse> {
    state.exchange().ok_or_else(|| {
        ErrorResponse::new(ApiErrorKind::Internal, "this node runs no block exchange")
    })
}

async fn show(State(state): State<ApiState>) -> Result<Json<ExchangeStats>, ErrorResponse> {
    exchange(&state)?
        .stats()
        .await
        .map(Json)
        .map_err(|e| ErrorResponse::new(ApiErrorKind::Internal, e.to_string()))
}

/// Replace the limits (bytes per second, 0 = unlimited; absent fields are 0).
async fn set(
    State(state): State<ApiState>,
    body: Result<Json<Limits>, JsonRejection>,
) -> Result<Json<ExchangeStats>, ErrorResponse> {
    let Json(limits) =
        body.map_err(|e| ErrorResponse::new(ApiErrorKind::InvalidInput, e.body_text()))?;
    let ex = exchange(&state)?;
    let err = |e: crate::exchange::ExchangeError| {
        ErrorResponse::new(ApiErrorKind::Internal, e.to_string())
    };
    ex.set_limits(limits).await.map_err(err)?;
    ex.stats().await.map(Json).map_err(err)
}

impl super::client::ApiClient {
    /// `GET /v1/limits`.
    pub async fn limits(&self) -> Result<ExchangeStats, super::client::ClientError> {
        self.get("/v1/limits").await
    }

    /// `POST /v1/limits`.
    pub async fn set_limits(
        &self,
        limits: &Limits,
    ) -> Result<ExchangeStats, super::client::ClientError> {
        self.post("/v1/limits", limits).await
    }
}
