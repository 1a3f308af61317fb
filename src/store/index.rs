//! The redb index: which block is where, which files are roots, usage.
//!
//! Table names carry a version (`blocks_v1`), so a later format can live
//! beside this one and be migrated to. Values are small fixed binary records
//! (below) rather than serde, so their layout is exact and documented in
//! docs/PROTOCOL.md.

use redb::{ReadableTable, TableDefinition};

use super::block::{BlockId, Class};

/// block id → [`Location`].
pub const BLOCKS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blocks_v1");
/// head block id of a pinned file or directory → [`Root`].
pub const ROOTS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("roots_v1");
/// block id → [`Location`] of a second copy, kept for blocks that have no
/// parity of their own (manifest heads), so a damaged head is rebuilt from it.
pub const MIRRORS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("mirrors_v1");
/// Counters: `format`, `next_pack`, `used.own`, `used.hosted`, `used.cache`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta_v1");

/// Version of the store as a whole (written as `format` in `meta_v1`).
pub const STORE_FORMAT: u64 = 1;

/// Where a block's bytes are and why it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub class: Class,
    pub pack: u32,
    pub offset: u64,
    pub len: u32,
    /// Reads served (for `cache` eviction, least used first).
    pub hits: u32,
}

pub const LOCATION_LEN: usize = 21;

impl Location {
    pub fn encode(&self) -> [u8; LOCATION_LEN] {
        let mut b = [0u8; LOCATION_LEN];
        b[0] = self.class.code();
        b[1..5].copy_from_slice(&self.pack.to_be_bytes());
        b[5..13].copy_from_slice(&self.offset.to_be_bytes());
        b[13..17].copy_from_slice(&self.len.to_be_bytes());
        b[17..21].copy_from_slice(&self.hits.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Location> {
        if b.len() != LOCATION_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[5..13]);
        Some(Location {
            class: Class::from_code(b[0])?,
            pack: u32_at(1),
            offset: u64::from_be_bytes(off),
            len: u32_at(13),
            hits: u32_at(17),
        })
    }
}

/// A pinned file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub cap: super::cap::Cap,
    pub size: u64,
    pub added_secs: i64,
    pub name: String,
}

impl Root {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(86 + self.name.len());
        b.extend_from_slice(&self.cap.to_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.extend_from_slice(&self.added_secs.to_be_bytes());
        b.extend_from_slice(self.name.as_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Root> {
        use super::cap::CAP_LEN;
        if b.len() < CAP_LEN + 16 {
            return None;
        }
        let cap = super::cap::Cap::from_bytes(&b[..CAP_LEN]).ok()?;
        let mut n = [0u8; 8];
        n.copy_from_slice(&b[CAP_LEN..CAP_LEN + 8]);
        let size = u64::from_be_bytes(n);
        n.copy_from_slice(&b[CAP_LEN + 8..CAP_LEN + 16]);
        let added_secs = i64::from_be_bytes(n);
        let name = String::from_utf8_lossy(&b[CAP_LEN + 16..]).into_owned();
        Some(Root {
            cap,
            size,
            added_secs,
            name,
        })
    }
}

/// The `meta_v1` key counting the bytes of a class.
pub fn used_key(c: Class) -> &'static str {
    match c {
        Class::Own => "used.own",
        Class::Hosted => "used.hosted",
        Class::Cache => "used.cache",
    }
}

/// Read a counter (0 when absent).
pub fn meta_get<T: ReadableTable<&'static str, u64>>(
    t: &T,
    key: &str,
) -> Result<u64, redb::StorageError> {
    Ok(t.get(key)?.map(|v| v.value()).unwrap_or(0))
}

/// Look a block up.
pub fn location<T: ReadableTable<[u8; 32], &'static [u8]>>(
    t: &T,
    id: &BlockId,
) -> Result<Option<Location>, redb::StorageError> {
    Ok(t.get(id.0)?.and_then(|v| Location::decode(v.value())))
}
