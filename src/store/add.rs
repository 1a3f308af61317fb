//! Adding files and trees: chunk, seal, erasure-code, write, pin.
//!
//! The bytes of a file flow through a three-stage pipeline over bounded
//! channels, so a file is never whole in memory and both cores work: a
//! reader thread cuts content-defined chunks (FastCDC), an encoder thread
//! derives each chunk's convergent key, seals it and computes its shards and
//! their ids, and the calling thread appends new shards to this add's own
//! pack file. Every block the add writes or finds already present is
//! temp-pinned first, so a concurrent gc cannot sweep it (iroh-blobs #235,
//! #247); the add's root is committed in the same transaction as its last
//! blocks, after the pack has been fsynced, so a crash at any instant leaves
//! either no root or a root whose every block is durable.
//!
//! A public add (`AddOptions::public`) takes the same path with sealing
//! left out: chunks and manifests are erasure-coded as plaintext
//! ([`Cipher::Plain`], no key, no tag), the owner's convergence secret is
//! never touched, and the placer is told each shard's file name so hosts can
//! filter public shares by type. The choice is made once per add and
//! carried down the walk, so one tree is wholly public or wholly private.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fastcdc::v2020::StreamCDC;
use serde::Serialize;

use super::block::{BlockId, Class};
use super::cap::{Cap, Kind};
use super::crypto::Cipher;
use super::erasure::{self, Redundancy};
use super::index::{self, BLOCKS, Location, META, MIRRORS, ROOTS, Root};
use super::manifest::{ChunkRef, DirBody, Entry, FileBody, Head, Meta, Shard};
use super::pack::{PACK_MAGIC, PackWriter};
use super::place::{MAX_REFUSALS_REPORTED, PlacementReport, PublicHint};
use super::{Store, StoreError};

/// Commit (fsync the pack, then the index) at least every this many bytes,
/// so a very large add does not hold everything in its pending list.
const BATCH_BYTES: u64 = 256 << 20;
/// Pieces a manifest body is cut into before sealing.
const MANIFEST_PIECE: usize = 1 << 20;
/// Depth of each pipeline channel, in chunks.
const PIPELINE_DEPTH: usize = 4;
/// Threads sealing and erasure-coding chunks (the machine has two cores;
/// the chunker and the writer are mostly waiting on I/O).
const ENCODERS: usize = 2;

/// Options of one `add`.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Overrides the configured redundancy.
    pub redundancy: Option<Redundancy>,
    /// Store as a public share: plaintext chunks and manifests, a
    /// `cairn-pub:` cap without a key (anyone holding it, and every host,
    /// can read the bytes).
    pub public: bool,
}

/// Progress of an add, reported after every chunk.
#[derive(Debug, Clone)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// The result of adding one path.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AddReport {
    pub path: String,
    pub cap: Cap,
    pub kind: Kind,
    pub size: u64,
    pub files: u64,
    pub dirs: u64,
    /// Entries that are neither files nor directories (symlinks, devices).
    pub skipped: Vec<String>,
    pub chunks: u64,
    pub redundancy: String,
    /// Stored as a public (plaintext) share.
    #[serde(default)]
    pub public: bool,
    pub blocks_written: u64,
    pub bytes_written: u64,
    pub blocks_deduped: u64,
    pub bytes_deduped: u64,
    pub seconds: f64,
    /// Where shards went, when the node places them on peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementReport>,
}

/// How a written block enters the index at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexWrite {
    /// A block the index does not have yet (if it has it by then, the old
    /// entry stays).
    New,
    /// Replace the entry the index has (a repair of a damaged block); the
    /// class and hit count stay.
    Replace,
    /// Compaction: move the entry only if it still points into pack `from`
    /// (a block deleted or repaired meanwhile is left alone).
    Relocate { from: u32 },
}

