//! Balances derived from a ledger, and the optional decay of unpaid debt.
//!
//! Why derived, never stored: a stored balance can drift from the receipts that justify
//! it; a balance recomputed from counter-signed receipts cannot. The ledger checker
//! folds every receipt into [`Balances`] as it verifies it, so the only way to change a
//! balance is to append a receipt both parties signed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::types::{Balance, Credits, NodeId, Timestamp};

/// What one counterparty and the ledger's owner owe each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CounterpartyBalance {
    /// Credit earned from this counterparty (owner provided).
    pub earned: Credits,
    /// Credit spent with it (owner consumed).
    pub spent: Credits,
    /// `earned - spent`.
    pub net: Balance,
    /// Time of the last receipt with it (for debt decay).
    pub last_receipt: Timestamp,
}

/// The balances a ledger proves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Balances {
    /// Per counterparty.
    pub per_counterparty: BTreeMap<NodeId, CounterpartyBalance>,
    /// Sum of every net balance.
    pub total: Balance,
}

impl Balances {
    /// Net balance with one peer (zero if none).
    pub fn with(&self, peer: &NodeId) -> Balance {
        self.per_counterparty
            .get(peer)
            .map(|b| b.net)
            .unwrap_or_default()
    }
}

/// Forgiveness of unpaid debt over time, as proposed for Swarm: a debt (a negative
/// balance) shrinks by `per_day` credits for each full day since the last receipt with
/// that counterparty, never past zero. Credit (a positive balance) never decays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DebtDecay {
    /// Credits forgiven per day of inactivity.
    pub per_day: u64,
}

impl DebtDecay {
    /// The balance after decay at `now`.
    pub fn apply(self, b: &CounterpartyBalance, now: Timestamp) -> Balance {
        if b.net.0 >= 0 {
            return b.net;
        }
        let days = now.since(b.last_receipt) / 86_400;
        let forgiven = i128::from(days).saturating_mul(i128::from(self.per_day));
        Balance((b.net.0.saturating_add(forgiven)).min(0))
    }
    /// The total after decay at `now`.
    pub fn total(self, balances: &Balances, now: Timestamp) -> Balance {
        Balance(
            balances
                .per_counterparty
                .values()
                .map(|b| self.apply(b, now).0)
                .fold(0i128, i128::saturating_add),
        )
    }
}
