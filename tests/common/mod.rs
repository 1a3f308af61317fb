//! Test harness: real `cairn` processes with their own data directories on
//! 127.0.0.1, ports chosen by the OS, bounded waits with clear failures.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `cairn` binary under test.
pub fn cairn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cairn"))
}

/// Run `cairn --data-dir DIR ARGS…` to completion.
pub fn cairn(dir: &Path, args: &[&str]) -> Output {
    Command::new(cairn_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CAIRN_HOME")
        .output()
        .expect("cannot run the cairn binary")
}

/// Run a `--json` command that must succeed, and parse its output.
pub fn cairn_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = cairn(dir, &full);
    assert!(
        out.status.success(),
        "cairn {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cairn {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A running `cairn daemon`, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    /// The daemon's ready line (JSON): node_id, listen, api.
    pub ready: serde_json::Value,
}

impl Daemon {
    /// Start `cairn --json daemon --listen 127.0.0.1:0 --api-listen 127.0.0.1:0`
    /// and wait (bounded) for its ready line.
    pub fn start(dir: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(cairn_bin())
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--json",
                "daemon",
                "--listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
                "--no-mdns",
            ])
            .args(extra)
            .env_remove("CAIRN_HOME")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start cairn daemon");
        let stdout = child.stdout.take().expect("daemon stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the daemon never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "cairn daemon in {} printed no ready line within 30 s",
                    dir.display()
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("daemon ready line is not JSON ({e}): {line}"));
        Daemon {
            child,
            dir: dir.to_owned(),
            ready,
        }
    }

    pub fn node_id(&self) -> String {
        self.ready["node_id"].as_str().expect("node_id").to_owned()
    }

    /// The first transport address the daemon listens on.
    pub fn addr(&self) -> String {
        self.ready["listen"][0]
            .as_str()
            .expect("listen[0]")
            .to_owned()
    }

    /// Send SIGTERM and wait (bounded) for a clean exit; returns its status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc_kill(pid, 15) };
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("daemon did not exit within 15 s of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Deterministic pseudo-random bytes (xorshift64): incompressible test data
/// that is the same on every run for a seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Poll `check` every 50 ms until it returns `Some`, failing with `what`
/// after `secs` seconds.
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        if std::time::Instant::now() >= deadline {
            panic!("timed out after {secs} s waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    /// The daemon's ticket (from its ready line).
    pub fn ticket(&self) -> String {
        self.ready["ticket"].as_str().expect("ticket").to_owned()
    }

    /// `cairn --json peers` of this daemon.
    pub fn peers(&self) -> Vec<serde_json::Value> {
        match cairn_json(&self.dir, &["peers"]) {
            serde_json::Value::Array(a) => a,
            other => panic!("cairn peers printed no list: {other}"),
        }
    }

    /// This daemon's record of `node`, if it has one.
    pub fn peer(&self, node: &str) -> Option<serde_json::Value> {
        self.peers().into_iter().find(|p| p["id"] == node)
    }

    /// Whether this daemon has a live connection to `node`.
    pub fn connected_to(&self, node: &str) -> bool {
        self.peer(node).is_some_and(|p| p["connected"] == true)
    }

    /// Join `other` by its ticket and wait (bounded) until both sides list
    /// each other as connected.
    pub fn join(&self, other: &Daemon) -> serde_json::Value {
        let v = cairn_json(&self.dir, &["join", &other.ticket()]);
        let (me, them) = (self.node_id(), other.node_id());
        wait_for(10, "both sides to list each other as connected", || {
            (self.connected_to(&them) && other.connected_to(&me)).then_some(())
        });
        v
    }
}

impl Daemon {
    /// The node ids in this daemon's DHT routing table.
    pub fn dht_table(&self) -> Vec<String> {
        cairn_json(&self.dir, &["dht"])["table"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|e| e["node_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Wait (bounded) until this daemon's DHT routing table holds every one
    /// of `others`: announcements made before that reach nobody.
    pub fn wait_dht_knows(&self, others: &[&Daemon]) {
        let want: Vec<String> = others.iter().map(|d| d.node_id()).collect();
        wait_for(
            20,
            &format!("{}'s DHT table to hold {want:?}", self.node_id()),
            || {
                let t = self.dht_table();
                want.iter().all(|w| t.contains(w)).then_some(())
            },
        );
    }
}
