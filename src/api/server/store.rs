//! The store routes of the local API (`/v1/store/*`, `/v1/transfers`):
//! thin handlers that decode a request, call the daemon's
//! [`StoreService`](crate::node::store_service::StoreService), and turn a
//! `StoreError` into an `ErrorResponse` whose kind keeps its meaning (not
//! found, integrity, no space, invalid input), so the CLI gives the same
//! exit code whether a daemon ran the command or it ran it itself.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{ApiState, ErrorResponse};
use crate::api::store_types::{
    AddRequest, CatQuery, Empty, FailureQuery, GetRequest, LsQuery, RedundancyRequest, RmRequest,
    TransferView, VerifyRequest,
};
use crate::api::types::ApiErrorKind;
use crate::node::store_service::{CatPiece, StoreService};
use crate::store::read::{GetReport, RmReport};
use crate::store::{AddReport, GcReport, LsReport, StatsReport, StoreError, VerifyReport};

/// The routes, to be merged into the API's router.
pub(super) fn routes() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/v1/store/add", post(add))
        .route("/v1/store/get", post(get_file))
        .route("/v1/store/cat", get(cat))
        .route("/v1/store/cat/failure", get(cat_failure))
        .route("/v1/store/ls", get(ls))
        .route("/v1/store/rm", post(rm))
        .route("/v1/store/redundancy", post(redundancy))
        .route("/v1/store/gc", post(gc))
        .route("/v1/store/verify", post(verify))
        .route("/v1/store/stats", get(stats))
        .route("/v1/transfers", get(transfers))
        .route("/v1/transfers/{id}/cancel", post(cancel))
}

type Answer<T> = Result<Json<T>, ErrorResponse>;

/// The error kind a store failure keeps across the API.
pub fn store_error_kind(e: &StoreError) -> ApiErrorKind {
    match e {
        StoreError::PathNotFound(_) | StoreError::NotFound(_) => ApiErrorKind::NotFound,
        StoreError::Integrity(_) => ApiErrorKind::Integrity,
        StoreError::Unavailable(_) => ApiErrorKind::Unreachable,
        StoreError::NoSpace(_) | StoreError::Quota { .. } => ApiErrorKind::NoSpace,
        StoreError::Cap(_) | StoreError::InvalidInput(_) | StoreError::Unreadable { .. } => {
            ApiErrorKind::InvalidInput
        }
        StoreError::Cancelled => ApiErrorKind::Cancelled,
        _ => ApiErrorKind::Failed,
    }
}

/// An error with its causes, as `{err:#}` prints it in the CLI.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn store_err(e: StoreError) -> ErrorResponse {
    ErrorResponse::new(store_error_kind(&e), chain(&e))
}

fn bad_body(e: impl std::fmt::Display) -> ErrorResponse {
    ErrorResponse::new(ApiErrorKind::InvalidInput, format!("bad request: {e}"))
}

fn service(state: &ApiState) -> Result<&StoreService, ErrorResponse> {
    state
        .store
        .as_ref()
        .ok_or_else(|| ErrorResponse::new(ApiErrorKind::Failed, "this node runs without a store"))
}

async fn add(
    State(state): State<ApiState>,
    body: Result<Json<AddRequest>, JsonRejection>,
) -> Answer<Vec<AddReport>> {
    let Json(req) = body.map_err(bad_body)?;
    let svc = service(&state)?;
    svc.add(req).await.map(Json).map_err(store_err)
}

async fn get_file(
    State(state): State<ApiState>,
    body: Result<Json<GetRequest>, JsonRejection>,
) -> Answer<GetReport> {
    let Json(req) = body.map_err(bad_body)?;
    let svc = service(&state)?;
    svc.get(&req.cap, req.output)
        .await
        .map(Json)
        .map_err(store_err)
}

