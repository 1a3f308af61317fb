//! The store through its library API: round trips, dedup, encryption,
//! chunking locality, damage and repair, gc against concurrent adds, quotas,
//! and files that change or cannot be read while added.

mod common;

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cairn::config::StoreConfig;
use cairn::store::manifest::{ChunkRef, FileBody};
use cairn::store::read::Body;
use cairn::store::{AddOptions, BlockId, Cap, Class, Redundancy, Store, StoreError};
use proptest::prelude::*;

fn small_cfg() -> StoreConfig {
    StoreConfig {
        chunk_avg: 16 * 1024,
        ..StoreConfig::default()
    }
}

fn open(dir: &Path, secret: u8, cfg: StoreConfig) -> Store {
    Store::open(&dir.join("store"), &[secret; 32], [0xaa; 32], cfg).unwrap()
}

fn add(store: &Store, p: &Path) -> cairn::store::AddReport {
    store
        .add(&[p.to_owned()], &AddOptions::default(), &mut |_| {})
        .unwrap()
        .remove(0)
}

fn cat(store: &Store, cap: &Cap) -> Vec<u8> {
    let mut v = Vec::new();
    store.cat(cap, None, &mut v).unwrap();
    v
}

/// The chunks of a file cap.
fn file_chunks(store: &Store, cap: &Cap) -> Vec<ChunkRef> {
    match store.open_body(cap).unwrap() {
        Body::File(FileBody { chunks, .. }) => chunks,
        Body::Dir(_) => panic!("not a file"),
    }
}

/// Overwrite one byte of a stored block in its pack file.
fn flip_byte(store: &Store, id: &BlockId) {
    let loc = store.location(id).unwrap().unwrap();
    let path = store
        .dir()
        .join("packs")
        .join(format!("{:08x}.pack", loc.pack));
    let mut bytes = fs::read(&path).unwrap();
    bytes[(loc.offset + loc.len as u64 / 2) as usize] ^= 0x10;
    fs::write(&path, bytes).unwrap();
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>, u32),
    Dir(Vec<(String, Node)>),
}

fn tree() -> impl Strategy<Value = Node> {
    let file = (
        proptest::collection::vec(any::<u8>(), 0..40_000),
        0o400u32..0o777,
    )
        .prop_map(|(b, m)| Node::File(b, m));
    file.prop_recursive(3, 12, 4, |inner| {
        proptest::collection::btree_map("[a-z]{1,8}", inner, 0..4)
            .prop_map(|m| Node::Dir(m.into_iter().collect()))
    })
}

fn write_tree(p: &Path, n: &Node, mtime: u64) {
    match n {
        Node::File(b, mode) => {
            fs::write(p, b).unwrap();
            let f = fs::File::options().write(true).open(p).unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime))
                .unwrap();
            fs::set_permissions(p, fs::Permissions::from_mode(*mode)).unwrap();
        }
        Node::Dir(es) => {
            fs::create_dir(p).unwrap();
            for (name, c) in es {
                write_tree(&p.join(name), c, mtime + 1);
            }
        }
    }
}

