//! The local API's request and response bodies. The CLI and the dashboard
//! read exactly these types; the server produces them. Versioned by the URL
//! prefix (`/v1`).

use serde::{Deserialize, Serialize};

/// `GET /v1/status`: who and where this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node_id: String,
    pub version: String,
    pub uptime_secs: u64,
    /// Addresses the transport is bound to.
    pub listen: Vec<String>,
    /// A ticket other nodes can join with.
    pub ticket: String,
    pub data_dir: String,
}

/// Every error the API returns: a message and a machine-readable kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
}

/// The kinds of API error; the CLI maps them to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiErrorKind {
    Unauthorized,
    NotFound,
    InvalidInput,
    NoSpace,
    Integrity,
    Internal,
    /// The operation was cancelled (through the API, or by shutdown).
    Cancelled,
    /// The operation failed for a reason with no more specific kind.
    Failed,
    /// The request was understood and refused (a banned peer, a spent
    /// pairing secret).
    Refused,
    /// A peer could not be reached.
    Unreachable,
}
