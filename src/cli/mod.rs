//! The `cairn` command line: parse with clap, resolve the data directory, run
//! one command, map its error to an exit code. `anyhow` lives here, at the
//! binary's edge, and nowhere in the library.

mod exit;
mod id;
mod output;
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
    #[command(flatten)]
    Store(store::StoreCommand),
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
    let dd = DataDir::locate(cli.data_dir.as_deref())?;
    // Any command on a missing data directory initialises it first.
    if !matches!(cli.command, Some(Command::Init)) {
        dd.init()?;
    }
    match cli.command {
        Some(Command::Init) => id::init(&dd, out),
        Some(Command::Id) => id::id(&dd, out),
        Some(Command::Store(cmd)) => store::run(&dd, out, cmd),
        None => id::id(&dd, out),
    }
}
