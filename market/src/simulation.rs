//! A seeded, deterministic simulation of a whole market with cheaters in it.
//!
//! Why it exists: each rule is unit-tested alone, but the claim of the market is about
//! all of them together: that honest nodes end up with exactly the credit their
//! verified work earned, and that every kind of cheater is found, banned, and left
//! with no net credit. The simulation drives real keys, real receipts, real ledgers,
//! real storage proofs and real WebAssembly runs through `rounds` rounds of one
//! simulated minute each; only the network is replaced by direct calls. Everything
//! random comes from one ChaCha stream seeded by [`SimConfig::seed`].
//!
//! Cheaters, and what catches them:
//! - **lying hosts** accept storage contracts and drop the data: audits fail, three
//!   consecutive failures ban them ([`crate::reputation`]), the renter repairs
//!   elsewhere; no storage receipt is ever signed for a failed period.
//! - **free-riders** take bandwidth and never sign receipts: each provider serves them
//!   up to its disconnect threshold, then refuses and bans ([`crate::bandwidth`]).
//! - **equivocators** pay their bills but fork their ledger to hide the debts from
//!   some peers: gossip of signed heads yields a [`Misbehaviour`] proof, which every
//!   honest node verifies and acts on.
//! - **wrong-result computers** report a made-up output for CPU jobs: the second host
//!   disagrees, a third run decides, the odd one out is banned and unpaid.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ed25519_dalek::SigningKey;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::bandwidth::{BandwidthPolicy, ServeAccount, ServeAction};
use crate::cpu::{self, Job, JobReport, JobVerdict};
use crate::entry::{AuditOutcome, AuditRecord, CloseReason, EntryBody, Misbehaviour, SignedHead};
use crate::ledger::Ledger;
use crate::offer::{BlockRef, Contract};
use crate::proof::{self, Challenge};
use crate::receipt::Receipt;
use crate::reputation::{BanPolicy, Reputation};
use crate::segment::verify_segment;
use crate::types::{Hash32, NodeId, Price, PublicKey, Quantity, ResourceKind, Timestamp};

/// Parameters of a run.
#[derive(Debug, Clone, Serialize)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Nodes in total.
    pub nodes: usize,
    /// Rounds (one simulated minute each).
    pub rounds: u32,
    /// Hosts that drop the data they accept.
    pub lying_hosts: usize,
    /// Consumers that never sign receipts.
    pub free_riders: usize,
    /// Nodes that fork their ledger.
    pub equivocators: usize,
    /// CPU hosts that report made-up results.
    pub wrong_computers: usize,
    /// Blocks each renter stores on others.
    pub blocks_per_renter: usize,
    /// Block size, bytes.
    pub block_len: usize,
    /// Rounds between audits of one block.
    pub audit_every: u32,
    /// Chunks per audit.
    pub audit_chunks: usize,
    /// Honest bandwidth requests per round.
    pub bandwidth_requests_per_round: usize,
    /// Bytes per bandwidth request.
    pub request_bytes: u64,
    /// One CPU job every this many rounds.
    pub job_every: u32,
    /// Inner rounds of the sample CPU module.
    pub job_work: u32,
    /// Rounds between gossip of signed heads.
    pub gossip_every: u32,
    /// Bandwidth thresholds.
    pub bandwidth: BandwidthPolicy,
    /// Audit ban rule.
    pub ban: BanPolicy,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            nodes: 50,
            rounds: 1000,
            lying_hosts: 3,
            free_riders: 3,
            equivocators: 3,
            wrong_computers: 3,
            blocks_per_renter: 2,
            block_len: 16 * 1024,
            audit_every: 20,
            audit_chunks: 4,
            bandwidth_requests_per_round: 6,
            request_bytes: 64 * 1024,
            job_every: 2,
            job_work: 4,
            gossip_every: 5,
            bandwidth: BandwidthPolicy {
                payment_threshold: 256 * 1024,
                disconnect_threshold: 512 * 1024,
            },
            ban: BanPolicy::default(),
        }
    }
}

/// A node's part in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    /// Follows every rule.
    Honest,
    /// Drops stored data.
    LyingHost,
    /// Never signs receipts.
    FreeRider,
    /// Forks its ledger.
    Equivocator,
    /// Reports made-up CPU results.
    WrongComputer,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::LyingHost => "lying host",
            Role::FreeRider => "free-rider",
            Role::Equivocator => "equivocator",
            Role::WrongComputer => "wrong computer",
        }
    }
}

/// What got a node banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Evidence {
    /// A run of failed storage audits.
    FailedAudits,
    /// Unreceipted bandwidth past the disconnect threshold.
    UnpaidBandwidth,
    /// Two signed heads for one sequence number.
    Misbehaviour,
    /// Odd one out of a replicated CPU job.
    WrongResult,
}

