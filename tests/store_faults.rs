//! An I/O failure at every write or sync of an add, in turn (pack appends,
//! pack fsyncs, redb page writes and fsyncs): the add fails cleanly or
//! succeeds, and after reopening with healthy I/O the store verifies and
//! every acknowledged file reads back.

use std::fs;
use std::sync::Arc;

mod common;

use cairn::config::StoreConfig;
use cairn::store::fault::Faults;
use cairn::store::{AddOptions, Store};

#[test]
fn a_failure_at_any_write_or_sync_leaves_a_consistent_store() {
    let cfg = StoreConfig {
        chunk_avg: 8192,
        ..StoreConfig::default()
    };
    let mut failures_seen = 0;
    let mut n = 1;
    loop {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let faults = Arc::new(Faults::default());
        let open = || {
            Store::open_with_faults(&dir, &[3; 32], [4; 32], cfg.clone(), Some(faults.clone()))
                .unwrap()
        };
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        fs::write(&a, common::pseudo_random(60_000, 1)).unwrap();
        fs::write(&b, common::pseudo_random(90_000, 2)).unwrap();
        let store = open();
        let cap_a = store
            .add(&[a], &AddOptions::default(), &mut |_| {})
            .unwrap()
            .remove(0)
            .cap;
        faults.arm(n);
        let res = store.add(&[b], &AddOptions::default(), &mut |_| {});
        drop(store);
        faults.arm(0);
        let store = open();
        let rep = store.verify(false).unwrap();
        assert!(rep.ok, "failure at operation {n}: {rep:?}");
        let mut out = Vec::new();
        store.cat(&cap_a, None, &mut out).unwrap();
        assert_eq!(
            out,
            common::pseudo_random(60_000, 1),
            "failure at operation {n}"
        );
        match res {
            Ok(mut reps) => {
                let mut out = Vec::new();
                store.cat(&reps.remove(0).cap, None, &mut out).unwrap();
                assert_eq!(out, common::pseudo_random(90_000, 2));
                // The countdown outlived the add: every point was tried.
                break;
            }
            Err(_) => failures_seen += 1,
        }
        // A later add on the healthy store works.
        let c = tmp.path().join("c");
        fs::write(&c, b"after").unwrap();
        store
            .add(&[c], &AddOptions::default(), &mut |_| {})
            .unwrap();
        n += 1;
        assert!(n < 500, "the add never succeeded");
    }
    assert!(failures_seen >= 10, "only {failures_seen} failure points");
}
