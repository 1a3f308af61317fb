//! The canonical binary encoding shared by every market type.
//!
//! Why hand-written: the bytes are signed, so the encoding must be canonical (one
//! value, one byte string) and stable across versions of any serialisation crate.
//! The rules are few and documented in `docs/PROTOCOL.md` §4: big-endian fixed-width
//! integers, fixed-size arrays raw, variable fields behind a length prefix with an
//! explicit maximum, and every top-level object opened by an ASCII domain tag and a
//! version byte. The [`Reader`] never panics: every read is bounds-checked and every
//! length is checked against its limit before anything is allocated.

use serde::Serialize;
use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the decoder's size limit.
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Bytes offered.
        len: usize,
        /// Bytes allowed.
        limit: usize,
    },
    /// The input ended before the value did.
    #[error("unexpected end of input at byte {at}")]
    Truncated {
        /// Offset at which more bytes were needed.
        at: usize,
    },
    /// The domain tag is not the one this type expects.
    #[error("wrong domain tag (expected {expected})")]
    WrongDomain {
        /// The expected tag.
        expected: &'static str,
    },
    /// The version byte names a version this code does not know.
    #[error("unsupported version {found} of {domain}")]
    UnsupportedVersion {
        /// The type's domain tag.
        domain: &'static str,
        /// The version found.
        found: u8,
    },
    /// A tag byte (enum discriminant) is unknown.
    #[error("invalid {what} tag {tag}")]
    InvalidTag {
        /// Which field.
        what: &'static str,
        /// The value found.
        tag: u8,
    },
    /// A count or length exceeds its per-field limit.
    #[error("{what} count {count} exceeds the limit of {limit}")]
    CountTooLarge {
        /// Which field.
        what: &'static str,
        /// The count found.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// Bytes were left over after the value.
    #[error("{extra} trailing bytes")]
    TrailingBytes {
        /// Number of bytes left.
        extra: usize,
    },
    /// A field holds a value the format forbids (e.g. an unsorted list).
    #[error("invalid value: {what}")]
    InvalidValue {
        /// What was wrong.
        what: &'static str,
    },
}

/// Appends canonical bytes.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer that starts with `domain` and `version`.
    pub fn with_header(domain: &str, version: u8) -> Self {
        let mut w = Writer {
            buf: Vec::with_capacity(256),
        };
        w.buf.extend_from_slice(domain.as_bytes());
        w.buf.push(version);
        w
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Raw bytes (fixed-size fields).
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// A u32 length prefix then the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        // Lengths are bounded far below u32::MAX by every caller's limits.
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.raw(v);
    }
    /// Bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    /// The finished bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads canonical bytes, never panicking.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, refusing inputs above `limit` bytes.
    pub fn new(buf: &'a [u8], limit: usize) -> Result<Self, DecodeError> {
        if buf.len() > limit {
            return Err(DecodeError::TooLarge {
                len: buf.len(),
                limit,
            });
        }
        Ok(Reader { buf, pos: 0 })
    }
    /// Current offset.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    /// Take `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        self.pos = end;
        Ok(s)
    }
    /// Check and consume a domain tag and version; returns the version.
    pub fn header(&mut self, domain: &'static str, max_version: u8) -> Result<u8, DecodeError> {
        let tag = self
            .take(domain.len())
            .map_err(|_| DecodeError::WrongDomain { expected: domain })?;
        if tag != domain.as_bytes() {
            return Err(DecodeError::WrongDomain { expected: domain });
        }
        let v = self.u8()?;
        if v == 0 || v > max_version {
            return Err(DecodeError::UnsupportedVersion { domain, found: v });
        }
        Ok(v)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// A u32-length-prefixed byte string of at most `limit` bytes.
    pub fn bytes(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        if n > limit {
            return Err(DecodeError::CountTooLarge {
                what,
                count: n as u64,
                limit: limit as u64,
            });
        }
        self.take(n)
    }
    /// A count of at most `limit` items, each needing at least `min_item` bytes
    /// (so a lying count cannot make us allocate more than the input justifies).
    pub fn count(
        &mut self,
        what: &'static str,
        limit: usize,
        min_item: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > limit {
            return Err(DecodeError::CountTooLarge {
                what,
                count: n as u64,
                limit: limit as u64,
            });
        }
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(DecodeError::Truncated { at: self.pos });
        }
        Ok(n)
    }
    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { extra }),
        }
    }
}