/// Streams the bytes: the status is sent once the first piece (or the
/// first error) is known, so errors before any byte keep their kind; an
/// error after that, or a stream that stops without its `End`, is recorded
/// under the answer's `x-cairn-stream` id (see [`super::broken`]) and aborts
/// the body; the client then asks [`cat_failure`] why.
async fn cat(
    State(state): State<ApiState>,
    q: Result<Query<CatQuery>, QueryRejection>,
) -> Result<Response, ErrorResponse> {
    let Query(q) = q.map_err(bad_body)?;
    let svc = service(&state)?;
    let mut stream = svc
        .cat(&q.cap, q.range.as_deref())
        .await
        .map_err(store_err)?;
    let (first, rest) = match stream.pieces.recv().await {
        Some(CatPiece::Failed(e)) => return Err(store_err(e)),
        Some(CatPiece::Data(b)) => (b, Some(stream)),
        // Nothing to send (an empty file or range): done already.
        Some(CatPiece::End) => (axum::body::Bytes::new(), None),
        None => return Err(store_err(StoreError::Cancelled)),
    };
    let broken = state.broken.clone();
    let id = broken.next_id();
    let body = futures::stream::unfold((Some(first), rest), move |(first, stream)| {
        let broken = broken.clone();
        async move {
            if let Some(b) = first {
                return Some((Ok(b), (None, stream)));
            }
            let mut s = stream?;
            let failure = match s.pieces.recv().await {
                Some(CatPiece::Data(b)) => return Some((Ok(b), (None, Some(s)))),
                Some(CatPiece::End) => return None,
                Some(CatPiece::Failed(e)) => e,
                None => StoreError::Cancelled,
            };
            let ErrorResponse(_, error) = store_err(failure);
            tracing::warn!(stream = id, error = %error.message, "cat failed mid-stream");
            let io = std::io::Error::other(error.message.clone());
            broken.record(id, error);
            Some((Err(io), (None, None)))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static(super::STREAM_HEADER),
                id.to_string(),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Why the cat answer `id` broke off after its first byte.
async fn cat_failure(
    State(state): State<ApiState>,
    q: Result<Query<FailureQuery>, QueryRejection>,
) -> Answer<crate::api::types::ApiError> {
    let Query(q) = q.map_err(bad_body)?;
    state.broken.get(q.id).map(Json).ok_or_else(|| {
        ErrorResponse::new(
            ApiErrorKind::NotFound,
            format!("no broken stream {} is remembered", q.id),
        )
    })
}

async fn ls(
    State(state): State<ApiState>,
    q: Result<Query<LsQuery>, QueryRejection>,
) -> Answer<LsReport> {
    let Query(q) = q.map_err(bad_body)?;
    service(&state)?
        .ls(q.cap)
        .await
        .map(Json)
        .map_err(store_err)
}

async fn rm(
    State(state): State<ApiState>,
    body: Result<Json<RmRequest>, JsonRejection>,
) -> Answer<RmReport> {
    let Json(req) = body.map_err(bad_body)?;
    service(&state)?
        .rm(&req.cap)
        .await
        .map(Json)
        .map_err(store_err)
}

async fn redundancy(
    State(state): State<ApiState>,
    body: Result<Json<RedundancyRequest>, JsonRejection>,
) -> Answer<AddReport> {
    let Json(req) = body.map_err(bad_body)?;
    service(&state)?
        .set_redundancy(&req.cap, &req.redundancy)
        .await
        .map(Json)
        .map_err(store_err)
}

async fn gc(State(state): State<ApiState>) -> Answer<GcReport> {
    service(&state)?.gc().await.map(Json).map_err(store_err)
}

/// A body is optional: no body means `{"repair": false}`.
async fn verify(State(state): State<ApiState>, body: axum::body::Bytes) -> Answer<VerifyReport> {
    let req: VerifyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(bad_body)?
    };
    service(&state)?
        .verify(req.repair)
        .await
        .map(Json)
        .map_err(store_err)
}

async fn stats(State(state): State<ApiState>) -> Answer<StatsReport> {
    service(&state)?.stats().await.map(Json).map_err(store_err)
}

async fn transfers(State(state): State<ApiState>) -> Answer<Vec<TransferView>> {
    Ok(Json(service(&state)?.transfers().list()))
}

async fn cancel(State(state): State<ApiState>, Path(id): Path<String>) -> Answer<Empty> {
    let id: u64 = id
        .parse()
        .map_err(|_| bad_body(format!("{id:?} is not a transfer id")))?;
    if service(&state)?.transfers().cancel(id) {
        Ok(Json(Empty {}))
    } else {
        Err(ErrorResponse::new(
            ApiErrorKind::NotFound,
            format!("no transfer {id} is running"),
        ))
    }
}
