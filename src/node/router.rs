//! Routes incoming streams to the service that speaks their protocol.
//!
//! Each service registers a protocol name (`dht/1`, `blocks/1`, …) and gets a
//! bounded inbox. A stream for an unknown protocol is closed at once; a
//! stream for a service whose inbox is full is dropped with a warning rather
//! than queued without bound, so a peer that opens streams faster than a
//! service works cannot grow the node's memory.

use std::collections::HashMap;

use cairn_transport::{NodeId, Stream};
use tokio::sync::mpsc;

/// A stream a peer opened, with who opened it.
pub struct Incoming {
    pub peer: NodeId,
    pub protocol: String,
    pub stream: Stream,
}

/// What became of a routed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    Delivered,
    UnknownProtocol,
    Busy,
    Closed,
}

/// Protocol name → the inbox of the service that handles it.
#[derive(Clone, Default)]
pub struct Router {
    handlers: HashMap<String, mpsc::Sender<Incoming>>,
}

impl Router {
    pub fn new() -> Router {
        Router::default()
    }

    /// Register a service; returns its inbox of `capacity` streams.
    pub fn register(&mut self, protocol: &str, capacity: usize) -> mpsc::Receiver<Incoming> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.handlers.insert(protocol.to_owned(), tx);
        rx
    }

    /// The protocols with a handler.
    pub fn protocols(&self) -> Vec<String> {
        let mut v: Vec<String> = self.handlers.keys().cloned().collect();
        v.sort();
        v
    }

    /// Hand a stream to its service without waiting.
    pub fn route(&self, incoming: Incoming) -> Routed {
        let Some(tx) = self.handlers.get(&incoming.protocol) else {
            return Routed::UnknownProtocol;
        };
        match tx.try_send(incoming) {
            Ok(()) => Routed::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => Routed::Busy,
            Err(mpsc::error::TrySendError::Closed(_)) => Routed::Closed,
        }
    }
}
