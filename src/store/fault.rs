//! Injected I/O failures, for the model-based fuzzer and tests: a countdown
//! shared by the pack writer and (through [`FaultyBackend`]) the redb
//! database; the write or sync that brings it to zero fails, and so does
//! every one after it until the countdown is re-armed. Without a `Faults`
//! (production) nothing here runs.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A countdown of I/O operations until they start failing.
#[derive(Debug, Default)]
pub struct Faults {
    left: AtomicU64,
}

impl Faults {
    /// Fail the `n`-th write or sync from now (0: never).
    pub fn arm(&self, n: u64) {
        self.left.store(n, Ordering::SeqCst);
    }

    /// Called before each write or sync.
    pub fn hit(&self) -> io::Result<()> {
        let v = self.left.load(Ordering::SeqCst);
        if v == 0 {
            return Ok(());
        }
        if v == 1 {
            // Stay failing: a disk that failed once is not trusted again.
            return Err(io::Error::other("injected I/O failure"));
        }
        self.left.store(v - 1, Ordering::SeqCst);
        Ok(())
    }
}

/// A redb file backend whose writes and syncs pass through a [`Faults`].
#[derive(Debug)]
pub struct FaultyBackend {
    inner: redb::backends::FileBackend,
    faults: Arc<Faults>,
}

impl FaultyBackend {
    pub fn new(
        file: std::fs::File,
        faults: Arc<Faults>,
    ) -> Result<FaultyBackend, redb::DatabaseError> {
        Ok(FaultyBackend {
            inner: redb::backends::FileBackend::new(file)?,
            faults,
        })
    }
}

impl redb::StorageBackend for FaultyBackend {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.hit()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> io::Result<()> {
        self.faults.hit()?;
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.faults.hit()?;
        self.inner.write(offset, data)
    }
}