/// A writer: one pack, a pending batch of index entries, a set of temp pins.
pub(crate) struct Writer<'s> {
    store: &'s Store,
    class: Class,
    token: u64,
    pack: Option<PackWriter>,
    committed: u64,
    /// New index entries: id, location, and how to index it.
    pending: Vec<(BlockId, Location, IndexWrite)>,
    /// Second copies of blocks without parity (heads): id, location.
    mirrors: Vec<(BlockId, Location)>,
    pending_set: HashSet<BlockId>,
    /// Blocks already present under another class that this own add now
    /// needs: they become `own` at commit.
    promote: Vec<BlockId>,
    pending_bytes: u64,
    pub blocks_written: u64,
    pub bytes_written: u64,
    pub blocks_deduped: u64,
    pub bytes_deduped: u64,
    /// What placement on peers did (when a placer is set).
    placement: Option<(PlacementReport, HashSet<[u8; 32]>)>,
}

impl<'s> Writer<'s> {
    pub(crate) fn new(store: &'s Store, class: Class) -> Result<Writer<'s>, StoreError> {
        let token = {
            let mut p = store.pins();
            p.next += 1;
            let t = p.next;
            p.temp.insert(t, HashSet::new());
            t
        };
        Ok(Writer {
            store,
            class,
            token,
            pack: None,
            committed: 0,
            pending: Vec::new(),
            mirrors: Vec::new(),
            pending_set: HashSet::new(),
            promote: Vec::new(),
            pending_bytes: 0,
            blocks_written: 0,
            bytes_written: 0,
            blocks_deduped: 0,
            bytes_deduped: 0,
            placement: None,
        })
    }

    fn open_pack(&mut self) -> Result<&mut PackWriter, StoreError> {
        if self.pack.is_none() {
            let inner = &self.store.inner;
            let tx = inner.db.begin_write()?;
            let n = {
                let mut meta = tx.open_table(META)?;
                let n = index::meta_get(&meta, "next_pack")?;
                meta.insert("next_pack", n + 1)?;
                n
            };
            tx.commit()?;
            let n =
                u32::try_from(n).map_err(|_| StoreError::Db("pack numbers exhausted".into()))?;
            self.store.pins().active_packs.insert(n);
            let pw = PackWriter::create(&inner.packs, n, inner.faults.clone())
                .map_err(|e| StoreError::io(&super::pack::pack_path(&inner.packs, n), e))?;
            self.pack = Some(pw);
        }
        self.pack
            .as_mut()
            .ok_or_else(|| StoreError::Db("pack not open".into()))
    }

    /// Store a block (or find it already stored); returns its id.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<BlockId, StoreError> {
        let id = BlockId::of(bytes);
        self.put_with_id(id, bytes)?;
        Ok(id)
    }

    /// Store a block whose id the caller computed.
    pub(crate) fn put_with_id(&mut self, id: BlockId, bytes: &[u8]) -> Result<(), StoreError> {
        // Pin before looking: a gc that starts after this line sees the pin;
        // one that holds the pin lock now finishes before we look.
        if let Some(set) = self.store.pins().temp.get_mut(&self.token) {
            set.insert(id);
        }
        if self.pending_set.contains(&id) {
            self.blocks_deduped += 1;
            self.bytes_deduped += bytes.len() as u64;
            return Ok(());
        }
        if let Some(loc) = self.store.location(&id)? {
            if loc.class != self.class && self.class == Class::Own {
                self.promote.push(id);
            }
            self.blocks_deduped += 1;
            self.bytes_deduped += bytes.len() as u64;
            return Ok(());
        }
        self.append(id, bytes, IndexWrite::New)
    }

    /// Write a block again even though the index has it (its stored bytes
    /// are damaged); the index entry is replaced at commit.
    pub(crate) fn rewrite(&mut self, id: BlockId, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(set) = self.store.pins().temp.get_mut(&self.token) {
            set.insert(id);
        }
        self.append(id, bytes, IndexWrite::Replace)
    }

    /// Compaction: copy a live block out of pack `from` into this writer's
    /// pack; the index moves to the copy at commit unless the entry changed.
    pub(crate) fn relocate(
        &mut self,
        id: BlockId,
        bytes: &[u8],
        from: u32,
    ) -> Result<(), StoreError> {
        if let Some(set) = self.store.pins().temp.get_mut(&self.token) {
            set.insert(id);
        }
        self.append(id, bytes, IndexWrite::Relocate { from })
    }

