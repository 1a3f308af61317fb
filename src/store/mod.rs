//! cairn's block store: encrypted, content-addressed, erasure-coded.
//!
//! Shape (see docs/STORE.md for the why and the on-disk format):
//! - [`pack`]: append-only pack files hold the bytes of blocks;
//! - [`index`]: one redb database says where each block is, which files are
//!   roots, and how much each class uses;
//! - [`crypto`], [`erasure`], [`manifest`], [`cap`]: how a file becomes
//!   sealed chunks, shards and manifests, and how it is named;
//! - [`add`], [`read`], [`gc`], [`verify`]: the operations, as library
//!   functions returning serialisable reports, so the CLI and (later) the
//!   daemon's API are thin callers of one code path.
//!
//! [`Store`] is a cheap handle (`Clone`, an `Arc` inside) over the single
//! owner of the database; redb serialises write transactions, and the
//! in-memory temp pins make gc and concurrent adds safe with one another.

pub mod add;
pub mod block;
pub mod cap;
pub mod crypto;
pub mod erasure;
pub mod fault;
pub mod gc;
pub mod index;
pub mod manifest;
pub mod pack;
pub mod pipeline;
pub mod place;
pub mod read;
pub mod reencode;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use parking_lot::{FairMutex, FairMutexGuard};
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, ReadableTableMetadata};
use serde::Serialize;

pub use add::{AddOptions, AddReport, Progress};
pub use block::{BlockId, Class};
pub use cap::{Cap, CapError, Kind};
pub use crypto::Cipher;
pub use erasure::Redundancy;
pub use gc::GcReport;
pub use place::{Placed, PlacementReport, Placer, PublicHint, ShardSource};
pub use read::{ByteRange, LsEntry, LsReport};
pub use verify::VerifyReport;

use crate::config::StoreConfig;
use index::{BLOCKS, Location, META, MIRRORS, ROOTS};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no such file or directory: {0}")]
    PathNotFound(PathBuf),
    #[error("cannot read {path}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} changed while it was being added; nothing was pinned, try again")]
    PathChanged(PathBuf),
    #[error("disk full: {0}")]
    NoSpace(String),
    #[error(
        "quota of class {class} exceeded: {used} bytes used + {needed} needed > {quota} allowed; nothing was added"
    )]
    Quota {
        class: Class,
        used: u64,
        needed: u64,
        quota: u64,
    },
    #[error("invalid cap")]
    Cap(#[from] CapError),
    #[error("{0}")]
    InvalidInput(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("damaged: {0}")]
    Integrity(String),
    /// Data this node does not hold and could not get from a peer now: its
    /// holders are gone, unreachable, banned or may not be asked. Nothing
    /// here was found damaged; a later read may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("cancelled before it finished")]
    Cancelled,
    #[error("the store is in use by another cairn process (waited {0:?})")]
    Busy(Duration),
    #[error("store database: {0}")]
    Db(String),
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
}

