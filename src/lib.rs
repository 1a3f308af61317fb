//! cairn: a peer-to-peer node for cooperative, encrypted storage.
pub mod dht;