fn assert_same_tree(a: &Path, b: &Path) {
    let ma = fs::metadata(a).unwrap();
    let mb = fs::metadata(b).unwrap();
    assert_eq!(
        ma.permissions().mode(),
        mb.permissions().mode(),
        "{}",
        b.display()
    );
    assert_eq!(
        ma.modified().unwrap(),
        mb.modified().unwrap(),
        "{}",
        b.display()
    );
    if ma.is_dir() {
        let names = |p: &Path| {
            let mut v: Vec<_> = fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        let na = names(a);
        assert_eq!(na, names(b));
        for n in na {
            assert_same_tree(&a.join(&n), &b.join(&n));
        }
    } else {
        assert_eq!(
            fs::read(a).unwrap(),
            fs::read(b).unwrap(),
            "{}",
            b.display()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_file_trees_round_trip_exactly(t in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1, small_cfg());
        let src = tmp.path().join("src");
        write_tree(&src, &t, 1_600_000_000);
        let rep = add(&store, &src);
        let out = tmp.path().join("out");
        store.get(&rep.cap, &out).unwrap();
        assert_same_tree(&src, &out);
        prop_assert!(store.verify(false).unwrap().ok);
    }
}

#[test]
fn identical_content_is_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let a = tmp.path().join("a");
    fs::write(&a, common::pseudo_random(300_000, 1)).unwrap();
    let first = add(&store, &a);
    assert!(first.bytes_written > 300_000);
    let again = add(&store, &a);
    assert_eq!(again.cap, first.cap);
    assert_eq!(again.bytes_written, 0, "re-adding writes nothing");
    // The same bytes under another name and mtime: the data dedupes, only
    // the manifests (which hold the metadata) are new.
    let b = tmp.path().join("b");
    fs::copy(&a, &b).unwrap();
    let copy = add(&store, &b);
    assert!(
        copy.bytes_written < first.bytes_written / 20,
        "{}",
        copy.bytes_written
    );
}

#[test]
fn owners_with_different_secrets_share_no_block() {
    let tmp = tempfile::tempdir().unwrap();
    let s1 = open(&tmp.path().join("1"), 1, small_cfg());
    let s2 = open(&tmp.path().join("2"), 2, small_cfg());
    let f = tmp.path().join("f");
    fs::write(&f, common::pseudo_random(100_000, 2)).unwrap();
    let ids = |s: &Store, cap: &Cap| -> HashSet<BlockId> {
        let mut live = HashSet::new();
        s.mark(cap, &mut live).unwrap();
        live
    };
    let c1 = add(&s1, &f).cap;
    let c2 = add(&s2, &f).cap;
    let (i1, i2) = (ids(&s1, &c1), ids(&s2, &c2));
    assert!(!i1.is_empty());
    assert!(i1.is_disjoint(&i2));
    // And no stored block contains the plaintext.
    let plain = fs::read(&f).unwrap();
    for id in &i1 {
        let b = s1.read_block(id).unwrap();
        assert!(!b.windows(64).any(|w| w == &plain[..64]));
    }
}

#[test]
fn inserting_one_byte_near_the_start_restores_only_a_few_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let data = common::pseudo_random(2_000_000, 3);
    let f = tmp.path().join("f");
    fs::write(&f, &data).unwrap();
    let first = add(&store, &f);
    let mut edited = data.clone();
    edited.insert(1000, 0x42);
    fs::write(&f, &edited).unwrap();
    let second = add(&store, &f);
    let before: HashSet<_> = file_chunks(&store, &first.cap)
        .into_iter()
        .map(|c| c.key)
        .collect();
    let after = file_chunks(&store, &second.cap);
    let new = after.iter().filter(|c| !before.contains(&c.key)).count();
    assert!(after.len() > 50, "{} chunks", after.len());
    assert!(new <= 2, "{new} of {} chunks are new", after.len());
    assert_eq!(cat(&store, &second.cap), edited);
    // Shards written: the new chunks' shards plus the manifests' (a body
    // piece or two and the head).
    assert!(
        second.blocks_written <= (new as u64 + 2) * 6 + 1,
        "{}",
        second.blocks_written
    );
}

#[test]
fn a_flipped_bit_is_rebuilt_from_parity() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(200_000, 4);
    fs::write(&f, &data).unwrap();
    let cap = add(&store, &f).cap;
    let chunk = &file_chunks(&store, &cap)[1];
    let victim = chunk.shards[0].id;
    flip_byte(&store, &victim);
    // Reads still work (from parity), verify sees it, repair fixes it.
    assert_eq!(cat(&store, &cap), data);
    let rep = store.verify(false).unwrap();
    assert!(!rep.ok);
    assert_eq!(rep.damaged_blocks, vec![victim]);
    let rep = store.verify(true).unwrap();
    assert!(rep.ok, "{rep:?}");
    assert_eq!(rep.repaired_blocks, 1);
    let rep = store.verify(false).unwrap();
    assert!(rep.ok && rep.damaged_blocks.is_empty(), "{rep:?}");
    assert_eq!(
        store.read_block(&victim).unwrap().len(),
        chunk.shard_len as usize
    );
}

