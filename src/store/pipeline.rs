//! An ordered parallel map over bounded channels: one feeder thread pulls
//! items from an iterator (e.g. the chunker reading a file), `workers`
//! threads transform them (seal + erasure-code, or read + open), and the
//! calling thread consumes the results in input order.
//!
//! Memory is bounded: at most `depth` items wait for a worker and `depth`
//! results wait for the consumer, plus one per worker in hand and the
//! out-of-order results held for reordering (fewer than the items in
//! flight). When the consumer fails, it drops its receiver; workers and the
//! feeder see their sends fail and stop.

use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

/// Run `f` over `input` on `workers` threads; `consume` sees results in order.
pub fn par_map_ordered<T, R, E, I, F, C>(
    input: I,
    workers: usize,
    depth: usize,
    f: F,
    mut consume: C,
) -> Result<(), E>
where
    T: Send,
    R: Send,
    I: Iterator<Item = T> + Send,
    F: Fn(T) -> R + Sync,
    C: FnMut(R) -> Result<(), E>,
{
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<(u64, T)>(depth);
        let (res_tx, res_rx) = sync_channel::<(u64, R)>(depth);
        s.spawn(move || {
            for (seq, item) in input.enumerate() {
                if work_tx.send((seq as u64, item)).is_err() {
                    break;
                }
            }
        });
        let work_rx = Arc::new(Mutex::new(work_rx));
        let f = &f;
        for _ in 0..workers.max(1) {
            let rx = work_rx.clone();
            let tx = res_tx.clone();
            s.spawn(move || {
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok((seq, item))) = next else { break };
                    if tx.send((seq, f(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        let mut next = 0u64;
        let mut held = BTreeMap::new();
        for (seq, r) in res_rx.iter() {
            held.insert(seq, r);
            while let Some(r) = held.remove(&next) {
                consume(r)?;
                next += 1;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_input_order() {
        let mut out = Vec::new();
        par_map_ordered(
            0..1000u32,
            3,
            4,
            |x| x * 2,
            |r| {
                out.push(r);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_consumer_error_stops_everything() {
        let mut seen = 0;
        let r = par_map_ordered(
            0..u32::MAX,
            2,
            2,
            |x| x,
            |x| {
                seen += 1;
                if x == 10 { Err(x) } else { Ok(()) }
            },
        );
        assert_eq!(r, Err(10));
        assert_eq!(seen, 11);
    }
}
