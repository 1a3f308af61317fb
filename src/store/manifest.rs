//! Manifests: how a file is made of chunks and a chunk of shards, and what a
//! directory holds. Binary, versioned, big-endian, exactly specified in
//! docs/PROTOCOL.md section 3.
//!
//! Two levels, so that a cap stays short and the (possibly large) list of a
//! file's chunks is itself erasure-coded: the *head* block, named by the cap,
//! lists the chunks of the *body*; the body lists the chunks of the file (or
//! the entries of a directory). Every decoder here takes bytes that may come
//! from a peer, so each count and length is checked against the bytes left
//! and against a fixed limit before anything is allocated.

use super::block::BlockId;
use super::cap::{CAP_LEN, Cap, Kind};
use super::crypto::Cipher;
use super::erasure::{MAX_SHARDS, Redundancy};

/// Version byte of every manifest format below.
pub const MANIFEST_VERSION: u8 = 1;
/// Largest head or body plaintext we decode.
pub const MAX_MANIFEST: usize = 256 << 20;
/// Largest chunk (plaintext) a chunk reference may describe.
pub const MAX_CHUNK: u32 = 64 << 20;
/// Most holders recorded per shard.
pub const MAX_HOLDERS: usize = 32;
/// Longest entry name in a directory.
pub const MAX_NAME: usize = 4096;

const HEAD_MAGIC: &[u8; 4] = b"CRNH";
const FILE_MAGIC: &[u8; 4] = b"CRNF";
const DIR_MAGIC: &[u8; 4] = b"CRND";

/// One shard of a chunk and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: BlockId,
    /// Node ids of the holders. On one node this is that node; the node issue
    /// places shards on peers and lists them here, with no format change.
    pub holders: Vec<[u8; 32]>,
}

/// One sealed, erasure-coded chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRef {
    /// Plaintext length.
    pub len: u32,
    pub cipher: Cipher,
    pub key: [u8; 32],
    pub redundancy: Redundancy,
    /// Length of each shard (sealed length divided by k, rounded up).
    pub shard_len: u32,
    pub shards: Vec<Shard>,
}

impl ChunkRef {
    /// Length of the sealed chunk (plaintext + AEAD tag; the plaintext
    /// alone for a public chunk).
    pub fn sealed_len(&self) -> usize {
        self.len as usize + self.cipher.overhead()
    }
}

/// The head block's plaintext: the chunks of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub kind: Kind,
    pub body_len: u64,
    pub chunks: Vec<ChunkRef>,
}

/// Mode and modification time of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub mode: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
}

/// A file: its size, mode, mtime and chunks, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBody {
    pub size: u64,
    pub meta: Meta,
    pub chunks: Vec<ChunkRef>,
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Raw name bytes (file names need not be UTF-8).
    pub name: Vec<u8>,
    pub mode: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    /// File size, or for a directory the total size of the files below it.
    pub size: u64,
    pub cap: Cap,
}

/// A directory: its own mode and mtime, and entries sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirBody {
    pub meta: Meta,
    pub entries: Vec<Entry>,
}

/// Bytes that are not a valid manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("manifest truncated")]
    Truncated,
    #[error("manifest has {0} trailing bytes")]
    Trailing(usize),
    #[error("not a manifest (bad magic)")]
    Magic,
    #[error("unsupported manifest version {0}")]
    Version(u8),
    #[error("manifest field out of range: {0}")]
    Range(&'static str),
    #[error("manifest too large ({0} bytes)")]
    TooLarge(usize),
}

// ---- encoding ----

fn put_chunk(out: &mut Vec<u8>, c: &ChunkRef) {
    out.extend_from_slice(&c.len.to_be_bytes());
    out.push(c.cipher.code());
    out.extend_from_slice(&c.key);
    out.push(c.redundancy.k);
    out.push(c.redundancy.m);
    out.extend_from_slice(&c.shard_len.to_be_bytes());
    for s in &c.shards {
        out.extend_from_slice(&s.id.0);
        out.push(s.holders.len() as u8);
        for h in &s.holders {
            out.extend_from_slice(h);
        }
    }
}

fn put_meta(out: &mut Vec<u8>, m: &Meta) {
    out.extend_from_slice(&m.mode.to_be_bytes());
    out.extend_from_slice(&m.mtime_secs.to_be_bytes());
    out.extend_from_slice(&m.mtime_nanos.to_be_bytes());
}

fn put_chunks(out: &mut Vec<u8>, chunks: &[ChunkRef]) {
    out.extend_from_slice(&(chunks.len() as u64).to_be_bytes());
    for c in chunks {
        put_chunk(out, c);
    }
}

