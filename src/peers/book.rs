//! The peer book: every peer this node knows, persisted in its own redb file
//! (`DATA_DIR/peers.redb`), with the rights each holds and the ban list.
//!
//! Why its own file: the store's redb belongs to the store (and its lock and
//! quotas); peer bookkeeping is small, changes on connect and disconnect, and
//! must survive a restart without touching the store.
//!
//! Shape: a small handle over an in-memory map that mirrors the table. Every
//! change is written and committed (durably, redb's default) *before* the map
//! is updated and before the call returns, so an API answer never reports a
//! change a crash could lose. Reads (`allows`, `is_banned`, asked on every
//! stream and connect) come from the map without touching the disk.
//!
//! Records are JSON values (with a `v` version field) under the table
//! `peers/v1`, keyed by the 32 NodeId bytes; pairing secrets are kept only as
//! their BLAKE3 hash in `pairing/v1` with their expiry. A record that does not
//! decode is skipped with a warning rather than stopping the node.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use cairn_transport::NodeId;
use parking_lot::Mutex;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::api::snapshot::Permissions;
use crate::net::{PeerPolicy, Right, Severity};

const PEERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("peers/v1");
const PAIRING: TableDefinition<&[u8], u64> = TableDefinition::new("pairing/v1");
/// Version of the JSON record stored in `peers/v1`.
pub const RECORD_VERSION: u32 = 1;
/// Most addresses remembered per peer (newest successes kept).
pub const MAX_ADDRS: usize = 16;
/// Longest stored record accepted when loading.
const MAX_RECORD_LEN: usize = 64 * 1024;
/// Most pairing secrets outstanding at once (older ones are dropped).
const MAX_PAIRINGS: usize = 64;

/// How this node learned of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `cairn join TICKET`.
    Join,
    /// `bootstrap = [...]` in config.
    Bootstrap,
    /// Found on the local network.
    Mdns,
    /// Found through the DHT.
    Dht,
    /// It connected to us.
    Inbound,
}

/// A known address of a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownAddr {
    pub addr: SocketAddr,
    /// Last successful dial through this address, unix ms (`None`: never).
    pub last_success_ms: Option<u64>,
}

/// Why a peer is banned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub reason: String,
    /// When, unix ms.
    pub at_ms: u64,
}

/// Everything this node keeps about one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// Record format version ([`RECORD_VERSION`]).
    pub v: u32,
    pub node_id: NodeId,
    /// Dialable addresses, most recently successful first.
    pub addrs: Vec<KnownAddr>,
    pub source: Source,
    /// Unix ms.
    pub first_seen_ms: u64,
    /// Last connect or disconnect seen, unix ms.
    pub last_seen_ms: u64,
    pub permissions: Permissions,
    pub banned: Option<Ban>,
    /// Proven offences counted towards an automatic ban.
    pub offences: u32,
    /// Paired through a one-time secret: one of the owner's own devices.
    pub own_device: bool,
}

/// Why the peer book failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BookError {
    #[error("peer book database: {0}")]
    Db(Box<redb::Error>),
    #[error("cannot encode a peer record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("unknown peer {0}")]
    UnknownPeer(NodeId),
}

