//! Public (plaintext) shares through the store's library API: round trips
//! of files and trees, the cap's own form, dedup, ls/verify/gc/rm, other
//! owners reading them without any secret, and that public and private data
//! can never be taken for one another.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cairn::config::StoreConfig;
use cairn::store::manifest::{ChunkRef, FileBody};
use cairn::store::read::Body;
use cairn::store::{AddOptions, AddReport, BlockId, Cap, Cipher, Redundancy, Store, StoreError};
use proptest::prelude::*;

fn small_cfg() -> StoreConfig {
    StoreConfig {
        chunk_avg: 16 * 1024,
        ..StoreConfig::default()
    }
}

fn open(dir: &Path, secret: u8) -> Store {
    Store::open(&dir.join("store"), &[secret; 32], [0xaa; 32], small_cfg()).unwrap()
}

fn add_with(store: &Store, p: &Path, public: bool, r: Option<Redundancy>) -> AddReport {
    store
        .add(
            &[p.to_owned()],
            &AddOptions {
                redundancy: r,
                public,
            },
            &mut |_| {},
        )
        .unwrap()
        .remove(0)
}

fn add_public(store: &Store, p: &Path) -> AddReport {
    add_with(store, p, true, None)
}

fn cat(store: &Store, cap: &Cap) -> Vec<u8> {
    let mut v = Vec::new();
    store.cat(cap, None, &mut v).unwrap();
    v
}

fn file_chunks(store: &Store, cap: &Cap) -> Vec<ChunkRef> {
    match store.open_body(cap).unwrap() {
        Body::File(FileBody { chunks, .. }) => chunks,
        Body::Dir(_) => panic!("not a file"),
    }
}

fn live(store: &Store, cap: &Cap) -> HashSet<BlockId> {
    let mut l = HashSet::new();
    store.mark(cap, &mut l).unwrap();
    l
}

/// Copy every block under `cap` from one store's packs into another's, as
/// a host holding them would.
fn copy_blocks(from: &Store, to: &Store, cap: &Cap) {
    for id in live(from, cap) {
        let b = from.read_block(&id).unwrap();
        to.put_block(cairn::store::Class::Hosted, &b).unwrap();
    }
}

#[test]
fn public_file_round_trips_with_a_keyless_cap_and_plaintext_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let f = tmp.path().join("data.csv");
    let bytes = common::pseudo_random(200_000, 7);
    fs::write(&f, &bytes).unwrap();
    let rep = add_public(&store, &f);
    assert!(rep.public);
    assert!(rep.cap.is_public());
    let text = rep.cap.to_string();
    assert!(text.starts_with("cairn-pub:"), "{text}");
    let parsed: Cap = text.parse().unwrap();
    assert_eq!(parsed, rep.cap);
    assert_eq!(cat(&store, &parsed), bytes);
    let mut part = Vec::new();
    store
        .cat(&parsed, Some("1000-1999".parse().unwrap()), &mut part)
        .unwrap();
    assert_eq!(part, &bytes[1000..2000]);
    // Chunks are plaintext: no cipher, no key, and data shard 0 of the
    // first chunk is the file's first bytes.
    let chunks = file_chunks(&store, &parsed);
    assert!(
        chunks
            .iter()
            .all(|c| c.cipher == Cipher::Plain && c.key == [0; 32])
    );
    let first = store.read_block(&chunks[0].shards[0].id).unwrap();
    assert_eq!(&first[..64], &bytes[..64]);
    let out = tmp.path().join("out.csv");
    store.get(&parsed, &out).unwrap();
    assert_eq!(fs::read(&out).unwrap(), bytes);
    assert!(store.verify(false).unwrap().ok);
}

