//! The daemon's store: the one process that opens `DIR/store`, so CLI
//! commands sent through the API never wait on the database lock.
//!
//! The store's operations are blocking (file I/O, fsync, redb commits), so
//! each runs on tokio's blocking pool, never on the async runtime threads.
//! Two semaphores bound how many run at once (the service's inbox): one for
//! long work (add, get, cat, gc, verify) and one for quick answers (ls, rm,
//! stats), so a handful of slow transfers never makes `ls` wait. They double
//! as the tracker of the work in flight: `close` takes every permit, which
//! it can only do once all running work has returned, and only then is the
//! store handle dropped.
//!
//! A `cat` streams through a bounded channel that ends with an explicit
//! `End`: a stream that stops without it (the read failed or was cancelled
//! after the first byte) is an error to the HTTP body, never a clean but
//! truncated answer. Every operation is the same library function the
//! CLI calls when no daemon runs (`cairn::store::Store::*`): one code path.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::{Semaphore, mpsc};

use crate::api::store_types::{AddRequest, TransferKind};
use crate::store::read::{CatOut, GetReport, RmReport};
use crate::store::{
    AddOptions, AddReport, ByteRange, Cap, GcReport, LsReport, Redundancy, StatsReport, Store,
    StoreError, VerifyReport,
};

use super::transfers::{Transfer, TransferGuard, Transfers};

/// Long store operations (add, get, cat, gc, verify) running at once.
pub const MAX_LONG_OPS: u32 = 8;
/// Quick store operations (ls, rm, stats) running at once.
pub const MAX_QUICK_OPS: u32 = 8;
/// Bytes per piece of a streamed `cat`.
const CAT_PIECE: usize = 256 * 1024;
/// Pieces of a `cat` buffered between the store thread and the HTTP body.
const CAT_DEPTH: usize = 4;

/// One piece of a streamed `cat`.
#[derive(Debug)]
pub enum CatPiece {
    Data(Bytes),
    /// Every byte was sent.
    End,
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
    long: Arc<Semaphore>,
    quick: Arc<Semaphore>,
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
            long: Arc::new(Semaphore::new(MAX_LONG_OPS as usize)),
            quick: Arc::new(Semaphore::new(MAX_QUICK_OPS as usize)),
        }
    }

    /// The store handle itself, for the daemon's other services (the block
    /// exchange serves and stores blocks through the same single owner).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// Run `f` on the blocking pool once a slot of `pool` is free.
    async fn run<T, F>(&self, pool: &Arc<Semaphore>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Store) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = pool
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
        let public = req.public;
        self.run(&self.long, move |store| {
            store.add_cancellable(
                &paths,
                &AddOptions { redundancy, public },
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
        self.run(&self.long, move |store| {
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
        // Listed under its head block's id: the cap itself holds the key.
        let guard = self
            .transfers
            .start(TransferKind::Cat, cap.head.to_string());
        let t = guard.transfer().clone();
        let (tx, rx) = mpsc::channel(CAT_DEPTH);
        let permit = self
            .long
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Cancelled)?;
        let store = self.store.clone();
        let rt = tokio::runtime::Handle::current();
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
                tx,
                transfer: t.clone(),
                rt,
            };
            let last = match store.cat_chunks(&cap, range, &mut w) {
                Ok(_) => CatPiece::End,
                Err(_) if t.is_cancelled() => CatPiece::Failed(StoreError::Cancelled),
                Err(e) => CatPiece::Failed(e),
            };
            // Undeliverable only when the reader is gone or cancelled us;
            // either way the missing `End` marks the stream as broken.
            let _ = w.deliver(last);
        });
        Ok(CatStream { pieces: rx, guard })
    }

    pub async fn ls(&self, cap: Option<String>) -> Result<LsReport, StoreError> {
        let cap = cap.as_deref().map(parse_cap).transpose()?;
        self.run(&self.quick, move |s| s.ls(cap.as_ref())).await
    }

    pub async fn rm(&self, cap: &str) -> Result<RmReport, StoreError> {
        let cap = parse_cap(cap)?;
        self.run(&self.quick, move |s| s.rm(&cap)).await
    }

    /// Store a root again with redundancy `r` ("k+m"); tracked as an add.
    pub async fn set_redundancy(&self, cap: &str, r: &str) -> Result<AddReport, StoreError> {
        let cap = parse_cap(cap)?;
        let r = r
            .parse::<Redundancy>()
            .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        let guard = self
            .transfers
            .start(TransferKind::Add, format!("redundancy {r} of {}", cap.head));
        let _keep = &guard;
        self.run(&self.long, move |s| s.set_redundancy(&cap, r))
            .await
    }

    pub async fn gc(&self) -> Result<GcReport, StoreError> {
        self.run(&self.long, |s| s.gc()).await
    }

    pub async fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        self.run(&self.long, move |s| s.verify(repair)).await
    }

    pub async fn stats(&self) -> Result<StatsReport, StoreError> {
        self.run(&self.quick, |s| s.stats()).await
    }

    /// Cancel every transfer, wait for every running operation to return,
    /// then let the store go: each add has either committed its root (and
    /// fsynced its blocks) or given up before pinning anything.
    pub async fn close(self) {
        self.transfers.cancel_all();
        for (pool, n) in [(&self.long, MAX_LONG_OPS), (&self.quick, MAX_QUICK_OPS)] {
            if let Ok(all) = pool.acquire_many(n).await {
                all.forget();
            }
            pool.close();
        }
        tracing::info!("store closed");
    }
}

/// Feeds a `cat`'s output into the bounded channel: each chunk's plaintext
/// is queued as it was decrypted (no copy), in pieces of at most
/// `CAT_PIECE` bytes that share its buffer.
struct PieceWriter {
    tx: mpsc::Sender<CatPiece>,
    transfer: Arc<Transfer>,
    rt: tokio::runtime::Handle,
}

impl PieceWriter {
    /// Wait for room in the channel, unless the transfer is cancelled (a
    /// reader that stalls must not hold the worker, and shutdown, forever).
    fn deliver(&self, piece: CatPiece) -> io::Result<()> {
        let token = self.transfer.cancelled_token();
        self.rt.block_on(async {
            tokio::select! {
                r = self.tx.send(piece) => r.map_err(|_| {
                    io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away")
                }),
                _ = token.cancelled() => Err(io::Error::other("cancelled")),
            }
        })
    }
}

impl CatOut for PieceWriter {
    fn chunk(&mut self, plain: Vec<u8>, range: std::ops::Range<usize>) -> io::Result<()> {
        let mut bytes = Bytes::from(plain).slice(range);
        while !bytes.is_empty() {
            if self.transfer.is_cancelled() {
                return Err(io::Error::other("cancelled"));
            }
            let piece = bytes.split_to(bytes.len().min(CAT_PIECE));
            let n = piece.len() as u64;
            self.deliver(CatPiece::Data(piece))?;
            self.transfer.add_done(n);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
