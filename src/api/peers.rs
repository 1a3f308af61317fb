//! The peer routes' bodies (`/v1/invite`, `/v1/peers…`) and their handlers.
//!
//! Kept apart from `server.rs` so peer management adds its routes in one
//! `merge` and owns its request and response types. A [`PeerView`] is the
//! book's record of a peer plus, when connected, the live statistics of its
//! connection (bytes, streams, ciphers, key epochs, last rotation), in plain
//! units so a client needs no transport types.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use cairn_transport::{ConnectionStats, NodeId};
use serde::{Deserialize, Serialize};

use super::server::{ApiState, ErrorResponse};
use super::snapshot::Permissions;
use super::types::ApiErrorKind;
use crate::peers::book::{Ban, KnownAddr};
use crate::peers::{BookError, JoinError, PeerRecord, PeerService, PermissionChange, Source};
use crate::ticket::Ticket;

/// `GET /v1/invite` query.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct InviteQuery {
    #[serde(default)]
    pub pairing: bool,
}

/// `GET /v1/invite` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub ticket: String,
    /// Whether the ticket carries a one-time pairing secret.
    pub pairing: bool,
}

/// `POST /v1/peers/join` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub ticket: String,
}

/// One peer: what the book holds and, if connected, its live link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub id: String,
    pub addrs: Vec<KnownAddr>,
    pub source: Source,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    pub connected: bool,
    pub permissions: Permissions,
    pub banned: Option<Ban>,
    pub offences: u32,
    pub own_device: bool,
    /// The live connection's statistics (`None` when not connected).
    pub link: Option<LinkView>,
}

/// Live statistics of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkView {
    pub remote_addr: String,
    /// Whether this node dialled.
    pub outbound: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub noise_rekeys_sent: u64,
    pub noise_rekeys_received: u64,
    pub control_ratchets: u64,
    pub rtt_ms: Option<f64>,
    pub age_secs: u64,
    pub streams: Vec<StreamView>,
}

/// Live statistics of one open stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamView {
    pub id: u32,
    pub protocol: String,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub send_cipher: Option<String>,
    pub recv_cipher: Option<String>,
    pub send_epoch: u32,
    pub recv_epoch: u32,
    pub rotations_sent: u64,
    pub rotations_received: u64,
    /// Seconds since a key last rotated either way (`None`: never).
    pub last_rotation_secs_ago: Option<f64>,
}

impl LinkView {
    pub fn from_stats(s: &ConnectionStats, now: Instant) -> LinkView {
        LinkView {
            remote_addr: s.remote_addr.to_string(),
            outbound: s.outbound,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            noise_rekeys_sent: s.noise_rekeys_sent,
            noise_rekeys_received: s.noise_rekeys_received,
            control_ratchets: s.control_ratchets,
            rtt_ms: s.rtt.map(|d| d.as_secs_f64() * 1e3),
            age_secs: s.age.as_secs(),
            streams: s
                .streams
                .iter()
                .map(|st| StreamView {
                    id: st.id,
                    protocol: st.protocol.clone(),
                    bytes_sent: st.bytes_sent,
                    bytes_received: st.bytes_received,
                    send_cipher: st.send_cipher.map(|c| format!("{c:?}")),
                    recv_cipher: st.recv_cipher.map(|c| format!("{c:?}")),
                    send_epoch: st.send_epoch,
                    recv_epoch: st.recv_epoch,
                    rotations_sent: st.rotations_sent,
                    rotations_received: st.rotations_received,
                    last_rotation_secs_ago: st
                        .last_rotation
                        .map(|t| now.saturating_duration_since(t).as_secs_f64()),
                })
                .collect(),
        }
    }
}

impl PeerView {
    /// The view of `r`, with live stats from `svc`'s pool.
    pub fn of(r: PeerRecord, svc: &PeerService) -> PeerView {
        let link = svc
            .pool()
            .get(&r.node_id)
            .map(|c| LinkView::from_stats(&c.stats(), Instant::now()));
        PeerView {
            id: r.node_id.to_string(),
            addrs: r.addrs,
            source: r.source,
            first_seen_ms: r.first_seen_ms,
            last_seen_ms: r.last_seen_ms,
            connected: link.is_some(),
            permissions: r.permissions,
            banned: r.banned,
            offences: r.offences,
            own_device: r.own_device,
            link,
        }
    }
}