#[test]
fn another_owner_reads_a_public_share_from_its_blocks_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let a = open(&tmp.path().join("a"), 1);
    let b = open(&tmp.path().join("b"), 2);
    let f = tmp.path().join("f.txt");
    let bytes = common::pseudo_random(50_000, 3);
    fs::write(&f, &bytes).unwrap();
    let cap = add_public(&a, &f).cap;
    copy_blocks(&a, &b, &cap);
    // Reading needs no owner secret: b's differs, and the cap has no key.
    assert_eq!(cat(&b, &cap.to_string().parse().unwrap()), bytes);
}

#[test]
fn public_dedups_and_owners_share_public_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let s1 = open(&tmp.path().join("1"), 1);
    let s2 = open(&tmp.path().join("2"), 2);
    let f = tmp.path().join("f");
    fs::write(&f, common::pseudo_random(300_000, 1)).unwrap();
    let first = add_public(&s1, &f);
    let again = add_public(&s1, &f);
    assert_eq!(again.cap, first.cap);
    assert_eq!(again.bytes_written, 0, "re-adding writes nothing");
    // Plaintext addressing: another owner's public add of the same file
    // (same name, mode and mtime) makes exactly the same blocks.
    let other = add_public(&s2, &f);
    assert_eq!(other.cap, first.cap);
    assert_eq!(live(&s1, &first.cap), live(&s2, &other.cap));
}

#[test]
fn public_and_private_adds_of_one_file_share_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let f = tmp.path().join("f");
    fs::write(&f, common::pseudo_random(100_000, 4)).unwrap();
    let private = add_with(&store, &f, false, None).cap;
    let public = add_public(&store, &f).cap;
    assert!(!private.is_public());
    assert!(public.is_public());
    assert!(live(&store, &private).is_disjoint(&live(&store, &public)));
    // The private path is unchanged: sealed chunks with keys.
    assert!(
        file_chunks(&store, &private)
            .iter()
            .all(|c| c.cipher != Cipher::Plain && c.key != [0; 32])
    );
    assert_eq!(cat(&store, &private), cat(&store, &public));
}

#[test]
fn a_private_cap_never_reads_plaintext_and_a_public_cap_never_decrypts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let f = tmp.path().join("f");
    fs::write(&f, b"hello public world").unwrap();
    let public = add_public(&store, &f).cap;
    let private = add_with(&store, &f, false, None).cap;
    // A "private" cap naming the public head (with any key) is refused as
    // damaged: its head is plaintext.
    let forged = Cap {
        cipher: Cipher::Aes256GcmSiv,
        key: [1; 32],
        ..public.clone()
    };
    assert!(matches!(
        store.open_head(&forged),
        Err(StoreError::Integrity(_))
    ));
    // A public cap naming a private head: ciphertext is no head.
    let forged = Cap::public(private.kind, private.head);
    assert!(matches!(
        store.open_head(&forged),
        Err(StoreError::Integrity(_))
    ));
}

