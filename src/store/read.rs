//! Reading back: caps to heads to bodies to chunks to bytes.
//!
//! A chunk is read from its k data shards when they are intact (no decoding
//! work at all), and from any k intact shards through Reed-Solomon when some
//! are missing or damaged. `get` and `cat` run a reader thread that fetches
//! and opens chunks ahead of the thread writing the output, over a bounded
//! channel, so output never waits for a whole file and memory stays small.
//!
//! Public and private data never mix: a cap's head, every chunk under it and
//! every directory entry below it must agree with the cap on being public
//! (plaintext) or private (sealed), or the read fails as damaged. So a
//! public cap never leads to a decryption and a private cap never to
//! plaintext, whatever a forged manifest says.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use super::block::BlockId;
use super::cap::{Cap, Kind};
use super::erasure;
use super::index::{ROOTS, Root};
use super::manifest::{ChunkRef, DirBody, FileBody, Head, MAX_MANIFEST, Meta};
use super::{Store, StoreError};

/// Threads reading and opening chunks ahead of the output.
const READERS: usize = 2;
/// Threads reading ahead when shards come from peers: each mostly waits on
/// the network, and more chunks in flight keep every peer's pipeline full.
/// Memory stays bounded: at most this many chunks in hand plus
/// [`READ_AHEAD`] finished ones waiting for the output.
pub const REMOTE_READERS: usize = 6;
/// Finished chunks (and chunks waiting for a reader) held ahead of the output.
pub const READ_AHEAD: usize = 4;

/// An inclusive byte range `A-B` (`A-` to the end), as in HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl FromStr for ByteRange {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<ByteRange, StoreError> {
        let bad = || StoreError::InvalidInput(format!("bad range {s:?}: expected A-B or A-"));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let start = a.trim().parse().map_err(|_| bad())?;
        let end = if b.trim().is_empty() {
            None
        } else {
            Some(b.trim().parse().map_err(|_| bad())?)
        };
        if end.is_some_and(|e| e < start) {
            return Err(bad());
        }
        Ok(ByteRange { start, end })
    }
}

/// One line of `ls`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LsEntry {
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: Option<u32>,
    pub mtime: Option<i64>,
    pub cap: Cap,
}

/// What `ls` shows: the pinned roots, or a directory's entries.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LsReport {
    pub entries: Vec<LsEntry>,
}

/// What `get` restored.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GetReport {
    pub path: String,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// Where [`Store::cat_chunks`] puts a file's plaintext, chunk by chunk.
pub trait CatOut {
    /// The next chunk's plaintext, of which `range` is to be output.
    fn chunk(&mut self, plain: Vec<u8>, range: std::ops::Range<usize>) -> io::Result<()>;
    /// Everything was handed over.
    fn flush(&mut self) -> io::Result<()>;
}

/// Any writer as a [`CatOut`]: the part in range is written.
struct WriteOut<'a>(&'a mut dyn Write);

