//! `cairn ledger verify FILE`: check an exported ledger segment with public
//! keys alone, and print the verdict, the balances it proves and any proof of
//! misbehaviour it carries.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_market::segment::{MAX_SEGMENT_BYTES, verify_segment};

use super::Output;

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Verify an exported ledger segment: every link, signature and sequence number.
    Verify {
        /// The segment file.
        file: PathBuf,
    },
}

/// A segment that does not verify: exit code 4 (damage that cannot be repaired).
#[derive(Debug, thiserror::Error)]
#[error("the ledger segment does not verify")]
pub struct InvalidSegment;

pub fn ledger(cmd: LedgerCommand, out: Output) -> Result<()> {
    match cmd {
        LedgerCommand::Verify { file } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let mut bytes = Vec::new();
            // Refuse oversized files without reading them whole.
            f.take(MAX_SEGMENT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if bytes.len() > MAX_SEGMENT_BYTES {
                bail!(
                    "{} is larger than the {} MiB a segment may be",
                    file.display(),
                    MAX_SEGMENT_BYTES >> 20
                );
            }
            let verdict = verify_segment(&bytes);
            out.print(&verdict, |v| v.to_string());
            if !verdict.valid {
                return Err(InvalidSegment.into());
            }
            Ok(())
        }
    }
}
