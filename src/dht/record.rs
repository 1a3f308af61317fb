//! Signed mutable records and the bounded store that keeps them.
//!
//! A record is named by `BLAKE3(publisher public key || name)`, so only the
//! holder of the publisher's secret key can produce a valid record under a
//! key. Versions are ordered by sequence number alone: the store keeps the
//! highest valid sequence it has seen and refuses anything older, so an
//! attacker replaying an old (validly signed) record can never roll a key
//! back. Verification happens on every path a record enters the node (a PUT
//! from a peer, a GET response during a lookup), never later.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::key::Key;
use super::{Time, codec::Reader, codec::Writer};

/// Domain separation tag prefixed to the bytes a record signature covers.
pub const RECORD_SIGNING_DOMAIN: &[u8] = b"cairn-dht-record/1";
/// Longest record name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest record value, in bytes.
pub const MAX_VALUE_LEN: usize = 8 * 1024;
/// Longest a record may claim to live, counted from the moment it is stored.
pub const MAX_RECORD_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// A signed, versioned value published under `BLAKE3(publisher || name)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedRecord {
    /// Ed25519 public key of the publisher.
    pub publisher: [u8; 32],
    /// Publisher-chosen name (at most [`MAX_NAME_LEN`] bytes).
    pub name: Vec<u8>,
    /// The payload (at most [`MAX_VALUE_LEN`] bytes).
    pub value: Vec<u8>,
    /// Version: the highest valid sequence wins.
    pub seq: u64,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
    /// Ed25519 signature over [`SignedRecord::signing_bytes`].
    pub signature: [u8; 64],
}

/// Why a record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The signature does not verify under the publisher key.
    #[error("bad record signature")]
    BadSignature,
    /// The publisher bytes are not a valid Ed25519 point.
    #[error("bad publisher key")]
    BadPublisher,
    /// Name or value over the size limit.
    #[error("record too large")]
    TooLarge,
    /// Already expired, or claims a lifetime beyond the limit.
    #[error("record expired or lifetime out of range")]
    BadExpiry,
    /// A record with a higher (or equal but different) sequence is held.
    #[error("stale record: a newer sequence is held")]
    Stale,
    /// The publisher already has the maximum number of records here.
    #[error("too many records for this publisher")]
    PublisherFull,
    /// The store is full.
    #[error("record store full")]
    StoreFull,
}

impl SignedRecord {
    /// Builds and signs a record.
    pub fn sign(
        key: &SigningKey,
        name: &[u8],
        value: &[u8],
        seq: u64,
        expires: u64,
    ) -> Result<Self, RecordError> {
        if name.len() > MAX_NAME_LEN || value.len() > MAX_VALUE_LEN {
            return Err(RecordError::TooLarge);
        }
        let mut r = SignedRecord {
            publisher: key.verifying_key().to_bytes(),
            name: name.to_vec(),
            value: value.to_vec(),
            seq,
            expires,
            signature: [0; 64],
        };
        r.signature = key.sign(&r.signing_bytes()).to_bytes();
        Ok(r)
    }

    /// The DHT key this record lives under.
    pub fn key(&self) -> Key {
        record_key(&self.publisher, &self.name)
    }

    /// The canonical bytes the signature covers: the domain tag, then the
    /// record's wire encoding without the signature (docs/PROTOCOL.md §2).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(RECORD_SIGNING_DOMAIN);
        self.encode_unsigned(&mut w);
        w.into_inner()
    }

    /// Checks sizes and the signature (not expiry: that needs `now`).
    pub fn verify(&self) -> Result<(), RecordError> {
        if self.name.len() > MAX_NAME_LEN || self.value.len() > MAX_VALUE_LEN {
            return Err(RecordError::TooLarge);
        }
        let vk =
            VerifyingKey::from_bytes(&self.publisher).map_err(|_| RecordError::BadPublisher)?;
        let sig = Signature::from_bytes(&self.signature);
        vk.verify_strict(&self.signing_bytes(), &sig)
            .map_err(|_| RecordError::BadSignature)
    }

    /// Full validation for a record arriving at `now`.
    pub fn validate(&self, now: Time) -> Result<(), RecordError> {
        let now_s = now.as_secs();
        if self.expires <= now_s || self.expires > now_s.saturating_add(MAX_RECORD_LIFETIME_SECS) {
            return Err(RecordError::BadExpiry);
        }
        self.verify()
    }

    fn encode_unsigned(&self, w: &mut Writer) {
        w.bytes(&self.publisher);
        // Lengths are bounded by MAX_NAME_LEN / MAX_VALUE_LEN before any record
        // is built or accepted; saturate rather than panic all the same.
        w.u8(u8::try_from(self.name.len()).unwrap_or(u8::MAX));
        w.bytes(&self.name);
        w.u64(self.seq);
        w.u64(self.expires);
        w.u16(u16::try_from(self.value.len()).unwrap_or(u16::MAX));
        w.bytes(&self.value);
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        self.encode_unsigned(w);
        w.bytes(&self.signature);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, super::codec::DecodeError> {
        use super::codec::DecodeError;
        let publisher = r.array::<32>()?;
        let name_len = usize::from(r.u8()?);
        if name_len > MAX_NAME_LEN {
            return Err(DecodeError::LimitExceeded("record name"));
        }
        let name = r.take(name_len)?.to_vec();
        let seq = r.u64()?;
        let expires = r.u64()?;
        let value_len = usize::from(r.u16()?);
        if value_len > MAX_VALUE_LEN {
            return Err(DecodeError::LimitExceeded("record value"));
        }
        let value = r.take(value_len)?.to_vec();
        let signature = r.array::<64>()?;
        Ok(SignedRecord {
            publisher,
            name,
            value,
            seq,
            expires,
            signature,
        })
    }
}