impl CatOut for WriteOut<'_> {
    fn chunk(&mut self, plain: Vec<u8>, range: std::ops::Range<usize>) -> io::Result<()> {
        self.0.write_all(&plain[range])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One shard as this node's store has it.
enum Shard {
    Intact(Vec<u8>),
    /// Not held here (it lives on peers).
    Absent,
    /// Held (or expected) here but unreadable, of the wrong length or
    /// failing its id check.
    Damaged,
}

/// A decoded manifest body.
pub enum Body {
    File(FileBody),
    Dir(DirBody),
}

impl Store {
    /// Read one chunk's plaintext, rebuilding from parity if needed.
    pub fn read_chunk(&self, c: &ChunkRef) -> Result<Vec<u8>, StoreError> {
        let r = c.redundancy;
        let k = r.k as usize;
        let mut shards: Vec<Option<Vec<u8>>> = vec![None; r.total()];
        let mut good = 0;
        let mut damaged = 0;
        for (i, s) in c.shards.iter().enumerate() {
            if good == k && i >= k {
                break;
            }
            match self.read_shard(&s.id, c.shard_len) {
                Shard::Intact(b) => {
                    shards[i] = Some(b);
                    good += 1;
                }
                Shard::Damaged => damaged += 1,
                // Recorded as kept here, yet gone: lost, not out of reach.
                Shard::Absent if s.holders.contains(&self.inner.node) => damaged += 1,
                Shard::Absent => {}
            }
        }
        if good < k
            && let Some(source) = self.shard_source()
        {
            // Shards this node lacks, from peers: the source asks different
            // holders at once and falls back to parity shards.
            let present: Vec<bool> = shards.iter().map(Option::is_some).collect();
            for (i, b) in source.fetch_shards(c, &present, k - good) {
                if b.len() == c.shard_len as usize
                    && let Some(slot) = shards.get_mut(i)
                    && slot.is_none()
                {
                    *slot = Some(b);
                    good += 1;
                }
            }
        }
        if good < k {
            // Nothing damaged here and the rest lives on peers: the data is
            // out of reach, not known to be lost.
            if damaged == 0 && self.shard_source().is_some() {
                return Err(StoreError::Unavailable(format!(
                    "a chunk has {good} of the {k} shards it needs here; no peer that holds \
                     the others could be reached or may be asked (gone, unreachable or banned)"
                )));
            }
            return Err(StoreError::Integrity(format!(
                "chunk has {good} intact shards of the {k} needed (the others are damaged, \
                 or no peer that holds them could be reached or may be asked)"
            )));
        }
        erasure::reconstruct_data(r, &mut shards)
            .map_err(|e| StoreError::Integrity(e.to_string()))?;
        let full: Vec<Vec<u8>> = shards.into_iter().take(k).flatten().collect();
        let sealed = erasure::join(r, &full, c.sealed_len());
        drop(full);
        c.cipher
            .open_owned(&c.key, sealed)
            .ok_or_else(|| StoreError::Integrity("chunk fails authentication".into()))
    }

    /// A shard's bytes if present, intact and of the expected length.
    fn read_shard(&self, id: &BlockId, len: u32) -> Shard {
        match self.read_block(id) {
            Ok(b) if b.len() == len as usize => Shard::Intact(b),
            Ok(b) => {
                tracing::warn!(block = %id, len = b.len(), want = len, "shard of the wrong length");
                Shard::Damaged
            }
            // Normal when shards live on peers.
            Err(StoreError::NotFound(_)) if self.shard_source().is_some() => Shard::Absent,
            Err(e @ StoreError::NotFound(_)) => {
                tracing::warn!(block = %id, "shard missing: {e}");
                Shard::Damaged
            }
            Err(e) => {
                tracing::warn!(block = %id, "shard unreadable: {e}");
                Shard::Damaged
            }
        }
    }

    /// Open a cap's head block.
    pub fn open_head(&self, cap: &Cap) -> Result<Head, StoreError> {
        let local = match self.read_block(&cap.head) {
            Err(StoreError::NotFound(_)) => self
                .shard_source()
                .and_then(|s| s.fetch_block(&cap.head))
                .ok_or(StoreError::NotFound(String::new())),
            other => other,
        };
        let sealed = match local {
            Err(StoreError::NotFound(_)) => {
                return Err(StoreError::NotFound(format!(
                    "no such cap in this store: {cap}"
                )));
            }
            other => other?,
        };
        let plain = if cap.is_public() {
            // A public head is plaintext: no key, nothing to open.
            sealed
        } else {
            cap.cipher.open(&cap.key, &sealed).ok_or_else(|| {
                StoreError::Integrity(format!("head {} fails authentication", cap.head))
            })?
        };
        let head = Head::decode(&plain).map_err(|e| StoreError::Integrity(e.to_string()))?;
        if head.kind != cap.kind {
            return Err(StoreError::Integrity(
                "cap kind differs from its head".into(),
            ));
        }
        check_chunks_match(cap, &head.chunks)?;
        Ok(head)
    }

    /// Read and decode the body a cap names.
    pub fn open_body(&self, cap: &Cap) -> Result<Body, StoreError> {
        let head = self.open_head(cap)?;
        let mut body = Vec::with_capacity((head.body_len as usize).min(MAX_MANIFEST));
        for c in &head.chunks {
            body.extend_from_slice(&self.read_chunk(c)?);
        }
        let bad = |e: super::manifest::ManifestError| StoreError::Integrity(e.to_string());
        Ok(match head.kind {
            Kind::File => {
                let f = FileBody::decode(&body).map_err(bad)?;
                check_chunks_match(cap, &f.chunks)?;
                Body::File(f)
            }
            Kind::Dir => {
                let d = DirBody::decode(&body).map_err(bad)?;
                if d.entries
                    .iter()
                    .any(|e| e.cap.is_public() != cap.is_public())
                {
                    return Err(StoreError::Integrity(mixed(cap)));
                }
                Body::Dir(d)
            }
        })
    }

    /// Write a file's bytes in `range` to `out`, reading ahead on a thread.
    pub fn cat(
        &self,
        cap: &Cap,
        range: Option<ByteRange>,
        out: &mut dyn Write,
    ) -> Result<u64, StoreError> {
        self.cat_chunks(cap, range, &mut WriteOut(out))
    }

    /// `cat`, handing each chunk's plaintext over as the vector it was
    /// decrypted in (with the part of it in range), so a sink that queues
    /// bytes, like the daemon's HTTP answer, need not copy them.
    pub fn cat_chunks(
        &self,
        cap: &Cap,
        range: Option<ByteRange>,
        out: &mut dyn CatOut,
    ) -> Result<u64, StoreError> {
        let file = match self.open_body(cap)? {
            Body::File(f) => f,
            Body::Dir(_) => {
                return Err(StoreError::InvalidInput(
                    "the cap names a directory; use get".into(),
                ));
            }
        };
        let (start, end) = match range {
            None => (0, file.size),
            Some(r) => (
                r.start.min(file.size),
                r.end.map_or(file.size, |e| (e + 1).min(file.size)),
            ),
        };
        // The chunks overlapping [start, end), with their file offsets.
        let mut wanted = Vec::new();
        let mut off = 0u64;
        for c in &file.chunks {
            let next = off + c.len as u64;
            if next > start && off < end {
                wanted.push((off, c));
            }
            off = next;
        }
        let mut written = 0u64;
        let readers = if self.shard_source().is_some() {
            REMOTE_READERS
        } else {
            READERS
        };
        super::pipeline::par_map_ordered(
            wanted.iter(),
            readers,
            READ_AHEAD,
            |(off, c)| self.read_chunk(c).map(|p| (*off, p)),
            |item| -> Result<(), StoreError> {
                let (off, plain) = item?;
                let a = start.saturating_sub(off) as usize;
                let b = ((end - off) as usize).min(plain.len());
                out.chunk(plain, a..b)
                    .map_err(|e| StoreError::io(Path::new("<output>"), e))?;
                written += (b - a) as u64;
                Ok(())
            },
        )?;
        out.flush()
            .map_err(|e| StoreError::io(Path::new("<output>"), e))?;
        Ok(written)
    }

    /// Plaintext bytes under a cap: a file's size, or a tree's total.
    pub fn size_of(&self, cap: &Cap) -> Result<u64, StoreError> {
        Ok(match self.open_body(cap)? {
            Body::File(f) => f.size,
            Body::Dir(d) => d.entries.iter().map(|e| e.size).sum(),
        })
    }

    /// Restore a cap to `dest` (a file, or a directory tree), with modes and
    /// mtimes. `dest` must not exist.
    pub fn get(&self, cap: &Cap, dest: &Path) -> Result<GetReport, StoreError> {
        self.get_watched(cap, dest, &mut |_| true)
    }

    /// `get`, watched: `watch` is told the bytes restored so far as they
    /// are written, and stops the restore with [`StoreError::Cancelled`] by
    /// answering false (the file being written is removed; directories
    /// already restored stay).
    pub fn get_watched(
        &self,
        cap: &Cap,
        dest: &Path,
        watch: &mut dyn FnMut(u64) -> bool,
    ) -> Result<GetReport, StoreError> {
        if fs::symlink_metadata(dest).is_ok() {
            return Err(StoreError::InvalidInput(format!(
                "{} already exists",
                dest.display()
            )));
        }
        let mut rep = GetReport {
            path: dest.display().to_string(),
            files: 0,
            dirs: 0,
            bytes: 0,
        };
        self.get_into(cap, dest, &mut rep, watch)?;
        Ok(rep)
    }

    fn get_into(
        &self,
        cap: &Cap,
        dest: &Path,
        rep: &mut GetReport,
        watch: &mut dyn FnMut(u64) -> bool,
    ) -> Result<(), StoreError> {
        match self.open_body(cap)? {
            Body::File(f) => {
                let tmp = dest.with_file_name(format!(
                    ".{}.cairn-partial",
                    dest.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ));
                let mut out = Watched {
                    inner: io::BufWriter::with_capacity(
                        1 << 20,
                        fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?,
                    ),
                    done: rep.bytes,
                    watch,
                    stopped: false,
                };
                let res = self.cat(cap, None, &mut out);
                let stopped = out.stopped;
                drop(out);
                let n = match res {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = fs::remove_file(&tmp);
                        return Err(if stopped { StoreError::Cancelled } else { e });
                    }
                };
                fs::rename(&tmp, dest).map_err(|e| StoreError::io(dest, e))?;
                set_meta(dest, &f.meta)?;
                rep.files += 1;
                rep.bytes += n;
            }
            Body::Dir(d) => {
                fs::create_dir(dest).map_err(|e| StoreError::io(dest, e))?;
                for e in &d.entries {
                    let child = dest.join(std::ffi::OsStr::from_bytes(&e.name));
                    self.get_into(&e.cap, &child, rep, watch)?;
                }
                set_meta(dest, &d.meta)?;
                rep.dirs += 1;
            }
        }
        Ok(())
    }

    /// The pinned roots, or the entries of the directory `cap` names.
    pub fn ls(&self, cap: Option<&Cap>) -> Result<LsReport, StoreError> {
        let mut entries = Vec::new();
        match cap {
            None => {
                for root in self.roots()? {
                    entries.push(LsEntry {
                        name: root.name,
                        kind: root.cap.kind,
                        size: root.size,
                        mode: None,
                        mtime: Some(root.added_secs),
                        cap: root.cap,
                    });
                }
            }
            Some(cap) => match self.open_body(cap)? {
                Body::Dir(d) => {
                    for e in d.entries {
                        entries.push(LsEntry {
                            name: String::from_utf8_lossy(&e.name).into_owned(),
                            kind: e.cap.kind,
                            size: e.size,
                            mode: Some(e.mode),
                            mtime: Some(e.mtime_secs),
                            cap: e.cap,
                        });
                    }
                }
                Body::File(f) => entries.push(LsEntry {
                    name: String::new(),
                    kind: Kind::File,
                    size: f.size,
                    mode: Some(f.meta.mode),
                    mtime: Some(f.meta.mtime_secs),
                    cap: cap.clone(),
                }),
            },
        }
        Ok(LsReport { entries })
    }

    /// Every pinned root.
    pub fn roots(&self) -> Result<Vec<Root>, StoreError> {
        use redb::ReadableTable;
        let tx = self.inner.db.begin_read()?;
        let t = tx.open_table(ROOTS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (_, v) = item?;
            if let Some(r) = Root::decode(v.value()) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Unpin a root; its blocks go at the next gc unless something else
    /// reaches them.
    pub fn rm(&self, cap: &Cap) -> Result<RmReport, StoreError> {
        let tx = self.inner.db.begin_write()?;
        let removed = {
            let mut t = tx.open_table(ROOTS)?;
            t.remove(cap.head.0)?.is_some()
        };
        tx.commit()?;
        if !removed {
            return Err(StoreError::NotFound(format!("{cap} is not pinned here")));
        }
        Ok(RmReport {
            unpinned: cap.clone(),
        })
    }
}

/// Every chunk under `cap` must be sealed if the cap is private and
/// plaintext if it is public.
fn check_chunks_match(cap: &Cap, chunks: &[ChunkRef]) -> Result<(), StoreError> {
    if chunks
        .iter()
        .any(|c| c.cipher.is_plain() != cap.is_public())
    {
        return Err(StoreError::Integrity(mixed(cap)));
    }
    Ok(())
}

fn mixed(cap: &Cap) -> String {
    if cap.is_public() {
        format!("public share {} refers to encrypted data", cap.head)
    } else {
        format!("private cap {} refers to plaintext data", cap.head)
    }
}

/// A writer that reports its progress and can be stopped by its watcher.
struct Watched<'w, W: Write> {
    inner: W,
    done: u64,
    watch: &'w mut dyn FnMut(u64) -> bool,
    stopped: bool,
}

impl<W: Write> Write for Watched<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !(self.watch)(self.done) {
            self.stopped = true;
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        (self.watch)(self.done);
        self.inner.flush()
    }
}

