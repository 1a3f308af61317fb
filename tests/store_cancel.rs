//! The store's cancellation and progress hooks, which the daemon's
//! transfers use: a cancelled add pins nothing and leaves a store that
//! verifies; a stopped get leaves no partial file; progress counts up to
//! the whole size.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

use cairn::config::StoreConfig;
use cairn::store::{AddOptions, Store, StoreError};

fn store(dir: &std::path::Path) -> Store {
    let cfg = StoreConfig {
        chunk_avg: 8192,
        ..StoreConfig::default()
    };
    Store::open(dir, &[7; 32], [8; 32], cfg).unwrap()
}

#[test]
fn an_add_cancelled_mid_file_pins_nothing_and_the_store_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let f = tmp.path().join("f");
    fs::write(&f, common::pseudo_random(1_000_000, 1)).unwrap();
    let cancel = AtomicBool::new(false);
    let mut calls = 0;
    let res = s.add_cancellable(
        std::slice::from_ref(&f),
        &AddOptions::default(),
        &mut |_| {
            calls += 1;
            cancel.store(true, Ordering::Relaxed);
        },
        &cancel,
    );
    assert!(matches!(res, Err(StoreError::Cancelled)), "{res:?}");
    assert_eq!(calls, 1, "stopped at the chunk after the flag was set");
    assert!(s.roots().unwrap().is_empty());
    s.gc().unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.classes[0].blocks, 0);
    assert!(s.verify(false).unwrap().ok);
    // The same add, not cancelled, works and reads back.
    let cap = s
        .add_cancellable(
            &[f],
            &AddOptions::default(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap()
        .remove(0)
        .cap;
    let mut out = Vec::new();
    s.cat(&cap, None, &mut out).unwrap();
    assert!(out == common::pseudo_random(1_000_000, 1));
}

#[test]
fn a_cancelled_directory_add_stops_between_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let d = tmp.path().join("d");
    fs::create_dir(&d).unwrap();
    for i in 0..5 {
        fs::write(d.join(format!("{i}")), common::pseudo_random(100, i)).unwrap();
    }
    let cancel = AtomicBool::new(true);
    let res = s.add_cancellable(&[d], &AddOptions::default(), &mut |_| {}, &cancel);
    assert!(matches!(res, Err(StoreError::Cancelled)), "{res:?}");
    assert!(s.roots().unwrap().is_empty());
}

#[test]
fn a_watched_get_reports_progress_and_stops_without_a_partial_file() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let f = tmp.path().join("f");
    let data = common::pseudo_random(500_000, 3);
    fs::write(&f, &data).unwrap();
    let cap = s
        .add(&[f], &AddOptions::default(), &mut |_| {})
        .unwrap()
        .remove(0)
        .cap;
    assert_eq!(s.size_of(&cap).unwrap(), 500_000);

    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut seen = Vec::new();
    let dest = out.join("whole");
    s.get_watched(&cap, &dest, &mut |n| {
        seen.push(n);
        true
    })
    .unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(seen.last(), Some(&500_000));
    assert!(fs::read(&dest).unwrap() == data);

    let dest = out.join("stopped");
    let mut calls = 0;
    let res = s.get_watched(&cap, &dest, &mut |_| {
        calls += 1;
        calls < 3
    });
    assert!(matches!(res, Err(StoreError::Cancelled)), "{res:?}");
    let left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["whole"], "no partial file left behind");
}
