//! Garbage collection: mark from the roots, sweep unreached `own` blocks,
//! delete packs nothing points into.
//!
//! gc holds the temp-pin lock from before it reads the roots until after it
//! commits, and counts every temp pin as live: an add pins each block before
//! it looks the block up, so either gc sees the pin, or the add looks only
//! after gc has committed and then writes the block anew. Packs that a
//! writer has open are never deleted, even while no index entry points
//! into them yet. A damaged manifest stops gc: it never deletes what it
//! could not prove unreachable.

use std::collections::HashSet;

use redb::ReadableTable;
use serde::Serialize;

use super::block::{BlockId, Class};
use super::cap::Cap;
use super::index::{self, BLOCKS, Location, META};
use super::pack;
use super::read::Body;
use super::{Store, StoreError};

/// What `gc` did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GcReport {
    pub roots: u64,
    pub live_blocks: u64,
    pub blocks_removed: u64,
    pub bytes_removed: u64,
    pub packs_deleted: u64,
    pub bytes_freed_on_disk: u64,
}

impl Store {
    /// Every block reachable from `cap`: head, body shards, file shards,
    /// and recursively the entries of a directory.
    pub fn mark(&self, cap: &Cap, live: &mut HashSet<BlockId>) -> Result<(), StoreError> {
        if !live.insert(cap.head) {
            return Ok(());
        }
        let head = self.open_head(cap)?;
        for c in &head.chunks {
            live.extend(c.shards.iter().map(|s| s.id));
        }
        match self.open_body(cap)? {
            Body::File(f) => {
                for c in &f.chunks {
                    live.extend(c.shards.iter().map(|s| s.id));
                }
            }
            Body::Dir(d) => {
                for e in &d.entries {
                    self.mark(&e.cap, live)?;
                }
            }
        }
        Ok(())
    }

    /// Mark and sweep.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let pins = self.pins();
        let roots = self.roots()?;
        let mut live = HashSet::new();
        for r in &roots {
            self.mark(&r.cap, &mut live).map_err(|e| {
                StoreError::Integrity(format!(
                    "gc stopped, nothing deleted: root {:?} cannot be read ({e}); run cairn verify --repair",
                    r.name
                ))
            })?;
        }
        for set in pins.temp.values() {
            live.extend(set.iter().copied());
        }
        let tx = self.inner.db.begin_write()?;
        let mut removed = 0u64;
        let mut bytes = 0u64;
        let mut live_blocks = 0u64;
        let mut used_packs = HashSet::new();
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut dead = Vec::new();
            for item in blocks.iter()? {
                let (k, v) = item?;
                let Some(loc) = Location::decode(v.value()) else {
                    continue;
                };
                let id = BlockId(k.value());
                if loc.class == Class::Own && !live.contains(&id) {
                    dead.push((id, loc.len));
                } else {
                    live_blocks += 1;
                    used_packs.insert(loc.pack);
                }
            }
            for (id, len) in dead {
                blocks.remove(id.0)?;
                removed += 1;
                bytes += len as u64;
            }
            let mut meta = tx.open_table(META)?;
            let key = index::used_key(Class::Own);
            let used = index::meta_get(&meta, key)?;
            meta.insert(key, used.saturating_sub(bytes))?;
        }
        tx.commit()?;
        // Packs no entry points into and no writer has open.
        let mut packs_deleted = 0;
        let mut freed = 0;
        let dir = &self.inner.packs;
        for e in std::fs::read_dir(dir)
            .map_err(|e| StoreError::io(dir, e))?
            .flatten()
        {
            let Some(n) = e.file_name().to_str().and_then(pack::pack_number) else {
                continue;
            };
            if used_packs.contains(&n) || pins.active_packs.contains(&n) {
                continue;
            }
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            self.inner
                .files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&n);
            std::fs::remove_file(e.path()).map_err(|err| StoreError::io(&e.path(), err))?;
            packs_deleted += 1;
            freed += len;
        }
        drop(pins);
        Ok(GcReport {
            roots: roots.len() as u64,
            live_blocks,
            blocks_removed: removed,
            bytes_removed: bytes,
            packs_deleted,
            bytes_freed_on_disk: freed,
        })
    }
}