#[test]
fn damage_beyond_parity_is_reported_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let dir = tmp.path().join("docs");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("ok.txt"), common::pseudo_random(50_000, 5)).unwrap();
    fs::write(dir.join("lost.bin"), common::pseudo_random(100_000, 6)).unwrap();
    let rep = add(&store, &dir);
    let lost_cap = store
        .ls(Some(&rep.cap))
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.name == "lost.bin")
        .unwrap()
        .cap;
    let chunk = &file_chunks(&store, &lost_cap)[0];
    for s in &chunk.shards[..3] {
        flip_byte(&store, &s.id);
    }
    let rep = store.verify(true).unwrap();
    assert!(!rep.ok);
    assert_eq!(rep.unrecoverable, vec!["docs/lost.bin".to_owned()]);
    let mut sink = Vec::new();
    assert!(matches!(
        store.cat(&lost_cap, None, &mut sink),
        Err(StoreError::Integrity(_))
    ));
}

#[test]
fn gc_during_an_add_never_deletes_a_block_the_add_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(1_000_000, 7);
    fs::write(&f, &data).unwrap();
    // Store it, unpin it: every block is present but unreachable.
    let cap = add(&store, &f).cap;
    store.rm(&cap).unwrap();
    // Add it again while gc runs after every chunk: the add dedupes
    // against blocks gc would otherwise sweep (iroh-blobs #235/#247).
    let g = store.clone();
    let mut gcs = 0;
    let rep = store
        .add(
            std::slice::from_ref(&f),
            &AddOptions::default(),
            &mut |_| {
                g.gc().unwrap();
                gcs += 1;
            },
        )
        .unwrap()
        .remove(0);
    assert!(gcs > 10);
    assert_eq!(rep.cap, cap);
    store.gc().unwrap();
    assert_eq!(cat(&store, &cap), data);
    assert!(store.verify(false).unwrap().ok);
}

#[test]
fn gc_during_an_add_of_new_data_keeps_the_adds_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(600_000, 13);
    fs::write(&f, &data).unwrap();
    let g = store.clone();
    let rep = store
        .add(
            std::slice::from_ref(&f),
            &AddOptions::default(),
            &mut |_| {
                g.gc().unwrap();
            },
        )
        .unwrap()
        .remove(0);
    assert_eq!(cat(&store, &rep.cap), data);
    assert!(store.verify(false).unwrap().ok);
}

#[test]
fn gc_in_another_thread_races_many_adds_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let files: Vec<(PathBuf, Vec<u8>)> = (0..6)
        .map(|i| {
            let p = tmp.path().join(format!("f{i}"));
            // Overlapping content, so adds dedupe against each other.
            let mut d = common::pseudo_random(200_000, 100);
            d.extend(common::pseudo_random(50_000, i));
            fs::write(&p, &d).unwrap();
            (p, d)
        })
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let g = store.clone();
        let stop = &stop;
        s.spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                g.gc().unwrap();
            }
        });
        for round in 0..3 {
            let mut caps = Vec::new();
            for (p, _) in &files {
                caps.push(add(&store, p).cap);
            }
            for ((_, d), c) in files.iter().zip(&caps) {
                assert_eq!(&cat(&store, c), d, "round {round}");
            }
            for c in &caps {
                store.rm(c).unwrap();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    store.gc().unwrap();
    let st = store.stats().unwrap();
    assert_eq!(st.classes[0].blocks, 0, "everything unpinned is gone");
    assert_eq!(st.packs, 0, "and every pack with it");
}

#[test]
fn an_add_past_the_quota_is_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        quota_own: 500_000,
        ..small_cfg()
    };
    let store = open(tmp.path(), 1, cfg);
    let small = tmp.path().join("small");
    fs::write(&small, common::pseudo_random(100_000, 8)).unwrap();
    add(&store, &small);
    let before = store.stats().unwrap();
    let big = tmp.path().join("big");
    fs::write(&big, common::pseudo_random(400_000, 9)).unwrap();
    let err = store
        .add(&[big], &AddOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Quota {
                class: Class::Own,
                ..
            }
        ),
        "{err}"
    );
    let after = store.stats().unwrap();
    assert_eq!(after.roots, before.roots);
    assert_eq!(after.classes[0].bytes, before.classes[0].bytes);
    assert_eq!(after.packs, before.packs, "the refused add left no pack");
}