    /// Write a second copy of a block that has no parity of its own (a
    /// manifest head), indexed in `mirrors_v1` at commit.
    pub(crate) fn mirror(&mut self, id: BlockId, bytes: &[u8]) -> Result<(), StoreError> {
        let class = self.class;
        let packs = self.store.inner.packs.clone();
        let pack = self.open_pack()?;
        let offset = pack
            .append(&id, bytes)
            .map_err(|e| StoreError::io(&super::pack::pack_path(&packs, pack.number), e))?;
        let number = pack.number;
        self.mirrors.push((
            id,
            Location {
                class,
                pack: number,
                offset,
                len: bytes.len() as u32,
                hits: 0,
            },
        ));
        Ok(())
    }

    fn append(&mut self, id: BlockId, bytes: &[u8], entry: IndexWrite) -> Result<(), StoreError> {
        let class = self.class;
        let packs = self.store.inner.packs.clone();
        let pack = self.open_pack()?;
        let offset = pack
            .append(&id, bytes)
            .map_err(|e| StoreError::io(&super::pack::pack_path(&packs, pack.number), e))?;
        let loc = Location {
            class,
            pack: pack.number,
            offset,
            len: bytes.len() as u32,
            hits: 0,
        };
        self.pending.push((id, loc, entry));
        self.pending_set.insert(id);
        self.pending_bytes += bytes.len() as u64;
        self.blocks_written += 1;
        self.bytes_written += bytes.len() as u64;
        if self.pending_bytes >= BATCH_BYTES {
            self.commit_with(None)?;
        }
        Ok(())
    }

    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        self.commit_with(None)
    }

    /// Make the pending blocks durable and indexed, and pin `root` with them.
    pub(crate) fn commit_with(&mut self, root: Option<&Root>) -> Result<(), StoreError> {
        if self.pending.is_empty()
            && self.promote.is_empty()
            && self.mirrors.is_empty()
            && root.is_none()
        {
            return Ok(());
        }
        if let Some(pack) = self.pack.as_mut() {
            let path = super::pack::pack_path(&self.store.inner.packs, pack.number);
            pack.sync().map_err(|e| StoreError::io(&path, e))?;
        }
        let cfg = &self.store.inner.cfg;
        let mut new_own: Vec<BlockId> = Vec::new();
        let tx = self.store.inner.db.begin_write()?;
        {
            let mut blocks = tx.open_table(BLOCKS)?;
            let mut meta = tx.open_table(META)?;
            let mut added = [0u64; 3];
            let slot = |c: Class| Class::ALL.iter().position(|&x| x == c).unwrap_or(0);
            for (id, loc, entry) in &self.pending {
                match (index::location(&blocks, id)?, entry) {
                    (None, IndexWrite::New | IndexWrite::Replace) => {
                        blocks.insert(id.0, loc.encode().as_slice())?;
                        added[slot(loc.class)] += loc.len as u64;
                        if loc.class == Class::Own {
                            new_own.push(*id);
                        }
                    }
                    (Some(old), IndexWrite::Replace) => {
                        let new = Location {
                            class: old.class,
                            hits: old.hits,
                            ..*loc
                        };
                        blocks.insert(id.0, new.encode().as_slice())?;
                    }
                    (Some(old), IndexWrite::Relocate { from }) if old.pack == *from => {
                        let new = Location {
                            class: old.class,
                            hits: old.hits,
                            ..*loc
                        };
                        blocks.insert(id.0, new.encode().as_slice())?;
                    }
                    _ => {}
                }
            }
            if !self.mirrors.is_empty() {
                let mut mirrors = tx.open_table(MIRRORS)?;
                for (id, loc) in &self.mirrors {
                    mirrors.insert(id.0, loc.encode().as_slice())?;
                }
            }
            let mut removed = [0u64; 3];
            for id in &self.promote {
                if let Some(mut loc) = index::location(&blocks, id)?
                    && loc.class != Class::Own
                {
                    removed[slot(loc.class)] += loc.len as u64;
                    added[slot(Class::Own)] += loc.len as u64;
                    loc.class = Class::Own;
                    blocks.insert(id.0, loc.encode().as_slice())?;
                }
            }
            for c in Class::ALL {
                let key = index::used_key(c);
                let used = index::meta_get(&meta, key)?.saturating_sub(removed[slot(c)]);
                let need = added[slot(c)];
                let quota = cfg.quota(c);
                let mut used_now = used;
                if quota != 0 && need > 0 && used + need > quota && c == Class::Cache {
                    used_now =
                        evict_cache(&mut blocks, used, used + need - quota, &self.pending_set)?;
                }
                if quota != 0 && need > 0 && used_now + need > quota {
                    // Dropping `tx` aborts: nothing of this batch is indexed.
                    return Err(StoreError::Quota {
                        class: c,
                        used: used_now,
                        needed: need,
                        quota,
                    });
                }
                meta.insert(key, used_now + need)?;
            }
            if let Some(root) = root {
                let mut roots = tx.open_table(ROOTS)?;
                roots.insert(root.cap.head.0, root.encode().as_slice())?;
            }
        }
        // From here on the batch may be durable even if `commit` reports an
        // error (say, its last fsync fails after the header was written), so
        // the pack must keep these bytes whatever happens.
        self.committed = self.pack.as_ref().map(|p| p.len()).unwrap_or(0);
        tx.commit()?;
        if !new_own.is_empty()
            && let Some(p) = self.store.placer()
        {
            p.kept(&new_own);
        }
        self.pending.clear();
        self.mirrors.clear();
        self.pending_set.clear();
        self.promote.clear();
        self.pending_bytes = 0;
        Ok(())
    }

    /// Store a sealed chunk's shards: on peers through the placer if one is
    /// set (an own add only), here otherwise, and here as well when the
    /// placer says to keep a copy, `always_local` asks it (manifests, which
    /// gc and verify walk), or no peer took the shard.
    /// `public` names a public chunk's file for the hosts' type filters.
    fn put_chunk(
        &mut self,
        sealed: SealedChunk,
        always_local: bool,
        public: Option<PublicHint<'_>>,
    ) -> Result<ChunkRef, StoreError> {
        let placed = match self.store.placer() {
            Some(p) if self.class == Class::Own => {
                let list: Vec<(BlockId, &[u8])> = sealed
                    .shards
                    .iter()
                    .map(|(id, b)| (*id, b.as_slice()))
                    .collect();
                Some(match &public {
                    Some(hint) => p.place_public(&list, hint),
                    None => p.place(&list),
                })
            }
            _ => None,
        };
        if let Some(p) = &placed {
            self.note_refusals(&p.refused);
        }
        let node = self.store.inner.node;
        let mut shards = Vec::with_capacity(sealed.shards.len());
        for (i, (id, bytes)) in sealed.shards.iter().enumerate() {
            let mut holders: Vec<[u8; 32]> = placed
                .as_ref()
                .and_then(|p| p.holders.get(i).cloned())
                .unwrap_or_default();
            holders.retain(|h| *h != node);
            holders.truncate(super::manifest::MAX_HOLDERS - 1);
            let keep =
                holders.is_empty() || always_local || placed.as_ref().is_some_and(|p| p.keep_local);
            if let Some(p) = &placed {
                let (rep, peers) = self
                    .placement
                    .get_or_insert_with(|| (PlacementReport::default(), HashSet::new()));
                rep.peers_connected = rep.peers_connected.max(p.peers_connected as u64);
                rep.peers_allowed = rep.peers_allowed.max(p.peers_allowed as u64);
                if holders.is_empty() {
                    rep.shards_kept_local += 1;
                } else {
                    rep.shards_placed += 1;
                }
                peers.extend(holders.iter().copied());
            }
            if keep {
                self.put_with_id(*id, bytes)?;
                holders.insert(0, node);
            }
            shards.push(Shard { id: *id, holders });
        }
        Ok(ChunkRef {
            len: sealed.len,
            cipher: sealed.cipher,
            key: sealed.key,
            redundancy: sealed.redundancy,
            shard_len: sealed.shard_len,
            shards,
        })
    }

    /// Refusals placement reported, kept (deduplicated, bounded) for the
    /// add's report.
    fn note_refusals(&mut self, refused: &[String]) {
        if refused.is_empty() {
            return;
        }
        let (rep, _) = self
            .placement
            .get_or_insert_with(|| (PlacementReport::default(), HashSet::new()));
        for r in refused {
            if rep.refused.len() < MAX_REFUSALS_REPORTED && !rep.refused.contains(r) {
                rep.refused.push(r.clone());
            }
        }
    }

    /// Store a manifest body (erasure-coded like file data) and its head
    /// block; returns the cap naming it. With `public` (the file's or
    /// directory's name) both are stored as plaintext and the cap is a
    /// public one.
    pub(crate) fn put_manifest(
        &mut self,
        kind: Kind,
        body: &[u8],
        r: Redundancy,
        public: Option<&str>,
    ) -> Result<Cap, StoreError> {
        if let Some(name) = public {
            return self.put_public_manifest(kind, body, r, name);
        }
        let conv = &self.store.inner.conv;
        let cipher = self.store.inner.cfg.cipher;
        let mut chunks = Vec::new();
        for piece in body.chunks(MANIFEST_PIECE) {
            let sealed = seal_chunk(conv, cipher, r, piece.to_vec());
            chunks.push(self.put_chunk(sealed, true, None)?);
        }
        let head = Head {
            kind,
            body_len: body.len() as u64,
            chunks,
        }
        .encode();
        let key = conv.key_for(&head);
        let sealed = cipher.seal(&key, &head);
        let written = self.blocks_written;
        let id = self.put(&sealed)?;
        if self.blocks_written > written {
            // The head has no parity: keep a second copy so a damaged head
            // is repaired rather than losing the whole file.
            self.mirror(id, &sealed)?;
        }
        // The head is found by id alone (through providers), so it goes to
        // as many peers as a chunk survives losing, plus one.
        if let Some(p) = self.store.placer().filter(|_| self.class == Class::Own) {
            let copies = vec![(id, sealed.as_slice()); r.m as usize + 1];
            p.place(&copies);
        }
        Ok(Cap {
            kind,
            cipher,
            head: id,
            key,
        })
    }

    /// `put_manifest` of a public share: plaintext body chunks and head,
    /// no key derived, hosts told the name.
    fn put_public_manifest(
        &mut self,
        kind: Kind,
        body: &[u8],
        r: Redundancy,
        name: &str,
    ) -> Result<Cap, StoreError> {
        let hint = PublicHint {
            name,
            leading: None,
        };
        let mut chunks = Vec::new();
        for piece in body.chunks(MANIFEST_PIECE) {
            let chunk = public_chunk(r, piece.to_vec());
            chunks.push(self.put_chunk(chunk, true, Some(hint))?);
        }
        let head = Head {
            kind,
            body_len: body.len() as u64,
            chunks,
        }
        .encode();
        let written = self.blocks_written;
        let id = self.put(&head)?;
        if self.blocks_written > written {
            self.mirror(id, &head)?;
        }
        if let Some(p) = self.store.placer().filter(|_| self.class == Class::Own) {
            let copies = vec![(id, head.as_slice()); r.m as usize + 1];
            let placed = p.place_public(&copies, &hint);
            self.note_refusals(&placed.refused);
        }
        Ok(Cap::public(kind, id))
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let mut pins = self.store.pins();
        pins.temp.remove(&self.token);
        if let Some(pack) = self.pack.take() {
            pins.active_packs.remove(&pack.number);
            let committed = self.committed;
            if pack.len() > committed || committed <= PACK_MAGIC.len() as u64 {
                pack.abandon(committed);
            }
        }
    }
}

