//! Erasure coding of sealed chunks into k data + m parity shards.
//!
//! A sealed chunk is cut into k equal shards (the last zero-padded) and m
//! parity shards are computed with Reed-Solomon over GF(2^8); any k of the
//! k+m shards rebuild the chunk. `--copies N` is the k = 1 case: N-1 parity
//! shards that each alone rebuild the chunk, yet are distinct bytes and hence
//! distinct blocks (plain copies would dedupe into one block).

use std::fmt;
use std::str::FromStr;

use reed_solomon_erasure::galois_8::ReedSolomon;
use serde::{Deserialize, Serialize};

/// Most shards a chunk may have (GF(2^8) allows 256; we keep it small).
pub const MAX_SHARDS: usize = 64;

/// k data + m parity shards per chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redundancy {
    pub k: u8,
    pub m: u8,
}

/// A redundancy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid redundancy {0:?}: expected k+m with 1 <= k, k+m <= 64 (e.g. 4+2), or copies >= 1")]
pub struct RedundancyError(pub String);

impl Redundancy {
    pub fn new(k: u8, m: u8) -> Result<Redundancy, RedundancyError> {
        if k == 0 || k as usize + m as usize > MAX_SHARDS {
            return Err(RedundancyError(format!("{k}+{m}")));
        }
        Ok(Redundancy { k, m })
    }

    /// N copies: any one of N shards rebuilds the chunk.
    pub fn copies(n: u8) -> Result<Redundancy, RedundancyError> {
        if n == 0 {
            return Err(RedundancyError(format!("copies {n}")));
        }
        Redundancy::new(1, n - 1)
    }

    pub fn total(self) -> usize {
        self.k as usize + self.m as usize
    }

    /// Length of each shard for a sealed chunk of `len` bytes.
    pub fn shard_len(self, len: usize) -> usize {
        len.div_ceil(self.k as usize).max(1)
    }
}

impl fmt::Display for Redundancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.k, self.m)
    }
}

impl FromStr for Redundancy {
    type Err = RedundancyError;
    fn from_str(s: &str) -> Result<Redundancy, RedundancyError> {
        let bad = || RedundancyError(s.to_owned());
        let (k, m) = s.split_once('+').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let m = m.trim().parse().map_err(|_| bad())?;
        Redundancy::new(k, m).map_err(|_| bad())
    }
}

/// Cut `sealed` into k data shards and compute the m parity shards.
pub fn encode(r: Redundancy, sealed: &[u8]) -> Vec<Vec<u8>> {
    let len = r.shard_len(sealed.len());
    let mut shards: Vec<Vec<u8>> = (0..r.total())
        .map(|i| {
            let start = (i * len).min(sealed.len());
            let end = ((i + 1) * len).min(sealed.len());
            let mut s = if i < r.k as usize {
                sealed[start..end].to_vec()
            } else {
                Vec::new()
            };
            s.resize(len, 0);
            s
        })
        .collect();
    if r.m > 0 {
        // `new` and `encode` only fail on shapes `Redundancy::new` rules out.
        if let Ok(rs) = ReedSolomon::new(r.k as usize, r.m as usize) {
            let _ = rs.encode(&mut shards);
        }
    }
    shards
}