#[test]
fn cache_blocks_are_evicted_least_used_first() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        quota_cache: 3000,
        ..small_cfg()
    };
    let store = open(tmp.path(), 1, cfg);
    let a = store.put_block(Class::Cache, &[1; 1000]).unwrap();
    let b = store.put_block(Class::Cache, &[2; 1000]).unwrap();
    let c = store.put_block(Class::Cache, &[3; 1000]).unwrap();
    store.get_block(&a).unwrap();
    store.get_block(&c).unwrap();
    let d = store.put_block(Class::Cache, &[4; 1000]).unwrap();
    assert!(store.location(&b).unwrap().is_none(), "least used went");
    for id in [a, c, d] {
        assert!(store.location(&id).unwrap().is_some());
    }
    // Hosted blocks have their own quota and are never evicted.
    drop(store);
    let cfg = StoreConfig {
        quota_hosted: 1500,
        ..small_cfg()
    };
    let store = open(tmp.path(), 1, cfg);
    store.put_block(Class::Hosted, &[5; 1000]).unwrap();
    let err = store.put_block(Class::Hosted, &[6; 1000]).unwrap_err();
    assert!(matches!(
        err,
        StoreError::Quota {
            class: Class::Hosted,
            ..
        }
    ));
}

#[test]
fn a_file_that_changes_while_added_is_refused_and_not_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("growing");
    fs::write(&f, common::pseudo_random(500_000, 10)).unwrap();
    let mut appended = false;
    let err = store
        .add(
            std::slice::from_ref(&f),
            &AddOptions::default(),
            &mut |_| {
                if !appended {
                    let mut h = fs::File::options().append(true).open(&f).unwrap();
                    h.write_all(b"more").unwrap();
                    appended = true;
                }
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::PathChanged(_)), "{err}");
    assert_eq!(store.roots().unwrap().len(), 0);
    assert!(store.verify(false).unwrap().ok);
}

#[test]
fn missing_and_unreadable_paths_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let err = store
        .add(
            &[tmp.path().join("nope")],
            &AddOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::PathNotFound(_)), "{err}");
    // /proc/self/mem is a regular file whose first page cannot be read (EIO):
    // an unreadable file even for root.
    let err = store
        .add(
            &[PathBuf::from("/proc/self/mem")],
            &AddOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err}");
    assert_eq!(store.roots().unwrap().len(), 0);
}

#[test]
fn copies_and_other_redundancies_survive_losing_all_but_k_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(100_000, 11);
    fs::write(&f, &data).unwrap();
    for r in [
        Redundancy::copies(3).unwrap(),
        Redundancy::new(10, 4).unwrap(),
    ] {
        let rep = store
            .add(
                std::slice::from_ref(&f),
                &AddOptions {
                    redundancy: Some(r),
                    ..Default::default()
                },
                &mut |_| {},
            )
            .unwrap()
            .remove(0);
        let chunks = file_chunks(&store, &rep.cap);
        assert!(chunks.iter().all(|c| c.redundancy == r));
        for c in &chunks {
            for s in &c.shards[r.k as usize..] {
                flip_byte(&store, &s.id);
            }
        }
        assert_eq!(cat(&store, &rep.cap), data, "{r}");
        assert!(store.verify(true).unwrap().ok);
    }
}

