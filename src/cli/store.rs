//! The store's commands: `add`, `get`, `cat`, `ls`, `rm`, `gc`, `verify`,
//! `stats`. When a daemon answers for the data directory, each one is a
//! request to its local API (the daemon owns the store and runs the same
//! library function); otherwise it opens the store itself and calls that
//! function in `cairn::store`. Either way it prints the same report type,
//! so the output and the exit codes do not depend on which path ran.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn::api::client::ApiClient;
use cairn::api::store_types::{AddRequest, TransferKind};
use clap::{Args, Subcommand};

use cairn::datadir::DataDir;
use cairn::store::{AddOptions, ByteRange, Cap, Redundancy, Store, StoreError};

use super::Output;

/// `cairn add` arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Files and directories to add; each becomes a pinned root with a cap.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// k data + m parity shards per chunk (e.g. 4+2); default from config.
    #[arg(long, value_name = "K+M", conflicts_with = "copies")]
    pub redundancy: Option<Redundancy>,
    /// N copies of each chunk (any one suffices); same as --redundancy 1+(N-1).
    #[arg(long, value_name = "N")]
    pub copies: Option<u8>,
    /// Store as a public share: no encryption, so anyone with the cap (and
    /// every host) can read it; prints a key-less `cairn-pub:` cap. Hosts
    /// may refuse some types (executables by default).
    #[arg(long)]
    pub public: bool,
}

/// The store's subcommands, flattened into `Command`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Add files and directory trees to the store; prints a cap for each.
    Add(AddArgs),
    /// Restore a file or tree (with modes and mtimes) from its cap.
    Get {
        cap: String,
        /// Where to restore to (must not exist).
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: PathBuf,
    },
    /// Write a file's bytes to stdout.
    Cat {
        cap: String,
        /// Inclusive byte range A-B, or A- to the end.
        #[arg(long, value_name = "A-B")]
        range: Option<String>,
    },
    /// List pinned roots, or the entries of a directory cap.
    Ls { cap: Option<String> },
    /// Unpin a root (its blocks go at the next gc).
    Rm { cap: String },
    /// Store a root again with another redundancy target (k+m); prints the
    /// root's new cap. The old encoding's blocks go at the next gc.
    Redundancy {
        cap: String,
        #[arg(value_name = "K+M")]
        redundancy: Redundancy,
    },
    /// Delete blocks no root reaches.
    Gc,
    /// Check every block and manifest; --repair rebuilds from parity.
    Verify {
        #[arg(long)]
        repair: bool,
    },
    /// Space used per class, roots, packs.
    Stats,
}

/// Where the work runs: in this process, or in the data directory's daemon.
enum Via<'d> {
    Local(&'d DataDir),
    Daemon(ApiClient, tokio::runtime::Runtime),
}

impl Via<'_> {
    /// The daemon when one answers for `dd`; else this process. A stale
    /// `api.addr` (a daemon killed without cleaning up) falls back to local.
    fn pick(dd: &DataDir) -> Result<Via<'_>> {
        let Ok(client) = ApiClient::for_data_dir(dd.root()) else {
            return Ok(Via::Local(dd));
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let answers = rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                client.get::<cairn::api::types::Status>("/v1/status"),
            )
            .await
        });
        match answers {
            Ok(Ok(_)) => Ok(Via::Daemon(client, rt)),
            _ => Ok(Via::Local(dd)),
        }
    }
}

fn open(dd: &DataDir) -> Result<Store> {
    Ok(Store::open_datadir(dd)?)
}

fn parse_cap(s: &str) -> Result<Cap> {
    Ok(s.parse::<Cap>().map_err(StoreError::from)?)
}

/// A path the daemon can use: relative paths resolved against our cwd.
fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
}

