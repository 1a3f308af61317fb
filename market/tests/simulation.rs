//! The market simulation's claims, at the size the issue names (50 nodes, 1,000 rounds).

use cairn_market::simulation::{self, SimConfig};

#[test]
fn cheaters_are_identified_banned_and_unpaid_while_honest_balances_equal_verified_work() {
    let report = simulation::run(SimConfig::default());
    println!("{report}");
    assert_eq!(
        report.ledger_errors, 0,
        "honest code never writes a refused entry"
    );
    assert!(
        report.every_cheater_identified(),
        "every cheater identified"
    );
    assert!(
        report.no_cheater_has_net_credit(),
        "no cheater has net credit"
    );
    assert!(
        report.every_cheater_banned(),
        "every cheater banned by its peers"
    );
    assert!(
        report.honest_balances_match_work(),
        "honest balances = verified work"
    );
    assert!(report.no_honest_node_banned(), "no honest node banned");
    assert_eq!(report.total_work(), 0, "credit is conserved");
    assert!(report.audits_failed > 0 && report.misbehaviour_proofs > 0 && report.extra_runs > 0);
}

#[test]
fn the_simulation_is_deterministic_for_a_seed() {
    let cfg = SimConfig {
        nodes: 16,
        rounds: 60,
        seed: 7,
        ..SimConfig::default()
    };
    let a = simulation::run(cfg.clone()).to_string();
    let b = simulation::run(cfg).to_string();
    assert_eq!(a, b);
}