/// Remove least-hit cache blocks until `free` bytes are freed; returns the
/// new usage. Blocks of the running batch are spared.
fn evict_cache(
    blocks: &mut redb::Table<[u8; 32], &[u8]>,
    used: u64,
    free: u64,
    spare: &HashSet<BlockId>,
) -> Result<u64, StoreError> {
    use redb::ReadableTable;
    let mut cands: Vec<(u32, [u8; 32], u64)> = Vec::new();
    for item in blocks.iter()? {
        let (k, v) = item?;
        if let Some(loc) = Location::decode(v.value())
            && loc.class == Class::Cache
            && !spare.contains(&BlockId(k.value()))
        {
            cands.push((loc.hits, k.value(), loc.len as u64));
        }
    }
    cands.sort();
    let mut freed = 0;
    for (_, id, len) in cands {
        if freed >= free {
            break;
        }
        blocks.remove(id)?;
        freed += len;
        tracing::debug!(block = %BlockId(id), "evicted from cache");
    }
    Ok(used.saturating_sub(freed))
}

/// A chunk sealed and split, ready to store.
pub(crate) struct SealedChunk {
    len: u32,
    cipher: Cipher,
    key: [u8; 32],
    redundancy: Redundancy,
    shard_len: u32,
    shards: Vec<(BlockId, Vec<u8>)>,
}