/// One node's result.
#[derive(Debug, Clone, Serialize)]
pub struct NodeOutcome {
    /// Index in the run.
    pub index: usize,
    /// Its id.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// Entries in its (main) ledger.
    pub ledger_entries: u64,
    /// Whether its exported ledger verified.
    pub ledger_valid: bool,
    /// Total balance its verified ledger proves.
    pub ledger_balance: i128,
    /// Credit of the work it verifiably did minus what it verifiably used, as the
    /// simulation counted it while the work happened.
    pub verified_work: i128,
    /// Net credit the honest nodes' verified ledgers grant it (minus the sum of their
    /// balances with it).
    pub credit_from_honest: i128,
    /// Honest nodes that banned it.
    pub banned_by: usize,
    /// Honest nodes that traded with it (or received proof against it).
    pub dealt_with: usize,
    /// Evidence it was banned on.
    pub evidence: BTreeSet<Evidence>,
    /// Misbehaviour proofs its exported ledger segment carries.
    pub misbehaviour_in_segment: usize,
}

/// Counters and outcomes of a run.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// The configuration.
    pub config: SimConfig,
    /// Receipts signed.
    pub receipts: u64,
    /// Audits run.
    pub audits: u64,
    /// Audits failed.
    pub audits_failed: u64,
    /// Blocks re-placed after a ban.
    pub repairs: u64,
    /// Bandwidth requests refused.
    pub bandwidth_refusals: u64,
    /// CPU jobs run to a verdict.
    pub jobs: u64,
    /// Jobs that needed a third (or later) run.
    pub extra_runs: u64,
    /// Misbehaviour proofs found by gossip.
    pub misbehaviour_proofs: u64,
    /// Appends a ledger refused (must be zero: honest code never writes a bad entry).
    pub ledger_errors: u64,
    /// Per node.
    pub nodes: Vec<NodeOutcome>,
}

impl SimReport {
    fn cheaters(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.nodes.iter().filter(|n| n.role != Role::Honest)
    }
    fn honest(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.nodes.iter().filter(|n| n.role == Role::Honest)
    }
    /// Every cheater was banned on evidence of its own kind of cheating.
    pub fn every_cheater_identified(&self) -> bool {
        self.cheaters().all(|n| {
            let want = match n.role {
                Role::LyingHost => Evidence::FailedAudits,
                Role::FreeRider => Evidence::UnpaidBandwidth,
                Role::Equivocator => Evidence::Misbehaviour,
                Role::WrongComputer => Evidence::WrongResult,
                Role::Honest => return true,
            };
            n.evidence.contains(&want)
        })
    }
    /// No cheater holds positive credit with the honest nodes.
    pub fn no_cheater_has_net_credit(&self) -> bool {
        self.cheaters().all(|n| n.credit_from_honest <= 0)
    }
    /// Every cheater is banned by every honest node that dealt with it (and at least one).
    pub fn every_cheater_banned(&self) -> bool {
        self.cheaters()
            .all(|n| n.banned_by >= 1 && n.banned_by == n.dealt_with)
    }
    /// Every honest ledger verifies and proves exactly the verified work.
    pub fn honest_balances_match_work(&self) -> bool {
        self.honest()
            .all(|n| n.ledger_valid && n.ledger_balance == n.verified_work)
    }
    /// No honest node was banned by anyone.
    pub fn no_honest_node_banned(&self) -> bool {
        self.honest().all(|n| n.banned_by == 0)
    }
    /// Sum of all nodes' verified work (zero: credit is conserved).
    pub fn total_work(&self) -> i128 {
        self.nodes.iter().map(|n| n.verified_work).sum()
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "market simulation: seed {}, {} nodes, {} rounds",
            c.seed, c.nodes, c.rounds
        )?;
        writeln!(
            f,
            "receipts {}  audits {} (failed {})  repairs {}  bandwidth refusals {}  jobs {} (extra runs {})  misbehaviour proofs {}  ledger errors {}",
            self.receipts,
            self.audits,
            self.audits_failed,
            self.repairs,
            self.bandwidth_refusals,
            self.jobs,
            self.extra_runs,
            self.misbehaviour_proofs,
            self.ledger_errors
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| role | nodes | identified | banned by all peers that dealt with it | max net credit from honest | ledgers valid | balance = verified work |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|")?;
        let roles = [
            Role::Honest,
            Role::LyingHost,
            Role::FreeRider,
            Role::Equivocator,
            Role::WrongComputer,
        ];
        for role in roles {
            let ns: Vec<&NodeOutcome> = self.nodes.iter().filter(|n| n.role == role).collect();
            if ns.is_empty() {
                continue;
            }
            let identified = if role == Role::Honest {
                format!(
                    "{} falsely",
                    ns.iter().filter(|n| !n.evidence.is_empty()).count()
                )
            } else {
                format!(
                    "{}/{}",
                    ns.iter().filter(|n| !n.evidence.is_empty()).count(),
                    ns.len()
                )
            };
            let banned = if role == Role::Honest {
                format!("{} banned", ns.iter().filter(|n| n.banned_by > 0).count())
            } else {
                format!(
                    "{}/{}",
                    ns.iter()
                        .filter(|n| n.banned_by >= 1 && n.banned_by == n.dealt_with)
                        .count(),
                    ns.len()
                )
            };
            let max_credit = ns.iter().map(|n| n.credit_from_honest).max().unwrap_or(0);
            let valid = ns.iter().filter(|n| n.ledger_valid).count();
            let matching = ns
                .iter()
                .filter(|n| n.ledger_balance == n.verified_work)
                .count();
            writeln!(
                f,
                "| {} | {} | {} | {} | {:+} | {}/{} | {}/{} |",
                role.name(),
                ns.len(),
                identified,
                banned,
                max_credit,
                valid,
                ns.len(),
                matching,
                ns.len()
            )?;
        }
        writeln!(f)?;
        write!(
            f,
            "every cheater identified: {}; no cheater has net credit: {}; every cheater banned: {}; honest balances = verified work: {}; no honest node banned: {}; credit conserved (sum of work = {}): {}",
            self.every_cheater_identified(),
            self.no_cheater_has_net_credit(),
            self.every_cheater_banned(),
            self.honest_balances_match_work(),
            self.no_honest_node_banned(),
            self.total_work(),
            self.total_work() == 0
        )
    }
}

