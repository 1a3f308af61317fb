//! The daemon's store: the one process that opens `DIR/store`, so CLI
//! commands sent through the API never wait on the database lock.
//!
//! The store's operations are blocking (file I/O, fsync, redb commits), so
//! each runs on tokio's blocking pool, never on the async runtime threads.
//! A semaphore bounds how many run at once (the service's inbox) and doubles
//! as the tracker of the ones in flight: `close` takes every permit, which
//! it can only do once all running work has returned, and only then is the
//! store handle dropped. Every operation is the same library function the
//! CLI calls when no daemon runs (`cairn::store::Store::*`): one code path.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::{Semaphore, mpsc};

use crate::api::store_types::{AddRequest, TransferKind};
use crate::store::read::{GetReport, RmReport};
use crate::store::{
    AddOptions, AddReport, ByteRange, Cap, GcReport, LsReport, Redundancy, StatsReport, Store,
    StoreError, VerifyReport,
};

use super::transfers::{Transfer, TransferGuard, Transfers};

/// Store operations running at once; more wait for a slot.
pub const MAX_OPS: u32 = 8;
/// Bytes per piece of a streamed `cat`.
const CAT_PIECE: usize = 256 * 1024;
/// Pieces of a `cat` buffered between the store thread and the HTTP body.
const CAT_DEPTH: usize = 4;

/// One piece of a streamed `cat`.
#[derive(Debug)]
pub enum CatPiece {
    Data(Bytes),
    Failed(StoreError),
}

/// A `cat` being streamed: the pieces, and the transfer it is listed as
/// (dropping the stream cancels the read).
pub struct CatStream {
    pub pieces: mpsc::Receiver<CatPiece>,
    pub guard: TransferGuard,
}

/// The daemon's handle on its store (cheap to clone).
#[derive(Clone)]
pub struct StoreService {
    store: Store,
    transfers: Transfers,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for StoreService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreService({:?})", self.store)
    }
}

/// Parse a cap sent as text.
fn parse_cap(s: &str) -> Result<Cap, StoreError> {
    Ok(s.parse::<Cap>()?)
}

