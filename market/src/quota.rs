//! Quota policies: how much a node may store on others, given what it lends.
//!
//! Why two policies: they answer different communities. Ishtar's rule (a byte lent and
//! proven buys a byte stored) is simple and fair among equals. Peergos's rule divides
//! what is lent by the expansion factor of the node's own redundancy (a node that
//! stores every byte three times consumes three bytes of others' disk per byte of its
//! data) and asks for reliability first: nothing is usable before a week of more than
//! 70% uptime, and the quota shrinks in proportion when uptime over the last month
//! falls below 70%. Both are pure functions of numbers the ledger and the node's
//! uptime log provide, with `now` as an argument.

use serde::Serialize;
use thiserror::Error;

use crate::types::Timestamp;

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// Which quota rule a node applies (chosen in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum QuotaPolicy {
    /// One byte lent and proven = one byte the node may store on others.
    Ishtar,
    /// Lent ÷ expansion factor, with an uptime floor.
    Peergos(PeergosParams),
}

/// Parameters of the Peergos rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeergosParams {
    /// Expansion factor of the node's own redundancy, as a fraction (e.g. 3/1 for three
    /// copies, 14/10 for 10+4 erasure coding).
    pub expansion_num: u64,
    /// Denominator of the expansion factor.
    pub expansion_den: u64,
    /// Uptime required, in thousandths (700 = 70%).
    pub min_uptime_permille: u64,
    /// Probation before any quota is usable, seconds (a week).
    pub probation: u64,
    /// Window over which uptime is judged afterwards, seconds (a month).
    pub window: u64,
}

impl Default for PeergosParams {
    fn default() -> Self {
        PeergosParams {
            expansion_num: 3,
            expansion_den: 1,
            min_uptime_permille: 700,
            probation: 7 * DAY,
            window: 30 * DAY,
        }
    }
}

/// Periods a node was online, as `[start, end)` intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UptimeLog {
    intervals: Vec<(Timestamp, Timestamp)>,
}

/// Why an uptime interval is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum UptimeError {
    /// End before start.
    #[error("interval ends before it starts")]
    Inverted,
    /// Overlaps or precedes the last interval.
    #[error("interval is not after the previous one")]
    OutOfOrder,
}

impl UptimeLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record that the node was online from `start` to `end`.
    pub fn record(&mut self, start: Timestamp, end: Timestamp) -> Result<(), UptimeError> {
        if end < start {
            return Err(UptimeError::Inverted);
        }
        if let Some(&(_, last_end)) = self.intervals.last()
            && start < last_end
        {
            return Err(UptimeError::OutOfOrder);
        }
        self.intervals.push((start, end));
        Ok(())
    }
    /// Seconds online within `[from, to)`.
    pub fn online_between(&self, from: Timestamp, to: Timestamp) -> u64 {
        self.intervals
            .iter()
            .map(|&(s, e)| e.0.min(to.0).saturating_sub(s.0.max(from.0)))
            .sum()
    }
    /// Uptime within `[from, to)`, in thousandths.
    pub fn permille(&self, from: Timestamp, to: Timestamp) -> u64 {
        let span = to.since(from);
        if span == 0 {
            return 0;
        }
        (u128::from(self.online_between(from, to)) * 1000 / u128::from(span)) as u64
    }
}

/// A quota and the reason for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaDecision {
    /// Bytes the node may store on others.
    pub bytes: u64,
    /// Why that much.
    pub reason: QuotaReason,
}

/// Why a quota has its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum QuotaReason {
    /// Full quota under the policy.
    Full,
    /// Still within the probation week.
    Probation,
    /// The probation week's uptime was too low.
    ProbationUptimeTooLow {
        /// Uptime over the probation, ‰.
        permille: u64,
    },
    /// Uptime over the last window is low: quota scaled down.
    Shrunk {
        /// Uptime over the window, ‰.
        permille: u64,
    },
}

/// The quota of a node that lends `lent_proven` bytes (held and passing audits),
/// first seen at `first_seen`, with uptime `log`, at `now`.
pub fn quota(
    policy: QuotaPolicy,
    lent_proven: u64,
    first_seen: Timestamp,
    log: &UptimeLog,
    now: Timestamp,
) -> QuotaDecision {
    match policy {
        QuotaPolicy::Ishtar => QuotaDecision {
            bytes: lent_proven,
            reason: QuotaReason::Full,
        },
        QuotaPolicy::Peergos(p) => {
            let probation_end = Timestamp(first_seen.0.saturating_add(p.probation));
            if now < probation_end {
                return QuotaDecision {
                    bytes: 0,
                    reason: QuotaReason::Probation,
                };
            }
            let first_week = log.permille(first_seen, probation_end);
            if first_week <= p.min_uptime_permille {
                return QuotaDecision {
                    bytes: 0,
                    reason: QuotaReason::ProbationUptimeTooLow {
                        permille: first_week,
                    },
                };
            }
            let base = if p.expansion_num == 0 {
                0
            } else {
                (u128::from(lent_proven) * u128::from(p.expansion_den)
                    / u128::from(p.expansion_num)) as u64
            };
            let from = Timestamp(now.0.saturating_sub(p.window).max(first_seen.0));
            let month = log.permille(from, now);
            if month < p.min_uptime_permille && p.min_uptime_permille > 0 {
                let bytes = (u128::from(base) * u128::from(month)
                    / u128::from(p.min_uptime_permille)) as u64;
                QuotaDecision {
                    bytes,
                    reason: QuotaReason::Shrunk { permille: month },
                }
            } else {
                QuotaDecision {
                    bytes: base,
                    reason: QuotaReason::Full,
                }
            }
        }
    }
}

/// Bytes a node lends *and has proven*, derived from its own ledger: for each storage
/// contract, the average bytes held over the period of its latest storage receipt
/// (`amount` byte·seconds ÷ the period's seconds), counting only receipts whose period
/// ended within `window` seconds of `now`. A storage receipt is signed by the renter
/// only after a passed audit, so this counts proven storage, never a claim.
pub fn lent_proven_bytes(
    owner: &crate::types::PublicKey,
    entries: &[crate::entry::Entry],
    now: Timestamp,
    window: u64,
) -> u64 {
    use std::collections::BTreeMap;

    use crate::entry::EntryBody;
    use crate::types::ResourceKind;

    let mut latest: BTreeMap<crate::types::Hash32, (Timestamp, u64)> = BTreeMap::new();
    for e in entries {
        let EntryBody::Receipt(sr) = &e.body else {
            continue;
        };
        let r = &sr.receipt;
        if r.provider != *owner || r.resource != ResourceKind::Storage {
            continue;
        }
        if now.since(r.period_end) > window {
            continue;
        }
        let secs = r.period_end.since(r.period_start);
        if secs == 0 {
            continue;
        }
        let bytes = r.amount.0 / secs;
        let slot = latest.entry(r.contract).or_insert((r.period_end, bytes));
        if r.period_end >= slot.0 {
            *slot = (r.period_end, bytes);
        }
    }
    latest
        .values()
        .map(|&(_, b)| b)
        .fold(0u64, u64::saturating_add)
}
