//! The daemon and the CLI end to end: real processes, a real data directory,
//! the local API on an OS-chosen loopback port.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Daemon, cairn, cairn_json};

/// The permission bits of a file.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A raw HTTP GET against the API, returning the status line and body.
fn http_get(addr: &str, path: &str, token: Option<&str>) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.lines().next().unwrap_or_default().to_owned();
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn status_goes_through_the_api_of_the_running_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(tmp.path(), &[]);
    let status = cairn_json(tmp.path(), &["status"]);
    assert_eq!(status["node_id"], daemon.node_id());
    assert_eq!(status["listen"][0], daemon.addr());
    let id = cairn_json(tmp.path(), &["id"]);
    assert_eq!(id["node_id"], daemon.node_id());
}

#[test]
fn the_api_refuses_requests_without_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(tmp.path(), &[]);
    let api = daemon.ready["api"].as_str().unwrap().to_owned();
    assert!(
        api.starts_with("127.0.0.1:"),
        "API must bind loopback: {api}"
    );
    let (status, body) = http_get(&api, "/v1/status", None);
    assert!(status.contains("401"), "{status}");
    assert!(body.contains("unauthorized"), "{body}");
    let (status, _) = http_get(&api, "/v1/status", Some(&"0".repeat(64)));
    assert!(status.contains("401"), "{status}");
    let token = std::fs::read_to_string(tmp.path().join("api.token")).unwrap();
    let (status, body) = http_get(&api, "/v1/status", Some(token.trim()));
    assert!(status.contains("200"), "{status}");
    assert!(body.contains(&daemon.node_id()));
    let (status, _) = http_get(&api, "/v1/nope", Some(token.trim()));
    assert!(status.contains("404"), "{status}");
    assert_eq!(mode(&tmp.path().join("api.token")), 0o600);
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let _daemon = Daemon::start(tmp.path(), &[]);
    let out = cairn(
        tmp.path(),
        &[
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--no-mdns",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_status_then_says_no_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(tmp.path(), &[]);
    assert!(tmp.path().join("api.addr").exists());
    let status = daemon.terminate();
    assert!(status.success(), "daemon exit status {status}");
    assert!(
        !tmp.path().join("api.addr").exists(),
        "api.addr removed on shutdown"
    );
    let out = cairn(tmp.path(), &["status"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cairn daemon"));
}

#[test]
fn a_non_loopback_api_address_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cairn(
        tmp.path(),
        &[
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "0.0.0.0:0",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn a_corrupt_identity_key_stops_every_command_with_exit_code_6() {
    let tmp = tempfile::tempdir().unwrap();
    cairn_json(tmp.path(), &["init"]);
    let key = tmp.path().join("identity.key");
    let before = std::fs::read(&key).unwrap();
    let mut bytes = before.clone();
    bytes[30] ^= 1;
    std::fs::write(&key, &bytes).unwrap();
    for args in [&["id"][..], &["daemon", "--listen", "127.0.0.1:0"][..]] {
        let out = cairn(tmp.path(), args);
        assert_eq!(out.status.code(), Some(6), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt"));
    }
    assert_eq!(
        std::fs::read(&key).unwrap(),
        bytes,
        "the key file was left alone"
    );
}

#[test]
fn init_makes_0600_keys_and_a_commented_config() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let v = cairn_json(&home, &["init"]);
    assert_eq!(v["created"], true);
    for f in ["identity.key", "noise.key", "owner.key"] {
        assert_eq!(mode(&home.join(f)), 0o600, "{f}");
    }
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("# ") && config.contains("[transport]"));
    let v = cairn_json(&home, &["init"]);
    assert_eq!(v["created"], false);
}

#[test]
fn cairn_home_selects_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::cairn_bin())
        .args(["--json", "id"])
        .env("CAIRN_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(tmp.path().join("identity.key").exists());
}
