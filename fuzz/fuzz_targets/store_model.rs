//! Model-based fuzzing of the store, in the manner of redb's own fuzzer:
//! random adds, removes, gcs, reads and reopenings run against the real
//! store (on disk, with I/O failures injected into pack and index writes)
//! and against an in-memory model of what must be there. After every
//! injected failure the store is reopened with healthy I/O and must verify
//! clean, and every acknowledged, still-pinned file must read back exactly.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arbitrary::Arbitrary;
use cairn::config::StoreConfig;
use cairn::store::fault::Faults;
use cairn::store::{AddOptions, Cap, Redundancy, Store};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Add { seed: u8, len: u16, k: u8, m: u8 },
    Rm { which: u8 },
    Gc,
    Read { which: u8 },
    Verify,
    FailAfter { ops: u8 },
    Reopen,
}

fn content(seed: u8, len: u16) -> Vec<u8> {
    let mut x = seed as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    (0..len as usize * 8)
        .map(|i| {
            // Runs of repeated bytes too, so chunks dedupe across files.
            if (i / 4096) % 3 == 0 {
                return (i / 4096) as u8;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn cfg() -> StoreConfig {
    StoreConfig {
        chunk_avg: 4096,
        ..StoreConfig::default()
    }
}

fn open(dir: &Path, faults: &Arc<Faults>) -> Store {
    Store::open_with_faults(dir, &[9; 32], [1; 32], cfg(), Some(faults.clone())).unwrap()
}

/// Reopen with healthy I/O and check the store against the model.
fn check(dir: &Path, faults: &Arc<Faults>, model: &BTreeMap<u8, (Cap, Vec<u8>)>) -> Store {
    faults.arm(0);
    let store = open(dir, faults);
    let rep = store.verify(false).unwrap();
    assert!(rep.ok, "{rep:?}");
    for (cap, data) in model.values() {
        let mut out = Vec::new();
        store.cat(cap, None, &mut out).unwrap();
        assert!(out == *data);
    }
    store
}

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 24 {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let faults = Arc::new(Faults::default());
    let mut store = Some(open(&dir, &faults));
    // name -> cap and bytes of every acknowledged, pinned add.
    let mut model: BTreeMap<u8, (Cap, Vec<u8>)> = BTreeMap::new();
    let mut failed = false;
    for (i, op) in ops.into_iter().enumerate() {
        let s = store.as_ref().unwrap();
        match op {
            Op::Add { seed, len, k, m } => {
                let data = content(seed, len);
                let path = src.join(format!("f{i}"));
                std::fs::write(&path, &data).unwrap();
                let r = Redundancy::new(k % 6 + 1, m % 4).ok();
                // Odd seeds add a public (plaintext) share: same model.
                let opts = AddOptions {
                    redundancy: r,
                    public: seed % 2 == 1,
                };
                match s.add(&[path], &opts, &mut |_| {}) {
                    Ok(mut reps) => {
                        let rep = reps.remove(0);
                        model.insert(i as u8, (rep.cap, data));
                    }
                    Err(_) => failed = true,
                }
            }
            Op::Rm { which } => {
                if let Some(&key) = model.keys().nth(which as usize % model.len().max(1)) {
                    let cap = model[&key].0.clone();
                    // Another pinned entry with the same cap (same content)
                    // shares the root: drop those from the model too.
                    match s.rm(&cap) {
                        Ok(_) => model.retain(|_, (c, _)| *c != cap),
                        Err(_) => {
                            failed = true;
                            model.retain(|_, (c, _)| *c != cap);
                        }
                    }
                }
            }
            Op::Gc => {
                if s.gc().is_err() {
                    failed = true;
                }
            }
            Op::Read { which } => {
                if let Some((cap, data)) = model.values().nth(which as usize % model.len().max(1)) {
                    let mut out = Vec::new();
                    // Reads write nothing, so injected faults cannot fail them.
                    s.cat(cap, None, &mut out).unwrap();
                    assert!(out == *data);
                }
            }
            Op::Verify => {
                if !failed {
                    assert!(s.verify(false).unwrap().ok);
                }
            }
            Op::FailAfter { ops } => faults.arm(ops as u64 + 1),
            Op::Reopen => failed = true,
        }
        if failed {
            // Close first: redb admits one open database per file.
            drop(store.take());
            store = Some(check(&dir, &faults, &model));
            failed = false;
        }
    }
    drop(store);
    check(&dir, &faults, &model);
});