pub fn run(dd: &DataDir, out: Output, cmd: StoreCommand) -> Result<()> {
    let via = Via::pick(dd)?;
    match cmd {
        StoreCommand::Add(a) => add(&via, out, a),
        StoreCommand::Get { cap, output } => {
            let rep = match &via {
                Via::Local(dd) => {
                    let cap = parse_cap(&cap)?;
                    let store = open(dd)?;
                    match progress_bar(out)? {
                        None => store.get(&cap, &output)?,
                        Some(bar) => {
                            bar.set_length(store.size_of(&cap)?);
                            let rep = store.get_watched(&cap, &output, &mut |done| {
                                bar.set_position(done);
                                true
                            });
                            bar.finish_and_clear();
                            rep?
                        }
                    }
                }
                Via::Daemon(c, rt) => {
                    let output = absolute(&output)?;
                    let bar = progress_bar(out)?;
                    let name = output.display().to_string();
                    let rep = rt.block_on(with_progress(
                        c,
                        bar.as_ref(),
                        TransferKind::Get,
                        &name,
                        c.store_get(&cap, &output),
                    ));
                    if let Some(b) = &bar {
                        b.finish_and_clear();
                    }
                    rep?
                }
            };
            out.print(&rep, |r| {
                format!("restored {} ({} files, {} bytes)", r.path, r.files, r.bytes)
            });
            Ok(())
        }
        StoreCommand::Cat { cap, range } => {
            let mut out = raw_stdout()?;
            match &via {
                Via::Local(dd) => {
                    let cap = parse_cap(&cap)?;
                    let range = range.map(|r| r.parse::<ByteRange>()).transpose()?;
                    open(dd)?.cat(&cap, range, &mut out)?;
                }
                Via::Daemon(c, rt) => {
                    rt.block_on(c.cat(&cap, range.as_deref(), &mut out))?;
                }
            }
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        StoreCommand::Ls { cap } => {
            let rep = match &via {
                Via::Local(dd) => {
                    let cap = cap.as_deref().map(parse_cap).transpose()?;
                    open(dd)?.ls(cap.as_ref())?
                }
                Via::Daemon(c, rt) => rt.block_on(c.ls(cap.as_deref()))?,
            };
            out.print(&rep, |r| {
                r.entries
                    .iter()
                    .map(|e| {
                        let kind = match e.kind {
                            cairn::store::Kind::Dir => "dir ",
                            cairn::store::Kind::File => "file",
                        };
                        format!("{kind} {:>14} {}  {}\n", e.size, e.name, e.cap)
                    })
                    .collect()
            });
            Ok(())
        }
        StoreCommand::Rm { cap } => {
            let rep = match &via {
                Via::Local(dd) => open(dd)?.rm(&parse_cap(&cap)?)?,
                Via::Daemon(c, rt) => rt.block_on(c.rm(&cap))?,
            };
            out.print(&rep, |r| format!("unpinned {}", r.unpinned));
            Ok(())
        }
        StoreCommand::Redundancy { cap, redundancy } => {
            let rep = match &via {
                Via::Local(dd) => open(dd)?.set_redundancy(&parse_cap(&cap)?, redundancy)?,
                Via::Daemon(c, rt) => {
                    rt.block_on(c.set_redundancy(&cap, &redundancy.to_string()))?
                }
            };
            out.print(&rep, |r| {
                format!("{} is now stored {}\n{}", r.path, r.redundancy, r.cap)
            });
            Ok(())
        }
        StoreCommand::Gc => {
            let rep = match &via {
                Via::Local(dd) => open(dd)?.gc()?,
                Via::Daemon(c, rt) => rt.block_on(c.gc())?,
            };
            out.print(&rep, |r| {
                format!(
                    "removed {} blocks ({} bytes), deleted {} packs ({} bytes on disk); {} blocks live",
                    r.blocks_removed, r.bytes_removed, r.packs_deleted, r.bytes_freed_on_disk, r.live_blocks
                )
            });
            Ok(())
        }
        StoreCommand::Verify { repair } => {
            let rep = match &via {
                Via::Local(dd) => open(dd)?.verify(repair)?,
                Via::Daemon(c, rt) => rt.block_on(c.verify(repair))?,
            };
            out.print(&rep, |r| {
                let mut s = format!(
                    "checked {} blocks ({} bytes), {} manifests, {} chunks\n",
                    r.blocks_checked, r.bytes_checked, r.manifests_checked, r.chunks_checked
                );
                for b in &r.damaged_blocks {
                    s += &format!("damaged block {b}\n");
                }
                for b in &r.missing_blocks {
                    s += &format!("missing block {b}\n");
                }
                if r.repaired_blocks > 0 {
                    s += &format!("rebuilt {} blocks from parity\n", r.repaired_blocks);
                }
                if r.dropped_blocks > 0 {
                    s += &format!("dropped {} damaged unreferenced blocks\n", r.dropped_blocks);
                }
                for p in &r.unrecoverable {
                    s += &format!("cannot recover: {p}\n");
                }
                s += if r.ok { "ok" } else { "DAMAGED" };
                s
            });
            if !rep.ok {
                let what = if rep.unrecoverable.is_empty() {
                    "damage found; run cairn verify --repair".to_owned()
                } else {
                    format!("cannot recover: {}", rep.unrecoverable.join(", "))
                };
                return Err(StoreError::Integrity(what).into());
            }
            Ok(())
        }
        StoreCommand::Stats => {
            let rep = match &via {
                Via::Local(dd) => open(dd)?.stats()?,
                Via::Daemon(c, rt) => rt.block_on(c.store_stats())?,
            };
            out.print(&rep, |r| {
                let mut s = format!("store {}\nroots {}\n", r.dir, r.roots);
                for c in &r.classes {
                    let quota = if c.quota == 0 {
                        "unlimited".to_owned()
                    } else {
                        c.quota.to_string()
                    };
                    s += &format!(
                        "{:<6} {:>8} blocks {:>14} bytes  quota {quota}\n",
                        c.class.name(),
                        c.blocks,
                        c.bytes
                    );
                }
                s += &format!(
                    "packs {} ({} bytes on disk, {} garbage)",
                    r.packs, r.pack_bytes, r.garbage_bytes
                );
                s
            });
            Ok(())
        }
    }
}

/// A progress bar on stderr when it is a terminal (and not with `--json`).
fn progress_bar(out: Output) -> Result<Option<indicatif::ProgressBar>> {
    if !std::io::stderr().is_terminal() || out.json {
        return Ok(None);
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .context("progress style")?,
    );
    Ok(Some(bar))
}

/// Await `work` (a request to the daemon). Meanwhile, with a bar, show
/// the progress of the daemon's transfer of this kind and name (the newest
/// such); and on Ctrl-C, cancel that transfer (the daemon does not notice a
/// client that just goes away while an add or get runs), then wait for the
/// daemon's answer, which says it was cancelled.
async fn with_progress<T>(
    client: &ApiClient,
    bar: Option<&indicatif::ProgressBar>,
    kind: TransferKind,
    name: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered before the request is first polled, so a Ctrl-C once the
    // transfer runs always reaches this handler.
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    // Drawn from the first report on, so it never shows an empty 0/0 bar.
    let mut shown = false;
    if let Some(bar) = bar {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
    loop {
        tokio::select! {
            r = &mut work => return r,
            Some(()) = async { interrupt.as_mut()?.recv().await } => {
                // One cancel; a second Ctrl-C is not caught again.
                interrupt = None;
                cancel_ours(client, kind, name).await;
            }
            _ = tick.tick(), if bar.is_some() => {
                if let Some(bar) = bar
                    && let Some(t) = find_ours(client, kind, name).await
                {
                    bar.set_length(t.total);
                    bar.set_position(t.done);
                    if !shown && t.total > 0 {
                        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        shown = true;
                    }
                }
            }
        }
    }
}

/// The newest running transfer of this kind and name.
async fn find_ours(
    client: &ApiClient,
    kind: TransferKind,
    name: &str,
) -> Option<cairn::api::store_types::TransferView> {
    let ts = client.transfers().await.ok()?;
    ts.into_iter()
        .rev()
        .find(|t| t.kind == kind && t.name == name)
}

/// Cancel our transfer, waiting (bounded) for the daemon to list it.
async fn cancel_ours(client: &ApiClient, kind: TransferKind, name: &str) {
    for _ in 0..50 {
        if let Some(t) = find_ours(client, kind, name).await {
            let _ = client.cancel_transfer(t.id).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn add(via: &Via<'_>, out: Output, a: AddArgs) -> Result<()> {
    let bar = progress_bar(out)?;
    let res = match via {
        Via::Local(dd) => {
            let redundancy = match (a.redundancy, a.copies) {
                (Some(r), _) => Some(r),
                (None, Some(n)) => Some(
                    Redundancy::copies(n).map_err(|e| StoreError::InvalidInput(e.to_string()))?,
                ),
                (None, None) => None,
            };
            let store = open(dd)?;
            let mut progress = |p: &cairn::store::Progress| {
                if let Some(b) = &bar {
                    b.set_length(p.bytes_total);
                    b.set_position(p.bytes_done);
                }
            };
            store
                .add(
                    &a.paths,
                    &AddOptions {
                        redundancy,
                        public: a.public,
                    },
                    &mut progress,
                )
                .map_err(anyhow::Error::from)
        }
        Via::Daemon(c, rt) => {
            let paths = a
                .paths
                .iter()
                .map(|p| absolute(p))
                .collect::<Result<Vec<_>>>()?;
            let name = match paths.as_slice() {
                [one] => one.display().to_string(),
                [first, rest @ ..] => format!("{} (+{} more)", first.display(), rest.len()),
                [] => String::new(),
            };
            let req = AddRequest {
                paths,
                redundancy: a.redundancy.map(|r| r.to_string()),
                copies: a.copies,
                public: a.public,
            };
            rt.block_on(with_progress(
                c,
                bar.as_ref(),
                TransferKind::Add,
                &name,
                c.add(&req),
            ))
            .map_err(anyhow::Error::from)
        }
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let reports = res?;
    out.print(&reports, |rs| {
        rs.iter()
            .map(|r| {
                let mut s = format!(
                    "{}  {}\n  {} bytes, {} files, {} chunks, {}; wrote {} bytes in {} blocks, {} bytes already stored, {:.2}s\n",
                    r.cap, r.path, r.size, r.files, r.chunks, r.redundancy, r.bytes_written,
                    r.blocks_written, r.bytes_deduped, r.seconds
                );
                for sk in &r.skipped {
                    s += &format!("  skipped (not a file or directory): {sk}\n");
                }
                if r.public {
                    s += "  public share: stored unencrypted, readable by anyone with the cap\n";
                }
                if let Some(p) = &r.placement {
                    if p.shards_placed > 0 {
                        s += &format!(
                            "  placement: {} shards on {} peers\n",
                            p.shards_placed, p.peers
                        );
                    }
                    if let Some(w) = &p.warning {
                        s += &format!("  placement: {w}\n");
                    }
                    for why in &p.refused {
                        s += &format!("  placement: {why}\n");
                    }
                }
                s
            })
            .collect()
    });
    // Stored, but not where a node with peers was asked to put it.
    if let Some((r, p)) = reports.iter().find_map(|r| {
        r.placement
            .as_ref()
            .filter(|p| p.none_placed())
            .map(|p| (r, p))
    }) {
        return Err(NotPlaced {
            path: r.path.clone(),
            cap: r.cap.to_string(),
            reason: p.none_placed_reason(),
        }
        .into());
    }
    Ok(())
}

/// An add on a node with peers that placed not one shard on any of them.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}; it is stored on this node only as {cap}")]
pub struct NotPlaced {
    path: String,
    cap: String,
    reason: String,
}

/// Standard output for file bytes: a duplicate of descriptor 1 behind a
/// 64 KiB buffer. Chunks of a file (hundreds of KiB) are written straight
/// through, neither copied into a large buffer nor scanned for newlines by
/// std's line-buffered `Stdout`; small pieces are gathered.
fn raw_stdout() -> Result<std::io::BufWriter<std::fs::File>> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
    Ok(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::fs::File::from(fd),
    ))
}