impl StoreError {
    fn io(path: &Path, source: std::io::Error) -> StoreError {
        if is_no_space(&source) {
            StoreError::NoSpace(format!("{}: {source}", path.display()))
        } else {
            StoreError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC)
        || e.raw_os_error() == Some(libc::EDQUOT)
        || e.kind() == std::io::ErrorKind::StorageFull
}

fn redb_err(e: redb::Error) -> StoreError {
    match e {
        redb::Error::Io(io) if is_no_space(&io) => StoreError::NoSpace(format!("index: {io}")),
        other => StoreError::Db(other.to_string()),
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                redb_err(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// In-memory protection of blocks that running writers still need.
#[derive(Debug, Default)]
struct Pins {
    next: u64,
    /// Per writer: the blocks it has written or found present, until its
    /// root is committed (or it gives up).
    temp: HashMap<u64, HashSet<BlockId>>,
    /// Packs a writer is appending to: gc must not delete them even while
    /// no index entry points into them yet.
    active_packs: HashSet<u32>,
}

struct Inner {
    dir: PathBuf,
    packs: PathBuf,
    db: Database,
    conv: crypto::Convergence,
    node: [u8; 32],
    cfg: StoreConfig,
    /// Fair, so a gc that runs back to back cannot starve the adds waiting
    /// to pin their blocks (a plain mutex let gc re-take it for minutes).
    pins: FairMutex<Pins>,
    files: Mutex<HashMap<u32, Arc<File>>>,
    faults: Option<Arc<fault::Faults>>,
    /// Where `add` places shards on peers (none: all shards stay here).
    placer: parking_lot::RwLock<Option<Arc<dyn place::Placer>>>,
    /// Where reads find shards this store lacks (none: local only).
    source: parking_lot::RwLock<Option<Arc<dyn place::ShardSource>>>,
}

/// A handle on the store (cheap to clone).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.dir.display())
    }
}

/// How long `open` waits for another process to release the database.
const OPEN_WAIT: Duration = Duration::from_secs(30);

impl Store {
    /// Open (creating if needed) the store in `dir` (`DATA_DIR/store`).
    ///
    /// `owner_secret` keys convergent encryption; `node` is this node's id,
    /// recorded as the holder of the shards written here.
    pub fn open(
        dir: &Path,
        owner_secret: &[u8; 32],
        node: [u8; 32],
        cfg: StoreConfig,
    ) -> Result<Store, StoreError> {
        Store::open_with_faults(dir, owner_secret, node, cfg, None)
    }

    /// `open`, with every pack and index write and sync passing through an
    /// injected-failure countdown (for the model-based fuzzer and tests).
    pub fn open_with_faults(
        dir: &Path,
        owner_secret: &[u8; 32],
        node: [u8; 32],
        cfg: StoreConfig,
        faults: Option<Arc<fault::Faults>>,
    ) -> Result<Store, StoreError> {
        let packs = dir.join("packs");
        std::fs::create_dir_all(&packs).map_err(|e| StoreError::io(&packs, e))?;
        let started = Instant::now();
        let db_path = dir.join("index.redb");
        let create = || -> Result<Database, redb::DatabaseError> {
            match &faults {
                None => Database::create(&db_path),
                Some(f) => {
                    let file = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(&db_path)?;
                    redb::Builder::new()
                        .create_with_backend(fault::FaultyBackend::new(file, f.clone())?)
                }
            }
        };
        let db = loop {
            match create() {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if started.elapsed() < OPEN_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(StoreError::Busy(started.elapsed()));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let tx = db.begin_write()?;
        {
            tx.open_table(BLOCKS)?;
            tx.open_table(ROOTS)?;
            tx.open_table(MIRRORS)?;
            let mut meta = tx.open_table(META)?;
            let format = index::meta_get(&meta, "format")?;
            if format == 0 {
                meta.insert("format", index::STORE_FORMAT)?;
            } else if format != index::STORE_FORMAT {
                return Err(StoreError::Db(format!(
                    "store format {format} is not supported (this cairn reads {})",
                    index::STORE_FORMAT
                )));
            }
        }
        tx.commit()?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                packs,
                db,
                conv: crypto::Convergence::new(owner_secret),
                node,
                cfg,
                pins: FairMutex::new(Pins::default()),
                files: Mutex::new(HashMap::new()),
                faults,
                placer: parking_lot::RwLock::new(None),
                source: parking_lot::RwLock::new(None),
            }),
        })
    }

    /// Open the store of a data directory (`DIR/store`).
    pub fn open_datadir(dd: &crate::datadir::DataDir) -> Result<Store, StoreError> {
        let keys = dd.keys()?;
        let cfg = dd.config()?;
        let node = cairn_transport::Identity::from_secret_bytes(*keys.identity, *keys.noise_static)
            .node_id();
        Store::open(
            &dd.path("store"),
            &keys.owner_secret,
            *node.as_bytes(),
            cfg.store,
        )
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.cfg
    }

    /// This node's id, recorded as the holder of shards kept here.
    pub fn node(&self) -> [u8; 32] {
        self.inner.node
    }

    /// Place the shards of later adds on peers through `placer` (`None`:
    /// keep everything here, as a single node does).
    pub fn set_placer(&self, placer: Option<Arc<dyn place::Placer>>) {
        *self.inner.placer.write() = placer;
    }

    /// Find shards this store lacks through `source` when reading.
    pub fn set_shard_source(&self, source: Option<Arc<dyn place::ShardSource>>) {
        *self.inner.source.write() = source;
    }

