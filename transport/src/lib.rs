//! cairn-transport: TCP + Noise XX + yamux, with per-stream keys rotated
//! through a control stream. Knows nothing of the node that uses it.
//!
//! Layers, outermost first: [`frame`] (2-byte length framing),
//! [`handshake`] + [`payload`] (Noise XX with identity proof),
//! [`noise_io`] (Noise transport as a byte pipe with a counted rekey, sealed
//! in place by [`noise_cipher`]),
//! yamux, then per connection a control stream ([`control`], sans-io) and
//! data streams ([`Stream`]) sealed again with [`stream_cipher`] keys that
//! rotate on the [`rotation`] schedule, in frame buffers borrowed from a
//! per-thread pool (`buf_pool`). [`Endpoint`] owns sockets and limits.
//! [`malloc::tune`] holds the allocator settings a process running it
//! should apply. The exact wire format is in `docs/PROTOCOL.md`, section 1.

mod buf_pool;
pub mod config;
mod connection;
pub mod control;
mod endpoint;
mod error;
pub mod frame;
pub mod handshake;
pub mod identity;
mod keys;
pub mod malloc;
pub mod noise_cipher;
pub mod noise_io;
pub mod payload;
pub mod rotation;
mod router;
mod stats;
mod stream;
pub mod stream_cipher;
mod wiped_key;

pub use config::TransportConfig;
pub use connection::Connection;
pub use endpoint::Endpoint;
pub use error::{ConnectionError, StreamError};
pub use identity::{Identity, NodeId, NodeIdParseError};
pub use router::Router;
pub use stats::{ConnectionStats, StreamStats};
pub use stream::Stream;
pub use stream_cipher::CipherKind;