#[test]
fn cat_ranges_return_exactly_the_asked_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(300_000, 12);
    fs::write(&f, &data).unwrap();
    let cap = add(&store, &f).cap;
    for (a, b) in [
        (0u64, 0u64),
        (5, 70_000),
        (100_000, 299_999),
        (299_999, 400_000),
    ] {
        let mut v = Vec::new();
        store
            .cat(
                &cap,
                Some(cairn::store::ByteRange {
                    start: a,
                    end: Some(b),
                }),
                &mut v,
            )
            .unwrap();
        let end = (b as usize + 1).min(data.len());
        assert_eq!(v, &data[a as usize..end], "{a}-{b}");
    }
}

#[test]
fn a_damaged_head_is_read_from_its_copy_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let dir = tmp.path().join("docs");
    fs::create_dir(&dir).unwrap();
    let data = common::pseudo_random(120_000, 21);
    fs::write(dir.join("a.bin"), &data).unwrap();
    let root = add(&store, &dir).cap;
    let file_cap = store.ls(Some(&root)).unwrap().entries[0].cap.clone();
    // Both the root's head and a file's head: neither has parity.
    flip_byte(&store, &root.head);
    flip_byte(&store, &file_cap.head);
    assert_eq!(cat(&store, &file_cap), data, "read from the head's copy");
    assert_eq!(store.ls(Some(&root)).unwrap().entries.len(), 1);
    let rep = store.verify(false).unwrap();
    assert!(!rep.ok, "damage is reported: {rep:?}");
    let mut expect = vec![root.head, file_cap.head];
    expect.sort();
    assert_eq!(rep.damaged_blocks, expect);
    let rep = store.verify(true).unwrap();
    assert!(rep.ok, "{rep:?}");
    assert_eq!(rep.repaired_blocks, 2);
    let rep = store.verify(false).unwrap();
    assert!(rep.ok && rep.damaged_blocks.is_empty(), "{rep:?}");
    // Repaired in place: the primary reads back without its copy's help.
    assert_eq!(cat(&store, &file_cap), data);
}

#[test]
fn a_damaged_head_copy_is_reported_and_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("f");
    let data = common::pseudo_random(40_000, 22);
    fs::write(&f, &data).unwrap();
    let cap = add(&store, &f).cap;
    let copy = store
        .mirror_location(&cap.head)
        .unwrap()
        .expect("heads get a copy");
    let primary = store.location(&cap.head).unwrap().unwrap();
    assert_ne!(copy.offset, primary.offset);
    // Damage the copy only: the head still reads, verify reports the copy.
    let path = store
        .dir()
        .join("packs")
        .join(format!("{:08x}.pack", copy.pack));
    let mut bytes = fs::read(&path).unwrap();
    bytes[(copy.offset + 3) as usize] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    assert_eq!(cat(&store, &cap), data);
    let rep = store.verify(false).unwrap();
    assert!(!rep.ok, "{rep:?}");
    assert_eq!(rep.damaged_copies, vec![cap.head]);
    assert!(rep.damaged_blocks.is_empty());
    let rep = store.verify(true).unwrap();
    assert!(rep.ok && rep.copies_written == 1, "{rep:?}");
    let rep = store.verify(false).unwrap();
    assert!(rep.ok && rep.damaged_copies.is_empty(), "{rep:?}");
    assert_ne!(store.mirror_location(&cap.head).unwrap().unwrap(), copy);
}

