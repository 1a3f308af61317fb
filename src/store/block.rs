//! Block identities and storage classes.
//!
//! A block is named by the BLAKE3 hash of the bytes stored (always ciphertext
//! or erasure shards of ciphertext, except the plaintext blocks of public
//! shares, which are meant to be read), so a host can check what it holds
//! without being able to read it, and identical blocks are stored once.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// BLAKE3 of a block's stored bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub [u8; 32]);

impl BlockId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> BlockId {
        BlockId(*blake3::hash(bytes).as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({self})")
    }
}

impl Serialize for BlockId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From the hex text form (as in reports read back from the local API).
impl<'de> serde::Deserialize<'de> for BlockId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BlockId, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut id = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut id).map_err(serde::de::Error::custom)?;
        Ok(BlockId(id))
    }
}

/// Why a block is kept, which decides when it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The owner's own data: kept while a root reaches it, never evicted.
    Own,
    /// Others' blocks kept under a contract; counted against lent space.
    Hosted,
    /// Others' blocks kept while space is free; evicted least-used first.
    Cache,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Own, Class::Hosted, Class::Cache];

    pub fn code(self) -> u8 {
        match self {
            Class::Own => 1,
            Class::Hosted => 2,
            Class::Cache => 3,
        }
    }

    pub fn from_code(c: u8) -> Option<Class> {
        match c {
            1 => Some(Class::Own),
            2 => Some(Class::Hosted),
            3 => Some(Class::Cache),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Own => "own",
            Class::Hosted => "hosted",
            Class::Cache => "cache",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Class {
    type Err = String;
    fn from_str(s: &str) -> Result<Class, String> {
        Class::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown class {s:?} (own, hosted, cache)"))
    }
}
