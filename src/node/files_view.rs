//! The Files and Transfers parts of the dashboard's snapshot, read from the
//! store and the transfer registry.
//!
//! Health is what the owner cares about: for every chunk, how many of its
//! shards can be had right now — held here and intact in the index, or held
//! by a peer that is connected — against the k+m the path asks for. Walking
//! every manifest is too much to repeat twice a second, so the view is
//! recomputed at most every [`FILES_TTL`] and bounded to [`MAX_ENTRIES`]
//! paths; the walk runs on the snapshot task's blocking thread.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::snapshot::{
    Direction, EntryKind, FileEntry, Health, Redundancy as ViewRedundancy, Snapshot, Transfer,
    TransferState,
};
use crate::store::manifest::ChunkRef;
use crate::store::read::Body;
use crate::store::{Cap, Kind, Redundancy, Store};

use super::snapshot::ExtraFn;
use super::transfers::Transfers;

/// How long a computed files view is reused.
const FILES_TTL: Duration = Duration::from_secs(5);
/// Paths listed at most (roots and what is below them).
const MAX_ENTRIES: usize = 10_000;

/// Node ids of the peers connected now.
pub type ConnectedFn = Arc<dyn Fn() -> HashSet<[u8; 32]> + Send + Sync>;

/// Fills `files` from the store's roots and their trees.
pub fn files_extra(store: Store, local: [u8; 32], connected: ConnectedFn) -> ExtraFn {
    let cache: parking_lot::Mutex<Option<(Instant, Vec<FileEntry>)>> =
        parking_lot::Mutex::new(None);
    Arc::new(move |snap: &mut Snapshot| {
        let mut c = cache.lock();
        if let Some((at, files)) = &*c
            && at.elapsed() < FILES_TTL
        {
            snap.files = files.clone();
            return;
        }
        let online = connected();
        let mut walk = Walk {
            store: &store,
            local,
            online: &online,
            out: Vec::new(),
        };
        if let Ok(roots) = store.roots() {
            for r in roots {
                if walk.out.len() >= MAX_ENTRIES {
                    break;
                }
                let path = format!("/{}", r.name.trim_start_matches('/'));
                let _ = walk.entry(&r.cap, path, r.size);
            }
        }
        *c = Some((Instant::now(), walk.out.clone()));
        snap.files = walk.out;
    })
}

/// Fills `transfers` from the registry of running adds, gets and cats.
pub fn transfers_extra(transfers: Transfers) -> ExtraFn {
    Arc::new(move |snap: &mut Snapshot| {
        snap.transfers = transfers
            .list()
            .into_iter()
            .map(|t| Transfer {
                id: t.id,
                direction: match t.kind {
                    crate::api::store_types::TransferKind::Add => Direction::Up,
                    _ => Direction::Down,
                },
                name: t.name,
                peers: 0,
                bytes_done: t.done,
                bytes_total: (t.total > 0).then_some(t.total),
                rate: t.bytes_per_sec as u64,
                state: TransferState::Running,
            })
            .collect();
    })
}

/// Fills `peers` from the peer book: every remembered peer with its rights
/// and ban; the snapshot task merges the live connection figures in.
pub fn peers_extra(book: crate::peers::PeerBook) -> ExtraFn {
    Arc::new(move |snap: &mut Snapshot| {
        snap.peers = book
            .all()
            .into_iter()
            .map(|r| crate::api::snapshot::Peer {
                node_id: r.node_id.to_string(),
                address: r.addrs.first().map(|a| a.addr.to_string()),
                permissions: r.permissions,
                banned: r.banned.is_some(),
                reputation: 100u32.saturating_sub(r.offences.saturating_mul(25)) as u8,
                ..Default::default()
            })
            .collect();
    })
}

/// The dashboard's form of a redundancy (`1+m` is `m+1` whole copies).
pub fn view_redundancy(r: Redundancy) -> ViewRedundancy {
    if r.k == 1 {
        ViewRedundancy::Copies { n: r.m + 1 }
    } else {
        ViewRedundancy::Erasure { k: r.k, m: r.m }
    }
}

struct Walk<'a> {
    store: &'a Store,
    local: [u8; 32],
    online: &'a HashSet<[u8; 32]>,
    out: Vec<FileEntry>,
}

