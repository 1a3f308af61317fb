//! Per-host reputation from audit outcomes, and the ban rule.
//!
//! Why a beta distribution: with a uniform prior Beta(1, 1), after `p` passes and `f`
//! failures a host's chance of passing the next audit has posterior mean
//! (p + 1) / (p + f + 2); it starts at ½ for a stranger and moves with evidence, never
//! reaching certainty. A separate run counter gives the hard rule: a configurable
//! number of consecutive failures bans the host, which is the signal to repair its
//! blocks elsewhere.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::entry::{AuditOutcome, Entry, EntryBody};
use crate::types::NodeId;

/// When a host is banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BanPolicy {
    /// Consecutive failed audits that ban.
    pub max_consecutive_failures: u32,
    /// Ban also when the posterior mean falls below this (‰) after `min_audits`.
    pub min_score_permille: u32,
    /// Audits needed before the score rule applies.
    pub min_audits: u32,
}

impl Default for BanPolicy {
    fn default() -> Self {
        BanPolicy {
            max_consecutive_failures: 3,
            min_score_permille: 500,
            min_audits: 10,
        }
    }
}

/// What a node knows of one host's audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Reputation {
    /// Audits passed.
    pub passes: u32,
    /// Audits failed.
    pub failures: u32,
    /// Current run of failures.
    pub consecutive_failures: u32,
}

impl Reputation {
    /// Fold one outcome in.
    pub fn record(&mut self, outcome: AuditOutcome) {
        if outcome.passed() {
            self.passes = self.passes.saturating_add(1);
            self.consecutive_failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
    }
    /// Posterior mean of Beta(1 + passes, 1 + failures), in thousandths.
    pub fn score_permille(&self) -> u32 {
        let p = u64::from(self.passes) + 1;
        let n = u64::from(self.passes) + u64::from(self.failures) + 2;
        (p * 1000 / n) as u32
    }
    /// Whether `policy` bans this host.
    pub fn is_banned(&self, policy: &BanPolicy) -> bool {
        self.consecutive_failures >= policy.max_consecutive_failures
            || (self.passes.saturating_add(self.failures) >= policy.min_audits
                && self.score_permille() < policy.min_score_permille)
    }
}

/// Reputations of every host audited in `entries` (the auditor's ledger).
pub fn reputations(entries: &[Entry]) -> BTreeMap<NodeId, Reputation> {
    let mut out: BTreeMap<NodeId, Reputation> = BTreeMap::new();
    for e in entries {
        if let EntryBody::Audit(a) = &e.body {
            out.entry(a.host.node_id()).or_default().record(a.outcome);
        }
    }
    out
}