impl Head {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.chunks.len() * 300);
        out.extend_from_slice(HEAD_MAGIC);
        out.push(MANIFEST_VERSION);
        out.push(self.kind.code());
        out.extend_from_slice(&self.body_len.to_be_bytes());
        put_chunks(&mut out, &self.chunks);
        out
    }

    pub fn decode(b: &[u8]) -> Result<Head, ManifestError> {
        let mut r = Reader::new(b)?;
        r.magic(HEAD_MAGIC)?;
        let kind = Kind::from_code(r.u8()?).ok_or(ManifestError::Range("kind"))?;
        let body_len = r.u64()?;
        if body_len > MAX_MANIFEST as u64 {
            return Err(ManifestError::Range("body length"));
        }
        let chunks = r.chunks()?;
        r.end()?;
        let sum: u64 = chunks.iter().map(|c| c.len as u64).sum();
        if sum != body_len {
            return Err(ManifestError::Range("chunk lengths do not add up"));
        }
        Ok(Head {
            kind,
            body_len,
            chunks,
        })
    }
}

impl FileBody {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.chunks.len() * 300);
        out.extend_from_slice(FILE_MAGIC);
        out.push(MANIFEST_VERSION);
        out.extend_from_slice(&self.size.to_be_bytes());
        put_meta(&mut out, &self.meta);
        put_chunks(&mut out, &self.chunks);
        out
    }

    pub fn decode(b: &[u8]) -> Result<FileBody, ManifestError> {
        let mut r = Reader::new(b)?;
        r.magic(FILE_MAGIC)?;
        let size = r.u64()?;
        let meta = r.meta()?;
        let chunks = r.chunks()?;
        r.end()?;
        let sum: u64 = chunks.iter().map(|c| c.len as u64).sum();
        if sum != size {
            return Err(ManifestError::Range("chunk lengths do not add up"));
        }
        Ok(FileBody { size, meta, chunks })
    }
}

impl DirBody {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 128);
        out.extend_from_slice(DIR_MAGIC);
        out.push(MANIFEST_VERSION);
        put_meta(&mut out, &self.meta);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&(e.name.len() as u16).to_be_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&e.mode.to_be_bytes());
            out.extend_from_slice(&e.mtime_secs.to_be_bytes());
            out.extend_from_slice(&e.mtime_nanos.to_be_bytes());
            out.extend_from_slice(&e.size.to_be_bytes());
            out.extend_from_slice(&e.cap.to_bytes());
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<DirBody, ManifestError> {
        let mut r = Reader::new(b)?;
        r.magic(DIR_MAGIC)?;
        let meta = r.meta()?;
        let n = r.u32()? as usize;
        // Smallest entry: 2 + 1 + 4 + 8 + 4 + 8 + 70 bytes.
        if n > r.left() / 97 {
            return Err(ManifestError::Truncated);
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u16()? as usize;
            if len == 0 || len > MAX_NAME {
                return Err(ManifestError::Range("name length"));
            }
            let name = r.take(len)?.to_vec();
            if name.contains(&b'/') || name.contains(&0) || name == b"." || name == b".." {
                return Err(ManifestError::Range("name"));
            }
            let mode = r.u32()?;
            let mtime_secs = r.u64()? as i64;
            let mtime_nanos = r.u32()?;
            if mtime_nanos >= 1_000_000_000 {
                return Err(ManifestError::Range("mtime nanoseconds"));
            }
            let size = r.u64()?;
            let cap = Cap::from_bytes(r.take(CAP_LEN)?).map_err(|_| ManifestError::Range("cap"))?;
            entries.push(Entry {
                name,
                mode,
                mtime_secs,
                mtime_nanos,
                size,
                cap,
            });
        }
        r.end()?;
        if entries.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(ManifestError::Range("entries not sorted and unique"));
        }
        Ok(DirBody { meta, entries })
    }
}