impl Walk<'_> {
    /// List `cap` at `path` (and below it); returns its health.
    fn entry(&mut self, cap: &Cap, path: String, size: u64) -> Option<(Health, Redundancy)> {
        if self.out.len() >= MAX_ENTRIES {
            return None;
        }
        let slot = self.out.len();
        self.out.push(FileEntry {
            path: path.clone(),
            kind: if cap.kind == Kind::Dir {
                EntryKind::Dir
            } else {
                EntryKind::File
            },
            size,
            redundancy: ViewRedundancy::default(),
            policy_here: true,
            health: Health::default(),
        });
        let head = self.store.open_head(cap).ok();
        let body = self.store.open_body(cap).ok();
        let mut health = Health::default();
        let mut r = head
            .as_ref()
            .and_then(|h| h.chunks.first())
            .map(|c| c.redundancy);
        match (head, body) {
            (Some(h), Some(Body::File(f))) => {
                for c in h.chunks.iter().chain(f.chunks.iter()) {
                    self.chunk(c, &mut health);
                }
                r = f.chunks.first().map(|c| c.redundancy).or(r);
            }
            (Some(h), Some(Body::Dir(d))) => {
                for c in &h.chunks {
                    self.chunk(c, &mut health);
                }
                let mut total = 0;
                for e in &d.entries {
                    let child = format!("{}/{}", path, String::from_utf8_lossy(&e.name));
                    total += e.size;
                    if let Some((h, _)) = self.entry(&e.cap, child, e.size) {
                        merge(&mut health, &h);
                    }
                }
                if let Some(fe) = self.out.get_mut(slot) {
                    fe.size = total.max(size);
                }
            }
            _ => {
                // The manifest cannot be read: the whole path is lost.
                health.chunks = 1;
                health.chunks_lost = 1;
            }
        }
        let r = r
            .or_else(|| self.store.config().redundancy.parse().ok())
            .unwrap_or(Redundancy { k: 4, m: 2 });
        if health.target == 0 {
            health.target = u32::from(r.k) + u32::from(r.m);
            health.available = health.target;
        }
        if let Some(fe) = self.out.get_mut(slot) {
            fe.redundancy = view_redundancy(r);
            fe.health = health;
        }
        Some((health, r))
    }

    fn chunk(&self, c: &ChunkRef, health: &mut Health) {
        let target = c.shards.len() as u32;
        let available = c
            .shards
            .iter()
            .filter(|s| {
                s.holders.iter().any(|h| {
                    if *h == self.local {
                        matches!(self.store.location(&s.id), Ok(Some(_)))
                    } else {
                        self.online.contains(h)
                    }
                })
            })
            .count() as u32;
        let one = Health {
            available,
            target,
            chunks: 1,
            chunks_at_risk: u64::from(available < target && available >= u32::from(c.redundancy.k)),
            chunks_lost: u64::from(available < u32::from(c.redundancy.k)),
            repairs: 0,
        };
        merge(health, &one);
    }
}

/// Fold `b` into `a`: counts add up, the worst chunk's availability stays.
fn merge(a: &mut Health, b: &Health) {
    if a.chunks == 0 {
        *a = *b;
        return;
    }
    if b.chunks == 0 {
        return;
    }
    // Compare as shares of the target, so 2/3 is worse than 5/6.
    let worse = u64::from(b.available) * u64::from(a.target.max(1))
        < u64::from(a.available) * u64::from(b.target.max(1));
    if worse {
        a.available = b.available;
        a.target = b.target;
    }
    a.chunks += b.chunks;
    a.chunks_at_risk += b.chunks_at_risk;
    a.chunks_lost += b.chunks_lost;
    a.repairs += b.repairs;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_chunk_share_wins_and_counts_add_up() {
        let mut a = Health {
            available: 5,
            target: 6,
            chunks: 2,
            chunks_at_risk: 1,
            chunks_lost: 0,
            repairs: 0,
        };
        let b = Health {
            available: 2,
            target: 3,
            chunks: 1,
            chunks_at_risk: 1,
            chunks_lost: 0,
            repairs: 0,
        };
        merge(&mut a, &b);
        assert_eq!(
            (a.available, a.target, a.chunks, a.chunks_at_risk),
            (2, 3, 3, 2)
        );
    }

    #[test]
    fn one_plus_m_is_shown_as_copies() {
        assert_eq!(
            view_redundancy(Redundancy::new(1, 2).unwrap()),
            ViewRedundancy::Copies { n: 3 }
        );
        assert_eq!(
            view_redundancy(Redundancy::new(4, 2).unwrap()),
            ViewRedundancy::Erasure { k: 4, m: 2 }
        );
    }
}