    fn placer(&self) -> Option<Arc<dyn place::Placer>> {
        self.inner.placer.read().clone()
    }

    fn shard_source(&self) -> Option<Arc<dyn place::ShardSource>> {
        self.inner.source.read().clone()
    }

    /// Bytes of `class` stored now.
    pub fn used(&self, class: Class) -> Result<u64, StoreError> {
        let tx = self.inner.db.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(index::meta_get(&meta, index::used_key(class))?)
    }

    fn pins(&self) -> FairMutexGuard<'_, Pins> {
        self.inner.pins.lock()
    }

    fn pack_file(&self, n: u32) -> Result<Arc<File>, StoreError> {
        let mut files = self.inner.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = files.get(&n) {
            return Ok(f.clone());
        }
        let path = pack::pack_path(&self.inner.packs, n);
        let f = Arc::new(File::open(&path).map_err(|e| StoreError::io(&path, e))?);
        if files.len() > 256 {
            files.clear();
        }
        files.insert(n, f.clone());
        Ok(f)
    }

    /// Where a block is, if the index has it.
    pub fn location(&self, id: &BlockId) -> Result<Option<Location>, StoreError> {
        let tx = self.inner.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        Ok(index::location(&t, id)?)
    }

    /// Read a block's bytes as stored, without checking them.
    fn read_raw(&self, loc: &Location) -> Result<Vec<u8>, StoreError> {
        let f = self.pack_file(loc.pack)?;
        pack::read_at(&f, loc.offset, loc.len)
            .map_err(|e| StoreError::io(&pack::pack_path(&self.inner.packs, loc.pack), e))
    }

    /// Where a block's second copy is, if it has one (manifest heads).
    pub fn mirror_location(&self, id: &BlockId) -> Result<Option<Location>, StoreError> {
        let tx = self.inner.db.begin_read()?;
        let t = tx.open_table(MIRRORS)?;
        Ok(index::location(&t, id)?)
    }

    /// Read a block and check it against its id. A damaged block with an
    /// intact second copy (a head) is read from the copy; a block whose pack
    /// a concurrent compaction just deleted is looked up again.
    pub fn read_block(&self, id: &BlockId) -> Result<Vec<u8>, StoreError> {
        let primary = self.read_primary(id);
        match primary {
            Ok(bytes) => Ok(bytes),
            Err(StoreError::NotFound(m)) => Err(StoreError::NotFound(m)),
            Err(e) => match self.read_mirror(id) {
                Some(bytes) => {
                    tracing::warn!(block = %id, "block damaged ({e}); read its second copy (cairn verify --repair rewrites it)");
                    Ok(bytes)
                }
                None => Err(e),
            },
        }
    }

    fn read_primary(&self, id: &BlockId) -> Result<Vec<u8>, StoreError> {
        let mut tries = 0;
        loop {
            let loc = self
                .location(id)?
                .ok_or_else(|| StoreError::NotFound(format!("block {id}")))?;
            let bytes = match self.read_raw(&loc) {
                Ok(b) => b,
                // Compaction moved the block and deleted its old pack between
                // our lookup and our read: the index has the new place.
                Err(StoreError::Io { ref source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && tries == 0 =>
                {
                    tries += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if BlockId::of(&bytes) != *id {
                return Err(StoreError::Integrity(format!(
                    "block {id} does not match its hash"
                )));
            }
            return Ok(bytes);
        }
    }

    /// A block's second copy, if it has one and it is intact.
    pub(crate) fn read_mirror(&self, id: &BlockId) -> Option<Vec<u8>> {
        let loc = self.mirror_location(id).ok()??;
        let bytes = self.read_raw(&loc).ok()?;
        (BlockId::of(&bytes) == *id).then_some(bytes)
    }

    /// Store a block of another node's (`hosted` or `cache`), enforcing the
    /// class quota; a `cache` write evicts least-used cache blocks to fit.
    pub fn put_block(&self, class: Class, bytes: &[u8]) -> Result<BlockId, StoreError> {
        let mut w = add::Writer::new(self, class)?;
        let id = w.put(bytes)?;
        w.commit()?;
        Ok(id)
    }

    /// Read a block for a peer; counts a hit on `cache` blocks.
    pub fn get_block(&self, id: &BlockId) -> Result<Vec<u8>, StoreError> {
        let bytes = self.read_block(id)?;
        let tx = self.inner.db.begin_write()?;
        {
            let mut t = tx.open_table(BLOCKS)?;
            if let Some(mut loc) = index::location(&t, id)?
                && loc.class == Class::Cache
            {
                loc.hits = loc.hits.saturating_add(1);
                t.insert(id.0, loc.encode().as_slice())?;
            }
        }
        tx.commit()?;
        Ok(bytes)
    }

    /// Drop a `hosted` or `cache` block (a contract ended). Own blocks go
    /// only through `rm` + `gc`.
    pub fn release_block(&self, id: &BlockId) -> Result<bool, StoreError> {
        let tx = self.inner.db.begin_write()?;
        let removed = {
            let mut t = tx.open_table(BLOCKS)?;
            let mut meta = tx.open_table(META)?;
            match index::location(&t, id)? {
                Some(loc) if loc.class != Class::Own => {
                    t.remove(id.0)?;
                    let key = index::used_key(loc.class);
                    let used = index::meta_get(&meta, key)?;
                    meta.insert(key, used.saturating_sub(loc.len as u64))?;
                    true
                }
                _ => false,
            }
        };
        tx.commit()?;
        Ok(removed)
    }

    /// The ids of every block of `class` (e.g. the hosted ones, which the
    /// node announces as their provider when it starts).
    pub fn block_ids(&self, class: Class) -> Result<Vec<BlockId>, StoreError> {
        let tx = self.inner.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        let mut ids = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            if Location::decode(v.value()).is_some_and(|l| l.class == class) {
                ids.push(BlockId(k.value()));
            }
        }
        Ok(ids)
    }

    /// Counts and sizes, per class.
    pub fn stats(&self) -> Result<StatsReport, StoreError> {
        let tx = self.inner.db.begin_read()?;
        let blocks = tx.open_table(BLOCKS)?;
        let roots = tx.open_table(ROOTS)?;
        let meta = tx.open_table(META)?;
        let mut classes: Vec<ClassStats> = Class::ALL
            .iter()
            .map(|&c| ClassStats {
                class: c,
                blocks: 0,
                bytes: 0,
                quota: self.inner.cfg.quota(c),
            })
            .collect();
        let mut live = 0u64;
        for item in blocks.iter()? {
            let (_, v) = item?;
            if let Some(loc) = Location::decode(v.value()) {
                let i = Class::ALL.iter().position(|&c| c == loc.class).unwrap_or(0);
                classes[i].blocks += 1;
                classes[i].bytes += loc.len as u64;
                live += loc.len as u64 + pack::RECORD_HEADER;
            }
        }
        for c in &classes {
            let counted = index::meta_get(&meta, index::used_key(c.class))?;
            if counted != c.bytes {
                tracing::warn!(class = %c.class, counted, actual = c.bytes, "usage counter drifted");
            }
        }
        let mut packs = 0u64;
        let mut pack_bytes = 0u64;
        let rd = std::fs::read_dir(&self.inner.packs)
            .map_err(|e| StoreError::io(&self.inner.packs, e))?;
        for e in rd.flatten() {
            if e.file_name().to_str().and_then(pack::pack_number).is_some() {
                packs += 1;
                pack_bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok(StatsReport {
            dir: self.inner.dir.display().to_string(),
            roots: roots.len()?,
            classes,
            packs,
            pack_bytes,
            garbage_bytes: pack_bytes.saturating_sub(live + packs * pack::PACK_MAGIC.len() as u64),
        })
    }

    fn now_secs() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// What `cairn stats` shows.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct StatsReport {
    pub dir: String,
    pub roots: u64,
    pub classes: Vec<ClassStats>,
    pub packs: u64,
    pub pack_bytes: u64,
    /// Bytes in packs that no index entry points at (crash tails, swept
    /// blocks in packs still partly live).
    pub garbage_bytes: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ClassStats {
    pub class: Class,
    pub blocks: u64,
    pub bytes: u64,
    /// 0 = unlimited.
    pub quota: u64,
}
