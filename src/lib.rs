//! cairn: a peer-to-peer node for cooperative, encrypted storage.
//!
//! The library holds the node's parts; the `cairn` binary is a thin command
//! line over it (`src/cli`).

pub mod addrs;
pub mod api;
pub mod config;
pub mod dashboard;
pub mod datadir;
pub mod dht;
pub mod exchange;
pub mod keyfile;
pub mod logging;
pub mod net;
pub mod node;
pub mod peers;
pub mod store;
pub mod ticket;