pub(crate) fn seal_chunk(
    conv: &super::crypto::Convergence,
    cipher: Cipher,
    r: Redundancy,
    plain: Vec<u8>,
) -> SealedChunk {
    let key = conv.key_for(&plain);
    let sealed = cipher.seal(&key, &plain);
    let shards = erasure::encode(r, &sealed);
    SealedChunk {
        len: plain.len() as u32,
        cipher,
        key,
        redundancy: r,
        shard_len: r.shard_len(sealed.len()) as u32,
        shards: shards.into_iter().map(|s| (BlockId::of(&s), s)).collect(),
    }
}

/// A public chunk: erasure-coded as it is, no key, no tag.
pub(crate) fn public_chunk(r: Redundancy, plain: Vec<u8>) -> SealedChunk {
    let shards = erasure::encode(r, &plain);
    SealedChunk {
        len: plain.len() as u32,
        cipher: Cipher::Plain,
        key: [0; 32],
        redundancy: r,
        shard_len: r.shard_len(plain.len()) as u32,
        shards: shards.into_iter().map(|s| (BlockId::of(&s), s)).collect(),
    }
}

fn meta_of(md: &std::fs::Metadata) -> Meta {
    Meta {
        mode: md.mode() & 0o7777,
        mtime_secs: md.mtime(),
        mtime_nanos: md.mtime_nsec().clamp(0, 999_999_999) as u32,
    }
}