struct SimNode {
    key: SigningKey,
    pk: PublicKey,
    role: Role,
    ledger: Ledger,
    fork: Option<Ledger>,
    banned: BTreeMap<usize, Evidence>,
    dealt_with: BTreeSet<usize>,
    reps: BTreeMap<usize, Reputation>,
    serve: BTreeMap<usize, ServeAccount>,
    latest_heads: BTreeMap<usize, SignedHead>,
    truth: i128,
}

struct Placement {
    renter: usize,
    host: usize,
    data: Vec<u8>,
    id: Hash32,
    contract: Hash32,
    price: Price,
    held: bool,
    last_paid: Timestamp,
    phase: u32,
    active: bool,
}

const STORAGE_PRICE: Price = Price {
    credits: 1,
    per: 65_536,
};
const BANDWIDTH_PRICE: Price = Price {
    credits: 1,
    per: 1024,
};
const CPU_PRICE: Price = Price {
    credits: 1,
    per: 100,
};
const START: u64 = 1_700_000_000;
const ROUND_SECS: u64 = 60;

struct Sim {
    cfg: SimConfig,
    rng: ChaCha20Rng,
    nodes: Vec<SimNode>,
    channels: BTreeMap<(usize, usize), (u64, Hash32)>,
    placements: Vec<Placement>,
    module: Vec<u8>,
    freerider_target: BTreeMap<usize, usize>,
    /// Heads signed this gossip round, per (node, shown fork).
    head_cache: BTreeMap<(usize, bool), Option<SignedHead>>,
    /// Signatures already checked (a valid signature stays valid).
    verified_heads: BTreeSet<[u8; 64]>,
    convicted: BTreeSet<usize>,
    receipts: u64,
    audits: u64,
    audits_failed: u64,
    repairs: u64,
    refusals: u64,
    jobs: u64,
    extra_runs: u64,
    proofs: u64,
    ledger_errors: u64,
}

/// Run the simulation. Deterministic: the same config gives the same report.
pub fn run(cfg: SimConfig) -> SimReport {
    let mut sim = Sim::new(cfg);
    sim.place_initial_blocks();
    for round in 0..sim.cfg.rounds {
        let now = Timestamp(START + u64::from(round + 1) * ROUND_SECS);
        sim.audit_round(round, now);
        sim.bandwidth_round(now);
        if sim.cfg.job_every > 0 && round % sim.cfg.job_every == 0 {
            sim.cpu_round(now);
        }
        if sim.cfg.gossip_every > 0 && round % sim.cfg.gossip_every == 0 {
            sim.gossip_round(now);
        }
    }
    let end = Timestamp(START + u64::from(sim.cfg.rounds + 1) * ROUND_SECS);
    sim.report(end)
}

