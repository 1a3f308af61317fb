//! End to end: `cairn demo 3` in a detached tmux session of a fixed size,
//! driven with `tmux send-keys` and read back with `tmux capture-pane -p`.
//!
//! Every wait is bounded and fails with the screen it last saw. tmux must be
//! installed (`scripts/install-test-deps.sh` does it).
//!
//! `demo_runs_the_full_scenario` needs the whole node: `join` (peers), the
//! store routes and the files in the snapshot (node-store), and ban (peers).
//! `demo_starts_shows_the_node_and_cleans_up_on_quit` needs only the
//! dashboard, the snapshot feed and `cairn demo` itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

fn tmux(args: &[&str]) -> Output {
    Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tmux ({e}); install it with scripts/install-test-deps.sh")
        })
}

/// A detached tmux session running `cairn demo 3`, killed when dropped.
struct Session {
    name: String,
    /// The demo's TMPDIR: its temporary data directories live here.
    tmp: tempfile::TempDir,
}

impl Session {
    fn start(tag: &str) -> Session {
        Session::start_with(tag, "demo 3")
    }

    /// `cairn ARGS` (ARGS as shell words; `{tmp}` is the session's temp dir).
    fn start_with(tag: &str, args: &str) -> Session {
        let tmp = tempfile::tempdir().expect("tempdir");
        let args = args.replace("{tmp}", &tmp.path().display().to_string());
        let name = format!("cairn-e2e-{tag}-{}", std::process::id());
        let bin = common::cairn_bin();
        // The shell keeps the pane after the demo exits, so a crash is readable.
        let script = format!(
            "env -u CAIRN_HOME TMPDIR='{}' '{}' {args}; echo \"[demo exited: $?]\"; \
             echo \"[tty: $(stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')]\"; \
             sleep 600",
            tmp.path().display(),
            bin.display()
        );
        let out = tmux(&[
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
            &script,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Session { name, tmp }
    }

    fn screen(&self) -> String {
        let out = tmux(&["capture-pane", "-p", "-t", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend_from_slice(keys);
        let out = tmux(&args);
        assert!(out.status.success(), "tmux send-keys {keys:?} failed");
    }

    /// Type text literally (no key-name lookup).
    fn type_text(&self, text: &str) {
        let out = tmux(&["send-keys", "-t", &self.name, "-l", text]);
        assert!(out.status.success(), "tmux send-keys -l {text:?} failed");
    }

    /// A `:` command line, run.
    fn command(&self, line: &str) {
        self.keys(&["Escape"]);
        self.type_text(":");
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    /// Poll the screen until `pred` holds; panic with the last screen after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > limit {
                panic!(
                    "waited {} s for {what}; the screen was:\n{screen}",
                    limit.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The demo's temporary directory (one `cairn-demo-*` under TMPDIR).
    fn demo_dirs(&self) -> Vec<PathBuf> {
        demo_dirs(self.tmp.path())
    }
}

fn demo_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("cairn-demo-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Session {
    fn drop(&mut self) {
        // Quit the dashboard first so the demo cleans up, then end the session.
        let _ = tmux(&["send-keys", "-t", &self.name, "q"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !self.screen().contains("[demo exited") {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = tmux(&["kill-session", "-t", &self.name]);
    }
}

#[test]
fn plain_cairn_runs_the_node_under_the_dashboard_and_stops_it_on_quit() {
    // The default ports may be taken on a shared machine: OS-chosen ones.
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = tmp.path().join("node");
    let init = common::cairn(&node, &["init"]);
    assert!(init.status.success(), "cairn init: {init:?}");
    let config = std::fs::read_to_string(node.join("config.toml")).expect("config.toml");
    let config = config
        .replace("listen = [\"0.0.0.0:7341\"]", "listen = [\"127.0.0.1:0\"]")
        .replace("listen = \"127.0.0.1:7342\"", "listen = \"127.0.0.1:0\"");
    assert_eq!(config.matches("127.0.0.1:0").count(), 2, "ports rewritten");
    std::fs::write(node.join("config.toml"), config).expect("write config");
    let session = Session::start_with("plain", &format!("--data-dir '{}'", node.display()));
    let screen = session.wait_for("the dashboard's Overview", START, overview_up);
    assert!(node.join("api.addr").exists(), "the node runs in process");
    // Logs go to the Logs tab, not over the dashboard.
    assert!(
        !screen.contains(" INFO "),
        "no log line on the Overview:\n{screen}"
    );
    session.keys(&["6"]);
    session.wait_for("the node's `node ready` log line", STEP, |s| {
        s.contains("Logs") && s.contains("node ready")
    });
    session.keys(&["q"]);
    let after = session.wait_for("cairn to exit", STEP, |s| s.contains("[tty:"));
    assert!(after.contains("[demo exited: 0]"), "clean exit:\n{after}");
    assert!(
        !node.join("api.addr").exists(),
        "quitting shut the node down (api.addr removed)"
    );
}

const START: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(30);

fn overview_up(s: &str) -> bool {
    s.contains("1 Overview") && s.contains("Node") && s.contains("uptime")
}

#[test]
fn demo_starts_shows_the_node_and_cleans_up_on_quit() {
    let session = Session::start("basic");
    session.wait_for("the dashboard's Overview", START, overview_up);
    let dirs = session.demo_dirs();
    assert_eq!(dirs.len(), 1, "one demo directory under TMPDIR: {dirs:?}");
    for i in 1..=3 {
        let addr = dirs[0].join(format!("node{i}")).join("api.addr");
        assert!(addr.exists(), "node {i} runs ({} missing)", addr.display());
    }
    // Every tab draws; with CAIRN_TMUX_CAPTURE_DIR set, each screen is saved
    // there (the captures in docs/DASHBOARD.md come from this).
    let capture_dir = std::env::var_os("CAIRN_TMUX_CAPTURE_DIR").map(PathBuf::from);
    if capture_dir.is_some() {
        // Captures for the docs show the demo as a newcomer sees it once set
        // up: peers joined, sample files placed on them.
        session.wait_for("2 connected peers", STEP, |s| s.contains("2/2 connected"));
        session.keys(&["3"]);
        session.wait_for("the sample files", STEP, |s| {
            s.lines().any(|l| is_row(l, "/sample/"))
        });
    }
    for (key, title) in [
        ("1", "╭ Node"),
        ("2", "╭ Peers"),
        ("3", "╭ Files"),
        ("4", "╭ Transfers"),
        ("5", "╭ Ledger"),
        ("6", "╭ Logs"),
        ("7", "╭ Pair a device"),
    ] {
        session.keys(&[key]);
        let screen = session.wait_for(&format!("tab {key} ({title})"), STEP, |s| s.contains(title));
        if let Some(dir) = &capture_dir {
            std::fs::create_dir_all(dir).expect("capture dir");
            std::fs::write(dir.join(format!("tab{key}.txt")), screen).expect("write capture");
        }
    }
    // The Logs tab shows the node's own tracing events through the feed.
    session.keys(&["6"]);
    session.wait_for("the node's `node ready` log line", STEP, |s| {
        s.contains("Logs") && s.contains("node ready")
    });
    // The Pair tab shows this node's ticket.
    session.keys(&["7"]);
    session.wait_for("the ticket on the Pair tab", STEP, |s| s.contains("cairn"));
    // A resize redraws at the new size (80x24 is the smallest supported).
    session.keys(&["1"]);
    let out = tmux(&["resize-window", "-t", &session.name, "-x", "80", "-y", "24"]);
    assert!(out.status.success(), "tmux resize-window failed");
    session.wait_for("the Overview redrawn at 80x24", STEP, |s| {
        let lines: Vec<&str> = s.lines().collect();
        overview_up(s)
            && lines.len() <= 24
            && lines.iter().all(|l| l.chars().count() <= 80)
            // The Node box's right border sits inside the new width.
            && lines.iter().any(|l| l.starts_with('╭') && l.trim_end().ends_with('╮'))
    });
    let out = tmux(&[
        "resize-window",
        "-t",
        &session.name,
        "-x",
        &WIDTH.to_string(),
        "-y",
        &HEIGHT.to_string(),
    ]);
    assert!(out.status.success(), "tmux resize-window failed");

    // The `:` line reaches the node's API.
    session.keys(&["1"]);
    session.command("status");
    session.wait_for("the answer of `:status`", STEP, |s| {
        s.contains("data dir") && s.contains("cairn-demo-")
    });
    session.keys(&["Escape"]);

    session.keys(&["q"]);
    let after = session.wait_for("the demo to exit", STEP, |s| s.contains("[tty:"));
    assert!(after.contains("[demo exited: 0]"), "clean exit:\n{after}");
    // The terminal is back in cooked mode with echo.
    assert!(
        after.contains("[tty: icanon echo ]"),
        "the terminal's modes are restored:\n{after}"
    );
    assert!(
        session.demo_dirs().is_empty(),
        "the demo removed its directories: {:?}",
        session.demo_dirs()
    );
    let leftover = Command::new("pgrep")
        .args(["-f", &dirs[0].display().to_string()])
        .output()
        .expect("pgrep");
    assert!(
        leftover.stdout.is_empty(),
        "the demo's daemons are gone, but found: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
}

/// A line of a bordered table (not the command line or the notice line)
/// that names `name`.
fn is_row(line: &str, name: &str) -> bool {
    line.starts_with('│') && line.contains(name)
}

#[test]
fn demo_runs_the_full_scenario() {
    let session = Session::start("full");
    session.wait_for("the dashboard's Overview", START, overview_up);

    // The other two nodes joined node 1.
    session.wait_for("2 connected peers on the Overview", STEP, |s| {
        s.contains("2/2 connected")
    });

    // Add a file (its name sorts after the demo's sample tree).
    let file = session.tmp.path().join("zz-e2e-added.txt");
    std::fs::write(&file, "added from the tmux test\n".repeat(100)).expect("write file");
    session.command(&format!("add {} --redundancy 2+1", file.display()));
    session.keys(&["3"]);
    // Wait for the table row itself: the name and the target are also on
    // the command line while tmux types it, and in the add's notice.
    session.wait_for("the added file on the Files tab, at 2+1", STEP, |s| {
        s.lines()
            .any(|l| is_row(l, "zz-e2e-added.txt") && l.contains("2+1"))
    });

    // Set its redundancy through the Files tab's form.
    session.keys(&["G", "r", "C-u"]);
    session.type_text("3+1");
    session.keys(&["Enter"]);
    session.wait_for("the file's new redundancy 3+1", STEP, |s| {
        s.lines()
            .any(|l| is_row(l, "zz-e2e-added.txt") && l.contains("3+1"))
    });

    // Ban the first peer on the Peers tab, confirming.
    session.keys(&["2", "g", "b"]);
    session.keys(&["y"]);
    session.wait_for("a banned peer on the Peers tab", STEP, |s| {
        s.contains("1 banned")
            && s.lines()
                .any(|l| l.contains("banned") && !l.contains("Peers"))
    });
    session.keys(&["1"]);
    session.wait_for("the ban on the Overview", STEP, |s| s.contains("1 banned"));
}
