//! Provider records: who says they hold a key, until when.
//!
//! The provider of an ADD_PROVIDER is always the peer that sent it (its id
//! is bound to its key by the transport handshake), so nobody can announce
//! another node as a provider. Entries expire after a TTL that the store
//! clamps; providers republish before it runs out. Both the number of keys
//! and the number of providers per key are capped, so a peer cannot grow
//! this store without bound.

use std::collections::HashMap;

use super::Time;
use super::key::Key;
use super::message::PeerInfo;

/// Limits of a [`ProviderStore`].
#[derive(Clone, Copy, Debug)]
pub struct ProviderLimits {
    /// Keys for which providers are kept.
    pub max_keys: usize,
    /// Providers kept per key.
    pub max_per_key: usize,
    /// Longest TTL granted, seconds.
    pub max_ttl_secs: u32,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        ProviderLimits {
            max_keys: 64 * 1024,
            max_per_key: 20,
            max_ttl_secs: 48 * 3600,
        }
    }
}

#[derive(Clone, Debug)]
struct ProviderEntry {
    peer: PeerInfo,
    expires: Time,
}

/// Why a provider was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The key already has the maximum number of providers.
    #[error("too many providers for this key")]
    KeyFull,
    /// The store holds the maximum number of keys.
    #[error("provider store full")]
    StoreFull,
}

/// Providers this node holds for the network.
#[derive(Debug, Default)]
pub struct ProviderStore {
    by_key: HashMap<Key, Vec<ProviderEntry>>,
    limits: ProviderLimits,
}

impl ProviderStore {
    /// An empty store with the given limits.
    pub fn new(limits: ProviderLimits) -> Self {
        ProviderStore {
            by_key: HashMap::new(),
            limits,
        }
    }

    /// Records (or refreshes) `peer` as a provider of `key` for `ttl_secs`
    /// (clamped to the limit).
    pub fn add(
        &mut self,
        key: Key,
        peer: PeerInfo,
        ttl_secs: u32,
        now: Time,
    ) -> Result<(), ProviderError> {
        let ttl = u64::from(ttl_secs.min(self.limits.max_ttl_secs));
        let expires = Time(now.0.saturating_add(ttl * 1000));
        if !self.by_key.contains_key(&key) && self.by_key.len() >= self.limits.max_keys {
            self.expire(now);
            if self.by_key.len() >= self.limits.max_keys {
                return Err(ProviderError::StoreFull);
            }
        }
        let list = self.by_key.entry(key).or_default();
        if let Some(e) = list.iter_mut().find(|e| e.peer.id == peer.id) {
            e.expires = expires;
            if !peer.addrs.is_empty() {
                e.peer.addrs = peer.addrs;
            }
            return Ok(());
        }
        list.retain(|e| e.expires > now);
        if list.len() >= self.limits.max_per_key {
            return Err(ProviderError::KeyFull);
        }
        list.push(ProviderEntry { peer, expires });
        Ok(())
    }

    /// Unexpired providers of `key`, at most `max`.
    pub fn get(&self, key: &Key, now: Time, max: usize) -> Vec<PeerInfo> {
        self.by_key
            .get(key)
            .map(|l| {
                l.iter()
                    .filter(|e| e.expires > now)
                    .take(max)
                    .map(|e| e.peer.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops expired entries.
    pub fn expire(&mut self, now: Time) {
        self.by_key.retain(|_, l| {
            l.retain(|e| e.expires > now);
            !l.is_empty()
        });
    }

    /// Number of keys with providers.
    pub fn num_keys(&self) -> usize {
        self.by_key.len()
    }

    /// Every provider of `key` with its absolute expiry, expired ones
    /// included (a persistence layer writes what the store holds now).
    pub fn entries(&self, key: &Key) -> Vec<(PeerInfo, Time)> {
        self.by_key
            .get(key)
            .map(|l| l.iter().map(|e| (e.peer.clone(), e.expires)).collect())
            .unwrap_or_default()
    }

    /// Puts back a provider read from disk with its absolute `expires`:
    /// an expired one is dropped, a later one is cut to the longest TTL from
    /// `now`, and the key and per-key limits hold as for [`ProviderStore::add`].
    pub fn restore(
        &mut self,
        key: Key,
        peer: PeerInfo,
        expires: Time,
        now: Time,
    ) -> Result<(), ProviderError> {
        if expires <= now {
            return Ok(());
        }
        let ttl_ms = expires.0 - now.0;
        let ttl_secs = u32::try_from(ttl_ms.div_ceil(1000)).unwrap_or(u32::MAX);
        self.add(key, peer, ttl_secs, now)?;
        // `add` rounded up to whole seconds; keep the exact expiry when it
        // is the earlier one.
        if let Some(e) = self
            .by_key
            .get_mut(&key)
            .and_then(|l| l.iter_mut().find(|e| e.expires > expires))
        {
            e.expires = expires;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ProviderLimits {
        ProviderLimits {
            max_keys: 2,
            max_per_key: 2,
            max_ttl_secs: 100,
        }
    }

    #[test]
    fn providers_expire_after_their_ttl_clamped_to_the_limit() {
        let mut s = ProviderStore::new(limits());
        let k = Key([1; 32]);
        s.add(k, PeerInfo::bare(Key([9; 32])), 1_000_000, Time(0))
            .unwrap();
        assert_eq!(s.get(&k, Time(99_999), 10).len(), 1);
        assert!(s.get(&k, Time(100_000), 10).is_empty());
        s.expire(Time(100_000));
        assert_eq!(s.num_keys(), 0);
    }

    #[test]
    fn restored_providers_keep_their_expiry_and_expired_ones_are_dropped() {
        let mut s = ProviderStore::new(limits());
        let k = Key([1; 32]);
        let now = Time(1_000_000);
        s.restore(k, PeerInfo::bare(Key([2; 32])), Time(1_050_500), now)
            .unwrap();
        s.restore(k, PeerInfo::bare(Key([3; 32])), Time(999_000), now)
            .unwrap();
        // Beyond the longest TTL (100 s): cut to it.
        s.restore(k, PeerInfo::bare(Key([4; 32])), Time(9_000_000), now)
            .unwrap();
        let mut e = s.entries(&k);
        e.sort_by_key(|(p, _)| p.id);
        assert_eq!(e.len(), 2, "the expired one is dropped: {e:?}");
        assert_eq!(e[0].1, Time(1_050_500));
        assert_eq!(e[1].1, Time(1_100_000));
    }

    #[test]
    fn providers_per_key_and_keys_are_capped() {
        let mut s = ProviderStore::new(limits());
        let k = Key([1; 32]);
        s.add(k, PeerInfo::bare(Key([2; 32])), 10, Time(0)).unwrap();
        s.add(k, PeerInfo::bare(Key([3; 32])), 10, Time(0)).unwrap();
        assert_eq!(
            s.add(k, PeerInfo::bare(Key([4; 32])), 10, Time(0)),
            Err(ProviderError::KeyFull)
        );
        // Re-adding a known provider refreshes it.
        s.add(k, PeerInfo::bare(Key([2; 32])), 50, Time(0)).unwrap();
        assert_eq!(s.get(&k, Time(20_000), 10).len(), 1);
        s.add(Key([5; 32]), PeerInfo::bare(Key([2; 32])), 10, Time(0))
            .unwrap();
        assert_eq!(
            s.add(Key([6; 32]), PeerInfo::bare(Key([2; 32])), 10, Time(0)),
            Err(ProviderError::StoreFull)
        );
    }
}
