//! `kill -9` of `cairn add` at random instants, 50 times: after each kill
//! `cairn verify` passes, and every add that printed its cap reads back byte
//! for byte (checked along the way and at the end). gc runs between kills
//! too, so crash leftovers (unindexed pack tails, orphan packs, committed
//! blocks without a root) meet the collector.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_cairn");
const KILLS: usize = 50;
/// The largest file added.
const MAX_LEN: usize = 2_000_000;

mod common;

use common::cairn;

fn cap_of(stdout: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(stdout).ok()?;
    Some(v[0]["cap"].as_str()?.to_owned())
}

#[test]
fn kill_9_at_random_instants_never_loses_an_acknowledged_add() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = tmp.path().join("dd");
    assert_eq!(cairn(&dd, &["init"]).status.code(), Some(0));
    // Small chunks: many blocks per add, so kills land between writes.
    let cfg = fs::read_to_string(dd.join("config.toml"))
        .unwrap()
        .replace("chunk_avg = 1048576", "chunk_avg = 32768");
    fs::write(dd.join("config.toml"), cfg).unwrap();

    let seed: u64 = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen());
    eprintln!("seed {seed} (set CAIRN_CRASH_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut acked: Vec<(String, Vec<u8>)> = Vec::new();

    // Calibrate: how long does an add take on this machine right now, for a
    // tiny file (process start, open, commit) and for the largest file? Kill
    // instants are drawn within that span, so most kills land mid-add on a
    // fast machine and on a slow one alike.
    let mut timed_add = |name: &str, len: usize, rng: &mut rand::rngs::StdRng| {
        let mut bytes = vec![0u8; len];
        rng.fill(bytes.as_mut_slice());
        let f = tmp.path().join(name);
        fs::write(&f, &bytes).unwrap();
        let started = std::time::Instant::now();
        let out = cairn(&dd, &["--json", "add", f.to_str().unwrap()]);
        let took = started.elapsed();
        let cap = cap_of(&out.stdout).expect("calibration add prints its cap");
        acked.push((cap, bytes));
        took
    };
    let small = timed_add("calibrate-small", 1_000, &mut rng);
    let large = timed_add("calibrate-large", MAX_LEN, &mut rng);
    let per_byte = large.saturating_sub(small).as_secs_f64() / MAX_LEN as f64;
    eprintln!("calibration: tiny add {small:?}, {MAX_LEN}-byte add {large:?}");

    let mut killed_midway = 0;
    for i in 0..KILLS {
        let len = rng.gen_range(100_000..MAX_LEN);
        let mut bytes = vec![0u8; len];
        rng.fill(bytes.as_mut_slice());
        let f = tmp.path().join(format!("f{i}"));
        fs::write(&f, &bytes).unwrap();
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&dd)
            .args(["--json", "add"])
            .arg(&f)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A random instant within this add's expected duration (+10%).
        let expected = small.as_secs_f64() + per_byte * len as f64;
        std::thread::sleep(Duration::from_secs_f64(rng.gen_range(0.0..expected * 1.1)));
        let _ = child.kill(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        match cap_of(&out.stdout) {
            Some(cap) => acked.push((cap, bytes)),
            None => killed_midway += 1,
        }
        let v = cairn(&dd, &["verify"]);
        assert_eq!(
            v.status.code(),
            Some(0),
            "kill {i}: verify failed: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        if i % 10 == 9 {
            assert_eq!(cairn(&dd, &["gc"]).status.code(), Some(0));
            for (cap, bytes) in &acked {
                let o = cairn(&dd, &["cat", cap]);
                assert!(o.stdout == *bytes, "kill {i}: {cap} does not read back");
            }
        }
    }
    eprintln!(
        "{} adds acknowledged, {killed_midway} killed before acknowledging",
        acked.len()
    );
    assert!(killed_midway >= 10, "too few kills landed mid-add");
    for (cap, bytes) in &acked {
        let o = cairn(&dd, &["cat", cap]);
        assert!(o.stdout == *bytes, "{cap} does not read back");
    }
    let v = cairn(&dd, &["verify"]);
    assert_eq!(v.status.code(), Some(0));
}
