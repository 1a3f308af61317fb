//! Request and answer bodies of the store routes (`/v1/store/*`,
//! `/v1/transfers`). The answers of the store operations themselves are the
//! store's own report types (`cairn::store::{AddReport, GetReport, …}`), so
//! the CLI prints the same thing whether it ran the operation itself or a
//! daemon did.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `POST /v1/store/add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRequest {
    /// Absolute paths the daemon reads (the CLI resolves relative ones).
    pub paths: Vec<PathBuf>,
    /// "k+m"; default from the daemon's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redundancy: Option<String>,
    /// N copies (same as 1+(N-1)); exclusive with `redundancy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<u8>,
    /// Store as a public (plaintext) share with a `cairn-pub:` cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
}

/// `POST /v1/store/get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    pub cap: String,
    /// Absolute path to restore to; must not exist.
    pub output: PathBuf,
}

/// `GET /v1/store/cat` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatQuery {
    pub cap: String,
    /// Inclusive `A-B`, or `A-` to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

/// `GET /v1/store/cat/failure` query: the `x-cairn-stream` id of a cat
/// whose body broke off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureQuery {
    pub id: u64,
}

/// `GET /v1/store/ls` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
}

/// `POST /v1/store/rm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmRequest {
    pub cap: String,
}

/// `POST /v1/store/redundancy`: store a root again with another target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedundancyRequest {
    /// The root's cap.
    pub cap: String,
    /// "k+m".
    pub redundancy: String,
}

/// `POST /v1/store/verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    #[serde(default)]
    pub repair: bool,
}

/// What a transfer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferKind {
    Add,
    Get,
    Cat,
}

/// One entry of `GET /v1/transfers`: an add, get or cat in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferView {
    pub id: u64,
    pub kind: TransferKind,
    /// The path added or restored to, or the cap read.
    pub name: String,
    /// Plaintext bytes done so far.
    pub done: u64,
    /// Plaintext bytes in all (0 while unknown).
    pub total: u64,
    /// Average rate since the transfer started.
    pub bytes_per_sec: f64,
}

/// The empty answer `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
