//! Measures the dashboard's own CPU use while nothing happens (`cairn bench
//! dashboard-idle`), against a baseline measured in the same run.
//!
//! Why this shape: idle cost is what a dashboard left open all day costs, and
//! it comes from wake-ups, not from drawing. So the real event loop
//! ([`super::drive`]) runs on a `TestBackend` with an event source that never
//! fires, on a single-threaded runtime, and the thread's CPU time is read
//! with `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` before and after. The baseline is an empty
//! loop waking at the same [`super::TICK`]: the floor any timer-driven loop
//! pays. A third run pushes a changed snapshot every 500 ms (what a busy
//! node's feed does at most) to show the cost of redrawing.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::{TICK, Theme, drive, sample};

/// The three measurements, as percent of one core.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub seconds: f64,
    /// The dashboard loop with no input and no snapshot changes.
    pub dashboard_idle_percent: f64,
    /// An empty loop waking every TICK.
    pub baseline_percent: f64,
    /// The dashboard loop with a new snapshot every 500 ms.
    pub dashboard_busy_feed_percent: f64,
}

impl std::fmt::Display for IdleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "| loop ({:.0} s each, 120x40 TestBackend) | CPU, % of a core |",
            self.seconds
        )?;
        writeln!(f, "|---|---|")?;
        writeln!(
            f,
            "| baseline: empty loop, {} ms tick | {:.3} |",
            TICK.as_millis(),
            self.baseline_percent
        )?;
        writeln!(
            f,
            "| dashboard, idle | {:.3} |",
            self.dashboard_idle_percent
        )?;
        write!(
            f,
            "| dashboard, snapshot every 500 ms | {:.3} |",
            self.dashboard_busy_feed_percent
        )
    }
}

/// CPU time of the calling thread, nanosecond resolution
/// (`CLOCK_THREAD_CPUTIME_ID`; `getrusage` counts in scheduler ticks, too
/// coarse for a loop that costs microseconds a second).
#[cfg(unix)]
pub fn thread_cpu() -> Duration {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid out-pointer for this clock.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
pub fn thread_cpu() -> Duration {
    Duration::ZERO
}

fn percent(cpu: Duration, wall: Duration) -> f64 {
    cpu.as_secs_f64() * 100.0 / wall.as_secs_f64()
}

/// Run the three loops for `each` apiece, one after the other, on this
/// thread. Blocks for about `3 × each`.
pub fn measure(each: Duration) -> std::io::Result<IdleReport> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let baseline = rt.block_on(async {
        let start = thread_cpu();
        let mut tick = tokio::time::interval(TICK);
        let end = tokio::time::Instant::now() + each;
        while tokio::time::Instant::now() < end {
            tick.tick().await;
        }
        thread_cpu() - start
    });
    let idle = rt.block_on(dashboard_for(each, None));
    let busy = rt.block_on(dashboard_for(each, Some(Duration::from_millis(500))));
    Ok(IdleReport {
        seconds: each.as_secs_f64(),
        dashboard_idle_percent: percent(idle, each),
        baseline_percent: percent(baseline, each),
        dashboard_busy_feed_percent: percent(busy, each),
    })
}

/// CPU the dashboard loop uses in `each`, with a new snapshot every `feed`.
async fn dashboard_for(each: Duration, feed: Option<Duration>) -> Duration {
    let snap = sample::sample(40, 200);
    let (snap_tx, snap_rx) = watch::channel(snap.clone());
    let (act_tx, _act_rx) = mpsc::channel(16);
    let (_note_tx, note_rx) = mpsc::channel(16);
    let mut terminal = match Terminal::new(TestBackend::new(120, 40)) {
        Ok(t) => t,
        Err(_) => return Duration::ZERO,
    };
    let start = thread_cpu();
    let dashboard = drive(
        &mut terminal,
        futures::stream::pending(),
        snap_rx,
        act_tx,
        note_rx,
        Theme::colored(),
    );
    let feeder = async {
        let mut s = snap;
        match feed {
            Some(every) => {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    s.seq += 1;
                    s.node.uptime_secs += 1;
                    let _ = snap_tx.send(s.clone());
                }
            }
            None => futures::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = dashboard => {}
        _ = feeder => {}
        _ = tokio::time::sleep(each) => {}
    }
    thread_cpu() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_counts_work_not_sleep() {
        let before = thread_cpu();
        std::thread::sleep(Duration::from_millis(200));
        let slept = thread_cpu() - before;
        assert!(slept < Duration::from_millis(50), "sleeping cost {slept:?}");
        // Spin until 20 ms of CPU are counted (bounded: the machine may be busy).
        let before = thread_cpu();
        let wall = std::time::Instant::now();
        let mut x = 0u64;
        while thread_cpu() - before < Duration::from_millis(20) {
            for _ in 0..10_000 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(7));
            }
            assert!(
                wall.elapsed() < Duration::from_secs(20),
                "no CPU time counted"
            );
        }
        std::hint::black_box(x);
    }
}
