//! The measurements behind the store's defaults (docs/STORE.md):
//! - `cipher`: XChaCha20-Poly1305 against AES-256-GCM-SIV sealing 1 MiB;
//! - `ingest`: chunk + seal + erasure-code 32 MiB at each candidate average
//!   chunk size (256 KiB, 1 MiB, 4 MiB);
//! - `erasure`: encoding 1 MiB at 4+2 against 2+1 and 8+4;
//! - `backend`: writing 64 MiB as 256 KiB blocks, durably (one fsync at the
//!   end), into an append-only pack file, as redb values, or one file per
//!   block.
//!
//! Run: `cargo bench -p cairn --bench store_choices`.

use std::hint::black_box;
use std::io::Write;

use cairn::store::crypto::{Cipher, Convergence};
use cairn::store::erasure::{self, Redundancy};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn random(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def1u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn cipher(c: &mut Criterion) {
    let data = random(1 << 20);
    let key = [7u8; 32];
    let mut g = c.benchmark_group("cipher");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for cipher in [
        Cipher::Xchacha20Poly1305,
        Cipher::Aes256GcmSiv,
        Cipher::Aes256Gcm,
    ] {
        g.bench_function(format!("{cipher:?}"), |b| {
            b.iter(|| black_box(cipher.seal(&key, &data)))
        });
        // Reading back (every fetch and get) opens each chunk once.
        let sealed = cipher.seal(&key, &data);
        g.bench_function(format!("{cipher:?}/open"), |b| {
            b.iter(|| black_box(cipher.open(&key, &sealed)))
        });
    }
    g.finish();
}

fn ingest(c: &mut Criterion) {
    let data = random(32 << 20);
    let conv = Convergence::new(&[1; 32]);
    let r = Redundancy::new(4, 2).unwrap();
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    for avg in [256u32 << 10, 1 << 20, 4 << 20] {
        g.bench_with_input(BenchmarkId::from_parameter(avg >> 10), &avg, |b, &avg| {
            b.iter(|| {
                let mut n = 0;
                for ch in fastcdc::v2020::FastCDC::new(&data, avg / 4, avg, avg * 4) {
                    let plain = &data[ch.offset..ch.offset + ch.length];
                    let key = conv.key_for(plain);
                    let sealed = Cipher::Xchacha20Poly1305.seal(&key, plain);
                    for s in erasure::encode(r, &sealed) {
                        n += blake3::hash(&s).as_bytes()[0] as usize;
                    }
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

fn erasure_codes(c: &mut Criterion) {
    let data = random(1 << 20);
    let mut g = c.benchmark_group("erasure");
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (k, m) in [(2u8, 1u8), (4, 2), (8, 4)] {
        let r = Redundancy::new(k, m).unwrap();
        g.bench_function(format!("{k}+{m}"), |b| {
            b.iter(|| black_box(erasure::encode(r, &data)))
        });
    }
    g.finish();
}

fn backend(c: &mut Criterion) {
    const BLOCK: usize = 256 << 10;
    const COUNT: usize = 256;
    let blocks: Vec<Vec<u8>> = (0..COUNT).map(|i| random(BLOCK + i)).collect();
    let base = std::env::var_os("CAIRN_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut g = c.benchmark_group("backend");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((BLOCK * COUNT) as u64));
    g.bench_function("pack_file", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let mut f = std::fs::File::create(dir.path().join("p")).unwrap();
            for bl in &blocks {
                f.write_all(&blocks[0][..36]).unwrap();
                f.write_all(bl).unwrap();
            }
            f.sync_data().unwrap();
        })
    });
    g.bench_function("redb_values", |b| {
        const T: redb::TableDefinition<[u8; 32], &[u8]> = redb::TableDefinition::new("b");
        b.iter(|| {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let db = redb::Database::create(dir.path().join("db")).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(T).unwrap();
                for bl in &blocks {
                    t.insert(*blake3::hash(bl).as_bytes(), bl.as_slice())
                        .unwrap();
                }
            }
            tx.commit().unwrap();
        })
    });
    g.bench_function("file_per_block", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir_in(&base).unwrap();
            for bl in &blocks {
                let p = dir.path().join(blake3::hash(bl).to_hex().as_str());
                let mut f = std::fs::File::create(&p).unwrap();
                f.write_all(bl).unwrap();
                f.sync_data().unwrap();
            }
            std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, cipher, ingest, erasure_codes, backend);
criterion_main!(benches);