impl Sim {
    fn new(cfg: SimConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed);
        let mut roles = Vec::with_capacity(cfg.nodes);
        for (role, n) in [
            (Role::LyingHost, cfg.lying_hosts),
            (Role::FreeRider, cfg.free_riders),
            (Role::Equivocator, cfg.equivocators),
            (Role::WrongComputer, cfg.wrong_computers),
        ] {
            roles.extend(std::iter::repeat_n(role, n));
        }
        roles.resize(cfg.nodes.max(roles.len()), Role::Honest);
        roles.shuffle(&mut rng);
        let nodes = roles
            .into_iter()
            .map(|role| {
                let key = SigningKey::from_bytes(&rng.r#gen());
                let pk = PublicKey::of(&key);
                SimNode {
                    ledger: Ledger::new(pk),
                    key,
                    pk,
                    role,
                    fork: None,
                    banned: BTreeMap::new(),
                    dealt_with: BTreeSet::new(),
                    reps: BTreeMap::new(),
                    serve: BTreeMap::new(),
                    latest_heads: BTreeMap::new(),
                    truth: 0,
                }
            })
            .collect();
        let module = cpu::fnv_module(cfg.job_work);
        Sim {
            cfg,
            rng,
            nodes,
            channels: BTreeMap::new(),
            placements: Vec::new(),
            module,
            freerider_target: BTreeMap::new(),
            head_cache: BTreeMap::new(),
            verified_heads: BTreeSet::new(),
            convicted: BTreeSet::new(),
            receipts: 0,
            audits: 0,
            audits_failed: 0,
            repairs: 0,
            refusals: 0,
            jobs: 0,
            extra_runs: 0,
            proofs: 0,
            ledger_errors: 0,
        }
    }

    fn role(&self, i: usize) -> Role {
        self.nodes[i].role
    }
    fn is_renter(&self, i: usize) -> bool {
        matches!(self.role(i), Role::Honest | Role::Equivocator)
    }
    fn is_storage_host(&self, i: usize) -> bool {
        matches!(self.role(i), Role::Honest | Role::LyingHost)
    }
    fn is_cpu_host(&self, i: usize) -> bool {
        matches!(self.role(i), Role::Honest | Role::WrongComputer)
    }
    /// Whether `a` and `b` will trade: neither has banned the other.
    fn willing(&self, a: usize, b: usize) -> bool {
        a != b && !self.nodes[a].banned.contains_key(&b) && !self.nodes[b].banned.contains_key(&a)
    }

    fn ban(&mut self, by: usize, whom: usize, why: Evidence) {
        if self.nodes[by].role == Role::Honest {
            self.nodes[by].banned.entry(whom).or_insert(why);
        }
    }

    /// Append to a node's ledger, keeping an equivocator's fork the same length.
    fn append(&mut self, i: usize, now: Timestamp, body: EntryBody) {
        if self.nodes[i].role == Role::Equivocator && self.nodes[i].fork.is_none() {
            // Fork just before the first debt, to show some peers a clean history.
            if let EntryBody::Receipt(r) = &body
                && r.receipt.consumer == self.nodes[i].pk
            {
                self.nodes[i].fork = Some(self.nodes[i].ledger.clone());
            }
        }
        if self.nodes[i].ledger.append(now, body).is_err() {
            self.ledger_errors += 1;
        }
        let pk = self.nodes[i].pk;
        if let Some(fork) = self.nodes[i].fork.as_mut() {
            let filler = EntryBody::Audit(AuditRecord {
                host: pk,
                contract: Hash32::ZERO,
                block: Hash32::ZERO,
                nonce: [0; 32],
                chunks: 0,
                outcome: AuditOutcome::Passed,
            });
            if fork.append(now, filler).is_err() {
                self.ledger_errors += 1;
            }
        }
    }