#[test]
fn gc_compacts_mostly_dead_packs_and_keeps_the_live_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let dir = tmp.path().join("tree");
    fs::create_dir(&dir).unwrap();
    // One add = one pack holding a small keeper and nine big files.
    let keep = common::pseudo_random(60_000, 30);
    fs::write(dir.join("keep.bin"), &keep).unwrap();
    for i in 0..9 {
        fs::write(
            dir.join(format!("drop{i}.bin")),
            common::pseudo_random(200_000, 31 + i),
        )
        .unwrap();
    }
    let tree = add(&store, &dir).cap;
    // Pin the keeper on its own: its chunks dedupe against the tree's pack,
    // only its (new: other mtime) manifest goes to a second, small pack.
    let f = tmp.path().join("keep-again.bin");
    fs::write(&f, &keep).unwrap();
    let keep_cap = add(&store, &f).cap;
    store.rm(&tree).unwrap();
    let packs = |s: &Store| fs::read_dir(s.dir().join("packs")).unwrap().count();
    let disk = |s: &Store| {
        fs::read_dir(s.dir().join("packs"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum::<u64>()
    };
    let before = disk(&store);
    let rep = store.gc().unwrap();
    assert_eq!(rep.packs_compacted, 1, "{rep:?}");
    assert!(
        rep.bytes_moved > 0 && rep.bytes_moved < before / 4,
        "{rep:?}"
    );
    let after = disk(&store);
    assert!(after < before / 4, "disk {before} -> {after}");
    assert_eq!(
        packs(&store),
        2,
        "the tree's pack replaced by its compacted copy, beside the keeper's manifest pack"
    );
    assert_eq!(cat(&store, &keep_cap), keep);
    let rep = store.verify(false).unwrap();
    assert!(rep.ok && rep.damaged_blocks.is_empty(), "{rep:?}");
    // A second gc finds nothing more to do.
    let rep = store.gc().unwrap();
    assert_eq!((rep.packs_compacted, rep.blocks_removed), (0, 0), "{rep:?}");
}

#[test]
fn a_roots_redundancy_can_be_changed_and_it_reads_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1, small_cfg());
    let f = tmp.path().join("movie.bin");
    let data = common::pseudo_random(150_000, 40);
    fs::write(&f, &data).unwrap();
    let old = add(&store, &f).cap;
    assert_eq!(
        file_chunks(&store, &old)[0].shards.len(),
        6,
        "4+2 by default"
    );
    let rep = store
        .set_redundancy(&old, Redundancy::new(2, 1).unwrap())
        .unwrap();
    assert_eq!(
        (rep.path.as_str(), rep.redundancy.as_str()),
        ("movie.bin", "2+1")
    );
    assert_ne!(rep.cap, old);
    assert_eq!(cat(&store, &rep.cap), data);
    for c in file_chunks(&store, &rep.cap) {
        assert_eq!((c.redundancy.k, c.redundancy.m, c.shards.len()), (2, 1, 3));
    }
    let roots = store.ls(None).unwrap().entries;
    assert_eq!(roots.len(), 1, "the old root is unpinned");
    assert_eq!(
        (roots[0].name.as_str(), &roots[0].cap),
        ("movie.bin", &rep.cap)
    );
    // The old encoding goes at gc; no scratch copy is left behind.
    assert!(store.gc().unwrap().blocks_removed > 0);
    assert_eq!(cat(&store, &rep.cap), data);
    assert!(store.verify(false).unwrap().ok);
    let tmpdir = store.dir().join("tmp");
    assert_eq!(fs::read_dir(&tmpdir).map(|d| d.count()).unwrap_or(0), 0);
    // Only roots have a target of their own.
    let stranger = add(&store, &tmp.path().join("movie.bin")).cap;
    store.rm(&stranger).unwrap();
    assert!(matches!(
        store.set_redundancy(&stranger, Redundancy::new(2, 1).unwrap()),
        Err(StoreError::NotFound(_))
    ));
}
