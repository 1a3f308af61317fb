//! Why a streamed answer broke off.
//!
//! `GET /v1/store/cat` sends its status with the first byte, so an error
//! found later (a chunk that no peer can give back, a block that fails its
//! hash) cannot ride on the status, and HTTP/1.1 trailers are not something
//! every client reads. The server therefore gives each streamed answer an
//! id (the `x-cairn-stream` header), and when the stream breaks off it
//! records the error here before aborting the body; a client whose body
//! broke off asks `GET /v1/store/cat/failure?id=ID` and gets the error with
//! its kind, so the CLI exits with the same code as when the error comes
//! before the first byte. Bounded: only the most recent failures are kept.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::types::ApiError;

/// The header that carries a streamed answer's id.
pub const STREAM_HEADER: &str = "x-cairn-stream";

/// How many failures are remembered (each answer's client asks at once).
const KEEP: usize = 64;

/// Ids for streamed answers and the errors of those that broke off.
#[derive(Debug, Default)]
pub struct BrokenStreams {
    next: AtomicU64,
    recent: Mutex<VecDeque<(u64, ApiError)>>,
}

impl BrokenStreams {
    /// A fresh id for a streamed answer.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Remember why stream `id` broke off, forgetting the oldest beyond
    /// [`KEEP`].
    pub fn record(&self, id: u64, error: ApiError) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == KEEP {
            recent.pop_front();
        }
        recent.push_back((id, error));
    }

    /// Why stream `id` broke off, if it did and is still remembered.
    pub fn get(&self, id: u64) -> Option<ApiError> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, e)| e.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::ApiErrorKind;

    fn err(n: u64) -> ApiError {
        ApiError {
            kind: ApiErrorKind::Integrity,
            message: format!("failure {n}"),
        }
    }

    #[test]
    fn a_recorded_failure_is_found_by_its_id_and_others_are_not() {
        let b = BrokenStreams::default();
        let (one, two) = (b.next_id(), b.next_id());
        assert_ne!(one, two);
        b.record(one, err(1));
        assert_eq!(b.get(one).map(|e| e.message), Some("failure 1".into()));
        assert!(b.get(two).is_none());
    }

    #[test]
    fn only_the_most_recent_failures_are_kept() {
        let b = BrokenStreams::default();
        for n in 1..=(KEEP as u64 + 10) {
            b.record(n, err(n));
        }
        assert!(b.get(10).is_none());
        assert!(b.get(11).is_some());
        assert!(b.get(KEEP as u64 + 10).is_some());
    }
}
