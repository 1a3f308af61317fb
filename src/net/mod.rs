//! The node's view of the network: the pool of live connections to peers,
//! shared by every service that talks to them, and the policy that says what
//! each peer may do.

pub mod policy;
pub mod pool;

pub use policy::{AllowAll, PeerPolicy, Right, Severity};
pub use pool::{Admission, ConnPool, PoolError, PoolEvent};
