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
//!
//! Packs are append-only, so a pack that is mostly dead after a sweep would
//! hold its dead bytes forever. Compaction copies the live records of such
//! packs (less than half live) into a fresh pack through an ordinary
//! writer, moves their index entries in one transaction (only entries that
//! still point into the old pack: a block deleted or repaired meanwhile is
//! left alone), and deletes the old pack once nothing points into it. It
//! runs after the pin lock is released, so adds are not held up by it; a
//! reader that looked a block up in the old pack just before it went looks
//! it up again (`Store::read_block`).

use std::collections::{HashMap, HashSet};

use redb::ReadableTable;
use serde::Serialize;

use super::add::Writer;
use super::block::{BlockId, Class};
use super::cap::Cap;
use super::index::{self, BLOCKS, Location, META, MIRRORS};
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
    /// Mostly-dead packs whose live records were moved to a fresh pack.
    pub packs_compacted: u64,
    /// Bytes of live records those moves copied.
    pub bytes_moved: u64,
    /// Disk space released: deleted packs, minus what compaction rewrote.
    pub bytes_freed_on_disk: u64,
}

/// A pack whose live records fill less than this share of it is compacted.
const COMPACT_BELOW: f64 = 0.5;
/// Packs smaller than this are not worth compacting on their own.
const COMPACT_MIN_PACK: u64 = 64 << 10;

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
        // Live bytes (records with their headers) per pack.
        let mut used_packs: HashMap<u32, u64> = HashMap::new();
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut mirrors = tx.open_table(MIRRORS)?;
            let mut dead = Vec::new();
            let mut kept = HashSet::new();
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
                    kept.insert(id);
                    *used_packs.entry(loc.pack).or_default() +=
                        pack::RECORD_HEADER + loc.len as u64;
                }
            }
            for (id, len) in dead {
                blocks.remove(id.0)?;
                removed += 1;
                bytes += len as u64;
            }
            // A second copy lives exactly as long as its block.
            let mut orphans = Vec::new();
            for item in mirrors.iter()? {
                let (k, v) = item?;
                let id = BlockId(k.value());
                match Location::decode(v.value()) {
                    Some(loc) if kept.contains(&id) => {
                        *used_packs.entry(loc.pack).or_default() +=
                            pack::RECORD_HEADER + loc.len as u64;
                    }
                    _ => orphans.push(id),
                }
            }
            for id in orphans {
                mirrors.remove(id.0)?;
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
            if used_packs.contains_key(&n) || pins.active_packs.contains(&n) {
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
        // Mostly-dead packs, chosen while the pin lock still says which
        // packs writers have open.
        let mut candidates = Vec::new();
        for (&n, &live_bytes) in &used_packs {
            if pins.active_packs.contains(&n) {
                continue;
            }
            let size = std::fs::metadata(pack::pack_path(dir, n))
                .map(|m| m.len())
                .unwrap_or(0);
            if size >= COMPACT_MIN_PACK && (live_bytes as f64) < COMPACT_BELOW * size as f64 {
                candidates.push((n, size));
            }
        }
        drop(pins);
        candidates.sort_unstable();
        let (packs_compacted, bytes_moved, released) = self.compact(&candidates)?;
        Ok(GcReport {
            roots: roots.len() as u64,
            live_blocks,
            blocks_removed: removed,
            bytes_removed: bytes,
            packs_deleted: packs_deleted + packs_compacted,
            packs_compacted,
            bytes_moved,
            bytes_freed_on_disk: (freed + released).saturating_sub(bytes_moved),
        })
    }

    /// Move the live records of `packs` (number, size on disk) into a fresh
    /// pack and delete the old ones. Returns (packs deleted, bytes moved,
    /// bytes of the deleted packs).
    fn compact(&self, packs: &[(u32, u64)]) -> Result<(u64, u64, u64), StoreError> {
        if packs.is_empty() {
            return Ok((0, 0, 0));
        }
        let wanted: HashSet<u32> = packs.iter().map(|(n, _)| *n).collect();
        let mut moves: Vec<(BlockId, Location, bool)> = Vec::new();
        {
            let tx = self.inner.db.begin_read()?;
            for (table, mirror) in [(BLOCKS, false), (MIRRORS, true)] {
                let t = tx.open_table(table)?;
                for item in t.iter()? {
                    let (k, v) = item?;
                    if let Some(loc) = Location::decode(v.value())
                        && wanted.contains(&loc.pack)
                    {
                        moves.push((BlockId(k.value()), loc, mirror));
                    }
                }
            }
        }
        moves.sort_by_key(|(_, loc, _)| (loc.pack, loc.offset));
        let mut writer = Writer::new(self, Class::Own)?;
        let mut moved = 0u64;
        let mut keep = HashSet::new();
        for (id, loc, mirror) in &moves {
            match self.read_raw(loc) {
                Ok(bytes) if BlockId::of(&bytes) == *id => {
                    if *mirror {
                        writer.mirror(*id, &bytes)?;
                    } else {
                        writer.relocate(*id, &bytes, loc.pack)?;
                    }
                    moved += bytes.len() as u64;
                }
                // A damaged record is not copied (verify reports and repairs
                // it from parity); its pack stays until then.
                _ => {
                    tracing::warn!(block = %id, pack = loc.pack, "not compacting a damaged block");
                    keep.insert(loc.pack);
                }
            }
        }
        writer.commit()?;
        drop(writer);
        // Delete each old pack that nothing points into any more and that no
        // writer has opened since (pack numbers are never reused).
        let mut still_used = keep;
        {
            let tx = self.inner.db.begin_read()?;
            for table in [BLOCKS, MIRRORS] {
                let t = tx.open_table(table)?;
                for item in t.iter()? {
                    let (_, v) = item?;
                    if let Some(loc) = Location::decode(v.value())
                        && wanted.contains(&loc.pack)
                    {
                        still_used.insert(loc.pack);
                    }
                }
            }
        }
        let (mut deleted, mut released) = (0u64, 0u64);
        let pins = self.pins();
        for (n, size) in packs {
            if still_used.contains(n) || pins.active_packs.contains(n) {
                continue;
            }
            self.inner
                .files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(n);
            let path = pack::pack_path(&self.inner.packs, *n);
            std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            deleted += 1;
            released += size;
        }
        drop(pins);
        Ok((deleted, moved, released))
    }
}