/// Per-path state of an add.
struct Walk<'a> {
    r: Redundancy,
    /// A public add: plaintext blocks, names told to hosts.
    public: bool,
    done: u64,
    total: u64,
    files: u64,
    dirs: u64,
    chunks: u64,
    skipped: Vec<String>,
    progress: &'a mut dyn FnMut(&Progress),
    /// Set by another thread to stop the add before its root is pinned.
    cancel: &'a AtomicBool,
}

impl Walk<'_> {
    fn check_cancel(&self) -> Result<(), StoreError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(StoreError::Cancelled);
        }
        Ok(())
    }
}

fn open_err(path: &Path, e: io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::NotFound => StoreError::PathNotFound(path.to_owned()),
        _ => StoreError::Unreadable {
            path: path.to_owned(),
            source: e,
        },
    }
}

/// Total size of the files under `path` (for progress and the quota check).
fn tree_size(path: &Path) -> Result<u64, StoreError> {
    let md = std::fs::symlink_metadata(path).map_err(|e| open_err(path, e))?;
    if md.is_dir() {
        let mut sum = 0;
        for e in std::fs::read_dir(path).map_err(|e| open_err(path, e))? {
            let e = e.map_err(|e| open_err(path, e))?;
            sum += tree_size(&e.path())?;
        }
        Ok(sum)
    } else if md.is_file() {
        Ok(md.len())
    } else {
        Ok(0)
    }
}