/// The key of the record named `name` by `publisher`: BLAKE3(publisher || name).
pub fn record_key(publisher: &[u8; 32], name: &[u8]) -> Key {
    let mut h = blake3::Hasher::new();
    h.update(publisher);
    h.update(name);
    Key(*h.finalize().as_bytes())
}

/// Limits of a [`RecordStore`].
#[derive(Clone, Copy, Debug)]
pub struct RecordLimits {
    /// Records kept in total.
    pub max_records: usize,
    /// Records kept per publisher key.
    pub max_per_publisher: usize,
}

impl Default for RecordLimits {
    fn default() -> Self {
        RecordLimits {
            max_records: 16 * 1024,
            max_per_publisher: 64,
        }
    }
}

/// Records this node holds for the network, bounded in count in total and
/// per publisher.
#[derive(Debug, Default)]
pub struct RecordStore {
    records: HashMap<Key, SignedRecord>,
    per_publisher: HashMap<[u8; 32], usize>,
    limits: RecordLimits,
}

impl RecordStore {
    /// An empty store with the given limits.
    pub fn new(limits: RecordLimits) -> Self {
        RecordStore {
            records: HashMap::new(),
            per_publisher: HashMap::new(),
            limits,
        }
    }

    /// Validates `record` and stores it if it is newer than what is held.
    /// A record equal to the one held is accepted (idempotent republish).
    pub fn put(&mut self, record: SignedRecord, now: Time) -> Result<(), RecordError> {
        record.validate(now)?;
        let key = record.key();
        match self.records.get(&key) {
            Some(held) if held.expires > now.as_secs() => {
                if record.seq < held.seq || (record.seq == held.seq && record != *held) {
                    return Err(RecordError::Stale);
                }
            }
            Some(_) => {}
            None => {
                let count = self
                    .per_publisher
                    .get(&record.publisher)
                    .copied()
                    .unwrap_or(0);
                if count >= self.limits.max_per_publisher {
                    return Err(RecordError::PublisherFull);
                }
                if self.records.len() >= self.limits.max_records {
                    self.expire(now);
                    if self.records.len() >= self.limits.max_records {
                        return Err(RecordError::StoreFull);
                    }
                }
                *self.per_publisher.entry(record.publisher).or_insert(0) += 1;
            }
        }
        self.records.insert(key, record);
        Ok(())
    }

    /// The unexpired record under `key`.
    pub fn get(&self, key: &Key, now: Time) -> Option<&SignedRecord> {
        self.records.get(key).filter(|r| r.expires > now.as_secs())
    }

