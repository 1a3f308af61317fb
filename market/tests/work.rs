//! Proofs of work: storage proofs, CPU jobs, and the policies built on them.

use cairn_market::bandwidth::{BandwidthPolicy, ServeAccount, ServeAction};
use cairn_market::cpu::{self, ExecError, Job, JobReport, JobVerdict};
use cairn_market::proof::{self, Challenge, ProofItem, StorageProof};
use cairn_market::quota::{DAY, PeergosParams, QuotaPolicy, QuotaReason, UptimeLog, quota};
use cairn_market::reputation::{BanPolicy, Reputation};
use cairn_market::{AuditOutcome, Hash32, Timestamp};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

fn block(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn an_honest_host_always_passes(len in 0usize..40_000, nonce in any::<[u8; 32]>(), count in 1usize..8) {
        let data = block(len, 1);
        let c = Challenge::derive(Hash32::of(&data), len as u64, nonce, count).unwrap();
        let p = proof::prove(&c, &data).unwrap();
        let decoded = StorageProof::from_bytes(&p.to_bytes()).unwrap();
        prop_assert_eq!(proof::verify(&c, &decoded), Ok(()));
        prop_assert_eq!(Challenge::from_bytes(&c.to_bytes()).unwrap(), c);
    }

    #[test]
    fn a_host_missing_any_challenged_chunk_always_fails(
        len in 1usize..40_000, nonce in any::<[u8; 32]>(), count in 1usize..8, pick in any::<prop::sample::Index>()
    ) {
        let data = block(len, 2);
        let c = Challenge::derive(Hash32::of(&data), len as u64, nonce, count).unwrap();
        // The host lost one challenged chunk and fills it with something else.
        let lost = c.chunks[pick.index(c.chunks.len())] as usize;
        let mut held = data.clone();
        for b in &mut held[lost * 1024..((lost + 1) * 1024).min(len)] {
            *b ^= 0x5a;
        }
        let p = proof::prove(&c, &held).unwrap();
        prop_assert!(proof::verify(&c, &p).is_err());
    }

    #[test]
    fn a_slice_of_another_block_always_fails(len in 1usize..40_000, nonce in any::<[u8; 32]>(), count in 1usize..8) {
        let data = block(len, 3);
        let other = block(len, 4);
        let c = Challenge::derive(Hash32::of(&data), len as u64, nonce, count).unwrap();
        let oc = Challenge::derive(Hash32::of(&other), len as u64, nonce, count).unwrap();
        let mut p = proof::prove(&oc, &other).unwrap();
        prop_assert!(proof::verify(&c, &p).is_err());
        // Even relabelled as the challenged block.
        p.block = c.block;
        prop_assert!(proof::verify(&c, &p).is_err());
    }
}

#[test]
fn a_proof_for_four_chunks_of_a_mebibyte_block_checks_and_is_compact() {
    let data = block(1 << 20, 9);
    let c = Challenge::derive(Hash32::of(&data), data.len() as u64, [7; 32], 4).unwrap();
    assert_eq!(c.chunks.len(), 4);
    let p = proof::prove(&c, &data).unwrap();
    proof::verify(&c, &p).unwrap();
    let hashes = p
        .items
        .iter()
        .filter(|i| matches!(i, ProofItem::Subtree(_)))
        .count();
    assert!(hashes <= 4 * 10, "{hashes} subtree hashes");
    assert!(p.to_bytes().len() < 4096 + 4 * 10 * 33 + 128);
}

#[test]
fn a_truncated_or_padded_proof_fails() {
    let data = block(10_000, 5);
    let c = Challenge::derive(Hash32::of(&data), 10_000, [1; 32], 3).unwrap();
    let p = proof::prove(&c, &data).unwrap();
    let mut short = p.clone();
    short.items.pop();
    assert!(proof::verify(&c, &short).is_err());
    let mut long = p.clone();
    long.items.push(ProofItem::Subtree([0; 32]));
    assert_eq!(proof::verify(&c, &long), Err(proof::ProofError::ExtraItems));
    let mut wrong_nonce = p;
    wrong_nonce.nonce = [2; 32];
    assert_eq!(
        proof::verify(&c, &wrong_nonce),
        Err(proof::ProofError::WrongChallenge)
    );
}