    /// Have `consumer` sign and `provider` countersign a receipt; append to both
    /// ledgers. Returns false when the consumer refuses to sign.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        provider: usize,
        consumer: usize,
        resource: ResourceKind,
        amount: u64,
        price: Price,
        period: (Timestamp, Timestamp),
        contract: Hash32,
        now: Timestamp,
    ) -> bool {
        if self.role(consumer) == Role::FreeRider {
            return false;
        }
        let Ok(credits) = price.cost(Quantity(amount)) else {
            self.ledger_errors += 1;
            return false;
        };
        let (last_seq, prev) = self
            .channels
            .get(&(provider, consumer))
            .copied()
            .unwrap_or((0, Hash32::ZERO));
        let receipt = Receipt {
            provider: self.nodes[provider].pk,
            consumer: self.nodes[consumer].pk,
            resource,
            amount: Quantity(amount),
            credits,
            period_start: period.0,
            period_end: period.1,
            contract,
            seq: last_seq + 1,
            prev,
        };
        let id = receipt.id();
        let csig = receipt.sign_as_consumer(&self.nodes[consumer].key);
        let signed = receipt.countersign(csig, &self.nodes[provider].key);
        self.channels
            .insert((provider, consumer), (last_seq + 1, id));
        self.append(provider, now, EntryBody::Receipt(signed.clone()));
        self.append(consumer, now, EntryBody::Receipt(signed));
        let c = i128::from(credits.0);
        self.nodes[provider].truth += c;
        self.nodes[consumer].truth -= c;
        self.receipts += 1;
        true
    }

    fn contract(
        &mut self,
        renter: usize,
        host: usize,
        blocks: Vec<BlockRef>,
        now: Timestamp,
    ) -> Hash32 {
        let c = Contract {
            renter: self.nodes[renter].pk,
            host: self.nodes[host].pk,
            nonce: self.rng.r#gen(),
            resource: ResourceKind::Storage,
            budget: Quantity(blocks.iter().map(|b| b.len).sum()),
            blocks,
            start: now,
            duration: self.cfg.rounds as u64 * ROUND_SECS,
            price: STORAGE_PRICE,
            audit_interval: u64::from(self.cfg.audit_every) * ROUND_SECS,
            audit_chunks: self.cfg.audit_chunks as u16,
        };
        let id = c.id();
        let signed = c.sign(&self.nodes[renter].key, &self.nodes[host].key);
        self.append(renter, now, EntryBody::ContractOpened(signed.clone()));
        self.append(host, now, EntryBody::ContractOpened(signed));
        self.nodes[renter].dealt_with.insert(host);
        self.nodes[host].dealt_with.insert(renter);
        id
    }

    /// A random node satisfying `ok`, or None.
    fn pick(&mut self, ok: impl Fn(&Sim, usize) -> bool) -> Option<usize> {
        let cands: Vec<usize> = (0..self.nodes.len()).filter(|&i| ok(self, i)).collect();
        cands.choose(&mut self.rng).copied()
    }

    fn place(
        &mut self,
        renter: usize,
        data: Vec<u8>,
        exclude: &BTreeSet<usize>,
        now: Timestamp,
    ) -> bool {
        // Spread load: choose among the willing hosts holding the fewest blocks.
        let load = |s: &Sim, i: usize| {
            s.placements
                .iter()
                .filter(|p| p.active && p.host == i)
                .count()
        };
        let cands: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.is_storage_host(i) && self.willing(renter, i) && !exclude.contains(&i)
            })
            .collect();
        let Some(min) = cands.iter().map(|&i| load(self, i)).min() else {
            return false;
        };
        let least: Vec<usize> = cands
            .into_iter()
            .filter(|&i| load(self, i) == min)
            .collect();
        let Some(&host) = least.choose(&mut self.rng) else {
            return false;
        };
        let id = Hash32::of(&data);
        let contract = self.contract(
            renter,
            host,
            vec![BlockRef {
                id,
                len: data.len() as u64,
            }],
            now,
        );
        let held = self.role(host) != Role::LyingHost;
        let phase = self.rng.gen_range(0..self.cfg.audit_every.max(1));
        self.placements.push(Placement {
            renter,
            host,
            data,
            id,
            contract,
            price: STORAGE_PRICE,
            held,
            last_paid: now,
            phase,
            active: true,
        });
        true
    }

    fn place_initial_blocks(&mut self) {
        let now = Timestamp(START);
        for renter in 0..self.nodes.len() {
            if !self.is_renter(renter) {
                continue;
            }
            let mut used = BTreeSet::new();
            for _ in 0..self.cfg.blocks_per_renter {
                let mut data = vec![0u8; self.cfg.block_len];
                self.rng.fill(&mut data[..]);
                let before = self.placements.len();
                if self.place(renter, data, &used, now)
                    && let Some(p) = self.placements.get(before)
                {
                    used.insert(p.host);
                }
            }
        }
    }

    fn audit_round(&mut self, round: u32, now: Timestamp) {
        let every = self.cfg.audit_every.max(1);
        for k in 0..self.placements.len() {
            let (renter, host, active, phase) = {
                let p = &self.placements[k];
                (p.renter, p.host, p.active, p.phase)
            };
            if !active || round % every != phase {
                continue;
            }
            let mut nonce = [0u8; 32];
            self.rng.fill(&mut nonce);
            let p = &self.placements[k];
            let Ok(challenge) =
                Challenge::derive(p.id, p.data.len() as u64, nonce, self.cfg.audit_chunks)
            else {
                continue;
            };
            // A host that dropped the data can only answer from something else.
            let answer = if p.held {
                p.data.clone()
            } else {
                vec![0u8; p.data.len()]
            };
            let outcome = match proof::prove(&challenge, &answer) {
                Ok(pr) if proof::verify(&challenge, &pr).is_ok() => AuditOutcome::Passed,
                Ok(_) => AuditOutcome::FailedBadProof,
                Err(_) => AuditOutcome::FailedNoAnswer,
            };
            self.audits += 1;
            let record = AuditRecord {
                host: self.nodes[host].pk,
                contract: p.contract,
                block: p.id,
                nonce,
                chunks: challenge.chunks.len() as u16,
                outcome,
            };
            let contract = p.contract;
            let price = p.price;
            let len = p.data.len() as u64;
            let last_paid = p.last_paid;
            self.append(renter, now, EntryBody::Audit(record));
            self.nodes[renter]
                .reps
                .entry(host)
                .or_default()
                .record(outcome);
            if outcome.passed() {
                let amount = len.saturating_mul(now.since(last_paid));
                if self.settle(
                    host,
                    renter,
                    ResourceKind::Storage,
                    amount,
                    price,
                    (last_paid, now),
                    contract,
                    now,
                ) {
                    self.placements[k].last_paid = now;
                }
            } else {
                self.audits_failed += 1;
                let banned = self.nodes[renter]
                    .reps
                    .get(&host)
                    .is_some_and(|r| r.is_banned(&self.cfg.ban));
                if banned {
                    self.ban(renter, host, Evidence::FailedAudits);
                    self.append(
                        renter,
                        now,
                        EntryBody::ContractClosed {
                            contract,
                            reason: CloseReason::HostBanned,
                        },
                    );
                    self.placements[k].active = false;
                    // Repair: the renter still has the data (in the real system it
                    // rebuilds the shard from the other k); place it elsewhere.
                    let data = self.placements[k].data.clone();
                    let exclude: BTreeSet<usize> = self
                        .placements
                        .iter()
                        .filter(|q| q.active && q.renter == renter)
                        .map(|q| q.host)
                        .collect();
                    if self.place(renter, data, &exclude, now) {
                        self.repairs += 1;
                    }
                }
            }
        }
    }

    fn request(&mut self, consumer: usize, provider: usize, now: Timestamp) {
        let bytes = self.cfg.request_bytes;
        let policy = self.cfg.bandwidth;
        self.nodes[provider].dealt_with.insert(consumer);
        self.nodes[consumer].dealt_with.insert(provider);
        let action = self.nodes[provider]
            .serve
            .entry(consumer)
            .or_default()
            .on_request(&policy, bytes);
        match action {
            ServeAction::Serve => {}
            ServeAction::ServeAndRequestReceipt { unreceipted } => {
                let period = (Timestamp(now.0.saturating_sub(ROUND_SECS)), now);
                if self.settle(
                    provider,
                    consumer,
                    ResourceKind::Bandwidth,
                    unreceipted,
                    BANDWIDTH_PRICE,
                    period,
                    Hash32::ZERO,
                    now,
                ) {
                    let acct = self.nodes[provider].serve.entry(consumer).or_default();
                    if acct.on_receipt(unreceipted).is_err() {
                        self.ledger_errors += 1;
                    }
                }
            }
            ServeAction::Refuse => {
                self.refusals += 1;
                self.ban(provider, consumer, Evidence::UnpaidBandwidth);
            }
        }
    }

    fn bandwidth_round(&mut self, now: Timestamp) {
        for _ in 0..self.cfg.bandwidth_requests_per_round {
            let Some(consumer) = self.pick(|s, i| s.is_renter(i)) else {
                break;
            };
            let Some(provider) =
                self.pick(|s, i| s.role(i) == Role::Honest && s.willing(consumer, i))
            else {
                continue;
            };
            self.request(consumer, provider, now);
        }
        // Free-riders leech from one provider until it cuts them off, then move on.
        let riders: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.role(i) == Role::FreeRider)
            .collect();
        for r in riders {
            let target = match self.freerider_target.get(&r) {
                Some(&t) if self.willing(r, t) => Some(t),
                _ => self.pick(|s, i| s.role(i) == Role::Honest && s.willing(r, i)),
            };
            if let Some(t) = target {
                self.freerider_target.insert(r, t);
                self.request(r, t, now);
            }
        }
    }

    fn cpu_round(&mut self, now: Timestamp) {
        let Some(consumer) = self.pick(|s, i| s.is_renter(i)) else {
            return;
        };
        let mut input = vec![0u8; 256];
        self.rng.fill(&mut input[..]);
        let job = Job {
            module: Hash32::of(&self.module),
            inputs: vec![Hash32::of(&input)],
            fuel_limit: 10_000_000,
            memory_limit: 1 << 20,
            max_output: 64,
        };
        let job_id = job.id();
        let mut hosts: Vec<usize> = Vec::new();
        let mut reports: Vec<JobReport> = Vec::new();
        let mut verdict = JobVerdict::NeedsMoreRuns;
        while hosts.len() < 5 {
            let wanted = matches!(
                verdict,
                JobVerdict::NeedsMoreRuns | JobVerdict::NeedsThirdRun | JobVerdict::Unresolved
            );
            if !wanted {
                break;
            }
            let taken = hosts.clone();
            let Some(h) =
                self.pick(|s, i| s.is_cpu_host(i) && s.willing(consumer, i) && !taken.contains(&i))
            else {
                break;
            };
            if hosts.len() >= 2 {
                self.extra_runs += 1;
            }
            hosts.push(h);
            self.nodes[consumer].dealt_with.insert(h);
            self.nodes[h].dealt_with.insert(consumer);
            let report = if self.role(h) == Role::WrongComputer {
                // Made up: skip the work, claim little fuel.
                let mut fake = [0u8; 32];
                self.rng.fill(&mut fake);
                JobReport::sign(&self.nodes[h].key, job_id, Hash32(fake), 1000)
            } else {
                match cpu::execute(&job, &self.module, &[&input]) {
                    Ok(out) => {
                        JobReport::sign(&self.nodes[h].key, job_id, out.output_hash, out.fuel_used)
                    }
                    Err(_) => {
                        self.ledger_errors += 1;
                        return;
                    }
                }
            };
            reports.push(report);
            verdict = cpu::adjudicate(&job_id, &reports);
        }
        let (fuel, odd) = match verdict {
            JobVerdict::Verified { fuel_used, .. } => (fuel_used, Vec::new()),
            JobVerdict::Resolved {
                fuel_used,
                odd_ones_out,
                ..
            } => (fuel_used, odd_ones_out),
            _ => return,
        };
        self.jobs += 1;
        for h in hosts {
            if odd.contains(&self.nodes[h].pk) {
                self.ban(consumer, h, Evidence::WrongResult);
            } else {
                let period = (Timestamp(now.0.saturating_sub(ROUND_SECS)), now);
                self.settle(
                    h,
                    consumer,
                    ResourceKind::Cpu,
                    fuel,
                    CPU_PRICE,
                    period,
                    job_id,
                    now,
                );
            }
        }
    }

    /// The head `who` shows to `asker`: an equivocator shows its fork to odd askers.
    fn head_for(&mut self, who: usize, asker: usize, now: Timestamp) -> Option<SignedHead> {
        let n = &self.nodes[who];
        let show_fork = n.fork.is_some() && asker % 2 == 1;
        *self
            .head_cache
            .entry((who, show_fork))
            .or_insert_with(|| match (&n.fork, show_fork) {
                (Some(fork), true) => fork.sign_head(&n.key, now),
                _ => n.ledger.sign_head(&n.key, now),
            })
    }

    fn gossip_round(&mut self, now: Timestamp) {
        self.head_cache.clear();
        let count = self.nodes.len();
        for i in 0..count {
            if self.role(i) != Role::Honest {
                continue;
            }
            // Ask one random peer for its head.
            let j = self.rng.gen_range(0..count);
            if j != i
                && let Some(h) = self.head_for(j, i, now)
            {
                self.learn_head(i, j, h);
            }
            // Compare notes with one random honest peer.
            let k = self.rng.gen_range(0..count);
            if k != i && self.role(k) == Role::Honest {
                let heads: Vec<(usize, SignedHead)> = self.nodes[i]
                    .latest_heads
                    .iter()
                    .map(|(a, b)| (*a, *b))
                    .collect();
                for (n, h) in heads {
                    self.learn_head(k, n, h);
                }
            }
        }
    }

    fn learn_head(&mut self, at: usize, of: usize, head: SignedHead) {
        let known = self.nodes[at].latest_heads.get(&of).copied();
        if known.is_some_and(|k| k.seq > head.seq || k == head)
            || self.nodes[at].banned.contains_key(&of)
        {
            return;
        }
        if !self.verified_heads.contains(&head.signature.0) {
            if head.verify().is_err() {
                return;
            }
            self.verified_heads.insert(head.signature.0);
        }
        match known {
            Some(k) if k.seq == head.seq && k.hash != head.hash => {
                if let Ok(proof) = Misbehaviour::from_heads(k, head) {
                    if self.convicted.insert(of) {
                        self.proofs += 1;
                    }
                    self.broadcast_misbehaviour(of, &proof);
                }
            }
            Some(k) if k.seq >= head.seq => {}
            _ => {
                self.nodes[at].latest_heads.insert(of, head);
            }
        }
    }

    /// Every honest node checks the proof itself before acting on it.
    fn broadcast_misbehaviour(&mut self, of: usize, proof: &Misbehaviour) {
        for i in 0..self.nodes.len() {
            if self.role(i) == Role::Honest
                && proof.verify().is_ok()
                && proof.a.node == self.nodes[of].pk
            {
                self.ban(i, of, Evidence::Misbehaviour);
                self.nodes[i].dealt_with.insert(of);
            }
        }
    }

    fn report(&mut self, end: Timestamp) -> SimReport {
        let count = self.nodes.len();
        let mut outcomes = Vec::with_capacity(count);
        let mut honest_views: BTreeMap<NodeId, i128> = BTreeMap::new();
        let mut verdicts = Vec::with_capacity(count);
        for i in 0..count {
            let n = &self.nodes[i];
            // An equivocator's segment carries the fork's head as evidence.
            let evidence: Vec<SignedHead> = n
                .fork
                .as_ref()
                .and_then(|f| f.sign_head(&n.key, end))
                .into_iter()
                .collect();
            let verdict = n
                .ledger
                .export_segment(&n.key, 0, end, &evidence)
                .map(|b| verify_segment(&b));
            if n.role == Role::Honest
                && let Some(v) = &verdict
            {
                for line in &v.balances {
                    *honest_views.entry(line.node).or_default() += line.net.0;
                }
            }
            verdicts.push(verdict);
        }
        for (i, verdict) in verdicts.into_iter().enumerate() {
            let n = &self.nodes[i];
            let id = n.pk.node_id();
            let banned_by: Vec<Evidence> = self
                .nodes
                .iter()
                .filter(|m| m.role == Role::Honest)
                .filter_map(|m| m.banned.get(&i).copied())
                .collect();
            let dealt_with = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, m)| m.role == Role::Honest && *j != i && m.dealt_with.contains(&i))
                .count();
            let (valid, balance, mis) = match &verdict {
                Some(v) => (v.valid, v.total.0, v.misbehaviour.len()),
                // An empty ledger proves a zero balance.
                None => (true, 0, 0),
            };
            outcomes.push(NodeOutcome {
                index: i,
                node: id,
                role: n.role,
                ledger_entries: n.ledger.len(),
                ledger_valid: valid,
                ledger_balance: balance,
                verified_work: n.truth,
                credit_from_honest: -honest_views.get(&id).copied().unwrap_or(0),
                banned_by: banned_by.len(),
                dealt_with,
                evidence: banned_by.into_iter().collect(),
                misbehaviour_in_segment: mis,
            });
        }
        SimReport {
            config: self.cfg.clone(),
            receipts: self.receipts,
            audits: self.audits,
            audits_failed: self.audits_failed,
            repairs: self.repairs,
            bandwidth_refusals: self.refusals,
            jobs: self.jobs,
            extra_runs: self.extra_runs,
            misbehaviour_proofs: self.proofs,
            ledger_errors: self.ledger_errors,
            nodes: outcomes,
        }
    }
}