/// Rebuild the missing shards in place; fails if fewer than k are present
/// or the present ones differ in length.
pub fn reconstruct(r: Redundancy, shards: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError> {
    let present = shards.iter().filter(|s| s.is_some()).count();
    if shards.len() != r.total() || present < r.k as usize {
        return Err(ErasureError::TooFewShards {
            present,
            needed: r.k as usize,
        });
    }
    if present == r.total() {
        return Ok(());
    }
    if r.m == 0 {
        return Err(ErasureError::TooFewShards {
            present,
            needed: r.total(),
        });
    }
    let rs = ReedSolomon::new(r.k as usize, r.m as usize).map_err(ErasureError::Codec)?;
    rs.reconstruct(shards).map_err(ErasureError::Codec)
}

/// Like [`reconstruct`], but rebuilds only missing *data* shards: a reader
/// needs the k data shards, and recomputing lost parity on every read (what
/// the codec's full reconstruct does) cost about 2 % of a fetch's CPU. When
/// all k data shards are present nothing is computed.
pub fn reconstruct_data(r: Redundancy, shards: &mut [Option<Vec<u8>>]) -> Result<(), ErasureError> {
    let k = r.k as usize;
    let present = shards.iter().filter(|s| s.is_some()).count();
    if shards.len() != r.total() || present < k {
        return Err(ErasureError::TooFewShards { present, needed: k });
    }
    if shards.iter().take(k).all(Option::is_some) {
        return Ok(());
    }
    let rs = ReedSolomon::new(k, r.m as usize).map_err(ErasureError::Codec)?;
    rs.reconstruct_data(shards).map_err(ErasureError::Codec)
}

/// Join the k data shards and cut the padding off.
pub fn join(r: Redundancy, shards: &[Vec<u8>], sealed_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_len);
    for s in shards.iter().take(r.k as usize) {
        out.extend_from_slice(s);
    }
    out.truncate(sealed_len);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("only {present} shards of the {needed} needed are intact")]
    TooFewShards { present: usize, needed: usize },
    #[error("erasure codec: {0:?}")]
    Codec(reed_solomon_erasure::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reconstruct_data_rebuilds_lost_data_shards_and_leaves_parity_alone() {
        let r = Redundancy::new(4, 2).unwrap();
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 7 + 3) as u8).collect();
        let all = encode(r, &data);
        let mut shards: Vec<Option<Vec<u8>>> = all.iter().cloned().map(Some).collect();
        shards[1] = None;
        shards[5] = None;
        reconstruct_data(r, &mut shards).unwrap();
        assert_eq!(shards[1].as_deref(), Some(&all[1][..]));
        assert!(shards[5].is_none(), "parity is not rebuilt for a read");
        let mut too_few: Vec<Option<Vec<u8>>> = all.iter().cloned().map(Some).collect();
        for i in [0, 2, 4] {
            too_few[i] = None;
        }
        assert!(reconstruct_data(r, &mut too_few).is_err());
    }

    #[test]
    fn parses_k_plus_m_and_rejects_nonsense() {
        assert_eq!(
            "4+2".parse::<Redundancy>().unwrap(),
            Redundancy { k: 4, m: 2 }
        );
        for bad in ["", "4", "0+2", "4+-1", "40+40", "a+b"] {
            assert!(bad.parse::<Redundancy>().is_err(), "{bad}");
        }
        assert_eq!(Redundancy::copies(3).unwrap(), Redundancy { k: 1, m: 2 });
    }

    proptest! {
        #[test]
        fn any_m_missing_shards_rebuild_the_chunk(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            k in 1u8..8, m in 0u8..5, seed in any::<u64>(),
        ) {
            let r = Redundancy::new(k, m).unwrap();
            let shards = encode(r, &data);
            // Drop m shards chosen by the seed.
            let mut opt: Vec<Option<Vec<u8>>> = shards.into_iter().map(Some).collect();
            let mut s = seed;
            let mut dropped = 0;
            while dropped < m as usize {
                let i = (s % r.total() as u64) as usize;
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
                if opt[i].is_some() { opt[i] = None; dropped += 1; }
            }
            reconstruct(r, &mut opt).unwrap();
            let full: Vec<Vec<u8>> = opt.into_iter().map(|s| s.unwrap()).collect();
            prop_assert_eq!(join(r, &full, data.len()), data);
        }
    }

    #[test]
    fn more_than_m_missing_is_an_error() {
        let r = Redundancy::new(4, 2).unwrap();
        let mut opt: Vec<Option<Vec<u8>>> = encode(r, b"abcdefgh").into_iter().map(Some).collect();
        opt[0] = None;
        opt[1] = None;
        opt[5] = None;
        assert!(reconstruct(r, &mut opt).is_err());
    }
}