fn job_for(module: &[u8], input: &[u8], fuel: u64) -> Job {
    Job {
        module: Hash32::of(module),
        inputs: vec![Hash32::of(input)],
        fuel_limit: fuel,
        memory_limit: 1 << 20,
        max_output: 64,
    }
}

#[test]
fn the_same_job_gives_the_same_output_and_fuel_on_every_run() {
    let module = cpu::fnv_module(10);
    let input = block(1000, 1);
    let job = job_for(&module, &input, 10_000_000);
    let a = cpu::execute(&job, &module, &[&input]).unwrap();
    let b = cpu::execute(&job, &module, &[&input]).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.output.len(), 8);
    assert!(a.fuel_used > 10 * 1000);
    // The output is the FNV-1a computation the module claims to do.
    let mut h: u64 = 0xcbf29ce484222325;
    for _ in 0..10 {
        for &x in &input {
            h = (h ^ u64::from(x)).wrapping_mul(0x100000001b3);
        }
    }
    assert_eq!(a.output, h.to_le_bytes());
    let job2 = Job {
        fuel_limit: 20_000_000,
        ..job
    };
    let c = cpu::execute(&job2, &module, &[&input]).unwrap();
    assert_eq!((c.output_hash, c.fuel_used), (a.output_hash, a.fuel_used));
}

#[test]
fn running_out_of_fuel_ends_cleanly() {
    let module = cpu::fnv_module(1_000_000);
    let input = block(4096, 1);
    let job = job_for(&module, &input, 100_000);
    assert_eq!(
        cpu::execute(&job, &module, &[&input]),
        Err(ExecError::OutOfFuel { limit: 100_000 })
    );
}

#[test]
fn an_infinite_loop_ends_with_out_of_fuel() {
    let module = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "run") (loop $l (br $l))))"#,
    )
    .unwrap();
    let job = Job {
        inputs: vec![],
        ..job_for(&module, b"", 50_000)
    };
    assert_eq!(
        cpu::execute(&job, &module, &[]),
        Err(ExecError::OutOfFuel { limit: 50_000 })
    );
}

#[test]
fn a_trap_ends_with_a_typed_failure() {
    let module = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "run") unreachable))"#,
    )
    .unwrap();
    let job = Job {
        inputs: vec![],
        ..job_for(&module, b"", 50_000)
    };
    assert!(matches!(
        cpu::execute(&job, &module, &[]),
        Err(ExecError::Trap(_))
    ));
}

#[test]
fn growing_memory_past_the_limit_ends_with_a_typed_failure() {
    let module = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "run") (drop (memory.grow (i32.const 100)))))"#,
    )
    .unwrap();
    let job = Job {
        inputs: vec![],
        memory_limit: 4 * 65536,
        ..job_for(&module, b"", 50_000)
    };
    assert_eq!(
        cpu::execute(&job, &module, &[]),
        Err(ExecError::MemoryLimit)
    );
    let big =
        wat::parse_str(r#"(module (memory (export "memory") 100) (func (export "run")))"#).unwrap();
    let job = Job {
        inputs: vec![],
        memory_limit: 4 * 65536,
        ..job_for(&big, b"", 50_000)
    };
    assert_eq!(cpu::execute(&job, &big, &[]), Err(ExecError::MemoryLimit));
}

#[test]
fn writing_too_much_output_ends_with_a_typed_failure() {
    let module = wat::parse_str(
        r#"(module (import "cairn" "output_write" (func $w (param i32 i32)))
           (memory (export "memory") 1) (func (export "run") (call $w (i32.const 0) (i32.const 1000))))"#,
    )
    .unwrap();
    let job = Job {
        inputs: vec![],
        ..job_for(&module, b"", 50_000)
    };
    assert_eq!(
        cpu::execute(&job, &module, &[]),
        Err(ExecError::OutputLimit)
    );
}

