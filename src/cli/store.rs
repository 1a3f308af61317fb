//! The store's commands: `add`, `get`, `cat`, `ls`, `rm`, `gc`, `verify`,
//! `stats`. Each one opens the store, calls one library function in
//! `cairn::store`, and prints the report it returns; nothing here decides
//! anything, so the daemon's API can call the same functions.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
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

fn open(dd: &DataDir) -> Result<Store> {
    Ok(Store::open_datadir(dd)?)
}

fn parse_cap(s: &str) -> Result<Cap> {
    Ok(s.parse::<Cap>().map_err(StoreError::from)?)
}

pub fn run(dd: &DataDir, out: Output, cmd: StoreCommand) -> Result<()> {
    match cmd {
        StoreCommand::Add(a) => add(dd, out, a),
        StoreCommand::Get { cap, output } => {
            let cap = parse_cap(&cap)?;
            let rep = open(dd)?.get(&cap, &output)?;
            out.print(&rep, |r| {
                format!("restored {} ({} files, {} bytes)", r.path, r.files, r.bytes)
            });
            Ok(())
        }
        StoreCommand::Cat { cap, range } => {
            let cap = parse_cap(&cap)?;
            let range = range.map(|r| r.parse::<ByteRange>()).transpose()?;
            let store = open(dd)?;
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            store.cat(&cap, range, &mut lock)?;
            Ok(())
        }
        StoreCommand::Ls { cap } => {
            let cap = cap.as_deref().map(parse_cap).transpose()?;
            let rep = open(dd)?.ls(cap.as_ref())?;
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
            let cap = parse_cap(&cap)?;
            let rep = open(dd)?.rm(&cap)?;
            out.print(&rep, |r| format!("unpinned {}", r.unpinned));
            Ok(())
        }
        StoreCommand::Gc => {
            let rep = open(dd)?.gc()?;
            out.print(&rep, |r| {
                format!(
                    "removed {} blocks ({} bytes), deleted {} packs ({} bytes on disk); {} blocks live",
                    r.blocks_removed, r.bytes_removed, r.packs_deleted, r.bytes_freed_on_disk, r.live_blocks
                )
            });
            Ok(())
        }
        StoreCommand::Verify { repair } => {
            let rep = open(dd)?.verify(repair)?;
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
            let rep = open(dd)?.stats()?;
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

fn add(dd: &DataDir, out: Output, a: AddArgs) -> Result<()> {
    let redundancy = match (a.redundancy, a.copies) {
        (Some(r), _) => Some(r),
        (None, Some(n)) => {
            Some(Redundancy::copies(n).map_err(|e| StoreError::InvalidInput(e.to_string()))?)
        }
        (None, None) => None,
    };
    let store = open(dd)?;
    let bar = if std::io::stderr().is_terminal() && !out.json {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .context("progress style")?,
        );
        Some(bar)
    } else {
        None
    };
    let mut progress = |p: &cairn::store::Progress| {
        if let Some(b) = &bar {
            b.set_length(p.bytes_total);
            b.set_position(p.bytes_done);
        }
    };
    let res = store.add(&a.paths, &AddOptions { redundancy }, &mut progress);
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
                s
            })
            .collect()
    });
    Ok(())
}
