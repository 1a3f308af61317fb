//! The API client that the CLI and the dashboard use to reach a running node.

use std::net::SocketAddr;
use std::path::Path;

use futures::StreamExt;
use serde::de::DeserializeOwned;

mod store;
use super::snapshot::Snapshot;
use super::sse::SseParser;

use super::ADDR_FILE;
use super::token::{Token, TokenError};
use super::types::{ApiError, ApiErrorKind};

/// Why a request to the local API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("no cairn daemon is running for {0} (start one with `cairn daemon`)")]
    NoDaemon(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the daemon's address file {0} is malformed")]
    BadAddrFile(String),
    #[error("cannot reach the daemon: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("the daemon's answer broke off: {0}")]
    Interrupted(#[source] reqwest::Error),
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    #[error("the daemon's event stream is unreadable: {0}")]
    Events(String),
}

impl ClientError {
    /// The API's error kind, when the daemon answered with one.
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        match self {
            ClientError::Api(e) => Some(e.kind),
            _ => None,
        }
    }
}

/// A connection to a running node's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Token,
    http: reqwest::Client,
}

impl ApiClient {
    /// Find the daemon of a data directory through its `api.addr` file.
    pub fn for_data_dir(dir: &Path) -> Result<ApiClient, ClientError> {
        let addr_path = dir.join(ADDR_FILE);
        let text = match std::fs::read_to_string(&addr_path) {
            Ok(t) => t,
            Err(_) => return Err(ClientError::NoDaemon(dir.display().to_string())),
        };
        let addr: SocketAddr = text
            .trim()
            .parse()
            .map_err(|_| ClientError::BadAddrFile(addr_path.display().to_string()))?;
        Ok(ApiClient::new(addr, Token::load(dir)?))
    }

    pub fn new(addr: SocketAddr, token: Token) -> ApiClient {
        ApiClient {
            base: format!("http://{addr}"),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// GET a JSON resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(self.send_get(path).await?).await
    }

    /// A failed request: a refused connection means no daemon listens.
    fn connect_err(&self, e: reqwest::Error) -> ClientError {
        if e.is_connect() {
            ClientError::NoDaemon(self.base.clone())
        } else {
            ClientError::Http(e)
        }
    }

    /// Send a GET, mapping a refused connection to [`ClientError::NoDaemon`].
    async fn send_get(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
            .send()
            .await
            .map_err(|e| self.connect_err(e))
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<super::types::Status, ClientError> {
        self.get("/v1/status").await
    }

    /// `GET /v1/snapshot`: the node's latest dashboard snapshot.
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get("/v1/snapshot").await
    }

    /// `GET /v1/events`: the node's snapshots as they change (the current one
    /// first). The stream ends with an error item when the daemon goes away;
    /// the caller reconnects.
    pub async fn events(&self) -> Result<SnapshotStream, ClientError> {
        let resp = self.send_get("/v1/events").await?;
        if !resp.status().is_success() {
            return Err(decode::<serde_json::Value>(resp)
                .await
                .err()
                .unwrap_or_else(|| ClientError::Events("unexpected success body".into())));
        }
        let state = (
            resp,
            SseParser::new(),
            std::collections::VecDeque::new(),
            false,
        );
        Ok(futures::stream::unfold(
            state,
            |(mut resp, mut parser, mut ready, done)| async move {
                loop {
                    if let Some(item) = ready.pop_front() {
                        return Some((item, (resp, parser, ready, done)));
                    }
                    if done {
                        return None;
                    }
                    match resp.chunk().await {
                        Ok(Some(bytes)) => match parser.push(&bytes) {
                            Ok(events) => {
                                for ev in events {
                                    if ev.event != super::feed::EVENT_SNAPSHOT {
                                        continue;
                                    }
                                    ready.push_back(
                                        serde_json::from_str::<Snapshot>(&ev.data)
                                            .map_err(|e| ClientError::Events(e.to_string())),
                                    );
                                }
                            }
                            Err(e) => {
                                return Some((
                                    Err(ClientError::Events(e.to_string())),
                                    (resp, parser, ready, true),
                                ));
                            }
                        },
                        Ok(None) => {
                            return Some((
                                Err(ClientError::Events("the daemon closed the stream".into())),
                                (resp, parser, ready, true),
                            ));
                        }
                        Err(e) => {
                            return Some((Err(ClientError::Http(e)), (resp, parser, ready, true)));
                        }
                    }
                }
            },
        )
        .boxed())
    }
}

/// The snapshots of [`ApiClient::events`].
pub type SnapshotStream = futures::stream::BoxStream<'static, Result<Snapshot, ClientError>>;
/// The peer routes (owner: peers).
impl ApiClient {
    /// POST a JSON body and decode the JSON answer.
    pub async fn post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str())
            .json(body)
            .send()
            .await
            .map_err(|e| self.connect_err(e))?;
        decode(resp).await
    }

    /// `GET /v1/invite`: a ticket for this node, with a one-time pairing
    /// secret if `pairing`.
    pub async fn invite(&self, pairing: bool) -> Result<super::peers::Invite, ClientError> {
        self.get(&format!("/v1/invite?pairing={pairing}")).await
    }

    /// `POST /v1/peers/join`.
    pub async fn join(&self, ticket: &str) -> Result<super::peers::PeerView, ClientError> {
        let body = super::peers::JoinRequest {
            ticket: ticket.to_owned(),
        };
        self.post("/v1/peers/join", &body).await
    }

    /// `GET /v1/peers`.
    pub async fn peers(&self) -> Result<Vec<super::peers::PeerView>, ClientError> {
        self.get("/v1/peers").await
    }

    /// `POST /v1/peers/{node}/ban`.
    pub async fn ban(&self, node: &str) -> Result<super::peers::PeerView, ClientError> {
        self.post(&format!("/v1/peers/{}/ban", path_segment(node)), &())
            .await
    }

    /// `POST /v1/peers/{node}/allow`.
    pub async fn allow(&self, node: &str) -> Result<super::peers::PeerView, ClientError> {
        self.post(&format!("/v1/peers/{}/allow", path_segment(node)), &())
            .await
    }

    /// `POST /v1/peers/{node}/permissions`.
    pub async fn set_permissions(
        &self,
        node: &str,
        change: &crate::peers::PermissionChange,
    ) -> Result<super::peers::PeerView, ClientError> {
        self.post(
            &format!("/v1/peers/{}/permissions", path_segment(node)),
            change,
        )
        .await
    }
}

/// A node id as one URL path segment (anything but base32 is escaped, so a
/// malformed id reaches the server's check instead of another route).
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
    if resp.status().is_success() {
        return Ok(resp.json().await?);
    }
    let status = resp.status();
    match resp.json::<ApiError>().await {
        Ok(e) => Err(ClientError::Api(e)),
        Err(_) => Err(ClientError::Api(ApiError {
            kind: ApiErrorKind::Internal,
            message: format!("the daemon answered HTTP {status}"),
        })),
    }
}
