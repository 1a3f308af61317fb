//! Runs the DHT simulator and prints its report (until `cairn bench dht` exists).
//!
//! `cargo run --release --example dht_sim -- [nodes] [malicious share] [seed] [lookups]`

use std::time::Instant;

use cairn::dht::sim::{SimConfig, run};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let nodes = arg(0).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let malicious: f64 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let seed = arg(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut cfg = SimConfig::malicious_scenario(nodes, malicious, seed);
    if let Some(l) = arg(3).and_then(|s| s.parse().ok()) {
        cfg.lookups = l;
    }
    println!(
        "dht simulation: {} nodes, {:.0}% replaced over {} min, {:.0}% malicious, {:.0}% loss, seed {}",
        cfg.nodes,
        cfg.churn * 100.0,
        cfg.duration_ms / 60_000,
        cfg.malicious * 100.0,
        cfg.loss * 100.0,
        cfg.seed
    );
    let t = Instant::now();
    let report = run(cfg);
    let elapsed = t.elapsed();
    print!("{report}");
    println!("| wall time | {:.1} s |", elapsed.as_secs_f64());
}