#[test]
fn floats_and_unknown_imports_are_refused() {
    let floats =
        wat::parse_str(r#"(module (func (export "run") (drop (f64.const 1.5))))"#).unwrap();
    let job = Job {
        inputs: vec![],
        ..job_for(&floats, b"", 50_000)
    };
    assert!(matches!(
        cpu::execute(&job, &floats, &[]),
        Err(ExecError::InvalidModule(_))
    ));
    let clock =
        wat::parse_str(r#"(module (import "env" "now" (func)) (func (export "run")))"#).unwrap();
    let job = Job {
        inputs: vec![],
        ..job_for(&clock, b"", 50_000)
    };
    assert!(matches!(
        cpu::execute(&job, &clock, &[]),
        Err(ExecError::InvalidModule(_))
    ));
}

#[test]
fn wrong_module_or_input_bytes_are_refused_before_running() {
    let module = cpu::fnv_module(1);
    let job = job_for(&module, b"abc", 1000);
    assert_eq!(
        cpu::execute(&job, b"xx", &[b"abc"]),
        Err(ExecError::ModuleMismatch)
    );
    assert_eq!(
        cpu::execute(&job, &module, &[b"abd"]),
        Err(ExecError::InputMismatch(0))
    );
}

#[test]
fn two_agreeing_hosts_verify_a_job_and_a_disagreement_calls_a_third_run_that_names_the_odd_one_out()
{
    let job = Hash32([1; 32]);
    let (a, b, c) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
        SigningKey::from_bytes(&[3; 32]),
    );
    let good = Hash32([5; 32]);
    let ra = JobReport::sign(&a, job, good, 100);
    let rb = JobReport::sign(&b, job, good, 100);
    assert_eq!(
        cpu::adjudicate(&job, &[ra, rb]),
        JobVerdict::Verified {
            output_hash: good,
            fuel_used: 100
        }
    );
    let liar = JobReport::sign(&b, job, Hash32([6; 32]), 100);
    assert_eq!(
        cpu::adjudicate(&job, &[ra, liar]),
        JobVerdict::NeedsThirdRun
    );
    let rc = JobReport::sign(&c, job, good, 100);
    match cpu::adjudicate(&job, &[ra, liar, rc]) {
        JobVerdict::Resolved {
            output_hash,
            odd_ones_out,
            ..
        } => {
            assert_eq!(output_hash, good);
            assert_eq!(odd_ones_out, vec![liar.host]);
        }
        v => panic!("{v:?}"),
    }
    assert_eq!(JobReport::from_bytes(&ra.to_bytes()).unwrap(), ra);
    // A report with a forged signature does not count.
    let mut forged = rb;
    forged.signature = ra.signature;
    assert_eq!(
        cpu::adjudicate(&job, &[ra, forged]),
        JobVerdict::NeedsMoreRuns
    );
}

#[test]
fn a_run_of_failed_audits_bans_a_host_and_a_pass_resets_the_run() {
    let policy = BanPolicy::default();
    let mut r = Reputation::default();
    assert_eq!(r.score_permille(), 500);
    r.record(AuditOutcome::FailedBadProof);
    r.record(AuditOutcome::FailedNoAnswer);
    r.record(AuditOutcome::Passed);
    assert!(!r.is_banned(&policy));
    for _ in 0..3 {
        r.record(AuditOutcome::FailedBadProof);
    }
    assert!(r.is_banned(&policy));
    let mut good = Reputation::default();
    for _ in 0..20 {
        good.record(AuditOutcome::Passed);
    }
    assert!(good.score_permille() > 900 && !good.is_banned(&policy));
}

#[test]
fn a_peer_that_never_receipts_is_cut_off_at_the_disconnect_threshold() {
    let policy = BandwidthPolicy {
        payment_threshold: 100,
        disconnect_threshold: 250,
    };
    let mut honest = ServeAccount::default();
    let mut rider = ServeAccount::default();
    assert_eq!(honest.on_request(&policy, 60), ServeAction::Serve);
    assert_eq!(
        honest.on_request(&policy, 60),
        ServeAction::ServeAndRequestReceipt { unreceipted: 120 }
    );
    honest.on_receipt(120).unwrap();
    assert!(honest.on_receipt(1).is_err());
    for _ in 0..10 {
        assert_ne!(honest.on_request(&policy, 60), ServeAction::Refuse);
        if let Some(n) = Some(honest.unreceipted).filter(|&n| n >= 100) {
            honest.on_receipt(n).unwrap();
        }
    }
    let mut served = 0;
    while rider.on_request(&policy, 60) != ServeAction::Refuse {
        served += 60;
    }
    assert_eq!(served, 240);
    assert_eq!(rider.on_request(&policy, 1), ServeAction::Refuse);
}

#[test]
fn ishtar_quota_is_what_is_lent_and_proven() {
    let d = quota(
        QuotaPolicy::Ishtar,
        5_000,
        Timestamp(0),
        &UptimeLog::new(),
        Timestamp(1),
    );
    assert_eq!(d.bytes, 5_000);
}

#[test]
fn peergos_quota_needs_a_week_of_uptime_then_divides_by_the_expansion_factor_and_shrinks_with_low_uptime()
 {
    let p = QuotaPolicy::Peergos(PeergosParams::default());
    let mut log = UptimeLog::new();
    log.record(Timestamp(0), Timestamp(30 * DAY)).unwrap();
    assert_eq!(
        quota(p, 3_000, Timestamp(0), &log, Timestamp(6 * DAY)).reason,
        QuotaReason::Probation
    );
    let full = quota(p, 3_000, Timestamp(0), &log, Timestamp(30 * DAY));
    assert_eq!((full.bytes, full.reason), (1_000, QuotaReason::Full));
    // Offline for the next month but a week: 7/30 uptime over the window.
    let later = quota(p, 3_000, Timestamp(0), &log, Timestamp(53 * DAY));
    assert!(matches!(later.reason, QuotaReason::Shrunk { .. }));
    assert!(later.bytes < 1_000 && later.bytes > 0);
    // A first week at 50% never qualifies.
    let mut flaky = UptimeLog::new();
    flaky
        .record(Timestamp(0), Timestamp(3 * DAY + DAY / 2))
        .unwrap();
    assert!(matches!(
        quota(p, 3_000, Timestamp(0), &flaky, Timestamp(8 * DAY)).reason,
        QuotaReason::ProbationUptimeTooLow { permille: 500 }
    ));
    assert!(flaky.record(Timestamp(DAY), Timestamp(2 * DAY)).is_err());
}

#[test]
fn unpaid_debt_decays_and_credit_does_not() {
    use cairn_market::{Balance, CounterpartyBalance, Credits, DebtDecay};
    let decay = DebtDecay { per_day: 10 };
    let debt = CounterpartyBalance {
        earned: Credits(0),
        spent: Credits(25),
        net: Balance(-25),
        last_receipt: Timestamp(0),
    };
    assert_eq!(decay.apply(&debt, Timestamp(DAY)), Balance(-15));
    assert_eq!(decay.apply(&debt, Timestamp(10 * DAY)), Balance(0));
    let credit = CounterpartyBalance {
        net: Balance(25),
        ..debt
    };
    assert_eq!(decay.apply(&credit, Timestamp(10 * DAY)), Balance(25));
}

#[test]
fn lent_proven_bytes_come_from_the_latest_storage_receipt_of_each_contract() {
    use cairn_market::quota::lent_proven_bytes;
    use cairn_market::*;
    let (host, renter) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    let mut ledger = Ledger::new(PublicKey::of(&host));
    let mut prev = Hash32::ZERO;
    for (seq, (start, end, bytes)) in [(0u64, 100u64, 4096u64), (100, 200, 8192)]
        .into_iter()
        .enumerate()
    {
        let r = Receipt {
            provider: PublicKey::of(&host),
            consumer: PublicKey::of(&renter),
            resource: ResourceKind::Storage,
            amount: Quantity(bytes * (end - start)),
            credits: Credits(1),
            period_start: Timestamp(start),
            period_end: Timestamp(end),
            contract: Hash32([9; 32]),
            seq: seq as u64 + 1,
            prev,
        };
        prev = r.id();
        let cs = r.sign_as_consumer(&renter);
        ledger
            .append(Timestamp(end), EntryBody::Receipt(r.countersign(cs, &host)))
            .unwrap();
    }
    let pk = PublicKey::of(&host);
    assert_eq!(
        lent_proven_bytes(&pk, ledger.entries(), Timestamp(250), 3600),
        8192
    );
    assert_eq!(
        lent_proven_bytes(&pk, ledger.entries(), Timestamp(10_000), 3600),
        0
    );
    assert_eq!(
        lent_proven_bytes(
            &PublicKey::of(&renter),
            ledger.entries(),
            Timestamp(250),
            3600
        ),
        0
    );
}
