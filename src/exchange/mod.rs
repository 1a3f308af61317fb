//! Block exchange between nodes (protocol `blocks/1`) and shard placement.
//!
//! Layers, innermost first, each testable alone:
//! - [`wire`]: the messages and their byte layout, with a size limit per
//!   message type (docs/PROTOCOL.md §7);
//! - [`session`]: one stream's protocol state, sans-io: what was asked,
//!   whether an answer was asked for, whether a block matches its id;
//! - [`filter`]: the host's type filter for public shares, sans-io (file
//!   name and leading bytes in, accept or the rule that refused out);
//! - [`lane`]: one long-lived stream per peer with pipelined wants (the
//!   fetch side of [`service`]);
//! - [`limit`]: token buckets, sans-io (time is an argument);
//! - [`providers`]: who may hold a block when its holders are unknown (the
//!   DHT plugs in here);
//! - [`service`]: the task owning the exchange state, stream serving, and
//!   [`ExchangeHandle`] for fetch / put / limits / stats;
//! - [`place`]: the store's placement and read hooks over the handle.
//!
//! The store stays ignorant of the network: it sees only the `Placer` and
//! `ShardSource` traits it defines.

pub mod filter;
pub mod lane;
pub mod limit;
pub mod place;
pub mod providers;
pub mod service;
pub mod session;
pub mod wire;

pub use filter::HostFilter;
pub use limit::{Direction, Limiter, Limits, TokenBucket};
pub use place::{ExchangePlacer, ExchangeSource, install};
pub use providers::{Candidates, NoProviders, Providers, StaticProviders};
pub use service::{
    ExchangeConfig, ExchangeError, ExchangeHandle, ExchangeStats, PeerTraffic, inbox, spawn,
};
pub use wire::{MAX_BLOCK, PROTOCOL};