/// What `rm` did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RmReport {
    pub unpinned: Cap,
}

fn set_meta(path: &Path, m: &Meta) -> Result<(), StoreError> {
    let t = std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::new(
            m.mtime_secs.max(0) as u64,
            m.mtime_nanos,
        ))
        .unwrap_or(std::time::UNIX_EPOCH);
    let f = fs::File::options()
        .write(path.is_file())
        .read(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    f.set_modified(t).map_err(|e| StoreError::io(path, e))?;
    drop(f);
    fs::set_permissions(path, fs::Permissions::from_mode(m.mode & 0o7777))
        .map_err(|e| StoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use parking_lot::Mutex;

    use super::*;
    use crate::config::StoreConfig;
    use crate::store::place::{Placed, Placer, ShardSource};
    use crate::store::{AddOptions, Redundancy};

    /// "Peers" in memory: keeps every placed shard, serves them slowly, and
    /// counts the chunks in flight and how far the reading ran ahead.
    #[derive(Default)]
    struct Remote {
        shards: Mutex<HashMap<BlockId, Vec<u8>>>,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        fetched: AtomicUsize,
    }

    impl Placer for Remote {
        fn place(&self, shards: &[(BlockId, &[u8])]) -> Placed {
            let mut m = self.shards.lock();
            for (id, b) in shards {
                m.insert(*id, b.to_vec());
            }
            Placed {
                holders: shards.iter().map(|_| vec![[9u8; 32]]).collect(),
                keep_local: false,
                refused: Vec::new(),
                peers_connected: 1,
                peers_allowed: 1,
            }
        }
    }

    impl ShardSource for Remote {
        fn fetch_shards(
            &self,
            c: &ChunkRef,
            present: &[bool],
            need: usize,
        ) -> Vec<(usize, Vec<u8>)> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            let m = self.shards.lock();
            let got: Vec<(usize, Vec<u8>)> = c
                .shards
                .iter()
                .enumerate()
                .filter(|(i, _)| !present.get(*i).copied().unwrap_or(false))
                .filter_map(|(i, s)| m.get(&s.id).map(|b| (i, b.clone())))
                .take(need)
                .collect();
            drop(m);
            self.fetched.fetch_add(1, Ordering::SeqCst);
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            got
        }

        fn fetch_block(&self, id: &BlockId) -> Option<Vec<u8>> {
            self.shards.lock().get(id).cloned()
        }
    }

    /// A slow output that records how many chunks had been fetched ahead
    /// of the bytes it was given.
    struct SlowOut<'r> {
        remote: &'r Remote,
        bytes: Vec<u8>,
        /// Where each chunk ends in the file.
        ends: Vec<usize>,
        most_ahead: usize,
    }

    impl Write for SlowOut<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(std::time::Duration::from_millis(2));
            self.bytes.extend_from_slice(buf);
            let written_chunks = self.ends.partition_point(|e| *e <= self.bytes.len());
            let fetched = self.remote.fetched.load(Ordering::SeqCst);
            self.most_ahead = self.most_ahead.max(fetched.saturating_sub(written_chunks));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reading_from_peers_runs_ahead_in_parallel_but_boundedly() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            chunk_avg: 16 * 1024,
            ..StoreConfig::default()
        };
        let store = Store::open(&dir.path().join("s"), &[1; 32], [2; 32], cfg).unwrap();
        let remote = Arc::new(Remote::default());
        store.set_placer(Some(remote.clone()));
        let mut data = vec![0u8; 2 << 20];
        rand::Rng::fill(&mut rand::thread_rng(), &mut data[..]);
        let path = dir.path().join("f.bin");
        fs::write(&path, &data).unwrap();
        let opts = AddOptions {
            redundancy: Some(Redundancy::new(4, 2).unwrap()),
            ..Default::default()
        };
        let cap = store
            .add(&[path], &opts, &mut |_| {})
            .unwrap()
            .remove(0)
            .cap;
        let Body::File(f) = store.open_body(&cap).unwrap() else {
            panic!("a file");
        };
        assert!(f.chunks.len() > 40, "many chunks: {}", f.chunks.len());
        store.set_shard_source(Some(remote.clone()));
        remote.fetched.store(0, Ordering::SeqCst);

        let mut out = SlowOut {
            remote: &remote,
            bytes: Vec::new(),
            ends: f
                .chunks
                .iter()
                .scan(0usize, |end, c| {
                    *end += c.len as usize;
                    Some(*end)
                })
                .collect(),
            most_ahead: 0,
        };
        store.cat(&cap, None, &mut out).unwrap();
        assert!(out.bytes == data, "the bytes read back are the bytes added");
        let most = remote.most_in_flight.load(Ordering::SeqCst);
        assert!(
            most > 1,
            "chunks are fetched in parallel (at most {most} at once)"
        );
        assert!(most <= REMOTE_READERS, "{most} chunks in flight at once");
        // Fetched but not yet written: the readers' chunks in hand, the
        // queue of finished ones, and those held for reordering. The slow
        // output makes the readers run as far ahead as they may.
        assert!(
            out.most_ahead <= 2 * REMOTE_READERS + 2 * READ_AHEAD,
            "read ran {} chunks ahead of the output",
            out.most_ahead
        );
    }

    /// Shards that live only on peers no one can reach make a read
    /// unavailable (the data may come back); a shard this node recorded as
    /// its own and lost makes it damaged.
    #[test]
    fn out_of_reach_is_unavailable_and_lost_here_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("s"),
            &[1; 32],
            [2; 32],
            StoreConfig::default(),
        )
        .unwrap();
        let remote = Arc::new(Remote::default());
        store.set_placer(Some(remote.clone()));
        let path = dir.path().join("f.bin");
        let mut data = vec![0u8; 300_000];
        rand::Rng::fill(&mut rand::thread_rng(), &mut data[..]);
        fs::write(&path, &data).unwrap();
        let opts = AddOptions {
            redundancy: Some(Redundancy::new(2, 1).unwrap()),
            ..Default::default()
        };
        let cap = store
            .add(&[path], &opts, &mut |_| {})
            .unwrap()
            .remove(0)
            .cap;
        store.set_shard_source(Some(remote.clone()));
        let mut out = Vec::new();
        store.cat(&cap, None, &mut out).unwrap();
        assert!(out == data);

        // Every peer forgets: nothing is damaged here, the data is out of reach.
        remote.shards.lock().clear();
        let err = store.cat(&cap, None, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");

        // A shard the manifest says this node keeps (holder [2; 32], the
        // store's node id) but that is missing is lost: damage.
        let Body::File(f) = store.open_body(&cap).unwrap() else {
            panic!("a file");
        };
        let mut c = f.chunks[0].clone();
        for s in &mut c.shards {
            s.holders = vec![[2; 32]];
            s.id = BlockId::of(b"a shard never stored");
        }
        let err = store.read_chunk(&c).unwrap_err();
        assert!(matches!(err, StoreError::Integrity(_)), "{err}");
    }
}