// ---- decoding ----

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Result<Reader<'a>, ManifestError> {
        if b.len() > MAX_MANIFEST {
            return Err(ManifestError::TooLarge(b.len()));
        }
        Ok(Reader { b })
    }

    fn left(&self) -> usize {
        self.b.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ManifestError> {
        if self.b.len() < n {
            return Err(ManifestError::Truncated);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ManifestError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, ManifestError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, ManifestError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, ManifestError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ManifestError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn magic(&mut self, m: &[u8; 4]) -> Result<(), ManifestError> {
        if self.take(4)? != m {
            return Err(ManifestError::Magic);
        }
        let v = self.u8()?;
        if v != MANIFEST_VERSION {
            return Err(ManifestError::Version(v));
        }
        Ok(())
    }

    fn end(&self) -> Result<(), ManifestError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(ManifestError::Trailing(self.b.len()))
        }
    }

    fn meta(&mut self) -> Result<Meta, ManifestError> {
        let mode = self.u32()?;
        let mtime_secs = self.u64()? as i64;
        let mtime_nanos = self.u32()?;
        if mtime_nanos >= 1_000_000_000 {
            return Err(ManifestError::Range("mtime nanoseconds"));
        }
        Ok(Meta {
            mode,
            mtime_secs,
            mtime_nanos,
        })
    }

    fn chunks(&mut self) -> Result<Vec<ChunkRef>, ManifestError> {
        let n = self.u64()?;
        // Smallest chunk reference: 4 + 1 + 32 + 1 + 1 + 4 + one 33-byte shard.
        if n > (self.left() / 76) as u64 {
            return Err(ManifestError::Truncated);
        }
        let mut v = Vec::with_capacity(n as usize);
        for _ in 0..n {
            v.push(self.chunk()?);
        }
        Ok(v)
    }

    fn chunk(&mut self) -> Result<ChunkRef, ManifestError> {
        let len = self.u32()?;
        if len > MAX_CHUNK {
            return Err(ManifestError::Range("chunk length"));
        }
        let cipher = Cipher::from_code(self.u8()?).ok_or(ManifestError::Range("cipher"))?;
        let key = self.array::<32>()?;
        if cipher.is_plain() && key != [0; 32] {
            return Err(ManifestError::Range("key of a plaintext chunk"));
        }
        let k = self.u8()?;
        let m = self.u8()?;
        let redundancy = Redundancy::new(k, m).map_err(|_| ManifestError::Range("redundancy"))?;
        let shard_len = self.u32()?;
        let sealed = len as usize + cipher.overhead();
        if shard_len as usize != redundancy.shard_len(sealed) {
            return Err(ManifestError::Range("shard length"));
        }
        let total = redundancy.total();
        debug_assert!(total <= MAX_SHARDS);
        let mut shards = Vec::with_capacity(total);
        for _ in 0..total {
            let id = BlockId(self.array()?);
            let nh = self.u8()? as usize;
            if nh > MAX_HOLDERS {
                return Err(ManifestError::Range("holder count"));
            }
            let mut holders = Vec::with_capacity(nh);
            for _ in 0..nh {
                holders.push(self.array()?);
            }
            shards.push(Shard { id, holders });
        }
        Ok(ChunkRef {
            len,
            cipher,
            key,
            redundancy,
            shard_len,
            shards,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(len: u32) -> ChunkRef {
        let r = Redundancy::new(2, 1).unwrap();
        ChunkRef {
            len,
            cipher: Cipher::Xchacha20Poly1305,
            key: [3; 32],
            redundancy: r,
            shard_len: r.shard_len(len as usize + 16) as u32,
            shards: (0..3)
                .map(|i| Shard {
                    id: BlockId([i; 32]),
                    holders: vec![[8; 32]],
                })
                .collect(),
        }
    }

    #[test]
    fn file_and_head_round_trip() {
        let f = FileBody {
            size: 30,
            meta: Meta::default(),
            chunks: vec![chunk(10), chunk(20)],
        };
        assert_eq!(FileBody::decode(&f.encode()).unwrap(), f);
        let h = Head {
            kind: Kind::File,
            body_len: 30,
            chunks: vec![chunk(10), chunk(20)],
        };
        assert_eq!(Head::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let f = FileBody {
            size: 30,
            meta: Meta::default(),
            chunks: vec![chunk(10), chunk(20)],
        }
        .encode();
        for i in 0..f.len() {
            assert!(FileBody::decode(&f[..i]).is_err());
        }
    }

    fn public_chunk(len: u32) -> ChunkRef {
        let r = Redundancy::new(2, 1).unwrap();
        ChunkRef {
            cipher: Cipher::Plain,
            key: [0; 32],
            shard_len: r.shard_len(len as usize) as u32,
            ..chunk(len)
        }
    }

    #[test]
    fn plaintext_chunks_round_trip_without_tag_or_key() {
        let f = FileBody {
            size: 30,
            meta: Meta::default(),
            chunks: vec![public_chunk(10), public_chunk(20)],
        };
        let enc = f.encode();
        assert_eq!(FileBody::decode(&enc).unwrap(), f);
        assert_eq!(f.chunks[0].sealed_len(), 10);
        // A plaintext chunk that carries a key, or a shard length counting a
        // tag, is refused.
        let mut keyed = f.clone();
        keyed.chunks[0].key = [1; 32];
        assert!(FileBody::decode(&keyed.encode()).is_err());
        let mut tagged = f.clone();
        tagged.chunks[0].shard_len = Redundancy::new(2, 1).unwrap().shard_len(10 + 16) as u32;
        assert!(FileBody::decode(&tagged.encode()).is_err());
    }

    #[test]
    fn dir_round_trips_and_rejects_dot_dot() {
        let cap = Cap {
            kind: Kind::File,
            cipher: Cipher::Aes256GcmSiv,
            head: BlockId([1; 32]),
            key: [2; 32],
        };
        let mut d = DirBody {
            meta: Meta::default(),
            entries: vec![Entry {
                name: b"a".to_vec(),
                mode: 0o644,
                mtime_secs: -5,
                mtime_nanos: 7,
                size: 3,
                cap,
            }],
        };
        assert_eq!(DirBody::decode(&d.encode()).unwrap(), d);
        d.entries[0].name = b"..".to_vec();
        assert!(DirBody::decode(&d.encode()).is_err());
    }
}
