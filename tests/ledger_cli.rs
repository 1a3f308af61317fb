//! `cairn ledger verify` and `cairn bench market`, run as a user would.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(common::cairn_bin())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_exported_segment_verifies_and_a_flipped_byte_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.seg");
    let bytes = cairn_market::simulation::sample_segment(7, 40);
    std::fs::write(&good, &bytes).unwrap();
    let out = run(&["--json", "ledger", "verify", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["entries"].as_u64().unwrap() >= 40);

    let bad = tmp.path().join("bad.seg");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(&bad, &flipped).unwrap();
    let out = run(&["--json", "ledger", "verify", bad.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(first_line.lines().next().unwrap_or_default())
        .or_else(|_| serde_json::from_slice(&out.stdout))
        .unwrap_or(serde_json::Value::Null);
    if !v.is_null() {
        assert_ne!(v["valid"], true);
    }
}

#[test]
fn a_missing_or_garbage_segment_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&[
        "ledger",
        "verify",
        tmp.path().join("nope").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"definitely not a ledger").unwrap();
    let out = run(&["ledger", "verify", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!String::from_utf8_lossy(&out.stdout).is_empty());
}

#[test]
fn the_market_simulation_command_passes_its_checks() {
    let out = run(&["--json", "bench", "market"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_object());
}
