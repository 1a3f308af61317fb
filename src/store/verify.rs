//! `verify`: every block against its id, every manifest from every root.
//!
//! Two passes. The first reads every indexed block and hashes it, which
//! finds damage wherever it is (including blocks no root reaches). The
//! second walks each root's manifests and checks that every shard of every
//! chunk is indexed and intact; a chunk with a damaged or missing shard but
//! at least k intact ones is rebuilt from parity (with `repair`) and the
//! rebuilt shards are written to a fresh pack; a chunk with fewer than k is
//! reported under the path of the file that needs it.
//!
//! Manifest heads have no parity; each has a second copy (`mirrors_v1`).
//! A damaged head is read from its copy and, with `repair`, written again;
//! a damaged or missing copy of an intact head is written again.

use std::collections::{HashMap, HashSet};

use redb::ReadableTable;
use serde::Serialize;

use super::add::Writer;
use super::block::{BlockId, Class};
use super::cap::Cap;
use super::erasure;
use super::index::{self, BLOCKS, Location, META, MIRRORS};
use super::manifest::ChunkRef;
use super::read::Body;
use super::{Store, StoreError};

/// What `verify` found and did.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct VerifyReport {
    pub blocks_checked: u64,
    pub bytes_checked: u64,
    /// Blocks whose bytes do not match their id or cannot be read.
    pub damaged_blocks: Vec<BlockId>,
    /// Blocks a manifest needs that the index does not have.
    pub missing_blocks: Vec<BlockId>,
    pub manifests_checked: u64,
    pub chunks_checked: u64,
    /// Shards rebuilt from parity and written again.
    pub repaired_blocks: u64,
    /// Heads whose second copy is damaged (the head itself may be intact).
    pub damaged_copies: Vec<BlockId>,
    /// Second copies of heads written (a damaged or missing one, with repair).
    pub copies_written: u64,
    /// Damaged blocks no root needs, dropped from the index (with repair).
    pub dropped_blocks: u64,
    /// Files and directories (by path under their root) that cannot be
    /// read back in full.
    pub unrecoverable: Vec<String>,
    /// True when everything reachable reads back (after repair, if asked).
    pub ok: bool,
}

struct Check<'a, 's> {
    bad: HashSet<BlockId>,
    indexed: HashMap<BlockId, Location>,
    writer: Option<Writer<'s>>,
    report: &'a mut VerifyReport,
    seen: HashSet<BlockId>,
    fixed: HashSet<BlockId>,
    /// Heads with a damaged second copy, and those with none.
    bad_copies: HashSet<BlockId>,
    copies: HashSet<BlockId>,
}

