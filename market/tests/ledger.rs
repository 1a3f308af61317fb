//! Ledger rules: conservation, counter-signatures, tamper detection, typed refusals.

use cairn_market::ledger::LedgerError;
use cairn_market::receipt::ReceiptSigError;
use cairn_market::segment::{Segment, verify_segment};
use cairn_market::simulation::{sample_ledger, sample_segment};
use cairn_market::*;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A closed market of `n` honest nodes that record every receipt on both sides.
struct Market {
    keys: Vec<SigningKey>,
    ledgers: Vec<Ledger>,
    chans: std::collections::BTreeMap<(usize, usize), (u64, Hash32)>,
}

impl Market {
    fn new(n: usize) -> Self {
        let keys: Vec<SigningKey> = (0..n).map(|i| key(i as u8 + 1)).collect();
        let ledgers = keys.iter().map(|k| Ledger::new(PublicKey::of(k))).collect();
        Market {
            keys,
            ledgers,
            chans: Default::default(),
        }
    }
    fn receipt(&mut self, p: usize, c: usize, amount: u64, t: u64) -> SignedReceipt {
        let (last, prev) = self
            .chans
            .get(&(p, c))
            .copied()
            .unwrap_or((0, Hash32::ZERO));
        let r = Receipt {
            provider: PublicKey::of(&self.keys[p]),
            consumer: PublicKey::of(&self.keys[c]),
            resource: ResourceKind::Bandwidth,
            amount: Quantity(amount),
            credits: Credits(amount),
            period_start: Timestamp(t),
            period_end: Timestamp(t),
            contract: Hash32::ZERO,
            seq: last + 1,
            prev,
        };
        self.chans.insert((p, c), (last + 1, r.id()));
        let cs = r.sign_as_consumer(&self.keys[c]);
        r.countersign(cs, &self.keys[p])
    }
    fn trade(&mut self, p: usize, c: usize, amount: u64, t: u64) {
        let r = self.receipt(p, c, amount, t);
        self.ledgers[p]
            .append(Timestamp(t), EntryBody::Receipt(r.clone()))
            .unwrap();
        self.ledgers[c]
            .append(Timestamp(t), EntryBody::Receipt(r))
            .unwrap();
    }
    fn segment(&self, i: usize) -> Vec<u8> {
        self.ledgers[i]
            .export_segment(&self.keys[i], 0, Timestamp(1_000_000), &[])
            .unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn balances_of_a_closed_set_of_honest_ledgers_sum_to_zero(
        trades in proptest::collection::vec((0usize..5, 0usize..5, 1u64..1_000_000), 1..40)
    ) {
        let mut m = Market::new(5);
        for (t, (p, c, amount)) in trades.into_iter().enumerate() {
            if p != c {
                m.trade(p, c, amount, t as u64);
            }
        }
        let mut sum = 0i128;
        for i in 0..5 {
            if m.ledgers[i].is_empty() { continue; }
            let v = verify_segment(&m.segment(i));
            prop_assert!(v.valid, "{v}");
            prop_assert_eq!(v.total, m.ledgers[i].balances().total);
            sum += v.total.0;
        }
        prop_assert_eq!(sum, 0);
    }

    #[test]
    fn flipping_any_byte_of_a_segment_is_detected(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = sample_segment(3, 6);
        prop_assert!(verify_segment(&bytes).valid);
        let mut bad = bytes.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(!verify_segment(&bad).valid, "flip at {} undetected", i);
    }

    #[test]
    fn a_receipt_signed_by_the_wrong_key_is_refused_and_moves_nothing(which in 0usize..2, forger in 10u8..200) {
        let mut m = Market::new(2);
        let mut r = m.receipt(0, 1, 500, 1);
        let forged = r.receipt.sign_as_consumer(&key(forger));
        if which == 0 { r.consumer_sig = forged } else { r.provider_sig = forged }
        let before = m.ledgers[0].balances().clone();
        let err = m.ledgers[0].append(Timestamp(1), EntryBody::Receipt(r)).unwrap_err();
        let expected_which = matches!(
            (which, &err),
            (0, LedgerError::ReceiptSignature { error: ReceiptSigError::Consumer(_), .. })
                | (1, LedgerError::ReceiptSignature { error: ReceiptSigError::Provider(_), .. })
        );
        prop_assert!(expected_which, "{:?}", err);
        prop_assert_eq!(m.ledgers[0].balances(), &before);
        prop_assert!(m.ledgers[0].is_empty());
    }
}

#[test]
fn only_countersigned_receipts_move_balances() {
    let mut m = Market::new(2);
    let k0 = m.keys[0].clone();
    let audit = EntryBody::Audit(AuditRecord {
        host: PublicKey::of(&m.keys[1]),
        contract: Hash32::ZERO,
        block: Hash32::ZERO,
        nonce: [1; 32],
        chunks: 4,
        outcome: AuditOutcome::Passed,
    });
    m.ledgers[0].append(Timestamp(1), audit).unwrap();
    m.ledgers[0]
        .append(
            Timestamp(2),
            EntryBody::ContractClosed {
                contract: Hash32::ZERO,
                reason: CloseReason::Completed,
            },
        )
        .unwrap();
    assert_eq!(m.ledgers[0].balances().total, Balance::ZERO);
    m.trade(0, 1, 77, 3);
    assert_eq!(m.ledgers[0].balances().total, Balance(77));
    assert_eq!(m.ledgers[1].balances().total, Balance(-77));
    let _ = k0;
}

#[test]
fn a_replayed_receipt_is_refused() {
    let mut m = Market::new(2);
    let r = m.receipt(0, 1, 10, 1);
    m.ledgers[0]
        .append(Timestamp(1), EntryBody::Receipt(r.clone()))
        .unwrap();
    let err = m.ledgers[0]
        .append(Timestamp(2), EntryBody::Receipt(r))
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::ReceiptReplayed { seq: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_receipt_whose_signature_is_replayed_from_another_receipt_is_refused() {
    let mut m = Market::new(2);
    let r1 = m.receipt(0, 1, 10, 1);
    let mut r2 = m.receipt(0, 1, 20, 2);
    r2.consumer_sig = r1.consumer_sig;
    m.ledgers[0]
        .append(Timestamp(1), EntryBody::Receipt(r1))
        .unwrap();
    let err = m.ledgers[0]
        .append(Timestamp(2), EntryBody::Receipt(r2))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::ReceiptSignature {
                error: ReceiptSigError::Consumer(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_receipt_chain_gap_and_fork_are_refused() {
    let mut m = Market::new(2);
    let r1 = m.receipt(0, 1, 10, 1);
    let _skipped = m.receipt(0, 1, 10, 2);
    let r3 = m.receipt(0, 1, 10, 3);
    m.ledgers[0]
        .append(Timestamp(1), EntryBody::Receipt(r1.clone()))
        .unwrap();
    let err = m.ledgers[0]
        .append(Timestamp(3), EntryBody::Receipt(r3))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::ReceiptChainGap {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    // A second receipt with seq 1: a fork of the pair's receipt chain.
    let mut other = r1.receipt.clone();
    other.amount = Quantity(99);
    other.credits = Credits(99);
    let cs = other.sign_as_consumer(&m.keys[1]);
    let forked = other.countersign(cs, &m.keys[0]);
    let err = m.ledgers[0]
        .append(Timestamp(4), EntryBody::Receipt(forked))
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::ReceiptChainFork { receipt_seq: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_receipt_the_owner_is_not_party_to_is_refused() {
    let mut m = Market::new(3);
    let r = m.receipt(1, 2, 10, 1);
    let err = m.ledgers[0]
        .append(Timestamp(1), EntryBody::Receipt(r))
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotAParty { seq: 0 }));
}

fn reencode(seg: &Segment) -> Vec<u8> {
    seg.to_bytes()
}

fn sample() -> Segment {
    Segment::from_bytes(&sample_segment(5, 8)).unwrap()
}

fn error_of(seg: &Segment) -> LedgerError {
    let v = verify_segment(&reencode(seg));
    assert!(!v.valid);
    v.error.unwrap().error
}

#[test]
fn a_duplicated_entry_is_refused() {
    let mut s = sample();
    let e = s.entries[3].clone();
    s.entries.insert(4, e);
    assert!(matches!(
        error_of(&s),
        LedgerError::DuplicateEntry { seq: 3 }
    ));
}

#[test]
fn a_sequence_gap_is_refused() {
    let mut s = sample();
    s.entries.remove(4);
    assert!(matches!(
        error_of(&s),
        LedgerError::SequenceGap {
            expected: 4,
            found: 5
        }
    ));
}

#[test]
fn reordered_entries_are_refused() {
    let mut s = sample();
    s.entries.swap(4, 5);
    assert!(matches!(
        error_of(&s),
        LedgerError::Reordered {
            expected: 4,
            found: 5
        }
    ));
}

#[test]
fn a_reused_sequence_number_is_refused() {
    let mut s = sample();
    let mut e = s.entries[4].clone();
    e.seq = 2;
    s.entries.insert(5, e);
    assert!(matches!(
        error_of(&s),
        LedgerError::SequenceReused {
            expected: 5,
            found: 2
        }
    ));
}

#[test]
fn a_broken_link_is_refused() {
    let mut s = sample();
    s.entries[4].prev = Hash32([7; 32]);
    assert!(matches!(error_of(&s), LedgerError::BrokenLink { seq: 4 }));
}

#[test]
fn a_head_that_does_not_match_is_refused() {
    let mut s = sample();
    s.entries.pop();
    assert!(matches!(error_of(&s), LedgerError::HeadMismatch { .. }));
}

#[test]
fn a_valid_segment_reports_its_balances_per_counterparty_and_in_total() {
    let (_, ledger) = sample_ledger(9, 30);
    let v = verify_segment(&sample_segment(9, 30));
    assert!(v.valid, "{v}");
    assert_eq!(v.entries, 31);
    assert_eq!(v.balances.len(), 1);
    assert_eq!(v.total, ledger.balances().total);
    assert_eq!(v.balances[0].net, v.total);
    assert!(v.total.0 > 0);
    let json = serde_json::to_string(&v).unwrap();
    assert!(json.contains("\"valid\":true"));
    assert!(v.to_string().contains("VALID"));
}

#[test]
fn two_heads_for_one_sequence_number_are_a_verifiable_misbehaviour_proof() {
    let k = key(1);
    let a = SignedHead::sign(&k, 5, Hash32([1; 32]), Timestamp(10));
    let b = SignedHead::sign(&k, 5, Hash32([2; 32]), Timestamp(11));
    let m = Misbehaviour::from_heads(a, b).unwrap();
    let decoded = Misbehaviour::from_bytes(&m.to_bytes()).unwrap();
    assert!(decoded.verify().is_ok());
    assert_eq!(decoded.node(), PublicKey::of(&k).node_id());
    assert!(Misbehaviour::from_heads(a, a).is_err());
    let other = SignedHead::sign(&key(2), 5, Hash32([2; 32]), Timestamp(11));
    assert!(Misbehaviour::from_heads(a, other).is_err());
    let mut forged = b;
    forged.signature = a.signature;
    assert!(Misbehaviour::from_heads(a, forged).is_err());
}

#[test]
fn a_segment_with_a_conflicting_head_reports_misbehaviour() {
    let (k, ledger) = sample_ledger(2, 4);
    let last = ledger.len() - 1;
    let conflicting = SignedHead::sign(&k, last, Hash32([9; 32]), Timestamp(5));
    let bytes = ledger
        .export_segment(&k, 0, Timestamp(6), &[conflicting])
        .unwrap();
    let v = verify_segment(&bytes);
    assert!(v.valid);
    assert_eq!(v.misbehaviour.len(), 1);
    assert_eq!(v.misbehaviour[0].seq, last);
    let proof = Misbehaviour::from_bytes(
        &(0..v.misbehaviour[0].proof.len() / 2)
            .map(|i| u8::from_str_radix(&v.misbehaviour[0].proof[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(proof.verify().is_ok());
}

#[test]
fn a_segment_exported_from_the_middle_verifies() {
    let (k, ledger) = sample_ledger(4, 20);
    let v = verify_segment(&ledger.export_segment(&k, 10, Timestamp(1), &[]).unwrap());
    assert!(v.valid, "{v}");
    assert_eq!(v.first_seq, Some(10));
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let v = verify_segment(b"not a segment");
    assert!(!v.valid);
    assert!(matches!(v.error.unwrap().error, LedgerError::Malformed(_)));
}

#[test]
fn node_id_text_form_round_trips() {
    let id = PublicKey::of(&key(3)).node_id();
    let s = id.to_string();
    assert_eq!(s.len(), 52);
    assert_eq!(s, s.to_lowercase());
    assert_eq!(NodeId::parse(&s), Some(id));
    assert_eq!(id.0, *blake3::hash(&PublicKey::of(&key(3)).0).as_bytes());
}

#[test]
fn signed_objects_round_trip_through_their_encodings() {
    let (a, b) = (key(1), key(2));
    let offer = Offer {
        provider: PublicKey::of(&a),
        offer_id: 7,
        resource: ResourceKind::Storage,
        capacity: Quantity(1 << 30),
        price: Price {
            credits: 3,
            per: 1 << 20,
        },
        min_duration: 3600,
        max_duration: 86400,
        max_per_consumer: Quantity(1 << 28),
        valid_until: Timestamp(99),
    }
    .sign(&a);
    let back = SignedOffer::from_bytes(&offer.to_bytes()).unwrap();
    assert_eq!(back, offer);
    assert!(back.verify().is_ok());
    let c = Contract {
        renter: PublicKey::of(&a),
        host: PublicKey::of(&b),
        nonce: 1,
        resource: ResourceKind::Storage,
        blocks: vec![BlockRef {
            id: Hash32([4; 32]),
            len: 4096,
        }],
        budget: Quantity(4096),
        start: Timestamp(1),
        duration: 60,
        price: Price { credits: 1, per: 1 },
        audit_interval: 600,
        audit_chunks: 4,
    }
    .sign(&a, &b);
    let back = SignedContract::from_bytes(&c.to_bytes()).unwrap();
    assert_eq!(back, c);
    assert!(back.verify().is_ok());
    let mut m = Market::new(2);
    let r = m.receipt(0, 1, 5, 1);
    assert_eq!(SignedReceipt::from_bytes(&r.to_bytes()).unwrap(), r);
    let e = Entry {
        seq: 0,
        prev: Hash32::ZERO,
        time: Timestamp(1),
        body: EntryBody::ContractOpened(c),
    };
    assert_eq!(Entry::from_bytes(&e.to_bytes()).unwrap(), e);
}

#[test]
fn amounts_that_overflow_are_errors_not_wraps() {
    assert!(
        Price {
            credits: u64::MAX,
            per: 1
        }
        .cost(Quantity(2))
        .is_err()
    );
    assert!(Credits(u64::MAX).checked_add(Credits(1)).is_err());
    assert!(Balance(i128::MIN).debit(Credits(1)).is_err());
    assert_eq!(
        Price { credits: 3, per: 2 }.cost(Quantity(5)),
        Ok(Credits(7))
    );
}

#[test]
fn a_ledger_restored_from_its_stored_entries_is_the_same_ledger() {
    let (_, ledger) = sample_ledger(6, 12);
    let stored: Vec<Vec<u8>> = ledger.entries().iter().map(Entry::to_bytes).collect();
    let entries = stored
        .iter()
        .map(|b| Entry::from_bytes(b).unwrap())
        .collect();
    let back = Ledger::restore(ledger.owner(), entries).unwrap();
    assert_eq!(back.balances(), ledger.balances());
    assert_eq!(back.hash_at(11), ledger.hash_at(11));
    let mut tampered: Vec<Entry> = ledger.entries().to_vec();
    tampered.swap(3, 4);
    assert!(Ledger::restore(ledger.owner(), tampered).is_err());
}
