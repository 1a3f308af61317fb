//! Runs the DHT simulator and prints its report (until `cairn bench dht` exists).
//!
//! `cargo run --release --example dht_sim -- [key=value ...]` with keys
//! `nodes` (10000), `churn` (0.2), `malicious` (0), `loss` (0.01), `seed` (1),
//! `lookups` (2000), `paths` (1, disjoint lookup paths).

use std::time::Instant;

use cairn::dht::sim::{SimConfig, run};

fn main() {
    let mut cfg = SimConfig::churn_scenario(10_000, 1);
    for arg in std::env::args().skip(1) {
        let Some((k, v)) = arg.split_once('=') else {
            eprintln!("ignored argument {arg:?} (expected key=value)");
            continue;
        };
        let ok = match k {
            "nodes" => v.parse().map(|x| cfg.nodes = x).is_ok(),
            "churn" => v.parse().map(|x| cfg.churn = x).is_ok(),
            "malicious" => v.parse().map(|x| cfg.malicious = x).is_ok(),
            "loss" => v.parse().map(|x| cfg.loss = x).is_ok(),
            "seed" => v.parse().map(|x| cfg.seed = x).is_ok(),
            "lookups" => v.parse().map(|x| cfg.lookups = x).is_ok(),
            "paths" => v.parse().map(|x| cfg.dht.disjoint_paths = x).is_ok(),
            _ => false,
        };
        if !ok {
            eprintln!("ignored argument {arg:?}");
        }
    }
    println!(
        "dht simulation: {} nodes, {:.0}% replaced over {} min, {:.0}% malicious, {:.0}% loss, {} path(s), seed {}",
        cfg.nodes,
        cfg.churn * 100.0,
        cfg.duration_ms / 60_000,
        cfg.malicious * 100.0,
        cfg.loss * 100.0,
        cfg.dht.disjoint_paths,
        cfg.seed
    );
    let t = Instant::now();
    let report = run(cfg);
    let elapsed = t.elapsed();
    print!("{report}");
    println!("| wall time | {:.1} s |", elapsed.as_secs_f64());
}