macro_rules! db_from {
    ($($t:ty),*) => {$(
        impl From<$t> for BookError {
            fn from(e: $t) -> BookError { BookError::Db(Box::new(e.into())) }
        }
    )*};
}
db_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The rules the book applies (from config `[peers]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookRules {
    /// Rights of a newly met peer.
    pub default_permissions: Permissions,
    /// Proven offences that ban a peer (0: never automatically).
    pub ban_after_offences: u32,
}

type BanHook = Box<dyn Fn(&NodeId) + Send + Sync>;

/// The peer book: a cheap-to-clone handle.
#[derive(Clone)]
pub struct PeerBook {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    rules: BookRules,
    /// Mirror of `peers/v1`; the lock is also held across each write so
    /// writes to one record never interleave.
    peers: Mutex<HashMap<NodeId, PeerRecord>>,
    on_ban: Mutex<Option<BanHook>>,
}

impl std::fmt::Debug for PeerBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerBook")
            .field("peers", &self.inner.peers.lock().len())
            .finish_non_exhaustive()
    }
}

/// Unix milliseconds of a `SystemTime` (0 before the epoch).
pub fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    unix_ms(std::time::SystemTime::now())
}

impl PeerBook {
    /// Open (or create) the book at `path`.
    pub fn open(path: &Path, rules: BookRules) -> Result<PeerBook, BookError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(PEERS)?;
        txn.open_table(PAIRING)?;
        txn.commit()?;
        let mut peers = HashMap::new();
        {
            let txn = db.begin_read()?;
            let table = txn.open_table(PEERS)?;
            for item in table.iter()? {
                let (k, v) = item?;
                let bytes = v.value();
                if bytes.len() > MAX_RECORD_LEN {
                    tracing::warn!(len = bytes.len(), "oversized peer record skipped");
                    continue;
                }
                match serde_json::from_slice::<PeerRecord>(bytes) {
                    Ok(r) if r.v == RECORD_VERSION && r.node_id.as_bytes()[..] == *k.value() => {
                        peers.insert(r.node_id, r);
                    }
                    Ok(r) => tracing::warn!(v = r.v, "peer record of another version skipped"),
                    Err(e) => tracing::warn!(error = %e, "unreadable peer record skipped"),
                }
            }
        }
        Ok(PeerBook {
            inner: Arc::new(Inner {
                db,
                rules,
                peers: Mutex::new(peers),
                on_ban: Mutex::new(None),
            }),
        })
    }

    /// Call `hook` whenever a peer becomes banned (the daemon disconnects it).
    pub fn on_ban(&self, hook: impl Fn(&NodeId) + Send + Sync + 'static) {
        *self.inner.on_ban.lock() = Some(Box::new(hook));
    }

    /// The rules in force.
    pub fn rules(&self) -> BookRules {
        self.inner.rules
    }

    /// One peer's record.
    pub fn get(&self, peer: &NodeId) -> Option<PeerRecord> {
        self.inner.peers.lock().get(peer).cloned()
    }

    /// Every record, in no particular order.
    pub fn all(&self) -> Vec<PeerRecord> {
        self.inner.peers.lock().values().cloned().collect()
    }

    /// Apply `change` to `peer`'s record (created with `source` if new, or
    /// an error if `source` is `None`), commit it, then publish it.
    fn update(
        &self,
        peer: NodeId,
        source: Option<Source>,
        change: impl FnOnce(&mut PeerRecord),
    ) -> Result<PeerRecord, BookError> {
        let mut peers = self.inner.peers.lock();
        let mut rec = match (peers.get(&peer), source) {
            (Some(r), _) => r.clone(),
            (None, Some(source)) => {
                let now = now_ms();
                PeerRecord {
                    v: RECORD_VERSION,
                    node_id: peer,
                    addrs: Vec::new(),
                    source,
                    first_seen_ms: now,
                    last_seen_ms: now,
                    permissions: self.inner.rules.default_permissions,
                    banned: None,
                    offences: 0,
                    own_device: false,
                }
            }
            (None, None) => return Err(BookError::UnknownPeer(peer)),
        };
        change(&mut rec);
        rec.addrs.truncate(MAX_ADDRS);
        let bytes = serde_json::to_vec(&rec)?;
        let txn = self.inner.db.begin_write()?;
        {
            let mut table = txn.open_table(PEERS)?;
            table.insert(&peer.as_bytes()[..], &bytes[..])?;
        }
        txn.commit()?;
        peers.insert(peer, rec.clone());
        Ok(rec)
    }

    /// Remember `peer` (met through `source`) with addresses to dial it at.
    /// Known addresses keep their history; new ones go first.
    pub fn remember(
        &self,
        peer: NodeId,
        source: Source,
        addrs: &[SocketAddr],
    ) -> Result<PeerRecord, BookError> {
        self.update(peer, Some(source), |r| {
            let mut fresh: Vec<KnownAddr> = addrs
                .iter()
                .filter(|a| !r.addrs.iter().any(|k| k.addr == **a))
                .map(|a| KnownAddr {
                    addr: *a,
                    last_success_ms: None,
                })
                .collect();
            fresh.append(&mut r.addrs);
            r.addrs = fresh;
            // A peer first seen dialling us and now joined or configured
            // takes the more telling source.
            if r.source == Source::Inbound {
                r.source = source;
            }
            r.last_seen_ms = now_ms();
        })
    }

    /// A connection to `peer` came up; `dialled`: we dialled it through this
    /// address. A peer that dialled us is remembered (as `inbound`, with no
    /// address: its source port is not one to dial); a peer we dialled is
    /// updated only if known (whoever dialled records it with its source).
    pub fn connected(
        &self,
        peer: NodeId,
        dialled: Option<SocketAddr>,
    ) -> Result<Option<PeerRecord>, BookError> {
        let now = now_ms();
        let source = dialled.is_none().then_some(Source::Inbound);
        let res = self.update(peer, source, |r| {
            r.last_seen_ms = now;
            if let Some(a) = dialled {
                r.addrs.retain(|k| k.addr != a);
                r.addrs.insert(
                    0,
                    KnownAddr {
                        addr: a,
                        last_success_ms: Some(now),
                    },
                );
            }
        });
        match res {
            Ok(r) => Ok(Some(r)),
            Err(BookError::UnknownPeer(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The connection to a known peer went down.
    pub fn disconnected(&self, peer: NodeId) -> Result<(), BookError> {
        match self.update(peer, None, |r| r.last_seen_ms = now_ms()) {
            Ok(_) | Err(BookError::UnknownPeer(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Ban `peer` (it must be known). Disconnects it through the ban hook.
    pub fn ban(&self, peer: NodeId, reason: &str) -> Result<PeerRecord, BookError> {
        let reason = reason.chars().take(200).collect::<String>();
        let rec = self.update(peer, None, |r| {
            r.banned = Some(Ban {
                reason,
                at_ms: now_ms(),
            })
        })?;
        self.fire_ban(&peer);
        Ok(rec)
    }

    fn fire_ban(&self, peer: &NodeId) {
        if let Some(hook) = &*self.inner.on_ban.lock() {
            hook(peer);
        }
    }

    /// Lift a ban (and forget counted offences).
    pub fn allow(&self, peer: NodeId) -> Result<PeerRecord, BookError> {
        self.update(peer, None, |r| {
            r.banned = None;
            r.offences = 0;
        })
    }

    /// Change some of a known peer's rights; `None` leaves one as it is.
    pub fn set_permissions(
        &self,
        peer: NodeId,
        change: PermissionChange,
    ) -> Result<PeerRecord, BookError> {
        self.update(peer, None, |r| {
            let p = &mut r.permissions;
            for (slot, v) in [
                (&mut p.store, change.store),
                (&mut p.fetch, change.fetch),
                (&mut p.compute, change.compute),
                (&mut p.relay, change.relay),
            ] {
                if let Some(v) = v {
                    *slot = v;
                }
            }
        })
    }

    /// Mark `peer` as one of the owner's own devices: every right.
    pub fn mark_own_device(&self, peer: NodeId, source: Source) -> Result<PeerRecord, BookError> {
        self.update(peer, Some(source), |r| {
            r.own_device = true;
            r.permissions = Permissions::ALL;
        })
    }

    /// Record a proven offence; bans the peer once the configured count is
    /// reached. Returns whether the peer is now banned.
    pub fn record_offence(&self, peer: NodeId, what: &str) -> Result<bool, BookError> {
        let limit = self.inner.rules.ban_after_offences;
        let mut newly = false;
        let rec = self.update(peer, Some(Source::Inbound), |r| {
            r.offences = r.offences.saturating_add(1);
            if limit > 0 && r.offences >= limit && r.banned.is_none() {
                newly = true;
                r.banned = Some(Ban {
                    reason: format!("{} proven offences, last: {}", r.offences, what)
                        .chars()
                        .take(200)
                        .collect(),
                    at_ms: now_ms(),
                });
            }
        })?;
        if newly {
            tracing::warn!(%peer, what, "peer banned after repeated proven offences");
            self.fire_ban(&peer);
        }
        Ok(rec.banned.is_some())
    }

    /// Store a new pairing secret's hash, valid until `expires_ms`.
    pub fn add_pairing(&self, secret: &[u8; 32], expires_ms: u64) -> Result<(), BookError> {
        let hash = blake3::hash(secret);
        let now = now_ms();
        let txn = self.inner.db.begin_write()?;
        {
            let mut table = txn.open_table(PAIRING)?;
            // Drop expired secrets, and the soonest-expiring beyond the cap.
            let mut live: Vec<(Vec<u8>, u64)> = Vec::new();
            for item in table.iter()? {
                let (k, v) = item?;
                live.push((k.value().to_vec(), v.value()));
            }
            live.sort_by_key(|(_, exp)| std::cmp::Reverse(*exp));
            for (i, (k, exp)) in live.iter().enumerate() {
                if *exp <= now || i + 1 >= MAX_PAIRINGS {
                    table.remove(&k[..])?;
                }
            }
            table.insert(&hash.as_bytes()[..], expires_ms)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Spend a pairing secret: true once for a live secret, false if it is
    /// unknown, already used or expired.
    pub fn take_pairing(&self, secret: &[u8; 32]) -> Result<bool, BookError> {
        let hash = blake3::hash(secret);
        let txn = self.inner.db.begin_write()?;
        let expires = {
            let mut table = txn.open_table(PAIRING)?;
            table.remove(&hash.as_bytes()[..])?.map(|g| g.value())
        };
        txn.commit()?;
        Ok(matches!(expires, Some(exp) if exp > now_ms()))
    }
}

/// A change of rights: `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<bool>,
}

