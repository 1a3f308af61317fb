//! `cairn bench …`: the simulations and measurements behind
//! docs/BENCHMARKS.md, runnable by anyone on their own machine.

use anyhow::{Result, bail};

use super::Output;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Deterministic market simulation: honest nodes and cheaters trade for many rounds.
    Market {
        /// RNG seed; equal seeds give equal runs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Nodes in the market.
        #[arg(long, default_value_t = 50)]
        nodes: usize,
        /// Rounds of trading.
        #[arg(long, default_value_t = 1000)]
        rounds: u32,
    },
}

/// The simulation ran, but an outcome it checks did not hold.
#[derive(Debug, thiserror::Error)]
#[error("the market simulation's checks failed: {0}")]
pub struct SimulationFailed(String);

pub fn bench(cmd: BenchCommand, out: Output) -> Result<()> {
    match cmd {
        BenchCommand::Market {
            seed,
            nodes,
            rounds,
        } => {
            let defaults = cairn_market::simulation::SimConfig::default();
            if nodes < 2 {
                bail!("the market needs at least 2 nodes");
            }
            let cfg = cairn_market::simulation::SimConfig {
                seed,
                nodes,
                rounds,
                ..defaults
            };
            let report = cairn_market::simulation::run(cfg);
            out.print(&report, |r| r.to_string());
            let checks = [
                ("every cheater identified", report.every_cheater_identified()),
                ("no cheater has net credit", report.no_cheater_has_net_credit()),
                ("every cheater banned", report.every_cheater_banned()),
                ("honest balances equal verified work", report.honest_balances_match_work()),
                ("no honest node banned", report.no_honest_node_banned()),
            ];
            let failed: Vec<&str> = checks.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
            if !failed.is_empty() {
                return Err(SimulationFailed(failed.join(", ")).into());
            }
            Ok(())
        }
    }
}
