//! Market benchmarks: segment verification against its baselines, storage proofs on a
//! 1 MiB block, WebAssembly fuel throughput.

use std::hint::black_box;
use std::time::Duration;

use cairn_market::cpu::{self, Job};
use cairn_market::proof::{self, Challenge};
use cairn_market::segment::{Segment, verify_segment};
use cairn_market::simulation::sample_segment;
use cairn_market::{EntryBody, Hash32};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};

const ENTRIES: usize = 10_000;

/// Criterion measurement of this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): on a
/// machine shared with other builds, wall time measures the contention; CPU time
/// measures the work on one core.
struct ThreadCpuTime;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is valid on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl criterion::measurement::Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, i: Duration) -> Duration {
        thread_cpu_now().saturating_sub(i)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        static WALL: criterion::measurement::WallTime = criterion::measurement::WallTime;
        criterion::measurement::Measurement::formatter(&WALL)
    }
}

fn segment_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let bytes = sample_segment(1, ENTRIES - 1);
    let seg = Segment::from_bytes(&bytes).expect("sample decodes");
    let mut sigs: Vec<(Vec<u8>, VerifyingKey, Signature)> = Vec::new();
    for e in &seg.entries {
        if let EntryBody::Receipt(r) = &e.body {
            let m = r.receipt.signed_message();
            let ck = VerifyingKey::from_bytes(&r.receipt.consumer.0).expect("key");
            let pk = VerifyingKey::from_bytes(&r.receipt.provider.0).expect("key");
            sigs.push((m.clone(), ck, Signature::from_bytes(&r.consumer_sig.0)));
            sigs.push((m, pk, Signature::from_bytes(&r.provider_sig.0)));
        }
    }
    let mut g = c.benchmark_group("segment_10k_thread_cpu_time");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("verify_segment", |b| {
        b.iter(|| assert!(verify_segment(black_box(&bytes)).valid))
    });
    g.bench_function("baseline_ed25519_single_verify_all_signatures", |b| {
        b.iter(|| {
            for (m, k, s) in &sigs {
                k.verify_strict(black_box(m), s).expect("valid");
            }
        })
    });
    g.finish();
}

fn segment(c: &mut Criterion) {
    let bytes = sample_segment(1, ENTRIES - 1);
    let seg = Segment::from_bytes(&bytes).expect("sample decodes");
    assert_eq!(seg.entries.len(), ENTRIES);
    assert!(verify_segment(&bytes).valid);
    // The same signatures, checked one by one (the baseline batch verification beats).
    let mut sigs: Vec<(Vec<u8>, VerifyingKey, Signature)> = Vec::new();
    for e in &seg.entries {
        if let EntryBody::Receipt(r) = &e.body {
            let m = r.receipt.signed_message();
            let ck = VerifyingKey::from_bytes(&r.receipt.consumer.0).expect("key");
            let pk = VerifyingKey::from_bytes(&r.receipt.provider.0).expect("key");
            sigs.push((m.clone(), ck, Signature::from_bytes(&r.consumer_sig.0)));
            sigs.push((m, pk, Signature::from_bytes(&r.provider_sig.0)));
        }
    }
    let mut g = c.benchmark_group("segment_10k");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function("verify_segment", |b| {
        b.iter(|| assert!(verify_segment(black_box(&bytes)).valid))
    });
    g.bench_function("baseline_ed25519_single_verify_all_signatures", |b| {
        b.iter(|| {
            for (m, k, s) in &sigs {
                k.verify_strict(black_box(m), s).expect("valid");
            }
        })
    });
    g.bench_function("baseline_blake3_segment_bytes", |b| {
        b.iter(|| blake3::hash(black_box(&bytes)))
    });
    g.finish();
    eprintln!(
        "segment: {} entries, {} bytes, {} signatures",
        ENTRIES,
        bytes.len(),
        sigs.len()
    );
}

fn storage_proof(c: &mut Criterion) {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let id = Hash32::of(&data);
    let challenge = Challenge::derive(id, data.len() as u64, [42; 32], 4).expect("challenge");
    let p = proof::prove(&challenge, &data).expect("proof");
    proof::verify(&challenge, &p).expect("verifies");
    eprintln!(
        "storage proof: 1 MiB block, 4 chunks {:?}, proof {} bytes ({} of them chunk data, {} subtree hashes)",
        challenge.chunks,
        p.to_bytes().len(),
        4 * 1024,
        p.items
            .iter()
            .filter(|i| matches!(i, proof::ProofItem::Subtree(_)))
            .count()
    );
    let mut g = c.benchmark_group("storage_proof_1MiB_4_chunks");
    g.bench_function("build", |b| {
        b.iter(|| proof::prove(black_box(&challenge), black_box(&data)).expect("proof"))
    });
    g.bench_function("verify", |b| {
        b.iter(|| proof::verify(black_box(&challenge), black_box(&p)).expect("ok"))
    });
    g.bench_function("baseline_blake3_whole_block", |b| {
        b.iter(|| blake3::hash(black_box(&data)))
    });
    g.finish();
}

fn wasm(c: &mut Criterion) {
    let input: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    let mut g = c.benchmark_group("wasm_fnv");
    g.sample_size(10);
    for rounds in [10u32, 100] {
        let module = cpu::fnv_module(rounds);
        let job = Job {
            module: Hash32::of(&module),
            inputs: vec![Hash32::of(&input)],
            fuel_limit: u64::MAX / 2,
            memory_limit: 1 << 20,
            max_output: 64,
        };
        let fuel = cpu::execute(&job, &module, &[&input])
            .expect("runs")
            .fuel_used;
        eprintln!("wasm: {rounds} rounds over 4 KiB use {fuel} fuel");
        g.throughput(Throughput::Elements(fuel));
        g.bench_with_input(BenchmarkId::new("execute_fuel", rounds), &rounds, |b, _| {
            b.iter(|| cpu::execute(black_box(&job), &module, &[&input]).expect("runs"))
        });
        // Baseline: the same FNV computation in native Rust.
        g.bench_with_input(
            BenchmarkId::new("baseline_native_fnv", rounds),
            &rounds,
            |b, &r| {
                b.iter(|| {
                    let mut h: u64 = 0xcbf29ce484222325;
                    for _ in 0..r {
                        for &x in black_box(&input) {
                            h = (h ^ u64::from(x)).wrapping_mul(0x100000001b3);
                        }
                    }
                    h
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, segment, storage_proof, wasm);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = segment_cpu
}
criterion_main!(benches, cpu_time);