impl Store {
    /// Check everything; with `repair`, rebuild what parity allows.
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let mut indexed = HashMap::new();
        let mut bad = HashSet::new();
        {
            let tx = self.inner.db.begin_read()?;
            let blocks = tx.open_table(BLOCKS)?;
            for item in blocks.iter()? {
                let (k, v) = item?;
                let id = BlockId(k.value());
                let Some(loc) = Location::decode(v.value()) else {
                    bad.insert(id);
                    continue;
                };
                indexed.insert(id, loc);
                report.blocks_checked += 1;
                report.bytes_checked += loc.len as u64;
                match self.read_raw(&loc) {
                    Ok(bytes) if BlockId::of(&bytes) == id => {}
                    _ => {
                        bad.insert(id);
                    }
                }
            }
        }
        let mut copies = HashSet::new();
        let mut bad_copies = HashSet::new();
        {
            let tx = self.inner.db.begin_read()?;
            let mirrors = tx.open_table(MIRRORS)?;
            for item in mirrors.iter()? {
                let (k, v) = item?;
                let id = BlockId(k.value());
                copies.insert(id);
                let intact = Location::decode(v.value())
                    .and_then(|loc| self.read_raw(&loc).ok())
                    .is_some_and(|bytes| BlockId::of(&bytes) == id);
                if !intact {
                    bad_copies.insert(id);
                }
            }
        }
        report.damaged_blocks = bad.iter().copied().collect();
        report.damaged_blocks.sort();
        report.damaged_copies = bad_copies.iter().copied().collect();
        report.damaged_copies.sort();
        let mut check = Check {
            bad,
            indexed,
            writer: if repair {
                Some(Writer::new(self, Class::Own)?)
            } else {
                None
            },
            report: &mut report,
            seen: HashSet::new(),
            fixed: HashSet::new(),
            bad_copies,
            copies,
        };
        for root in self.roots()? {
            self.check_cap(&root.cap, &root.name, &mut check)?;
        }
        if let Some(mut w) = check.writer.take() {
            w.commit()?;
        }
        let fixed = std::mem::take(&mut check.fixed);
        let unreached: Vec<BlockId> = check
            .bad
            .iter()
            .filter(|id| !fixed.contains(id) && !check.seen.contains(id))
            .copied()
            .collect();
        let needed_bad = check
            .bad
            .iter()
            .any(|id| check.seen.contains(id) && !fixed.contains(id));
        let mut unreached_left = !unreached.is_empty();
        if repair && !unreached.is_empty() {
            report.dropped_blocks = self.drop_blocks(&unreached)?;
            unreached_left = false;
        }
        report.missing_blocks.sort();
        report.missing_blocks.dedup();
        report.ok = report.unrecoverable.is_empty()
            && !unreached_left
            && (repair
                || (!needed_bad
                    && report.missing_blocks.is_empty()
                    && report.damaged_copies.is_empty()));
        Ok(report)
    }

    fn drop_blocks(&self, ids: &[BlockId]) -> Result<u64, StoreError> {
        let tx = self.inner.db.begin_write()?;
        let mut n = 0;
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut meta = tx.open_table(META)?;
            for id in ids {
                if let Some(loc) = index::location(&blocks, id)? {
                    blocks.remove(id.0)?;
                    let key = index::used_key(loc.class);
                    let used = index::meta_get(&meta, key)?;
                    meta.insert(key, used.saturating_sub(loc.len as u64))?;
                    n += 1;
                }
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// With repair, make a head whole again: a damaged head from its intact
    /// copy, a damaged or missing copy from the intact head.
    fn repair_head(&self, id: BlockId, check: &mut Check<'_, '_>) -> Result<(), StoreError> {
        let Some(w) = check.writer.as_mut() else {
            return Ok(());
        };
        if check.fixed.contains(&id) {
            return Ok(());
        }
        if check.bad.contains(&id) {
            if let Some(bytes) = self.read_mirror(&id) {
                w.rewrite(id, &bytes)?;
                check.fixed.insert(id);
                check.report.repaired_blocks += 1;
            }
        } else if (!check.copies.contains(&id) || check.bad_copies.contains(&id))
            && let Ok(bytes) = self.read_block(&id)
        {
            w.mirror(id, &bytes)?;
            check.fixed.insert(id);
            check.report.copies_written += 1;
        }
        Ok(())
    }

    /// Is this chunk readable (rebuilding it if asked)? False = lost.
    fn check_chunk(&self, c: &ChunkRef, check: &mut Check<'_, '_>) -> Result<bool, StoreError> {
        check.report.chunks_checked += 1;
        let intact = |id: &BlockId, check: &Check<'_, '_>| {
            (check.indexed.contains_key(id) && !check.bad.contains(id)) || check.fixed.contains(id)
        };
        let mut broken = Vec::new();
        let node = self.node();
        for (i, s) in c.shards.iter().enumerate() {
            check.seen.insert(s.id);
            // A shard the manifest places only on peers is theirs to keep.
            let remote = !s.holders.is_empty() && !s.holders.contains(&node);
            if remote && !check.indexed.contains_key(&s.id) {
                continue;
            }
            if !intact(&s.id, check) {
                if !check.indexed.contains_key(&s.id) {
                    check.report.missing_blocks.push(s.id);
                }
                broken.push(i);
            }
        }
        if broken.is_empty() {
            return Ok(true);
        }
        if c.shards.len() - broken.len() < c.redundancy.k as usize {
            return Ok(false);
        }
        let Some(w) = check.writer.as_mut() else {
            return Ok(true);
        };
        let r = c.redundancy;
        let mut shards: Vec<Option<Vec<u8>>> = c
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if broken.contains(&i) {
                    None
                } else {
                    self.read_block(&s.id).ok()
                }
            })
            .collect();
        if erasure::reconstruct(r, &mut shards).is_err() {
            return Ok(false);
        }
        for i in broken {
            let id = c.shards[i].id;
            let Some(bytes) = shards[i].as_ref() else {
                return Ok(false);
            };
            if BlockId::of(bytes) != id {
                return Ok(false);
            }
            if check.indexed.contains_key(&id) {
                w.rewrite(id, bytes)?;
            } else {
                w.put_with_id(id, bytes)?;
            }
            check.fixed.insert(id);
            check.report.repaired_blocks += 1;
        }
        Ok(true)
    }

    fn check_cap(
        &self,
        cap: &Cap,
        path: &str,
        check: &mut Check<'_, '_>,
    ) -> Result<(), StoreError> {
        check.seen.insert(cap.head);
        check.report.manifests_checked += 1;
        let lost = |check: &mut Check<'_, '_>| check.report.unrecoverable.push(path.to_owned());
        self.repair_head(cap.head, check)?;
        let head = match self.open_head(cap) {
            Ok(h) => h,
            Err(_) => {
                if !check.indexed.contains_key(&cap.head) {
                    check.report.missing_blocks.push(cap.head);
                }
                lost(check);
                return Ok(());
            }
        };
        for c in &head.chunks {
            if !self.check_chunk(c, check)? {
                lost(check);
                return Ok(());
            }
        }
        if let Some(w) = check.writer.as_mut() {
            // Rebuilt body shards must be readable before the body is.
            w.commit()?;
        }
        let body = match self.open_body(cap) {
            Ok(b) => b,
            Err(_) => {
                lost(check);
                return Ok(());
            }
        };
        match body {
            Body::File(f) => {
                for c in &f.chunks {
                    if !self.check_chunk(c, check)? {
                        lost(check);
                        return Ok(());
                    }
                }
            }
            Body::Dir(d) => {
                for e in &d.entries {
                    let child = format!("{path}/{}", String::from_utf8_lossy(&e.name));
                    self.check_cap(&e.cap, &child, check)?;
                }
            }
        }
        Ok(())
    }
}