    /// Drops expired records.
    pub fn expire(&mut self, now: Time) {
        let now_s = now.as_secs();
        let per = &mut self.per_publisher;
        self.records.retain(|_, r| {
            let keep = r.expires > now_s;
            if !keep && let Some(c) = per.get_mut(&r.publisher) {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    per.remove(&r.publisher);
                }
            }
            keep
        });
    }

    /// Number of records held (expired ones included until [`Self::expire`]).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    const NOW: Time = Time::from_secs(1_000_000);

    #[test]
    fn signed_record_verifies_and_key_binds_publisher_and_name() {
        let r = SignedRecord::sign(&signer(1), b"root", b"v1", 1, 1_000_100).unwrap();
        assert!(r.validate(NOW).is_ok());
        assert_eq!(
            r.key(),
            record_key(&signer(1).verifying_key().to_bytes(), b"root")
        );
        assert_ne!(
            r.key(),
            record_key(&signer(2).verifying_key().to_bytes(), b"root")
        );
    }

    #[test]
    fn forged_record_is_refused_and_does_not_overwrite() {
        let mut store = RecordStore::new(RecordLimits::default());
        let good = SignedRecord::sign(&signer(1), b"root", b"v1", 1, 1_000_100).unwrap();
        store.put(good.clone(), NOW).unwrap();
        let mut forged = good.clone();
        forged.value = b"evil".to_vec();
        forged.seq = 99;
        assert_eq!(store.put(forged, NOW), Err(RecordError::BadSignature));
        // A record signed by another key but claiming the publisher.
        let mut other = SignedRecord::sign(&signer(2), b"root", b"evil", 100, 1_000_100).unwrap();
        other.publisher = good.publisher;
        assert_eq!(store.put(other, NOW), Err(RecordError::BadSignature));
        assert_eq!(store.get(&good.key(), NOW), Some(&good));
    }

    #[test]
    fn replayed_older_record_is_refused_and_newest_kept() {
        let mut store = RecordStore::new(RecordLimits::default());
        let v1 = SignedRecord::sign(&signer(1), b"root", b"v1", 1, 1_000_100).unwrap();
        let v2 = SignedRecord::sign(&signer(1), b"root", b"v2", 2, 1_000_100).unwrap();
        store.put(v2.clone(), NOW).unwrap();
        assert_eq!(store.put(v1, NOW), Err(RecordError::Stale));
        let v2b = SignedRecord::sign(&signer(1), b"root", b"other", 2, 1_000_100).unwrap();
        assert_eq!(store.put(v2b, NOW), Err(RecordError::Stale));
        assert_eq!(store.put(v2.clone(), NOW), Ok(()));
        assert_eq!(store.get(&v2.key(), NOW).map(|r| r.seq), Some(2));
    }

    #[test]
    fn expired_or_far_future_records_are_refused() {
        let mut store = RecordStore::new(RecordLimits::default());
        let old = SignedRecord::sign(&signer(1), b"a", b"v", 1, 999_999).unwrap();
        assert_eq!(store.put(old, NOW), Err(RecordError::BadExpiry));
        let far = SignedRecord::sign(&signer(1), b"a", b"v", 1, u64::MAX).unwrap();
        assert_eq!(store.put(far, NOW), Err(RecordError::BadExpiry));
    }

    #[test]
    fn store_limits_records_per_publisher_and_in_total() {
        let mut store = RecordStore::new(RecordLimits {
            max_records: 5,
            max_per_publisher: 3,
        });
        for i in 0..3u8 {
            let r = SignedRecord::sign(&signer(1), &[i], b"v", 1, 1_000_100).unwrap();
            store.put(r, NOW).unwrap();
        }
        let r = SignedRecord::sign(&signer(1), b"x", b"v", 1, 1_000_100).unwrap();
        assert_eq!(store.put(r, NOW), Err(RecordError::PublisherFull));
        for i in 0..2u8 {
            let r = SignedRecord::sign(&signer(2), &[i], b"v", 1, 1_000_100).unwrap();
            store.put(r, NOW).unwrap();
        }
        let r = SignedRecord::sign(&signer(3), b"x", b"v", 1, 1_000_100).unwrap();
        assert_eq!(store.put(r, NOW), Err(RecordError::StoreFull));
        // Expiry frees room.
        store.expire(Time::from_secs(1_000_200));
        assert!(store.is_empty());
    }

    #[test]
    fn oversized_record_cannot_be_signed_or_verified() {
        assert_eq!(
            SignedRecord::sign(&signer(1), &[0; MAX_NAME_LEN + 1], b"", 1, 1).err(),
            Some(RecordError::TooLarge)
        );
        let mut r = SignedRecord::sign(&signer(1), b"n", b"v", 1, 1_000_100).unwrap();
        r.value = vec![0; MAX_VALUE_LEN + 1];
        assert_eq!(r.verify(), Err(RecordError::TooLarge));
    }

    proptest::proptest! {
        #[test]
        fn store_always_holds_the_highest_valid_sequence(
            puts in proptest::collection::vec((0u64..20, proptest::bool::ANY), 1..40)
        ) {
            let mut store = RecordStore::new(RecordLimits::default());
            let key = signer(1);
            let mut best: Option<u64> = None;
            for (seq, valid) in puts {
                let mut r = SignedRecord::sign(&key, b"root", &seq.to_be_bytes(), seq, 1_000_100).unwrap();
                if !valid {
                    r.signature[0] ^= 1;
                }
                let res = store.put(r, NOW);
                if valid && best.is_none_or(|b| seq >= b) {
                    proptest::prop_assert!(res.is_ok());
                    best = Some(seq);
                } else {
                    proptest::prop_assert!(res.is_err());
                }
                let held = store.get(&record_key(&key.verifying_key().to_bytes(), b"root"), NOW);
                proptest::prop_assert_eq!(held.map(|r| r.seq), best);
            }
        }
    }
}
