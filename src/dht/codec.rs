//! Byte-level reader and writer for the `dht/1` format.
//!
//! Hand-written rather than derived (serde, bincode) so that the wire format
//! is exactly what docs/PROTOCOL.md §2 says, byte for byte, and so that every
//! length read from a peer is checked against a limit before anything is
//! allocated. The reader never panics: every read is bounds-checked.

/// Why bytes from a peer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the message did.
    #[error("truncated message")]
    Truncated,
    /// The input is longer than the maximum message size.
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Bytes remain after a complete message.
    #[error("{0} trailing bytes after message")]
    TrailingBytes(usize),
    /// A version other than the one this implementation speaks.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// An unknown message type.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// A count or length over its limit.
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// A field holds a value outside its domain.
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

/// A bounds-checked cursor over a byte slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.buf.len()))
        }
    }
}

/// An append-only byte buffer with big-endian integer writers.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}
