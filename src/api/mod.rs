//! The node's local HTTP API: the one door through which the CLI and the
//! dashboard drive a running node.
//!
//! It binds a loopback address only and every request must carry the token
//! from `DIR/api.token` as `Authorization: Bearer TOKEN`. The daemon writes
//! the address it bound to `DIR/api.addr`, so clients find it even when the
//! configured port was 0.

pub mod client;
pub mod dht;
pub mod feed;
pub mod limits;
pub mod peers;
pub mod server;
pub mod snapshot;
pub mod sse;
pub mod store_types;
pub mod token;
pub mod types;

/// The file in the data directory that holds the API's bound address.
pub const ADDR_FILE: &str = "api.addr";
