//! 256-bit identifiers and the XOR metric.
//!
//! Node ids, provider keys and record keys all live in one 256-bit space so
//! that a single routing table and a single lookup algorithm serve them all.
//! The core owns its own `Key` type (rather than borrowing the transport's
//! `NodeId`) so that it stays free of I/O dependencies; the driver converts.

use std::fmt;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// A point in the 256-bit Kademlia key space.
///
/// A node's key is its NodeId (BLAKE3 of its Ed25519 public key); a provider
/// key is a block id; a record key is BLAKE3(public key || name).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; KEY_LEN]);

impl Key {
    /// The key of arbitrary bytes: their BLAKE3 hash.
    pub fn hash(bytes: &[u8]) -> Self {
        Key(*blake3::hash(bytes).as_bytes())
    }

    /// The node id that belongs to an Ed25519 public key.
    pub fn from_public_key(public: &[u8; 32]) -> Self {
        Self::hash(public)
    }

    /// XOR distance between two keys.
    pub fn distance(&self, other: &Key) -> Distance {
        let mut d = [0u8; KEY_LEN];
        for (out, (a, b)) in d.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *out = a ^ b;
        }
        Distance(d)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key in the bucket `bucket` of `self`'s routing table, chosen by
    /// `entropy` (any bytes; hashed). Used to pick bucket refresh targets
    /// deterministically, so the core needs no random number generator.
    pub fn random_in_bucket(&self, bucket: usize, entropy: &[u8]) -> Key {
        let bucket = bucket.min(KEY_LEN * 8 - 1);
        let mut noise = *blake3::hash(entropy).as_bytes();
        // Distance with its highest set bit at position `bucket` (0 = lowest bit).
        let top_byte = KEY_LEN - 1 - bucket / 8;
        let bit = bucket % 8;
        for b in noise.iter_mut().take(top_byte) {
            *b = 0;
        }
        if let Some(b) = noise.get_mut(top_byte) {
            let mask = (1u16 << bit) as u8;
            *b = (*b & (mask.wrapping_sub(1))) | mask;
        }
        let d = Distance(noise);
        self.xor(&d)
    }

    fn xor(&self, d: &Distance) -> Key {
        let mut k = [0u8; KEY_LEN];
        for (out, (a, b)) in k.iter_mut().zip(self.0.iter().zip(d.0.iter())) {
            *out = a ^ b;
        }
        Key(k)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(6) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…")
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// XOR distance between two keys, ordered as a 256-bit big-endian integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance(pub [u8; KEY_LEN]);

impl Distance {
    /// Index of the k-bucket this distance falls into: the position of the
    /// highest set bit (0..=255), or `None` for distance zero (the key itself).
    pub fn bucket_index(&self) -> Option<usize> {
        for (i, b) in self.0.iter().enumerate() {
            if *b != 0 {
                let bit = 7 - b.leading_zeros() as usize;
                return Some((KEY_LEN - 1 - i) * 8 + bit);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(last: u8) -> Key {
        let mut k = [0u8; 32];
        k[31] = last;
        Key(k)
    }

    #[test]
    fn distance_is_symmetric_and_zero_to_self() {
        let a = Key::hash(b"a");
        let b = Key::hash(b"b");
        assert_eq!(a.distance(&b), b.distance(&a));
        assert_eq!(a.distance(&a).bucket_index(), None);
    }

    #[test]
    fn bucket_index_is_position_of_highest_differing_bit() {
        assert_eq!(key(0).distance(&key(1)).bucket_index(), Some(0));
        assert_eq!(key(0).distance(&key(0x80)).bucket_index(), Some(7));
        let mut far = [0u8; 32];
        far[0] = 0x80;
        assert_eq!(key(0).distance(&Key(far)).bucket_index(), Some(255));
    }

    #[test]
    fn random_in_bucket_lands_in_that_bucket() {
        let me = Key::hash(b"me");
        for bucket in [0usize, 1, 7, 8, 100, 254, 255] {
            for e in 0u8..8 {
                let k = me.random_in_bucket(bucket, &[e]);
                assert_eq!(me.distance(&k).bucket_index(), Some(bucket));
            }
        }
    }
}
