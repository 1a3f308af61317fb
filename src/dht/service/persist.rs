//! The DHT's on-disk memory: provider records held for others and the
//! routing table's contacts, in their own redb file (`DATA_DIR/dht.redb`).
//!
//! Why here and not in the core: the core ([`crate::dht::Dht`]) is sans-io
//! and only exports and restores records ([`Dht::provider_entries`],
//! [`Dht::restore_provider`]); the driver decides when to write. Why its own
//! file: the store's and the peer book's databases have other owners and
//! locks, and this one is rewritten often in small batches.
//!
//! Shape: plain functions over a [`redb::Database`] — [`load`] at start
//! (expired records are dropped and deleted), [`write`] for a batch of keys
//! whose providers changed (a key with none left is deleted) plus, when the
//! table changed, the whole contact list. The bytes of one value are decoded
//! with explicit limits and never panic (`fuzz/fuzz_targets/dht_persist.rs`);
//! a value that does not decode is skipped with a warning. Layout:
//! docs/PROTOCOL.md §2.4.
//!
//! [`Dht::provider_entries`]: crate::dht::Dht::provider_entries
//! [`Dht::restore_provider`]: crate::dht::Dht::restore_provider

use std::net::SocketAddr;
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use crate::dht::codec::{DecodeError, Reader, Writer};
use crate::dht::message::{MAX_ADDRS_PER_PEER, read_addrs, write_addrs};
use crate::dht::{Key, PeerInfo, Time};

/// The file name in the data directory.
pub const FILE: &str = "dht.redb";
/// Provider records: 32-byte key → [`encode_providers`] value.
const PROVIDERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("providers/v1");
/// Routing-table contacts: 32-byte NodeId → [`encode_addrs`] value.
const CONTACTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("contacts/v1");
/// Most providers one stored value may list (the count is one byte).
pub const MAX_PROVIDERS_PER_VALUE: usize = 255;
/// Longest provider value accepted: count + per provider id, expiry and the
/// largest address list (IPv6 entries).
pub const MAX_PROVIDERS_VALUE: usize =
    1 + MAX_PROVIDERS_PER_VALUE * (32 + 8 + 1 + MAX_ADDRS_PER_PEER * 19);
/// Longest contact value accepted.
pub const MAX_CONTACT_VALUE: usize = 1 + MAX_ADDRS_PER_PEER * 19;

/// Why the file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    #[error("DHT database: {0}")]
    Db(Box<redb::Error>),
}

macro_rules! db_from {
    ($($t:ty),*) => {$(
        impl From<$t> for PersistError {
            fn from(e: $t) -> PersistError { PersistError::Db(Box::new(e.into())) }
        }
    )*};
}
db_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What [`load`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Unexpired provider records: key, provider, absolute expiry.
    pub providers: Vec<(Key, PeerInfo, Time)>,
    /// Contacts of the routing table as last written.
    pub contacts: Vec<PeerInfo>,
    /// Values skipped because they did not decode.
    pub skipped: usize,
}

/// The providers of one key whose records changed, as the core holds them
/// now (empty: delete the key).
pub type ProviderBatch = Vec<(Key, Vec<(PeerInfo, Time)>)>;

/// Open (or create) the file and its tables.
pub fn open(path: &Path) -> Result<Database, PersistError> {
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    txn.open_table(PROVIDERS)?;
    txn.open_table(CONTACTS)?;
    txn.commit()?;
    Ok(db)
}

