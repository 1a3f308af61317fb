//! Append-only pack files: where the bulk bytes of blocks live.
//!
//! A pack is `PACK_MAGIC` followed by records `id (32) | len (u32 BE) |
//! bytes`. Records are only ever appended, and the index (redb) points at a
//! record's bytes only after the pack has been fsynced, so a crash can leave
//! unindexed bytes at a pack's tail (garbage, reclaimed when gc deletes a
//! dead pack) but never an index entry pointing at bytes that are not on
//! disk. The id in each record makes a pack self-describing, so an index
//! could be rebuilt from the packs alone.
//!
//! Each writer (one `add`, one repair) appends to a pack of its own, so
//! writers never contend for a file and a failed writer can truncate its
//! pack back to what it committed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::block::BlockId;
use super::fault::Faults;

/// First bytes of every pack file (the last byte is the format version).
pub const PACK_MAGIC: &[u8; 8] = b"CRNPACK\x01";
/// Bytes before a record's data: id and length.
pub const RECORD_HEADER: u64 = 36;

/// File name of pack `n`.
pub fn pack_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("{n:08x}.pack"))
}

/// The pack number in a file name, if it is a pack.
pub fn pack_number(name: &str) -> Option<u32> {
    let hex = name.strip_suffix(".pack")?;
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// An open pack being appended to.
#[derive(Debug)]
pub struct PackWriter {
    pub number: u32,
    path: PathBuf,
    file: File,
    /// Bytes written so far.
    len: u64,
    /// Length at the last `sync`: everything below is durable.
    synced: u64,
    faults: Option<Arc<Faults>>,
}

impl PackWriter {
    /// Create pack `n` (it must not exist).
    pub fn create(dir: &Path, n: u32, faults: Option<Arc<Faults>>) -> std::io::Result<PackWriter> {
        if let Some(f) = &faults {
            f.hit()?;
        }
        let path = pack_path(dir, n);
        let mut file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)?;
        file.write_all(PACK_MAGIC)?;
        Ok(PackWriter {
            number: n,
            path,
            file,
            len: PACK_MAGIC.len() as u64,
            synced: 0,
            faults,
        })
    }

    /// Append a record; returns the offset of its data.
    pub fn append(&mut self, id: &BlockId, bytes: &[u8]) -> std::io::Result<u64> {
        let mut header = [0u8; RECORD_HEADER as usize];
        header[..32].copy_from_slice(&id.0);
        header[32..].copy_from_slice(&(bytes.len() as u32).to_be_bytes());
        let start = self.len;
        let res = self
            .faults
            .as_ref()
            .map_or(Ok(()), |f| f.hit())
            .and_then(|()| self.file.write_all(&header))
            .and_then(|()| self.file.write_all(bytes));
        if let Err(e) = res {
            // Leave no partial record behind a failed write.
            let _ = self.file.set_len(start);
            let _ = std::io::Seek::seek(&mut self.file, std::io::SeekFrom::Start(start));
            return Err(e);
        }
        self.len = start + RECORD_HEADER + bytes.len() as u64;
        Ok(start + RECORD_HEADER)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len <= PACK_MAGIC.len() as u64
    }

    /// Make everything appended so far durable (fdatasync), and on the first
    /// sync the directory entry too.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.synced == self.len {
            return Ok(());
        }
        if let Some(f) = &self.faults {
            f.hit()?;
        }
        self.file.sync_data()?;
        if self.synced == 0
            && let Some(dir) = self.path.parent()
        {
            File::open(dir)?.sync_all()?;
        }
        self.synced = self.len;
        Ok(())
    }

    /// Undo everything after `len` (used when a writer fails), deleting the
    /// pack when nothing of it was committed.
    pub fn abandon(self, committed: u64) {
        if committed <= PACK_MAGIC.len() as u64 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = self.file.set_len(committed);
        }
    }
}

/// Read `len` bytes at `offset` of an open pack.
///
/// The bytes are read into the vector's spare capacity: zeroing a block
/// that the read overwrites at once was 5 % of a serving node's CPU.
pub fn read_at(file: &File, offset: u64, len: u32) -> std::io::Result<Vec<u8>> {
    let len = len as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    while buf.len() < len {
        let got = buf.len();
        let at = offset
            .checked_add(got as u64)
            .and_then(|a| libc::off_t::try_from(a).ok())
            .ok_or_else(|| std::io::Error::other("pack offset out of range"))?;
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` is valid for writes of `len - got` bytes (the
        // capacity is `len`), and pread writes at most that many.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), len - got, at) };
        match n {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            // SAFETY: pread initialised the `n` bytes after `got`.
            n => unsafe { buf.set_len(got + n as usize) },
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_at_returns_the_range_and_refuses_to_run_past_the_end() {
        let mut f = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&bytes).unwrap();
        assert_eq!(
            read_at(&f, 12_345, 200_000).unwrap(),
            bytes[12_345..212_345]
        );
        assert_eq!(read_at(&f, 0, 0).unwrap(), Vec::<u8>::new());
        let err = read_at(&f, 299_000, 2_000).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