#[test]
fn a_public_head_listing_encrypted_chunks_is_refused() {
    use cairn::store::manifest::Head;
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let f = tmp.path().join("f");
    fs::write(&f, b"secret").unwrap();
    let private = add_with(&store, &f, false, None).cap;
    // Open the private head (with its key), then store it as plaintext
    // under a public cap: a public cap must not lead to sealed chunks.
    let head: Head = store.open_head(&private).unwrap();
    assert!(head.chunks.iter().all(|c| !c.cipher.is_plain()));
    let id = store
        .put_block(cairn::store::Class::Own, &head.encode())
        .unwrap();
    let forged = Cap::public(private.kind, id);
    match store.open_head(&forged) {
        Err(StoreError::Integrity(m)) => assert!(m.contains("encrypted"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn public_tree_ls_rm_gc_and_redundancy_options() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let src = tmp.path().join("dataset");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.txt"), b"alpha").unwrap();
    fs::create_dir(src.join("sub")).unwrap();
    fs::write(src.join("sub/b.bin"), common::pseudo_random(70_000, 9)).unwrap();
    let rep = add_with(&store, &src, true, Some(Redundancy::new(3, 2).unwrap()));
    assert_eq!(rep.redundancy, "3+2");
    assert_eq!(rep.files, 2);
    let ls = store.ls(Some(&rep.cap)).unwrap();
    assert_eq!(ls.entries.len(), 2);
    assert!(ls.entries.iter().all(|e| e.cap.is_public()));
    assert!(
        store
            .ls(None)
            .unwrap()
            .entries
            .iter()
            .any(|e| e.cap == rep.cap)
    );
    let out = tmp.path().join("out");
    store.get(&rep.cap, &out).unwrap();
    assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"alpha");
    assert_eq!(
        fs::read(out.join("sub/b.bin")).unwrap(),
        fs::read(src.join("sub/b.bin")).unwrap()
    );
    // --copies works as well.
    let f = src.join("a.txt");
    let copies = add_with(&store, &f, true, Some(Redundancy::copies(3).unwrap()));
    assert_eq!(file_chunks(&store, &copies.cap)[0].shards.len(), 3);
    // Re-encoding a public root keeps it public.
    let re = store
        .set_redundancy(&rep.cap, Redundancy::new(2, 1).unwrap())
        .unwrap();
    assert!(re.public && re.cap.is_public());
    assert!(store.verify(false).unwrap().ok);
    // rm + gc reclaim the public blocks like any others.
    store.rm(&re.cap).unwrap();
    store.rm(&copies.cap).unwrap();
    let gc = store.gc().unwrap();
    assert!(gc.blocks_removed > 0, "{gc:?}");
    assert!(store.ls(None).unwrap().entries.is_empty());
}

#[test]
fn a_damaged_public_shard_is_rebuilt_from_parity() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), 1);
    let f = tmp.path().join("f");
    let bytes = common::pseudo_random(40_000, 5);
    fs::write(&f, &bytes).unwrap();
    let cap = add_public(&store, &f).cap;
    let id = file_chunks(&store, &cap)[0].shards[0].id;
    let loc = store.location(&id).unwrap().unwrap();
    let path = store
        .dir()
        .join("packs")
        .join(format!("{:08x}.pack", loc.pack));
    let mut packed = fs::read(&path).unwrap();
    packed[(loc.offset + loc.len as u64 / 2) as usize] ^= 0x10;
    fs::write(&path, packed).unwrap();
    assert_eq!(cat(&store, &cap), bytes);
    let v = store.verify(true).unwrap();
    assert!(v.unrecoverable.is_empty(), "{v:?}");
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
        proptest::collection::btree_map("[a-z]{1,8}(\\.[a-z]{1,3})?", inner, 0..4)
            .prop_map(|m| Node::Dir(m.into_iter().collect()))
    })
}

fn write_tree(p: &Path, n: &Node) {
    match n {
        Node::File(b, mode) => {
            fs::write(p, b).unwrap();
            fs::set_permissions(p, fs::Permissions::from_mode(*mode)).unwrap();
        }
        Node::Dir(es) => {
            fs::create_dir(p).unwrap();
            for (name, c) in es {
                write_tree(&p.join(name), c);
            }
        }
    }
}

fn same_tree(a: &Path, b: &Path) -> bool {
    let (ma, mb) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
    if ma.permissions().mode() != mb.permissions().mode()
        || ma.modified().ok() != mb.modified().ok()
    {
        return false;
    }
    if !ma.is_dir() {
        return fs::read(a).unwrap() == fs::read(b).unwrap();
    }
    let names = |p: &Path| {
        let mut v: Vec<_> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let na = names(a);
    na == names(b) && na.iter().all(|n| same_tree(&a.join(n), &b.join(n)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn random_public_trees_round_trip_exactly(t in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1);
        let src = tmp.path().join("src");
        write_tree(&src, &t);
        let rep = add_public(&store, &src);
        prop_assert!(rep.cap.is_public());
        let out = tmp.path().join("out");
        store.get(&rep.cap.to_string().parse().unwrap(), &out).unwrap();
        prop_assert!(same_tree(&src, &out));
        prop_assert!(store.verify(false).unwrap().ok);
    }
}
