//! The snapshot feed: `GET /v1/snapshot` (the latest [`Snapshot`]) and
//! `GET /v1/events` (server-sent events, `event: snapshot`, one snapshot JSON
//! per `data:` line).
//!
//! Why SSE over a `watch`: the dashboard only ever needs the newest picture,
//! so the feed reads a `tokio::sync::watch` the node's snapshot task fills.
//! A slow client skips intermediate snapshots instead of queueing them
//! (memory stays bounded whatever the client does), the first event goes out
//! at once, and at most [`MAX_EVENTS_PER_SEC`] follow per second. An idle node
//! sends nothing but SSE keep-alive comments.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use tokio::sync::watch;

use super::server::{ApiState, ErrorResponse};
use super::snapshot::Snapshot;
use super::types::ApiErrorKind;

/// The SSE event name of a snapshot.
pub const EVENT_SNAPSHOT: &str = "snapshot";
/// Most snapshot events per second per client.
pub const MAX_EVENTS_PER_SEC: u32 = 4;
/// Keep-alive comment interval, so proxies and clients see a live stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The feed's routes, to merge into the API router.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/events", get(events))
}

fn feed(state: &ApiState) -> Result<watch::Receiver<Snapshot>, ErrorResponse> {
    state.snapshots().ok_or_else(|| {
        ErrorResponse::new(
            ApiErrorKind::NotFound,
            "this node publishes no snapshots (no snapshot task running)",
        )
    })
}

/// Longest a request waits for the node's first snapshot (right after start).
pub const FIRST_SNAPSHOT_WAIT: Duration = Duration::from_secs(5);

/// Wait (bounded) until the node has published its first snapshot.
async fn first(rx: &mut watch::Receiver<Snapshot>) -> Result<(), ErrorResponse> {
    let unavailable = || {
        ErrorResponse::new(
            ApiErrorKind::Internal,
            "the node has not published a snapshot yet",
        )
    };
    match tokio::time::timeout(FIRST_SNAPSHOT_WAIT, rx.wait_for(|s| s.seq > 0)).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(unavailable()),
    }
}

async fn snapshot(State(state): State<ApiState>) -> Result<Json<Snapshot>, ErrorResponse> {
    let mut rx = feed(&state)?;
    first(&mut rx).await?;
    let snap = rx.borrow().clone();
    Ok(Json(snap))
}

async fn events(State(state): State<ApiState>) -> Result<impl IntoResponse, ErrorResponse> {
    let mut rx = feed(&state)?;
    first(&mut rx).await?;
    Ok(Sse::new(snapshot_events(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The current snapshot at once, then each new one, at most
/// [`MAX_EVENTS_PER_SEC`] a second; ends when the node stops publishing.
fn snapshot_events(rx: watch::Receiver<Snapshot>) -> impl Stream<Item = Result<Event, Infallible>> {
    let gap = Duration::from_secs(1) / MAX_EVENTS_PER_SEC;
    futures::stream::unfold(
        (rx, None::<tokio::time::Instant>),
        move |(mut rx, last_sent)| async move {
            match last_sent {
                // The first event goes out at once, whatever changed.
                None => {}
                Some(at) => {
                    tokio::time::sleep_until(at + gap).await;
                    rx.changed().await.ok()?;
                }
            }
            let snap = rx.borrow_and_update().clone();
            let event = Event::default()
                .event(EVENT_SNAPSHOT)
                .json_data(&snap)
                .unwrap_or_else(|_| Event::default().comment("unencodable snapshot"));
            Some((Ok(event), (rx, Some(tokio::time::Instant::now()))))
        },
    )
}