/// The peer routes, merged into the API's router.
pub fn routes() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/v1/invite", get(invite))
        .route("/v1/peers", get(list))
        .route("/v1/peers/join", post(join))
        .route("/v1/peers/{node}/ban", post(ban))
        .route("/v1/peers/{node}/allow", post(allow))
        .route("/v1/peers/{node}/permissions", post(permissions))
}

fn service(state: &ApiState) -> Result<PeerService, ErrorResponse> {
    state
        .peers()
        .cloned()
        .ok_or_else(|| ErrorResponse::new(ApiErrorKind::Internal, "peer management is not running"))
}

fn node(text: &str) -> Result<NodeId, ErrorResponse> {
    text.parse().map_err(|e| {
        ErrorResponse::new(
            ApiErrorKind::InvalidInput,
            format!("{text:?} is not a node id: {e}"),
        )
    })
}

/// A body or query that is not what the route takes: `invalid_input`, as
/// every route answers it (docs/PROTOCOL.md §5), not axum's plain text.
fn bad_input(text: String) -> ErrorResponse {
    ErrorResponse::new(ApiErrorKind::InvalidInput, text)
}

fn book_err(e: BookError) -> ErrorResponse {
    match e {
        BookError::UnknownPeer(p) => ErrorResponse::new(
            ApiErrorKind::NotFound,
            format!("unknown peer {p} (join it first with `cairn join TICKET`)"),
        ),
        e => ErrorResponse::new(ApiErrorKind::Internal, e.to_string()),
    }
}

async fn invite(
    State(state): State<ApiState>,
    q: Result<Query<InviteQuery>, QueryRejection>,
) -> Result<Json<Invite>, ErrorResponse> {
    let Query(q) = q.map_err(|e| bad_input(e.body_text()))?;
    let svc = service(&state)?;
    let t = tokio::task::spawn_blocking(move || svc.invite(q.pairing))
        .await
        .map_err(|e| ErrorResponse::new(ApiErrorKind::Internal, e.to_string()))?
        .map_err(book_err)?;
    Ok(Json(Invite {
        ticket: t.to_string(),
        pairing: t.secret.is_some(),
    }))
}

async fn list(State(state): State<ApiState>) -> Result<Json<Vec<PeerView>>, ErrorResponse> {
    let svc = service(&state)?;
    let mut all: Vec<PeerView> = svc
        .book()
        .all()
        .into_iter()
        .map(|r| PeerView::of(r, &svc))
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(all))
}

async fn join(
    State(state): State<ApiState>,
    req: Result<Json<JoinRequest>, JsonRejection>,
) -> Result<Json<PeerView>, ErrorResponse> {
    let Json(req) = req.map_err(|e| bad_input(e.body_text()))?;
    let svc = service(&state)?;
    let ticket: Ticket = req.ticket.parse().map_err(|e| {
        ErrorResponse::new(ApiErrorKind::InvalidInput, format!("malformed ticket: {e}"))
    })?;
    match svc.join(&ticket).await {
        Ok(r) => Ok(Json(PeerView::of(r, &svc))),
        Err(e) => {
            let kind = match &e {
                JoinError::OwnTicket => ApiErrorKind::InvalidInput,
                JoinError::Banned(_) | JoinError::PairingRefused => ApiErrorKind::Refused,
                JoinError::Unreachable(_) | JoinError::Pairing { .. } => ApiErrorKind::Unreachable,
                _ => ApiErrorKind::Internal,
            };
            Err(ErrorResponse::new(kind, e.to_string()))
        }
    }
}

async fn ban(
    State(state): State<ApiState>,
    Path(text): Path<String>,
) -> Result<Json<PeerView>, ErrorResponse> {
    let svc = service(&state)?;
    let r = svc
        .ban(node(&text)?, "banned by the owner".into())
        .await
        .map_err(book_err)?;
    Ok(Json(PeerView::of(r, &svc)))
}

async fn allow(
    State(state): State<ApiState>,
    Path(text): Path<String>,
) -> Result<Json<PeerView>, ErrorResponse> {
    let svc = service(&state)?;
    let r = svc.allow(node(&text)?).await.map_err(book_err)?;
    Ok(Json(PeerView::of(r, &svc)))
}

async fn permissions(
    State(state): State<ApiState>,
    Path(text): Path<String>,
    change: Result<Json<PermissionChange>, JsonRejection>,
) -> Result<Json<PeerView>, ErrorResponse> {
    let peer = node(&text)?;
    let Json(change) = change.map_err(|e| bad_input(e.body_text()))?;
    let svc = service(&state)?;
    let r = svc.set_permissions(peer, change).await.map_err(book_err)?;
    Ok(Json(PeerView::of(r, &svc)))
}
