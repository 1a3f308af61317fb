//! The `cairn` command line: parse with clap, resolve the data directory, run
//! one command, map its error to an exit code. `anyhow` lives here, at the
//! binary's edge, and nowhere in the library.

mod bench;
mod daemon;
mod dashboard;
mod demo;
mod exit;
mod id;
mod ledger;
mod output;
mod peers;
mod status;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cairn::datadir::DataDir;

pub use exit::Code;
pub use output::Output;

/// cairn: a peer-to-peer node for cooperative, encrypted storage.
///
/// Run with no command to start the node on the default data directory.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    /// Data directory (default: $CAIRN_HOME, else the XDG data dir + /cairn).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data directory: identity and Noise keys (0600) and a commented config.toml.
    Init,
    /// Print this node's id and a ticket others can join with.
    Id,
    /// Run the node headless until Ctrl-C or SIGTERM.
    Daemon(daemon::DaemonArgs),
    /// Show the running daemon's status (through its local API).
    Status,
    /// Show the running daemon's DHT routing table and counters.
    Dht,
    /// The resource ledger: verify exported segments.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Simulations and measurements (see docs/BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    #[command(flatten)]
    Store(store::StoreCommand),
    /// Open the dashboard on the running daemon of the data directory.
    Dashboard,
    /// Start N nodes on loopback in temporary directories, join them, add sample
    /// content and open the dashboard on the first; quitting removes everything.
    Demo {
        /// Number of nodes.
        #[arg(default_value_t = 5)]
        nodes: usize,
    },
    /// Print a ticket for this node; --pairing adds a one-time secret that
    /// makes the joining device one of your own (needs the daemon).
    Invite {
        #[arg(long)]
        pairing: bool,
    },
    /// Connect to the node of a ticket and remember it (needs the daemon).
    Join { ticket: String },
    /// List known peers, or ban / allow / set rights of one (needs the daemon).
    Peers {
        #[command(subcommand)]
        cmd: Option<peers::PeersCommand>,
    },
}

/// Run the parsed command line; the return value is the process's exit code.
pub fn run(cli: Cli) -> ExitCode {
    let out = Output { json: cli.json };
    match dispatch(cli, out) {
        Ok(()) => Code::Ok.into(),
        Err(err) => {
            let code = exit::code_of(&err);
            out.error(&err, code as u8);
            code.into()
        }
    }
}

fn dispatch(cli: Cli, out: Output) -> anyhow::Result<()> {
    // Commands that do not touch a data directory.
    let command = match cli.command {
        Some(Command::Ledger(cmd)) => return ledger::ledger(cmd, out),
        Some(Command::Bench(cmd)) => return bench::bench(cmd, out),
        Some(Command::Demo { nodes }) => return demo::demo(nodes),
        other => other,
    };
    let dd = DataDir::locate(cli.data_dir.as_deref())?;
    // Any other command on a missing data directory initialises it first.
    if !matches!(command, Some(Command::Init)) {
        dd.init()?;
    }
    match command {
        Some(Command::Init) => id::init(&dd, out),
        Some(Command::Id) => id::id(&dd, out),
        Some(Command::Daemon(args)) => daemon::daemon(&dd, args, out),
        Some(Command::Status) => status::status(&dd, out),
        Some(Command::Dht) => status::dht(&dd, out),
        Some(Command::Ledger(_) | Command::Bench(_) | Command::Demo { .. }) => {
            unreachable!("handled above")
        }
        Some(Command::Store(cmd)) => store::run(&dd, out, cmd),
        Some(Command::Dashboard) => dashboard::dashboard(&dd),
        Some(Command::Invite { pairing }) => peers::invite(&dd, out, pairing),
        Some(Command::Join { ticket }) => peers::join(&dd, out, &ticket),
        Some(Command::Peers { cmd }) => peers::peers(&dd, out, cmd),
        // With no command: the node with the dashboard on a terminal, else headless.
        None => dashboard::local(&dd, out),
    }
}