impl PeerPolicy for PeerBook {
    fn allows(&self, peer: &NodeId, right: Right) -> bool {
        let peers = self.inner.peers.lock();
        let Some(r) = peers.get(peer) else {
            // A peer we hold no record of gets the defaults.
            let p = self.inner.rules.default_permissions;
            return holds(&p, right);
        };
        r.banned.is_none() && holds(&r.permissions, right)
    }

    fn offence(&self, peer: &NodeId, severity: Severity, what: &str) {
        tracing::warn!(%peer, ?severity, what, "peer misbehaved");
        if severity == Severity::Proven
            && let Err(e) = self.record_offence(*peer, what)
        {
            tracing::warn!(%peer, error = %e, "cannot record an offence");
        }
    }

    fn is_banned(&self, peer: &NodeId) -> bool {
        self.inner
            .peers
            .lock()
            .get(peer)
            .is_some_and(|r| r.banned.is_some())
    }
}

fn holds(p: &Permissions, right: Right) -> bool {
    match right {
        Right::Store => p.store,
        Right::Fetch => p.fetch,
        Right::Compute => p.compute,
        Right::Relay => p.relay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_transport::Identity;

    fn rules() -> BookRules {
        BookRules {
            default_permissions: Permissions {
                store: true,
                fetch: true,
                compute: false,
                relay: false,
            },
            ban_after_offences: 3,
        }
    }

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.redb");
        let id = Identity::generate().node_id();
        {
            let book = PeerBook::open(&path, rules()).unwrap();
            book.remember(id, Source::Join, &[addr(1), addr(2)])
                .unwrap();
            book.connected(id, Some(addr(2))).unwrap();
            book.set_permissions(
                id,
                PermissionChange {
                    fetch: Some(false),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        let book = PeerBook::open(&path, rules()).unwrap();
        let r = book.get(&id).unwrap();
        assert_eq!(r.source, Source::Join);
        assert_eq!(r.addrs[0].addr, addr(2));
        assert!(r.addrs[0].last_success_ms.is_some());
        assert_eq!(r.addrs[1].addr, addr(1));
        assert!(!r.permissions.fetch && r.permissions.store);
        assert!(!book.allows(&id, Right::Fetch));
        assert!(book.allows(&id, Right::Store));
    }

    #[test]
    fn proven_offences_ban_at_the_configured_count_and_fire_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        let book = PeerBook::open(&dir.path().join("p.redb"), rules()).unwrap();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let f = fired.clone();
        book.on_ban(move |p| f.lock().push(*p));
        let id = Identity::generate().node_id();
        book.offence(&id, Severity::Minor, "timeout");
        book.offence(&id, Severity::Proven, "bad block");
        book.offence(&id, Severity::Proven, "bad block");
        assert!(!book.is_banned(&id));
        assert!(book.allows(&id, Right::Fetch));
        book.offence(&id, Severity::Proven, "bad block");
        assert!(book.is_banned(&id));
        assert!(!book.allows(&id, Right::Fetch));
        assert_eq!(*fired.lock(), vec![id]);
        book.allow(id).unwrap();
        assert!(!book.is_banned(&id));
        assert_eq!(book.get(&id).unwrap().offences, 0);
    }

    #[test]
    fn unknown_peers_cannot_be_banned_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let book = PeerBook::open(&dir.path().join("p.redb"), rules()).unwrap();
        let id = Identity::generate().node_id();
        assert!(matches!(book.ban(id, "x"), Err(BookError::UnknownPeer(_))));
        assert!(matches!(book.allow(id), Err(BookError::UnknownPeer(_))));
        assert!(book.get(&id).is_none());
    }

    #[test]
    fn a_pairing_secret_works_once_and_not_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let book = PeerBook::open(&dir.path().join("p.redb"), rules()).unwrap();
        let live = [7u8; 32];
        let stale = [8u8; 32];
        book.add_pairing(&live, now_ms() + 60_000).unwrap();
        book.add_pairing(&stale, now_ms().saturating_sub(1))
            .unwrap();
        assert!(book.take_pairing(&live).unwrap());
        assert!(!book.take_pairing(&live).unwrap());
        assert!(!book.take_pairing(&stale).unwrap());
        assert!(!book.take_pairing(&[9u8; 32]).unwrap());
    }

    #[test]
    fn own_devices_get_every_right() {
        let dir = tempfile::tempdir().unwrap();
        let book = PeerBook::open(&dir.path().join("p.redb"), rules()).unwrap();
        let id = Identity::generate().node_id();
        let r = book.mark_own_device(id, Source::Join).unwrap();
        assert!(r.own_device);
        assert_eq!(r.permissions, Permissions::ALL);
        assert!(book.allows(&id, Right::Compute));
    }
}
