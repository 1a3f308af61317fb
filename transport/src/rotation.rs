//! When a sender rotates its stream key: a pure schedule over bytes sent,
//! time elapsed and whether the receiver acknowledged the current epoch.
//!
//! It takes `now` as an argument so tests step time by hand. The sender
//! announces the next key only after the receiver acknowledged the current
//! one, and can only switch to a key it announced; that is what lets a
//! receiver hold only the current and the next key.

use std::time::{Duration, Instant};

/// Byte and time budgets of one key epoch (`None` disables a budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSchedule {
    /// Rotate once this many plaintext bytes were sealed under the key.
    pub bytes: Option<u64>,
    /// Rotate once the key is this old.
    pub age: Option<Duration>,
}

/// Progress of the current epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochProgress {
    /// Plaintext bytes sealed under the current key.
    pub bytes: u64,
    /// When the current key was first used.
    pub started: Instant,
    /// Whether the next key is already announced (which the sender does
    /// once the receiver acknowledged the current epoch).
    pub acknowledged: bool,
}

impl RotationSchedule {
    /// Whether the next frame must use a new key.
    pub fn due(&self, p: &EpochProgress, now: Instant) -> bool {
        if !p.acknowledged {
            return false;
        }
        self.bytes.is_some_and(|b| p.bytes >= b)
            || self
                .age
                .is_some_and(|a| now.saturating_duration_since(p.started) >= a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched() -> RotationSchedule {
        RotationSchedule {
            bytes: Some(1000),
            age: Some(Duration::from_secs(60)),
        }
    }

    #[test]
    fn byte_budget_triggers_rotation() {
        let t = Instant::now();
        let s = sched();
        assert!(!s.due(
            &EpochProgress {
                bytes: 999,
                started: t,
                acknowledged: true
            },
            t
        ));
        assert!(s.due(
            &EpochProgress {
                bytes: 1000,
                started: t,
                acknowledged: true
            },
            t
        ));
    }

    #[test]
    fn time_budget_triggers_rotation() {
        let t = Instant::now();
        let s = sched();
        let p = EpochProgress {
            bytes: 0,
            started: t,
            acknowledged: true,
        };
        assert!(!s.due(&p, t + Duration::from_secs(59)));
        assert!(s.due(&p, t + Duration::from_secs(60)));
    }

    #[test]
    fn no_rotation_before_the_next_key_is_announced() {
        let t = Instant::now();
        let p = EpochProgress {
            bytes: 10_000,
            started: t,
            acknowledged: false,
        };
        assert!(!sched().due(&p, t + Duration::from_secs(600)));
    }

    #[test]
    fn disabled_budgets_never_rotate() {
        let t = Instant::now();
        let s = RotationSchedule {
            bytes: None,
            age: None,
        };
        assert!(!s.due(
            &EpochProgress {
                bytes: u64::MAX,
                started: t,
                acknowledged: true
            },
            t + Duration::from_secs(1 << 20)
        ));
    }
}