/// Everything stored, with records expired at `now` dropped (and deleted
/// from the file, as are values that do not decode).
pub fn load(db: &Database, now: Time) -> Result<Loaded, PersistError> {
    let mut out = Loaded::default();
    let mut dead: Vec<Vec<u8>> = Vec::new();
    let mut rewrite: Vec<(Key, Vec<(PeerInfo, Time)>)> = Vec::new();
    let mut dead_contacts: Vec<Vec<u8>> = Vec::new();
    {
        let txn = db.begin_read()?;
        let table = txn.open_table(PROVIDERS)?;
        for item in table.iter()? {
            let (k, v) = item?;
            let key = match <[u8; 32]>::try_from(k.value()) {
                Ok(b) => Key(b),
                Err(_) => {
                    out.skipped += 1;
                    dead.push(k.value().to_vec());
                    continue;
                }
            };
            match decode_providers(v.value()) {
                Ok(list) => {
                    let live: Vec<(PeerInfo, Time)> =
                        list.iter().filter(|(_, t)| *t > now).cloned().collect();
                    if live.is_empty() {
                        dead.push(key.0.to_vec());
                    } else if live.len() < list.len() {
                        rewrite.push((key, live.clone()));
                    }
                    out.providers
                        .extend(live.into_iter().map(|(p, t)| (key, p, t)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable DHT provider value skipped");
                    out.skipped += 1;
                    dead.push(key.0.to_vec());
                }
            }
        }
        let table = txn.open_table(CONTACTS)?;
        for item in table.iter()? {
            let (k, v) = item?;
            match (<[u8; 32]>::try_from(k.value()), decode_addrs(v.value())) {
                (Ok(id), Ok(addrs)) => out.contacts.push(PeerInfo { id: Key(id), addrs }),
                _ => {
                    out.skipped += 1;
                    dead_contacts.push(k.value().to_vec());
                }
            }
        }
    }
    if !dead.is_empty() || !rewrite.is_empty() || !dead_contacts.is_empty() {
        let txn = db.begin_write()?;
        {
            let mut t = txn.open_table(PROVIDERS)?;
            for k in &dead {
                t.remove(k.as_slice())?;
            }
            for (key, list) in &rewrite {
                t.insert(key.0.as_slice(), encode_providers(list).as_slice())?;
            }
            let mut c = txn.open_table(CONTACTS)?;
            for k in &dead_contacts {
                c.remove(k.as_slice())?;
            }
        }
        txn.commit()?;
    }
    Ok(out)
}

/// Write one batch in one transaction: each key's providers replace what
/// was stored (none: the key is deleted); `contacts`, when given, replace
/// the whole contact table.
pub fn write(
    db: &Database,
    providers: &[(Key, Vec<(PeerInfo, Time)>)],
    contacts: Option<&[PeerInfo]>,
) -> Result<(), PersistError> {
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(PROVIDERS)?;
        for (key, list) in providers {
            if list.is_empty() {
                t.remove(key.0.as_slice())?;
            } else {
                t.insert(key.0.as_slice(), encode_providers(list).as_slice())?;
            }
        }
        if let Some(contacts) = contacts {
            let mut c = txn.open_table(CONTACTS)?;
            c.retain(|_, _| false)?;
            for p in contacts {
                c.insert(p.id.0.as_slice(), encode_addrs(&p.addrs).as_slice())?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// A provider value: count (u8), then per provider its 32-byte id, its
/// expiry (u64 BE, unix ms) and its addresses as in `dht/1`. At most
/// [`MAX_PROVIDERS_PER_VALUE`] are written; more addresses than `dht/1`
/// carries are cut.
pub fn encode_providers(list: &[(PeerInfo, Time)]) -> Vec<u8> {
    let list = &list[..list.len().min(MAX_PROVIDERS_PER_VALUE)];
    let mut w = Writer::default();
    w.u8(list.len() as u8);
    for (p, t) in list {
        w.bytes(&p.id.0);
        w.u64(t.0);
        put_addrs(&mut w, &p.addrs);
    }
    w.into_inner()
}

/// Decode a provider value (length checked before parsing).
pub fn decode_providers(bytes: &[u8]) -> Result<Vec<(PeerInfo, Time)>, DecodeError> {
    if bytes.len() > MAX_PROVIDERS_VALUE {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes);
    let n = usize::from(r.u8()?);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = Key(r.array()?);
        let expires = Time(r.u64()?);
        let addrs = read_addrs(&mut r)?;
        out.push((PeerInfo { id, addrs }, expires));
    }
    r.finish()?;
    Ok(out)
}

/// A contact value: its addresses as in `dht/1`.
pub fn encode_addrs(addrs: &[SocketAddr]) -> Vec<u8> {
    let mut w = Writer::default();
    put_addrs(&mut w, addrs);
    w.into_inner()
}

/// Decode a contact value.
pub fn decode_addrs(bytes: &[u8]) -> Result<Vec<SocketAddr>, DecodeError> {
    if bytes.len() > MAX_CONTACT_VALUE {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes);
    let addrs = read_addrs(&mut r)?;
    r.finish()?;
    Ok(addrs)
}

fn put_addrs(w: &mut Writer, addrs: &[SocketAddr]) {
    let addrs = &addrs[..addrs.len().min(MAX_ADDRS_PER_PEER)];
    // Cannot fail: the count is within the limit.
    let _ = write_addrs(w, addrs);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(i: u8) -> PeerInfo {
        PeerInfo {
            id: Key([i; 32]),
            addrs: vec![
                format!("127.0.0.{i}:7341").parse().unwrap(),
                "[::1]:9".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn providers_survive_a_reopen_and_expired_ones_are_dropped_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let (k1, k2) = (Key([1; 32]), Key([2; 32]));
        {
            let db = open(&path).unwrap();
            let batch = vec![
                (k1, vec![(peer(7), Time(5_000)), (peer(8), Time(20_000))]),
                (k2, vec![(peer(9), Time(6_000))]),
            ];
            write(&db, &batch, Some(&[peer(3), peer(4)])).unwrap();
        }
        let db = open(&path).unwrap();
        let got = load(&db, Time(10_000)).unwrap();
        assert_eq!(got.providers, vec![(k1, peer(8), Time(20_000))]);
        assert_eq!(got.contacts, vec![peer(3), peer(4)]);
        assert_eq!(got.skipped, 0);
        // The expired ones were deleted from the file, not only skipped.
        let again = load(&db, Time(0)).unwrap();
        assert_eq!(again.providers, vec![(k1, peer(8), Time(20_000))]);
    }

    #[test]
    fn a_key_written_empty_is_deleted_and_contacts_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir.path().join(FILE)).unwrap();
        let k = Key([1; 32]);
        write(&db, &[(k, vec![(peer(7), Time(50))])], Some(&[peer(3)])).unwrap();
        write(&db, &[(k, vec![])], Some(&[peer(4)])).unwrap();
        let got = load(&db, Time(0)).unwrap();
        assert!(got.providers.is_empty());
        assert_eq!(got.contacts, vec![peer(4)]);
    }

    #[test]
    fn undecodable_values_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir.path().join(FILE)).unwrap();
        {
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(PROVIDERS).unwrap();
                t.insert([1u8; 32].as_slice(), [3u8, 1, 2].as_slice())
                    .unwrap();
                t.insert([2u8; 3].as_slice(), [0u8].as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let got = load(&db, Time(0)).unwrap();
        assert_eq!(got.skipped, 2);
        assert!(got.providers.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode_providers(&bytes);
            let _ = decode_addrs(&bytes);
        }

        #[test]
        fn provider_values_round_trip(n in 0usize..30, t in 0u64..u64::MAX) {
            let list: Vec<(PeerInfo, Time)> =
                (0..n).map(|i| (peer(i as u8), Time(t))).collect();
            proptest::prop_assert_eq!(decode_providers(&encode_providers(&list)).unwrap(), list);
        }
    }
}