impl StoreService {
    pub fn new(store: Store) -> StoreService {
        StoreService {
            store,
            transfers: Transfers::default(),
            slots: Arc::new(Semaphore::new(MAX_OPS as usize)),
        }
    }

    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// Run `f` on the blocking pool once a slot is free.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Store) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Cancelled)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(store)
        })
        .await
        .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
    }

    /// Add absolute paths; listed as a transfer while it runs.
    pub async fn add(&self, req: AddRequest) -> Result<Vec<AddReport>, StoreError> {
        if req.paths.is_empty() {
            return Err(StoreError::InvalidInput("no paths to add".into()));
        }
        if let Some(p) = req.paths.iter().find(|p| !p.is_absolute()) {
            return Err(StoreError::InvalidInput(format!(
                "{}: paths sent to the daemon must be absolute",
                p.display()
            )));
        }
        let redundancy = match (req.redundancy, req.copies) {
            (Some(_), Some(_)) => {
                return Err(StoreError::InvalidInput(
                    "give redundancy or copies, not both".into(),
                ));
            }
            (Some(r), None) => Some(
                r.parse::<Redundancy>()
                    .map_err(|e| StoreError::InvalidInput(e.to_string()))?,
            ),
            (None, Some(n)) => {
                Some(Redundancy::copies(n).map_err(|e| StoreError::InvalidInput(e.to_string()))?)
            }
            (None, None) => None,
        };
        let name = match req.paths.as_slice() {
            [one] => one.display().to_string(),
            [first, rest @ ..] => format!("{} (+{} more)", first.display(), rest.len()),
            [] => String::new(),
        };
        let guard = self.transfers.start(TransferKind::Add, name);
        let t = guard.transfer().clone();
        let paths = req.paths;
        self.run(move |store| {
            store.add_cancellable(
                &paths,
                &AddOptions { redundancy },
                &mut |p| t.set_progress(p.bytes_done, p.bytes_total),
                t.cancel_flag(),
            )
        })
        .await
    }

    /// Restore a cap to an absolute path; listed as a transfer.
    pub async fn get(&self, cap: &str, output: PathBuf) -> Result<GetReport, StoreError> {
        let cap = parse_cap(cap)?;
        if !output.is_absolute() {
            return Err(StoreError::InvalidInput(format!(
                "{}: the output path sent to the daemon must be absolute",
                output.display()
            )));
        }
        let guard = self
            .transfers
            .start(TransferKind::Get, output.display().to_string());
        let t = guard.transfer().clone();
        self.run(move |store| {
            t.set_total(store.size_of(&cap)?);
            store.get_watched(&cap, &output, &mut |done| {
                t.set_progress(done, t.total());
                !t.is_cancelled()
            })
        })
        .await
    }

    /// Start streaming a file's bytes. Errors found before the first byte
    /// (a bad cap, an unknown one, a directory, damage in the first chunk)
    /// come back as the stream's first piece.
    pub async fn cat(&self, cap: &str, range: Option<&str>) -> Result<CatStream, StoreError> {
        let cap = parse_cap(cap)?;
        let range = range.map(|r| r.parse::<ByteRange>()).transpose()?;
        let guard = self.transfers.start(TransferKind::Cat, cap.to_string());
        let t = guard.transfer().clone();
        let (tx, rx) = mpsc::channel(CAT_DEPTH);
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Cancelled)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if let Ok(size) = store.size_of(&cap) {
                let total = match range {
                    None => size,
                    Some(r) => {
                        let end = r.end.map_or(size, |e| (e + 1).min(size));
                        end.saturating_sub(r.start.min(size))
                    }
                };
                t.set_total(total);
            }
            let mut w = PieceWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(CAT_PIECE),
                transfer: t.clone(),
            };
            if let Err(e) = store.cat(&cap, range, &mut w) {
                let e = if t.is_cancelled() {
                    StoreError::Cancelled
                } else {
                    e
                };
                let _ = tx.blocking_send(CatPiece::Failed(e));
            }
        });
        Ok(CatStream { pieces: rx, guard })
    }

    pub async fn ls(&self, cap: Option<String>) -> Result<LsReport, StoreError> {
        let cap = cap.as_deref().map(parse_cap).transpose()?;
        self.run(move |s| s.ls(cap.as_ref())).await
    }

    pub async fn rm(&self, cap: &str) -> Result<RmReport, StoreError> {
        let cap = parse_cap(cap)?;
        self.run(move |s| s.rm(&cap)).await
    }

    pub async fn gc(&self) -> Result<GcReport, StoreError> {
        self.run(|s| s.gc()).await
    }

    pub async fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        self.run(move |s| s.verify(repair)).await
    }

    pub async fn stats(&self) -> Result<StatsReport, StoreError> {
        self.run(|s| s.stats()).await
    }

    /// Cancel every transfer, wait for every running operation to return,
    /// then let the store go: each add has either committed its root (and
    /// fsynced its blocks) or given up before pinning anything.
    pub async fn close(self) {
        self.transfers.cancel_all();
        if let Ok(all) = self.slots.acquire_many(MAX_OPS).await {
            all.forget();
        }
        self.slots.close();
        tracing::info!("store closed");
    }
}

/// Feeds a `cat`'s output into the bounded channel, piece by piece.
struct PieceWriter {
    tx: mpsc::Sender<CatPiece>,
    buf: Vec<u8>,
    transfer: Arc<Transfer>,
}

impl PieceWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(CAT_PIECE));
        let n = piece.len() as u64;
        self.tx
            .blocking_send(CatPiece::Data(Bytes::from(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))?;
        self.transfer.add_done(n);
        Ok(())
    }
}

impl Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.transfer.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let n = buf.len().min(CAT_PIECE - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() >= CAT_PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
