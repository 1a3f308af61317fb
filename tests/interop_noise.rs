//! An independent Noise implementation (Python `noiseprotocol`, not snow)
//! completes the cairn/1 handshake with a real `cairn daemon`, checks its
//! identity signature and NodeId, and gets answers to yamux pings. A client
//! that forges its own identity signature must be refused by the daemon.
//!
//! Needs the virtualenv made by `scripts/install-test-deps.sh` (the README's
//! test command runs it); `CAIRN_TEST_PYTHON` names its interpreter.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    let p = std::env::var_os("CAIRN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
        });
    assert!(
        p.exists(),
        "{} not found: run the tests with scripts/test.sh, which installs the Python \
         packages this test needs",
        p.display()
    );
    p
}

/// Run the Python client against a daemon with extra arguments.
fn run_client(
    daemon: &common::Daemon,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/noise_client.py");
    let out = Command::new(python())
        .arg(client)
        .args(["--addr", &daemon.addr(), "--node-id", &daemon.node_id()])
        .args(extra)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).expect("client prints JSON");
    (out, v)
}

#[test]
fn python_noise_client_handshakes_and_gets_yamux_ping_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(tmp.path(), &[]);
    let (_, v) = run_client(&daemon, &["--pings", "3"]);
    assert_eq!(v["node_id"], daemon.node_id());
    assert_eq!(v["pings_answered"], 3);
}

#[test]
fn python_noise_client_with_a_forged_signature_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(tmp.path(), &[]);
    let (_, v) = run_client(&daemon, &["--bad-signature"]);
    assert_eq!(v["rejected"], true);
    // The daemon still serves a correct client afterwards.
    let (_, v) = run_client(&daemon, &["--pings", "1"]);
    assert_eq!(v["pings_answered"], 1);
}
