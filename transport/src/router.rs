//! Routes a connection's incoming streams to handlers by protocol name, the
//! way a node wires `dht/1`, `blocks/1`, … to its services.
//!
//! Each handler is a bounded channel; a stream whose protocol has no handler,
//! or whose handler is full, is dropped (reset) and logged, so one slow
//! service cannot stall the others.

use std::collections::HashMap;

use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::stream::Stream;

/// Protocol name → handler inbox.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: HashMap<String, mpsc::Sender<(Connection, Stream)>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Sends streams of `protocol` to `inbox`.
    pub fn route(mut self, protocol: &str, inbox: mpsc::Sender<(Connection, Stream)>) -> Router {
        self.routes.insert(protocol.to_owned(), inbox);
        self
    }

    /// Accepts `conn`'s streams until it closes, dispatching each by protocol.
    pub async fn serve(&self, conn: Connection) {
        while let Ok((protocol, stream)) = conn.accept_stream().await {
            match self.routes.get(&protocol) {
                Some(tx) => {
                    if tx.try_send((conn.clone(), stream)).is_err() {
                        tracing::debug!(%protocol, peer = %conn.remote_node_id(), "handler busy; stream dropped");
                    }
                }
                None => {
                    tracing::debug!(%protocol, peer = %conn.remote_node_id(), "no handler; stream dropped")
                }
            }
        }
    }
}
