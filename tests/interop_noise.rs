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

fn client() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/noise_client.py")
}

#[test]
fn python_noise_client_handshakes_and_gets_yamux_ping_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(tmp.path(), &[]);
    let out = Command::new(python())
        .arg(client())
        .args([
            "--addr",
            &daemon.addr(),
            "--node-id",
            &daemon.node_id(),
            "--pings",
            "3",
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["node_id"], daemon.node_id());
    assert_eq!(v["pings_answered"], 3);
}

#[test]
fn python_noise_client_with_a_forged_signature_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = common::Daemon::start(tmp.path(), &[]);
    let out = Command::new(python())
        .arg(client())
        .args([
            "--addr",
            &daemon.addr(),
            "--node-id",
            &daemon.node_id(),
            "--bad-signature",
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rejected"], true);
    // The daemon still serves a correct client afterwards.
    let ok = Command::new(python())
        .arg(client())
        .args([
            "--addr",
            &daemon.addr(),
            "--node-id",
            &daemon.node_id(),
            "--pings",
            "1",
        ])
        .output()
        .expect("run python");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
