//! Peer management: who this node knows, what each may do, and keeping in
//! touch with them.
//!
//! - [`book`]: the persisted peer book (addresses, rights, bans, own devices)
//!   and the node's [`PeerPolicy`](crate::net::PeerPolicy);
//! - [`pair`]: the `pair/1` messages that pair one's own devices;
//! - [`redial`]: the sans-io redial schedule with exponential backoff;
//! - [`service`]: the running part, joining the book to the connection pool.
//!
//! Split this way so the rules (book, pairing, backoff) are plain code tested
//! without sockets or clocks, and only `service` does I/O.

pub mod book;
pub mod mdns;
pub mod pair;
pub mod redial;
pub mod service;

pub use book::{BookError, BookRules, PeerBook, PeerRecord, PermissionChange, Source};
pub use redial::{Backoff, RedialSchedule};
pub use service::{JoinError, PeerService, ServiceOptions};

/// The peer book's file in the data directory.
pub const BOOK_FILE: &str = "peers.redb";