impl Store {
    /// Add files and directory trees; each path becomes a pinned root with
    /// its own cap. Reports come back in the order of `paths`.
    pub fn add(
        &self,
        paths: &[PathBuf],
        opts: &AddOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Vec<AddReport>, StoreError> {
        self.add_cancellable(paths, opts, progress, &AtomicBool::new(false))
    }

    /// `add`, stoppable from another thread: once `cancel` is set, the path
    /// being added fails with [`StoreError::Cancelled`] at its next chunk or
    /// directory entry, before its root is pinned, so nothing of it stays
    /// reachable and the next gc reclaims the blocks it wrote. Paths that
    /// finished before the cancel stay pinned.
    pub fn add_cancellable(
        &self,
        paths: &[PathBuf],
        opts: &AddOptions,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<Vec<AddReport>, StoreError> {
        let r = match opts.redundancy {
            Some(r) => r,
            None => self
                .inner
                .cfg
                .redundancy
                .parse()
                .map_err(|e: erasure::RedundancyError| StoreError::InvalidInput(e.to_string()))?,
        };
        let mut total = 0;
        for p in paths {
            total += tree_size(p)?;
        }
        self.check_quota(total, r)?;
        let mut done = 0;
        let mut reports = Vec::with_capacity(paths.len());
        for p in paths {
            let rep = self.add_one(p, r, opts.public, &mut done, total, progress, cancel)?;
            reports.push(rep);
        }
        Ok(reports)
    }

    /// Refuse up front an add that cannot fit its quota even before dedup.
    fn check_quota(&self, plain: u64, r: Redundancy) -> Result<(), StoreError> {
        let quota = self.inner.cfg.quota_own;
        if quota == 0 {
            return Ok(());
        }
        let stored = plain / r.k as u64 * r.total() as u64 + plain / 64 + 64 * 1024;
        let tx = self.inner.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let used = index::meta_get(&meta, index::used_key(Class::Own))?;
        if used + stored > quota {
            return Err(StoreError::Quota {
                class: Class::Own,
                used,
                needed: stored,
                quota,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_one(
        &self,
        path: &Path,
        r: Redundancy,
        public: bool,
        done: &mut u64,
        total: u64,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<AddReport, StoreError> {
        let started = Instant::now();
        let mut w = Writer::new(self, Class::Own)?;
        let mut walk = Walk {
            r,
            public,
            done: *done,
            total,
            files: 0,
            dirs: 0,
            chunks: 0,
            skipped: Vec::new(),
            progress,
            cancel,
        };
        let (cap, size, _) = self.add_path(&mut w, path, &mut walk)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let root = Root {
            cap: cap.clone(),
            size,
            added_secs: Store::now_secs(),
            name,
        };
        w.commit_with(Some(&root))?;
        *done = walk.done;
        Ok(AddReport {
            path: path.display().to_string(),
            kind: cap.kind,
            cap,
            size,
            files: walk.files,
            dirs: walk.dirs,
            skipped: walk.skipped,
            chunks: walk.chunks,
            redundancy: r.to_string(),
            public,
            blocks_written: w.blocks_written,
            bytes_written: w.bytes_written,
            blocks_deduped: w.blocks_deduped,
            bytes_deduped: w.bytes_deduped,
            seconds: started.elapsed().as_secs_f64(),
            placement: w.placement.take().map(|(mut rep, peers)| {
                rep.peers = peers.len() as u64;
                if rep.none_placed() {
                    rep.warning = Some(format!(
                        "{}; all {} shards are kept only on this node",
                        rep.none_placed_reason(),
                        rep.shards_kept_local
                    ));
                } else if rep.shards_kept_local > 0 {
                    rep.warning = Some(format!(
                        "{} of {} shards found no distinct peer allowed to store them and are kept only on this node",
                        rep.shards_kept_local,
                        rep.shards_kept_local + rep.shards_placed
                    ));
                }
                rep
            }),
        })
    }

    /// Add a file or a tree; returns its cap, total size and metadata.
    fn add_path(
        &self,
        w: &mut Writer<'_>,
        path: &Path,
        walk: &mut Walk<'_>,
    ) -> Result<(Cap, u64, Meta), StoreError> {
        let md = std::fs::symlink_metadata(path).map_err(|e| open_err(path, e))?;
        if md.is_file() {
            return self.add_file(w, path, walk);
        }
        if !md.is_dir() {
            return Err(StoreError::InvalidInput(format!(
                "{}: neither a file nor a directory",
                path.display()
            )));
        }
        walk.dirs += 1;
        let mut names: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(path).map_err(|e| open_err(path, e))? {
            let e = e.map_err(|e| open_err(path, e))?;
            names.push((e.file_name().as_bytes().to_vec(), e.path()));
        }
        names.sort();
        let mut entries = Vec::with_capacity(names.len());
        let mut size = 0;
        for (name, child) in names {
            walk.check_cancel()?;
            let cmd = std::fs::symlink_metadata(&child).map_err(|e| open_err(&child, e))?;
            if !cmd.is_file() && !cmd.is_dir() {
                walk.skipped.push(child.display().to_string());
                continue;
            }
            let (cap, csize, meta) = self.add_path(w, &child, walk)?;
            size += csize;
            entries.push(Entry {
                name,
                mode: meta.mode,
                mtime_secs: meta.mtime_secs,
                mtime_nanos: meta.mtime_nanos,
                size: csize,
                cap,
            });
        }
        // The directory's own metadata, read after its children were added.
        let md = std::fs::symlink_metadata(path).map_err(|e| open_err(path, e))?;
        let meta = meta_of(&md);
        let body = DirBody { meta, entries }.encode();
        let name = public_name(path);
        let cap = w.put_manifest(Kind::Dir, &body, walk.r, walk.public.then_some(&*name))?;
        Ok((cap, size, meta))
    }

    fn add_file(
        &self,
        w: &mut Writer<'_>,
        path: &Path,
        walk: &mut Walk<'_>,
    ) -> Result<(Cap, u64, Meta), StoreError> {
        let file = File::open(path).map_err(|e| open_err(path, e))?;
        let before = file.metadata().map_err(|e| open_err(path, e))?;
        let avg = self
            .inner
            .cfg
            .chunk_avg
            .clamp(1024, fastcdc::v2020::AVERAGE_MAX);
        let (min, max) = (avg / 4, avg * 4);
        let conv = self.inner.conv.clone();
        let cipher = self.inner.cfg.cipher;
        let r = walk.r;
        let public = walk.public;
        let name = public_name(path);
        let mut chunks = Vec::new();
        let mut size = 0u64;
        let chunker = StreamCDC::new(file, min, avg, max).map(|c| c.map(|c| c.data));
        super::pipeline::par_map_ordered(
            chunker,
            ENCODERS,
            PIPELINE_DEPTH,
            |item| {
                item.map(|plain| {
                    if public {
                        public_chunk(r, plain)
                    } else {
                        seal_chunk(&conv, cipher, r, plain)
                    }
                })
            },
            |item| -> Result<(), StoreError> {
                walk.check_cancel()?;
                let sealed = item.map_err(|e| open_err(path, e.into()))?;
                let len = sealed.len as u64;
                let hint = public.then_some(PublicHint {
                    name: &name,
                    leading: chunks.is_empty().then_some(0),
                });
                chunks.push(w.put_chunk(sealed, false, hint)?);
                size += len;
                walk.done += len;
                walk.chunks += 1;
                (walk.progress)(&Progress {
                    bytes_done: walk.done,
                    bytes_total: walk.total.max(walk.done),
                });
                Ok(())
            },
        )?;
        let after = std::fs::metadata(path).map_err(|e| open_err(path, e))?;
        if size != before.len()
            || after.len() != before.len()
            || after.mtime() != before.mtime()
            || after.mtime_nsec() != before.mtime_nsec()
        {
            return Err(StoreError::PathChanged(path.to_owned()));
        }
        walk.files += 1;
        let meta = meta_of(&before);
        let body = FileBody { size, meta, chunks }.encode();
        let cap = w.put_manifest(Kind::File, &body, r, public.then_some(&*name))?;
        Ok((cap, size, meta))
    }
}

/// The name a public share's shards are announced with: the path's last
/// component (lossily UTF-8), which is all a host's type filter needs.
fn public_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
