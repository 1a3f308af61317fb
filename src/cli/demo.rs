//! `cairn demo [N]`: a live network of N nodes on loopback in one command,
//! with the dashboard open on the first.
//!
//! Each node is a real `cairn daemon` child process (this same binary) in a
//! temporary data directory, on OS-chosen ports, so the demo exercises exactly
//! what users run. Setup steps (join, add) go through the normal CLI, so the
//! demo shows what works in this build; a step that fails is reported in the
//! dashboard's status line rather than aborting the demo. Everything is
//! undone by one guard's `Drop`: on quit, on error, on Ctrl-C / SIGTERM
//! (handled as a normal quit) and on panic (unwinding), the children are
//! killed and the temporary directories removed; on Linux the children also
//! get SIGTERM if this process dies without unwinding (PR_SET_PDEATHSIG).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio_util::sync::CancellationToken;

use cairn::api::snapshot::{Action, Notice, Redundancy};
use cairn::dashboard::remote::{self, Target};

use super::daemon::Signals;
use super::dashboard::attach_error;

/// Most nodes a demo starts.
pub const MAX_NODES: usize = 32;
/// The redundancy the sample content is added with.
pub const SAMPLE_REDUNDANCY: &str = "2+1";
/// How long a node may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The demo's processes and files; dropping it tears everything down.
struct Demo {
    root: PathBuf,
    children: Vec<Child>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A started node: its data directory and ready line.
struct Node {
    dir: PathBuf,
    ticket: String,
}

pub fn demo(n: usize) -> Result<()> {
    if !(1..=MAX_NODES).contains(&n) {
        bail!("a demo runs 1 to {MAX_NODES} nodes, not {n}");
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("the demo opens the dashboard and needs a terminal (stdout is not one)");
    }
    let exe = std::env::current_exe().context("cannot find the cairn binary")?;
    let root = std::env::temp_dir().join(format!(
        "cairn-demo-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let mut demo = Demo {
        root: root.clone(),
        children: Vec::new(),
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(Signals::register()?.cancel_on_signal(stop.clone()));
        // A closed terminal (tmux kill-session, ssh drop) also ends the demo cleanly.
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup = signal(SignalKind::hangup())?;
            let stop = stop.clone();
            tokio::spawn(async move {
                hup.recv().await;
                stop.cancel();
            });
        }

        eprintln!("cairn demo: starting {n} nodes in {}", root.display());
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            if stop.is_cancelled() {
                return anyhow::Ok(());
            }
            let dir = root.join(format!("node{}", i + 1));
            let (child, node) = start_node(&exe, &dir)?;
            demo.children.push(child);
            nodes.push(node);
        }

        let mut notices = Vec::new();
        // Every other node joins the first.
        for node in &nodes[1..] {
            let action = Action::Join {
                ticket: nodes[0].ticket.clone(),
            };
            let args = ["join", nodes[0].ticket.as_str()];
            notices.push(run_step(&exe, &node.dir, &args, action));
        }
        // Sample content on the first node, with a redundancy target.
        let sample = root.join("sample");
        write_sample(&sample)?;
        let sample_str = sample.display().to_string();
        let action = Action::Add {
            path: sample_str.clone(),
            redundancy: Some(Redundancy::Erasure { k: 2, m: 1 }),
        };
        let args = [
            "add",
            sample_str.as_str(),
            "--redundancy",
            SAMPLE_REDUNDANCY,
        ];
        notices.push(run_step(&exe, &nodes[0].dir, &args, action));
        let failed: Vec<&Notice> = notices
            .iter()
            .filter(|n| matches!(n, Notice::Failed { .. }))
            .collect();
        for f in &failed {
            if let Notice::Failed { action, error } = f {
                eprintln!("cairn demo: `cairn {action}` failed: {error}");
            }
        }
        if stop.is_cancelled() {
            return anyhow::Ok(());
        }
        // The status line shows the last notice: failures go last.
        notices.sort_by_key(|n| matches!(n, Notice::Failed { .. }));
        remote::attach(Target::DataDir(nodes[0].dir.clone()), notices, stop)
            .await
            .map_err(attach_error)?;
        anyhow::Ok(())
    })?;
    drop(demo);
    Ok(())
}

/// Start one `cairn daemon` child and wait (bounded) for its ready line.
fn start_node(exe: &Path, dir: &Path) -> Result<(Child, Node)> {
    std::fs::create_dir_all(dir)?;
    let log = std::fs::File::create(dir.with_extension("log"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--data-dir")
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
        .env_remove("CAIRN_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().context("cannot start a cairn daemon")?;
    let stdout = child.stdout.take().context("daemon stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = match rx.recv_timeout(READY_TIMEOUT) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the node in {} printed no ready line within {} s (see {})",
                dir.display(),
                READY_TIMEOUT.as_secs(),
                dir.with_extension("log").display()
            );
        }
    };
    let ready: serde_json::Value = serde_json::from_str(&line)
        .with_context(|| format!("the node's ready line is not JSON: {line}"))?;
    let ticket = ready["ticket"]
        .as_str()
        .context("the node's ready line has no ticket")?
        .to_owned();
    Ok((
        child,
        Node {
            dir: dir.to_owned(),
            ticket,
        },
    ))
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Run one `cairn --data-dir DIR ARGS…` setup step; its outcome as a notice.
fn run_step(exe: &Path, dir: &Path, args: &[&str], action: Action) -> Notice {
    let out = Command::new(exe)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CAIRN_HOME")
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Notice::Done {
            action,
            message: String::new(),
        },
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Notice::Failed {
                action,
                error: format!("demo setup: {} ({})", first.trim(), o.status),
            }
        }
        Err(e) => Notice::Failed {
            action,
            error: format!("demo setup: cannot run cairn: {e}"),
        },
    }
}

/// A small tree of sample files: text, a "photo" of random bytes, nested dirs.
fn write_sample(dir: &Path) -> Result<()> {
    let files: [(&str, usize); 5] = [
        ("README.txt", 0),
        ("photos/2024/beach.jpg", 384 << 10),
        ("photos/2024/forest.jpg", 256 << 10),
        ("docs/notes.md", 0),
        ("music/demo.ogg", 768 << 10),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let bytes = if *len == 0 {
            format!("cairn demo file {name}\n")
                .repeat(40 + i * 10)
                .into_bytes()
        } else {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
            (0..*len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        std::fs::write(&path, bytes)?;
    }
    Ok(())
}
