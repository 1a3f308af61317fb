//! `cairn bench …`: the simulations and measurements behind
//! docs/BENCHMARKS.md, runnable by anyone on their own machine.

use anyhow::{Result, bail};

use super::Output;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The dashboard's own CPU use while idle, against an empty loop of the same tick.
    DashboardIdle {
        /// Seconds per measured loop (three loops run).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
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
    /// Kademlia simulation: thousands of in-process nodes with churn, loss and liars.
    Dht {
        /// Nodes in the network at any time.
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// Share of nodes replaced during the run (0.2 = 20%).
        #[arg(long, default_value_t = 0.2)]
        churn: f64,
        /// Share of nodes that answer with wrong or random peers.
        #[arg(long, default_value_t = 0.0)]
        malicious: f64,
        /// Share of messages lost.
        #[arg(long, default_value_t = 0.01)]
        loss: f64,
        /// Lookups measured.
        #[arg(long, default_value_t = 2000)]
        lookups: usize,
        /// Disjoint lookup paths (S/Kademlia); 1 is plain Kademlia.
        #[arg(long, default_value_t = 1)]
        paths: usize,
        /// RNG seed; equal seeds give equal runs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// The simulation ran, but an outcome it checks did not hold.
#[derive(Debug, thiserror::Error)]
#[error("the market simulation's checks failed: {0}")]
pub struct SimulationFailed(String);

pub fn bench(cmd: BenchCommand, out: Output) -> Result<()> {
    match cmd {
        BenchCommand::DashboardIdle { seconds } => {
            if seconds == 0 {
                bail!("--seconds must be at least 1");
            }
            let report = cairn::dashboard::idle::measure(std::time::Duration::from_secs(seconds))?;
            out.print(&report, |r| r.to_string());
            Ok(())
        }
        BenchCommand::Dht {
            nodes,
            churn,
            malicious,
            loss,
            lookups,
            paths,
            seed,
        } => {
            use cairn::dht::sim::{SimConfig, run};
            for (name, v) in [("churn", churn), ("malicious", malicious), ("loss", loss)] {
                if !(0.0..=1.0).contains(&v) {
                    bail!("--{name} must be between 0 and 1, not {v}");
                }
            }
            if nodes < 2 || lookups == 0 || paths == 0 {
                bail!("--nodes must be at least 2, --lookups and --paths at least 1");
            }
            let mut cfg = SimConfig::churn_scenario(nodes, seed);
            cfg.churn = churn;
            cfg.malicious = malicious;
            cfg.loss = loss;
            cfg.lookups = lookups;
            cfg.dht.disjoint_paths = paths;
            if !out.json {
                eprintln!(
                    "dht simulation: {nodes} nodes, {:.0}% replaced, {:.0}% malicious, {:.0}% loss, \
                     {paths} path(s), seed {seed}",
                    churn * 100.0,
                    malicious * 100.0,
                    loss * 100.0
                );
            }
            let started = std::time::Instant::now();
            let report = run(cfg);
            let wall = started.elapsed().as_secs_f64();
            out.print(&report, |r| format!("{r}| wall time | {wall:.1} s |"));
            Ok(())
        }
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
                (
                    "every cheater identified",
                    report.every_cheater_identified(),
                ),
                (
                    "no cheater has net credit",
                    report.no_cheater_has_net_credit(),
                ),
                ("every cheater banned", report.every_cheater_banned()),
                (
                    "honest balances equal verified work",
                    report.honest_balances_match_work(),
                ),
                ("no honest node banned", report.no_honest_node_banned()),
            ];
            let failed: Vec<&str> = checks
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(n, _)| *n)
                .collect();
            if !failed.is_empty() {
                return Err(SimulationFailed(failed.join(", ")).into());
            }
            Ok(())
        }
    }
}
