//! Kademlia DHT: a sans-io core and a simulator that runs it at scale.
//!
//! The core ([`Dht`]) is a plain state machine: the driver feeds it decoded
//! messages with the sender's NodeId (authenticated by the transport
//! handshake) and the current [`Time`], and drains [`Action`]s — messages to
//! send, finished queries, misbehaving peers. It never reads a clock, opens a
//! socket or spawns a task, which is what lets [`sim`] run thousands of nodes
//! in one process, deterministically, and lets the `dht/1` stream handler be
//! a thin loop. Design notes: docs/DHT.md; wire format: docs/PROTOCOL.md §2.
//!
//! Modules, each with one job:
//! - [`key`]: 256-bit keys and the XOR metric;
//! - [`routing`]: k-buckets with liveness-checked eviction;
//! - [`lookup`]: the iterative (optionally disjoint-path) lookup iterator;
//! - [`provider`], [`record`]: the bounded stores of provider and signed records;
//! - [`message`]: `dht/1` messages and their binary codec;
//! - [`node`]: the core that ties them together;
//! - [`sim`]: the discrete-event simulator;
//! - [`service`]: the `dht/1` driver over transport streams (one task owns the core).

mod codec;
pub mod key;
pub mod lookup;
pub mod message;
pub mod node;
pub mod provider;
pub mod record;
pub mod routing;
pub mod service;
pub mod sim;

pub use codec::DecodeError;
pub use key::{Distance, Key};
pub use message::{
    EncodeError, FRAME_HEADER_LEN, MAX_MESSAGE_SIZE, Message, PeerInfo, Request, RequestId,
    Response, StoreStatus, frame_len,
};
pub use node::{Action, Config, Dht, DhtError, Misbehaviour, QueryId, QueryResult, QueryStats};
pub use record::{RecordError, SignedRecord, record_key};

/// Bucket size, and the number of peers a lookup returns.
pub const K: usize = 20;
/// Requests a lookup keeps in flight (per path).
pub const ALPHA: usize = 3;

/// A point in time, in milliseconds since the Unix epoch, supplied by the
/// driver (the core never reads a clock). Wall-clock rather than monotonic
/// because record expiries are absolute times shared between nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Time(secs.saturating_mul(1000))
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `ms` milliseconds later (saturating).
    pub const fn plus_ms(self, ms: u64) -> Self {
        Time(self.0.saturating_add(ms))
    }
}