/// A valid exported segment of `receipts` receipts between two parties (alternating
/// who provides), with a contract at the start: a sample for `cairn ledger verify`,
/// the tests and the benchmark. Deterministic for a seed.
pub fn sample_segment(seed: u64, receipts: usize) -> Vec<u8> {
    let (owner_key, ledger) = sample_ledger(seed, receipts);
    let end = ledger
        .entries()
        .last()
        .map(|e| e.time)
        .unwrap_or(Timestamp(START));
    ledger
        .export_segment(&owner_key, 0, end, &[])
        .unwrap_or_default()
}

/// The ledger behind [`sample_segment`], and its owner's key.
pub fn sample_ledger(seed: u64, receipts: usize) -> (SigningKey, Ledger) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let a = SigningKey::from_bytes(&rng.r#gen());
    let b = SigningKey::from_bytes(&rng.r#gen());
    let (pa, pb) = (PublicKey::of(&a), PublicKey::of(&b));
    let mut ledger = Ledger::new(pa);
    let contract = Contract {
        renter: pb,
        host: pa,
        nonce: 1,
        resource: ResourceKind::Bandwidth,
        blocks: Vec::new(),
        budget: Quantity(u64::MAX),
        start: Timestamp(START),
        duration: 86_400 * 365,
        price: BANDWIDTH_PRICE,
        audit_interval: 0,
        audit_chunks: 0,
    };
    let cid = contract.id();
    let _ = ledger.append(
        Timestamp(START),
        EntryBody::ContractOpened(contract.sign(&b, &a)),
    );
    let mut chans: BTreeMap<bool, (u64, Hash32)> = BTreeMap::new();
    for i in 0..receipts {
        let a_provides = i % 3 != 2;
        let (pk, ck, prov, cons) = if a_provides {
            (&a, &b, pa, pb)
        } else {
            (&b, &a, pb, pa)
        };
        let (last, prev) = chans.get(&a_provides).copied().unwrap_or((0, Hash32::ZERO));
        let amount = rng.gen_range(1..1_000_000u64);
        let t = Timestamp(START + i as u64 + 1);
        let r = Receipt {
            provider: prov,
            consumer: cons,
            resource: ResourceKind::Bandwidth,
            amount: Quantity(amount),
            credits: BANDWIDTH_PRICE.cost(Quantity(amount)).unwrap_or_default(),
            period_start: Timestamp(t.0 - 1),
            period_end: t,
            contract: if a_provides { cid } else { Hash32::ZERO },
            seq: last + 1,
            prev,
        };
        chans.insert(a_provides, (last + 1, r.id()));
        let csig = r.sign_as_consumer(ck);
        let _ = ledger.append(t, EntryBody::Receipt(r.countersign(csig, pk)));
    }
    (a, ledger)
}
